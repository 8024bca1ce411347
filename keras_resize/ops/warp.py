"""Saliency-guided zoom warps and their exact inverses (LZ, FOVEA, LZU).

A zoom warp resamples an image more densely where a saliency map is high
(Recasens et al., "Learning to Zoom", ECCV 2018; Thavamani et al., FOVEA,
ICCV 2021). LZU (Thavamani et al., CVPR 2023) approximates the warp by a
piecewise bilinear map on a coarse grid so that it can be inverted exactly:
features computed on the zoomed image are resampled back ("unzoomed") into
the original frame. This module holds the ops (functions on tensors):

- saliency sources: `uniform_saliency`, `kde_saliency` (FOVEA's KDE over
  boxes; `learned_kde_parameter` for a learned KDE), `jitter_boxes`,
  `dataset_saliency`;
- saliency -> warp: `coarse_grid` (the attraction kernel, separable or not),
  `upsample_grid`, `saliency_to_grid`;
- resampling: `zoom` (image -> zoomed image) and `unzoom` (zoomed feature
  map -> original frame);
- inverses: `invert_separable_grid`, `invert_nonseparable_grid`;
- geometry: `warp_boxes` / `unwarp_boxes`, `warp_keypoints` /
  `unwarp_keypoints`, `warp_masks` / `unwarp_masks`;
- `fixed_warp`: float64 numpy grids computed once, for fixed warps.

Every op is written with matmuls, comparisons, gathers and arithmetic (no
`tf.searchsorted`, no loops over elements), so it compiles under XLA and
converts to TFLite with builtin ops only; image resampling goes through the
package's one sampler (`keras_resize.ops.sampling`).

Convention: a warp maps the zoomed image onto the original image. Its
**coarse grid** has shape `(batch, grid_height, grid_width, 2)` and holds,
for node `(i, j)`, the `(x, y)` position in the original image that the
zoomed-image point at `(j / (grid_width - 1), i / (grid_height - 1))` of
the zoomed image's extent comes from. Both positions are **extent
coordinates**: -1 and +1 are the outer borders of the image (the left edge
of the first pixel and the right edge of the last), so that pixel
coordinates (pixel `i` centred at `i + 0.5`, the package's `"pixel"`
convention) are `(g + 1) / 2 * size`. This is PyTorch's
`align_corners=False`; it differs from the sampler's `"normalized"`
(align-corners) convention, and `grid_to_coordinates` converts to either of
the sampler's conventions. Extent coordinates make a warp independent of
resolution: the same grid applies to the image, to every level of a
feature pyramid and to box coordinates, and the identity warp (uniform
saliency) is exactly the half-pixel bilinear resize of `tf.image.resize`
and `keras_resize.ops.resize`. The piecewise-bilinear warp between the
nodes (LZU's approximation) is the warp: dense grids, inverses and box
transforms all use it, so a forward warp followed by its inverse is the
identity up to rounding. A batch of 1 is a grid shared by every image.
"""

import functools
import math
import numbers

import numpy as np
import tensorflow as tf

from keras_resize.ops import kernels
from keras_resize.ops.sampling import (
    _fusable,
    from_index_space,
    resample_separable,
    sample,
    sample_separable,
    to_index_space,
)
from keras_resize.ops.validation import (
    as_image_batch,
    check_choice,
    check_size,
    static_or_dynamic_shape,
)

GRID_SHAPE = (31, 51)
"""Default coarse grid `(grid_height, grid_width)`: FOVEA's 31 x 51."""

DEFAULT_FWHM = 10.0
"""Default full width at half maximum of the attraction Gaussian, in grid
nodes (LZU's value; Recasens used 13 and FOVEA 4)."""

PADDINGS = ("reflect", "replicate")
BOX_FORMATS = ("xyxy", "yxyx")
INTERPOLATIONS = ("bilinear", "nearest")

UNCOVERED = -3.0
"""Extent coordinate that inverse grids hold where no tile of the warp covers
a pixel; `unzoom` samples zeros there."""

_LOG2 = math.log(2.0)


# ---------------------------------------------------------------------------
# argument checks


def check_grid_shape(grid_shape, name="grid_shape"):
    """Return `grid_shape` as `(grid_height, grid_width)`, both >= 2."""
    height, width = check_size(grid_shape, name)
    if height < 2 or width < 2:
        raise ValueError(
            f"Expected `{name}` to be at least (2, 2): a warp needs two nodes "
            f"per axis. Received: {name}={tuple(grid_shape)!r}"
        )
    return height, width


def check_fwhm(fwhm):
    """Return `fwhm` as a float if it is a positive finite number."""
    if (
        isinstance(fwhm, bool)
        or not isinstance(fwhm, numbers.Real)
        or not math.isfinite(float(fwhm))
        or float(fwhm) <= 0
    ):
        raise ValueError(
            f"Expected `fwhm` to be a positive number. Received: fwhm={fwhm!r}"
        )
    return float(fwhm)


def check_output_fits_grid(output_size, grid_shape):
    """Raise if the output has fewer pixels than the grid has nodes on an axis.

    The zoom evaluates the piecewise-bilinear warp at the output pixels;
    an output smaller than the coarse grid cannot represent the grid (it
    would alias the warp, and the warp's magnification could not be
    resolved). This is the check used by `Zoom`; the ops themselves accept
    any output size.
    """
    height, width = check_size(output_size, "output_size")
    grid_height, grid_width = check_grid_shape(grid_shape)
    if height < grid_height or width < grid_width:
        raise ValueError(
            "Expected the output to have at least as many pixels as the "
            f"coarse grid has nodes on each axis ({grid_height} x {grid_width}); "
            "use a smaller `grid_shape` for small outputs. Received: "
            f"output_size={(height, width)}"
        )
    return height, width


def _check_valid_region(valid_size, padded_size):
    """`(valid_fraction_y, valid_fraction_x)` of a padded zoomed image."""
    if valid_size is None and padded_size is None:
        return None
    if valid_size is None or padded_size is None:
        raise ValueError(
            "Expected `valid_size` and `padded_size` to be given together. "
            f"Received: valid_size={valid_size!r}, padded_size={padded_size!r}"
        )
    valid = check_size(valid_size, "valid_size")
    padded = check_size(padded_size, "padded_size")
    if valid[0] > padded[0] or valid[1] > padded[1]:
        raise ValueError(
            "Expected `valid_size` to fit inside `padded_size`: the valid "
            "region cannot be larger than the padded zoomed image. Received: "
            f"valid_size={valid}, padded_size={padded}"
        )
    return valid[0] / padded[0], valid[1] / padded[1]


def _float_dtype(dtype):
    return tf.float64 if tf.as_dtype(dtype) == tf.float64 else tf.float32


def as_saliency(saliency):
    """Check a saliency map and return it as a `(batch, gh, gw)` float tensor.

    Rank-2 input `(grid_height, grid_width)` gets a batch axis of 1 (a
    shared warp). Values must be non-negative with a positive sum per map;
    this is checked whenever the values are known (eager tensors, numpy
    arrays, constants). float64 input stays float64, anything else becomes
    float32.
    """
    if not tf.is_tensor(saliency):
        saliency = np.asarray(saliency)
        if saliency.dtype.kind not in "fiub":
            raise ValueError(
                "Expected `saliency` to be a numeric array. Received: "
                f"saliency.dtype={saliency.dtype}"
            )
    saliency = tf.convert_to_tensor(saliency)
    saliency = tf.cast(saliency, _float_dtype(saliency.dtype))
    if saliency.shape.rank == 2:
        saliency = tf.expand_dims(saliency, 0)
    if saliency.shape.rank != 3:
        raise ValueError(
            "Expected `saliency` of shape (grid_height, grid_width) or (batch, "
            f"grid_height, grid_width). Received: saliency.shape={saliency.shape}"
        )
    grid_shape = tuple(saliency.shape[1:])
    if None in grid_shape:
        raise ValueError(
            "Expected the grid shape of `saliency` to be static. Received: "
            f"saliency.shape={saliency.shape}"
        )
    check_grid_shape(grid_shape, "saliency grid shape")
    value = tf.get_static_value(saliency)
    if value is not None:
        value = np.asarray(value)
        if not np.all(np.isfinite(value)):
            raise ValueError("Expected `saliency` to be finite. Received NaN or inf.")
        if value.size and value.min() < 0:
            raise ValueError(
                "Expected `saliency` to be non-negative. Received: "
                f"min(saliency)={value.min()!r}"
            )
        if value.size and np.any(value.reshape(value.shape[0], -1).sum(-1) <= 0):
            raise ValueError(
                "Expected every saliency map to have a positive sum. Received "
                "a map of zeros."
            )
    return saliency


def as_grid(grid, name="grid"):
    """Return a coarse grid as a `(batch, gh, gw, 2)` float tensor."""
    grid = tf.convert_to_tensor(grid)
    grid = tf.cast(grid, _float_dtype(grid.dtype))
    if grid.shape.rank == 3:
        grid = tf.expand_dims(grid, 0)
    if grid.shape.rank != 4 or grid.shape[-1] != 2:
        raise ValueError(
            f"Expected `{name}` of shape (batch, grid_height, grid_width, 2) "
            f"holding (x, y) pairs. Received: {name}.shape={grid.shape}"
        )
    if grid.shape[1] is None or grid.shape[2] is None:
        raise ValueError(
            f"Expected the grid shape of `{name}` to be static. Received: "
            f"{name}.shape={grid.shape}"
        )
    check_grid_shape(tuple(grid.shape[1:3]), f"{name} grid shape")
    return grid


# ---------------------------------------------------------------------------
# saliency sources


def uniform_saliency(grid_shape=GRID_SHAPE, dtype="float32"):
    """A flat saliency map (the identity warp), `(grid_height, grid_width)`.

    Example:

    >>> uniform_saliency((2, 4)).numpy()
    array([[0.125, 0.125, 0.125, 0.125],
           [0.125, 0.125, 0.125, 0.125]], dtype=float32)

    Convention: one value per coarse-grid node, summing to 1.
    """
    height, width = check_grid_shape(grid_shape)
    return tf.fill([height, width], tf.cast(1.0 / (height * width), dtype))


def _box_columns(boxes, box_format):
    """`(x1, y1, x2, y2)` of `(..., 4)` boxes in `box_format`."""
    check_choice("box_format", box_format, BOX_FORMATS)
    a, b, c, d = tf.unstack(boxes, axis=-1)
    if box_format == "xyxy":
        return a, b, c, d
    return b, a, d, c


def _from_box_columns(x1, y1, x2, y2, box_format):
    if box_format == "xyxy":
        return tf.stack([x1, y1, x2, y2], axis=-1)
    return tf.stack([y1, x1, y2, x2], axis=-1)


def _as_boxes(boxes, box_format, name="boxes"):
    """Boxes as a float tensor `(..., 4)`; `x2 < x1` or `y2 < y1` raise when
    the values are known."""
    check_choice("box_format", box_format, BOX_FORMATS)
    boxes = tf.convert_to_tensor(boxes)
    boxes = tf.cast(boxes, _float_dtype(boxes.dtype))
    if boxes.shape.rank is None or boxes.shape.rank < 1 or boxes.shape[-1] != 4:
        raise ValueError(
            f"Expected `{name}` of shape (..., 4). Received: {name}.shape={boxes.shape}"
        )
    value = tf.get_static_value(boxes)
    if value is not None:
        value = np.asarray(value).reshape(-1, 4)
        if box_format == "yxyx":
            value = value[:, [1, 0, 3, 2]]
        bad = (value[:, 2] < value[:, 0]) | (value[:, 3] < value[:, 1])
        if np.any(bad):
            first = value[np.argmax(bad)].tolist()
            raise ValueError(
                "Expected boxes with x2 >= x1 and y2 >= y1 (format "
                f"{box_format!r}, (x1, y1, x2, y2) = {first}). Received: "
                f"{name} with {int(bad.sum())} inverted box(es)"
            )
    return boxes


def _kde_sum(boxes, valid, image_size, grid_shape, amplitude, bandwidth, box_format):
    """Unnormalised FOVEA KDE `sum_b valid_b * g_b`, `(batch, gh, gw)`."""
    grid_height, grid_width = grid_shape
    height, width = image_size
    dtype = boxes.dtype
    x1, y1, x2, y2 = _box_columns(boxes, box_format)  # (batch, n)
    cx, cy = (x1 + x2) * 0.5, (y1 + y2) * 0.5
    # variance = bandwidth * side (not squared), as in FOVEA; a tiny floor
    # keeps zero-size boxes finite
    tiny = tf.constant(1e-6, dtype)
    var_x = tf.maximum(tf.cast(bandwidth, dtype) * (x2 - x1), tiny)
    var_y = tf.maximum(tf.cast(bandwidth, dtype) * (y2 - y1), tiny)
    nodes_x = tf.constant(np.linspace(0.0, width, grid_width), dtype)
    nodes_y = tf.constant(np.linspace(0.0, height, grid_height), dtype)
    expand = tf.expand_dims
    dx = tf.square(nodes_x - expand(cx, -1)) / expand(var_x, -1)  # (b, n, gw)
    dy = tf.square(nodes_y - expand(cy, -1)) / expand(var_y, -1)  # (b, n, gh)
    g = tf.exp(-0.5 * (expand(dy, -1) + expand(dx, -2)))  # (b, n, gh, gw)
    total = tf.reduce_sum(g, axis=[-2, -1], keepdims=True)
    pad = min(grid_height, grid_width) - 1
    g = tf.cast(amplitude, dtype) * g / (1e-5 + total) + 1.0 / (2 * pad + 1) ** 2
    g = g * expand(expand(tf.cast(valid, dtype), -1), -1)
    return tf.reduce_sum(g, axis=1)


def kde_saliency(
    boxes,
    image_size,
    grid_shape=GRID_SHAPE,
    amplitude=1.0,
    bandwidth=64.0,
    valid=None,
    box_format="xyxy",
):
    """FOVEA's kernel density estimate of saliency from boxes.

    For every box `b` with centre `(cx, cy)` and size `(w, h)`, on the grid
    nodes `X = linspace(0, W, gw)`, `Y = linspace(0, H, gh)`:

    ```
    g_b = exp(-0.5 * ((X - cx)^2 / (bandwidth * w) + (Y - cy)^2 / (bandwidth * h)))
    g_b = amplitude * g_b / (1e-5 + sum g_b) + 1 / (2P + 1)^2,  P = min(gh, gw) - 1
    S = sum_b g_b;  S /= sum S        (no valid box: uniform)
    ```

    The variance is `bandwidth * side`, not squared, as in FOVEA's release.
    `amplitude` and `bandwidth` may be tensors (a learned KDE); the result
    is differentiable with respect to them and to the boxes.

    Args:
        boxes: `(batch, max_boxes, 4)` (or `(max_boxes, 4)`) boxes in pixel
            coordinates of an image of `image_size`.
        image_size: `(height, width)` of the image the boxes live in.
        grid_shape: `(grid_height, grid_width)`, both >= 2.
        amplitude: weight of each box's normalised Gaussian (FOVEA: 1).
        bandwidth: variance scale `s_bw` (FOVEA: 64).
        valid: optional `(batch, max_boxes)` mask of real boxes (padding
            rows are False); default all boxes.
        box_format: `"xyxy"` (`(x1, y1, x2, y2)`) or `"yxyx"` (keras-hub).

    Returns:
        `(batch, grid_height, grid_width)` saliency maps summing to 1.

    Example:

    >>> boxes = np.array([[[10.0, 20.0, 30.0, 60.0]]])
    >>> s = kde_saliency(boxes, (100, 200), grid_shape=(5, 9))
    >>> s.shape, round(float(tf.reduce_sum(s)), 6)
    (TensorShape([1, 5, 9]), 1.0)

    Convention: boxes in the package's pixel convention (the image spans
    `[0, W] x [0, H]`); node `(i, j)` sits at pixel `(j W / (gw - 1),
    i H / (gh - 1))`, the extent convention of the module docstring.
    """
    grid_shape = check_grid_shape(grid_shape)
    image_size = check_size(image_size, "image_size")
    boxes = _as_boxes(boxes, box_format)
    if boxes.shape.rank == 2:
        boxes = tf.expand_dims(boxes, 0)
    if boxes.shape.rank != 3:
        raise ValueError(
            "Expected `boxes` of shape (batch, max_boxes, 4) or (max_boxes, 4). "
            f"Received: boxes.shape={boxes.shape}"
        )
    if valid is None:
        valid = tf.ones(tf.shape(boxes)[:2], boxes.dtype)
    else:
        valid = tf.convert_to_tensor(valid)
        if valid.shape.rank == 1:
            valid = tf.expand_dims(valid, 0)
        valid = tf.cast(valid, boxes.dtype)
    s = _kde_sum(boxes, valid, image_size, grid_shape, amplitude, bandwidth, box_format)
    total = tf.reduce_sum(s, axis=[1, 2], keepdims=True)
    uniform = tf.ones_like(s) / float(grid_shape[0] * grid_shape[1])
    has_boxes = total > 0
    safe_total = tf.where(has_boxes, total, tf.ones_like(total))
    return tf.where(has_boxes, s / safe_total, uniform)


def learned_kde_parameter(raw, initial):
    """A trainable KDE amplitude or bandwidth: `|1 + raw| * initial + 0.1`.

    LZU's learned KDE parameterises amplitude and bandwidth this way, so
    `raw = 0` starts at (about) the hand-set value and the result stays
    positive. Pass the results to `kde_saliency`.

    Example:

    >>> round(float(learned_kde_parameter(tf.constant(0.0), 64.0)), 4)
    64.1

    Convention: our reading of the released code (documented in
    ALGORITHMS.md); the `+ 0.1` keeps the value away from zero.
    """
    raw = tf.convert_to_tensor(raw)
    return tf.abs(1.0 + raw) * tf.cast(initial, raw.dtype) + 0.1


def jitter_boxes(boxes, max_shift, seed, box_format="xyxy"):
    """Translate every box by a uniform random shift in `[-J, +J]` pixels.

    Simulates object motion when training an adaptive saliency on ground
    truth (LZU). The shift is uniform with zero mean, per box and axis (one
    public implementation draws a Gaussian with a mean shift here, a bug);
    both corners move together, so sizes are kept.

    Args:
        boxes: `(..., 4)` boxes.
        max_shift: `J`, a number (both axes) or a pair `(J_x, J_y)`, >= 0.
        seed: an int or a shape-`(2,)` int tensor (stateless randomness:
            the same seed gives the same shifts).
        box_format: `"xyxy"` or `"yxyx"`.

    Returns:
        The shifted boxes, same shape and format.

    Example:

    >>> boxes = tf.constant([[10.0, 10.0, 20.0, 30.0]])
    >>> shifted = jitter_boxes(boxes, 2.0, seed=0)
    >>> bool(tf.reduce_all(tf.abs(shifted - boxes) <= 2.0))
    True

    Convention: pixel coordinates; box sizes are unchanged.
    """
    boxes = _as_boxes(boxes, box_format)
    if isinstance(max_shift, (list, tuple)):
        if len(max_shift) != 2:
            raise ValueError(
                "Expected `max_shift` to be a number or a pair (x, y). "
                f"Received: max_shift={max_shift!r}"
            )
        shift_x, shift_y = max_shift
    else:
        shift_x = shift_y = max_shift
    for value in (shift_x, shift_y):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not value >= 0
        ):
            raise ValueError(
                "Expected `max_shift` to be non-negative. Received: "
                f"max_shift={max_shift!r}"
            )
    if isinstance(seed, numbers.Integral):
        seed = tf.constant([int(seed), 0], tf.int64)
    shape = tf.concat([tf.shape(boxes)[:-1], [2]], axis=0)
    unit = tf.random.stateless_uniform(shape, seed, -1.0, 1.0, dtype=boxes.dtype)
    shift = unit * tf.constant([shift_x, shift_y], boxes.dtype)
    sx, sy = tf.unstack(shift, axis=-1)
    x1, y1, x2, y2 = _box_columns(boxes, box_format)
    return _from_box_columns(x1 + sx, y1 + sy, x2 + sx, y2 + sy, box_format)


def dataset_saliency(
    all_boxes,
    image_size,
    grid_shape=GRID_SHAPE,
    amplitude=1.0,
    bandwidth=64.0,
    box_format="xyxy",
    chunk_size=4096,
):
    """A fixed saliency prior: the KDE over every training box, in numpy.

    All boxes of the training set, pooled as if they were in one image,
    through `kde_saliency` (computed once, in float64, in chunks). Boxes of
    zero width or height (e.g. the `-1` padding rows of `pad_boxes`) are
    dropped.

    Args:
        all_boxes: a `(num_boxes, 4)` array or a list of `(k_i, 4)` arrays
            (one per image), all in pixels of images of `image_size`.
        image_size: `(height, width)` of the training images.
        grid_shape, amplitude, bandwidth, box_format: see `kde_saliency`.
        chunk_size: boxes per chunk (bounds the memory).

    Returns:
        A float64 numpy array `(grid_height, grid_width)` summing to 1
        (uniform when there is no box).

    Example:

    >>> prior = dataset_saliency([np.array([[0.0, 0.0, 50.0, 50.0]])], (100, 100), (4, 4))
    >>> prior.shape, prior.dtype, bool(np.isclose(prior.sum(), 1.0))
    ((4, 4), dtype('float64'), True)

    Convention: see `kde_saliency`.
    """
    grid_shape = check_grid_shape(grid_shape)
    image_size = check_size(image_size, "image_size")
    check_choice("box_format", box_format, BOX_FORMATS)
    if isinstance(all_boxes, (list, tuple)):
        parts = [np.asarray(b, np.float64).reshape(-1, 4) for b in all_boxes]
        boxes = np.concatenate(parts, axis=0) if parts else np.zeros((0, 4))
    else:
        boxes = np.asarray(all_boxes, np.float64).reshape(-1, 4)
    columns = boxes if box_format == "xyxy" else boxes[:, [1, 0, 3, 2]]
    bad = (columns[:, 2] < columns[:, 0]) | (columns[:, 3] < columns[:, 1])
    # the -1 padding rows of pad_boxes are not boxes: drop them first
    padding = np.all(boxes == -1.0, axis=1)
    if np.any(bad & ~padding):
        raise ValueError(
            "Expected boxes with x2 >= x1 and y2 >= y1. Received "
            f"{int((bad & ~padding).sum())} inverted box(es) in `all_boxes`"
        )
    keep = (columns[:, 2] > columns[:, 0]) & (columns[:, 3] > columns[:, 1])
    boxes = boxes[keep]
    total = np.zeros(grid_shape, np.float64)
    with tf.init_scope():
        for start in range(0, len(boxes), chunk_size):
            chunk = tf.constant(boxes[None, start : start + chunk_size])
            valid = tf.ones(tf.shape(chunk)[:2], tf.float64)
            total += _kde_sum(
                chunk, valid, image_size, grid_shape, amplitude, bandwidth, box_format
            ).numpy()[0]
    if total.sum() <= 0:
        return np.full(grid_shape, 1.0 / (grid_shape[0] * grid_shape[1]))
    return total / total.sum()


# ---------------------------------------------------------------------------
# saliency -> coarse grid (Recasens attraction kernel)


@functools.lru_cache(maxsize=128)
def _attraction_matrices(size, pad, fwhm, padding):
    """Padding and the valid 1-D convolution with the Gaussian, as matrices.

    For a saliency profile `s` of length `size`, `s @ offset` and
    `s @ weight` are `conv1d_valid(pad(s) * (Px - Px[j]), k)` and
    `conv1d_valid(pad(s), k)` of the attraction kernel, where `Px[t] = (t -
    P) / (size - 1)` are the (padded) node positions. Folding the padding
    into the matrices keeps it exact: with REFLECT the offsets of the two
    mirrored taps of an end node cancel exactly, so the end nodes land
    exactly on the image borders (anti-crop).
    """
    d = np.arange(-pad, pad + 1)
    kernel = np.exp(-4.0 * _LOG2 * d.astype(np.float64) ** 2 / fwhm**2)
    j = np.arange(size)
    position = j[None, :] + d[:, None]  # unpadded index of each tap
    if padding == "reflect":  # tf.pad "REFLECT": the edge is not repeated
        source = np.abs(position)
        source = np.where(source > size - 1, 2 * (size - 1) - source, source)
    else:  # replicate the edge value
        source = np.clip(position, 0, size - 1)
    columns = np.broadcast_to(j[None, :], source.shape)
    weight = np.zeros((size, size))
    offset = np.zeros((size, size))
    np.add.at(weight, (source, columns), np.broadcast_to(kernel[:, None], source.shape))
    np.add.at(
        offset,
        (source, columns),
        np.broadcast_to((kernel * d / (size - 1))[:, None], source.shape),
    )
    return offset, weight


def _attract(profile_numerator, profile_denominator, base):
    """`base + num / den`, the identity position where `den == 0`."""
    positive = profile_denominator > 0
    safe = tf.where(positive, profile_denominator, tf.ones_like(profile_denominator))
    shift = tf.where(positive, profile_numerator / safe, tf.zeros_like(safe))
    return tf.clip_by_value(2.0 * (base + shift) - 1.0, -1.0, 1.0)


def coarse_grid(saliency, fwhm=DEFAULT_FWHM, padding="reflect", separable=True):
    """The attraction-kernel warp of a saliency map, on its coarse grid.

    Recasens et al.'s sampler, with FOVEA's separable and anti-crop
    variants. With `P = min(gh, gw) - 1` and the Gaussian `k(t) = exp(-4 ln2
    t^2 / fwhm^2)` of length `2P + 1` (in nodes):

    ```
    Sx = sum_rows(S); Sy = sum_cols(S)                    # separable
    Px[t] = (t - P) / (gw - 1),  t in [0, gw + 2P)
    xg = conv1d_valid(Px * pad(Sx, P), k) / conv1d_valid(pad(Sx, P), k)
    x = clip(2 xg - 1, -1, 1)          (same for y; grid[i, j] = (x[j], y[i]))
    ```

    The nonseparable warp uses the 2-D Gaussian `k(s) k(t)` and 2-D
    padding. `padding="reflect"` (tf.pad `REFLECT`, not `SYMMETRIC`) is
    FOVEA's anti-crop: the end nodes land exactly on -1 / +1 and nothing is
    cropped; `"replicate"` repeats the edge saliency and may crop. Uniform
    saliency gives the identity warp. The result is differentiable with
    respect to `saliency`; the kernel (padding folded in) is a pair of
    constant matrices, so the op is a few small matmuls.

    Args:
        saliency: `(batch, gh, gw)` or `(gh, gw)`, non-negative, not all
            zero (any positive scale; it need not sum to 1).
        fwhm: full width at half maximum of the Gaussian, in grid nodes.
        padding: `"reflect"` (anti-crop) or `"replicate"`.
        separable: marginalise the saliency per axis (keeps boxes
            axis-aligned; FOVEA's and LZU's default).

    Returns:
        `(batch, gh, gw, 2)` coarse grid of `(x, y)` extent coordinates.

    Example:

    >>> grid = coarse_grid(uniform_saliency((3, 5)))
    >>> grid[0, 0, :, 0].numpy()
    array([-1. , -0.5,  0. ,  0.5,  1. ], dtype=float32)

    Convention: extent coordinates (see the module docstring); a node's
    saliency regions closer than a few `fwhm` attract it.
    """
    fwhm = check_fwhm(fwhm)
    check_choice("padding", padding, PADDINGS)
    saliency = as_saliency(saliency)
    dtype = saliency.dtype
    grid_height, grid_width = saliency.shape[1], saliency.shape[2]
    pad = min(grid_height, grid_width) - 1
    offset_x, weight_x = (
        tf.constant(m, dtype)
        for m in _attraction_matrices(grid_width, pad, fwhm, padding)
    )
    offset_y, weight_y = (
        tf.constant(m, dtype)
        for m in _attraction_matrices(grid_height, pad, fwhm, padding)
    )
    base_x = tf.constant(np.arange(grid_width) / (grid_width - 1), dtype)
    base_y = tf.constant(np.arange(grid_height) / (grid_height - 1), dtype)
    if separable:
        sx = tf.reduce_sum(saliency, axis=1)  # (b, gw)
        sy = tf.reduce_sum(saliency, axis=2)  # (b, gh)
        x = _attract(tf.matmul(sx, offset_x), tf.matmul(sx, weight_x), base_x)
        y = _attract(tf.matmul(sy, offset_y), tf.matmul(sy, weight_y), base_y)
        batch = static_or_dynamic_shape(saliency)[0]
        shape = [batch, grid_height, grid_width]
        x = tf.broadcast_to(tf.expand_dims(x, 1), shape)
        y = tf.broadcast_to(tf.expand_dims(y, 2), shape)
        return tf.stack([x, y], axis=-1)
    # 2-D: num_x = Wy^T S Ox, num_y = Oy^T S Wx, den = Wy^T S Wx
    s_weight_x = tf.matmul(saliency, weight_x)
    den = tf.matmul(weight_y, s_weight_x, transpose_a=True)
    num_x = tf.matmul(weight_y, tf.matmul(saliency, offset_x), transpose_a=True)
    num_y = tf.matmul(offset_y, s_weight_x, transpose_a=True)
    x = _attract(num_x, den, base_x)
    y = _attract(num_y, den, tf.expand_dims(base_y, -1))
    return tf.stack([x, y], axis=-1)


def _axis_upsample_taps(grid_size, out_size, dtype):
    """Linear taps evaluating node values at the centres of `out_size` pixels
    (node `j` at extent fraction `j / (grid_size - 1)`)."""
    o = tf.range(out_size, dtype=dtype)
    c = (o + 0.5) * (grid_size - 1) / out_size
    return kernels.linear_taps(c, grid_size, "border")


def upsample_grid(grid, output_size):
    """Evaluate the piecewise-bilinear warp at the pixel centres of the output.

    Output pixel `(r, c)` sits at extent fraction `((c + 0.5) / W, (r +
    0.5) / H)` of the zoomed image; its value is the bilinear interpolation
    of the coarse grid there (nodes span the image extent, so the nodes sit
    at the corners of the outermost pixels, not at their centres).

    Args:
        grid: `(batch, gh, gw, 2)` coarse grid.
        output_size: `(height, width)` of the zoomed image.

    Returns:
        `(batch, height, width, 2)` dense grid of extent coordinates.

    Example:

    >>> dense = upsample_grid(coarse_grid(uniform_saliency((3, 3))), (2, 4))
    >>> dense[0, 0, :, 0].numpy()
    array([-0.75, -0.25,  0.25,  0.75], dtype=float32)

    Convention: extent coordinates (see the module docstring).
    """
    grid = as_grid(grid)
    height, width = check_size(output_size, "output_size")
    rows = _axis_upsample_taps(grid.shape[1], height, grid.dtype)
    columns = _axis_upsample_taps(grid.shape[2], width, grid.dtype)
    return resample_separable(grid, rows, columns)


def _upsample_axis(nodes, out_size):
    """`(batch, g)` node values -> `(batch, out_size)` at the pixel centres."""
    grid_size = nodes.shape[-1]
    taps = _axis_upsample_taps(grid_size, out_size, nodes.dtype)
    batch = static_or_dynamic_shape(nodes)[0]
    line = tf.reshape(nodes, [batch, 1, grid_size, 1])
    return tf.reshape(resample_separable(line, None, taps), [batch, out_size])


def separable_axes(grid):
    """The 1-D maps `(x (batch, gw), y (batch, gh))` of a separable grid.

    Reads the first row's x and the first column's y (LZU's convention for
    separable grids).
    """
    grid = as_grid(grid)
    return grid[:, 0, :, 0], grid[:, :, 0, 1]


def saliency_to_grid(
    saliency, output_size, fwhm=DEFAULT_FWHM, padding="reflect", separable=True
):
    """The dense sampling grid of the zoom for a saliency map.

    `coarse_grid` (the attraction kernel), then `upsample_grid` to the
    output size. Sample an image through it with
    `sample(images, grid_to_coordinates(grid, image_size), convention="pixel")`
    (or `convention="normalized"` for both), or, faster, with `zoom`.

    Args:
        saliency: `(batch, gh, gw)` or `(gh, gw)` non-negative saliency.
        output_size: `(height, width)` of the zoomed image.
        fwhm, padding, separable: see `coarse_grid`.

    Returns:
        `(batch, height, width, 2)` `(x, y)` extent coordinates into the
        original image.

    Example:

    >>> images = np.random.default_rng(0).random((1, 32, 48, 3)).astype("float32")
    >>> grid = saliency_to_grid(uniform_saliency((5, 7)), (8, 12))
    >>> coordinates = grid_to_coordinates(grid, (32, 48), "normalized")
    >>> zoomed = keras_resize.ops.sample(images, coordinates, convention="normalized")
    >>> bool(np.allclose(zoomed, keras_resize.ops.resize(images, (8, 12)), atol=1e-5))
    True

    Convention: extent coordinates (see the module docstring); uniform
    saliency gives the half-pixel bilinear resize.
    """
    grid = coarse_grid(saliency, fwhm=fwhm, padding=padding, separable=separable)
    return upsample_grid(grid, output_size)


def grid_to_coordinates(grid, image_size, convention="pixel"):
    """Extent coordinates -> the sampler's `"pixel"` or `"normalized"` ones.

    Args:
        grid: `(..., 2)` `(x, y)` extent coordinates.
        image_size: `(height, width)` of the image to be sampled (ints or
            scalar tensors).
        convention: `"pixel"` (pixel `i` centred at `i + 0.5`) or
            `"normalized"` (align-corners, first/last pixel centre at -1/+1).

    Returns:
        Coordinates for `keras_resize.ops.sample(..., convention=convention)`.

    Example:

    >>> grid_to_coordinates(tf.constant([[-1.0, 1.0]]), (4, 8)).numpy()
    array([[0., 4.]], dtype=float32)
    """
    check_choice("convention", convention, ("pixel", "normalized"))
    grid = tf.convert_to_tensor(grid)
    height, width = image_size
    x, y = tf.unstack(grid, axis=-1)
    x = _extent_to(x, width, convention)
    y = _extent_to(y, height, convention)
    return tf.stack([x, y], axis=-1)


def _extent_to(coordinates, size, convention):
    pixels = (coordinates + 1.0) * 0.5 * tf.cast(size, coordinates.dtype)
    if convention == "pixel":
        return pixels
    return from_index_space(to_index_space(pixels, size, "pixel"), size, "normalized")


def _pixels_to_extent(pixels, size):
    return pixels / tf.cast(size, pixels.dtype) * 2.0 - 1.0


# ---------------------------------------------------------------------------
# zoom (forward resampling)


def zoom(
    images,
    grid,
    output_size,
    separable=True,
    interpolation="bilinear",
):
    """Resample images through a warp: the zoomed image.

    Separable warps take the fast path of the sampler (two 1-D passes, the
    same cost as a resize); nonseparable warps the 2-D sampler. Coordinates
    are clamped to the image (border padding), as a resize does.

    Args:
        images: `(batch, height, width, channels)` or rank 3.
        grid: `(batch, gh, gw, 2)` coarse grid (a batch of 1 is shared).
        output_size: `(height, width)` of the zoomed image.
        separable: read the grid as separable (`separable_axes`).
        interpolation: `"bilinear"` or `"nearest"` (masks).

    Returns:
        `(batch, out_height, out_width, channels)` (rank 3 for rank-3 input).

    Example:

    >>> images = np.random.default_rng(0).random((2, 40, 60, 3)).astype("float32")
    >>> grid = coarse_grid(uniform_saliency((4, 6)))
    >>> zoomed = zoom(images, grid, (10, 15))
    >>> bool(np.allclose(zoomed, keras_resize.ops.resize(images, (10, 15)), atol=1e-5))
    True

    Convention: extent coordinates for the grid (see the module
    docstring); uniform saliency equals `keras_resize.ops.resize`.
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    height, width = check_size(output_size, "output_size")
    images, squeeze = as_image_batch(images)
    grid = as_grid(grid)
    shape = static_or_dynamic_shape(images)
    if separable:
        x_nodes, y_nodes = separable_axes(grid)
        x = _extent_to(_upsample_axis(x_nodes, width), shape[2], "pixel")
        y = _extent_to(_upsample_axis(y_nodes, height), shape[1], "pixel")
        if grid.shape[0] == 1:
            x, y = x[0], y[0]
        out = sample_separable(images, x, y, interpolation, "border", "pixel")
    else:
        dense = upsample_grid(grid, (height, width))
        coordinates = grid_to_coordinates(dense, (shape[1], shape[2]))
        out = sample(images, coordinates, interpolation, "border", "pixel")
    return out[0] if squeeze else out


# ---------------------------------------------------------------------------
# inverses


def _segment_index(nodes, queries, axis_size):
    """Index of the segment `[nodes[k], nodes[k+1]]` holding each query.

    `nodes (..., g)` non-decreasing along the last axis, `queries (..., q)`
    with the same leading dims: counts nodes `<= query` (a vectorised
    searchsorted that XLA and TFLite builtins handle), clamped to `[0,
    g - 2]`, so queries outside extrapolate the end segments.
    """
    below = tf.cast(
        tf.expand_dims(nodes, -2) <= tf.expand_dims(queries, -1), tf.int32
    )  # (..., q, g)
    return tf.clip_by_value(tf.reduce_sum(below, axis=-1) - 1, 0, axis_size - 2)


def _safe_divide(numerator, denominator):
    nonzero = tf.not_equal(denominator, 0)
    safe = tf.where(nonzero, denominator, tf.ones_like(denominator))
    return tf.where(nonzero, numerator / safe, tf.zeros_like(numerator)), nonzero


def _invert_axis(nodes, queries):
    """Invert a monotone piecewise-linear 1-D map at `queries`.

    `nodes (b, g)`: extent coordinates in the original frame of the zoomed
    nodes `k / (g - 1)`. `queries (b, q)` (or `(1, q)`, broadcast): extent
    coordinates in the original frame. Returns the zoomed-frame extent
    coordinates `(b, q)` and a mask of the queries the warp covers.
    """
    grid_size = nodes.shape[-1]
    batch = static_or_dynamic_shape(nodes)[0]
    queries = tf.broadcast_to(queries, [batch, static_or_dynamic_shape(queries)[1]])
    segment = _segment_index(nodes, queries, grid_size)
    low = tf.gather(nodes, segment, axis=1, batch_dims=1)
    high = tf.gather(nodes, segment + 1, axis=1, batch_dims=1)
    fraction, _ = _safe_divide(queries - low, high - low)
    u = (tf.cast(segment, nodes.dtype) + fraction) / (grid_size - 1)
    covered = (queries >= nodes[:, :1]) & (queries <= nodes[:, -1:])
    return 2.0 * u - 1.0, covered


def _target_queries(size, fraction, dtype):
    """Extent coordinates (original frame) of the centres of `size` target
    pixels whose map covers a padded frame with valid `fraction`."""
    o = tf.range(tf.cast(size, dtype), dtype=dtype)
    return ((o + 0.5) / tf.cast(size, dtype) / fraction) * 2.0 - 1.0


def _to_padded_frame(u, fraction):
    """Zoomed valid-region extent coordinates -> padded-frame coordinates."""
    return ((u + 1.0) * 0.5 * fraction) * 2.0 - 1.0


def _separable_inverse_axes(x_nodes, y_nodes, height, width, fraction_y, fraction_x):
    outputs = []
    for nodes, size, fraction in (
        (x_nodes, width, fraction_x),
        (y_nodes, height, fraction_y),
    ):
        queries = tf.expand_dims(_target_queries(size, fraction, nodes.dtype), 0)
        u, covered = _invert_axis(nodes, queries)
        u = _to_padded_frame(u, fraction)
        outputs.append(tf.where(covered, u, UNCOVERED * tf.ones_like(u)))
    return tuple(outputs)


def _separable_inverse_dense(x_nodes, y_nodes, height, width, fraction_y, fraction_x):
    x, y = _separable_inverse_axes(
        x_nodes, y_nodes, height, width, fraction_y, fraction_x
    )
    shape = [static_or_dynamic_shape(x)[0], height, width]
    x = tf.broadcast_to(tf.expand_dims(x, 1), shape)
    y = tf.broadcast_to(tf.expand_dims(y, 2), shape)
    # a pixel is covered when both of its coordinates are
    covered = (x > UNCOVERED + 1.0) & (y > UNCOVERED + 1.0)
    uncovered = UNCOVERED * tf.ones_like(x)
    return tf.stack(
        [tf.where(covered, x, uncovered), tf.where(covered, y, uncovered)], -1
    )


# one XLA cluster each when the sampler's fusion is on (see
# `keras_resize.ops.set_xla_fusion`): ~4x faster than separate TF kernels
_separable_inverse_axes_fused = _fusable(_separable_inverse_axes)
_separable_inverse_dense_fused = _fusable(_separable_inverse_dense)


def _separable_inverse_arguments(grid, output_size, valid_size, padded_size, dtype):
    grid = as_grid(grid)
    if dtype is not None:
        grid = tf.cast(grid, dtype)
    height, width = check_size(output_size, "output_size")
    fraction = _check_valid_region(valid_size, padded_size) or (1.0, 1.0)
    x_nodes, y_nodes = separable_axes(grid)
    return x_nodes, y_nodes, height, width, fraction[0], fraction[1]


def invert_separable_axes(
    grid, output_size, valid_size=None, padded_size=None, dtype=None
):
    """The inverse of a separable warp as two 1-D maps.

    The same as `invert_separable_grid`, before the two maps are broadcast
    to a dense grid (the form `resample_inverse` and `unzoom` use).

    Returns:
        `(x, y)`: `(batch, width)` and `(batch, height)` extent coordinates
        into the zoomed map, `UNCOVERED` where the warp covers nothing.

    Example:

    >>> x, y = invert_separable_axes(coarse_grid(uniform_saliency((3, 4))), (2, 4))
    >>> x.numpy()
    array([[-0.75, -0.25,  0.25,  0.75]], dtype=float32)

    Convention: extent coordinates (see the module docstring).
    """
    arguments = _separable_inverse_arguments(
        grid, output_size, valid_size, padded_size, dtype
    )
    return _separable_inverse_axes_fused(*arguments)


def invert_separable_grid(grid, output_size, valid_size=None, padded_size=None):
    """The inverse of a separable warp, sampled on an output grid.

    A separable warp is a product of two monotone piecewise-linear 1-D
    maps, so its inverse is too (LZU, eq. 7): for each target pixel centre
    `g` (in the original frame), find the segment `x_k <= g < x_{k+1}` of
    the coarse nodes (a vectorised count, no loops) and interpolate the node
    index, `u = (k + (g - x_k) / (x_{k+1} - x_k)) / (gw - 1)`. Exact for the
    piecewise-linear warp (round trip ~1e-14 px in float64).

    Args:
        grid: `(batch, gh, gw, 2)` coarse grid of a separable warp.
        output_size: `(height, width)` of the unzoomed map (any size: a
            level of a feature pyramid, the original image, ...).
        valid_size, padded_size: if the zoomed image was padded (e.g. to a
            multiple of 32) from `valid_size` to `padded_size` pixels, both
            the zoomed map and the output map are padded frames: the inverse
            maps the valid region onto the valid region, and the padding of
            the output is uncovered. (Inverting against the padded size
            instead stretches features by up to the padding ratio, a bug of
            a public implementation.)

    Returns:
        `(batch, height, width, 2)` extent coordinates into the zoomed map;
        `UNCOVERED` where the warp covers no zoomed pixel (e.g. crop).

    Example:

    >>> grid = coarse_grid(uniform_saliency((3, 4)))
    >>> inverse = invert_separable_grid(grid, (2, 4))
    >>> inverse[0, 0, :, 0].numpy()
    array([-0.75, -0.25,  0.25,  0.75], dtype=float32)

    Convention: extent coordinates (see the module docstring).
    """
    arguments = _separable_inverse_arguments(
        grid, output_size, valid_size, padded_size, None
    )
    return _separable_inverse_dense_fused(*arguments)


def _cross(a, b):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _polyline_values(along, across, queries, grid_size):
    """Evaluate each row (or column) polyline of the grid at query positions.

    `along (b, n, g)` are the polylines' coordinates along which they are
    monotone, `across (b, n, g)` the other coordinate, `queries (b, q)`.
    Returns `(b, n, q)`: the `across` value of polyline `i` at each query,
    extrapolating the end segments.
    """
    n = along.shape[1]
    batch = static_or_dynamic_shape(along)[0]
    q = static_or_dynamic_shape(queries)[1]
    queries = tf.broadcast_to(tf.expand_dims(queries, 1), [batch, n, q])
    segment = _segment_index(along, queries, grid_size)  # (b, n, q)
    a0 = tf.gather(along, segment, axis=2, batch_dims=2)
    a1 = tf.gather(along, segment + 1, axis=2, batch_dims=2)
    c0 = tf.gather(across, segment, axis=2, batch_dims=2)
    c1 = tf.gather(across, segment + 1, axis=2, batch_dims=2)
    t, _ = _safe_divide(queries - a0, a1 - a0)
    return c0 + t * (c1 - c0)


def _solve_tile(v00, v01, v10, v11, point, tolerance):
    """Invert the bilinear map `P(l, m) = v00 + l vb + m vc + l m vd` at
    `point`, with `vb = v10 - v00`, `vc = v01 - v00`, `vd = v00 - v10 - v01 +
    v11` (LZU, Appendix A). Returns `(l, m, inside)`.

    `A m^2 + B m + C = 0` with `A = vc x vd`, `B = vc x vb + Ma x vd`,
    `C = Ma x vb`, `Ma = v00 - point`. When `|A|` is negligible the root is
    `m = -C / B` (the public reference has `+C / B`, which leaves most
    pixels of parallelogram tiles unfilled); otherwise the stable quadratic
    `q = -(B + sign(B) sqrt(D)) / 2`, `m1 = q / A`, `m2 = C / q`. Then `l =
    -(Ma + m vc)_k / (vb + m vd)_k` on the better-conditioned component `k`
    (the y component in the reference). The root with `(l, m)` in the unit
    square (within `tolerance`) wins.
    """
    vb = v10 - v00
    vc = v01 - v00
    vd = v00 - v10 - v01 + v11
    ma = v00 - point
    a = _cross(vc, vd)
    b = _cross(vc, vb) + _cross(ma, vd)
    c = _cross(ma, vb)
    dtype = a.dtype
    eps = 1e-12 if dtype == tf.float64 else 1e-6
    linear = tf.abs(a) <= eps * tf.abs(b)
    m_linear, _ = _safe_divide(-c, b)
    discriminant = tf.maximum(tf.square(b) - 4.0 * a * c, 0.0)
    root = tf.sqrt(discriminant + tf.constant(1e-30, dtype))
    sign_b = tf.where(b >= 0, tf.ones_like(b), -tf.ones_like(b))
    q = -0.5 * (b + sign_b * root)
    m1, ok1 = _safe_divide(q, a)
    m2, ok2 = _safe_divide(c, q)
    big = tf.constant(1e9, dtype)
    m1 = tf.where(ok1 & ~linear, m1, big)
    m2 = tf.where(ok2 & ~linear, m2, big)
    candidates = []
    for m in (m_linear, m1, m2):
        numerator = ma + tf.expand_dims(m, -1) * vc
        denominator = vb + tf.expand_dims(m, -1) * vd
        use_x = tf.abs(denominator[..., 0]) > tf.abs(denominator[..., 1])
        num = tf.where(use_x, numerator[..., 0], numerator[..., 1])
        den = tf.where(use_x, denominator[..., 0], denominator[..., 1])
        l_value, ok = _safe_divide(-num, den)
        l_value = tf.where(ok, l_value, big)
        outside = tf.maximum(
            tf.maximum(tf.maximum(-m, m - 1.0), tf.maximum(-l_value, l_value - 1.0)),
            0.0,
        )
        candidates.append((l_value, m, outside))
    l_lin, m_lin, out_lin = candidates[0]
    l1, m1, out1 = candidates[1]
    l2, m2, out2 = candidates[2]
    # quadratic: prefer m2 (the root that tends to -C/B), else m1
    take_m2 = out2 <= out1
    l_quad = tf.where(take_m2, l2, l1)
    m_quad = tf.where(take_m2, m2, m1)
    out_quad = tf.where(take_m2, out2, out1)
    l_value = tf.where(linear, l_lin, l_quad)
    m = tf.where(linear, m_lin, m_quad)
    outside = tf.where(linear, out_lin, out_quad)
    inside = outside <= tolerance
    return (
        tf.clip_by_value(l_value, 0.0, 1.0),
        tf.clip_by_value(m, 0.0, 1.0),
        inside,
    )


def _tile_tolerance(dtype):
    return 1e-9 if dtype == tf.float64 else 1e-4


def _invert_tiles(grid, qx, qy, rectilinear):
    """Inverse of a nonseparable warp at query points.

    The tile holding a point is found exactly by counting the row
    polylines above it and the column polylines left of it (tile edges are
    straight; rows are x-monotone and columns y-monotone for the
    attraction warp), then the bilinear map of that tile is inverted.

    `rectilinear`: `qx (b, W)` and `qy (b, H)` span a grid of `(b, H, W)`
    points (dense inverses: the polylines are evaluated once per target
    column / row). Otherwise `qx`, `qy` are `(b, Q)` point pairs.
    Returns zoomed-frame extent coordinates `(u, v)` and a coverage mask.
    """
    grid_height, grid_width = grid.shape[1], grid.shape[2]
    gx, gy = grid[..., 0], grid[..., 1]
    # rows of nodes: monotone in x; columns of nodes: monotone in y
    row_y = _polyline_values(gx, gy, qx, grid_width)  # (b, gh, Qx)
    col_x = _polyline_values(
        tf.transpose(gy, [0, 2, 1]), tf.transpose(gx, [0, 2, 1]), qy, grid_height
    )  # (b, gw, Qy)
    if rectilinear:
        # (b, H, W, gh): is row polyline i above pixel (r, c)?
        above = tf.expand_dims(tf.transpose(row_y, [0, 2, 1]), 1) <= tf.expand_dims(
            tf.expand_dims(qy, -1), -1
        )
        left = tf.expand_dims(tf.transpose(col_x, [0, 2, 1]), 2) <= tf.expand_dims(
            tf.expand_dims(qx, 1), -1
        )
        px = tf.broadcast_to(tf.expand_dims(qx, 1), tf.shape(left)[:3])
        py = tf.broadcast_to(tf.expand_dims(qy, 2), tf.shape(left)[:3])
    else:
        above = tf.transpose(row_y, [0, 2, 1]) <= tf.expand_dims(qy, -1)  # (b, Q, gh)
        left = tf.transpose(col_x, [0, 2, 1]) <= tf.expand_dims(qx, -1)  # (b, Q, gw)
        px, py = qx, qy
    row = tf.clip_by_value(
        tf.reduce_sum(tf.cast(above, tf.int32), -1) - 1, 0, grid_height - 2
    )
    col = tf.clip_by_value(
        tf.reduce_sum(tf.cast(left, tf.int32), -1) - 1, 0, grid_width - 2
    )
    batch = static_or_dynamic_shape(grid)[0]
    flat = tf.reshape(grid, [batch, grid_height * grid_width, 2])
    index = row * grid_width + col
    index_shape = static_or_dynamic_shape(index)
    flat_index = tf.reshape(index, [batch, -1])

    def corner(offset):
        values = tf.gather(flat, flat_index + offset, axis=1, batch_dims=1)
        return tf.reshape(values, index_shape + [2])

    point = tf.stack([px, py], axis=-1)
    l_value, m, inside = _solve_tile(
        corner(0),
        corner(1),
        corner(grid_width),
        corner(grid_width + 1),
        point,
        _tile_tolerance(grid.dtype),
    )
    u = (tf.cast(col, grid.dtype) + m) / (grid_width - 1) * 2.0 - 1.0
    v = (tf.cast(row, grid.dtype) + l_value) / (grid_height - 1) * 2.0 - 1.0
    return u, v, inside


def invert_nonseparable_grid(
    grid, output_size, valid_size=None, padded_size=None, dtype=None
):
    """The inverse of a (nonseparable) warp, sampled on an output grid.

    LZU's piecewise-bilinear inverse (Appendix A.2), vectorised: the warp is
    the tiling of bilinear maps between the coarse nodes; each output pixel
    centre is located in its tile by counting the row polylines above it
    and the column polylines to its left (evaluated once per output row and
    column, so the cost is `O(H W (gh + gw))` comparisons, not `O(H W gh
    gw)`), and the tile's bilinear map is inverted in closed form (linear
    branch `m = -C/B`, stable quadratic, see `_solve_tile`). Pixels covered
    by no tile hold `UNCOVERED` (and sample zeros in `unzoom`).

    Requires every row of nodes to be monotone in x and every column
    monotone in y, which the attraction warp guarantees (each is a 1-D
    attraction of a positive profile) and which any unfolded warp close to
    the identity satisfies.

    Args:
        grid: `(batch, gh, gw, 2)` coarse grid.
        output_size: `(height, width)` of the unzoomed map.
        valid_size, padded_size: see `invert_separable_grid`.
        dtype: compute dtype (default: the grid's; float64 for fixed warps).

    Returns:
        `(batch, height, width, 2)` extent coordinates into the zoomed map.

    Example:

    >>> grid = coarse_grid(uniform_saliency((3, 4)))
    >>> separable = invert_separable_grid(grid, (5, 6))
    >>> general = invert_nonseparable_grid(grid, (5, 6))
    >>> bool(np.allclose(separable, general, atol=1e-6))
    True

    Convention: extent coordinates (see the module docstring).
    """
    grid = as_grid(grid)
    if dtype is not None:
        grid = tf.cast(grid, dtype)
    height, width = check_size(output_size, "output_size")
    fraction = _check_valid_region(valid_size, padded_size) or (1.0, 1.0)
    return _nonseparable_inverse(grid, height, width, fraction[0], fraction[1])


def _nonseparable_inverse(grid, height, width, fraction_y, fraction_x):
    """Dense nonseparable inverse; sizes may be scalar tensors."""
    qx = tf.expand_dims(_target_queries(width, fraction_x, grid.dtype), 0)
    qy = tf.expand_dims(_target_queries(height, fraction_y, grid.dtype), 0)
    batch = static_or_dynamic_shape(grid)[0]
    qx = tf.broadcast_to(qx, [batch, width])
    qy = tf.broadcast_to(qy, [batch, height])
    u, v, inside = _invert_tiles(grid, qx, qy, rectilinear=True)
    u = _to_padded_frame(u, fraction_x)
    v = _to_padded_frame(v, fraction_y)
    uncovered = tf.constant(UNCOVERED, grid.dtype)
    u = tf.where(inside, u, uncovered * tf.ones_like(u))
    v = tf.where(inside, v, uncovered * tf.ones_like(v))
    return tf.stack([u, v], axis=-1)


def inverse_for_resampling(grid, height, width, separable=True, valid_fraction=None):
    """The inverse in the form `resample_inverse` takes, for one map size.

    Like `invert_separable_axes` / `invert_nonseparable_grid`, but `height`
    and `width` may be scalar tensors (maps of unknown size) and the padded
    zoom is given as `valid_fraction = (valid / padded)` per axis.

    Convention: extent coordinates (see the module docstring).
    """
    grid = as_grid(grid)
    fraction_y, fraction_x = valid_fraction or (1.0, 1.0)
    if not separable:
        return _nonseparable_inverse(grid, height, width, fraction_y, fraction_x)
    static = isinstance(height, int) and isinstance(width, int)
    # the fused (XLA) core needs static sizes
    function = _separable_inverse_axes_fused if static else _separable_inverse_axes
    x_nodes, y_nodes = separable_axes(grid)
    return function(x_nodes, y_nodes, height, width, fraction_y, fraction_x)


def invert_grid(grid, output_size, separable=True, valid_size=None, padded_size=None):
    """`invert_separable_grid` or `invert_nonseparable_grid`."""
    if separable:
        return invert_separable_grid(grid, output_size, valid_size, padded_size)
    return invert_nonseparable_grid(grid, output_size, valid_size, padded_size)


# ---------------------------------------------------------------------------
# unzoom (inverse resampling)


def _as_feature_batch(features):
    features = tf.convert_to_tensor(features)
    if features.shape.rank == 3:
        return tf.expand_dims(features, 0), True
    if features.shape.rank != 4:
        raise ValueError(
            "Expected `features` of rank 3 or 4 (batch, height, width, "
            f"channels). Received: features.shape={features.shape}"
        )
    if not features.dtype.is_floating:
        features = tf.cast(features, tf.float32)
    return features, False


def resample_inverse(features, inverse, interpolation="bilinear", valid_fraction=None):
    """Sample a zoomed map through a precomputed inverse.

    Args:
        features: `(batch, h, w, channels)` zoomed map (or rank 3).
        inverse: a dense `(batch, H, W, 2)` inverse grid or the separable
            pair `(x (batch, W), y (batch, H))` (a batch of 1 is shared), in
            extent coordinates of the (padded) zoomed map; `UNCOVERED`
            entries give zeros.
        interpolation: `"bilinear"` or `"nearest"`.
        valid_fraction: `(fy, fx)`, the part of the map that is valid (a
            padded zoom); reads are clamped to it, so padding never leaks in.
            Default: the whole map (border clamping).

    Returns:
        `(batch, H, W, channels)`.

    Convention: extent coordinates (see the module docstring).
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    features, squeeze = _as_feature_batch(features)
    shape = static_or_dynamic_shape(features)
    dtype = features.dtype
    position_dtype = tf.float64 if dtype == tf.float64 else tf.float32
    threshold = UNCOVERED + 1.0
    fraction_y, fraction_x = valid_fraction or (1.0, 1.0)

    def pixels(coordinates, size, fraction):
        # extent -> pixel coordinates, clamped to the valid pixel centres
        size = tf.cast(size, position_dtype)
        high = tf.maximum(fraction * size - 0.5, 0.5)
        return tf.clip_by_value(_extent_to(coordinates, size, "pixel"), 0.5, high)

    if isinstance(inverse, (tuple, list)):
        x, y = (tf.cast(v, position_dtype) for v in inverse)
        x_covered = tf.cast(x > threshold, dtype)
        y_covered = tf.cast(y > threshold, dtype)
        x_pixels = pixels(x, shape[2], fraction_x)
        y_pixels = pixels(y, shape[1], fraction_y)
        if x.shape[0] == 1 and y.shape[0] == 1:  # shared by the batch
            x_pixels, y_pixels = x_pixels[0], y_pixels[0]
            mask = tf.expand_dims(y_covered[0], -1) * tf.expand_dims(x_covered[0], 0)
            mask = tf.expand_dims(tf.expand_dims(mask, 0), -1)
        else:
            mask = tf.expand_dims(y_covered, -1) * tf.expand_dims(x_covered, 1)
            mask = tf.expand_dims(mask, -1)
        out = sample_separable(
            features, x_pixels, y_pixels, interpolation, "border", "pixel"
        )
    else:
        inverse = tf.cast(inverse, position_dtype)
        mask = tf.expand_dims(tf.cast(inverse[..., 0] > threshold, dtype), -1)
        x, y = tf.unstack(inverse, axis=-1)
        coordinates = tf.stack(
            [pixels(x, shape[2], fraction_x), pixels(y, shape[1], fraction_y)], -1
        )
        out = sample(features, coordinates, interpolation, "border", "pixel")
    out = out * mask
    return out[0] if squeeze else out


def unzoom(
    features,
    grid,
    output_size=None,
    separable=True,
    valid_size=None,
    padded_size=None,
    interpolation="bilinear",
):
    """Resample a zoomed feature map back into the original frame (LZU).

    For every output pixel, the inverse warp gives the zoomed-map position
    to read; pixels the warp does not cover are zero.

    Args:
        features: `(batch, h, w, channels)` map computed on the zoomed
            image (any resolution: the warp is resolution-independent).
        grid: `(batch, gh, gw, 2)` coarse grid of the zoom (batch 1 shared).
        output_size: `(height, width)` of the result; default the map's own
            size, known or not (unzoom each pyramid level at its size).
        separable: invert as a separable warp (fast path).
        valid_size, padded_size: see `invert_separable_grid`.
        interpolation: `"bilinear"` or `"nearest"` (masks, labels).

    Returns:
        `(batch, height, width, channels)` in the original frame.

    Example:

    >>> images = np.random.default_rng(0).random((1, 64, 64, 1)).astype("float32")
    >>> s = np.ones((5, 5)); s[2, 2] = 30.0
    >>> grid = coarse_grid(s)
    >>> zoomed = zoom(images, grid, (64, 64))
    >>> unzoom(zoomed, grid).shape
    TensorShape([1, 64, 64, 1])

    Convention: extent coordinates for the grid (see the module docstring).
    """
    features, squeeze = _as_feature_batch(features)
    grid = as_grid(grid)
    shape = static_or_dynamic_shape(features)
    if output_size is None:
        height, width = shape[1], shape[2]
    else:
        height, width = check_size(output_size, "output_size")
    valid_fraction = _check_valid_region(valid_size, padded_size)
    inverse = inverse_for_resampling(grid, height, width, separable, valid_fraction)
    out = resample_inverse(features, inverse, interpolation, valid_fraction)
    return out[0] if squeeze else out


# ---------------------------------------------------------------------------
# points, boxes, masks


def _forward_points(points, grid):
    """Evaluate the warp at zoomed-frame extent points `(b, ..., 2)`."""
    batch = static_or_dynamic_shape(points)[0]
    grid_shape = static_or_dynamic_shape(grid)
    grid = tf.broadcast_to(grid, [batch] + grid_shape[1:])
    flat = tf.reshape(points, [batch, 1, -1, 2])
    # the coarse grid is an image whose node j sits at extent 2j/(gw-1) - 1,
    # i.e. at the sampler's "normalized" (align-corners) coordinate of the
    # same value: sampling it bilinearly evaluates the piecewise-bilinear warp
    values = sample(grid, flat, "bilinear", "border", "normalized")
    return tf.reshape(values, tf.shape(points))


def _inverse_points(points, grid, separable):
    """Evaluate the inverse warp at original-frame extent points `(b, ..., 2)`.

    Points outside the covered region are projected onto it."""
    batch = static_or_dynamic_shape(points)[0]
    grid_shape = static_or_dynamic_shape(grid)
    grid = tf.broadcast_to(grid, [batch] + grid_shape[1:])
    flat = tf.reshape(points, [batch, -1, 2])
    qx, qy = flat[..., 0], flat[..., 1]
    if separable:
        x_nodes, y_nodes = separable_axes(grid)
        qx = tf.clip_by_value(qx, x_nodes[:, :1], x_nodes[:, -1:])
        qy = tf.clip_by_value(qy, y_nodes[:, :1], y_nodes[:, -1:])
        u, _ = _invert_axis(x_nodes, qx)
        v, _ = _invert_axis(y_nodes, qy)
    else:
        u, v, _ = _invert_tiles(grid, qx, qy, rectilinear=False)
    return tf.reshape(tf.stack([u, v], axis=-1), tf.shape(points))


def _points_in(points, image_size):
    """Pixel points `(..., 2)` -> extent coordinates."""
    height, width = image_size
    x, y = tf.unstack(points, axis=-1)
    return tf.stack([_pixels_to_extent(x, width), _pixels_to_extent(y, height)], -1)


def _points_out(extent, image_size):
    height, width = image_size
    x, y = tf.unstack(extent, axis=-1)
    return tf.stack([_extent_to(x, width, "pixel"), _extent_to(y, height, "pixel")], -1)


def _as_points(points, name="keypoints"):
    points = tf.convert_to_tensor(points)
    points = tf.cast(points, _float_dtype(points.dtype))
    if points.shape.rank is None or points.shape.rank < 2 or points.shape[-1] != 2:
        raise ValueError(
            f"Expected `{name}` of shape (batch, ..., 2) holding (x, y) pairs. "
            f"Received: {name}.shape={points.shape}"
        )
    return points


def _map_points(points, grid, from_size, to_size, direction, separable):
    grid = as_grid(grid)
    from_size = check_size(from_size, "from_size")
    to_size = check_size(to_size, "to_size")
    squeeze = points.shape.rank == 2
    if squeeze:
        points = tf.expand_dims(points, 0)
    extent = _points_in(tf.cast(points, grid.dtype), from_size)
    if direction == "forward":
        mapped = _forward_points(extent, grid)
    else:
        mapped = _inverse_points(extent, grid, separable)
    out = tf.cast(_points_out(mapped, to_size), points.dtype)
    return out[0] if squeeze else out


def unwarp_keypoints(keypoints, grid, zoomed_size, original_size):
    """Zoomed-image keypoints -> original-image keypoints (forward warp).

    Args:
        keypoints: `(batch, n, 2)` (or `(n, 2)` with a shared grid) `(x, y)`
            pixel coordinates in the zoomed image.
        grid: `(batch, gh, gw, 2)` coarse grid of the zoom.
        zoomed_size: `(height, width)` of the zoomed image.
        original_size: `(height, width)` of the original image.

    Returns:
        Keypoints in original-image pixels, same shape.

    Example:

    >>> grid = coarse_grid(uniform_saliency((3, 3)))
    >>> unwarp_keypoints(tf.constant([[5.0, 2.0]]), grid, (10, 10), (20, 40)).numpy().round(4)
    array([[20.,  4.]], dtype=float32)

    Convention: pixel coordinates (pixel `i` centred at `i + 0.5`).
    """
    keypoints = _as_points(keypoints)
    return _map_points(keypoints, grid, zoomed_size, original_size, "forward", True)


def warp_keypoints(keypoints, grid, original_size, zoomed_size, separable=True):
    """Original-image keypoints -> zoomed-image keypoints (inverse warp).

    Args:
        keypoints: `(batch, n, 2)` (or `(n, 2)`) pixel `(x, y)` in the
            original image.
        grid: coarse grid of the zoom.
        original_size: `(height, width)` of the original image.
        zoomed_size: `(height, width)` of the zoomed image.
        separable: invert as a separable warp.

    Returns:
        Keypoints in zoomed-image pixels; points outside the region the warp
        covers are projected onto its border.

    Example:

    >>> grid = coarse_grid(uniform_saliency((3, 3)))
    >>> warp_keypoints(tf.constant([[20.0, 4.0]]), grid, (20, 40), (10, 10)).numpy().round(4)
    array([[5., 2.]], dtype=float32)

    Convention: pixel coordinates (pixel `i` centred at `i + 0.5`).
    """
    keypoints = _as_points(keypoints)
    return _map_points(
        keypoints, grid, original_size, zoomed_size, "inverse", separable
    )


def _box_corners(boxes, box_format):
    x1, y1, x2, y2 = _box_columns(boxes, box_format)
    xs = tf.stack([x1, x2, x1, x2], axis=-1)
    ys = tf.stack([y1, y1, y2, y2], axis=-1)
    return tf.stack([xs, ys], axis=-1)  # (..., 4, 2)


def _boxes_from_corners(corners, box_format):
    low = tf.reduce_min(corners, axis=-2)
    high = tf.reduce_max(corners, axis=-2)
    return _from_box_columns(
        low[..., 0], low[..., 1], high[..., 0], high[..., 1], box_format
    )


def _map_boxes(
    boxes, grid, from_size, to_size, direction, separable, box_format, valid
):
    boxes = _as_boxes(boxes, box_format)
    if boxes.shape.rank not in (2, 3):
        raise ValueError(
            "Expected `boxes` of shape (batch, n, 4) or (n, 4). Received: "
            f"boxes.shape={boxes.shape}"
        )
    corners = _box_corners(boxes, box_format)  # (..., n, 4, 2)
    squeeze = boxes.shape.rank == 2
    if squeeze:
        corners = tf.expand_dims(corners, 0)
    grid = as_grid(grid)
    from_size = check_size(from_size, "from_size")
    to_size = check_size(to_size, "to_size")
    extent = _points_in(tf.cast(corners, grid.dtype), from_size)
    if direction == "forward":
        mapped = _forward_points(extent, grid)
    else:
        mapped = _inverse_points(extent, grid, separable)
    mapped = tf.cast(_points_out(mapped, to_size), boxes.dtype)
    out = _boxes_from_corners(mapped, box_format)
    if squeeze:
        out = out[0]
    if valid is not None:
        valid = tf.expand_dims(tf.cast(valid, tf.bool), -1)
        out = tf.where(valid, out, boxes)
    return out


def unwarp_boxes(
    boxes, grid, zoomed_size, original_size, box_format="xyxy", valid=None
):
    """Zoomed-image boxes -> original-image boxes (FOVEA's detection trick).

    The four corners are mapped through the forward warp (bilinear in the
    coarse grid, clamped to it); the result is their enclosing box (for a
    separable warp exactly the image of the box). Differentiable with
    respect to the boxes and the grid.

    Args:
        boxes: `(batch, n, 4)` (or `(n, 4)` with a shared grid), pixels of
            the zoomed image.
        grid: `(batch, gh, gw, 2)` coarse grid of the zoom.
        zoomed_size: `(height, width)` of the zoomed image.
        original_size: `(height, width)` of the original image.
        box_format: `"xyxy"` or `"yxyx"` (keras-hub).
        valid: optional `(batch, n)` mask; rows where it is False (padding)
            are returned unchanged.

    Returns:
        Boxes in original-image pixels, same shape and format.

    Example:

    >>> grid = coarse_grid(uniform_saliency((3, 3)))
    >>> unwarp_boxes(tf.constant([[1.0, 2.0, 5.0, 10.0]]), grid, (10, 10), (20, 40)).numpy().round(4)
    array([[ 4.,  4., 20., 20.]], dtype=float32)

    Convention: pixel coordinates (the image spans `[0, W] x [0, H]`).
    """
    return _map_boxes(
        boxes, grid, zoomed_size, original_size, "forward", True, box_format, valid
    )


def warp_boxes(
    boxes,
    grid,
    original_size,
    zoomed_size,
    separable=True,
    box_format="xyxy",
    valid=None,
):
    """Original-image boxes -> zoomed-image boxes (the exact inverse warp).

    FOVEA cannot do this (it only has the forward warp); LZU's inverse
    can. The corners are mapped through the inverse warp; for a separable
    warp the result is exactly the image of the box, for a nonseparable one
    the enclosing box of the mapped corners.

    Args:
        boxes: `(batch, n, 4)` (or `(n, 4)`), pixels of the original image.
        grid: coarse grid of the zoom.
        original_size: `(height, width)` of the original image.
        zoomed_size: `(height, width)` of the zoomed image.
        separable: invert as a separable warp.
        box_format: `"xyxy"` or `"yxyx"`.
        valid: optional `(batch, n)` mask of real boxes (others unchanged).

    Returns:
        Boxes in zoomed-image pixels, same shape and format.

    Example:

    >>> grid = coarse_grid(uniform_saliency((3, 3)))
    >>> warp_boxes(tf.constant([[4.0, 4.0, 20.0, 20.0]]), grid, (20, 40), (10, 10)).numpy().round(4)
    array([[ 1.,  2.,  5., 10.]], dtype=float32)

    Convention: pixel coordinates (the image spans `[0, W] x [0, H]`).
    """
    return _map_boxes(
        boxes, grid, original_size, zoomed_size, "inverse", separable, box_format, valid
    )


def _as_mask_batch(masks):
    masks = tf.convert_to_tensor(masks)
    rank = masks.shape.rank
    if rank not in (3, 4):
        raise ValueError(
            "Expected `masks` of shape (batch, height, width) or (batch, "
            f"height, width, channels). Received: masks.shape={masks.shape}"
        )
    dtype = masks.dtype
    if rank == 3:
        masks = tf.expand_dims(masks, -1)
    work = tf.cast(masks, tf.float64 if dtype == tf.float64 else tf.float32)
    return work, dtype, rank == 3


def _restore_mask(out, dtype, squeeze):
    if squeeze:
        out = out[..., 0]
    if dtype.is_integer or dtype == tf.bool:
        out = tf.cast(tf.round(out), dtype)
    else:
        out = tf.cast(out, dtype)
    return out


def warp_masks(masks, grid, zoomed_size, separable=True):
    """Original-image masks -> zoomed masks (the zoom with nearest sampling).

    Args:
        masks: `(batch, H, W)` or `(batch, H, W, channels)`, any dtype
            (labels stay labels: nearest sampling, no mixing).
        grid: coarse grid of the zoom.
        zoomed_size: `(height, width)` of the zoomed image.
        separable: read the grid as separable.

    Returns:
        Zoomed masks, same rank and dtype.

    Example:

    >>> masks = np.zeros((1, 8, 8), "int32"); masks[:, 2:6, 2:6] = 3
    >>> warp_masks(masks, coarse_grid(uniform_saliency((3, 3))), (4, 4)).numpy()[0]
    array([[0, 0, 0, 0],
           [0, 3, 3, 0],
           [0, 3, 3, 0],
           [0, 0, 0, 0]], dtype=int32)

    Convention: extent coordinates for the grid (module docstring).
    """
    work, dtype, squeeze = _as_mask_batch(masks)
    out = zoom(work, grid, zoomed_size, separable=separable, interpolation="nearest")
    return _restore_mask(out, dtype, squeeze)


def unwarp_masks(
    masks,
    grid,
    original_size,
    separable=True,
    valid_size=None,
    padded_size=None,
):
    """Zoomed masks -> original-image masks (inverse warp, nearest sampling).

    Pixels the warp does not cover get 0.

    Args:
        masks: `(batch, h, w)` or `(batch, h, w, channels)` on the zoomed
            image (or a padded version of it, see `valid_size`).
        grid: coarse grid of the zoom.
        original_size: `(height, width)` of the result.
        separable: invert as a separable warp.
        valid_size, padded_size: see `invert_separable_grid`.

    Returns:
        Masks in the original frame, same rank and dtype.

    Example:

    >>> masks = np.zeros((1, 4, 4), "int32"); masks[:, 1:3, 1:3] = 3
    >>> unwarp_masks(masks, coarse_grid(uniform_saliency((3, 3))), (8, 8)).numpy()[0, 3]
    array([0, 0, 3, 3, 3, 3, 0, 0], dtype=int32)

    Convention: extent coordinates for the grid (module docstring).
    """
    work, dtype, squeeze = _as_mask_batch(masks)
    out = unzoom(
        work,
        grid,
        output_size=original_size,
        separable=separable,
        valid_size=valid_size,
        padded_size=padded_size,
        interpolation="nearest",
    )
    return _restore_mask(out, dtype, squeeze)


# ---------------------------------------------------------------------------
# fixed warps: computed once, float64


def fixed_warp(
    saliency,
    output_size,
    fwhm=DEFAULT_FWHM,
    padding="reflect",
    separable=True,
):
    """Float64 numpy grids of a fixed warp, computed once.

    The same ops as above run eagerly in float64 (no second
    implementation); a layer keeps the results as constants so that only
    the resampling runs per call.

    Args:
        saliency: `(gh, gw)` non-negative saliency (one shared warp).
        output_size: `(height, width)` of the zoomed image.
        fwhm, padding, separable: see `coarse_grid`.

    Returns:
        A dict of float64 arrays: `"grid"` `(1, gh, gw, 2)` (the coarse
        grid), and the dense forward coordinates `"x"` `(width,)` and `"y"`
        `(height,)` (separable) or `"dense"` `(1, height, width, 2)`.

    Example:

    >>> warp = fixed_warp(np.ones((4, 5)), (8, 10))
    >>> warp["grid"].shape, warp["x"].shape, warp["x"].dtype
    ((1, 4, 5, 2), (10,), dtype('float64'))

    Convention: extent coordinates (see the module docstring).
    """
    height, width = check_size(output_size, "output_size")
    saliency = np.asarray(saliency, np.float64)
    if saliency.ndim != 2:
        raise ValueError(
            "Expected a fixed `saliency` of shape (grid_height, grid_width). "
            f"Received: saliency.shape={saliency.shape}"
        )
    with tf.init_scope():
        grid = coarse_grid(
            tf.constant(saliency), fwhm=fwhm, padding=padding, separable=separable
        )
        result = {"grid": grid.numpy()}
        if separable:
            x_nodes, y_nodes = separable_axes(grid)
            result["x"] = _upsample_axis(x_nodes, width).numpy()[0]
            result["y"] = _upsample_axis(y_nodes, height).numpy()[0]
        else:
            result["dense"] = upsample_grid(grid, (height, width)).numpy()
    return result


def fixed_inverse(grid, output_size, separable=True, valid_size=None, padded_size=None):
    """Float64 numpy inverse of a fixed warp at one output size.

    Returns `(x (1, width), y (1, height))` for separable warps (the form
    `resample_inverse` takes) or the dense `(1, height, width, 2)` inverse.

    Example:

    >>> warp = fixed_warp(np.ones((4, 5)), (8, 10))
    >>> x, y = fixed_inverse(warp["grid"], (4, 6))
    >>> x.shape, y.shape, x.dtype
    ((1, 6), (1, 4), dtype('float64'))

    Convention: extent coordinates (see the module docstring).
    """
    with tf.init_scope():
        grid = tf.constant(np.asarray(grid, np.float64))
        if separable:
            x, y = invert_separable_axes(grid, output_size, valid_size, padded_size)
            return x.numpy(), y.numpy()
        return invert_nonseparable_grid(
            grid, output_size, valid_size, padded_size
        ).numpy()
