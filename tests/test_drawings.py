"""The drawings store on real SQLite files and a real PostgreSQL server: saving, dedup, filters,
deleting, concurrency, corruption (SQLite), an unreachable server (PostgreSQL), migration, and the
folder import/export round trip. Tests marked `on_both` run once on each database."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import postgres
import psycopg
import pytest
from PIL import Image

from bench.style import style_set
from mnist_cnn.drawings import folders as drawings_io
from mnist_cnn.drawings import postgres_db
from mnist_cnn.drawings.schema import SCHEMA_V1
from mnist_cnn.drawings.store import (
    SCHEMA_VERSION,
    DrawingsError,
    DrawingStore,
    NewDrawing,
    content_hash,
    default_path,
    png_bytes,
)

ROOT = Path(__file__).resolve().parent.parent


def digit(seed: int) -> np.ndarray:
    """A distinct 28x28 uint8 'drawing' (a random blob of ink)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 8:20] = rng.integers(1, 256, size=(16, 12), dtype=np.uint8)
    return image


@pytest.fixture(params=["sqlite", "postgres"])
def on_both(request) -> str:
    """The test runs on the SQLite file in the user home, then on a fresh PostgreSQL database
    (MNIST_DRAW_DATABASE_URL, for DrawingStore() and the processes the test starts)."""
    if request.param == "postgres":
        request.getfixturevalue("database_url")
    return request.param


def save(store: DrawingStore, seed: int, label: int, session: str = "s1", prediction: int | None = None,
         created: float | None = None) -> tuple[int, bool]:
    probs = None if prediction is None else np.eye(10, dtype=np.float32)[prediction]
    return store.add(digit(seed), label, png_bytes(digit(seed)), session=session, prediction=prediction,
                     probs=probs, model_id="m1", created=created)


def test_the_store_lives_in_the_user_home_folder(user_home):
    store = DrawingStore()
    assert store.path == default_path() == user_home / "drawings.sqlite3"
    assert store.path.is_file()
    assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.usefixtures("on_both")
def test_saving_the_same_drawing_twice_keeps_one_row():
    store = DrawingStore()
    first = save(store, 1, 3)
    assert first[1] is True
    assert save(store, 1, 3) == (first[0], False)
    assert store.count() == 1
    assert save(store, 1, 5)[1] is True  # relabelled: a different row
    assert save(store, 1, 3, session="s2")[1] is True  # another visitor's identical drawing
    assert store.count() == 3


@pytest.mark.usefixtures("on_both")
def test_a_float_drawing_is_stored_as_the_uint8_the_model_saw():
    store = DrawingStore()
    image = digit(2).astype(np.float32) / 255.0
    row_id, _ = store.add(image, 4, b"png", session="s")
    (stored,) = store.list()
    assert stored.id == row_id
    np.testing.assert_array_equal(stored.image, digit(2))


@pytest.mark.usefixtures("on_both")
def test_list_filters_by_label_wrong_and_session_newest_first_with_pages():
    store = DrawingStore()
    for i in range(10):
        save(store, i, label=i % 3, session="a" if i < 6 else "b", prediction=0, created=1000.0 + i)
    newest = store.list()
    assert [d.created for d in newest] == sorted((d.created for d in newest), reverse=True)
    assert [d.label for d in store.list(label=1)] == [1, 1, 1]
    assert all(d.wrong for d in store.list(wrong_only=True)) and store.count(wrong_only=True) == 6
    assert {d.session for d in store.list(session="b")} == {"b"} and store.count(session="b") == 4
    page1, page2 = store.list(limit=4, offset=0), store.list(limit=4, offset=4)
    assert [d.id for d in page1 + page2] == [d.id for d in newest[:8]]
    assert store.counts_per_digit() == [4, 3, 3, 0, 0, 0, 0, 0, 0, 0]


@pytest.mark.usefixtures("on_both")
def test_a_session_can_only_delete_its_own_drawings():
    store = DrawingStore()
    mine, _ = save(store, 1, 1, session="me")
    theirs, _ = save(store, 2, 2, session="them")
    save(store, 3, 3, session="me")
    assert store.delete([mine, theirs], session="me") == 1
    assert [d.id for d in store.list()] == [3, theirs]
    assert store.delete_session("me") == 1
    assert store.count() == 1
    assert store.delete([theirs]) == 1  # the CLI may delete anything
    save(store, 4, 4)
    assert store.clear() == 1 and store.count() == 0


@pytest.mark.usefixtures("on_both")
@pytest.mark.parametrize("label, message", [(10, "label 10 is outside 0-9"), (-1, "label -1 is outside 0-9"),
                                            ("x", "is not a digit"), (2.5, "is not a digit")])
def test_a_label_outside_0_9_is_refused_and_nothing_is_stored(label, message):
    store = DrawingStore()
    with pytest.raises(ValueError, match=message):
        store.add(digit(1), label, b"png", session="s")
    assert store.count() == 0


@pytest.mark.usefixtures("on_both")
def test_a_drawing_without_ink_is_refused_and_nothing_is_stored():
    store = DrawingStore()
    with pytest.raises(ValueError, match="no ink"):
        store.add(np.zeros((28, 28), np.uint8), 3, b"png", session="s")
    with pytest.raises(ValueError, match="28x28"):
        store.add(np.ones((20, 20), np.uint8), 3, b"png", session="s")
    assert store.count() == 0


@pytest.mark.usefixtures("on_both")
def test_the_held_out_split_stays_fixed_as_drawings_are_added():
    store = DrawingStore()
    store.add_many([NewDrawing(digit(i), i % 10, b"png", "s") for i in range(60)])
    _, _, held = store.dataset("held_out")
    _, _, train = store.dataset("train")
    assert set(held).isdisjoint(train) and len(held) + len(train) == 60
    assert 3 <= len(held) <= 24  # about one in five
    store.add_many([NewDrawing(digit(i), i % 10, b"png", "s") for i in range(60, 120)])
    _, _, held_later = store.dataset("held_out")
    assert set(held) <= set(held_later)
    images, labels, ids = store.dataset("all")
    assert images.shape == (120, 28, 28) and images.dtype == np.uint8 and len(labels) == len(ids) == 120


# ---------- many processes, broken files, old files ----------

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from mnist_cnn.drawings.store import DrawingStore, png_bytes
    from mnist_cnn.drawings.folders import import_folder
    store = DrawingStore()
    report = import_folder(store, sys.argv[1])
    worker = int(sys.argv[2])
    for i in range(15):  # and single saves, interleaved with the other processes' imports
        rng = np.random.default_rng(10_000 * worker + i)
        image = rng.integers(0, 256, (28, 28), dtype=np.uint8)
        store.add(image, i % 10, png_bytes(image), session=f"worker{worker}")
    print(report.total_added)
""")


@pytest.mark.usefixtures("on_both")
def test_eight_processes_importing_at_once_lose_no_row(tmp_path, user_home):
    folders = []
    for worker in range(8):
        folder = tmp_path / f"w{worker}"
        for i in range(12):
            label = i % 10
            (folder / str(label)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.kron(digit(1000 * worker + i), np.ones((4, 4), np.uint8))).save(
                folder / str(label) / f"{i}.png")
        folders.append(folder)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(f), str(w)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w, f in enumerate(folders)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outputs]
    assert [int(out) for out, _ in outputs] == [12] * 8
    store = DrawingStore()
    assert store.count() == 8 * (12 + 15)
    assert store.count(session="import") == 8 * 12


def test_a_corrupt_file_is_moved_aside_and_a_new_store_started(user_home, caplog):
    path = user_home / "drawings.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = DrawingStore()
    assert store.recovered and "moved to drawings.sqlite3.corrupt-" in store.recovered
    assert "moved to" in caplog.text
    (aside,) = user_home.glob("drawings.sqlite3.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not a database")
    assert save(store, 1, 1)[1] and store.count() == 1
    assert DrawingStore().recovered is None  # the new file is healthy


def test_a_file_damaged_inside_is_moved_aside_when_it_is_read(user_home):
    store = DrawingStore()
    store.add_many([NewDrawing(digit(i), i % 10, png_bytes(digit(i)), "s") for i in range(200)])
    with sqlite3.connect(store.path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(store.path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, page):  # overwrite every page but the first two
        data[start + 8: start + page] = b"\xff" * (page - 8)
    store.path.write_bytes(bytes(data))
    assert store.list() == []  # the damage is found on reading; the work is redone on a new file
    assert store.recovered and list(user_home.glob("drawings.sqlite3.corrupt-*"))
    assert save(store, 1, 1)[1]


def test_a_store_that_cannot_be_opened_is_reported_and_left_where_it_is(user_home):
    (user_home / "drawings.sqlite3").mkdir()  # something that is there but is no file SQLite can open
    with pytest.raises(DrawingsError, match="cannot be opened .* may read and write it") as raised:
        DrawingStore()
    assert "\n" not in str(raised.value)
    assert (user_home / "drawings.sqlite3").is_dir() and not list(user_home.glob("*.corrupt-*"))


NOT_ALLOWED = textwrap.dedent("""
    import sys
    from mnist_cnn.drawings.store import DrawingsError, DrawingStore
    try:
        DrawingStore(sys.argv[1])
    except DrawingsError as exc:
        print(exc)
""")


def test_a_store_this_user_may_not_read_keeps_every_drawing(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    store = DrawingStore(folder / "drawings.sqlite3")
    save(store, 1, 1)
    store.path.chmod(0)
    # root reads any file: it runs without the capabilities that let it (util-linux's setpriv)
    as_a_user = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.getuid() == 0 else []
    said = subprocess.run([*as_a_user, sys.executable, "-c", NOT_ALLOWED, str(store.path)], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert said.returncode == 0, said.stderr
    assert "cannot be opened" in said.stdout and said.stdout.count("\n") == 1
    store.path.chmod(0o644)
    assert not list(folder.glob("*.corrupt-*")) and store.count() == 1


RECOVER = textwrap.dedent("""
    import sys
    import numpy as np
    from mnist_cnn.drawings.store import DrawingStore, png_bytes

    for i in range(10):
        image = np.zeros((28, 28), np.uint8)
        image[5:20, 5:20] = int(sys.argv[2]) * 10 + i + 1
        DrawingStore(sys.argv[1]).add(image, i, png_bytes(image), session=sys.argv[2])
""")


def test_processes_recovering_the_same_corrupt_file_lose_nothing(tmp_path):
    path = tmp_path / "drawings.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    procs = [subprocess.Popen([sys.executable, "-c", RECOVER, str(path), str(n)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}) for n in range(4)]
    assert [p.wait(120) for p in procs] == [0] * 4
    assert DrawingStore(path).count() == 40  # every save of every process, in the one new store
    (aside,) = tmp_path.glob("drawings.sqlite3.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not a database")


def test_a_file_from_a_newer_version_is_left_alone(user_home):
    path = user_home / "drawings.sqlite3"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA user_version = 99")
    with pytest.raises(DrawingsError, match="newer version"):
        DrawingStore()
    assert path.is_file() and not list(user_home.glob("*.corrupt-*"))


SCHEMA_V1_AS_SHIPPED = """
CREATE TABLE drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image BLOB NOT NULL,
    original BLOB NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    prediction INTEGER,
    probs BLOB,
    model_id TEXT,
    created REAL NOT NULL,
    session TEXT NOT NULL
);
PRAGMA user_version = 1;
"""


def test_a_version_1_file_is_migrated_keeping_its_drawings(user_home):
    path = user_home / "drawings.sqlite3"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA_V1_AS_SHIPPED)
    rows = [(digit(1).tobytes(), b"png1", 1, 7, None, "old", 100.0, "a"),
            (digit(2).tobytes(), b"png2", 2, 2, None, "old", 101.0, "a"),
            (digit(1).tobytes(), b"png1", 1, 7, None, "old", 102.0, "a")]  # saved twice under v1
    con.executemany("INSERT INTO drawings (image, original, label, prediction, probs, model_id, created, session) "
                    "VALUES (?,?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()

    store = DrawingStore()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    kept = sorted(store.list(), key=lambda d: d.id)
    assert [(d.label, d.created, d.source, d.original) for d in kept] == [(1, 100.0, "canvas", b"png1"),
                                                                          (2, 101.0, "canvas", b"png2")]
    assert kept[0].wrong and kept[0].content_hash == content_hash(digit(1).tobytes(), 1, "a")
    assert store.add(digit(1), 1, b"png1", session="a") == (kept[0].id, False)  # dedup covers old rows


# ---------- PostgreSQL: its version table, many servers, a server that is not there ----------

def test_a_postgres_database_from_a_newer_version_is_left_alone(database_url):
    DrawingStore()
    with psycopg.connect(database_url, autocommit=True) as con:
        con.execute("UPDATE drawings_schema SET version = 99")
    postgres_db._migrated.clear()  # as a server started later would
    with pytest.raises(DrawingsError, match="newer version"):
        DrawingStore()


def test_a_version_1_postgres_database_is_migrated_keeping_its_drawings(database_url):
    with psycopg.connect(database_url, autocommit=True) as con:
        con.execute(SCHEMA_V1.format(**postgres_db.TYPES))
        con.execute(postgres_db.SCHEMA_TABLE)
        con.execute("INSERT INTO drawings_schema (version) VALUES (1)")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO drawings (image, original, label, prediction, probs, model_id, created, "
                            "session) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                            [(digit(1).tobytes(), b"png1", 1, 7, None, "old", 100.0, "a"),
                             (digit(2).tobytes(), b"png2", 2, 2, None, "old", 101.0, "a"),
                             (digit(1).tobytes(), b"png1", 1, 7, None, "old", 102.0, "a")])
    store = DrawingStore()
    kept = sorted(store.list(), key=lambda d: d.id)
    assert [(d.label, d.created, d.source) for d in kept] == [(1, 100.0, "canvas"), (2, 101.0, "canvas")]
    assert store.add(digit(1), 1, b"png1", session="a") == (kept[0].id, False)
    with psycopg.connect(database_url) as con:
        assert con.execute("SELECT version FROM drawings_schema").fetchall() == [(SCHEMA_VERSION,)]


OPEN_AT_ONCE = textwrap.dedent("""
    import sys, time
    from mnist_cnn.drawings.store import DrawingStore
    while time.time() < float(sys.argv[1]):
        time.sleep(0.001)
    print(DrawingStore().count())
""")


def test_servers_starting_at_once_on_an_empty_database_migrate_it_once(database_url):
    start = f"{time.time() + 2:.3f}"  # after every process has imported the package
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, start], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [out for out, _ in outputs] == ["0\n"] * 4, [err for _, err in outputs]
    with psycopg.connect(database_url) as con:
        assert con.execute("SELECT version FROM drawings_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_connections_cut_while_idle_are_replaced_without_a_word(database_url):
    store = DrawingStore()
    save(store, 1, 1)
    with psycopg.connect(database_url, autocommit=True) as con:  # as a restarted database server would
        con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    assert save(store, 2, 2)[1] and store.count() == 2


def test_a_database_that_cannot_be_reached_is_one_sentence_without_its_password(postgres_server):
    url = f"postgresql://someone:hunter2@127.0.0.1:{postgres.free_port()}/drawings"  # nothing listens there
    with pytest.raises(DrawingsError) as error:
        DrawingStore(url)
    message = str(error.value)
    assert "cannot be reached" in message and "MNIST_DRAW_DATABASE_URL" in message
    assert "hunter2" not in message and "\n" not in message and "postgresql://someone@127.0.0.1" in message
    started = time.monotonic()
    with pytest.raises(DrawingsError, match="cannot be reached"):  # later calls: the same sentence, at once
        DrawingStore(url)
    assert time.monotonic() - started < 1.0


def test_the_page_still_reads_drawings_when_the_database_is_down(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MNIST_DRAW_DATABASE_URL", f"postgresql://someone:hunter2@127.0.0.1:{postgres.free_port()}/x")
    at = AppTest.from_function(labelling_page, default_timeout=60).run()
    assert not at.exception
    assert "canvas cleared 0 times" in [m.value for m in at.markdown]  # the page is there, the prediction too
    next(b for b in at.button if b.key.startswith("save_")).click().run()
    problems = [w.value for w in at.warning] + [e.value for e in at.error]
    assert any("Could not save the drawing" in p and "cannot be reached" in p for p in problems), problems
    assert not at.exception and not any("hunter2" in p for p in problems)


# ---------- folders in and out ----------

def make_picture_folder(root: Path, n: int = 20) -> Path:
    """Style canvases saved as a person would: black on white, some large JPEGs, some small PNGs."""
    canvases, labels = style_set(n, seed=5)
    for i, (canvas, label) in enumerate(zip(canvases, labels)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        picture = Image.fromarray(255 - canvas[..., 0])
        if i % 2:
            picture.resize((900, 900)).convert("RGB").save(root / str(label) / f"scan{i}.jpg", quality=92)
        else:
            picture.resize((64, 64)).save(root / str(label) / f"shot{i}.png")
    return root


def test_import_takes_pictures_of_any_size_and_polarity(tmp_path):
    store = DrawingStore()
    report = drawings_io.import_folder(store, make_picture_folder(tmp_path / "pics"))
    assert report.refused == [] and report.added == [2] * 10
    assert store.count(session="import") == 20
    originals = [Image.open(io.BytesIO(d.original)) for d in store.list()]
    assert {o.format for o in originals} == {"PNG"} and max(max(o.size) for o in originals) <= 560
    again = drawings_io.import_folder(store, tmp_path / "pics")
    assert again.total_added == 0 and again.duplicates == 20 and store.count() == 20


def test_bad_folders_and_files_get_one_line_each_and_nothing_is_stored(tmp_path):
    root = tmp_path / "bad"
    (root / "12").mkdir(parents=True)
    Image.fromarray(digit(1)).save(root / "12" / "a.png")
    (root / "cats").mkdir()
    (root / "3").mkdir()
    (root / "3" / "notes.txt").write_text("not a picture")
    (root / "4").mkdir()
    Image.new("L", (80, 80), 255).save(root / "4" / "blank.png")
    Image.fromarray(digit(2)).save(root / "loose.png")
    store = DrawingStore()
    report = drawings_io.import_folder(store, root)
    refused = dict(report.refused)
    assert refused.pop("3/notes.txt").startswith("this file is not a picture")  # preprocess' own words
    assert refused == {
        "12/": "label 12 is outside 0-9; folders must be named 0 … 9",
        "cats/": "the folder name is not a digit; folders must be named 0 … 9",
        "loose.png": "not inside a digit folder; put pictures in folders 0/ … 9/",
        "4/blank.png": "no ink: the picture is blank",
    }
    assert store.count() == 0
    assert report.lines()[-1] == "added 0 drawings (0:0  1:0  2:0  3:0  4:0  5:0  6:0  7:0  8:0  9:0)"
    with pytest.raises(DrawingsError, match="not a folder"):
        drawings_io.import_folder(store, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DrawingsError, match="no folders 0/"):
        drawings_io.import_folder(store, tmp_path / "empty")


def exported(tmp_path: Path, n: int = 2) -> Path:
    """An export of `n` drawings labelled 3, with its metadata file."""
    store = DrawingStore(tmp_path / "source.sqlite3")
    for i in range(n):
        save(store, i, 3, prediction=3)
    drawings_io.export_folder(store, tmp_path / "export")
    return tmp_path / "export"


def rewrite_metadata(folder: Path, **changes: str) -> None:
    path = folder / drawings_io.METADATA_CSV
    rows = list(csv.DictReader(path.open(newline="")))
    for row in rows:
        row.update(changes)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=drawings_io.CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def test_an_import_never_reads_a_file_outside_its_folder(tmp_path):
    folder = exported(tmp_path / "a")
    secret = tmp_path / "a" / "secret"  # what a crafted label of ../.. would reach
    for name in os.listdir(folder / "3"):
        (secret / name).parent.mkdir(parents=True, exist_ok=True)
        (secret / name).write_bytes(b"a private file")
    rewrite_metadata(folder, label="../../secret")
    store = DrawingStore(tmp_path / "target.sqlite3")
    report = drawings_io.import_folder(store, folder)
    assert store.count() == 0 and len(report.refused) == 2
    assert all("metadata" in reason and "not a digit" in reason for _, reason in report.refused)


def test_an_import_does_not_follow_symbolic_links(tmp_path):
    outside = tmp_path / "outside.png"
    Image.fromarray(digit(7)).resize((64, 64)).save(outside)
    folder = make_picture_folder(tmp_path / "pics", n=10)
    (folder / "5" / "link.png").symlink_to(outside)
    (folder / "6").rename(tmp_path / "six")
    (folder / "6").symlink_to(tmp_path / "six", target_is_directory=True)
    report = drawings_io.import_folder(DrawingStore(), folder)
    refused = dict(report.refused)
    assert refused["5/link.png"].startswith("it is a symbolic link") and refused["6"].startswith("it is a symbol")
    assert report.total_added == 9 and report.added[6] == 0

    export = exported(tmp_path / "b", n=1)
    original = next((export / "originals" / "3").iterdir())
    original.rename(tmp_path / "original.png")
    original.symlink_to(tmp_path / "original.png")
    report = drawings_io.import_folder(DrawingStore(tmp_path / "c.sqlite3"), export)
    assert report.total_added == 0 and report.refused[0][1].startswith("it is a symbolic link")


def test_a_broken_export_is_refused_with_one_line_and_nothing_is_stored(tmp_path):
    folder = exported(tmp_path / "a")
    first, second = sorted((folder / "originals" / "3").iterdir())
    first.unlink()
    store = DrawingStore(tmp_path / "target.sqlite3")
    report = drawings_io.import_folder(store, folder)
    assert report.refused == [(f"3/{first.name}", f"its original picture originals/3/{first.name} is missing")]
    assert store.count() == 1

    (folder / drawings_io.METADATA_CSV).write_text("name,digit\na.png,3\n")
    with pytest.raises(DrawingsError, match="is not a drawings export's metadata"):
        drawings_io.import_folder(store, folder)
    assert store.count() == 1


def test_a_decompression_bomb_is_refused_without_decoding_it(tmp_path):
    folder = tmp_path / "pics"
    (folder / "2").mkdir(parents=True)
    Image.new("1", (9_000, 9_000)).save(folder / "2" / "huge.png")  # 81 MP of white, a few kB on disk
    store = DrawingStore()
    report = drawings_io.import_folder(store, folder)
    assert "too large" in dict(report.refused)["2/huge.png"] and store.count() == 0


def collection(store: DrawingStore) -> list[tuple]:
    """Everything about every drawing except its row id, in a comparable form."""
    return sorted((d.image.tobytes(), d.original, d.label, d.prediction,
                   None if d.probs is None else d.probs.tobytes(), d.model_id, d.created, d.session, d.source,
                   d.content_hash) for d in store.list())


@pytest.mark.usefixtures("on_both")
def test_export_then_import_elsewhere_gives_the_same_collection(tmp_path):
    store = DrawingStore()  # on either database; elsewhere is always a file: either way round trips
    drawings_io.import_folder(store, make_picture_folder(tmp_path / "pics"))  # no predictions
    for i in range(12):
        save(store, 100 + i, i % 10, session=f"s{i % 3}", prediction=(i + 1) % 10, created=1.5e9 + i / 7)
    assert drawings_io.export_folder(store, tmp_path / "export") == 32
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == [*map(str, range(10)), "drawings.csv",
                                                                        "originals"]
    elsewhere = DrawingStore(tmp_path / "elsewhere.sqlite3")
    report = drawings_io.import_folder(elsewhere, tmp_path / "export")
    assert report.refused == [] and report.total_added == 32
    assert collection(elsewhere) == collection(store)
    with pytest.raises(DrawingsError, match="not an empty folder"):
        drawings_io.export_folder(store, tmp_path / "export")


@pytest.mark.usefixtures("on_both")
def test_the_zip_download_holds_the_same_export(tmp_path):
    store = DrawingStore()
    save(store, 1, 1, session="me")
    save(store, 2, 2, session="them")
    names = zipfile.ZipFile(io.BytesIO(drawings_io.export_zip(store, session="me"))).namelist()
    assert sorted(names) == sorted(["drawings/drawings.csv", f"drawings/1/{drawings_io.file_name(store.list()[1])}",
                                    f"drawings/originals/1/{drawings_io.file_name(store.list()[1])}"])


# ---------- the page ----------

def labelling_page():
    """The label row under a fixed drawing, and the My drawings tab, as the app lays them out."""
    import numpy as np
    import streamlit as st

    from mnist_cnn.ui import labelling, my_drawings
    from mnist_cnn.ui.common import current_classifier

    clf = current_classifier()
    image = np.zeros((28, 28), np.float32)
    image[5:23, 12:16] = 1.0  # a "1"
    st.session_state.setdefault("cleared", 0)
    if st.session_state.pop("clear_canvas", False):
        st.session_state["cleared"] += 1
    st.write(f"canvas cleared {st.session_state['cleared']} times")
    labelling.show_toasts()  # as draw.show_prediction does, above the row
    labelling.label_row(image, np.zeros((280, 280, 4), np.uint8), clf.predict_proba(image[None])[0], clf, "canvas",
                        "draw")
    my_drawings.render(clf)


def test_the_page_saves_with_one_click_even_when_the_store_was_corrupt(user_home):
    from streamlit.testing.v1 import AppTest

    (user_home / "drawings.sqlite3").write_bytes(b"garbage" * 500)
    at = AppTest.from_function(labelling_page, default_timeout=60).run()
    assert not at.exception
    assert any("moved to drawings.sqlite3.corrupt-" in w.value for w in at.warning)  # the tab says it once
    assert any("No drawings saved yet" in i.value for i in at.info)
    save_button = next(b for b in at.button if b.key.startswith("save_"))
    save_button.click().run()
    assert [t.value for t in at.toast] == ["Saved as a 1."]
    assert "canvas cleared 1 times" in [m.value for m in at.markdown]
    (saved,) = DrawingStore().list()
    assert (saved.label, saved.prediction, saved.source, len(saved.session)) == (1, 1, "canvas", 12)
    assert any(m.value.startswith("**1 drawing**") for m in at.markdown)
    held = int(saved.held_out)
    (table,) = at.dataframe  # each model's accuracy, with how many drawings it is measured on
    assert list(table.value.columns) == ["model", "all drawings (1)", f"held out of fine-tuning ({held})"]


def stale_click_page():
    """The label row under the drawing named in session state "shown", while the canvas holds the
    one named "now": a Save click that reaches the server with a stroke, before its rerun."""
    import numpy as np
    import streamlit as st
    from PIL import Image, ImageDraw

    from mnist_cnn.reading.preprocess import canvas_to_mnist
    from mnist_cnn.reading.verdicts import judge
    from mnist_cnn.ui import labelling
    from mnist_cnn.ui.common import current_classifier

    def drawing(name: str) -> tuple[np.ndarray, np.ndarray]:
        """A "one" (a vertical stroke) or a "seven" (the same with a bar over it) on the canvas."""
        paper = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
        pen = ImageDraw.Draw(paper)
        pen.line([(196, 56), (196, 238)], fill="white", width=18)
        if name == "seven":
            pen.line([(84, 56), (196, 56)], fill="white", width=18)
        rgba = np.asarray(paper)
        return canvas_to_mnist(rgba), rgba

    clf = current_classifier()
    shown, rgba = drawing(st.session_state.setdefault("shown", "one"))
    st.session_state.setdefault("now", st.session_state["shown"])
    v = judge(shown, clf)
    labelling.show_toasts()
    labelling.label_row(shown, rgba, v.probs, clf, "canvas", "draw", is_digit=v.is_digit,
                        current=lambda: drawing(st.session_state["now"]))


def stale_click_app():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(stale_click_page, default_timeout=60).run()
    assert not at.exception
    return at


def test_the_digit_row_follows_each_new_prediction_and_leaves_the_persons_pick_alone():
    at = stale_click_app()
    row = lambda: at.segmented_control(key="label_draw")  # noqa: E731
    assert row().value == 1
    at.session_state["shown"] = at.session_state["now"] = "seven"
    at.run()
    assert row().value == 7, "a new drawing is set to its own prediction"
    row().set_value(3).run()
    at.run()
    assert row().value == 3, "the same drawing keeps the digit the person picked"


def test_a_click_that_arrives_with_a_stroke_saves_the_drawing_as_finally_shown():
    at = stale_click_app()
    at.session_state["now"] = "seven"  # the canvas has the bar; the row still shows the 1
    at.button(key="save_draw").click().run()
    (saved,) = DrawingStore().list()
    assert (saved.label, saved.prediction) == (7, 7), "the 7 with its own prediction, never the 1"
    assert [t.value for t in at.toast] == ["Saved as a 7."]


def test_a_click_that_arrives_with_a_stroke_after_a_digit_was_picked_saves_nothing_and_says_so():
    at = stale_click_app()
    at.segmented_control(key="label_draw").set_value(4).run()  # the person's pick for the 1
    at.session_state["now"] = "seven"
    at.button(key="save_draw").click().run()
    assert DrawingStore().count() == 0
    from mnist_cnn.ui.labelling import DRAWING_CHANGED

    assert [w.value for w in at.warning] == [DRAWING_CHANGED]


@pytest.mark.usefixtures("on_both")
def test_the_command_line_imports_counts_deletes_and_asks_before_clearing(tmp_path, capsys, monkeypatch):
    from mnist_cnn.cli.main import main

    assert main(["drawings", "import", str(make_picture_folder(tmp_path / "pics", n=10))]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "added 10 drawings (0:1  1:1  2:1  3:1  4:1  5:1  6:1  7:1  " \
                                                      "8:1  9:1)"
    assert main(["drawings", "stats"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("10 drawings (0:1  1:1") and "on all 10" in out
    assert postgres.PASSWORD not in out  # a PostgreSQL store is named without its password
    first, second = sorted(d.id for d in DrawingStore().list())[:2]
    assert main(["drawings", "delete", str(first), str(second), "999"]) == 0
    assert "deleted 2 of 3 drawings" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SystemExit) as refused:
        main(["drawings", "clear"])
    assert refused.value.code == 2 and "nothing deleted" in capsys.readouterr().err
    assert DrawingStore().count() == 8
    assert main(["drawings", "clear", "--yes"]) == 0 and DrawingStore().count() == 0


# ---------- a shared server's limits ----------

@pytest.mark.usefixtures("on_both")
def test_a_full_store_refuses_new_drawings_with_one_line_and_keeps_what_it_has(tmp_path):
    from mnist_cnn.drawings.store import StoreFull

    store = DrawingStore()
    for seed in range(3):
        assert store.add(digit(seed), 1, png_bytes(digit(seed)), session="s", cap=3)[1]
    assert store.add(digit(0), 1, png_bytes(digit(0)), session="s", cap=3) == (store.list()[-1].id, False)  # resaved
    with pytest.raises(StoreFull, match=r"full \(3 drawings.*nothing was saved") as full:
        store.add(digit(9), 1, png_bytes(digit(9)), session="s", cap=3)
    assert "\n" not in str(full.value) and store.count() == 3
    with pytest.raises(StoreFull):  # an import that would pass the cap stores none of its drawings
        store.add_many([NewDrawing(digit(s), 2, png_bytes(digit(s)), "s") for s in (10, 11)], cap=4)
    assert store.count() == 3


def test_one_browser_saves_at_most_once_a_second_and_others_are_not_held_up():
    from mnist_cnn.ui.labelling import SaveLimiter

    now = [100.0]
    limiter = SaveLimiter(interval=1.0, clock=lambda: now[0])
    assert limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")  # another browser is not held up by the first
    now[0] += 0.99
    assert not limiter.allow("a")
    now[0] += 0.02
    assert limiter.allow("a")


def test_the_page_says_when_saves_come_too_fast_and_when_the_store_is_full(user_home, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from mnist_cnn.ui import labelling

    at = AppTest.from_function(labelling_page, default_timeout=60).run()
    save = next(b for b in at.button if b.key.startswith("save_"))
    save.click().run()
    assert [t.value for t in at.toast] == ["Saved as a 1."]
    monkeypatch.setattr(labelling, "SAVES", labelling.SaveLimiter(interval=3600))
    labelling.SAVES.allow(DrawingStore().list()[0].session)  # this browser has just saved
    next(b for b in at.button if b.key.startswith("save_")).click().run()
    assert labelling.SAVING_TOO_FAST in [w.value for w in at.warning]

    monkeypatch.setattr(labelling, "SAVES", labelling.SaveLimiter(interval=0))
    monkeypatch.setenv("MNIST_DRAW_MAX_DRAWINGS", "1")
    at.segmented_control[0].set_value(7).run()  # another label: a new drawing for the store
    next(b for b in at.button if b.key.startswith("save_")).click().run()
    assert any("The drawings store is full" in w.value for w in at.warning)
    assert DrawingStore().count() == 1
