"""nginx in front of app servers a test started: Debian's nginx (apt-get install nginx), run by the
test itself with a temporary prefix, in the foreground, on a free loopback port, with the repository's
own configuration (deploy/nginx.conf.template, the one compose.yaml uses)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.browser import free_port
from mnist_cnn.config import REPO_ROOT

TEMPLATE = REPO_ROOT / "deploy" / "nginx.conf.template"
LISTEN, REPLICAS = "${MNIST_DRAW_LISTEN}", "${MNIST_DRAW_REPLICAS}"
NGINX_FIX = "apt-get install -y nginx (README: \"Running for a class / several servers\"), or -m \"not replicas\""
UPSTREAM_HEADER = "X-Upstream"  # which replica answered (the template adds it)
START_TIMEOUT_S = 10

# The test's own nginx.conf around the repository's site file: everything under the prefix.
MAIN_CONF = """\
user {user} {group};  # workers as the test's user (ignored, with a note in the log, when not root)
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log access.log;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include site.conf;
}}
"""


def nginx_path() -> str:
    """Debian's nginx (in /usr/sbin, which a user's PATH may lack), or RuntimeError naming the fix."""
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not path:
        raise RuntimeError(NGINX_FIX)
    return path


def site_config(listen: str, replicas: list[str]) -> str:
    """The template with its placeholders filled in, as the nginx image's envsubst would."""
    servers = " ".join(f"server {r};" for r in replicas)
    return TEMPLATE.read_text().replace(LISTEN, listen).replace(REPLICAS, servers)


def _write_prefix(prefix: Path, port: int, replicas: list[str]) -> Path:
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    (prefix / "site.conf").write_text(site_config(f"127.0.0.1:{port}", replicas))
    conf = prefix / "nginx.conf"
    conf.write_text(MAIN_CONF.format(user=pwd.getpwuid(os.geteuid()).pw_name,
                                     group=grp.getgrgid(os.getegid()).gr_name))
    return conf


def _wait_listening(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with code {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # nginx answered (a replica may still be starting)
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nginx did not answer at {url} within {START_TIMEOUT_S} s")


@contextmanager
def running_nginx(replicas: list[str], prefix: Path) -> Iterator[str]:
    """nginx on a free 127.0.0.1 port in front of `replicas` ("127.0.0.1:8501", ...); yields its URL
    and stops it afterwards. Its logs stay in `prefix` (error.log, access.log)."""
    port = free_port()
    conf = _write_prefix(prefix, port, replicas)
    log = prefix / "error.log"
    proc = subprocess.Popen([nginx_path(), "-p", str(prefix), "-c", str(conf), "-e", str(log),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_listening(url, proc, log)
        yield url
    finally:
        proc.terminate()  # SIGTERM: a fast shutdown
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
