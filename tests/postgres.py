"""A real, throwaway PostgreSQL server for the tests, on 127.0.0.1 and a free port.

`running_postgres()` runs Debian's initdb into a temporary folder, starts the server with
pg_ctl (listening on 127.0.0.1 only, its socket in the same folder, no fsync: nothing here must
survive a power cut) and stops it and removes the folder at the end. PostgreSQL refuses to run
as root, so under root (as CI runs) the server runs as the `postgres` user that Debian's package
creates. `server.new_database()` gives each test a fresh, empty database.

conftest.py's `postgres_server` (one per test session) and `database_url` (a fresh database,
set as MNIST_DRAW_DATABASE_URL) fixtures use it; a test that starts servers of its own passes
`server.new_database()` to them.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

MISSING = "PostgreSQL not found"
FIX = "install Debian's postgresql package (apt-get install postgresql; .ci/run does)"
USER = "postgres"  # the superuser of the test server, and the OS user that runs it under root
PASSWORD = "not-a-real-secret"  # the server trusts 127.0.0.1; the URL carries one to test that it is never shown
START_TIMEOUT_S = 60


def find_bindir() -> Path:
    """The folder of initdb and pg_ctl: on PATH, from pg_config, or Debian's /usr/lib/postgresql/N/bin."""
    candidates = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
        candidates.append(Path(out.strip()))
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += [Path(p) for p in debian if Path(p).parent.name.isdigit()]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise RuntimeError(FIX)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A server started by running_postgres(); `url(name)` addresses one of its databases."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir, self.root = bindir, root
        self.data, self.log = root / "data", root / "server.log"
        self.port = free_port()
        self._names = itertools.count(1)
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if done.returncode:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()} {log}")

    def start(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, USER, USER)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "--no-sync", "-E", "UTF8")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t",
                  str(START_TIMEOUT_S), "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, dbname: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"drawings_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A started server, stopped and removed afterwards (RuntimeError(FIX) when not installed)."""
    bindir = find_bindir()
    root = Path(tempfile.mkdtemp(prefix="mnist-draw-pg-"))  # not under pytest's tmp: root-only folders
    server = PostgresServer(bindir, root)
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
