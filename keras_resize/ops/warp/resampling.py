"""Resampling through a warp: `zoom`, `unzoom`, `resample_inverse`, fixed warps.

Image resampling goes through the package's one sampler
(`keras_resize.ops.sampling`): separable warps take its fast path (two 1-D
passes, the cost of a resize), nonseparable warps its 2-D path. Fixed
warps (`fixed_warp`, `fixed_inverse`) are computed once in float64 numpy,
so only the resampling runs per call.

Convention: extent coordinates (see `keras_resize.ops.warp`).
"""

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.ops.sampling import sample, sample_separable
from keras_resize.ops.validation import (
    as_image_batch,
    check_bool,
    check_choice,
    check_non_empty_spatial,
    check_same_batch,
    check_size,
)
from keras_resize.ops.warp.checks import (
    DEFAULT_FWHM,
    INTERPOLATIONS,
    PADDINGS,
    UNCOVERED,
    as_grid,
    check_fwhm,
    check_grid_shape,
    check_valid_region,
    dtype_name,
    maximum,
    minimum,
    rank,
)
from keras_resize.ops.warp.grid import (
    attraction_grid,
    from_extent,
    grid_to_coordinates,
    separable_axes,
    upsample_axis,
    upsample_grid,
    upsample_grid_numpy,
)
from keras_resize.ops.warp.inverse import inverse_for_resampling, invert_numpy
from keras_resize.ops.warp.numpy_ops import numpy_ops


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

    Raises:
        ValueError: for images of zero height or width, or a grid whose
            batch is neither the images' nor 1 (an empty batch of images is
            valid and gives an empty batch).

    Example:

    >>> images = np.random.default_rng(0).random((2, 40, 60, 3)).astype("float32")
    >>> grid = keras_resize.ops.coarse_grid(np.ones((4, 6), "float32"))
    >>> zoomed = zoom(images, grid, (10, 15))
    >>> expected = keras_resize.ops.resize(images, (10, 15))
    >>> bool(np.allclose(zoomed, expected, atol=1e-5))
    True

    Convention: extent coordinates for the grid (see
    `keras_resize.ops.warp`); uniform saliency equals
    `keras_resize.ops.resize`.
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    check_bool("separable", separable)
    height, width = check_size(output_size, "output_size")
    images, squeeze = as_image_batch(images)
    check_non_empty_spatial("images", images)
    grid = as_grid(grid)
    check_same_batch("images", images, "grid", grid, allow_broadcast=True)
    shape = list(ops.shape(images))
    if separable:
        x_nodes, y_nodes = separable_axes(grid)
        x = from_extent(upsample_axis(x_nodes, width), shape[2], "pixel")
        y = from_extent(upsample_axis(y_nodes, height), shape[1], "pixel")
        if grid.shape[0] == 1:
            x, y = x[0], y[0]
        out = sample_separable(images, x, y, interpolation, "border", "pixel")
    else:
        dense = upsample_grid(grid, (height, width))
        coordinates = grid_to_coordinates(dense, (shape[1], shape[2]))
        out = sample(images, coordinates, interpolation, "border", "pixel")
    return out[0] if squeeze else out


def as_feature_batch(features):
    """Feature maps as a float tensor of rank 4, and whether a batch axis was added.

    Rank 3 `(height, width, channels)` gets a batch axis; non-float maps
    become float32.
    """
    features = ops.convert_to_tensor(features)
    if rank(features) == 3:
        features = ops.expand_dims(features, 0)
        squeeze = True
    elif rank(features) == 4:
        squeeze = False
    else:
        raise ValueError(
            "Expected `features` of rank 3 or 4 (batch, height, width, "
            f"channels). Received: features.shape={features.shape}"
        )
    if not keras.backend.is_float_dtype(features.dtype):
        features = ops.cast(features, "float32")
    check_non_empty_spatial("features", features)
    return features, squeeze


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

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    features, squeeze = as_feature_batch(features)
    shape = list(ops.shape(features))
    dtype = dtype_name(features)
    position_dtype = "float64" if dtype == "float64" else "float32"
    threshold = UNCOVERED + 1.0
    fraction_y, fraction_x = valid_fraction or (1.0, 1.0)

    def pixels(coordinates, size, fraction):
        # extent -> pixel coordinates, clamped to the valid pixel centres
        size = ops.cast(size, position_dtype)
        high = maximum(fraction * size - 0.5, 0.5)
        return minimum(maximum(from_extent(coordinates, size, "pixel"), 0.5), high)

    if isinstance(inverse, (tuple, list)):
        if len(inverse) != 2:
            raise ValueError(
                "Expected `inverse` to be a dense grid or a pair (x, y). "
                f"Received: a sequence of length {len(inverse)}"
            )
        x, y = (ops.cast(v, position_dtype) for v in inverse)
        check_same_batch("features", features, "inverse x", x, allow_broadcast=True)
        check_same_batch("features", features, "inverse y", y, allow_broadcast=True)
        x_covered = ops.cast(x > threshold, dtype)
        y_covered = ops.cast(y > threshold, dtype)
        x_pixels = pixels(x, shape[2], fraction_x)
        y_pixels = pixels(y, shape[1], fraction_y)
        if x.shape[0] == 1 and y.shape[0] == 1:  # shared by the batch
            x_pixels, y_pixels = x_pixels[0], y_pixels[0]
            mask = ops.expand_dims(y_covered[0], -1) * ops.expand_dims(x_covered[0], 0)
            mask = ops.expand_dims(ops.expand_dims(mask, 0), -1)
        else:
            mask = ops.expand_dims(y_covered, -1) * ops.expand_dims(x_covered, 1)
            mask = ops.expand_dims(mask, -1)
        out = sample_separable(
            features, x_pixels, y_pixels, interpolation, "border", "pixel"
        )
    else:
        inverse = ops.cast(inverse, position_dtype)
        check_same_batch("features", features, "inverse", inverse, allow_broadcast=True)
        mask = ops.expand_dims(ops.cast(inverse[..., 0] > threshold, dtype), -1)
        x, y = inverse[..., 0], inverse[..., 1]
        coordinates = ops.stack(
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

    Raises:
        ValueError: for maps of zero height or width, or a grid whose batch
            is neither the maps' nor 1 (an empty batch is valid). A folded
            grid (node rows not increasing in x or columns not increasing
            in y) is not rejected, even in eager mode: the inverse uses its
            monotone envelope (see `keras_resize.ops.warp.inverse`).

    Example:

    >>> images = np.random.default_rng(0).random((1, 64, 64, 1)).astype("float32")
    >>> s = np.ones((5, 5), "float32"); s[2, 2] = 30.0
    >>> grid = keras_resize.ops.coarse_grid(s)
    >>> zoomed = zoom(images, grid, (64, 64))
    >>> tuple(unzoom(zoomed, grid).shape)
    (1, 64, 64, 1)

    Convention: extent coordinates for the grid (see `keras_resize.ops.warp`).
    """
    check_bool("separable", separable)
    features, squeeze = as_feature_batch(features)
    grid = as_grid(grid)
    check_same_batch("features", features, "grid", grid, allow_broadcast=True)
    shape = list(ops.shape(features))
    if output_size is None:
        height, width = shape[1], shape[2]
    else:
        height, width = check_size(output_size, "output_size")
    valid_fraction = check_valid_region(valid_size, padded_size)
    inverse = inverse_for_resampling(grid, height, width, separable, valid_fraction)
    out = resample_inverse(features, inverse, interpolation, valid_fraction)
    return out[0] if squeeze else out


def _saliency_values(saliency):
    """A fixed saliency as a checked float64 numpy `(gh, gw)` array."""
    if ops.is_tensor(saliency):
        saliency = ops.convert_to_numpy(saliency)
    saliency = np.asarray(saliency, np.float64)
    if saliency.ndim != 2:
        raise ValueError(
            "Expected a fixed `saliency` of shape (grid_height, grid_width). "
            f"Received: saliency.shape={saliency.shape}"
        )
    check_grid_shape(saliency.shape, "saliency grid shape")
    if not np.all(np.isfinite(saliency)):
        raise ValueError("Expected `saliency` to be finite. Received NaN or inf.")
    if saliency.min() < 0:
        raise ValueError(
            "Expected `saliency` to be non-negative. Received: "
            f"min(saliency)={saliency.min()!r}"
        )
    if saliency.sum() <= 0:
        raise ValueError(
            "Expected every saliency map to have a positive sum. Received "
            "a map of zeros."
        )
    return saliency


def fixed_warp(
    saliency,
    output_size,
    fwhm=DEFAULT_FWHM,
    padding="reflect",
    separable=True,
):
    """Float64 numpy grids of a fixed warp, computed once.

    The arithmetic of `coarse_grid` and `upsample_grid` runs in float64
    numpy (the same code, on `numpy_ops`; no backend, no graph); a layer
    keeps the results as constants so that only the resampling runs per
    call.

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

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    height, width = check_size(output_size, "output_size")
    fwhm = check_fwhm(fwhm)
    check_choice("padding", padding, PADDINGS)
    check_bool("separable", separable)
    saliency = _saliency_values(saliency)
    grid = attraction_grid(saliency[None], fwhm, padding, separable, xp=numpy_ops)
    result = {"grid": grid}
    if separable:
        x_nodes, y_nodes = separable_axes(grid)
        result["x"] = upsample_axis(x_nodes, width)[0]
        result["y"] = upsample_axis(y_nodes, height)[0]
    else:
        result["dense"] = upsample_grid_numpy(grid, (height, width))
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

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    if ops.is_tensor(grid):
        grid = ops.convert_to_numpy(grid)
    grid = np.asarray(grid, np.float64)
    if grid.ndim == 3:
        grid = grid[None]
    if grid.ndim != 4 or grid.shape[-1] != 2:
        raise ValueError(
            "Expected `grid` of shape (batch, grid_height, grid_width, 2) "
            f"holding (x, y) pairs. Received: grid.shape={grid.shape}"
        )
    check_grid_shape(grid.shape[1:3], "grid grid shape")
    check_bool("separable", separable)
    valid_fraction = check_valid_region(valid_size, padded_size)
    return invert_numpy(grid, output_size, separable, valid_fraction)
