"""Saliency sources: uniform, FOVEA's KDE over boxes, a learned KDE, jitter, the dataset prior.

Convention: boxes in the package's pixel convention (the image spans
`[0, W] x [0, H]`); saliency maps are `(batch, grid_height, grid_width)`
(or `(grid_height, grid_width)`, a shared map) with one value per node of
the coarse grid.
"""

import numbers

import keras
import numpy as np

from keras_resize import backend
from keras_resize.backend import ops
from keras_resize.ops.validation import check_choice, check_same_batch, check_size
from keras_resize.ops.warp.checks import (
    BOX_FORMATS,
    GRID_SHAPE,
    as_boxes,
    box_columns,
    check_grid_shape,
    concrete_value,
    dtype_name,
    from_box_columns,
    maximum,
    rank,
)
from keras_resize.ops.warp.numpy_ops import numpy_ops


def uniform_saliency(grid_shape=GRID_SHAPE, dtype="float32"):
    """A flat saliency map (the identity warp), `(grid_height, grid_width)`.

    Example:

    >>> keras.ops.convert_to_numpy(uniform_saliency((2, 4)))
    array([[0.125, 0.125, 0.125, 0.125],
           [0.125, 0.125, 0.125, 0.125]], dtype=float32)

    Raises:
        ValueError: for a grid shape below `(2, 2)` or a dtype that is not
            a float dtype (an integer saliency would be all zeros).

    Convention: one value per coarse-grid node, summing to 1.
    """
    height, width = check_grid_shape(grid_shape)
    try:
        standard = keras.backend.standardize_dtype(dtype)
    except (TypeError, ValueError):
        standard = None
    if standard is None or not keras.backend.is_float_dtype(standard):
        raise ValueError(
            f"Expected `dtype` to be a float dtype. Received: dtype={dtype!r}"
        )
    return ops.full((height, width), 1.0 / (height * width), dtype=standard)


def _check_kde_parameter(name, value, positive):
    """Check a static (or concrete) KDE amplitude / bandwidth.

    Python numbers and concrete tensors must be finite and non-negative
    (`positive`: > 0); traced tensors are left to the graph-mode policy.
    """
    if isinstance(value, bool):
        raise ValueError(
            f"Expected `{name}` to be a number. Received: {name}={value!r}"
        )
    known = concrete_value(value)
    if known is None:
        return
    try:
        known = np.asarray(known, np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected `{name}` to be a number. Received: {name}={value!r}"
        ) from None
    bad = ~np.isfinite(known) | (known <= 0 if positive else known < 0)
    if np.any(bad):
        which = "positive" if positive else "non-negative"
        shown = value if isinstance(value, numbers.Real) else known.tolist()
        raise ValueError(
            f"Expected `{name}` to be a finite {which} number. Received: "
            f"{name}={shown!r}"
        )


def _kde_sum(
    boxes, valid, image_size, grid_shape, amplitude, bandwidth, box_format, xp=ops
):
    """Unnormalised FOVEA KDE `sum_b valid_b * g_b`, `(batch, gh, gw)`."""
    grid_height, grid_width = grid_shape
    height, width = image_size
    dtype = dtype_name(boxes)
    x1, y1, x2, y2 = box_columns(boxes, box_format)  # (batch, n)
    # graph-mode policy: boxes with a NaN or inf coordinate are dropped (their
    # coordinates replaced by a harmless box before the arithmetic)
    finite = xp.logical_and(
        xp.logical_and(xp.isfinite(x1), xp.isfinite(y1)),
        xp.logical_and(xp.isfinite(x2), xp.isfinite(y2)),
    )
    zero = xp.zeros_like(x1)
    x1, y1 = xp.where(finite, x1, zero), xp.where(finite, y1, zero)
    x2, y2 = xp.where(finite, x2, zero + 1.0), xp.where(finite, y2, zero + 1.0)
    valid = xp.cast(valid, dtype) * xp.cast(finite, dtype)
    amplitude = xp.cast(amplitude, dtype)
    amplitude = xp.where(amplitude >= 0, amplitude, xp.zeros_like(amplitude))
    cx, cy = (x1 + x2) * 0.5, (y1 + y2) * 0.5
    # variance = bandwidth * side (not squared), as in FOVEA; a tiny floor
    # keeps zero-size boxes finite
    tiny = xp.convert_to_tensor(np.asarray(1e-6, dtype))
    var_x = maximum(xp.cast(bandwidth, dtype) * (x2 - x1), tiny, xp)
    var_y = maximum(xp.cast(bandwidth, dtype) * (y2 - y1), tiny, xp)
    nodes_x = xp.convert_to_tensor(np.linspace(0.0, width, grid_width).astype(dtype))
    nodes_y = xp.convert_to_tensor(np.linspace(0.0, height, grid_height).astype(dtype))
    expand = xp.expand_dims
    dx = xp.square(nodes_x - expand(cx, -1)) / expand(var_x, -1)  # (b, n, gw)
    dy = xp.square(nodes_y - expand(cy, -1)) / expand(var_y, -1)  # (b, n, gh)
    g = xp.exp(-0.5 * (expand(dy, -1) + expand(dx, -2)))  # (b, n, gh, gw)
    total = xp.sum(g, axis=(-2, -1), keepdims=True)
    pad = min(grid_height, grid_width) - 1
    g = amplitude * g / (1e-5 + total) + 1.0 / (2 * pad + 1) ** 2
    g = g * expand(expand(valid, -1), -1)
    return xp.sum(g, axis=1)


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

    Bad values raise a `ValueError` when they are known (python numbers,
    numpy, eager tensors): a negative or non-finite `amplitude`, a
    non-positive or non-finite `bandwidth`, non-finite or inverted boxes.
    Graph-mode policy (traced values, `tf.function`, `jax.jit`, `predict`):
    inverted boxes are reordered, boxes with a NaN coordinate are dropped
    (as if not valid; inf likewise), a negative or NaN amplitude counts as 0 and a
    non-positive or NaN bandwidth gives the narrowest Gaussian (variance
    floor `1e-6`), so the result is always a finite map summing to 1.

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
    >>> tuple(s.shape), round(float(keras.ops.sum(s)), 6)
    ((1, 5, 9), 1.0)

    Convention: boxes in the package's pixel convention (the image spans
    `[0, W] x [0, H]`); node `(i, j)` sits at pixel `(j W / (gw - 1),
    i H / (gh - 1))`, the extent convention of `keras_resize.ops.warp`.
    """
    grid_shape = check_grid_shape(grid_shape)
    image_size = check_size(image_size, "image_size")
    _check_kde_parameter("amplitude", amplitude, positive=False)
    _check_kde_parameter("bandwidth", bandwidth, positive=True)
    boxes = as_boxes(boxes, box_format)
    if rank(boxes) == 2:
        boxes = ops.expand_dims(boxes, 0)
    if rank(boxes) != 3:
        raise ValueError(
            "Expected `boxes` of shape (batch, max_boxes, 4) or (max_boxes, 4). "
            f"Received: boxes.shape={boxes.shape}"
        )
    dtype = dtype_name(boxes)
    if valid is None:
        valid = ops.ones(list(ops.shape(boxes))[:2], dtype)
    else:
        valid = ops.convert_to_tensor(valid)
        if rank(valid) == 1:
            valid = ops.expand_dims(valid, 0)
        if rank(valid) != 2:
            raise ValueError(
                "Expected `valid` of shape (batch, max_boxes). Received: "
                f"valid.shape={tuple(valid.shape)}"
            )
        check_same_batch("boxes", boxes, "valid", valid)
        valid = ops.cast(valid, dtype)
    s = _kde_sum(boxes, valid, image_size, grid_shape, amplitude, bandwidth, box_format)
    total = ops.sum(s, axis=(1, 2), keepdims=True)
    uniform = ops.ones_like(s) / float(grid_shape[0] * grid_shape[1])
    has_boxes = total > 0
    safe_total = ops.where(has_boxes, total, ops.ones_like(total))
    return ops.where(has_boxes, s / safe_total, uniform)


def learned_kde_parameter(raw, initial):
    """A trainable KDE amplitude or bandwidth: `|1 + raw| * initial + 0.1`.

    LZU's learned KDE parameterises amplitude and bandwidth this way, so
    `raw = 0` starts at (about) the hand-set value and the result stays
    positive. Pass the results to `kde_saliency`.

    Example:

    >>> round(float(learned_kde_parameter(keras.ops.convert_to_tensor(0.0), 64.0)), 4)
    64.1

    Convention: our reading of the released code (documented in
    ALGORITHMS.md); the `+ 0.1` keeps the value away from zero.
    """
    raw = ops.convert_to_tensor(raw)
    return ops.abs(1.0 + raw) * ops.cast(initial, raw.dtype) + 0.1


def _check_max_shift(max_shift):
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
    return float(shift_x), float(shift_y)


def _uniform_unit(shape, seed, dtype):
    """Uniform numbers in `[-1, 1)` from a stateless seed."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return keras.random.uniform(shape, -1.0, 1.0, dtype=dtype, seed=int(seed))
    if isinstance(seed, keras.random.SeedGenerator):
        return keras.random.uniform(shape, -1.0, 1.0, dtype=dtype, seed=seed)
    if backend.is_tensorflow() or backend.in_tensorflow_graph(seed):
        # a seed tensor (per-example seeds in a tf.data pipeline): keras.random
        # takes ints and SeedGenerators only; this is its TensorFlow kernel
        tf = backend.tensorflow()
        seed = tf.cast(seed, tf.int64)
        return tf.random.stateless_uniform(shape, seed, -1.0, 1.0, dtype=dtype)
    if keras.backend.backend() == "jax":
        # a JAX PRNG key (or a pair of ints), traceable
        import jax

        key = seed if jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key) else None
        if key is None:
            key = ops.cast(ops.convert_to_tensor(seed), "uint32")
        return keras.random.uniform(shape, -1.0, 1.0, dtype=dtype, seed=key)
    value = np.asarray(ops.convert_to_numpy(seed)).astype(np.int64).ravel()
    return keras.random.uniform(
        shape, -1.0, 1.0, dtype=dtype, seed=int(value[0] * 1000003 + value[-1])
    )


def jitter_boxes(boxes, max_shift, seed, box_format="xyxy"):
    """Translate every box by a uniform random shift in `[-J, +J]` pixels.

    Simulates object motion when training an adaptive saliency on ground
    truth (LZU). The shift is uniform with zero mean, per box and axis (one
    public implementation draws a Gaussian with a mean shift here, a bug);
    both corners move together, so sizes are kept.

    Args:
        boxes: `(..., 4)` boxes.
        max_shift: `J`, a number (both axes) or a pair `(J_x, J_y)`, >= 0.
        seed: an int, a `keras.random.SeedGenerator`, or a shape-`(2,)` int
            tensor (stateless randomness: the same seed gives the same
            shifts; tensor seeds are for per-example seeds in a TensorFlow
            graph, or a JAX key).
        box_format: `"xyxy"` or `"yxyx"`.

    Returns:
        The shifted boxes, same shape and format.

    Example:

    >>> boxes = keras.ops.convert_to_tensor([[10.0, 10.0, 20.0, 30.0]])
    >>> shifted = jitter_boxes(boxes, 2.0, seed=0)
    >>> bool(keras.ops.all(keras.ops.abs(shifted - boxes) <= 2.0))
    True

    Convention: pixel coordinates; box sizes are unchanged.
    """
    boxes = as_boxes(boxes, box_format)
    shift_x, shift_y = _check_max_shift(max_shift)
    dtype = dtype_name(boxes)
    shape = list(ops.shape(boxes))[:-1] + [2]
    unit = _uniform_unit(shape, seed, dtype)
    shift = unit * ops.convert_to_tensor(np.asarray([shift_x, shift_y], dtype))
    sx, sy = shift[..., 0], shift[..., 1]
    x1, y1, x2, y2 = box_columns(boxes, box_format)
    return from_box_columns(x1 + sx, y1 + sy, x2 + sx, y2 + sy, box_format)


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
    through the formula of `kde_saliency` (computed once, in float64 numpy,
    in chunks). Boxes of zero width or height (e.g. the `-1` padding rows of
    `pad_boxes`) are dropped.

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
    _check_kde_parameter("amplitude", amplitude, positive=False)
    _check_kde_parameter("bandwidth", bandwidth, positive=True)
    if isinstance(all_boxes, (list, tuple)):
        parts = [
            np.asarray(ops.convert_to_numpy(b), np.float64).reshape(-1, 4)
            if ops.is_tensor(b)
            else np.asarray(b, np.float64).reshape(-1, 4)
            for b in all_boxes
        ]
        boxes = np.concatenate(parts, axis=0) if parts else np.zeros((0, 4))
    else:
        if ops.is_tensor(all_boxes):
            all_boxes = ops.convert_to_numpy(all_boxes)
        boxes = np.asarray(all_boxes, np.float64).reshape(-1, 4)
    if not np.all(np.isfinite(boxes)):
        raise ValueError(
            "Expected `all_boxes` to be finite. Received NaN or inf in "
            f"{int((~np.isfinite(boxes)).any(-1).sum())} box(es)"
        )
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
    amplitude = np.asarray(ops.convert_to_numpy(amplitude), np.float64)
    bandwidth = np.asarray(ops.convert_to_numpy(bandwidth), np.float64)
    total = np.zeros(grid_shape, np.float64)
    for start in range(0, len(boxes), chunk_size):
        chunk = boxes[None, start : start + chunk_size]
        valid = np.ones(chunk.shape[:2], np.float64)
        total += _kde_sum(
            chunk,
            valid,
            image_size,
            grid_shape,
            amplitude,
            bandwidth,
            box_format,
            xp=numpy_ops,
        )[0]
    if total.sum() <= 0:
        return np.full(grid_shape, 1.0 / (grid_shape[0] * grid_shape[1]))
    return total / total.sum()
