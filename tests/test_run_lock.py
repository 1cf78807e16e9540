"""One training run across several servers sharing a home folder, or a home and a PostgreSQL
database: real processes hold the run lock, the others are refused and follow the run, and a
server that dies lets it go."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_jobs import LONG, STOPPED_WITHIN_S
from waiting import wait_for

from mnist_cnn.training import run_lock
from mnist_cnn.training.jobs import CANCELLED, INTERRUPTED, RUNNING, RunRefused, TrainingJobs

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import time
from mnist_cnn.training import run_lock
lock = run_lock.for_this_server()
print(lock.acquire(), flush=True)
time.sleep(600)
"""

SERVER = """
import sys, time
from mnist_cnn.training.jobs import TrainingJobs
run = TrainingJobs()
run.start("seed", 20, 100, limit=30000)
print(run.worker_pid, flush=True)
time.sleep(600)
"""


@pytest.fixture(params=["home folder", "postgres"])
def shared(request) -> str:
    """The servers share the home folder (an flock), or also a PostgreSQL database (an advisory lock)."""
    if request.param == "postgres":
        request.getfixturevalue("database_url")
    return request.param


def another_server(script: str) -> tuple[subprocess.Popen, str]:
    """A second process on the same home (and database); what it printed first."""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc, proc.stdout.readline().strip()


def test_a_lock_held_by_another_server_is_refused_and_freed_when_that_server_dies(shared):
    holder, took = another_server(HOLDER)
    try:
        assert took == "True", holder.communicate()
        here = run_lock.for_this_server()
        assert here.held_elsewhere() and not here.acquire()
        holder.kill()  # without warning: no release, no cleanup
        holder.wait()
        assert wait_for(lambda: not here.held_elsewhere(), timeout=10, what="the dead server's lock to go")
        assert here.acquire() and not here.held_elsewhere()  # this server's own lock is not "elsewhere"
        here.release()
    finally:
        holder.kill()
        holder.wait()


def test_a_released_lock_is_free_for_the_next_server_at_once(shared):
    """A run ends on one server and another starts the next straight away: never refused."""
    one, other = run_lock.for_this_server(), run_lock.for_this_server()
    for _ in range(20):
        assert one.acquire()
        one.release()
        assert other.acquire(), "the lock was still held just after it was let go"
        other.release()


def test_an_unreachable_database_refuses_a_run_in_one_sentence(monkeypatch):
    from postgres import free_port

    monkeypatch.setenv("MNIST_DRAW_DATABASE_URL", f"postgresql://someone:hunter2@127.0.0.1:{free_port()}/x")
    with pytest.raises(RunRefused) as refused:
        TrainingJobs().start(**LONG)
    message = str(refused.value)
    assert "cannot be reached" in message and "hunter2" not in message and "\n" not in message


@pytest.mark.mnist
@pytest.mark.slow
def test_one_run_across_servers_shown_on_each_and_a_dead_servers_run_is_interrupted(shared):
    server, pid = another_server(SERVER)
    try:
        assert pid.isdigit(), f"the other server did not start a run: {server.communicate()}"
        here = TrainingJobs()
        elsewhere = here.snapshot()
        assert elsewhere.status == RUNNING and elsewhere.elsewhere and "another server" in elsewhere.message
        with pytest.raises(RunRefused, match="already going on another server"):
            here.start(**LONG)
        server.send_signal(signal.SIGKILL)  # the running server dies mid-run
        server.wait()
        after = wait_for(lambda: (s := here.snapshot()).status != RUNNING and s, timeout=10,
                         what="the dead server's run to be seen as interrupted")
        assert after.status == INTERRUPTED and "interrupted" in after.message
        assert here.start(**LONG)  # the lock is free: this server runs the next one
        assert here.snapshot().running and not here.snapshot().elsewhere
        here.cancel()
        assert here.wait(2 * STOPPED_WITHIN_S).status == CANCELLED
    finally:
        server.kill()
        server.wait()
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") if pid.isdigit() else True, timeout=STOPPED_WITHIN_S,
                 what="the orphaned worker to exit")
