"""The command line when the person or the disk gets in the way: Ctrl-C in the middle of `train`
or `predict`, `drawings import/export` with a bad folder, `explain` on something that is not a
picture. Each gives one line on stderr, a non-zero exit code and no traceback, and loses nothing.
The CLI runs as a real subprocess, as it is used."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from mnist_cnn.config import REPO_ROOT

INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "mnist_cnn", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT, env=cli_env())


def one_line_error(r: subprocess.CompletedProcess, *says: str) -> str:
    """The whole of stderr is one line (no usage, no traceback) and it says all of `says`."""
    assert r.returncode != 0, r
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and "Errno" not in r.stderr, r.stderr
    for text in says:
        assert text in lines[0], r.stderr
    return lines[0]


def a_one(path: Path) -> Path:
    image = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(image).line([(100, 30), (95, 170)], fill=0, width=14)
    image.save(path)
    return path


def interrupt_after(args: list[str], ready, timeout: float = 300, flags: tuple[str, ...] = ()) -> tuple[int, str]:
    """Start `python [FLAGS] -m mnist_cnn ARGS`, send SIGINT (Ctrl-C) once `ready(stderr so far)`
    holds, and return (exit code, stderr)."""
    proc = subprocess.Popen([sys.executable, *flags, "-m", "mnist_cnn", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=REPO_ROOT, env=cli_env())
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: os.read(proc.stderr.fileno(), 4096), b"")),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while not ready(b"".join(err).decode(errors="replace")):
            assert time.monotonic() < deadline, f"never ready to interrupt: {b''.join(err)[-2000:]}"
            assert proc.poll() is None, f"ended before the interrupt: {b''.join(err)[-2000:]}"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, b"".join(err).decode(errors="replace")


def assert_interrupted(code: int, stderr: str) -> None:
    assert code == INTERRUPTED, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]
    tail = [line for line in stderr.replace("\r", "\n").splitlines() if line.strip()][-1]
    assert tail.startswith("interrupted"), stderr[-2000:]
    assert stderr.count("interrupted") == 1


# ---------- Ctrl-C ----------

@pytest.mark.mnist
@pytest.mark.slow
def test_ctrl_c_during_train_ends_with_one_line_and_code_130(tmp_path):
    out = tmp_path / "never.keras"
    args = ["train", "--epochs", "20", "--limit", "20000", "--out", str(out)]
    code, stderr = interrupt_after(args, lambda err: "batch" in err)  # the progress bar is moving
    assert_interrupted(code, stderr)
    assert "nothing was saved" in stderr
    assert not out.exists() and not list(tmp_path.glob(".*"))  # no model, no half-written file


def test_ctrl_c_during_predict_ends_with_one_line_and_code_130(tmp_path):
    picture = str(a_one(tmp_path / "one.png"))
    proc = subprocess.Popen([sys.executable, "-m", "mnist_cnn", "predict", *[picture] * 4000], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO_ROOT, env=cli_env(), text=True)
    try:
        first = proc.stdout.readline()  # the answers are flushed one by one: the run is under way
        assert first.startswith(f"{picture}: 1"), (first, proc.stderr.read() if proc.poll() is not None else "")
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_interrupted(proc.returncode, stderr)
    assert len(stderr.splitlines()) == 1, stderr  # not even a blank line before it
    answers = (first + rest).splitlines()
    assert 0 < len(answers) < 4000 and all(a.startswith(f"{picture}: 1") for a in answers)  # whole lines only


@pytest.mark.parametrize("module", ["mnist_cnn.config", "mnist_cnn.cli.explain"])
def test_ctrl_c_while_the_command_line_is_still_loading_gives_no_traceback(tmp_path, module):
    """Ctrl-C right after Enter: while __main__ imports the CLI (mnist_cnn.config), and while it
    loads the commands' modules with cli.main (mnist_cnn.cli.explain). -X importtime says when each
    module is loaded."""
    picture = str(a_one(tmp_path / "one.png"))
    loaded = re.compile(rf"\|\s+{re.escape(module)}\n")
    code, stderr = interrupt_after(["predict", picture], loaded.search, timeout=60, flags=("-X", "importtime"))
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]
    # 0: the answer came before the signal did. -SIGINT: Python, having printed our line, ended by the
    # signal itself, which a shell also reports as 130 (seen once in many runs, under load).
    assert code in (INTERRUPTED, -signal.SIGINT, 0), stderr[-2000:]
    if code:
        assert stderr.rstrip().endswith("interrupted; nothing was saved"), stderr[-2000:]


# ---------- drawings import / export ----------

@pytest.fixture
def one_drawing(tmp_path) -> Path:
    """A store with one drawing in it (imported through the CLI); returns the imported folder."""
    folder = tmp_path / "mine"
    (folder / "1").mkdir(parents=True)
    a_one(folder / "1" / "one.png")
    r = run_cli("drawings", "import", folder)
    assert r.returncode == 0, r.stderr
    return folder


def stats() -> str:
    r = run_cli("drawings", "stats")
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[0]


def test_import_from_a_missing_folder_or_a_file_says_what_to_give(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    for path, says in ((tmp_path / "missing", "is not a folder"), (notes, "is not a folder"),
                       (empty, "has no folders 0/ … 9/")):
        line = one_line_error(run_cli("drawings", "import", path), str(path), says)
        assert "0/ … 9/" in line
    assert stats().startswith("0 drawings")


def test_export_into_a_folder_that_is_not_empty_touches_nothing(tmp_path, one_drawing):
    target = tmp_path / "photos"
    target.mkdir()
    (target / "holiday.jpg").write_bytes(b"precious")
    one_line_error(run_cli("drawings", "export", target), str(target), "not an empty folder", "new folder")
    assert [p.name for p in target.iterdir()] == ["holiday.jpg"]
    assert (target / "holiday.jpg").read_bytes() == b"precious"
    assert stats().startswith("1 drawings")


def test_export_to_a_place_that_cannot_be_written_says_so_in_one_line(tmp_path, one_drawing):
    notes = tmp_path / "notes.txt"
    notes.write_text("a file, so no folder can be made inside it")
    targets = [notes / "export"]
    if os.geteuid() != 0:  # root writes anywhere: a read-only folder stops only others
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        targets.append(locked / "export")
    for target in targets:
        line = one_line_error(run_cli("drawings", "export", target), "cannot write the export", "place you can write")
        assert line.count(str(target)) <= 1, line  # the path once, not twice
    assert notes.read_text().startswith("a file")
    assert stats().startswith("1 drawings")  # the collection is untouched
    good = tmp_path / "good"
    assert run_cli("drawings", "export", good).returncode == 0 and (good / "1").is_dir()  # and still exports


# ---------- explain ----------

def test_explain_on_something_that_is_not_a_picture_gives_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    folder = tmp_path / "folder"
    folder.mkdir()
    cut_off = tmp_path / "cut.png"
    cut_off.write_bytes(a_one(tmp_path / "whole.png").read_bytes()[:300])
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    cases = [(notes, "not a picture"), (tmp_path / "missing.png", "no such file"), (folder, "is a folder"),
             (cut_off, "damaged or incomplete"), (blank, "no digit found")]
    for path, says in cases:
        line = one_line_error(run_cli("explain", path), says)
        assert line.startswith(f"error: {path}: ") and line.count(str(path)) == 1, line
