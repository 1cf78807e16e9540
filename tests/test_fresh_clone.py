"""A newcomer's first run: the README's test command in a fresh copy of the repository, on a
machine with no MNIST anywhere (no MNIST_DATA_DIR, an empty home so no Keras cache, no network).
The data tests must stop with one line naming the fix; the tests that need no data still run."""

import ast
import os
import shlex
import shutil
import site
import subprocess
import sys

import pytest

from mnist_cnn.config import REPO_ROOT

# Two test files keep it quick: one whose tests mostly need MNIST, one that needs none.
SAMPLE_TESTS = ["tests/test_data.py", "tests/test_evaluate.py"]
NO_NETWORK = "http://127.0.0.1:9"  # a proxy on the discard port: every download is refused at once
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".ruff_cache", "artifacts", "*.egg-info")


def readme_test_command() -> list[str]:
    """The `python -m pytest ...` line of the README's set-up section."""
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        words = shlex.split(line.strip()) if "python -m pytest" in line and not line.startswith(("#", ">")) else []
        if words[:3] == ["python", "-m", "pytest"]:
            return [sys.executable, "-m", "pytest", *words[3:]]
    raise AssertionError("the README has no `python -m pytest` line")


def fresh_clone(dest):
    """The files a clone would have (git's list when there is one), copied from this checkout."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        return shutil.copytree(REPO_ROOT, dest, ignore=COPY_IGNORE)
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO_ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, dest / name)
    return dest


def machine_without_mnist(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"MNIST_DATA_DIR", "KERAS_HOME", "PYTHONPATH", "PYTEST_ADDOPTS", "NO_PROXY", "no_proxy"}}
    home = tmp_path / "home"
    home.mkdir()
    proxies = {k: NO_NETWORK for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    return {**env, **proxies, "HOME": str(home), "PYTHONUSERBASE": site.getuserbase(),
            "MNIST_DRAW_HOME": str(tmp_path / "draw_home")}


@pytest.mark.slow
def test_readme_command_without_mnist_says_how_to_get_it(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    r = subprocess.run([*readme_test_command(), *SAMPLE_TESTS], cwd=clone, env=machine_without_mnist(tmp_path),
                       capture_output=True, text=True, timeout=300)
    output = r.stdout + r.stderr
    verdicts = [line for line in output.splitlines() if line.startswith("MNIST not found")]
    assert len(verdicts) == 1, output
    assert "MNIST_DATA_DIR" in verdicts[0] and "Getting MNIST offline" in verdicts[0]
    assert "Traceback" not in output and "\nE " not in output, output
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary and " skipped" in summary, output  # the tests that need no data ran
    assert r.returncode == 1, output  # skipped for want of data is not a pass


def test_no_test_module_imports_the_tests_folder_by_name():
    """Some wheels install a top-level `tests` package, which would shadow this folder: a module that
    imports `tests.conftest` (or anything under `tests.`) then fails to import. Fixtures, not imports."""
    offenders = []
    for path in sorted((REPO_ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{path.name}:{node.lineno} imports {n}" for n in names if n.split(".")[0] == "tests"]
    assert not offenders, offenders


WITHOUT_PLAYWRIGHT = "import sys; sys.modules['playwright'] = None; import pytest; sys.exit(pytest.main(sys.argv[1:]))"


def test_browser_tests_without_playwright_are_skipped_one_by_one_and_fail_the_run():
    """No Playwright: each browser test is skipped and counted like a missing Chromium (a module-level
    importorskip skipped whole modules at collection, unseen by the rule, and the run passed)."""
    r = subprocess.run([sys.executable, "-c", WITHOUT_PLAYWRIGHT, "tests/test_e2e_shell.py", "-q", "-m", "browser",
                        "-p", "no:cacheprovider"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    output = r.stdout + r.stderr
    verdicts = [line for line in output.splitlines() if line.startswith("Playwright not found")]
    assert len(verdicts) == 1 and "tests skipped" in verdicts[0], output
    assert "requirements-dev.txt" in verdicts[0] and '-m "not browser"' in verdicts[0]
    assert " passed" not in output.strip().splitlines()[-1], output  # nothing ran, nothing was hidden
    assert r.returncode == 1, output
