"""Saliency -> warp: the attraction kernel, its coarse grid and the dense grid.

Recasens et al.'s attraction kernel with FOVEA's separable and anti-crop
variants turns a saliency map into a coarse grid; `upsample_grid`
evaluates the piecewise-bilinear warp between the nodes at the pixel
centres of the zoomed image; `grid_to_coordinates` converts extent
coordinates to the sampler's conventions.

Convention: extent coordinates (see `keras_resize.ops.warp`): -1 and +1 are
the outer borders of the image.
"""

import functools
import math

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.ops import kernels
from keras_resize.ops.sampling import (
    from_index_space,
    resample_separable,
    to_index_space,
)
from keras_resize.ops.validation import check_bool, check_choice, check_size
from keras_resize.ops.warp.checks import (
    DEFAULT_FWHM,
    PADDINGS,
    as_grid,
    as_saliency,
    check_fwhm,
    dtype_name,
    matmul,
    sanitize_saliency,
)

_LOG2 = math.log(2.0)


@functools.lru_cache(maxsize=128)
def attraction_matrices(size, pad, fwhm, padding):
    """Padding and the valid 1-D convolution with the Gaussian, as matrices.

    For a saliency profile `s` of length `size`, `s @ offset` and
    `s @ weight` are `conv1d_valid(pad(s) * (Px - Px[j]), k)` and
    `conv1d_valid(pad(s), k)` of the attraction kernel, where `Px[t] = (t -
    P) / (size - 1)` are the (padded) node positions. Folding the padding
    into the matrices keeps it exact: with REFLECT the offsets of the two
    mirrored taps of an end node cancel exactly, so the end nodes land
    exactly on the image borders (anti-crop).

    Returns:
        `(offset, weight)`, two float64 numpy arrays `(size, size)` (cached;
        do not modify them).
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


def _attract(numerator, denominator, base, clip, xp):
    """`base + num / den`, the identity position where `den == 0`.

    With `clip` (reflect padding) the result is clipped to `[-1, 1]`, which
    only removes rounding there (the end nodes are exactly the borders).
    Replicate padding is not clipped: its nodes may lie past the borders,
    and clipping them would collapse nodes onto the border (a warp that
    cannot be inverted).
    """
    positive = denominator > 0
    safe = xp.where(positive, denominator, xp.ones_like(denominator))
    shift = xp.where(positive, numerator / safe, xp.zeros_like(safe))
    position = 2.0 * (base + shift) - 1.0
    return xp.clip(position, -1.0, 1.0) if clip else position


def attraction_grid(saliency, fwhm, padding, separable, xp=ops):
    """The attraction kernel on a checked `(batch, gh, gw)` saliency.

    The arithmetic of `coarse_grid` without its argument checks, written
    against `xp`: `keras_resize.backend.ops` (tensors) or
    `keras_resize.ops.warp.numpy_ops` (float64 numpy, for fixed warps).

    Returns:
        `(batch, gh, gw, 2)` coarse grid in the dtype of `saliency`.
    """
    dtype = dtype_name(saliency)
    grid_height, grid_width = saliency.shape[1], saliency.shape[2]
    pad = min(grid_height, grid_width) - 1
    saliency = sanitize_saliency(saliency, xp)
    clip = padding == "reflect"

    def constant(value):
        return xp.convert_to_tensor(np.asarray(value).astype(dtype))

    offset_x, weight_x = attraction_matrices(grid_width, pad, fwhm, padding)
    offset_y, weight_y = attraction_matrices(grid_height, pad, fwhm, padding)
    base_x = constant(np.arange(grid_width) / (grid_width - 1))
    base_y = constant(np.arange(grid_height) / (grid_height - 1))
    if separable:
        sx = xp.sum(saliency, axis=1)  # (b, gw)
        sy = xp.sum(saliency, axis=2)  # (b, gh)
        x = _attract(
            matmul(sx, constant(offset_x), "bi,ij->bj", xp),
            matmul(sx, constant(weight_x), "bi,ij->bj", xp),
            base_x,
            clip,
            xp,
        )
        y = _attract(
            matmul(sy, constant(offset_y), "bi,ij->bj", xp),
            matmul(sy, constant(weight_y), "bi,ij->bj", xp),
            base_y,
            clip,
            xp,
        )
        batch = list(xp.shape(saliency))[0]
        shape = [batch, grid_height, grid_width]
        x = xp.broadcast_to(xp.expand_dims(x, 1), shape)
        y = xp.broadcast_to(xp.expand_dims(y, 2), shape)
        return xp.stack([x, y], axis=-1)
    # 2-D: num_x = Wy^T S Ox, num_y = Oy^T S Wx, den = Wy^T S Wx
    weight_y_t = constant(weight_y.T)
    s_weight_x = matmul(saliency, constant(weight_x), "bij,jk->bik", xp)
    den = matmul(weight_y_t, s_weight_x, "ij,bjk->bik", xp)
    num_x = matmul(
        weight_y_t,
        matmul(saliency, constant(offset_x), "bij,jk->bik", xp),
        "ij,bjk->bik",
        xp,
    )
    num_y = matmul(constant(offset_y.T), s_weight_x, "ij,bjk->bik", xp)
    x = _attract(num_x, den, base_x, clip, xp)
    y = _attract(num_y, den, xp.expand_dims(base_y, -1), clip, xp)
    return xp.stack([x, y], axis=-1)


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
    cropped. `"replicate"` repeats the edge saliency: it may crop (end
    nodes inside the image) or extend past the borders; its nodes are
    **not clipped** to `[-1, 1]` (our reading: Recasens' release clips, which
    collapses nodes onto the border and makes the warp non-invertible), so
    the nodes are strictly increasing along each axis and every separable
    warp is invertible; `zoom` clamps samples past a border to the edge
    pixels (the replicated border). A nonseparable warp with replicate
    padding can, rarely (saliency contrasts of ~1e3:1 and more), fold: its
    free border rows and columns rotate so far that a tile turns inside
    out, and the warp is not one-to-one there (`folded_tiles` finds such
    tiles; the inverses then return one preimage of a point, or
    `UNCOVERED`, see `invert_nonseparable_grid`). Uniform saliency gives the
    identity warp. The result is differentiable with respect to `saliency`;
    the kernel (padding folded in) is a pair of constant matrices, so the op
    is a few small matmuls.

    Graph-mode policy (values cannot be checked inside `tf.function`,
    `jax.jit`, `predict`, XLA or TFLite; eager and numpy input raise a
    `ValueError` for NaN, inf, negative values or a map of zeros instead):
    the saliency is rescaled by its maximum and raised to a floor of
    `SALIENCY_FLOOR` (1e-6) times the maximum, NaN and negative values
    count as 0 (so the floor) and `+inf` as the largest float, so the grid
    is finite for any input and a map of zeros or NaNs is the identity
    warp. The rescaling and the floor apply in eager mode too (the warp is
    scale invariant; the floor only lifts values below 1e-6 of the maximum).

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

    >>> grid = coarse_grid(np.ones((3, 5), "float32"))  # uniform saliency
    >>> keras.ops.convert_to_numpy(grid[0, 0, :, 0])
    array([-1. , -0.5,  0. ,  0.5,  1. ], dtype=float32)

    Convention: extent coordinates (see `keras_resize.ops.warp`); a node's
    saliency regions closer than a few `fwhm` attract it.
    """
    fwhm = check_fwhm(fwhm)
    check_choice("padding", padding, PADDINGS)
    check_bool("separable", separable)
    saliency = as_saliency(saliency)
    return attraction_grid(saliency, fwhm, padding, separable)


def _axis_upsample_taps(grid_size, out_size, dtype):
    """Linear taps evaluating node values at the centres of `out_size` pixels
    (node `j` at extent fraction `j / (grid_size - 1)`)."""
    o = ops.arange(out_size, dtype=dtype)
    c = (o + 0.5) * (grid_size - 1) / out_size
    return kernels.linear_taps(c, grid_size, "border")


def _numpy_upsample_last_axis(values, out_size):
    """`upsample_axis` in numpy, along the last axis of `values`."""
    grid_size = values.shape[-1]
    c = (np.arange(out_size, dtype=values.dtype) + 0.5) * (grid_size - 1) / out_size
    u = np.clip(c, 0.0, grid_size - 1.0)
    floor = np.floor(u)
    fraction = u - floor
    low = floor.astype(np.int64)
    high = np.minimum(low + 1, grid_size - 1)
    return values[..., low] * (1.0 - fraction) + values[..., high] * fraction


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

    >>> dense = upsample_grid(coarse_grid(np.ones((3, 3), "float32")), (2, 4))
    >>> keras.ops.convert_to_numpy(dense[0, 0, :, 0])
    array([-0.75, -0.25,  0.25,  0.75], dtype=float32)

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    grid = as_grid(grid)
    height, width = check_size(output_size, "output_size")
    dtype = dtype_name(grid)
    rows = _axis_upsample_taps(grid.shape[1], height, dtype)
    columns = _axis_upsample_taps(grid.shape[2], width, dtype)
    return resample_separable(grid, rows, columns)


def upsample_grid_numpy(grid, output_size):
    """`upsample_grid` of a numpy grid `(batch, gh, gw, 2)`, in numpy.

    For fixed warps computed ahead of time (float64).
    """
    height, width = check_size(output_size, "output_size")
    grid = np.asarray(grid)
    rows = _numpy_upsample_last_axis(np.moveaxis(grid, 1, -1), height)
    rows = np.moveaxis(rows, -1, 1)  # (b, height, gw, 2)
    columns = _numpy_upsample_last_axis(np.moveaxis(rows, 2, -1), width)
    return np.moveaxis(columns, -1, 2)


def upsample_axis(nodes, out_size):
    """`(batch, g)` node values -> `(batch, out_size)` at the pixel centres.

    The 1-D `upsample_grid` of a separable warp (one axis). numpy input
    (fixed warps) is computed in numpy, in its own dtype.

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    if isinstance(nodes, np.ndarray):
        return _numpy_upsample_last_axis(nodes, out_size)
    grid_size = nodes.shape[-1]
    taps = _axis_upsample_taps(grid_size, out_size, dtype_name(nodes))
    batch = list(ops.shape(nodes))[0]
    line = ops.reshape(nodes, [batch, 1, grid_size, 1])
    return ops.reshape(resample_separable(line, None, taps), [batch, out_size])


def separable_axes(grid):
    """The 1-D maps `(x (batch, gw), y (batch, gh))` of a separable grid.

    Reads the first row's x and the first column's y (LZU's convention for
    separable grids). numpy grids give numpy arrays.
    """
    if not isinstance(grid, np.ndarray):
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
    >>> grid = saliency_to_grid(np.ones((5, 7), "float32"), (8, 12))
    >>> coordinates = grid_to_coordinates(grid, (32, 48), "normalized")
    >>> zoomed = keras_resize.ops.sample(images, coordinates, convention="normalized")
    >>> expected = keras_resize.ops.resize(images, (8, 12))
    >>> bool(np.allclose(zoomed, expected, atol=1e-5))
    True

    Convention: extent coordinates (see `keras_resize.ops.warp`); uniform
    saliency gives the half-pixel bilinear resize.
    """
    grid = coarse_grid(saliency, fwhm=fwhm, padding=padding, separable=separable)
    return upsample_grid(grid, output_size)


def from_extent(coordinates, size, convention="pixel"):
    """Extent coordinates along one axis -> the sampler's `convention`.

    Args:
        coordinates: float tensor of extent coordinates (-1 and +1 are the
            outer borders of the axis).
        size: number of pixels along the axis (int or scalar tensor).
        convention: `"pixel"` (pixel `i` centred at `i + 0.5`) or
            `"normalized"` (align-corners).

    Returns:
        Coordinates in `convention`, same shape and dtype.
    """
    dtype = dtype_name(coordinates)
    pixels = (coordinates + 1.0) * 0.5 * ops.cast(size, dtype)
    if convention == "pixel":
        return pixels
    return from_index_space(to_index_space(pixels, size, "pixel"), size, "normalized")


def to_extent(pixels, size):
    """Pixel coordinates (pixel `i` centred at `i + 0.5`) -> extent coordinates."""
    return pixels / ops.cast(size, dtype_name(pixels)) * 2.0 - 1.0


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

    >>> coordinates = grid_to_coordinates(np.array([[-1.0, 1.0]], "float32"), (4, 8))
    >>> keras.ops.convert_to_numpy(coordinates)
    array([[0., 4.]], dtype=float32)
    """
    check_choice("convention", convention, ("pixel", "normalized"))
    grid = ops.convert_to_tensor(grid)
    if not keras.backend.is_float_dtype(grid.dtype):
        grid = ops.cast(grid, "float32")
    height, width = image_size
    x = from_extent(grid[..., 0], width, convention)
    y = from_extent(grid[..., 1], height, convention)
    return ops.stack([x, y], axis=-1)
