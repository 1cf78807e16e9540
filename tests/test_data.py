import gzip
import hashlib
import http.server
import shutil
import socket
import threading
from contextlib import contextmanager

import numpy as np
import pytest

from mnist_cnn.data import mnist as data
from mnist_cnn.data.mnist import IDX_FILES, IMAGES_MAGIC, LABELS_MAGIC, MnistDataError, download_mnist, load_mnist

# Digits per class in the official MNIST splits.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# Sizes of the official uncompressed IDX files, in bytes.
RAW_SIZES = {"train_images": 47_040_016, "train_labels": 60_008, "test_images": 7_840_016, "test_labels": 10_008}


def test_shapes_types_and_label_counts(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_test.dtype == np.uint8
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert x_train.max() == 255 and x_train.min() == 0


def test_loads_once_per_process(mnist):
    assert load_mnist()[0][0] is mnist[0][0]


def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """The IDX format: a big-endian magic number, one big-endian size per dimension, then the bytes."""
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_folder(folder, mnist, compress: bool):
    (x_train, y_train), (x_test, y_test) = mnist
    arrays = {"train_images": x_train, "train_labels": y_train, "test_images": x_test, "test_labels": y_test}
    folder.mkdir()
    for key, name in IDX_FILES.items():
        raw = _idx_bytes(arrays[key], IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC)
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
        else:
            (folder / name).write_bytes(raw)
    return folder


@pytest.fixture(scope="session")
def pristine_gz_folder(tmp_path_factory, mnist):
    """The four gzipped IDX files, written from the loaded arrays: works whatever the source was."""
    return _write_idx_folder(tmp_path_factory.mktemp("pristine") / "mnist", mnist, compress=True)


@pytest.fixture
def copy_of_mnist(tmp_path, pristine_gz_folder):
    """A writable copy of the four gzipped IDX files, for a test to damage."""
    return shutil.copytree(pristine_gz_folder, tmp_path / "mnist")


def _expect_clear_error(folder, *fragments):
    with pytest.raises(MnistDataError) as info:
        load_mnist(folder)
    message = str(info.value)
    assert "\n" not in message
    for fragment in (str(folder), "MNIST_DATA_DIR", *fragments):
        assert fragment in message
    return message


def test_gzipped_idx_folder_loads(copy_of_mnist, mnist):
    (x_train, y_train), (x_test, y_test) = load_mnist(copy_of_mnist)
    assert np.array_equal(x_train, mnist[0][0]) and np.array_equal(y_test, mnist[1][1])


def test_truncated_file_gives_clear_error(copy_of_mnist):
    path = copy_of_mnist / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    _expect_clear_error(copy_of_mnist, "t10k-labels-idx1-ubyte", "truncated")


def test_corrupt_gzip_gives_clear_error(copy_of_mnist):
    path = copy_of_mnist / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])  # a download cut short
    _expect_clear_error(copy_of_mnist, "train-images-idx3-ubyte")


def test_wrong_magic_number_gives_clear_error(copy_of_mnist):
    path = copy_of_mnist / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[3] = 0x01
    path.write_bytes(gzip.compress(bytes(raw), compresslevel=1))
    _expect_clear_error(copy_of_mnist, "magic")


def test_missing_folder_and_missing_file(tmp_path, copy_of_mnist):
    _expect_clear_error(tmp_path / "nowhere", "does not exist")
    (copy_of_mnist / "train-labels-idx1-ubyte.gz").unlink()
    _expect_clear_error(copy_of_mnist, "train-labels-idx1-ubyte", "missing")


def test_raw_idx_files_load(tmp_path, mnist):
    folder = _write_idx_folder(tmp_path / "raw", mnist, compress=False)
    for key, name in IDX_FILES.items():  # the files are the official uncompressed ones, byte for byte in size
        assert (folder / name).stat().st_size == RAW_SIZES[key]
    (x_train, y_train), (x_test, y_test) = load_mnist(folder)
    assert np.array_equal(x_train, mnist[0][0]) and np.array_equal(y_train, mnist[0][1])
    assert np.array_equal(x_test, mnist[1][0]) and y_test[:3].tolist() == [7, 2, 1]


def test_keras_style_npz(tmp_path, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    np.savez(npz_dir / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (a, b), (c, d) = load_mnist(npz_dir)
    assert np.array_equal(c, x_test) and np.array_equal(b, y_train)


# Downloads: a real local HTTP server stands in for the mirror; no internet is needed.

PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@pytest.fixture(autouse=True)
def direct_connections(monkeypatch):
    """The local server is reached directly, whatever proxy this machine is told to use."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@contextmanager
def serving(respond):
    """An HTTP server on localhost whose GET handler is respond(handler); yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            respond(self)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist.npz"
    finally:
        server.shutdown()
        server.server_close()


def _send(body: bytes, status: int = 200):
    def respond(handler):
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def _download_error(tmp_path, url, **kwargs) -> str:
    dest = tmp_path / "keras" / "mnist.npz"
    with pytest.raises(MnistDataError) as info:
        download_mnist(dest, url, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "MNIST_DATA_DIR" in message and "Getting MNIST offline" in message
    assert not dest.exists()
    return message


def test_download_names_an_http_status(tmp_path):
    with serving(_send(b"gone", 404)) as url:
        assert "HTTP 404" in _download_error(tmp_path, url)


def test_download_names_a_corrupt_file(tmp_path):
    with serving(_send(b"PK\x03\x04 not the real mnist.npz")) as url:
        assert "checksum" in _download_error(tmp_path, url)


def test_download_names_a_timeout(tmp_path):
    release = threading.Event()
    with serving(lambda handler: release.wait(5)) as url:
        assert "no answer within 0.5 s" in _download_error(tmp_path, url, timeout=0.5)
        release.set()


def test_download_names_a_dns_failure(tmp_path):
    # .invalid never resolves (RFC 2606), with or without a network.
    assert "could not be resolved" in _download_error(tmp_path, "http://mnist.invalid/mnist.npz")


def test_download_names_a_refused_connection(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert "refused" in _download_error(tmp_path, f"http://127.0.0.1:{port}/mnist.npz")


def test_download_saves_a_verified_file(tmp_path, monkeypatch):
    body = b"the real file would be 11 MB"
    monkeypatch.setattr(data, "MNIST_SHA256", hashlib.sha256(body).hexdigest())
    with serving(_send(body)) as url:
        dest = download_mnist(tmp_path / "keras" / "mnist.npz", url)
    assert dest.read_bytes() == body and [p.name for p in dest.parent.iterdir()] == ["mnist.npz"]
