"""Command line for the saved drawings: python -m mnist_cnn drawings {import,export,stats,delete,clear}
and python -m mnist_cnn finetune.

The page can only delete the drawings of its own browser session, so that on a shared server
no visitor can wipe the collection; deleting any drawing, or all of them, is done here. Expected
failures end in one line on stderr and exit code 2. TensorFlow is imported only inside the
commands that need it, so --help stays instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_cnn.cli.common import EXIT_ERROR, epochs, fail, import_tensorflow_quietly, plain, positive, print_progress


def _open_store():
    from mnist_cnn.drawings.store import DrawingsError, DrawingStore

    try:
        store = DrawingStore()
    except DrawingsError as exc:
        fail(str(exc))
    if store.recovered:
        print(store.recovered, file=sys.stderr)
    return store


def _per_digit(counts: list[int]) -> str:
    return "  ".join(f"{d}:{n}" for d, n in enumerate(counts))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def cmd_import(args: argparse.Namespace) -> None:
    from mnist_cnn.drawings.folders import import_folder
    from mnist_cnn.drawings.store import DrawingsError
    from mnist_cnn.network.inference import load_classifier

    store = _open_store()
    try:
        report = import_folder(store, Path(args.path), classifier=load_classifier(args.model))
    except DrawingsError as exc:
        fail(str(exc))
    for line in report.lines():
        print(line)
    if report.refused and not report.total_added and not report.duplicates:
        raise SystemExit(EXIT_ERROR)


def cmd_export(args: argparse.Namespace) -> None:
    from mnist_cnn.drawings.folders import export_folder
    from mnist_cnn.drawings.store import DrawingsError

    store = _open_store()
    try:
        count = export_folder(store, Path(args.path))
    except DrawingsError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the export: {plain(exc)}; export to a new folder in a place you can write to")
    print(f"exported {count} drawings to {args.path} (0/ … 9/: the 28x28 inputs, originals/: the pictures, "
          f"drawings.csv: the rest)")


def cmd_stats(args: argparse.Namespace) -> None:
    from mnist_cnn.network.inference import NUMPY_MAX_BATCH, load_classifier
    from mnist_cnn.training.evaluate import drawings_accuracy

    store = _open_store()
    counts = store.counts_per_digit()
    print(f"{sum(counts)} drawings ({_per_digit(counts)}) in {store.path}")
    if not sum(counts):
        print("label drawings in the app's Draw tab, or: python -m mnist_cnn drawings import PATH")
        return
    print(f"{store.count(wrong_only=True)} were predicted wrongly when they were saved")
    clf = load_classifier(args.model)
    images, labels, _ = store.dataset("all")
    held_images, held_labels, _ = store.dataset("held_out")
    everything = drawings_accuracy(clf, images, labels, chunk=NUMPY_MAX_BATCH)  # NumPy: no TensorFlow start-up
    held = drawings_accuracy(clf, held_images, held_labels, chunk=NUMPY_MAX_BATCH)
    print(f"{clf.entry.label}: {_percent(everything)} on all {len(labels)}, "
          f"{_percent(held)} on the {len(held_labels)} held out of fine-tuning")


def cmd_delete(args: argparse.Namespace) -> None:
    store = _open_store()
    deleted = store.delete(args.ids)
    print(f"deleted {deleted} of {len(args.ids)} drawings" + ("" if deleted == len(args.ids) else
                                                            " (the others do not exist)"))


def cmd_clear(args: argparse.Namespace) -> None:
    store = _open_store()
    total = store.count()
    if not total:
        print("there are no drawings to delete")
        return
    if not args.yes:
        try:
            answer = input(f"Delete all {total} drawings in {store.path}? This cannot be undone. Type yes: ")
        except EOFError:
            print()
            answer = ""
        if answer.strip().lower() != "yes":
            fail("nothing deleted; type yes to confirm, or pass --yes")
    print(f"deleted {store.clear()} drawings")


def cmd_finetune(args: argparse.Namespace) -> None:
    from mnist_cnn.data.mnist import load_mnist
    from mnist_cnn.network import store

    base = Path(args.model) if args.model else store.current_model_path()
    default_out = store.user_models_dir() / f"{base.stem.removesuffix('-finetuned')}-finetuned.keras"
    out = Path(args.out) if args.out else default_out
    if out.suffix != ".keras":
        fail(f"--out must end in .keras, got {out.name}")
    if not base.is_file():
        fail(f"model file {base} does not exist")
    if not len(_open_store().dataset("train")[1]):
        fail("there are no saved drawings to fine-tune on; label some in the app's Draw tab, or "
              "python -m mnist_cnn drawings import PATH")
    load_mnist()  # a missing data set is reported before TensorFlow's seconds of loading
    import_tensorflow_quietly()
    from mnist_cnn.training.finetune import finetune

    result = finetune(base, epochs=args.epochs, limit=args.limit, progress=print_progress, seed=args.seed)
    entry = store.save_model(result.model, out, result.sidecar("python -m mnist_cnn finetune"))
    if args.activate:
        store.set_current_model(out)
    e = result.extra
    print(f"held-out drawings ({e['drawings_held_out']}, never trained on): "
          f"{_percent(e['held_out_accuracy_before'])} before, {_percent(e['held_out_accuracy_after'])} after")
    print(f"MNIST test accuracy: {_percent(e['mnist_test_accuracy_before'])} before, "
          f"{_percent(result.test_accuracy)} after")
    print(f"fine-tuned {base.name} on {e['drawings_trained']} drawings and MNIST in {result.seconds:.0f}s; "
          f"saved {entry.path}" + ("" if args.activate else " (--activate makes it the app's model)"))


def _drawing_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a drawing id (a whole number)") from None


def register(subparsers) -> None:
    """Add `drawings …` and `finetune` to the CLI's subcommands."""
    p = subparsers.add_parser("drawings", help="import, export, count and delete the saved drawings")
    sub = p.add_subparsers(dest="drawings_command", required=True)

    q = sub.add_parser("import", help="add a folder of pictures in 0/ … 9/ subfolders (or an export)")
    q.add_argument("path", help="a folder with subfolders 0 … 9 of pictures of any size and polarity")
    q.add_argument("--model", help="the .keras model whose predictions are recorded (default: the current one)")
    q.set_defaults(func=cmd_import)

    q = sub.add_parser("export", help="write every drawing as 0/ … 9/ PNG folders plus drawings.csv")
    q.add_argument("path", help="a new or empty folder")
    q.set_defaults(func=cmd_export)

    q = sub.add_parser("stats", help="count the drawings per digit and score a model on them")
    q.add_argument("--model", help="a .keras file (default: the current model)")
    q.set_defaults(func=cmd_stats)

    q = sub.add_parser("delete", help="delete drawings by id (the ids are in drawings.csv and the app)")
    q.add_argument("ids", nargs="+", type=_drawing_id, metavar="ID")
    q.set_defaults(func=cmd_delete)

    q = sub.add_parser("clear", help="delete every drawing")
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    q.set_defaults(func=cmd_clear)

    p = subparsers.add_parser("finetune", help="fine-tune a model on MNIST plus the saved drawings")
    p.add_argument("--model", help="the .keras model to start from (default: the current model)")
    p.add_argument("--epochs", type=epochs, help="epochs (default: the fine-tune recipe's)")
    p.add_argument("--limit", type=positive, help="cap the images per epoch, for quick runs")
    p.add_argument("--out", help="where to save (default: <model>-finetuned.keras in the user models folder)")
    p.add_argument("--seed", type=int, help="random seed, for repeatable runs")
    p.add_argument("--activate", action="store_true", help="make the fine-tuned model the app's current one")
    p.set_defaults(func=cmd_finetune)
