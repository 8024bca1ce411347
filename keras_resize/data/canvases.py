"""Seeded high-resolution tasks built from real 28x28 digits.

Each builder pastes real MNIST (or Fashion-MNIST) digits, resized to a random
size, onto a large black canvas. Downsizing such a canvas 4-8x with a fixed
filter destroys exactly the detail a learned resizer must keep, which makes
these tasks a cheap, offline, honest benchmark:

- `make_classification_canvases`: one digit plus clutter fragments of other
  digits; the label is the digit's class.
- `make_detection_canvases`: a few digits with tight `yxyx` ink boxes.
- `make_segmentation_canvases`: a few digits with per-pixel class masks.

Builders use numpy only (no TensorFlow), are deterministic per `seed`, and
cache their result as an `.npz` file keyed by a hash of their arguments.
Canvas pixels are 8-bit values divided by 255, so "ink" (`value > 0.5`) is
exactly the set of pixels whose 8-bit value is at least 128.
"""

import functools
import hashlib
import json
import os
import sys
import tempfile
import warnings

import numpy as np

from keras_resize.data.digits import SOURCES, SPLITS, load_digits

INK_THRESHOLD = 0.5
"""Pixels with a value above this are ink (boxes and masks use it)."""

SEGMENTATION_NUM_CLASSES = 11
"""Background (0) plus the 10 digit classes (`label + 1`)."""

_INK_U8 = 128  # value / 255 > 0.5  <=>  value >= 128 for 8-bit values.
_FORMAT_VERSION = 1
_MIN_DIGIT_SIZE = 8
_MAX_PLACEMENT_TRIES = 10
_MAX_IOU = 0.1
_MAX_IOA = 0.25  # Intersection over the smaller box: no small digit inside a big one.
_FRAGMENT_SIZE = (6, 10)
_VERBOSE_THRESHOLD = 2000
_DEFAULT_CACHE = "auto"


# ----------------------------------------------------------------------------
# Argument checks.


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _check_positive_int(name, value, minimum=1):
    if not _is_int(value) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)


def _check_range(name, value, minimum):
    try:
        lo, hi = value
    except (TypeError, ValueError):
        lo = hi = None
    if not (_is_int(lo) and _is_int(hi) and minimum <= lo <= hi):
        raise ValueError(
            f"`{name}` must be a pair of integers (min, max) with "
            f"{minimum} <= min <= max. Received: {name}={value!r}"
        )
    return int(lo), int(hi)


def _check_common(num_images, canvas_size, digit_size, channels, source, split, seed):
    num_images = _check_positive_int("num_images", num_images)
    canvas_size = _check_positive_int("canvas_size", canvas_size)
    digit_size = _check_range("digit_size", digit_size, _MIN_DIGIT_SIZE)
    if canvas_size < digit_size[1]:
        raise ValueError(
            f"`canvas_size` must be at least the largest digit size "
            f"digit_size[1]={digit_size[1]}. Received: canvas_size={canvas_size}"
        )
    if channels not in (1, 3) or not _is_int(channels):
        raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels!r}")
    if source not in SOURCES:
        raise ValueError(
            f"`source` must be one of {SOURCES}. Received: source={source!r}"
        )
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: split={split!r}")
    if not _is_int(seed):
        raise ValueError(f"`seed` must be an integer. Received: seed={seed!r}")
    return num_images, canvas_size, digit_size, int(seed)


# ----------------------------------------------------------------------------
# Numpy image helpers.


@functools.lru_cache(maxsize=4096)
def _resize_matrix(n_in, n_out):
    """Returns the (n_out, n_in) linear map of a 1-D antialiased bilinear resize.

    Half-pixel centres; a triangle filter widened by the downscale factor, so
    shrinking averages (like an area filter) instead of skipping pixels.
    """
    scale = n_in / n_out
    support = max(scale, 1.0)
    centers = (np.arange(n_out) + 0.5) * scale - 0.5
    dist = np.abs(np.arange(n_in)[None, :] - centers[:, None]) / support
    weights = np.maximum(0.0, 1.0 - dist)
    weights /= weights.sum(axis=1, keepdims=True)
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


def _resize_u8(image, out_h, out_w):
    """Resizes a 2-D uint8 image with `_resize_matrix`, returning uint8."""
    h, w = image.shape
    out = (
        _resize_matrix(h, out_h) @ image.astype(np.float32) @ _resize_matrix(w, out_w).T
    )
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _ink_box(image, threshold):
    """Tight `(y0, x0, y1, x1)` box (exclusive ends) of `image >= threshold`."""
    ink = image >= threshold
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _scaled_digit(digit, size):
    """Crops a 28x28 digit to its ink and resizes it so its longer side is `size`.

    Returns the uint8 patch and the scale factor applied.
    """
    y0, x0, y1, x1 = _ink_box(digit, 1)
    crop = digit[y0:y1, x0:x1]
    h, w = crop.shape
    scale = size / max(h, w)
    out_h = min(size, max(1, round(h * scale)))
    out_w = min(size, max(1, round(w * scale)))
    return _resize_u8(crop, out_h, out_w), scale


def _fragment(digit, rng, scale, max_size):
    """A random small crop around an ink pixel of `digit`, resized by `scale`."""
    c = int(rng.integers(_FRAGMENT_SIZE[0], _FRAGMENT_SIZE[1] + 1))
    ys, xs = np.nonzero(digit >= _INK_U8)
    if ys.size == 0:
        ys, xs = np.nonzero(digit)
    k = int(rng.integers(ys.size))
    n = digit.shape[0]
    y0 = min(max(int(ys[k]) - c // 2, 0), n - c)
    x0 = min(max(int(xs[k]) - c // 2, 0), n - c)
    out = min(max_size, max(1, round(c * scale)))
    return _resize_u8(digit[y0 : y0 + c, x0 : x0 + c], out, out)


def _overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _too_close(a, b):
    """Whether boxes overlap with IoU > 0.1 or cover 25% of the smaller one."""
    ih = min(a[2], b[2]) - max(a[0], b[0])
    iw = min(a[3], b[3]) - max(a[1], b[1])
    if ih <= 0 or iw <= 0:
        return False
    inter = ih * iw
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    iou = inter / (area_a + area_b - inter)
    return iou > _MAX_IOU or inter / min(area_a, area_b) > _MAX_IOA


class _Progress:
    """A single stderr line updated in place with `\\r`."""

    def __init__(self, desc, total, enabled):
        self.desc = desc
        self.total = total
        self.enabled = enabled
        self.step = max(1, total // 100)

    def update(self, done):
        if self.enabled and (done % self.step == 0 or done == self.total):
            sys.stderr.write(f"\r{self.desc}: {done}/{self.total}")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ----------------------------------------------------------------------------
# Raw builders: return flat uint8/int arrays, which is also what is cached.


def _build_classification(
    num_images, canvas_size, digit_size, clutter, seed, source, split, progress
):
    digits, digit_labels = load_digits(source, split)
    n_src = digits.shape[0]
    # Separate streams: the digits do not depend on the amount of clutter.
    rng, clutter_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    images = np.zeros((num_images, canvas_size, canvas_size), np.uint8)
    labels = np.empty((num_images,), np.int32)
    for i in range(num_images):
        idx = int(rng.integers(n_src))
        size = int(rng.integers(digit_size[0], digit_size[1] + 1))
        patch, scale = _scaled_digit(digits[idx], size)
        ph, pw = patch.shape
        y = int(rng.integers(canvas_size - ph + 1))
        x = int(rng.integers(canvas_size - pw + 1))
        canvas = images[i]
        canvas[y : y + ph, x : x + pw] = patch
        labels[i] = digit_labels[idx]
        main_box = (y, x, y + ph, x + pw)
        for _ in range(clutter):
            other = int(clutter_rng.integers(n_src - 1))
            other += other >= idx  # Any digit but the labelled one.
            frag = _fragment(digits[other], clutter_rng, scale, canvas_size)
            fs = frag.shape[0]
            for _ in range(_MAX_PLACEMENT_TRIES):
                fy = int(clutter_rng.integers(canvas_size - fs + 1))
                fx = int(clutter_rng.integers(canvas_size - fs + 1))
                if not _overlaps((fy, fx, fy + fs, fx + fs), main_box):
                    view = canvas[fy : fy + fs, fx : fx + fs]
                    np.maximum(view, frag, out=view)
                    break
        progress.update(i + 1)
    return {"images": images, "labels": labels}


def _build_multi(
    num_images,
    canvas_size,
    num_digits,
    digit_size,
    seed,
    source,
    split,
    progress,
    with_masks,
):
    """Shared builder for detection (boxes) and segmentation (masks)."""
    digits, digit_labels = load_digits(source, split)
    n_src = digits.shape[0]
    rng = np.random.default_rng(seed)
    images = np.zeros((num_images, canvas_size, canvas_size), np.uint8)
    masks = np.zeros_like(images) if with_masks else None
    all_boxes, all_labels, counts = [], [], np.zeros((num_images,), np.int64)
    for i in range(num_images):
        canvas = images[i]
        k = int(rng.integers(num_digits[0], num_digits[1] + 1))
        boxes = []
        for _ in range(k):
            for _ in range(100):  # Draw until the resized digit keeps some ink.
                idx = int(rng.integers(n_src))
                size = int(rng.integers(digit_size[0], digit_size[1] + 1))
                patch, _ = _scaled_digit(digits[idx], size)
                ink = _ink_box(patch, _INK_U8)
                if ink is not None:
                    break
            else:
                raise RuntimeError(
                    f"Could not draw a digit with ink at digit_size={digit_size}."
                )
            ph, pw = patch.shape
            for _ in range(_MAX_PLACEMENT_TRIES):
                y = int(rng.integers(canvas_size - ph + 1))
                x = int(rng.integers(canvas_size - pw + 1))
                box = (y + ink[0], x + ink[1], y + ink[2], x + ink[3])
                if not any(_too_close(box, b) for b in boxes):
                    break
            else:
                continue  # No free spot: drop this digit.
            view = canvas[y : y + ph, x : x + pw]
            label = int(digit_labels[idx])
            if with_masks:
                mview = masks[i, y : y + ph, x : x + pw]
                mview[(patch > view) & (patch >= _INK_U8)] = label + 1
            np.maximum(view, patch, out=view)
            boxes.append(box)
            all_labels.append(label)
        all_boxes.extend(boxes)
        counts[i] = len(boxes)
        progress.update(i + 1)
    raw = {
        "images": images,
        "boxes": np.asarray(all_boxes, np.float32).reshape(-1, 4),
        "labels": np.asarray(all_labels, np.int32),
        "counts": counts,
    }
    if with_masks:
        raw["masks"] = masks
    return raw


def _to_float_images(images_u8, channels):
    n, h, w = images_u8.shape
    out = np.empty((n, h, w, channels), np.float32)
    np.divide(images_u8[..., None], np.float32(255.0), out=out, dtype=np.float32)
    return out


def _split_per_image(flat, counts):
    return list(np.split(flat, np.cumsum(counts)[:-1]))


# ----------------------------------------------------------------------------
# On-disk cache.


def default_cache_dir():
    """Returns the default cache folder for built canvases.

    `$KERAS_RESIZE_CACHE` if set (an empty value disables caching), else
    `~/.cache/keras_resize`.

    Returns:
        A path string, or `None` when caching is disabled.
    """
    env = os.environ.get("KERAS_RESIZE_CACHE")
    if env is not None:
        return env or None
    return os.path.join(os.path.expanduser("~"), ".cache", "keras_resize")


def _cache_path(cache_dir, kind, params):
    if cache_dir == _DEFAULT_CACHE:
        cache_dir = default_cache_dir()
    if cache_dir is None:
        return None
    key = json.dumps(
        {"kind": kind, "format": _FORMAT_VERSION, **params}, sort_keys=True
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    n, s = params["num_images"], params["canvas_size"]
    return os.path.join(os.fspath(cache_dir), f"{kind}_{n}x{s}_{digest}.npz")


def _load_cache(path, keys):
    if path is None or not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in keys}
    except Exception as e:  # Corrupt or stale file: rebuild it.
        warnings.warn(f"Ignoring unreadable cache file {path}: {e}", stacklevel=3)
        return None


def _save_cache(path, raw):
    if path is None:
        return
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, **raw)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:
        warnings.warn(f"Could not write cache file {path}: {e}", stacklevel=3)


def _build_or_load(kind, params, keys, builder, cache_dir, verbose, desc):
    path = _cache_path(cache_dir, kind, params)
    raw = _load_cache(path, keys)
    if raw is None:
        n = params["num_images"]
        if verbose is None:
            verbose = n >= _VERBOSE_THRESHOLD
        progress = _Progress(desc, n, bool(verbose))
        try:
            raw = builder(progress)
        finally:
            progress.close()
        _save_cache(path, raw)
    return raw


# ----------------------------------------------------------------------------
# Public builders.


def make_classification_canvases(
    num_images,
    canvas_size=256,
    digit_size=(40, 100),
    clutter=6,
    seed=0,
    source="mnist",
    split="train",
    channels=1,
    cache_dir=_DEFAULT_CACHE,
    verbose=None,
):
    """Builds a seeded high-resolution classification task from real digits.

    Each canvas holds one real digit, cropped to its ink and resized (with an
    antialiased bilinear filter) so its longer side is a random size within
    `digit_size`, at a random position. `clutter` fragments (random 6-10 px
    crops of *other* digits, resized by the same factor so their strokes look
    alike) are scattered where they do not touch the digit (the digits and
    their placement do not depend on `clutter`). Layers are
    combined with a pixelwise max. A 4x bilinear downsize blurs strokes and
    fragments together, so a learned resizer has real information to keep.

    Args:
        num_images: number of canvases, > 0.
        canvas_size: height and width of the square canvases in pixels.
        digit_size: `(min, max)` size in pixels of the digit's longer side,
            inclusive; `min >= 8` and `max <= canvas_size`.
        clutter: number of clutter fragments per canvas, >= 0.
        seed: integer seed; the same arguments give identical arrays.
        source: `"mnist"` or `"fashion_mnist"`.
        split: which split of `source` to draw digits from, `"train"` or
            `"test"` (use different splits for training and evaluation).
        channels: 1 for grey, 3 to repeat the grey channel to RGB.
        cache_dir: folder for the `.npz` cache, keyed by a hash of the
            arguments that define the content. `"auto"` (default) means
            `$KERAS_RESIZE_CACHE` or `~/.cache/keras_resize`; `None`
            disables caching.
        verbose: print a progress line to stderr while building. Defaults to
            `True` for `num_images >= 2000`.

    Returns:
        A dict with `"images"`, float32 `(num_images, canvas_size,
        canvas_size, channels)` with values in `[0, 1]` (multiples of 1/255),
        `"labels"`, int32 `(num_images,)` in `[0, 9]`, and `"num_classes"`,
        10.

    Example:

    >>> data = make_classification_canvases(8, canvas_size=128,
    ...                                     digit_size=(20, 50), cache_dir=None)
    >>> data["images"].shape, data["labels"].dtype
    ((8, 128, 128, 1), dtype('int32'))
    """
    num_images, canvas_size, digit_size, seed = _check_common(
        num_images, canvas_size, digit_size, channels, source, split, seed
    )
    clutter = _check_positive_int("clutter", clutter, minimum=0)
    params = {
        "num_images": num_images,
        "canvas_size": canvas_size,
        "digit_size": list(digit_size),
        "clutter": clutter,
        "seed": seed,
        "source": source,
        "split": split,
    }
    raw = _build_or_load(
        "classification",
        params,
        ("images", "labels"),
        lambda progress: _build_classification(
            num_images,
            canvas_size,
            digit_size,
            clutter,
            seed,
            source,
            split,
            progress,
        ),
        cache_dir,
        verbose,
        "building classification canvases",
    )
    return {
        "images": _to_float_images(raw["images"], channels),
        "labels": raw["labels"].astype(np.int32),
        "num_classes": 10,
    }


def make_detection_canvases(
    num_images,
    canvas_size=256,
    num_digits=(1, 4),
    digit_size=(16, 64),
    seed=0,
    source="mnist",
    split="train",
    channels=1,
    cache_dir=_DEFAULT_CACHE,
    verbose=None,
):
    """Builds a seeded high-resolution detection task from real digits.

    Each canvas holds a random number of real digits within `num_digits`,
    each resized so its longer side is a random size within `digit_size`. A
    digit whose ink box would overlap an earlier one with IoU > 0.1 (or cover
    more than 25% of the smaller box, so no small digit hides inside a big
    one) is moved; after 10 failed tries it is dropped (so a canvas may hold
    fewer digits, but always at least one).

    Boxes are the tight boxes of each digit's ink (pixels > 0.5) in `"yxyx"`
    pixel coordinates (keras-hub's default format) with exclusive ends:
    `(y_min, x_min, y_max, x_max)` where rows `y_min .. y_max - 1` hold ink.

    Args:
        num_images: number of canvases, > 0.
        canvas_size: height and width of the square canvases in pixels.
        num_digits: `(min, max)` number of digits per canvas, inclusive,
            `min >= 1`.
        digit_size: `(min, max)` size in pixels of a digit's longer side,
            inclusive; `min >= 8` and `max <= canvas_size`.
        seed: integer seed; the same arguments give identical arrays.
        source: `"mnist"` or `"fashion_mnist"`.
        split: `"train"` or `"test"`.
        channels: 1 for grey, 3 to repeat the grey channel to RGB.
        cache_dir: `.npz` cache folder; `"auto"` (default) means
            `$KERAS_RESIZE_CACHE` or `~/.cache/keras_resize`; `None`
            disables caching.
        verbose: print a progress line to stderr while building. Defaults to
            `True` for `num_images >= 2000`.

    Returns:
        A dict with `"images"`, float32 `(num_images, canvas_size,
        canvas_size, channels)` in `[0, 1]`; `"boxes"`, a list of float32
        `(k_i, 4)` arrays; `"labels"`, a list of int32 `(k_i,)` arrays in
        `[0, 9]`; and `"num_classes"`, 10. Use `pad_boxes` for the padded
        dense form detectors take.

    Example:

    >>> data = make_detection_canvases(4, cache_dir=None)
    >>> boxes, labels = pad_boxes(data["boxes"], data["labels"], max_boxes=4)
    >>> boxes.shape, labels.shape
    ((4, 4, 4), (4, 4))
    """
    raw = _multi(
        "detection",
        num_images,
        canvas_size,
        num_digits,
        digit_size,
        seed,
        source,
        split,
        channels,
        cache_dir,
        verbose,
    )
    counts = raw["counts"]
    return {
        "images": _to_float_images(raw["images"], channels),
        "boxes": _split_per_image(raw["boxes"].astype(np.float32), counts),
        "labels": _split_per_image(raw["labels"].astype(np.int32), counts),
        "num_classes": 10,
    }


def make_segmentation_canvases(
    num_images,
    canvas_size=128,
    num_digits=(1, 3),
    digit_size=(24, 64),
    seed=0,
    source="mnist",
    split="train",
    channels=1,
    cache_dir=_DEFAULT_CACHE,
    verbose=None,
):
    """Builds a seeded high-resolution semantic segmentation task from digits.

    Digits are drawn and placed as in `make_detection_canvases`. The mask is
    `0` for background and `label + 1` where a digit's ink (value > 0.5) is;
    where digits touch, the brighter one wins, so `mask > 0` exactly where
    the image is above 0.5.

    Args:
        num_images: number of canvases, > 0.
        canvas_size: height and width of the square canvases in pixels.
        num_digits: `(min, max)` number of digits per canvas, inclusive,
            `min >= 1`.
        digit_size: `(min, max)` size in pixels of a digit's longer side,
            inclusive; `min >= 8` and `max <= canvas_size`.
        seed: integer seed; the same arguments give identical arrays.
        source: `"mnist"` or `"fashion_mnist"`.
        split: `"train"` or `"test"`.
        channels: 1 for grey, 3 to repeat the grey channel to RGB.
        cache_dir: `.npz` cache folder; `"auto"` (default) means
            `$KERAS_RESIZE_CACHE` or `~/.cache/keras_resize`; `None`
            disables caching.
        verbose: print a progress line to stderr while building. Defaults to
            `True` for `num_images >= 2000`.

    Returns:
        A dict with `"images"`, float32 `(num_images, canvas_size,
        canvas_size, channels)` in `[0, 1]`; `"masks"`, int32 `(num_images,
        canvas_size, canvas_size)` in `[0, 10]`; and `"num_classes"`, 11.

    Example:

    >>> data = make_segmentation_canvases(4, cache_dir=None)
    >>> data["masks"].shape, data["num_classes"]
    ((4, 128, 128), 11)
    """
    raw = _multi(
        "segmentation",
        num_images,
        canvas_size,
        num_digits,
        digit_size,
        seed,
        source,
        split,
        channels,
        cache_dir,
        verbose,
    )
    return {
        "images": _to_float_images(raw["images"], channels),
        "masks": raw["masks"].astype(np.int32),
        "num_classes": SEGMENTATION_NUM_CLASSES,
    }


def _multi(
    kind,
    num_images,
    canvas_size,
    num_digits,
    digit_size,
    seed,
    source,
    split,
    channels,
    cache_dir,
    verbose,
):
    num_images, canvas_size, digit_size, seed = _check_common(
        num_images, canvas_size, digit_size, channels, source, split, seed
    )
    num_digits = _check_range("num_digits", num_digits, 1)
    params = {
        "num_images": num_images,
        "canvas_size": canvas_size,
        "num_digits": list(num_digits),
        "digit_size": list(digit_size),
        "seed": seed,
        "source": source,
        "split": split,
    }
    with_masks = kind == "segmentation"
    keys = ("images", "boxes", "labels", "counts") + (("masks",) if with_masks else ())
    return _build_or_load(
        kind,
        params,
        keys,
        lambda progress: _build_multi(
            num_images,
            canvas_size,
            num_digits,
            digit_size,
            seed,
            source,
            split,
            progress,
            with_masks,
        ),
        cache_dir,
        verbose,
        f"building {kind} canvases",
    )


# ----------------------------------------------------------------------------
# Helpers for models and tf.data.


def pad_boxes(boxes, labels, max_boxes=None):
    """Pads per-image boxes and labels into the dense arrays detectors take.

    keras-hub detectors take `{"boxes": (N, max_boxes, 4), "labels": (N,
    max_boxes)}` with label `-1` marking padding.

    Args:
        boxes: list of float `(k_i, 4)` arrays, as returned by
            `make_detection_canvases`.
        labels: list of int `(k_i,)` arrays.
        max_boxes: padded length; defaults to the largest `k_i` (at least 1).
            Must be >= every `k_i`.

    Returns:
        A tuple `(boxes, labels)`: float32 `(N, max_boxes, 4)` with padding
        rows set to `-1`, and int32 `(N, max_boxes)` with padding set to `-1`.

    Example:

    >>> b, l = pad_boxes([np.ones((2, 4))], [np.array([3, 5])], max_boxes=3)
    >>> l.tolist()
    [[3, 5, -1]]
    """
    if len(boxes) != len(labels):
        raise ValueError(
            f"`boxes` and `labels` must have the same length. Received: "
            f"len(boxes)={len(boxes)}, len(labels)={len(labels)}"
        )
    counts = [len(b) for b in boxes]
    for b, lab in zip(boxes, labels, strict=True):
        if len(b) != len(lab):
            raise ValueError(
                f"Each image needs as many labels as boxes. Received: "
                f"{len(b)} boxes and {len(lab)} labels."
            )
    largest = max(counts, default=0)
    if max_boxes is None:
        max_boxes = max(1, largest)
    max_boxes = _check_positive_int("max_boxes", max_boxes)
    if largest > max_boxes:
        raise ValueError(
            f"`max_boxes` must be >= the largest number of boxes in an image "
            f"({largest}). Received: max_boxes={max_boxes}"
        )
    out_boxes = np.full((len(boxes), max_boxes, 4), -1.0, np.float32)
    out_labels = np.full((len(boxes), max_boxes), -1, np.int32)
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        out_boxes[i, : len(b)] = np.reshape(b, (-1, 4))
        out_labels[i, : len(lab)] = lab
    return out_boxes, out_labels


def as_dataset(arrays, batch_size=32, shuffle=True, seed=0, max_boxes=None):
    """Wraps a builder's output in a batched, prefetched `tf.data.Dataset`.

    Yields `(images, labels)` for classification, `(images, masks)` for
    segmentation and `(images, {"boxes": ..., "labels": ...})` (padded with
    `pad_boxes`) for detection, which is what keras-hub detectors take.

    Args:
        arrays: a dict returned by one of the `make_*_canvases` builders.
        batch_size: batch size, > 0. The last batch may be smaller.
        shuffle: whether to shuffle (reshuffled every epoch).
        seed: shuffle seed.
        max_boxes: detection only; see `pad_boxes`.

    Returns:
        A `tf.data.Dataset`.

    Example:

    >>> data = make_classification_canvases(16, cache_dir=None)
    >>> ds = as_dataset(data, batch_size=8)
    >>> images, labels = next(iter(ds))
    >>> tuple(images.shape)
    (8, 256, 256, 1)
    """
    from keras_resize.backend import tensorflow

    tf = tensorflow()

    batch_size = _check_positive_int("batch_size", batch_size)
    if not isinstance(arrays, dict) or "images" not in arrays:
        raise ValueError(
            "`arrays` must be a dict returned by a `make_*_canvases` builder, "
            f"with an 'images' key. Received: {type(arrays).__name__}"
        )
    images = arrays["images"]
    if "masks" in arrays:
        targets = arrays["masks"]
    elif "boxes" in arrays:
        boxes, labels = pad_boxes(arrays["boxes"], arrays["labels"], max_boxes)
        targets = {"boxes": boxes, "labels": labels}
    elif "labels" in arrays:
        targets = arrays["labels"]
    else:
        raise ValueError(
            "`arrays` needs a 'labels', 'boxes' or 'masks' key. Received keys: "
            f"{sorted(arrays)}"
        )
    ds = tf.data.Dataset.from_tensor_slices((images, targets))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
