"""Pyramid ops: adaptive pooling bins, Gaussian and Laplacian image pyramids.

Two families:

- **Adaptive pooling** (SPP, He et al.; the pyramid pooling module of
  PSPNet): pool an image of any size into exactly `n x n` bins. Bin `i` of
  an axis of length `size` covers the pixels `[start_i, end_i)` with
  `start_i = floor(i * size / n)` and `end_i = ceil((i + 1) * size / n)`,
  the bins of PyTorch's `AdaptiveAvgPool2d` / `AdaptiveMaxPool2d`. Bins
  overlap when `size % n != 0` and are never empty, even for `size < n`.
  The common window formula `window = ceil(size / n)`, `stride =
  floor(size / n)` does not always give `n` bins (7 pixels, `n = 4`: 6 bins).
- **Image pyramids** (Burt & Adelson): `pyramid_down` blurs with the 5-tap
  binomial filter `[1, 4, 6, 4, 1] / 16` (separable, mirror padding) and
  keeps every other pixel; `pyramid_up` interpolates back at twice the
  resolution (bilinear); a Laplacian level is a Gaussian level minus the
  upsampled next one, and `reconstruct_laplacian` inverts that exactly.

Everything is written with `keras.ops` gathers, reductions and arithmetic
on top of `keras_resize.ops.sampling` (numpy for the taps of static sizes),
so it runs on TensorFlow, JAX and PyTorch, compiles under XLA
(`jit_compile=True`, `jax.jit`) and converts to TFLite with builtin ops
only; on TensorFlow, sizes may be unknown until run time.

Every op raises a `ValueError` for images with a height or width of 0
(known at trace time) and for sizes of 0; an empty batch (batch size 0)
gives an empty batch.

Convention: images are NHWC (rank 3 HWC is accepted and returned as such).
Bins and pyramid taps are in index space (pixel `i` is row/column `i`). A
pyramid level keeps the source pixels `0, 2, 4, ...`, so pixel `j` of level
`k + 1` sits at index `2 j` of level `k` (not at `2 j + 0.5`): a level of
length `size` has `ceil(size / 2)` pixels, as `cv2.pyrDown`.
"""

import numbers

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.ops.resize import resize
from keras_resize.ops.sampling import resample_separable, sample_separable
from keras_resize.ops.validation import (
    as_image_batch,
    check_choice,
    check_non_empty_spatial,
    check_positive_int,
)

REDUCTIONS = ("max", "average")

# The 5-tap binomial filter of Burt & Adelson (a = 0.375), sums to one.
BINOMIAL_FILTER = (1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0)


def _is_static(size):
    return isinstance(size, numbers.Integral) and not isinstance(size, bool)


def _height_and_width(size, name="size"):
    """`(height, width)` from a pair of ints / scalar tensors or a 1-D tensor.

    Static entries must be positive ints (a `ValueError` naming `name`
    otherwise); tensor entries are checked only for their shape.
    """
    message = (
        f"Expected `{name}` to be a pair (height, width) of positive ints or "
        f"scalar int tensors. Received: {name}={size!r}"
    )
    if hasattr(size, "shape") and hasattr(size, "dtype"):
        # a 1-D tensor or array of length 2
        if len(size.shape) != 1 or size.shape[0] not in (None, 2):
            raise ValueError(message)
        height, width = size[0], size[1]
    else:  # a pair (list, tuple, `TensorShape`, `torch.Size`)
        try:
            values = tuple(size)
        except TypeError:
            raise ValueError(message) from None
        if len(values) != 2:
            raise ValueError(message)
        height, width = values
    values = []
    for value in (height, width):
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if _is_static(value):
            if int(value) <= 0:
                raise ValueError(message)
            value = int(value)
        elif isinstance(value, (bool, float, str)):
            raise ValueError(message)
        values.append(value)
    return tuple(values)


def _image_batch(images, name="images"):
    """`as_image_batch`, then the static check of a non-zero height and width."""
    images, squeeze = as_image_batch(images, name=name)
    check_non_empty_spatial(name, images)
    return images, squeeze


def _position_dtype(images):
    """float64 positions and weights for float64 images, else float32."""
    dtype = keras.backend.standardize_dtype(images.dtype)
    return "float64" if dtype == "float64" else "float32"


def _static_bin_edges(size, bins):
    i = np.arange(bins, dtype=np.int64)
    starts = (i * size) // bins
    ends = -((-(i + 1) * size) // bins)  # ceil((i + 1) * size / bins)
    return starts, ends


def adaptive_bin_edges(size, bins):
    """Start and end (exclusive) of the `bins` adaptive pooling bins of an axis.

    `start_i = floor(i * size / bins)` and `end_i = ceil((i + 1) * size /
    bins)`, as PyTorch's `AdaptiveAvgPool2d`: every bin holds at least one
    pixel, the bins cover the axis, and neighbouring bins share a pixel when
    `size % bins != 0`.

    Args:
        size: length of the axis, a positive python int or a scalar int
            tensor (a size known only at run time).
        bins: number of bins, a positive python int.

    Returns:
        `(starts, ends)`, two int32 tensors of shape `(bins,)`.

    Example:

    >>> starts, ends = adaptive_bin_edges(7, 4)
    >>> keras.ops.convert_to_numpy(starts).tolist()
    [0, 1, 3, 5]
    >>> keras.ops.convert_to_numpy(ends).tolist()
    [2, 4, 6, 7]

    Convention: index space (pixel `i` is row/column `i`).
    """
    bins = check_positive_int("bins", bins)
    if _is_static(size):
        size = check_positive_int("size", size)
        starts, ends = _static_bin_edges(size, bins)
        return (
            ops.convert_to_tensor(starts.astype(np.int32)),
            ops.convert_to_tensor(ends.astype(np.int32)),
        )
    size = ops.cast(size, "int32")
    i = ops.arange(bins, dtype="int32")
    starts = ops.floor_divide(i * size, bins)
    ends = ops.floor_divide((i + 1) * size + (bins - 1), bins)
    return starts, ends


def _bin_taps(size, bins, dtype):
    """Gather taps of the adaptive bins of one axis.

    Returns `(index, weights)`: int32 `(bins, taps)` source indices and
    `(bins, taps)` averaging weights (`1 / width` for the taps that lie in
    the bin, 0 for the others). `taps` is the widest bin (static size) or an upper
    bound of it (dynamic size); taps past a bin's end repeat its last
    pixel, so a max over all taps is the max over the bin.
    """
    if _is_static(size):
        starts, ends = _static_bin_edges(size, bins)
        taps = int(np.max(ends - starts))
        j = starts[:, None] + np.arange(taps)[None, :]
        inside = j < ends[:, None]
        index = np.minimum(j, ends[:, None] - 1).astype(np.int32)
        weights = inside / (ends - starts)[:, None].astype(np.float64)
        return (
            ops.convert_to_tensor(index),
            ops.convert_to_tensor(weights.astype(dtype)),
        )
    starts, ends = adaptive_bin_edges(size, bins)
    size = ops.cast(size, "int32")
    # every bin is at most ceil(size / bins) + 1 <= size // bins + 2 wide
    taps = ops.minimum(size, ops.floor_divide(size, bins) + 2)
    j = ops.expand_dims(starts, 1) + ops.expand_dims(ops.arange(taps, dtype="int32"), 0)
    last = ops.expand_dims(ends - 1, 1)
    inside = ops.cast(ops.less_equal(j, last), dtype)
    width = ops.cast(ops.expand_dims(ends - starts, 1), dtype)
    return ops.minimum(j, last), inside / width


def _max_over_taps(images, index, axis):
    # (batch, ..., bins, taps, ..., channels), then the max over the taps
    gathered = ops.take(images, index, axis=axis)
    if images.shape[0] == 0:
        # an empty batch: keras' `max` rejects empty tensors (the PyTorch
        # backend returns a scalar); any reduction gives the empty result
        return ops.sum(gathered, axis=axis + 1)
    return ops.max(gathered, axis=axis + 1)


def adaptive_pool(images, bins, reduction="max"):
    """Max- or average-pool images into exactly `bins x bins` adaptive bins.

    Any input size works, including sizes that `bins` does not divide and
    sizes smaller than `bins` (bins then overlap, see `adaptive_bin_edges`).
    The pooling is separable: each axis is reduced with one gather of the
    bin's pixels and a max (or a weighted sum through the package's sampler).

    Args:
        images: `(batch, height, width, channels)` or `(height, width,
            channels)`; spatial dims may be unknown until run time.
        bins: number of bins per axis, a positive python int.
        reduction: `"max"` (SPP, `AdaptiveMaxPool2d`) or `"average"`
            (PSPNet, `AdaptiveAvgPool2d`).

    Returns:
        `(batch, bins, bins, channels)` (no batch axis for rank-3 input).

    Example:

    >>> images = np.arange(49, dtype="float32").reshape(1, 7, 7, 1)
    >>> keras.ops.convert_to_numpy(adaptive_pool(images, 4)[0, :, :, 0])
    array([[ 8., 10., 12., 13.],
           [22., 24., 26., 27.],
           [36., 38., 40., 41.],
           [43., 45., 47., 48.]], dtype=float32)

    Convention: index space; bin `i` covers pixels `[floor(i * size /
    bins), ceil((i + 1) * size / bins))` of each axis.
    """
    bins = check_positive_int("bins", bins)
    check_choice("reduction", reduction, REDUCTIONS)
    images, squeeze = _image_batch(images)
    _, height, width, _ = ops.shape(images)
    dtype = _position_dtype(images)
    rows = _bin_taps(height, bins, dtype)
    columns = _bin_taps(width, bins, dtype)
    if reduction == "max":
        out = _max_over_taps(images, rows[0], axis=1)
        out = _max_over_taps(out, columns[0], axis=2)
    else:
        out = resample_separable(images, rows, columns)
    return out[0] if squeeze else out


def _sample_positions(out_size, dtype, scale=None, in_size=None):
    """`(arange(out_size) + 0.5) * in_size / out_size` (`scale=None`), or
    `arange(out_size) * scale + 0.5`: numpy for a static size, else tensors."""
    if _is_static(out_size) and (in_size is None or _is_static(in_size)):
        o = np.arange(out_size, dtype=np.float64)
        if scale is None:
            positions = (o + 0.5) * (in_size / out_size)
        else:
            positions = o * scale + 0.5
        return ops.convert_to_tensor(positions.astype(dtype))
    o = ops.cast(ops.arange(ops.cast(out_size, "int32"), dtype="int32"), dtype)
    if scale is None:
        ratio = ops.cast(in_size, dtype) / ops.cast(out_size, dtype)
        return (o + 0.5) * ratio
    return o * scale + 0.5


def bilinear_resize_to(images, size):
    """Bilinear resize to `size`, which may be known only at run time.

    With a static `size` (python ints) this is `keras_resize.ops.resize(...,
    method="bilinear")`; when a dim is a scalar tensor (for example the
    `keras.ops.shape` of another tensor with unknown spatial dims, on
    TensorFlow) the same half-pixel sampling runs through `sample_separable`
    with border padding, which gives the same values.

    Args:
        images: `(batch, height, width, channels)` or `(height, width,
            channels)`.
        size: `(height, width)`: python ints, scalar int tensors, or a
            1-D int tensor of length 2 (e.g. `tf.shape(other)[1:3]`).

    Returns:
        `(batch, height, width, channels)` (no batch axis for rank-3 input).

    Example:

    >>> small = np.array([[[[0.0], [1.0]]]], "float32")  # 1 x 2
    >>> keras.ops.convert_to_numpy(bilinear_resize_to(small, (1, 4))[0, 0, :, 0])
    array([0.  , 0.25, 0.75, 1.  ], dtype=float32)

    Convention: half-pixel centres, as `tf.image.resize` (output pixel `o`
    samples the source at index `(o + 0.5) * in / out - 0.5`, clamped to
    the image).
    """
    height, width = _height_and_width(size)
    if _is_static(height) and _is_static(width):
        return resize(images, (height, width), method="bilinear")
    images, squeeze = _image_batch(images)
    _, in_height, in_width, _ = ops.shape(images)
    dtype = _position_dtype(images)
    out = sample_separable(
        images,
        _sample_positions(width, dtype, in_size=in_width),
        _sample_positions(height, dtype, in_size=in_height),
        padding_mode="border",
    )
    return out[0] if squeeze else out


def _mirror(positions, size):
    """Integer positions reflected about the edge pixels into `[0, size)`
    (`tf.pad(..., "REFLECT")`; a size-1 axis maps everything to 0)."""
    if _is_static(size):
        if size == 1:
            return np.zeros_like(positions)
        last = size - 1
        return last - np.abs(np.mod(positions, 2 * last) - last)
    last = ops.cast(size, "int32") - 1
    period = 2 * last
    folded = ops.mod(positions, ops.maximum(period, 1))
    reflected = last - ops.abs(folded - last)
    return ops.where(period > 0, reflected, ops.zeros_like(reflected))


def _binomial_taps(size, dtype):
    """Taps of blur-then-decimate along one axis of length `size`.

    Output pixel `o` reads source pixels `2 o - 2 ... 2 o + 2`, mirrored at
    the edges, with the binomial weights. Returns int32 `(out, 5)` indices
    and `(out, 5)` weights, `out = ceil(size / 2)`.
    """
    offsets = np.arange(-2, 3, dtype=np.int32)
    if _is_static(size):
        out_size = (size + 1) // 2
        positions = 2 * np.arange(out_size, dtype=np.int32)[:, None] + offsets
        index = _mirror(positions, size).astype(np.int32)
        weights = np.broadcast_to(np.array(BINOMIAL_FILTER), index.shape)
        return ops.convert_to_tensor(index), ops.convert_to_tensor(
            weights.astype(dtype)
        )
    out_size = ops.floor_divide(ops.cast(size, "int32") + 1, 2)
    positions = 2 * ops.expand_dims(ops.arange(out_size, dtype="int32"), 1)
    index = _mirror(positions + ops.convert_to_tensor(offsets), size)
    weights = ops.ones_like(ops.cast(index, dtype)) * ops.convert_to_tensor(
        np.array(BINOMIAL_FILTER, dtype)
    )
    return index, weights


def pyramid_down(images):
    """One Gaussian pyramid step: binomial blur, then keep every other pixel.

    The blur is the separable 5-tap binomial filter `[1, 4, 6, 4, 1] / 16`
    with mirror padding (reflection about the edge pixel, which is not
    repeated: `tf.pad(..., "REFLECT")`, `scipy.ndimage` mode `"mirror"`,
    OpenCV's `BORDER_REFLECT_101`), evaluated only at the kept pixels (one
    gather pass per axis). Any size works, down to 1 pixel.

    Args:
        images: `(batch, height, width, channels)` or `(height, width,
            channels)`.

    Returns:
        `(batch, ceil(height / 2), ceil(width / 2), channels)`.

    Example:

    >>> tuple(pyramid_down(np.ones((1, 7, 8, 3), "float32")).shape)
    (1, 4, 4, 3)

    Convention: output pixel `j` is centred on source pixel `2 j` (index
    space).
    """
    images, squeeze = _image_batch(images)
    _, height, width, _ = ops.shape(images)
    dtype = _position_dtype(images)
    out = resample_separable(
        images, _binomial_taps(height, dtype), _binomial_taps(width, dtype)
    )
    return out[0] if squeeze else out


def pyramid_up(images, size):
    """Bilinear upsampling of a pyramid level onto the grid of the level below.

    The inverse geometry of `pyramid_down`: output pixel `j` sits at index
    `j / 2` of the input, so even output pixels copy an input pixel and odd
    ones average two neighbours (the last odd pixel of an even size repeats
    the edge). Runs on the package's sampler (`sample_separable`).
    Bilinear is our reading: Burt & Adelson's EXPAND interpolates with the
    binomial filter instead; `reconstruct_laplacian` is exact with either,
    since it adds back exactly what `laplacian_pyramid` subtracted.

    Args:
        images: `(batch, height, width, channels)` or `(height, width,
            channels)`, a coarse level.
        size: `(height, width)` of the finer level, python ints, scalar
            int tensors or a 1-D int tensor of length 2; normally
            `2 * height` or `2 * height - 1`.

    Returns:
        `(batch, size[0], size[1], channels)`.

    Example:

    >>> coarse = np.array([[[[0.0], [2.0]]]], "float32")  # 1 x 2
    >>> keras.ops.convert_to_numpy(pyramid_up(coarse, (1, 4))[0, 0, :, 0])
    array([0., 1., 2., 2.], dtype=float32)

    Convention: output pixel `j` samples the input at index `j / 2`
    (pixel coordinate `j / 2 + 0.5`), border padding.
    """
    images, squeeze = _image_batch(images)
    height, width = _height_and_width(size)
    dtype = _position_dtype(images)
    out = sample_separable(
        images,
        _sample_positions(width, dtype, scale=0.5),
        _sample_positions(height, dtype, scale=0.5),
        padding_mode="border",
    )
    return out[0] if squeeze else out


def gaussian_pyramid(images, levels):
    """Gaussian pyramid: the images and `levels - 1` successive `pyramid_down`s.

    Args:
        images: `(batch, height, width, channels)` or `(height, width,
            channels)`; spatial dims may be unknown until run time.
        levels: number of levels returned, the input included; a positive
            python int.

    Returns:
        A list of `levels` tensors; level `k` has `ceil(height / 2^k) x
        ceil(width / 2^k)` pixels (level 0 is the input, as a float tensor).

    Example:

    >>> images = np.ones((1, 13, 13, 1), "float32")
    >>> [level.shape[1] for level in gaussian_pyramid(images, 4)]
    [13, 7, 4, 2]

    Convention: see `pyramid_down` (pixel `j` of level `k + 1` is centred
    on pixel `2 j` of level `k`).
    """
    levels = check_positive_int("levels", levels)
    images, squeeze = _image_batch(images)
    pyramid = [images]
    for _ in range(levels - 1):
        pyramid.append(pyramid_down(pyramid[-1]))
    return [level[0] for level in pyramid] if squeeze else pyramid


def laplacian_pyramid(images, levels):
    """Laplacian pyramid: band-pass levels and the coarsest Gaussian level.

    Level `k < levels - 1` is Gaussian level `k` minus `pyramid_up` of
    Gaussian level `k + 1`; the last level is the last Gaussian level. So
    `reconstruct_laplacian` recovers the images exactly (up to float
    rounding), for odd and even sizes.

    Args:
        images: `(batch, height, width, channels)` or `(height, width,
            channels)`; spatial dims may be unknown until run time.
        levels: number of levels, a positive python int (`levels=1` returns
            the images).

    Returns:
        A list of `levels` tensors with the sizes of `gaussian_pyramid`.

    Example:

    >>> images = np.random.default_rng(0).random((2, 13, 10, 3)).astype("float32")
    >>> pyramid = laplacian_pyramid(images, 3)
    >>> [tuple(level.shape) for level in pyramid]
    [(2, 13, 10, 3), (2, 7, 5, 3), (2, 4, 3, 3)]
    >>> rebuilt = keras.ops.convert_to_numpy(reconstruct_laplacian(pyramid))
    >>> float(np.abs(rebuilt - images).max()) < 1e-5
    True

    Convention: see `pyramid_down` and `pyramid_up`.
    """
    levels = check_positive_int("levels", levels)
    images, squeeze = _image_batch(images)
    gaussian = gaussian_pyramid(images, levels)
    pyramid = []
    for fine, coarse in zip(gaussian[:-1], gaussian[1:], strict=True):
        pyramid.append(fine - pyramid_up(coarse, ops.shape(fine)[1:3]))
    pyramid.append(gaussian[-1])
    return [level[0] for level in pyramid] if squeeze else pyramid


def reconstruct_laplacian(pyramid):
    """Invert `laplacian_pyramid`: add the upsampled coarser levels back in.

    Starting from the last (coarsest) level, each step upsamples the current
    image onto the next finer level's grid with `pyramid_up` and adds that
    level. The upsampling is the one `laplacian_pyramid` subtracted, so the
    result equals the original images up to float rounding.

    Args:
        pyramid: a non-empty list of tensors, as returned by
            `laplacian_pyramid` (all rank 4, or all rank 3).

    Returns:
        The images, with the size of `pyramid[0]`.

    Example:

    >>> images = np.random.default_rng(0).random((1, 9, 16, 3)).astype("float32")
    >>> rebuilt = reconstruct_laplacian(laplacian_pyramid(images, 4))
    >>> float(np.abs(keras.ops.convert_to_numpy(rebuilt) - images).max()) < 1e-5
    True

    Convention: see `pyramid_up`.
    """
    if not isinstance(pyramid, (list, tuple)) or not pyramid:
        raise ValueError(
            "Expected `pyramid` to be a non-empty list of image tensors. "
            f"Received: pyramid={pyramid!r}"
        )
    levels = [_image_batch(level, name="pyramid level") for level in pyramid]
    squeeze = levels[0][1]
    levels = [level for level, _ in levels]
    images = levels[-1]
    for band in reversed(levels[:-1]):
        images = band + pyramid_up(ops.cast(images, band.dtype), ops.shape(band)[1:3])
    return images[0] if squeeze else images
