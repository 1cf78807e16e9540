import gzip
import shutil

import numpy as np
import pytest

from mnist_cnn.data import MnistDataError, load_mnist

# Digits per class in the official MNIST splits.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_shapes_types_and_label_counts(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_test.dtype == np.uint8
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert x_train.max() == 255 and x_train.min() == 0


def test_loads_once_per_process(mnist):
    assert load_mnist()[0][0] is mnist[0][0]


@pytest.fixture
def copy_of_mnist(tmp_path, monkeypatch):
    import os

    src = os.environ["MNIST_DATA_DIR"]
    dst = tmp_path / "mnist"
    shutil.copytree(src, dst, copy_function=shutil.copyfile)  # shared/ is read-only; the copies must not be
    return dst


def _expect_clear_error(folder, *fragments):
    with pytest.raises(MnistDataError) as info:
        load_mnist(folder)
    message = str(info.value)
    assert "\n" not in message
    for fragment in (str(folder), "MNIST_DATA_DIR", *fragments):
        assert fragment in message
    return message


def test_truncated_file_gives_clear_error(copy_of_mnist):
    path = copy_of_mnist / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    _expect_clear_error(copy_of_mnist, "t10k-labels-idx1-ubyte", "truncated")


def test_corrupt_gzip_gives_clear_error(copy_of_mnist):
    path = copy_of_mnist / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: 5000])  # a download cut short
    _expect_clear_error(copy_of_mnist, "train-images-idx3-ubyte")


def test_wrong_magic_number_gives_clear_error(copy_of_mnist):
    path = copy_of_mnist / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[3] = 0x01
    path.write_bytes(gzip.compress(bytes(raw)))
    _expect_clear_error(copy_of_mnist, "magic")


def test_missing_folder_and_missing_file(tmp_path, copy_of_mnist):
    _expect_clear_error(tmp_path / "nowhere", "does not exist")
    (copy_of_mnist / "train-labels-idx1-ubyte.gz").unlink()
    _expect_clear_error(copy_of_mnist, "train-labels-idx1-ubyte", "missing")


def test_keras_style_npz_and_raw_idx(tmp_path, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    np.savez(npz_dir / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (a, b), (c, d) = load_mnist(npz_dir)
    assert np.array_equal(c, x_test) and np.array_equal(b, y_train)
