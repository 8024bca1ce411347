"""Interpolation kernels: neighbour indices and weights along one axis.

Everything that resamples in this package (resize, DownsizeNet, zoom, unzoom,
box and mask warps) asks this module which source pixels to read and with
which weights, and hands the answer to `keras_resize.ops.sampling`, which does
the gathers. No other module computes interpolation weights.

Two families:

- `resize_weights(in_size, out_size, method, antialias)`: the taps of a
  resize from `in_size` to `out_size` samples, for arbitrary (non-integer)
  scale factors, with the exact semantics of `tf.image.resize` (half-pixel
  centres): `nearest`, `bilinear` (2 taps), `bicubic` (4 taps, Keys a=-0.5),
  `area` (box overlap), and the `ScaleAndTranslate` kernels (`lanczos3`,
  `lanczos5`, `gaussian`, `mitchellcubic`) plus antialiased `bilinear` and
  `bicubic`, whose kernel is widened by the scale factor when downsizing.
- `linear_taps(coordinates, size, padding_mode)` and `nearest_taps(...)`: the
  taps for sampling at arbitrary continuous coordinates (the grid sampler and
  separable warps), with `zeros`, `border` and `reflect` padding.

Convention: all functions here work in *index space*, where the centre of
pixel `i` sits at coordinate `i` (so pixel centre coordinates `p` used by the
public ops map to `p - 0.5`). Resize taps place output pixel `o` at source
coordinate `(o + 0.5) * in_size / out_size - 0.5` (half-pixel centres, the
`tf.image.resize` convention); `area` integrates the source over the output
pixel's footprint `[o * s, (o + 1) * s)` with `s = in_size / out_size`.

Indices are int32 and always inside `[0, size - 1]`; taps that fall outside
the image carry weight 0 (or have been folded onto the border, depending on
the method's boundary rule), so a gather never reads out of bounds.
"""

import math
import numbers

import keras
import numpy as np

from keras_resize import backend
from keras_resize.backend import ops
from keras_resize.ops.validation import check_choice, check_positive_int


class _NumpyOps:
    """The few `keras.ops` names the tap computation uses, in numpy.

    Taps of a resize with a static input size are computed in numpy (float32
    arithmetic, same order of operations) and handed over as constants: no
    per-call op dispatch on any backend (JAX would otherwise compile every
    eager op once per new shape).
    """

    abs = staticmethod(np.abs)
    arange = staticmethod(np.arange)
    ceil = staticmethod(np.ceil)
    clip = staticmethod(np.clip)
    exp = staticmethod(np.exp)
    floor = staticmethod(np.floor)
    logical_and = staticmethod(np.logical_and)
    logical_or = staticmethod(np.logical_or)
    max = staticmethod(np.max)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    not_equal = staticmethod(np.not_equal)
    ones = staticmethod(np.ones)
    ones_like = staticmethod(np.ones_like)
    round = staticmethod(np.round)
    sin = staticmethod(np.sin)
    stack = staticmethod(np.stack)
    sum = staticmethod(np.sum)
    where = staticmethod(np.where)
    zeros_like = staticmethod(np.zeros_like)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(dtype)

    @staticmethod
    def convert_to_tensor(x, dtype=None):
        return np.asarray(x, dtype=dtype)


_NUMPY = _NumpyOps()


def _namespace(x):
    """`_NUMPY` for numpy input, else the backend's `ops`."""
    return _NUMPY if isinstance(x, (np.ndarray, np.generic)) else ops


# --------------------------------------------------------------------------
# 1-D kernel functions, evaluated at a distance `x` measured in source pixels
# (after dividing by the kernel scale when antialiasing). A numpy input gives
# a numpy output; anything else a tensor of the active backend.


def triangle_kernel(x):
    """Linear (tent) kernel, radius 1."""
    xp = _namespace(x)
    return xp.maximum(1.0 - xp.abs(x), 0.0)


def keys_cubic_kernel(x, a=-0.5):
    """Keys cubic convolution kernel, radius 2 (`a=-0.5` as TensorFlow)."""
    xp = _namespace(x)
    x = xp.abs(x)
    inner = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    outer = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return xp.where(x < 1.0, inner, xp.where(x < 2.0, outer, xp.zeros_like(x)))


def lanczos_kernel(x, radius):
    """Lanczos windowed sinc with `radius` lobes (3 or 5)."""
    xp = _namespace(x)
    x = xp.abs(x)
    safe = xp.where(x <= 1e-3, xp.ones_like(x), x)
    pi = xp.convert_to_tensor(math.pi, dtype=_dtype(x))
    value = (
        radius
        * xp.sin(pi * safe)
        * xp.sin(pi * safe / radius)
        / (pi * pi * safe * safe)
    )
    value = xp.where(x <= 1e-3, xp.ones_like(x), value)
    return xp.where(x > radius, xp.zeros_like(x), value)


def gaussian_kernel(x):
    """Gaussian with sigma 0.5, truncated at radius 1.5 (as TensorFlow)."""
    xp = _namespace(x)
    x = xp.abs(x)
    sigma = 0.5
    value = xp.exp(-x * x / (2.0 * sigma * sigma))
    return xp.where(x >= 1.5, xp.zeros_like(x), value)


def mitchell_cubic_kernel(x):
    """Mitchell-Netravali cubic with B = C = 1/3, radius 2."""
    xp = _namespace(x)
    x = xp.abs(x)
    inner = ((7.0 / 6.0 * x - 2.0) * x) * x + 8.0 / 9.0
    outer = ((-7.0 / 18.0 * x + 2.0) * x - 10.0 / 3.0) * x + 16.0 / 9.0
    return xp.where(x < 1.0, inner, xp.where(x < 2.0, outer, xp.zeros_like(x)))


# name -> (kernel function, radius in source pixels at scale 1)
SPAN_KERNELS = {
    "bilinear": (triangle_kernel, 1.0),
    "bicubic": (keys_cubic_kernel, 2.0),
    "lanczos3": (lambda x: lanczos_kernel(x, 3.0), 3.0),
    "lanczos5": (lambda x: lanczos_kernel(x, 5.0), 5.0),
    "gaussian": (gaussian_kernel, 1.5),
    "mitchellcubic": (mitchell_cubic_kernel, 2.0),
}

RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "area") + tuple(
    k for k in SPAN_KERNELS if k not in ("bilinear", "bicubic")
)
PADDING_MODES = ("zeros", "border", "reflect")

# TensorFlow's bicubic resize (no antialias) reads Keys weights from a table
# with this many entries per unit distance; we quantise the same way so that
# our bicubic matches `tf.image.resize` to float precision, not to ~1e-3.
_BICUBIC_TABLE_SIZE = 1024


def _num(x):
    """True if `x` is a static size: a python / numpy number.

    Under `torch.compile` with dynamic shapes a size is a `torch.SymInt`,
    which is treated as static too (using it as a number specialises it).
    """
    if isinstance(x, bool):
        return False
    if isinstance(x, (numbers.Number, np.integer, np.floating)):
        return True
    return type(x).__name__ in ("SymInt", "SymFloat")


def _dtype(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


def _int_size(size):
    """`size` as a python int if static, else as an int32 scalar tensor."""
    return int(size) if _num(size) else ops.cast(size, "int32")


def _int_constant(values, xp=ops):
    return xp.convert_to_tensor(np.asarray(values, dtype="int32"))


def _clamp_index(index, size, xp=ops):
    return xp.clip(index, 0, _int_size(size) - 1)


def _span_taps(radius, kernel_scale, in_size):
    """Number of taps a `ScaleAndTranslate` span needs (TensorFlow's rule)."""
    if _num(in_size) and _num(kernel_scale):
        scaled = float(np.float32(radius) * np.float32(kernel_scale))
        return int(min(2 * math.ceil(scaled) + 1, in_size))
    taps = 2 * ops.cast(ops.ceil(radius * kernel_scale), "int32") + 1
    return ops.minimum(taps, ops.cast(in_size, "int32"))


def resize_weights(
    in_size,
    out_size,
    method="bilinear",
    antialias=False,
    dtype=None,
    support_only=False,
):
    """Indices and weights that resize one axis from `in_size` to `out_size`.

    Args:
        in_size: source length, a python int or a scalar int tensor.
        out_size: target length, a positive python int.
        method: one of `"nearest"`, `"bilinear"`, `"bicubic"`, `"area"`,
            `"lanczos3"`, `"lanczos5"`, `"gaussian"`, `"mitchellcubic"`.
        antialias: widen the kernel by the scale factor when downsizing
            (ignored by `nearest` and `area`, as in `tf.image.resize`).
        dtype: float dtype of the weights (default float32). The positions
            are computed in float32 (float64 if `dtype` is float64), in the
            same order of operations as TensorFlow's kernels.
        support_only: a tap of weight exactly 0 repeats the index of a tap
            of the same output with a non-zero weight, so the gathers read
            only the pixels that the output weighs (a NaN or inf pixel
            elsewhere cannot leak in through `0 * pixel`). `resize` uses
            it; learned interpolation (DownsizeNet) keeps the geometric
            neighbours (default).

    Returns:
        `(indices, weights)`: int32 `(out_size, taps)` indices into the
        source axis, all within `[0, in_size - 1]`, and `(out_size, taps)`
        weights that sum to one per output sample. The same values for a
        size known only at run time (a TensorFlow graph, where the
        positions are shielded from the graph optimiser's re-association
        of float arithmetic) as for a static size.

    Raises:
        ValueError: if `in_size` (static) or `out_size` is not a positive
            int, or `method` is unknown.

    Convention: half-pixel centres; see the module docstring.
    """
    check_choice("method", method, RESIZE_METHODS)
    check_positive_int("out_size", out_size)
    if _num(in_size):
        check_positive_int("in_size", int(in_size))
    dtype = "float32" if dtype is None else keras.backend.standardize_dtype(dtype)
    xp = ops if not _num(in_size) else _NUMPY
    if xp is _NUMPY:
        in_size, out_size = int(in_size), int(out_size)
    index, weights = _resize_weights(xp, in_size, out_size, method, antialias, dtype)
    if support_only:
        index = _support_taps(xp, index, weights)
    if xp is ops:
        return index, weights
    return ops.convert_to_tensor(index), ops.convert_to_tensor(weights)


def numpy_resize_weights(in_size, out_size, method="bilinear", antialias=False):
    """`resize_weights` of python int sizes as numpy arrays, for constants.

    The same taps in the same float32 arithmetic, without tensors: for
    linear maps computed once ahead of time (MULLER's folded taps,
    `keras_resize.ops.muller.resize_matrix`).

    Returns:
        `(indices, weights)`: int32 and float32 numpy `(out_size, taps)`.

    Raises:
        ValueError: if a size is not a positive int or `method` is unknown.
    """
    check_choice("method", method, RESIZE_METHODS)
    check_positive_int("in_size", in_size)
    check_positive_int("out_size", out_size)
    return _resize_weights(
        _NUMPY, int(in_size), int(out_size), method, antialias, "float32"
    )


def _resize_weights(xp, in_size, out_size, method, antialias, dtype):
    """`resize_weights` in the namespace `xp` (`_NUMPY` or `ops`)."""
    pos_dtype = "float64" if dtype == "float64" else "float32"
    in_f = xp.cast(in_size, pos_dtype)
    out_f = xp.cast(out_size, pos_dtype)
    o = xp.arange(out_size, dtype=pos_dtype)
    if xp is ops and backend.is_tensorflow():
        # keep the graph optimiser from re-ordering the float arithmetic
        out_f, o = _unfoldable(out_f), _unfoldable(o)

    if method == "nearest":
        if xp is ops and backend.is_tensorflow():
            index = _tensorflow_nearest_index(in_size, out_size)
        else:
            index = xp.floor((o + 0.5) * (in_f / out_f))
        index = _clamp_index(xp.cast(index, "int32"), in_size, xp)
        return index[:, None], xp.ones([out_size, 1], dtype)

    if method == "area":
        scale = in_f / out_f
        start = o * scale
        end = (o + 1.0) * scale
        first = xp.floor(start)
        if _num(in_size):
            # exact widest footprint, in the same float32 arithmetic as below
            scale32 = np.float32(in_size) / np.float32(out_size)
            o32 = np.arange(out_size, dtype=np.float32)
            first32 = np.floor(o32 * scale32)
            last32 = np.ceil((o32 + np.float32(1.0)) * scale32)
            taps = int(max(np.max(last32 - first32), 1))
        else:
            taps = xp.cast(xp.ceil(scale), "int32") + 1
        j = first[:, None] + xp.arange(taps, dtype=pos_dtype)[None, :]
        overlap = xp.minimum(j + 1.0, end[:, None]) - xp.maximum(j, start[:, None])
        weights = xp.maximum(overlap, 0.0) / scale
        index = _clamp_index(xp.cast(j, "int32"), in_size, xp)
        return index, xp.cast(weights, dtype)

    if method == "bilinear" and not antialias:
        source = (o + 0.5) * (in_f / out_f) - 0.5
        floor = xp.floor(source)
        frac = source - floor
        j = xp.cast(floor, "int32")[:, None] + _int_constant([0, 1], xp)
        weights = xp.stack([1.0 - frac, frac], axis=-1)
        return _clamp_index(j, in_size, xp), xp.cast(weights, dtype)

    if method == "bicubic" and not antialias:
        # TensorFlow's ResizeBicubic(half_pixel_centers=True): Keys a=-0.5 with
        # the fractional offset rounded to 1/1024, out-of-image taps dropped
        # and the remaining weights renormalised.
        source = (o + 0.5) * (in_f / out_f) - 0.5
        floor = xp.floor(source)
        delta = xp.round((source - floor) * _BICUBIC_TABLE_SIZE) / _BICUBIC_TABLE_SIZE
        distance = xp.stack([1.0 + delta, delta, 1.0 - delta, 2.0 - delta], axis=-1)
        j = xp.cast(floor, "int32")[:, None] + _int_constant([-1, 0, 1, 2], xp)
        return _normalized_taps(xp, keys_cubic_kernel(distance), j, in_size, dtype)

    # ScaleAndTranslate semantics (tf.image.resize with antialias=True, and the
    # lanczos / gaussian / mitchellcubic methods).
    kernel, radius = SPAN_KERNELS[method]
    inv_scale = 1.0 / (out_f / in_f)
    if antialias:
        kernel_scale = xp.maximum(inv_scale, 1.0)
        if _num(in_size):
            kernel_scale_static = max(
                float(np.float32(1.0) / (np.float32(out_size) / np.float32(in_size))),
                1.0,
            )
        else:
            kernel_scale_static = kernel_scale
    else:
        kernel_scale = xp.convert_to_tensor(1.0, dtype=pos_dtype)
        kernel_scale_static = 1.0
    taps = _span_taps(radius, kernel_scale_static, in_size)
    sample = (o + 0.5) * inv_scale
    reach = radius * kernel_scale
    if _num(in_size) and pos_dtype == "float32":
        taps = _widest_span(radius, antialias, in_size, out_size, taps)
    start = xp.cast(xp.ceil(sample - reach - 0.5), "int32")
    end = xp.cast(xp.floor(sample + reach - 0.5), "int32")
    start = _clamp_index(start, in_size, xp)
    end = _clamp_index(end, in_size, xp) + 1
    j = start[:, None] + xp.arange(taps, dtype="int32")[None, :]
    # times the reciprocal, as TensorFlow: a division can round the other way
    # at a kernel's cut-off (gaussian, antialiased: 13 -> 12 kept a tap)
    one_over_kernel_scale = 1.0 / kernel_scale
    position = (xp.cast(j, pos_dtype) + 0.5 - sample[:, None]) * one_over_kernel_scale
    weights = kernel(position)
    weights = xp.where(j < end[:, None], weights, xp.zeros_like(weights))
    return _normalized_taps(xp, weights, j, in_size, dtype)


def _unfoldable(x):
    """`x` (a TensorFlow constant) behind an op that graph optimisation keeps.

    In a TensorFlow graph with an unknown input size, the tap positions
    `(o + 0.5) * (in / out)` mix constants (`o`, `out`) with the run-time
    `in`. Grappler's constant folding then re-associates the float32
    products and divisions (`1 / (out / in)` becomes `in / out`, `(o +
    0.5) * (in / out)` another order), so exact integers come out one ulp
    low and `floor`, `ceil` and the kernel cut-offs jump: `nearest` read
    the pixel before TensorFlow's for 150 of the 4096 size pairs up to 64
    (6 -> 41: output 20 read pixel 2, not 3), `gaussian` kept a tap of
    weight 0.011 (14 -> 1). A `PlaceholderWithDefault` is never folded, so
    the positions are computed in TensorFlow's order, as in the static
    numpy path; XLA compiles it (an identity), TFLite converts it to the
    constant (and may re-order the arithmetic itself, which is why
    `nearest` takes its indices from `ResizeNearestNeighbor`; the other
    methods are continuous in the positions).
    """
    tf = backend.tensorflow()
    return tf.raw_ops.PlaceholderWithDefault(input=x, shape=x.shape)


def _tensorflow_nearest_index(in_size, out_size):
    """`tf.image.resize` nearest indices for a size known only at run time.

    TensorFlow's own kernel (`ResizeNearestNeighbor`, half-pixel centres)
    resizes an index ramp, so the indices are exactly those of
    `tf.image.resize` in a graph, under XLA and in TFLite (a builtin op),
    whatever the converter does to float arithmetic (see `_unfoldable`).
    """
    tf = backend.tensorflow()
    ramp = tf.range(tf.cast(in_size, "int32"), dtype="float32")
    index = tf.raw_ops.ResizeNearestNeighbor(
        images=tf.reshape(ramp, [1, -1, 1, 1]),
        size=tf.constant([out_size, 1], "int32"),
        align_corners=False,
        half_pixel_centers=True,
    )
    return tf.reshape(index, [out_size])


def _widest_span(radius, antialias, in_size, out_size, upper_bound):
    """The widest span actually used, computed in float32 exactly as above.

    TensorFlow's bound `2 * ceil(radius * scale) + 1` often includes a tap
    that is empty for every output (e.g. 9 taps where 8 are used at 4x);
    dropping it saves a full gather pass.
    """
    f32 = np.float32
    inv_scale = f32(1.0) / (f32(out_size) / f32(in_size))
    kernel_scale = max(inv_scale, f32(1.0)) if antialias else f32(1.0)
    reach = f32(radius) * kernel_scale
    sample = (np.arange(out_size, dtype=f32) + f32(0.5)) * inv_scale
    start = np.clip(np.ceil(sample - reach - f32(0.5)), 0, in_size - 1)
    end = np.clip(np.floor(sample + reach - f32(0.5)), 0, in_size - 1) + 1
    return int(min(max(np.max(end - start), 1), upper_bound))


def _normalized_taps(xp, weights, index, in_size, dtype):
    """Zero taps outside `[0, in_size)`, renormalise, clamp the indices."""
    inside = xp.logical_and(index >= 0, index < _int_size(in_size))
    weights = xp.where(inside, weights, xp.zeros_like(weights))
    total = xp.sum(weights, axis=-1, keepdims=True)
    safe = xp.where(xp.abs(total) > 1e-30, total, xp.ones_like(total))
    return _clamp_index(index, in_size, xp), xp.cast(weights / safe, dtype)


def _support_taps(xp, index, weights):
    """Point every tap of weight exactly 0 at a tap of the same output with a
    non-zero weight (the last one).

    The sum is unchanged, but a zero-weight tap no longer reads a pixel
    outside the output's support: a NaN or inf pixel there would otherwise
    turn `0 * pixel` into NaN (`area` would spread one NaN pixel to every
    output whose widest footprint touches it; `tf.image.resize` spreads it
    only to the outputs that cover it). Rows without any non-zero weight
    keep their indices. Only for constant (non-differentiated) resize taps:
    the sampler's taps keep their neighbours, whose pixels its coordinate
    gradients need.
    """
    nonzero = xp.not_equal(weights, 0)
    none = xp.zeros_like(index) - 1
    support = xp.max(xp.where(nonzero, index, none), axis=-1, keepdims=True)
    keep = xp.logical_or(nonzero, support < 0)
    return xp.where(keep, index, support)


# --------------------------------------------------------------------------
# Taps for sampling at continuous coordinates (grid sampler, warps).


def reflect_coordinates(u, size):
    """Reflect index-space coordinates into `[0, size - 1]`.

    Reflection is about the centres of the edge pixels, like `tf.pad(...,
    "REFLECT")` and `scipy.ndimage` mode `"mirror"` (the edge pixel is not
    repeated). A size-1 axis maps everything to 0.
    """
    u = ops.convert_to_tensor(u)
    last = ops.cast(size, _dtype(u)) - 1.0
    period = 2.0 * last
    safe_period = ops.where(period > 0, period, ops.ones_like(period))
    folded = ops.mod(u, safe_period)
    reflected = last - ops.abs(folded - last)
    return ops.where(period > 0, reflected, ops.zeros_like(u))


def linear_taps(coordinates, size, padding_mode="zeros"):
    """Two-tap linear interpolation at index-space `coordinates`.

    Args:
        coordinates: float tensor of any shape, index space (pixel `i` at `i`).
        size: length of the sampled axis (int or scalar tensor).
        padding_mode: `"zeros"` (taps outside the image weigh 0), `"border"`
            (coordinates clamped to the edge pixels) or `"reflect"`
            (coordinates reflected about the edge pixel centres).

    Returns:
        `(indices, weights)` of shape `coordinates.shape + (2,)`; weights are
        differentiable with respect to `coordinates`.
    """
    check_choice("padding_mode", padding_mode, PADDING_MODES)
    u = _pad_coordinates(coordinates, size, padding_mode)
    floor = ops.floor(u)
    frac = u - floor
    j = ops.cast(floor, "int32")[..., None] + _int_constant([0, 1])
    weights = ops.stack([1.0 - frac, frac], axis=-1)
    if padding_mode == "zeros":
        inside = ops.logical_and(j >= 0, j < _int_size(size))
        weights = ops.where(inside, weights, ops.zeros_like(weights))
    return _clamp_index(j, size), weights


def nearest_taps(coordinates, size, padding_mode="zeros"):
    """One-tap nearest-neighbour sampling at index-space `coordinates`.

    Rounds half up (`floor(u + 0.5)`). Same padding modes as `linear_taps`.
    """
    check_choice("padding_mode", padding_mode, PADDING_MODES)
    u = _pad_coordinates(coordinates, size, padding_mode)
    j = ops.cast(ops.floor(u + 0.5), "int32")[..., None]
    weights = ops.ones_like(u)[..., None]
    if padding_mode == "zeros":
        inside = ops.logical_and(j >= 0, j < _int_size(size))
        weights = ops.where(inside, weights, ops.zeros_like(weights))
    return _clamp_index(j, size), weights


def _pad_coordinates(u, size, padding_mode):
    u = ops.convert_to_tensor(u)
    if padding_mode == "border":
        last = size - 1.0 if _num(size) else ops.cast(size, _dtype(u)) - 1.0
        return ops.clip(u, 0.0, last)
    if padding_mode == "reflect":
        return reflect_coordinates(u, size)
    return u
