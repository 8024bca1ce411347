"""Inverses of a warp: separable (two 1-D maps) and nonseparable (bilinear tiles).

Both are written with comparisons, counts, gathers and arithmetic (no
`searchsorted`, which TFLite builtins lack, and no loops over elements), so
they compile under XLA and `jax.jit` and convert to TFLite with builtin ops.
The arithmetic takes a namespace `xp` (`keras_resize.backend.ops`, or
`numpy_ops` for float64 inverses of fixed warps computed ahead of time).

Folded grids: the inverses need node rows that increase in x and node
columns that increase in y (every attraction warp has them). A folded grid
(e.g. a hand-made or corrupted one given to `Unzoom`) cannot be checked
inside a traced function, so the inverses always use its monotone
envelope (`monotone_nodes`, the running maximum along each axis): they stay
finite and invert the envelope's warp, which equals the grid where it is
not folded.

Convention: extent coordinates (see `keras_resize.ops.warp`).
"""

import functools

import numpy as np

from keras_resize.backend import ops
from keras_resize.ops.validation import check_bool, check_size
from keras_resize.ops.warp.checks import (
    UNCOVERED,
    as_grid,
    check_valid_region,
    dtype_name,
    maximum,
    monotone_nodes,
)
from keras_resize.ops.warp.grid import separable_axes
from keras_resize.ops.warp.numpy_ops import numpy_ops


def segment_index(nodes, queries, axis_size, xp=ops):
    """Index of the segment `[nodes[k], nodes[k+1]]` holding each query.

    `nodes (..., g)` non-decreasing along the last axis, `queries (..., q)`
    with the same leading dims: counts nodes `<= query` (a vectorised
    searchsorted that XLA and TFLite builtins handle), clamped to `[0,
    g - 2]`, so queries outside extrapolate the end segments.

    Returns:
        int32 `(..., q)`.
    """
    below = xp.cast(
        xp.expand_dims(nodes, -2) <= xp.expand_dims(queries, -1), "int32"
    )  # (..., q, g)
    count = xp.cast(xp.sum(below, axis=-1), "int32")
    return xp.clip(count - 1, 0, axis_size - 2)


def _safe_divide(numerator, denominator, xp):
    nonzero = xp.not_equal(denominator, 0)
    safe = xp.where(nonzero, denominator, xp.ones_like(denominator))
    return xp.where(nonzero, numerator / safe, xp.zeros_like(numerator)), nonzero


def invert_axis(nodes, queries, xp=ops):
    """Invert a monotone piecewise-linear 1-D map at `queries`.

    Args:
        nodes: `(b, g)` extent coordinates in the original frame of the
            zoomed nodes `k / (g - 1)`, non-decreasing (else their
            monotone envelope is inverted, see `monotone_nodes`).
        queries: `(b, q)` (or `(1, q)`, broadcast) extent coordinates in the
            original frame.
        xp: `keras_resize.backend.ops` or `numpy_ops`.

    Returns:
        `(u, covered)`: the zoomed-frame extent coordinates `(b, q)` and a
        mask of the queries the warp covers.
    """
    grid_size = nodes.shape[-1]
    nodes = monotone_nodes(nodes, xp)  # folded grids: the monotone envelope
    batch = list(xp.shape(nodes))[0]
    queries = xp.broadcast_to(queries, [batch, list(xp.shape(queries))[1]])
    segment = segment_index(nodes, queries, grid_size, xp)
    low = xp.take_along_axis(nodes, segment, axis=1)
    high = xp.take_along_axis(nodes, segment + 1, axis=1)
    fraction, _ = _safe_divide(queries - low, high - low, xp)
    u = (xp.cast(segment, dtype_name(nodes)) + fraction) / (grid_size - 1)
    covered = xp.logical_and(queries >= nodes[:, :1], queries <= nodes[:, -1:])
    return 2.0 * u - 1.0, covered


def _target_queries(size, fraction, dtype, xp):
    """Extent coordinates (original frame) of the centres of `size` target
    pixels whose map covers a padded frame with valid `fraction`."""
    o = xp.arange(size, dtype=dtype)
    return ((o + 0.5) / xp.cast(size, dtype) / fraction) * 2.0 - 1.0


def _to_padded_frame(u, fraction):
    """Zoomed valid-region extent coordinates -> padded-frame coordinates."""
    return ((u + 1.0) * 0.5 * fraction) * 2.0 - 1.0


def separable_inverse_axes(
    x_nodes, y_nodes, height, width, fraction_y=1.0, fraction_x=1.0, xp=ops
):
    """The 1-D inverses of a separable warp given by its node axes.

    Args:
        x_nodes, y_nodes: `(b, gw)` and `(b, gh)` from `separable_axes`.
        height, width: size of the inverse (ints, or scalar tensors on
            TensorFlow for maps of unknown size).
        fraction_y, fraction_x: valid fraction of a padded zoom (see
            `invert_separable_grid`).
        xp: `keras_resize.backend.ops` or `numpy_ops`.

    Returns:
        `(x (b, width), y (b, height))` extent coordinates into the zoomed
        map, `UNCOVERED` where the warp covers nothing.
    """
    outputs = []
    for nodes, size, fraction in (
        (x_nodes, width, fraction_x),
        (y_nodes, height, fraction_y),
    ):
        queries = xp.expand_dims(
            _target_queries(size, fraction, dtype_name(nodes), xp), 0
        )
        u, covered = invert_axis(nodes, queries, xp)
        u = _to_padded_frame(u, fraction)
        outputs.append(xp.where(covered, u, UNCOVERED * xp.ones_like(u)))
    return tuple(outputs)


def _separable_inverse_dense(x_nodes, y_nodes, height, width, fraction_y, fraction_x):
    x, y = separable_inverse_axes(
        x_nodes, y_nodes, height, width, fraction_y, fraction_x
    )
    shape = [list(ops.shape(x))[0], height, width]
    x = ops.broadcast_to(ops.expand_dims(x, 1), shape)
    y = ops.broadcast_to(ops.expand_dims(y, 2), shape)
    # a pixel is covered when both of its coordinates are
    covered = ops.logical_and(x > UNCOVERED + 1.0, y > UNCOVERED + 1.0)
    uncovered = UNCOVERED * ops.ones_like(x)
    return ops.stack(
        [ops.where(covered, x, uncovered), ops.where(covered, y, uncovered)], -1
    )


def _separable_inverse_arguments(grid, output_size, valid_size, padded_size, dtype):
    grid = as_grid(grid)
    if dtype is not None:
        grid = ops.cast(grid, dtype)
    height, width = check_size(output_size, "output_size")
    fraction = check_valid_region(valid_size, padded_size) or (1.0, 1.0)
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

    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 4), "float32"))
    >>> x, y = invert_separable_axes(grid, (2, 4))
    >>> keras.ops.convert_to_numpy(x)
    array([[-0.75, -0.25,  0.25,  0.75]], dtype=float32)

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    arguments = _separable_inverse_arguments(
        grid, output_size, valid_size, padded_size, dtype
    )
    return separable_inverse_axes(*arguments)


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

    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 4), "float32"))
    >>> inverse = invert_separable_grid(grid, (2, 4))
    >>> keras.ops.convert_to_numpy(inverse[0, 0, :, 0])
    array([-0.75, -0.25,  0.25,  0.75], dtype=float32)

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    arguments = _separable_inverse_arguments(
        grid, output_size, valid_size, padded_size, None
    )
    return _separable_inverse_dense(*arguments)


def _cross(a, b):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _polyline_values(along, across, queries, grid_size, xp):
    """Evaluate each row (or column) polyline of the grid at query positions.

    `along (b, n, g)` are the polylines' coordinates along which they are
    monotone, `across (b, n, g)` the other coordinate, `queries (b, q)`.
    Returns `(b, n, q)`: the `across` value of polyline `i` at each query,
    constant past the polyline's ends.
    """
    n = along.shape[1]
    batch = list(xp.shape(along))[0]
    q = list(xp.shape(queries))[1]
    queries = xp.broadcast_to(xp.expand_dims(queries, 1), [batch, n, q])
    segment = segment_index(along, queries, grid_size, xp)  # (b, n, q)
    a0 = xp.take_along_axis(along, segment, axis=2)
    a1 = xp.take_along_axis(along, segment + 1, axis=2)
    c0 = xp.take_along_axis(across, segment, axis=2)
    c1 = xp.take_along_axis(across, segment + 1, axis=2)
    t, _ = _safe_divide(queries - a0, a1 - a0, xp)
    # past its ends a polyline is continued by constant rays (horizontal for
    # rows, vertical for columns), not by its end segments: a border column
    # is y-monotone, so the horizontal ray from a row's end never meets it
    # again and stays outside the image; end segments extended in straight
    # lines can cross each other inside the image where a free (replicate)
    # border is strongly rotated, and then the counts pick the wrong tile
    t = xp.clip(t, 0.0, 1.0)
    return c0 + t * (c1 - c0)


def _solve_tile(v00, v01, v10, v11, point, xp):
    """Invert the bilinear map `P(l, m) = v00 + l vb + m vc + l m vd` at
    `point`, with `vb = v10 - v00`, `vc = v01 - v00`, `vd = v00 - v10 - v01 +
    v11` (LZU, Appendix A). Returns `(l, m, inside)`.

    `A m^2 + B m + C = 0` with `A = vc x vd`, `B = vc x vb + Ma x vd`,
    `C = Ma x vb`, `Ma = v00 - point`. When `|A|` is negligible the root is
    `m = -C / B` (the public reference has `+C / B`, which leaves most
    pixels of parallelogram tiles unfilled); otherwise the stable quadratic
    `q = -(B + sign(B) sqrt(D)) / 2`, `m1 = q / A`, `m2 = C / q`. Then `l =
    -(Ma + m vc)_k / (vb + m vd)_k` on the better-conditioned component `k`
    (the y component in the reference). The root closest to the unit square
    wins; it is clipped to the square, refined by Newton steps, and `inside`
    says whether it maps onto the point (see `_solves`).
    """
    vb = v10 - v00
    vc = v01 - v00
    vd = v00 - v10 - v01 + v11
    ma = v00 - point
    a = _cross(vc, vd)
    b = _cross(vc, vb) + _cross(ma, vd)
    c = _cross(ma, vb)
    eps = 1e-12 if dtype_name(a) == "float64" else 1e-6
    linear = xp.abs(a) <= eps * xp.abs(b)
    m_linear, _ = _safe_divide(-c, b, xp)
    discriminant = maximum(xp.square(b) - 4.0 * a * c, 0.0, xp)
    root = xp.sqrt(discriminant + 1e-30)
    sign_b = xp.where(b >= 0, xp.ones_like(b), -xp.ones_like(b))
    q = -0.5 * (b + sign_b * root)
    m1, ok1 = _safe_divide(q, a, xp)
    m2, ok2 = _safe_divide(c, q, xp)
    big = xp.full_like(a, 1e9)
    not_linear = xp.logical_not(linear)
    m1 = xp.where(xp.logical_and(ok1, not_linear), m1, big)
    m2 = xp.where(xp.logical_and(ok2, not_linear), m2, big)
    candidates = []
    for m in (m_linear, m1, m2):
        numerator = ma + xp.expand_dims(m, -1) * vc
        denominator = vb + xp.expand_dims(m, -1) * vd
        use_x = xp.abs(denominator[..., 0]) > xp.abs(denominator[..., 1])
        num = xp.where(use_x, numerator[..., 0], numerator[..., 1])
        den = xp.where(use_x, denominator[..., 0], denominator[..., 1])
        l_value, ok = _safe_divide(-num, den, xp)
        l_value = xp.where(ok, l_value, big)
        outside = maximum(
            maximum(maximum(-m, m - 1.0, xp), maximum(-l_value, l_value - 1.0, xp), xp),
            0.0,
            xp,
        )
        candidates.append((l_value, m, outside))
    l_lin, m_lin, _ = candidates[0]
    l1, m1, out1 = candidates[1]
    l2, m2, out2 = candidates[2]
    # quadratic: prefer m2 (the root that tends to -C/B), else m1
    take_m2 = out2 <= out1
    l_quad = xp.where(take_m2, l2, l1)
    m_quad = xp.where(take_m2, m2, m1)
    l_value = xp.where(linear, l_lin, l_quad)
    m = xp.where(linear, m_lin, m_quad)
    l_value, m = xp.clip(l_value, 0.0, 1.0), xp.clip(m, 0.0, 1.0)
    for _ in range(2):
        l_value, m = _newton_step(l_value, m, ma, vb, vc, vd, xp)
    l_value, m = xp.clip(l_value, 0.0, 1.0), xp.clip(m, 0.0, 1.0)
    return l_value, m, _solves(l_value, m, v00, point, vb, vc, vd, xp)


def _solves(l_value, m, v00, point, vb, vc, vd, xp):
    """Whether `(l, m)` in the unit square maps onto the point (coverage).

    The candidate roots of `_solve_tile` are not always roots: a point the
    tile's bilinear map does not reach (past the border of a replicate-padded
    grid, whose border is free) gets, from the clamped discriminant or from
    clipping, a candidate in the unit square that maps elsewhere. The point
    is covered when the residual `|P(l, m) - point|` (L1) of the clipped,
    Newton-refined root is at rounding level (a root computed in float32
    or float64 from these coordinates); a tolerance in the unit square
    instead would count points up to that tolerance of a tile past the
    border as covered, and send them back onto the border.
    """
    residual = _residual(l_value, m, v00 - point, vb, vc, vd, xp)
    size = functools.partial(_l1, xp=xp)
    scale = size(v00) + size(point) + size(vb) + size(vc) + size(vd)
    # float32 rounding unless float64 (grids are float32 or float64, `as_grid`)
    eps = float(
        np.finfo("float64" if dtype_name(scale) == "float64" else "float32").eps
    )
    return size(residual) <= 16.0 * eps * scale


def _residual(l_value, m, ma, vb, vc, vd, xp):
    """`P(l, m) - point = Ma + l vb + m vc + l m vd` (`Ma = v00 - point`)."""
    lx, mx = xp.expand_dims(l_value, -1), xp.expand_dims(m, -1)
    return ma + lx * vb + mx * vc + (lx * mx) * vd


def _l1(r, xp):
    """`|x| + |y|` of `(..., 2)` vectors."""
    return xp.abs(r[..., 0]) + xp.abs(r[..., 1])


def _newton_step(l_value, m, ma, vb, vc, vd, xp):
    """One Newton step on `F(l, m) = Ma + l vb + m vc + l m vd = 0`.

    The closed form loses digits to cancellation in float32 (up to ~1e-3
    of a tile where the warp magnifies strongly); Newton steps on the
    residual, which is computed relative to `v00` (`Ma = v00 - point`, no
    large offsets), bring the root back to rounding level. A step is kept
    only where it lowers the residual, so it never makes a root worse.
    """
    residual = _residual(l_value, m, ma, vb, vc, vd, xp)
    d_l = vb + xp.expand_dims(m, -1) * vd
    d_m = vc + xp.expand_dims(l_value, -1) * vd
    det = _cross(d_l, d_m)
    step_l, ok = _safe_divide(_cross(residual, d_m), det, xp)
    step_m, _ = _safe_divide(_cross(d_l, residual), det, xp)
    new_l = l_value - step_l
    new_m = m - step_m
    new_residual = _residual(new_l, new_m, ma, vb, vc, vd, xp)
    better = xp.logical_and(ok, _l1(new_residual, xp) < _l1(residual, xp))
    # small steps only: a step out of the tile means another tile's root
    small = xp.logical_and(xp.abs(step_l) < 0.5, xp.abs(step_m) < 0.5)
    better = xp.logical_and(better, small)
    return xp.where(better, new_l, l_value), xp.where(better, new_m, m)


def folded_tiles(grid, xp=ops):
    """Which tiles of a coarse grid fold (are not mapped one-to-one).

    The bilinear map of a tile is one-to-one exactly when its Jacobian
    determinant keeps the identity's sign over the tile; the determinant is
    affine in the tile coordinates, so the four corners decide: a tile
    folds when at one of its corners the two edges leaving it turn the
    wrong way (the tile is not a strictly convex quadrilateral with the
    identity's orientation). A warp with a folded tile is not one-to-one:
    points near the fold have several preimages, so no inverse is exact
    there.

    Separable attraction warps never fold (their tiles are rectangles).
    The nonseparable attraction warp can, rarely, with `padding="replicate"`
    (its border is free, and extreme saliency contrasts, ~1e3:1 and more,
    can rotate the border rows and columns past each other); reflect
    padding pins the border and no fold has been observed with it.

    Args:
        grid: `(batch, gh, gw, 2)` coarse grid.
        xp: `keras_resize.backend.ops` or `numpy_ops`.

    Returns:
        bool `(batch, gh - 1, gw - 1)`, True for the folded tiles.

    Example:

    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 4), "float32"))
    >>> bool(keras.ops.any(folded_tiles(grid)))
    False
    >>> folded = keras.ops.convert_to_numpy(grid).copy()
    >>> folded[0, 1, 1, 0] = folded[0, 1, 2, 0] + 0.1  # node (1, 1) past (1, 2)
    >>> keras.ops.convert_to_numpy(folded_tiles(folded))[0]
    array([[False,  True, False],
           [False,  True, False]])

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    if xp is ops:
        grid = as_grid(grid)
    v00, v01 = grid[:, :-1, :-1], grid[:, :-1, 1:]
    v10, v11 = grid[:, 1:, :-1], grid[:, 1:, 1:]
    # Jacobian determinant at each corner: cross(d/dx edge, d/dy edge)
    corners = [
        _cross(v01 - v00, v10 - v00),
        _cross(v01 - v00, v11 - v01),
        _cross(v11 - v10, v10 - v00),
        _cross(v11 - v10, v11 - v01),
    ]
    folded = corners[0] <= 0
    for determinant in corners[1:]:
        folded = xp.logical_or(folded, determinant <= 0)
    return folded


def invert_tiles(grid, qx, qy, rectilinear, xp=ops):
    """Inverse of a nonseparable warp at query points.

    The tile holding a point is found exactly by counting the row
    polylines above it and the column polylines left of it (tile edges are
    straight; rows are x-monotone and columns y-monotone for the
    attraction warp; past its ends a row continues horizontally and a
    column vertically, which keeps the continuations outside the image),
    then the bilinear map of that tile is inverted in closed form (see
    `invert_nonseparable_grid`).

    Args:
        grid: `(b, gh, gw, 2)` coarse grid.
        qx, qy: with `rectilinear`, `qx (b, W)` and `qy (b, H)` span a grid
            of `(b, H, W)` points (dense inverses: the polylines are
            evaluated once per target column / row); otherwise `(b, Q)`
            point pairs.
        rectilinear: see `qx, qy`.
        xp: `keras_resize.backend.ops` or `numpy_ops`.

    Returns:
        `(u, v, inside)`: zoomed-frame extent coordinates and a coverage
        mask, `(b, H, W)` or `(b, Q)`.
    """
    grid_height, grid_width = grid.shape[1], grid.shape[2]
    dtype = dtype_name(grid)
    # folded grids: the monotone envelope of every row (x) and column (y)
    gx = monotone_nodes(grid[..., 0], xp)
    gy = xp.transpose(
        monotone_nodes(xp.transpose(grid[..., 1], (0, 2, 1)), xp), (0, 2, 1)
    )
    # rows of nodes: monotone in x; columns of nodes: monotone in y
    row_y = _polyline_values(gx, gy, qx, grid_width, xp)  # (b, gh, Qx)
    col_x = _polyline_values(
        xp.transpose(gy, (0, 2, 1)), xp.transpose(gx, (0, 2, 1)), qy, grid_height, xp
    )  # (b, gw, Qy)
    if rectilinear:
        # (b, H, W, gh): is row polyline i above pixel (r, c)?
        above = xp.expand_dims(xp.transpose(row_y, (0, 2, 1)), 1) <= xp.expand_dims(
            xp.expand_dims(qy, -1), -1
        )
        left = xp.expand_dims(xp.transpose(col_x, (0, 2, 1)), 2) <= xp.expand_dims(
            xp.expand_dims(qx, 1), -1
        )
        points_shape = list(xp.shape(left))[:3]
        px = xp.broadcast_to(xp.expand_dims(qx, 1), points_shape)
        py = xp.broadcast_to(xp.expand_dims(qy, 2), points_shape)
    else:
        above = xp.transpose(row_y, (0, 2, 1)) <= xp.expand_dims(qy, -1)  # (b, Q, gh)
        left = xp.transpose(col_x, (0, 2, 1)) <= xp.expand_dims(qx, -1)  # (b, Q, gw)
        px, py = qx, qy
    row = xp.clip(
        xp.cast(xp.sum(xp.cast(above, "int32"), -1), "int32") - 1, 0, grid_height - 2
    )
    col = xp.clip(
        xp.cast(xp.sum(xp.cast(left, "int32"), -1), "int32") - 1, 0, grid_width - 2
    )
    batch = list(xp.shape(grid))[0]
    flat_x = xp.reshape(gx, [batch, grid_height * grid_width])
    flat_y = xp.reshape(gy, [batch, grid_height * grid_width])
    index = row * grid_width + col
    index_shape = list(xp.shape(index))
    flat_index = xp.reshape(index, [batch, -1])

    def corner(offset):
        x = xp.take_along_axis(flat_x, flat_index + offset, axis=1)
        y = xp.take_along_axis(flat_y, flat_index + offset, axis=1)
        return xp.reshape(xp.stack([x, y], axis=-1), index_shape + [2])

    point = xp.stack([px, py], axis=-1)
    l_value, m, inside = _solve_tile(
        corner(0),
        corner(1),
        corner(grid_width),
        corner(grid_width + 1),
        point,
        xp,
    )
    u = (xp.cast(col, dtype) + m) / (grid_width - 1) * 2.0 - 1.0
    v = (xp.cast(row, dtype) + l_value) / (grid_height - 1) * 2.0 - 1.0
    return u, v, inside


def nonseparable_inverse(grid, height, width, fraction_y=1.0, fraction_x=1.0, xp=ops):
    """The dense nonseparable inverse of a checked coarse grid.

    The arithmetic of `invert_nonseparable_grid` without its argument
    checks; `height` and `width` may be scalar tensors (TensorFlow maps of
    unknown size), `xp` is `keras_resize.backend.ops` or `numpy_ops`.

    Returns:
        `(batch, height, width, 2)` extent coordinates into the zoomed map.
    """
    dtype = dtype_name(grid)
    qx = xp.expand_dims(_target_queries(width, fraction_x, dtype, xp), 0)
    qy = xp.expand_dims(_target_queries(height, fraction_y, dtype, xp), 0)
    batch = list(xp.shape(grid))[0]
    qx = xp.broadcast_to(qx, [batch, width])
    qy = xp.broadcast_to(qy, [batch, height])
    u, v, inside = invert_tiles(grid, qx, qy, rectilinear=True, xp=xp)
    u = _to_padded_frame(u, fraction_x)
    v = _to_padded_frame(v, fraction_y)
    uncovered = xp.full_like(u, UNCOVERED)
    u = xp.where(inside, u, uncovered)
    v = xp.where(inside, v, uncovered)
    return xp.stack([u, v], axis=-1)


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
    branch `m = -C/B`, stable quadratic `q = -(B + sign(B) sqrt(D)) / 2`).
    Pixels covered by no tile hold `UNCOVERED` (and sample zeros in
    `unzoom`).

    Requires every row of nodes to be monotone in x and every column
    monotone in y, which the attraction warp guarantees (each is a 1-D
    attraction of a positive profile) and which any unfolded warp close to
    the identity satisfies. A pixel counts as covered only when the root
    found maps back onto it (residual at rounding level), so covered
    pixels always round-trip; pixels past a free (replicate-padded) border
    are `UNCOVERED`.

    A folded warp (see `folded_tiles`; only nonseparable replicate-padded
    warps, rarely) is not one-to-one, and its inverse is not defined near
    the folds: there the result is one of the preimages of a pixel, or
    `UNCOVERED` where the tile search misses them, and `warp_keypoints`
    may return a point of another preimage or of the wrong tile.

    Args:
        grid: `(batch, gh, gw, 2)` coarse grid.
        output_size: `(height, width)` of the unzoomed map.
        valid_size, padded_size: see `invert_separable_grid`.
        dtype: compute dtype (default: the grid's; float64 for fixed warps).

    Returns:
        `(batch, height, width, 2)` extent coordinates into the zoomed map.

    Example:

    >>> grid = keras_resize.ops.coarse_grid(np.ones((3, 4), "float32"))
    >>> separable = invert_separable_grid(grid, (5, 6))
    >>> general = invert_nonseparable_grid(grid, (5, 6))
    >>> bool(np.allclose(separable, general, atol=1e-6))
    True

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    grid = as_grid(grid)
    if dtype is not None:
        grid = ops.cast(grid, dtype)
    height, width = check_size(output_size, "output_size")
    fraction = check_valid_region(valid_size, padded_size) or (1.0, 1.0)
    return nonseparable_inverse(grid, height, width, fraction[0], fraction[1])


def inverse_for_resampling(grid, height, width, separable=True, valid_fraction=None):
    """The inverse in the form `resample_inverse` takes, for one map size.

    Like `invert_separable_axes` / `invert_nonseparable_grid`, but `height`
    and `width` may be scalar tensors (maps of unknown size, TensorFlow
    graphs) and the padded zoom is given as `valid_fraction = (valid /
    padded)` per axis.

    Returns:
        The separable pair `(x (batch, width), y (batch, height))` or the
        dense `(batch, height, width, 2)` inverse.

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    grid = as_grid(grid)
    check_bool("separable", separable)
    fraction_y, fraction_x = valid_fraction or (1.0, 1.0)
    if not separable:
        return nonseparable_inverse(grid, height, width, fraction_y, fraction_x)
    x_nodes, y_nodes = separable_axes(grid)
    return separable_inverse_axes(
        x_nodes, y_nodes, height, width, fraction_y, fraction_x
    )


def invert_grid(grid, output_size, separable=True, valid_size=None, padded_size=None):
    """`invert_separable_grid` or `invert_nonseparable_grid`.

    Convention: extent coordinates (see `keras_resize.ops.warp`).
    """
    if check_bool("separable", separable):
        return invert_separable_grid(grid, output_size, valid_size, padded_size)
    return invert_nonseparable_grid(grid, output_size, valid_size, padded_size)


def invert_numpy(grid, output_size, separable=True, valid_fraction=None):
    """Float64 numpy inverse of a numpy coarse grid (fixed warps).

    Returns:
        `(x (batch, width), y (batch, height))` for separable warps, else
        the dense `(batch, height, width, 2)` inverse.
    """
    grid = np.asarray(grid, np.float64)
    height, width = check_size(output_size, "output_size")
    fraction_y, fraction_x = valid_fraction or (1.0, 1.0)
    if check_bool("separable", separable):
        x_nodes, y_nodes = separable_axes(grid)
        return separable_inverse_axes(
            x_nodes, y_nodes, height, width, fraction_y, fraction_x, xp=numpy_ops
        )
    return nonseparable_inverse(
        grid, height, width, fraction_y, fraction_x, xp=numpy_ops
    )
