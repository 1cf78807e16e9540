"""Command line: python -m mnist_cnn {train,evaluate,predict,bench}, plus the commands that
drawings.py (drawings, finetune) and explain.py (explain, index) register; common.py has what they share.

Every expected failure (bad arguments, missing data, unreadable files) ends in one line on
stderr and a non-zero exit code, never a traceback. Parsing imports nothing heavy, so `--help`
and a mistyped argument answer at once; TensorFlow is loaded (quietly) only by the commands that
train or score many images, and `predict` runs on NumPy alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_cnn.cli import common, drawings, explain

# The names in mnist_cnn.training.architectures.ARCHITECTURES, here so parsing needs no Keras (tests check they agree).
ARCHITECTURE_NAMES = ("seed", "improved")
TRAIN_DEFAULT_ARCH = "seed"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (the usage is one --help away)."""

    def error(self, message: str) -> None:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _keras_path(text: str) -> Path:
    path = Path(text)
    if path.suffix != ".keras":
        raise argparse.ArgumentTypeError(f"must end in .keras, got {path.name}")
    return path


def cmd_train(args: argparse.Namespace) -> None:
    from mnist_cnn.data.mnist import load_mnist

    load_mnist()  # a missing data set is reported before TensorFlow's seconds of loading
    common.import_tensorflow_quietly()
    from mnist_cnn.network import store
    from mnist_cnn.training.train import train

    out = args.out or store.user_model_path(args.arch)
    result = train(args.arch, epochs=args.epochs, batch_size=args.batch_size, limit=args.limit,
                   progress=common.print_progress, seed=args.seed)
    entry = store.save_model(result.model, out, result.sidecar("python -m mnist_cnn train"))
    if args.activate:
        store.set_current_model(out)
    print(f"{args.arch}: test accuracy {result.test_accuracy:.2%}, test loss {result.test_loss:.4f}, "
          f"{result.seconds:.0f}s for {common.plural(result.epochs, 'epoch')}; saved {entry.path}")


def cmd_train_drawings(args: argparse.Namespace) -> None:
    from mnist_cnn.data.mnist import load_mnist

    load_mnist()
    common.import_tensorflow_quietly()
    from mnist_cnn.network import store
    from mnist_cnn.reading.notdigit import SIDECAR_KEY
    from mnist_cnn.training.train_drawings import fit_verdict as fit_verdict_before_saving
    from mnist_cnn.training.train_drawings import train_for_drawings

    base = args.base
    out = args.out or store.user_model_path("improved-drawings")
    result = train_for_drawings(base, epochs=args.epochs, seed=args.seed, progress=common.print_progress)
    fit_verdict_before_saving(result)  # the model is never on disk without its verdict
    entry = store.save_model(result.model, out, result.sidecar("python -m mnist_cnn train-drawings"))
    if args.activate:
        store.set_current_model(out)
    print(f"read-drawings model: test accuracy {result.test_accuracy:.2%}, test loss {result.test_loss:.4f}, "
          f"{result.seconds:.0f}s for {common.plural(result.epochs, 'epoch')}; saved {entry.path}")
    print_verdict(result.extra[SIDECAR_KEY], entry.path)


def fit_verdict(path: Path) -> None:
    common.import_tensorflow_quietly()  # scoring thousands of digits at once goes through TensorFlow
    from mnist_cnn.training.notdigit import fit_into_sidecar

    print_verdict(fit_into_sidecar(path), path)


def print_verdict(fitted: dict, path: Path) -> None:
    print(f"not-a-digit verdict with this model: threshold {fitted['threshold']:.2f} at weight {fitted['weight']} "
          f"(flags at most {fitted['budget']:.1%} of held-back digits); kept in {path.with_suffix('.json')}")


def cmd_fit_verdict(args: argparse.Namespace) -> None:
    from mnist_cnn.network import store

    path = Path(args.model) if args.model else store.current_model_path()
    if not path.is_file():
        raise ValueError(f"{path} is not a model file; give a .keras file made by train or train-drawings.")
    fit_verdict(path)


def cmd_train_gate(args: argparse.Namespace) -> None:
    from mnist_cnn.data.mnist import load_mnist

    load_mnist()
    common.import_tensorflow_quietly()
    from mnist_cnn.reading.notdigit import GATE_PATH
    from mnist_cnn.training.notdigit import train_gate

    meta = train_gate(args.out or GATE_PATH, seed=args.seed)
    print(f"not-a-digit gate: threshold {meta['threshold']:.3f} (flags at most {meta['flag_budget']:.1%} of "
          f"held-back digits), {meta['train_seconds']:.0f}s; saved {args.out or GATE_PATH}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from mnist_cnn.data.mnist import load_mnist
    from mnist_cnn.network.inference import load_classifier

    clf = load_classifier(args.model)  # a bad model file and missing data are reported at once
    load_mnist()
    common.import_tensorflow_quietly()  # the 10,000 test digits go through TensorFlow
    from mnist_cnn.training.evaluate import evaluate_classifier

    report = evaluate_classifier(clf)
    print(f"{clf.path}: test accuracy {report.accuracy:.2%}, test loss {report.loss:.4f}, "
          f"{len(report.mistakes):,} misclassified of {report.total:,}")
    print("per-class accuracy: " + "  ".join(f"{d}:{a:.2%}" for d, a in enumerate(report.per_class_accuracy)))


def cmd_predict(args: argparse.Namespace) -> None:
    from mnist_cnn.cli.predict import predict_files

    code = predict_files(args.images, args.model)
    if code:
        raise SystemExit(code)


def cmd_bench(args: argparse.Namespace) -> None:
    from bench import AREAS, run_benchmarks

    known = ("core", *AREAS)
    unknown = [a for a in args.area or () if a not in known]
    if unknown:
        raise ValueError(f"no benchmark area {unknown[0]!r}; choose from {', '.join(known)}")
    if args.sessions and "class" not in (args.area or ()):
        raise ValueError("--sessions is for the class area: add --area class")
    common.import_tensorflow_quietly()
    text = run_benchmarks(quick=args.quick, browser=not args.no_browser, areas=tuple(args.area) if args.area else None,
                          sessions=args.sessions)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m mnist_cnn", description="Train, evaluate and use the MNIST Draw CNNs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model on MNIST and save it")
    p.add_argument("--arch", choices=ARCHITECTURE_NAMES, default=TRAIN_DEFAULT_ARCH,
                   help=f"architecture (default: {TRAIN_DEFAULT_ARCH}, the tutorial's network)")
    p.add_argument("--epochs", type=common.epochs, help="epochs (default: the architecture's own)")
    p.add_argument("--batch-size", type=common.positive, help="batch size (default: the architecture's own)")
    p.add_argument("--limit", type=common.positive, help="train on the first N training images only")
    p.add_argument("--out", type=_keras_path, help="where to save the .keras file (default: the user models folder)")
    p.add_argument("--seed", type=int, help="random seed, for repeatable runs")
    p.add_argument("--activate", action="store_true", help="make the new model the app's current one")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-drawings", help="train on MNIST and made-up handwriting (the shipped improved model)")
    p.add_argument("--base", type=_keras_path, help="a .keras model to go on from (default: train from scratch, "
                                                    "as the shipped improved model)")
    p.add_argument("--epochs", type=common.epochs, help="epochs (default: 12 from scratch, 5 from a model)")
    p.add_argument("--out", type=_keras_path, help="where to save the .keras file (default: the user models folder)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    p.add_argument("--activate", action="store_true", help="make the new model the app's current one")
    p.set_defaults(func=cmd_train_drawings)

    p = sub.add_parser("train-gate", help="train the not-a-digit gate and fit its threshold")
    p.add_argument("--out", type=_keras_path, help="where to save it (default: the shipped gate's file)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(func=cmd_train_gate)

    p = sub.add_parser("fit-verdict", help="fit the not-a-digit verdict of a digit model with the shipped gate")
    p.add_argument("--model", help="a .keras file (default: the current model)")
    p.set_defaults(func=cmd_fit_verdict)

    p = sub.add_parser("evaluate", help="score a model on the MNIST test set")
    p.add_argument("--model", help="a .keras file (default: the current model)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="read the digit, or the number, in picture files")
    p.add_argument("images", nargs="+", help="PNG, JPEG or any picture Pillow reads")
    p.add_argument("--model", help="a .keras file (default: the current model)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("bench", help="measure latency, throughput, robustness and start-up")
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check the benchmark runs")
    p.add_argument("--no-browser", action="store_true", help="skip the real-browser measurements")
    p.add_argument("--area", action="append", metavar="AREA",
                   help="run only this area (core, server, recipe, ...; repeatable); default: all but class, "
                        "which takes minutes and runs only when named")
    p.add_argument("--sessions", type=common.positive, metavar="N",
                   help="the class area's simulated visitors (default 30)")
    p.add_argument("--out", help="also write the Markdown table to this file")
    p.set_defaults(func=cmd_bench)

    drawings.register(sub)
    explain.register(sub)
    return parser


INTERRUPTED = "interrupted; nothing was saved"
EXIT_INTERRUPTED = 130  # what a shell reports for a command ended by Ctrl-C (128 + SIGINT)


def main(argv: list[str] | None = None) -> int:
    """Run one command; Ctrl-C at any point (also while the modules load) ends in one line."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print(("\n" if common.bar_open else "") + INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)

    from mnist_cnn.data.mnist import MnistDataError
    from mnist_cnn.network.store import ModelStoreError

    try:
        args.func(args)
    except (MnistDataError, ModelStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {common.plain(exc)}", file=sys.stderr)
        return 2
    return 0
