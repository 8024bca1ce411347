"""Geometry through a warp: keypoints, boxes and masks, both directions.

"Unwarp" maps zoomed-image geometry to the original image (the forward
warp, bilinear in the coarse grid: FOVEA's detection trick); "warp" maps
original-image geometry into the zoomed image (the exact inverse, which
LZU has and FOVEA has not). Masks are resampled with nearest sampling, so
labels stay labels.

Convention: pixel coordinates (pixel `i` centred at `i + 0.5`; the image
spans `[0, W] x [0, H]`); grids in extent coordinates (see
`keras_resize.ops.warp`).
"""

import keras

from keras_resize.backend import ops
from keras_resize.ops.sampling import sample
from keras_resize.ops.validation import (
    check_bool,
    check_non_empty_spatial,
    check_same_batch,
    check_size,
)
from keras_resize.ops.warp.checks import (
    as_boxes,
    as_float_tensor,
    as_grid,
    box_columns,
    dtype_name,
    from_box_columns,
    maximum,
    minimum,
    rank,
)
from keras_resize.ops.warp.grid import from_extent, separable_axes, to_extent
from keras_resize.ops.warp.inverse import invert_axis, invert_tiles
from keras_resize.ops.warp.resampling import unzoom, zoom


def forward_points(points, grid):
    """Evaluate the warp at zoomed-frame extent points `(b, ..., 2)`.

    The coarse grid is sampled bilinearly (border padding) at the points:
    the piecewise-bilinear warp. Returns original-frame extent points of the
    same shape.
    """
    batch = list(ops.shape(points))[0]
    grid_shape = list(ops.shape(grid))
    grid = ops.broadcast_to(grid, [batch] + grid_shape[1:])
    flat = ops.reshape(points, [batch, 1, -1, 2])
    # the coarse grid is an image whose node j sits at extent 2j/(gw-1) - 1,
    # i.e. at the sampler's "normalized" (align-corners) coordinate of the
    # same value: sampling it bilinearly evaluates the piecewise-bilinear warp
    values = sample(grid, flat, "bilinear", "border", "normalized")
    return ops.reshape(values, ops.shape(points))


def inverse_points(points, grid, separable):
    """Evaluate the inverse warp at original-frame extent points `(b, ..., 2)`.

    Points outside the covered region are projected onto it. Returns
    zoomed-frame extent points of the same shape.
    """
    batch = list(ops.shape(points))[0]
    grid_shape = list(ops.shape(grid))
    grid = ops.broadcast_to(grid, [batch] + grid_shape[1:])
    flat = ops.reshape(points, [batch, -1, 2])
    qx, qy = flat[..., 0], flat[..., 1]
    if separable:
        x_nodes, y_nodes = separable_axes(grid)
        qx = minimum(maximum(qx, x_nodes[:, :1]), x_nodes[:, -1:])
        qy = minimum(maximum(qy, y_nodes[:, :1]), y_nodes[:, -1:])
        u, _ = invert_axis(x_nodes, qx)
        v, _ = invert_axis(y_nodes, qy)
    else:
        u, v, _ = invert_tiles(grid, qx, qy, rectilinear=False)
    return ops.reshape(ops.stack([u, v], axis=-1), ops.shape(points))


def _points_in(points, image_size):
    """Pixel points `(..., 2)` -> extent coordinates."""
    height, width = image_size
    x, y = points[..., 0], points[..., 1]
    return ops.stack([to_extent(x, width), to_extent(y, height)], -1)


def _points_out(extent, image_size):
    height, width = image_size
    x, y = extent[..., 0], extent[..., 1]
    return ops.stack(
        [from_extent(x, width, "pixel"), from_extent(y, height, "pixel")], -1
    )


def _as_points(points, name="keypoints"):
    points = as_float_tensor(points)
    if rank(points) < 2 or points.shape[-1] != 2:
        raise ValueError(
            f"Expected `{name}` of shape (batch, ..., 2) holding (x, y) pairs. "
            f"Received: {name}.shape={points.shape}"
        )
    return points


def _map_points(points, grid, from_size, to_size, direction, separable):
    grid = as_grid(grid)
    check_bool("separable", separable)
    from_size = check_size(from_size, "from_size")
    to_size = check_size(to_size, "to_size")
    squeeze = rank(points) == 2
    if squeeze:
        points = ops.expand_dims(points, 0)
    check_same_batch("keypoints", points, "grid", grid, allow_broadcast=True)
    extent = _points_in(ops.cast(points, dtype_name(grid)), from_size)
    if direction == "forward":
        mapped = forward_points(extent, grid)
    else:
        mapped = inverse_points(extent, grid, separable)
    out = ops.cast(_points_out(mapped, to_size), dtype_name(points))
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

    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 3), "float32"))
    >>> points = np.array([[5.0, 2.0]], "float32")
    >>> keras.ops.convert_to_numpy(
    ...     unwarp_keypoints(points, grid, (10, 10), (20, 40))).round(4)
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

    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 3), "float32"))
    >>> points = np.array([[20.0, 4.0]], "float32")
    >>> keras.ops.convert_to_numpy(
    ...     warp_keypoints(points, grid, (20, 40), (10, 10))).round(4)
    array([[5., 2.]], dtype=float32)

    Convention: pixel coordinates (pixel `i` centred at `i + 0.5`).
    """
    keypoints = _as_points(keypoints)
    return _map_points(
        keypoints, grid, original_size, zoomed_size, "inverse", separable
    )


def _box_corners(boxes, box_format):
    x1, y1, x2, y2 = box_columns(boxes, box_format)
    xs = ops.stack([x1, x2, x1, x2], axis=-1)
    ys = ops.stack([y1, y1, y2, y2], axis=-1)
    return ops.stack([xs, ys], axis=-1)  # (..., 4, 2)


def _boxes_from_corners(corners, box_format):
    low = ops.min(corners, axis=-2)
    high = ops.max(corners, axis=-2)
    return from_box_columns(
        low[..., 0], low[..., 1], high[..., 0], high[..., 1], box_format
    )


def _map_boxes(
    boxes, grid, from_size, to_size, direction, separable, box_format, valid
):
    boxes = as_boxes(boxes, box_format)
    check_bool("separable", separable)
    if rank(boxes) not in (2, 3):
        raise ValueError(
            "Expected `boxes` of shape (batch, n, 4) or (n, 4). Received: "
            f"boxes.shape={boxes.shape}"
        )
    corners = _box_corners(boxes, box_format)  # (..., n, 4, 2)
    squeeze = rank(boxes) == 2
    if squeeze:
        corners = ops.expand_dims(corners, 0)
    grid = as_grid(grid)
    check_same_batch("boxes", corners, "grid", grid, allow_broadcast=True)
    if valid is not None:
        valid = ops.convert_to_tensor(valid)
        if tuple(valid.shape) != tuple(boxes.shape[:-1]) and None not in tuple(
            valid.shape
        ) + tuple(boxes.shape[:-1]):
            raise ValueError(
                "Expected `valid` to have the shape of `boxes` without its "
                f"last axis. Received: valid.shape={tuple(valid.shape)} and "
                f"boxes.shape={tuple(boxes.shape)}"
            )
    from_size = check_size(from_size, "from_size")
    to_size = check_size(to_size, "to_size")
    extent = _points_in(ops.cast(corners, dtype_name(grid)), from_size)
    if direction == "forward":
        mapped = forward_points(extent, grid)
    else:
        mapped = inverse_points(extent, grid, separable)
    mapped = ops.cast(_points_out(mapped, to_size), dtype_name(boxes))
    out = _boxes_from_corners(mapped, box_format)
    if squeeze:
        out = out[0]
    if valid is not None:
        valid = ops.expand_dims(ops.cast(valid, "bool"), -1)
        out = ops.where(valid, out, boxes)
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

    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 3), "float32"))
    >>> boxes = np.array([[1.0, 2.0, 5.0, 10.0]], "float32")
    >>> keras.ops.convert_to_numpy(
    ...     unwarp_boxes(boxes, grid, (10, 10), (20, 40))).round(4)
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

    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 3), "float32"))
    >>> boxes = np.array([[4.0, 4.0, 20.0, 20.0]], "float32")
    >>> keras.ops.convert_to_numpy(
    ...     warp_boxes(boxes, grid, (20, 40), (10, 10))).round(4)
    array([[ 1.,  2.,  5., 10.]], dtype=float32)

    Convention: pixel coordinates (the image spans `[0, W] x [0, H]`).
    """
    return _map_boxes(
        boxes, grid, original_size, zoomed_size, "inverse", separable, box_format, valid
    )


def _as_mask_batch(masks):
    masks = ops.convert_to_tensor(masks)
    mask_rank = rank(masks)
    if mask_rank not in (3, 4):
        raise ValueError(
            "Expected `masks` of shape (batch, height, width) or (batch, "
            f"height, width, channels). Received: masks.shape={masks.shape}"
        )
    dtype = dtype_name(masks)
    if mask_rank == 3:
        masks = ops.expand_dims(masks, -1)
    check_non_empty_spatial("masks", masks)
    work = ops.cast(masks, "float64" if dtype == "float64" else "float32")
    return work, dtype, mask_rank == 3


def _restore_mask(out, dtype, squeeze):
    if squeeze:
        out = out[..., 0]
    if not keras.backend.is_float_dtype(dtype):  # integer or bool labels
        out = ops.round(out)
    return ops.cast(out, dtype)


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
    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 3), "float32"))
    >>> keras.ops.convert_to_numpy(warp_masks(masks, grid, (4, 4)))[0]
    array([[0, 0, 0, 0],
           [0, 3, 3, 0],
           [0, 3, 3, 0],
           [0, 0, 0, 0]], dtype=int32)

    Convention: extent coordinates for the grid (see `keras_resize.ops.warp`).
    """
    work, dtype, squeeze = _as_mask_batch(masks)
    check_same_batch("masks", work, "grid", as_grid(grid), allow_broadcast=True)
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
    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 3), "float32"))
    >>> keras.ops.convert_to_numpy(unwarp_masks(masks, grid, (8, 8)))[0, 3]
    array([0, 0, 3, 3, 3, 3, 0, 0], dtype=int32)

    Convention: extent coordinates for the grid (see `keras_resize.ops.warp`).
    """
    work, dtype, squeeze = _as_mask_batch(masks)
    check_same_batch("masks", work, "grid", as_grid(grid), allow_broadcast=True)
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
