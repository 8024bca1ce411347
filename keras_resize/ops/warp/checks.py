"""Constants, argument checks and conversions shared by the warp modules.

Every check raises a `ValueError` naming the argument and the received value.
Checks of shapes and python arguments are static and always run. Checks of
values (a saliency map must be finite and non-negative, boxes finite and
not inverted) run whenever the values are concrete (numpy input, eager
tensors). Inside a traced function (`tf.function`, `jax.jit`,
`torch.compile`, `model.predict`, XLA, TFLite) values cannot be checked,
and the ops follow a documented **graph-mode policy** instead, so that the
result is never NaN for finite input:

- saliency: NaN and negative values are raised to a small positive floor
  (`SALIENCY_FLOOR` times the map's maximum), `+inf` is clamped to the
  dtype's largest value, and every map is rescaled by its maximum before
  the attraction kernel (so `1e38` cannot overflow); a map of zeros or
  NaNs is uniform (the identity warp). The floor and the rescaling also
  apply to valid input, where the rescaling changes nothing (the warp is
  scale invariant) and the floor only lifts values below `1e-6` of the
  maximum (zeros), which keeps every node's weight positive;
- boxes: inverted corners are reordered (`x1, x2 = min, max`); boxes with
  NaN coordinates are ignored by `kde_saliency`;
- grids given to an inverse: folded (non-monotone) node rows and columns
  are replaced by their monotone envelope (the cumulative maximum along
  the axis), see `monotone_nodes`.
"""

import math
import numbers
import sys

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.ops.validation import check_choice, check_size

GRID_SHAPE = (31, 51)
"""Default coarse grid `(grid_height, grid_width)`: FOVEA's 31 x 51."""

DEFAULT_FWHM = 10.0
"""Default full width at half maximum of the attraction Gaussian, in grid
nodes (LZU's value; Recasens used 13 and FOVEA 4)."""

PADDINGS = ("reflect", "replicate")
"""Paddings of the attraction kernel: `"reflect"` (anti-crop) or `"replicate"`."""

BOX_FORMATS = ("xyxy", "yxyx")
"""Box formats: `(x1, y1, x2, y2)` or keras-hub's `(y1, x1, y2, x2)`."""

INTERPOLATIONS = ("bilinear", "nearest")
"""Interpolations of `zoom` and `unzoom` (`"nearest"` for masks and labels)."""

SALIENCY_FLOOR = 1e-6
"""Smallest saliency relative to the map's maximum (see the module docstring:
zeros, negative values and NaN are raised to it)."""

UNCOVERED = -3.0
"""Extent coordinate that inverse grids hold where no tile of the warp covers
a pixel; `unzoom` samples zeros there."""


def dtype_name(x):
    """The standardized dtype name of a tensor or numpy array (`"float32"`, ...)."""
    return keras.backend.standardize_dtype(x.dtype)


def float_dtype(dtype):
    """The float dtype the warp computes in for inputs of `dtype`.

    `"float64"` stays `"float64"`; anything else (float16, bfloat16,
    integers) computes in `"float32"`.
    """
    return (
        "float64" if keras.backend.standardize_dtype(dtype) == "float64" else "float32"
    )


def rank(x):
    """The rank of a tensor or array (static)."""
    return len(x.shape)


def concrete_value(x):
    """`x` as a numpy array if its values are known now, else None.

    Known: numpy arrays and python values, eager TensorFlow tensors (and
    TensorFlow constants in a graph), concrete JAX arrays, PyTorch tensors
    outside `torch.compile` and off the meta device. Unknown: Keras symbolic
    tensors and tensors traced by `tf.function`, `jax.jit` or `torch.compile`.
    """
    if isinstance(x, keras.KerasTensor):
        return None
    if not ops.is_tensor(x) and not _is_foreign_tensor(x):
        try:
            return np.asarray(x)
        except Exception:  # noqa: BLE001 - not array-like: nothing to check
            return None
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "is_tensor") and tf.is_tensor(x):
        value = tf.get_static_value(x)
        return None if value is None else np.asarray(value)
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(x, jax.Array):
        if isinstance(x, jax.core.Tracer):
            return None
        return np.asarray(x)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        if x.device.type == "meta" or torch.compiler.is_compiling():
            return None
        return x.detach().cpu().numpy()
    return None


def _is_foreign_tensor(x):
    """A TensorFlow tensor while another backend is active (tf.data graphs)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and hasattr(tf, "is_tensor") and tf.is_tensor(x)


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


def check_valid_region(valid_size, padded_size):
    """`(valid_fraction_y, valid_fraction_x)` of a padded zoomed image.

    Returns None when neither size is given (no padding). `valid_size` and
    `padded_size` are `(height, width)` pairs given together, the valid
    region fitting inside the padded image.
    """
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


def as_float_tensor(x):
    """`x` as a float tensor: float64 stays float64, anything else float32."""
    x = ops.convert_to_tensor(x)
    return ops.cast(x, float_dtype(x.dtype))


def as_saliency(saliency):
    """Check a saliency map and return it as a `(batch, gh, gw)` float tensor.

    Rank-2 input `(grid_height, grid_width)` gets a batch axis of 1 (a
    shared warp). Values must be finite and non-negative with a positive
    sum per map; this is checked whenever the values are known (numpy
    arrays, eager tensors). Traced values follow the graph-mode policy of
    `sanitize_saliency` (applied by the attraction kernel in both modes). float64 input stays float64 (where the backend has float64),
    anything else becomes float32.
    """
    if not ops.is_tensor(saliency) and not _is_foreign_tensor(saliency):
        saliency = np.asarray(saliency)
        if saliency.dtype.kind not in "fiub":
            raise ValueError(
                "Expected `saliency` to be a numeric array. Received: "
                f"saliency.dtype={saliency.dtype}"
            )
    value = concrete_value(saliency)
    saliency = as_float_tensor(saliency)
    if rank(saliency) == 2:
        saliency = ops.expand_dims(saliency, 0)
    if rank(saliency) != 3:
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
    if value is not None:
        value = np.asarray(value, np.float64)
        if not np.all(np.isfinite(value)):
            raise ValueError("Expected `saliency` to be finite. Received NaN or inf.")
        if value.size and value.min() < 0:
            raise ValueError(
                "Expected `saliency` to be non-negative. Received: "
                f"min(saliency)={value.min()!r}"
            )
        value = value.reshape((-1,) + grid_shape)
        if value.size and np.any(value.reshape(value.shape[0], -1).sum(-1) <= 0):
            raise ValueError(
                "Expected every saliency map to have a positive sum. Received "
                "a map of zeros."
            )
    return saliency


def sanitize_saliency(saliency, xp=ops):
    """The graph-mode policy for saliency values (see the module docstring).

    `(batch, gh, gw)` float saliency -> the same maps, NaN and negative
    values set to 0, `+inf` clamped to the dtype's largest value, each map
    divided by its maximum and raised to `SALIENCY_FLOOR`. Values in
    `[SALIENCY_FLOOR, 1]`; a map of zeros becomes uniform.
    """
    dtype = dtype_name(saliency)
    info = np.finfo(dtype)
    zero = xp.zeros_like(saliency)
    saliency = xp.where(saliency >= 0, saliency, zero)  # NaN >= 0 is False
    largest = xp.full_like(saliency, float(info.max))
    saliency = xp.where(saliency <= largest, saliency, largest)
    peak = xp.max(saliency, axis=(1, 2), keepdims=True)
    tiny = xp.full_like(peak, float(info.tiny))
    peak = xp.where(peak >= tiny, peak, tiny)
    # two steps through sqrt(peak): XLA computes x / y as x * (1 / y), and
    # 1 / peak is subnormal (flushed to zero on CPU) for peaks above ~1e38
    root = xp.sqrt(peak)
    saliency = (saliency / root) / root
    floor = xp.full_like(saliency, SALIENCY_FLOOR)
    return xp.where(saliency >= floor, saliency, floor)


def monotone_nodes(nodes, xp=ops):
    """The monotone envelope of node coordinates along the last axis.

    The running (cumulative) maximum: non-decreasing node coordinates are
    returned unchanged; where a folded grid steps back, the node is held at
    the largest coordinate so far (a flat segment, which the inverses skip).
    This is what the inverses do with a folded grid in graph mode (where
    its values cannot be checked), so that they stay finite. Written as a
    masked maximum over a `(g, g)` lower-triangular mask (no loops).
    """
    dtype = dtype_name(nodes)
    size = nodes.shape[-1]
    mask = xp.convert_to_tensor(np.tril(np.ones((size, size), bool)))
    lowest = xp.full_like(xp.expand_dims(nodes, -2), float(np.finfo(dtype).min))
    # [..., j, k] = nodes[..., k] for k <= j
    values = xp.where(mask, xp.expand_dims(nodes, -2), lowest)
    return xp.max(values, axis=-1)


def as_grid(grid, name="grid"):
    """Return a coarse grid as a `(batch, gh, gw, 2)` float tensor.

    Rank-3 input `(gh, gw, 2)` gets a batch axis of 1 (a shared warp).
    """
    grid = as_float_tensor(grid)
    if rank(grid) == 3:
        grid = ops.expand_dims(grid, 0)
    if rank(grid) != 4 or grid.shape[-1] != 2:
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


def box_columns(boxes, box_format):
    """`(x1, y1, x2, y2)` of `(..., 4)` boxes in `box_format`."""
    check_choice("box_format", box_format, BOX_FORMATS)
    a, b, c, d = (boxes[..., i] for i in range(4))
    if box_format == "xyxy":
        return a, b, c, d
    return b, a, d, c


def from_box_columns(x1, y1, x2, y2, box_format):
    """`(..., 4)` boxes in `box_format` from their `(x1, y1, x2, y2)` columns."""
    if box_format == "xyxy":
        return ops.stack([x1, y1, x2, y2], axis=-1)
    return ops.stack([y1, x1, y2, x2], axis=-1)


def as_boxes(boxes, box_format, name="boxes", reorder=True):
    """Boxes as a float tensor `(..., 4)`.

    Non-finite coordinates and inverted boxes (`x2 < x1` or `y2 < y1`) raise
    when the values are known. With `reorder` (graph-mode policy), the
    corners are returned sorted (`x1, x2 = min, max`, same for y): a no-op
    for valid boxes, a fix for inverted ones inside traced functions.
    """
    check_choice("box_format", box_format, BOX_FORMATS)
    value = concrete_value(boxes)
    boxes = as_float_tensor(boxes)
    if rank(boxes) < 1 or boxes.shape[-1] != 4:
        raise ValueError(
            f"Expected `{name}` of shape (..., 4). Received: {name}.shape={boxes.shape}"
        )
    if value is not None:
        value = np.asarray(value, np.float64).reshape(-1, 4)
        if not np.all(np.isfinite(value)):
            raise ValueError(
                f"Expected `{name}` to be finite. Received NaN or inf in "
                f"{int((~np.isfinite(value)).any(-1).sum())} box(es)"
            )
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
    if reorder:
        x1, y1, x2, y2 = box_columns(boxes, box_format)
        boxes = from_box_columns(
            minimum(x1, x2),
            minimum(y1, y2),
            maximum(x1, x2),
            maximum(y1, y2),
            box_format,
        )
    return boxes


# ---------------------------------------------------------------------------
# float64-safe arithmetic: Keras 3.15 computes `ops.maximum`, `ops.minimum`
# and `ops.matmul` of two float64 tensors in float32 on PyTorch (its type
# promotion maps 64-bit results to 32 bits), which would cost the float64
# warps (fixed warps, round trips to 1e-8 px) their precision. These stay in
# float64 on every backend and give the same values.


def maximum(a, b, xp=ops):
    """Elementwise maximum that keeps float64 on every backend (a select)."""
    return xp.where(a >= b, a, b)


def minimum(a, b, xp=ops):
    """Elementwise minimum that keeps float64 on every backend (a select)."""
    return xp.where(a <= b, a, b)


def matmul(a, b, equation, xp=ops):
    """`a @ b`, in float64 for float64 operands on every backend.

    `equation` is the same product as an einsum (e.g. `"bi,ij->bj"`), used
    for float64 operands (whose `ops.matmul` PyTorch computes in float32);
    float32 operands use `matmul` (TFLite's BATCH_MATMUL / FULLY_CONNECTED).
    """
    if xp is ops and dtype_name(a) == "float64":
        return ops.einsum(equation, a, b)
    return xp.matmul(a, b)
