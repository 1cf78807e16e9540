"""The layout rules import-linter and ruff cannot see (docs/ARCHITECTURE.md): an import of the
package's own modules inside a function is there only to keep TensorFlow out of what does not
need it, or for one of the reasons below."""

import ast

from mnist_cnn.config import REPO_ROOT

TENSORFLOW = ("tensorflow", "keras", "mnist_cnn.training.train", "mnist_cnn.training.augment")
LAZY_FOLDERS = {
    "mnist_cnn/cli/": "a command loads its modules when it runs, so --help and a typo answer at once",
    "mnist_cnn/ui/server/": "the pages load in warm_up (timed, logged), not when Streamlit imports app.py",
}


def _inner_imports(tree: ast.AST):
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and node.module:
                    yield node.lineno, [node.module + "." + a.name for a in node.names]
                elif isinstance(node, ast.Import):
                    yield node.lineno, [a.name for a in node.names]


def test_imports_inside_functions_keep_tensorflow_out():
    offenders = set()
    for path in sorted((REPO_ROOT / "mnist_cnn").rglob("*.py")):
        name = path.relative_to(REPO_ROOT).as_posix()
        if name.startswith(tuple(LAZY_FOLDERS)):
            continue
        for line, modules in _inner_imports(ast.parse(path.read_text())):
            own = [m for m in modules if m.startswith("mnist_cnn.")]
            if own and not any(m == t or m.startswith(t + ".") for m in own for t in TENSORFLOW):
                offenders.add(f"{name}:{line} imports {', '.join(own)} inside a function")
    assert not offenders, sorted(offenders)
