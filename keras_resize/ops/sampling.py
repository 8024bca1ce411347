"""The one sampler: gathers of interpolation taps, separable and 2-D.

`keras_resize.ops.kernels` decides which source pixels to read and with which
weights; this module reads them with gathers and sums. It is written with
gathers, reshapes and arithmetic only (`keras.ops`), so it runs on TensorFlow,
JAX and PyTorch, is traceable by `jax.jit` and `torch.compile`, compiles under
XLA (`jit_compile=True`) and converts to TFLite with builtin ops only (GATHER,
MUL, SUM/ADD, RESHAPE).

The weighted gather-and-sum at its core (`_weighted_sum_of_gathers`) is the
one backend-specific place of `keras_resize.ops`: on TensorFlow it is
`tf.gather(batch_dims=...)` run as a nested XLA cluster (see
`set_xla_fusion`); on JAX and PyTorch it is `ops.take` /
`ops.take_along_axis` and a multiply-add per tap (on JAX in a nested
`jax.jit`).

Convention: images are NHWC. Public functions take coordinates in one of two
systems, chosen with `convention`:

- `"pixel"` (default): continuous pixel coordinates with the origin at the
  top-left image corner, so the centre of pixel `i` is at `i + 0.5` and the
  image spans `[0, size]`. This is the convention of `tf.image.resize`
  (half-pixel centres) and of box coordinates.
- `"normalized"`: the centre of the first pixel is at -1 and the centre of
  the last pixel at +1 (PyTorch `grid_sample(align_corners=True)`).

Coordinate pairs are ordered `(x, y)`, i.e. `(column, row)`, as in
`grid_sample`.
"""

import keras

from keras_resize import backend
from keras_resize.backend import ops
from keras_resize.ops import kernels
from keras_resize.ops.validation import (
    as_image_batch,
    check_choice,
    check_non_empty_spatial,
    check_non_negative_int,
    check_same_batch,
    static_or_dynamic_shape,
    tensor_rank,
)

CONVENTIONS = ("pixel", "normalized")
INTERPOLATIONS = ("bilinear", "nearest")


def _dtype(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


def to_index_space(coordinates, size, convention="pixel"):
    """Map `pixel` or `normalized` coordinates to index space (pixel i at i)."""
    check_choice("convention", convention, CONVENTIONS)
    coordinates = ops.convert_to_tensor(coordinates)
    if convention == "pixel":
        return coordinates - 0.5
    size = ops.cast(size, _dtype(coordinates))
    return (coordinates + 1.0) * 0.5 * (size - 1.0)


def from_index_space(u, size, convention="pixel"):
    """Inverse of `to_index_space`."""
    check_choice("convention", convention, CONVENTIONS)
    u = ops.convert_to_tensor(u)
    if convention == "pixel":
        return u + 0.5
    size = ops.cast(size, _dtype(u))
    last = ops.maximum(size - 1.0, 1.0)
    return u / last * 2.0 - 1.0


_XLA_FUSION = [True]


def set_xla_fusion(enabled):
    """Run the sampler's gather-and-sum core as one XLA cluster (default on).

    On TensorFlow the core is a nested `tf.function(jit_compile=True)`;
    TensorFlow would otherwise execute a gather followed by a weighted sum as
    separate kernels with full-size intermediates, while XLA fuses them into
    one loop, which is what makes the gather-based resize as fast as (or
    faster than) `tf.image.resize` on CPU. The nested function is inlined by
    TFLite conversion and by an enclosing `jit_compile=True` model. On JAX the
    core is a nested `jax.jit` (inlined by an enclosing `jax.jit`; eager calls
    compile it once per shape instead of op by op). PyTorch ignores the
    setting (`torch.compile` the caller instead). Turn it off to run plain
    kernels (for example on a platform without XLA).
    """
    _XLA_FUSION[0] = bool(enabled)


def xla_fusion_enabled():
    """Whether the sampler core runs as a nested XLA cluster (TF and JAX)."""
    return _XLA_FUSION[0]


def _fusable(function):
    """Call `function` as one nested XLA computation on TensorFlow and JAX.

    On TensorFlow a `tf.function(jit_compile=True)`, on JAX a `jax.jit`,
    built on first use (the framework is imported lazily). On PyTorch, and
    with fusion off, `function` runs as is.
    """
    compiled = {}

    def call(*args, **kwargs):
        name = backend.name()
        if not _XLA_FUSION[0] or name not in ("tensorflow", "jax"):
            return function(*args, **kwargs)
        if name not in compiled:
            if name == "tensorflow":
                tf = backend.tensorflow()
                compiled[name] = tf.function(
                    function, jit_compile=True, autograph=False
                )
            else:
                import jax

                compiled[name] = jax.jit(function)
        return compiled[name](*args, **kwargs)

    call.__name__ = function.__name__
    call.__doc__ = function.__doc__
    return call


def _weighted_sum_of_gathers(
    params, indices, weights, axis, batch_dims, expand, zero_empty=False
):
    """`sum_t expand(weights[..., t]) * gather(params, indices[..., t])`.

    The one backend-specific function of `keras_resize.ops`. With a static
    number of taps the sum is unrolled tap by tap (no `(..., taps, ...)`
    intermediate; XLA fuses it into one loop). With a dynamic number of taps
    (a TensorFlow graph with an unknown input size) the taps are gathered at
    once and reduced. On PyTorch, shared taps of a float image batch are
    summed by `embedding_bag` (`_weighted_sum_of_gathers_torch`).

    `batch_dims=0`: `indices` is shared by all the axes before `axis`.
    `batch_dims=1`: `indices` is `(batch, n, taps)`, one row per sample (the
    first axis of `params`).

    `zero_empty`: outputs whose taps all weigh exactly 0 (sample points
    outside the image with zero padding) are set to 0 with a select, not
    left at `sum 0 * pixel`, which is NaN when a read pixel is NaN or inf.
    """
    if backend.is_tensorflow():
        total = _weighted_sum_of_gathers_tensorflow(
            params, indices, weights, axis, batch_dims, expand
        )
    elif _torch_bags_apply(params, batch_dims):
        total = _weighted_sum_of_gathers_torch(params, indices, weights, axis)
    else:
        weights = ops.cast(weights, _dtype(params))
        total = None
        for t in range(indices.shape[-1]):
            term = _gather(params, indices[..., t], axis, batch_dims)
            term = term * expand(weights[..., t])
            total = term if total is None else total + term
    if zero_empty:
        # `expand` maps a `(.., n)` slice of the weights (one tap) onto the
        # output, so it places the per-output mask too
        inside = expand(ops.any(ops.not_equal(weights, 0), axis=-1))
        total = ops.where(inside, total, ops.zeros_like(total))
    return total


def _gather(params, index, axis, batch_dims):
    """`tf.gather(params, index, axis, batch_dims)` in `keras.ops` (JAX, torch)."""
    if batch_dims == 0:
        return ops.take(params, index, axis=axis)
    # Per-sample (batch, n) indices -> (batch, 1, .., n, .., 1): take_along_axis
    # broadcasts the size-1 axes (no index array as large as the output).
    shape = [1] * tensor_rank(params)
    shape[0] = index.shape[0]
    shape[axis] = index.shape[1]
    return ops.take_along_axis(params, ops.reshape(index, shape), axis=axis)


_TORCH_BAG_DTYPES = ("float32", "float64", "float16", "bfloat16")


def _torch_bags_apply(params, batch_dims):
    """Whether the PyTorch fast path below applies: shared taps, a float
    dtype that `embedding_bag` takes, and a non-empty batch."""
    if backend.name() != "torch" or batch_dims != 0:
        return False
    if keras.backend.standardize_dtype(params.dtype) not in _TORCH_BAG_DTYPES:
        return False
    return tensor_rank(params) == 4 and params.shape[0] > 0


def _weighted_sum_of_gathers_torch(params, indices, weights, axis):
    """The weighted gather-and-sum of shared taps with `embedding_bag`.

    `torch.nn.functional.embedding_bag(mode="sum", per_sample_weights=...)`
    is exactly `sum_t weights[o, t] * table[indices[o, t]]` in one kernel,
    without the full-size intermediate of every tap that `take` + multiply
    + add write and read back (2-12x faster on CPU, see
    `benchmarks/results/resize_speed.md`). The table holds the batch's
    images with the sampled axis first (rows as they are, columns after a
    transpose), `(batch * size, rest)`, and image `b`'s taps are offset by
    `b * size`: one call for the batch. Differentiable in the images and
    the weights, like the generic path.
    """
    import torch
    import torch.nn.functional as F

    batch, height, width, channels = params.shape
    if axis == 1:
        size, table = height, params.reshape(batch * height, width * channels)
    else:
        size = width
        table = params.transpose(1, 2).reshape(batch * width, height * channels)
    out, taps = indices.shape
    offsets = torch.arange(batch, device=table.device, dtype=torch.int64) * size
    indices = indices.to(device=table.device, dtype=torch.int64)
    indices = (indices[None] + offsets[:, None, None]).reshape(batch * out, taps)
    weights = weights.to(device=table.device, dtype=params.dtype)
    weights = weights[None].expand(batch, out, taps).reshape(batch * out, taps)
    total = F.embedding_bag(indices, table, per_sample_weights=weights, mode="sum")
    if axis == 1:
        return total.reshape(batch, out, width, channels)
    return total.reshape(batch, out, height, channels).transpose(1, 2)


def _weighted_sum_of_gathers_tensorflow(
    params, indices, weights, axis, batch_dims, expand
):
    tf = backend.tensorflow()
    taps = indices.shape[-1]
    weights = tf.cast(weights, params.dtype)
    if taps is not None:
        total = None
        for t in range(taps):
            term = tf.gather(params, indices[..., t], axis=axis, batch_dims=batch_dims)
            term = term * expand(weights[..., t])
            total = term if total is None else total + term
        return total
    gathered = tf.gather(params, indices, axis=axis, batch_dims=batch_dims)
    # gathered: params dims before `axis`, then indices dims (.., taps), then rest
    weights = expand(weights)
    # move taps next to the sampled axis: weights already broadcast with taps
    # as the last indices dim, i.e. at position axis + indices.rank - 1 - batch_dims
    return tf.reduce_sum(
        gathered * weights, axis=axis + indices.shape.rank - 1 - batch_dims
    )


def resample_axis(images, indices, weights, axis, zero_empty=False):
    """Weighted gather of taps along one spatial axis.

    Args:
        images: `(batch, height, width, channels)` float tensor.
        indices: int32 `(out, taps)` shared by the batch, or
            `(batch, out, taps)` per sample; values in range for `axis`.
        weights: float, same shape as `indices`.
        axis: 1 (rows) or 2 (columns).
        zero_empty: set the outputs whose weights are all 0 to exactly 0
            (a select), also when the pixels they read are NaN or inf
            (zero padding).

    Returns:
        `images` with `axis` resampled to length `out`:
        `out[..., o, ...] = sum_t weights[o, t] * images[..., indices[o, t], ...]`.
    """
    if axis not in (1, 2):
        raise ValueError(f"Expected `axis` to be 1 or 2. Received: axis={axis}")
    indices = ops.convert_to_tensor(indices)
    weights = ops.convert_to_tensor(weights)
    per_sample = tensor_rank(indices) == 3
    batch_dims = 1 if per_sample else 0

    def expand(w):
        # w: (out[, taps]) or (batch, out[, taps]) -> broadcastable to the
        # gathered (batch, ..., out, [taps], ..., channels) tensor
        if not per_sample:
            w = ops.expand_dims(w, 0)
        # (explicit expand_dims: TFLite has no StridedSlice with new axes)
        if axis == 1:
            return ops.expand_dims(ops.expand_dims(w, -1), -1)
        return ops.expand_dims(ops.expand_dims(w, 1), -1)

    return _weighted_sum_of_gathers(
        images, indices, weights, axis, batch_dims, expand, zero_empty
    )


def _resample_separable(images, rows, columns, zero_empty=False):
    if rows is not None:
        images = resample_axis(images, rows[0], rows[1], 1, zero_empty)
    if columns is not None:
        images = resample_axis(images, columns[0], columns[1], 2, zero_empty)
    return images


def _resample_separable_zero_empty(images, rows, columns):
    return _resample_separable(images, rows, columns, zero_empty=True)


_resample_separable_fused = _fusable(_resample_separable)
_resample_separable_zero_empty_fused = _fusable(_resample_separable_zero_empty)


def resample_separable(images, rows, columns, zero_empty=False):
    """Resample rows, then columns, each with `(indices, weights)` taps.

    This is the fast path for every warp that is a product of 1-D maps:
    plain resizing and separable zoom. `rows` or `columns` may be None to
    leave that axis unchanged. `indices`/`weights` are `(out, taps)` shared
    by the batch or `(batch, out, taps)` per sample. With `zero_empty`, an
    output row or column whose weights are all 0 is exactly 0 (zero
    padding: no `0 * NaN` from the pixels its clamped taps read).
    """
    if rows is None and columns is None:
        return images
    if zero_empty:
        return _resample_separable_zero_empty_fused(images, rows, columns)
    return _resample_separable_fused(images, rows, columns)


def _taps(coordinates, size, interpolation, padding_mode):
    if interpolation == "bilinear":
        return kernels.linear_taps(coordinates, size, padding_mode)
    return kernels.nearest_taps(coordinates, size, padding_mode)


def _position_dtype(images):
    return "float64" if _dtype(images) == "float64" else "float32"


def sample_separable(
    images,
    x,
    y,
    interpolation="bilinear",
    padding_mode="zeros",
    convention="pixel",
):
    """Sample `images` on the grid `(x[j], y[i])`, a product of 1-D maps.

    Equivalent to `sample(images, grid)` with `grid[b, i, j] = (x[b, j],
    y[b, i])`, at the cost of two 1-D passes.

    Args:
        images: `(batch, height, width, channels)` or `(height, width,
            channels)`.
        x: column coordinates, `(out_width,)` shared or `(batch, out_width)`.
        y: row coordinates, `(out_height,)` shared or `(batch, out_height)`.
        interpolation: `"bilinear"` or `"nearest"`.
        padding_mode: `"zeros"`, `"border"` or `"reflect"`.
        convention: `"pixel"` or `"normalized"` (see the module docstring).

    Returns:
        `(batch, out_height, out_width, channels)` (no batch axis for
        rank-3 input). With `"zeros"` padding, outputs whose taps all lie
        outside the image are exactly 0, even next to NaN or inf pixels.

    Raises:
        ValueError: if the images have a height or width of 0, or a
            per-sample `x` / `y` has another batch size than the images
            (static shapes).

    Convention: see the module docstring.
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    check_choice("padding_mode", padding_mode, kernels.PADDING_MODES)
    check_choice("convention", convention, CONVENTIONS)
    images, squeeze = as_image_batch(images)
    check_non_empty_spatial("images", images)
    shape = static_or_dynamic_shape(images)
    pos_dtype = _position_dtype(images)
    x = ops.cast(x, pos_dtype)
    y = ops.cast(y, pos_dtype)
    for name, value in (("x", x), ("y", y)):
        if tensor_rank(value) not in (1, 2):
            raise ValueError(
                f"Expected `{name}` to have rank 1 (shared) or 2 (per sample). "
                f"Received: {name}.shape={tuple(value.shape)}"
            )
        if tensor_rank(value) == 2:
            check_same_batch("images", images, name, value)
    rows = _taps(
        to_index_space(y, shape[1], convention), shape[1], interpolation, padding_mode
    )
    columns = _taps(
        to_index_space(x, shape[2], convention), shape[2], interpolation, padding_mode
    )
    out = resample_separable(images, rows, columns, zero_empty=padding_mode == "zeros")
    return out[0] if squeeze else out


def sample(
    images,
    coordinates,
    interpolation="bilinear",
    padding_mode="zeros",
    convention="pixel",
):
    """Sample `images` at 2-D `coordinates` (a differentiable grid sampler).

    Args:
        images: `(batch, height, width, channels)` float tensor (or rank 3).
        coordinates: `(batch, out_height, out_width, 2)` pairs `(x, y)`; a
            batch of 1 is shared by all images (a fixed grid).
        interpolation: `"bilinear"` or `"nearest"`.
        padding_mode: `"zeros"`, `"border"` or `"reflect"`.
        convention: `"pixel"` (pixel centres at `i + 0.5`) or `"normalized"`
            (first/last pixel centres at -1/+1, align-corners).

    Returns:
        `(batch, out_height, out_width, channels)`, differentiable with
        respect to `images` and (bilinear) `coordinates`. With `"zeros"`
        padding, points whose taps all lie outside the image give exactly
        0, even next to NaN or inf pixels.

    Raises:
        ValueError: if the images have a height or width of 0, or the
            coordinates' batch size is neither 1 nor the images' (static
            shapes). A grid whose batch size is unknown until run time (a
            TensorFlow graph) may still be 1: it is broadcast to the batch.

    Example:

    >>> images = np.arange(16, dtype="float32").reshape((1, 4, 4, 1))
    >>> grid = np.array([[[[1.0, 1.0], [2.0, 0.5]]]], "float32")  # (x, y) pixels
    >>> keras.ops.convert_to_numpy(sample(images, grid)[0, 0, :, 0])
    array([2.5, 1.5], dtype=float32)

    Convention: see the module docstring; pairs are `(x, y)`.
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    check_choice("padding_mode", padding_mode, kernels.PADDING_MODES)
    check_choice("convention", convention, CONVENTIONS)
    images, squeeze = as_image_batch(images)
    check_non_empty_spatial("images", images)
    coordinates = ops.convert_to_tensor(coordinates)
    if squeeze and tensor_rank(coordinates) == 3:
        coordinates = ops.expand_dims(coordinates, 0)
    if tensor_rank(coordinates) != 4 or coordinates.shape[-1] != 2:
        raise ValueError(
            "Expected `coordinates` of shape (batch, height, width, 2) holding "
            f"(x, y) pairs. Received: coordinates.shape={tuple(coordinates.shape)}"
        )
    check_same_batch("images", images, "coordinates", coordinates, True)
    coordinates = ops.cast(coordinates, _position_dtype(images))
    batch, height, width, channels = static_or_dynamic_shape(images)
    grid_shape = static_or_dynamic_shape(coordinates)
    u = to_index_space(coordinates[..., 0], width, convention)
    v = to_index_space(coordinates[..., 1], height, convention)
    iy, wy = _taps(v, height, interpolation, padding_mode)
    ix, wx = _taps(u, width, interpolation, padding_mode)
    # (b, h, w, ty, tx) -> (b, h, w, ty * tx)
    index = iy[..., :, None] * width + ix[..., None, :]
    weight = wy[..., :, None] * wx[..., None, :]
    taps = iy.shape[-1] * ix.shape[-1]
    index = ops.reshape(index, [grid_shape[0], grid_shape[1], grid_shape[2], taps])
    weight = ops.reshape(weight, [grid_shape[0], grid_shape[1], grid_shape[2], taps])
    if coordinates.shape[0] == 1:  # a grid shared by the batch
        index, weight = index[0], weight[0]
    elif coordinates.shape[0] is None:
        # a TensorFlow graph: the grid's batch size is 1 or the images' at
        # run time; broadcasting covers both
        out_shape = [batch, grid_shape[1], grid_shape[2], taps]
        index = ops.broadcast_to(index, out_shape)
        weight = ops.broadcast_to(weight, out_shape)
    out = _combine(images, index, weight, zero_empty=padding_mode == "zeros")
    return out[0] if squeeze else out


def _combine_taps(flat_images, index, weight, zero_empty=False):
    per_sample_index = tensor_rank(index) == 3
    per_sample_weight = tensor_rank(weight) == 3

    def expand(w):
        return ops.expand_dims(w if per_sample_weight else ops.expand_dims(w, 0), -1)

    return _weighted_sum_of_gathers(
        flat_images,
        index,
        weight,
        axis=1,
        batch_dims=1 if per_sample_index else 0,
        expand=expand,
        zero_empty=zero_empty,
    )


def _combine_taps_zero_empty(flat_images, index, weight):
    return _combine_taps(flat_images, index, weight, zero_empty=True)


_combine_taps_fused = _fusable(_combine_taps)
_combine_taps_zero_empty_fused = _fusable(_combine_taps_zero_empty)


def combine_taps(images, index, weights):
    """Weighted sum of `taps` source pixels per output pixel (2-D gather).

    `out[b, i, j, c] = sum_k weights[b, i, j, k] * images[b, y_k, x_k, c]`
    with the flat pixel index `index[..., k] = y_k * width + x_k`. This is
    the core of the grid sampler, and the output stage of learned
    interpolation (DownsizeNet), whose per-pixel weights come from a
    network while the neighbour indices are fixed.

    Args:
        images: `(batch, height, width, channels)`.
        index: int32 flat indices `(out_h, out_w, taps)` shared by the
            batch, or `(batch, out_h, out_w, taps)`; all in range.
        weights: `(out_h, out_w, taps)` shared, or `(batch, out_h, out_w,
            taps)` per sample.

    Returns:
        `(batch, out_h, out_w, channels)`.

    Raises:
        ValueError: if `images` is not rank 4 or has a height or width of
            0, `index` or `weights` is not rank 3 or 4, their shapes differ
            (a shared `(out_h, out_w, taps)` may be paired with a per-sample
            one), the number of taps is unknown, or a per-sample `index` /
            `weights` has another batch size than `images` (static shapes).
    """
    images = ops.convert_to_tensor(images)
    index = ops.convert_to_tensor(index)
    weights = ops.convert_to_tensor(weights)
    _check_combine_arguments(images, index, weights)
    weights = ops.cast(weights, _dtype(images))
    return _combine(images, index, weights)


def _check_combine_arguments(images, index, weights):
    if tensor_rank(images) != 4:
        raise ValueError(
            "Expected `images` to have rank 4 (batch, height, width, channels). "
            f"Received: images.shape={_shape_of(images)}"
        )
    check_non_empty_spatial("images", images)
    for name, value in (("index", index), ("weights", weights)):
        if tensor_rank(value) not in (3, 4):
            raise ValueError(
                f"Expected `{name}` to have rank 3 (out_h, out_w, taps), shared "
                f"by the batch, or 4 (batch, out_h, out_w, taps). Received: "
                f"{name}.shape={_shape_of(value)}"
            )
        if tensor_rank(value) == 4:
            check_same_batch("images", images, name, value)
    if index.shape[-1] is None:
        raise ValueError(
            "Expected `index` to have a known number of taps (last dim). "
            f"Received: index.shape={_shape_of(index)}"
        )
    if not _compatible(index.shape[-3:], weights.shape[-3:]):
        raise ValueError(
            "Expected `index` and `weights` to have the same (out_h, out_w, taps) "
            f"dims. Received: index.shape={_shape_of(index)} and "
            f"weights.shape={_shape_of(weights)}"
        )
    if tensor_rank(index) == 4 and tensor_rank(weights) == 4:
        check_same_batch("index", index, "weights", weights)


def _shape_of(tensor):
    shape = getattr(tensor, "shape", None)
    try:
        return tuple(shape)
    except (TypeError, ValueError):
        return shape


def _compatible(dims_a, dims_b):
    return all(
        a is None or b is None or a == b for a, b in zip(dims_a, dims_b, strict=True)
    )


def _combine(images, index, weights, zero_empty=False):
    """`combine_taps` without the argument checks (`sample`'s own taps)."""
    batch, height, width, channels = static_or_dynamic_shape(images)
    per_sample_index = tensor_rank(index) == 4
    out_shape = static_or_dynamic_shape(index)[-3:-1]
    taps = index.shape[-1]
    # explicit sizes, no -1: a reshape cannot infer a dim of an empty batch
    pixels = out_shape[0] * out_shape[1]
    lead = [batch] if per_sample_index else []
    flat_index = ops.reshape(index, lead + [pixels, taps])
    if tensor_rank(weights) == 4:
        flat_weights = ops.reshape(weights, [batch, pixels, taps])
    else:
        flat_weights = ops.reshape(weights, [pixels, taps])
    flat_images = ops.reshape(images, [batch, height * width, channels])
    combine = _combine_taps_zero_empty_fused if zero_empty else _combine_taps_fused
    out = combine(flat_images, flat_index, flat_weights)
    return ops.reshape(out, [batch, out_shape[0], out_shape[1], channels])


def _gather_masked(flat_images, index, mask):
    if backend.is_tensorflow():
        gathered = backend.tensorflow().gather(flat_images, index, axis=1)
    else:
        gathered = ops.take(flat_images, index, axis=1)
    # a select, not `gathered * mask`: the padding stays 0 next to NaN pixels
    inside = ops.reshape(ops.not_equal(mask, 0), [1, -1, 1])
    return ops.where(inside, gathered, ops.zeros_like(gathered))


_gather_masked_fused = _fusable(_gather_masked)


def gather_patches(images, rows, columns, radius):
    """Square patches of `(2 * radius + 1)^2` pixels centred on given pixels.

    For every output position `(i, j)` the patch around source pixel
    `(rows[i], columns[j])`, with zeros outside the image (the padding of a
    `"same"` convolution). Lets a small CNN be evaluated only where its
    output is needed (DownsizeNet's features at the projected points), so
    the cost follows the output size instead of the input size.

    Args:
        images: `(batch, height, width, channels)`.
        rows: int32 `(out_h,)` source rows, in range.
        columns: int32 `(out_w,)` source columns, in range.
        radius: int, patch half-size.

    Returns:
        `(patches, inside)`: `patches` of shape `(batch, out_h, out_w, size,
        size, channels)` with `size = 2 * radius + 1`, and `inside`, a
        `(out_h, out_w, size, size)` float mask of the patch pixels that
        lie inside the image.

    Raises:
        ValueError: if `images` is not rank 4 or has a height or width of
            0, `rows` or `columns` is not rank 1, or `radius` is not an int
            >= 0.

    Convention: index space (pixel `i` is row/column `i`).
    """
    images = ops.convert_to_tensor(images)
    if tensor_rank(images) != 4:
        raise ValueError(
            "Expected `images` to have rank 4 (batch, height, width, channels). "
            f"Received: images.shape={_shape_of(images)}"
        )
    check_non_empty_spatial("images", images)
    radius = check_non_negative_int("radius", radius)
    rows = ops.cast(rows, "int32")
    columns = ops.cast(columns, "int32")
    for name, value in (("rows", rows), ("columns", columns)):
        if tensor_rank(value) != 1:
            raise ValueError(
                f"Expected `{name}` to have rank 1. "
                f"Received: {name}.shape={_shape_of(value)}"
            )
    batch, height, width, channels = static_or_dynamic_shape(images)
    size = 2 * radius + 1
    offsets = ops.arange(-radius, radius + 1, dtype="int32")
    patch_rows = rows[:, None] + offsets  # (out_h, size)
    patch_cols = columns[:, None] + offsets  # (out_w, size)
    row_inside = ops.logical_and(patch_rows >= 0, patch_rows < height)
    col_inside = ops.logical_and(patch_cols >= 0, patch_cols < width)
    patch_rows = ops.clip(patch_rows, 0, height - 1)
    patch_cols = ops.clip(patch_cols, 0, width - 1)
    index = patch_rows[:, None, :, None] * width + patch_cols[None, :, None, :]
    inside = ops.cast(
        ops.logical_and(row_inside[:, None, :, None], col_inside[None, :, None, :]),
        _dtype(images),
    )  # (out_h, out_w, size, size)
    out_h = static_or_dynamic_shape(rows)[0]
    out_w = static_or_dynamic_shape(columns)[0]
    flat_images = ops.reshape(images, [batch, height * width, channels])
    patches = _gather_masked_fused(
        flat_images, ops.reshape(index, [-1]), ops.reshape(inside, [-1])
    )
    patches = ops.reshape(patches, [batch, out_h, out_w, size, size, channels])
    return patches, inside
