"""Regression tests of issue 14 for the warp ops and `Zoom` / `Unzoom`.

Each test pins one bug: float32 inverses of strong warps, invertible
replicate padding, the graph-mode policy for values that cannot be checked
in traced functions, KDE arguments, bool / dtype / batch / empty-input
checks. Runs on every backend; `tf.function` tests are TensorFlow only.
"""

import keras
import numpy as np
import pytest
from warp_cases import FOLDED_4X8, PAST_THE_BORDER_3X4, ROTATED_BORDER_6X6

from keras_resize.layers import Unzoom, Zoom
from keras_resize.ops import sampling
from keras_resize.ops import warp as W
from keras_resize.testing import assert_value_error

BACKEND = keras.backend.backend()


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def tensor(x, dtype="float32"):
    return keras.ops.convert_to_tensor(np.asarray(x), dtype)


def float64_available():
    if BACKEND != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


needs_float64 = pytest.mark.skipif(
    not float64_available(), reason="float64 on JAX needs jax_enable_x64"
)


@pytest.fixture(autouse=True)
def plain_tensorflow_kernels():
    """Plain TF gather kernels (nested XLA clusters compile per shape)."""
    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(False)
    yield
    sampling.set_xla_fusion(previous)


def peaks(shape, cells, value=1e4):
    s = np.ones(shape)
    for row, col in cells:
        s[row, col] = value
    return s


def traced(function):
    """`function` inside a `tf.function` (values unknown while tracing)."""
    import tensorflow as tf

    return tf.function(function)


def bilinear_warp_numpy(grid, u, v):
    """The piecewise-bilinear warp of a `(gh, gw, 2)` grid at extent (u, v)."""
    gh, gw = grid.shape[:2]
    c = np.clip((u + 1) / 2 * (gw - 1), 0, gw - 1)
    r = np.clip((v + 1) / 2 * (gh - 1), 0, gh - 1)
    c0 = np.minimum(np.floor(c).astype(int), gw - 2)
    r0 = np.minimum(np.floor(r).astype(int), gh - 2)
    fc, fr = (c - c0)[..., None], (r - r0)[..., None]
    return (
        grid[r0, c0] * (1 - fr) * (1 - fc)
        + grid[r0, c0 + 1] * (1 - fr) * fc
        + grid[r0 + 1, c0] * fr * (1 - fc)
        + grid[r0 + 1, c0 + 1] * fr * fc
    )


# --------------------------------------------------------------------------
# 1. float32 inverses of strong warps


def test_float32_nonseparable_inverse_is_refined_to_rounding_level():
    """The closed-form tile inverse lost 1.9e-4 of the extent (4.4e-3 px of
    a 48 px map) to cancellation on this 1e4:1 map; Newton steps on the
    residual bring it to the level of the float32 target positions."""
    saliency = peaks((3, 11), ((0, 9), (2, 5)))
    grid = W.coarse_grid(saliency.astype("float32"), fwhm=10.0, separable=False)
    grid64 = to_numpy(grid).astype(np.float64)
    size = (32, 48)
    inverse = to_numpy(W.invert_nonseparable_grid(grid, size))[0]
    # float64 numpy inverse of the same (float32) grid
    exact = W.fixed_inverse(grid64, size, separable=False)[0]
    covered = exact[..., 0] > W.UNCOVERED + 1
    assert covered.all()  # reflect padding: everything is covered
    np.testing.assert_array_equal(inverse[..., 0] > W.UNCOVERED + 1, covered)
    assert np.abs(inverse - exact).max() < 1e-5  # was 1.9e-4
    # independent check: the float64 forward warp of the float32 inverse
    # lands on the target pixel centres
    forward = bilinear_warp_numpy(
        grid64[0],
        inverse[..., 0].astype(np.float64),
        inverse[..., 1].astype(np.float64),
    )
    qx = (np.arange(size[1]) + 0.5) / size[1] * 2 - 1
    qy = (np.arange(size[0]) + 0.5) / size[0] * 2 - 1
    targets = np.stack(np.meshgrid(qx, qy), -1)
    assert np.abs(forward - targets).max() < 1e-6


@pytest.mark.parametrize("separable", [True, False])
def test_float32_round_trip_through_the_inverse_of_strong_warps(separable):
    """original -> inverse (zoomed) -> forward (original) within 1e-3 px."""
    saliency = np.stack(
        [peaks((5, 17), ((4, 5), (2, 8), (0, 16))), peaks((5, 17), ((2, 8),))]
    )
    grid = W.coarse_grid(saliency.astype("float32"), fwhm=2.0, separable=separable)
    original, zoomed = (26, 24), (40, 60)
    inverse = to_numpy(W.invert_grid(grid, original, separable=separable))
    points = to_numpy(W.grid_to_coordinates(inverse, zoomed)).reshape(2, -1, 2)
    back = to_numpy(W.unwarp_keypoints(points, grid, zoomed, original))
    ox, oy = np.meshgrid(np.arange(24) + 0.5, np.arange(26) + 0.5)
    expected = np.stack([ox, oy], -1).reshape(1, -1, 2)
    assert np.abs(back - expected).max() < 1e-3


# --------------------------------------------------------------------------
# 2. replicate padding


@pytest.mark.parametrize("separable", [True, False])
def test_replicate_padding_nodes_are_strictly_increasing(separable):
    # a saliency peak on the border pushes replicate nodes past it; clipping
    # collapsed them (e.g. y nodes [-1, -1, -0.75])
    saliency = peaks((7, 9), ((0, 0), (6, 8)), 500.0)
    grid = to_numpy(
        W.coarse_grid(saliency, fwhm=4.0, padding="replicate", separable=separable)
    )[0]
    assert np.all(np.diff(grid[..., 0], axis=1) > 0)
    assert np.all(np.diff(grid[..., 1], axis=0) > 0)
    assert grid[0, 0, 0] < -1.0  # past the border, not clipped onto it


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize(
    "dtype, tolerance",
    [("float32", 1e-3), pytest.param("float64", 1e-7, marks=needs_float64)],
)
def test_replicate_padding_round_trips(separable, dtype, tolerance):
    saliency = peaks((7, 9), ((0, 0), (6, 8), (3, 4)), 300.0)
    grid = W.coarse_grid(
        saliency.astype(dtype), fwhm=4.0, padding="replicate", separable=separable
    )
    zoomed, original = (28, 36), (21, 27)
    zx, zy = np.meshgrid(np.arange(36) + 0.5, np.arange(28) + 0.5)
    points = np.stack([zx, zy], -1).reshape(1, -1, 2).astype(dtype)
    there = W.unwarp_keypoints(points, grid, zoomed, original)
    back = to_numpy(W.warp_keypoints(there, grid, original, zoomed, separable))
    assert np.abs(back - points).max() < tolerance  # was 76 px
    # the inverse grid then the forward warp (the unzoom of a zoom)
    inverse = to_numpy(W.invert_grid(grid, original, separable=separable))
    covered = (inverse[..., 0] > W.UNCOVERED + 1).reshape(-1)
    # replicate may crop: nonseparable border polylines enter the image
    # here (42 % of the pixels, checked against a brute-force search)
    assert covered.all() if separable else covered.mean() > 0.5
    zoomed_points = to_numpy(W.grid_to_coordinates(inverse, zoomed))
    again = to_numpy(
        W.unwarp_keypoints(zoomed_points.reshape(1, -1, 2), grid, zoomed, original)
    )
    ox, oy = np.meshgrid(np.arange(27) + 0.5, np.arange(21) + 0.5)
    error = np.abs(again - np.stack([ox, oy], -1).reshape(1, -1, 2))[0, covered]
    assert error.max() < tolerance


def tile_corners(grid):
    """The `(gh - 1, gw - 1)` tiles of a `(gh, gw, 2)` grid as 4 corners in
    order round the tile."""
    return [grid[:-1, :-1], grid[:-1, 1:], grid[1:, 1:], grid[1:, :-1]]


def cross(a, b):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


@pytest.mark.parametrize(
    "padding, separable, any_fold",
    [("replicate", False, True), ("reflect", False, False), ("replicate", True, False)],
)
def test_folded_tiles_is_where_the_jacobian_changes_sign(padding, separable, any_fold):
    grid = to_numpy(
        W.coarse_grid(
            FOLDED_4X8.astype("float32"),
            fwhm=4.0,
            padding=padding,
            separable=separable,
        )
    )[0].astype("float64")
    folded = to_numpy(W.folded_tiles(grid[None]))[0]
    # reference: finite-difference Jacobian of the piecewise-bilinear warp on
    # a lattice in each tile (its sign changes inside a folded tile)
    gh, gw = grid.shape[:2]
    t = np.linspace(0.01, 0.99, 7)
    rows, cols, fr, fc = np.meshgrid(
        np.arange(gh - 1), np.arange(gw - 1), t, t, indexing="ij"
    )
    u = (cols + fc) / (gw - 1) * 2 - 1
    v = (rows + fr) / (gh - 1) * 2 - 1
    step = 1e-7
    d_u = bilinear_warp_numpy(grid, u + step, v) - bilinear_warp_numpy(grid, u, v)
    d_v = bilinear_warp_numpy(grid, u, v + step) - bilinear_warp_numpy(grid, u, v)
    reference = np.any(cross(d_u, d_v) <= 0, axis=(2, 3))
    np.testing.assert_array_equal(folded, reference)
    assert folded.any() == any_fold


@pytest.mark.parametrize(
    "dtype", ["float32", pytest.param("float64", marks=needs_float64)]
)
def test_pixels_past_a_free_border_are_uncovered(dtype):
    """`make fuzz`: pixels past the right border of this replicate warp
    were counted as covered (the tile's quadratic has no real root; the
    clamped discriminant still gave (l, m) in the unit square), 2 px off."""
    grid = W.coarse_grid(
        PAST_THE_BORDER_3X4.astype(dtype),
        fwhm=2.0,
        padding="replicate",
        separable=False,
    )
    inverse = to_numpy(W.invert_grid(grid, (1, 16), separable=False))[0, 0]
    covered = inverse[:, 0] > W.UNCOVERED + 1
    # reference: inside one of the (convex) tiles, by the signs of the edges
    corners = tile_corners(to_numpy(grid)[0].astype("float64"))
    points = np.stack([(np.arange(16) + 0.5) / 16 * 2 - 1, np.zeros(16)], -1)
    inside = np.ones((16,) + corners[0].shape[:2], bool)
    for k in range(4):
        edge = corners[(k + 1) % 4] - corners[k]
        offset = points[:, None, None] - corners[k]
        inside &= cross(edge, offset) >= 0
    np.testing.assert_array_equal(covered, inside.any(axis=(1, 2)))
    assert not covered[14]  # was covered, mapped back to x = 12.51
    zoomed = to_numpy(W.grid_to_coordinates(inverse[None, None], (3, 4)))
    back = to_numpy(W.unwarp_keypoints(zoomed.reshape(1, -1, 2), grid, (3, 4), (1, 16)))
    centres = np.stack([np.arange(16) + 0.5, np.full(16, 0.5)], -1)
    error = np.abs(back[0] - centres)[covered]
    assert error.max() < (1e-3 if dtype == "float32" else 1e-7)


def straight_continuation(nodes_x, nodes_y, x):
    """y of a row polyline at `x`, its end segments continued straight."""
    if x > nodes_x[-1]:
        slope = (nodes_y[-1] - nodes_y[-2]) / (nodes_x[-1] - nodes_x[-2])
        return nodes_y[-1] + slope * (x - nodes_x[-1])
    return np.interp(x, nodes_x, nodes_y)


@pytest.mark.parametrize(
    "dtype, tolerance",
    [("float32", 1e-3), pytest.param("float64", 1e-7, marks=needs_float64)],
)
def test_row_continuations_do_not_cross_inside_the_image(dtype, tolerance):
    """`make fuzz`: a strongly rotated free (replicate) border, not folded.
    Continued straight past the right border, the end segment of row 4
    passes above the forward image of zoomed pixel (5.5, 1.5) (in tile row
    1), so the line counts put it in tile row 2: zoomed -> original ->
    zoomed was 0.9 px off. Rows now continue horizontally past their ends."""
    grid = W.coarse_grid(
        ROTATED_BORDER_6X6.astype(dtype), fwhm=2.0, padding="replicate", separable=False
    )
    assert not to_numpy(W.folded_tiles(grid)).any()
    zx, zy = np.meshgrid(np.arange(24) + 0.5, np.arange(24) + 0.5)
    start = np.stack([zx, zy], -1).reshape(1, -1, 2).astype(dtype)
    there = W.unwarp_keypoints(start, grid, (24, 24), (1, 1))
    again = W.warp_keypoints(there, grid, (1, 1), (24, 24), False)
    assert np.abs(to_numpy(again) - start).max() < tolerance
    # the case the fixture pins: (5.5, 1.5) of the 6x6 zoom, past row 4's end
    nodes = to_numpy(grid)[0].astype("float64")
    point = to_numpy(W.unwarp_keypoints(np.array([[[5.5, 1.5]]]), grid, (6, 6), (1, 1)))
    x, y = point[0, 0] * 2 - 1  # the 1x1 original: extent coordinates
    assert x > nodes[4, -1, 0]
    assert straight_continuation(nodes[4, :, 0], nodes[4, :, 1], x) < y
    assert np.interp(x, nodes[1, :, 0], nodes[1, :, 1]) < y
    assert np.interp(x, nodes[2, :, 0], nodes[2, :, 1]) > y


def test_replicate_zoom_samples_the_border_past_the_image():
    saliency = peaks((5, 5), ((0, 0),), 1000.0)
    grid = W.coarse_grid(saliency, fwhm=4.0, padding="replicate")
    images = np.random.default_rng(0).random((1, 20, 20, 1)).astype("float32")
    zoomed = to_numpy(W.zoom(images, grid, (20, 20)))
    assert np.all(np.isfinite(zoomed))
    # the zoomed corner shows the replicated corner pixel
    assert np.isclose(zoomed[0, 0, 0, 0], images[0, 0, 0, 0], atol=1e-6)


# --------------------------------------------------------------------------
# 3. graph-mode policy (eager on every backend, tf.function on TensorFlow)


def test_saliency_is_rescaled_so_huge_values_do_not_overflow():
    saliency = np.random.default_rng(1).random((2, 6, 8)) + 0.1
    for separable in (True, False):
        small = to_numpy(W.coarse_grid(tensor(saliency), separable=separable))
        huge = to_numpy(W.coarse_grid(tensor(saliency * 1e38), separable=separable))
        assert np.all(np.isfinite(huge))  # was 71 % NaN
        np.testing.assert_allclose(huge, small, atol=2e-6)


def test_saliency_with_zeros_gets_a_finite_monotone_grid():
    # zeros far from the only salient cell: the kernel taps underflow and
    # nodes used to jump back to their identity positions (a folded grid)
    saliency = np.zeros((7, 31))
    saliency[3, 2] = 1.0
    grid = to_numpy(W.coarse_grid(tensor(saliency), fwhm=1.0))[0]
    assert np.all(np.isfinite(grid))
    assert np.all(np.diff(grid[0, :, 0]) >= 0)


def test_eager_saliency_values_still_raise():
    for bad, match in (
        ([[1.0, np.nan], [1.0, 1.0]], "finite"),
        ([[1.0, -1.0], [1.0, 1.0]], "non-negative"),
        ([[0.0, 0.0], [0.0, 0.0]], "positive sum"),
    ):
        assert_value_error(W.coarse_grid, match, tensor(bad))
        assert_value_error(W.coarse_grid, match, np.asarray(bad))


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("separable", [True, False])
def test_graph_mode_saliency_policy(separable):
    import tensorflow as tf

    grid_of = traced(lambda s: W.coarse_grid(s, fwhm=3.0, separable=separable))
    base = np.random.default_rng(2).random((1, 5, 7)).astype("float32") + 0.5
    identity = to_numpy(W.coarse_grid(np.ones((5, 7), "float32")))
    # NaN everywhere: the identity warp (was accepted, also identity)
    nan = to_numpy(grid_of(tf.constant(np.full((1, 5, 7), np.nan, "float32"))))
    np.testing.assert_allclose(nan, identity, atol=1e-6)
    # NaN and negative cells count as zero (then the floor)
    zeroed = base.copy()
    zeroed[0, 1, 2] = 0.0
    expected = to_numpy(W.coarse_grid(zeroed + 0.0, fwhm=3.0, separable=separable))
    for bad in (np.nan, -5.0):
        values = base.copy()
        values[0, 1, 2] = bad
        got = to_numpy(grid_of(tf.constant(values)))
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, expected, atol=1e-6)
    # huge and infinite values stay finite
    huge = to_numpy(grid_of(tf.constant(base * 1e38)))
    np.testing.assert_allclose(huge, to_numpy(grid_of(tf.constant(base))), atol=2e-6)
    inf = base.copy()
    inf[0, 2, 3] = np.inf
    assert np.all(np.isfinite(to_numpy(grid_of(tf.constant(inf)))))


@pytest.mark.tensorflow_only
def test_zoom_layer_in_predict_is_finite_for_bad_saliency():
    layer = Zoom(16, 16, saliency="uniform", grid_shape=(5, 5))
    images = keras.Input((32, 32, 1), batch_size=2)
    saliency = keras.Input((5, 5), batch_size=2)
    model = keras.Model([images, saliency], layer(images, saliency))
    values = np.ones((2, 5, 5), "float32")
    values[0] = np.nan
    values[1, 2, 2] = -3.0
    out = model.predict(
        [np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32"), values],
        verbose=0,
    )
    assert np.all(np.isfinite(out))


def folded_grid():
    grid = to_numpy(W.coarse_grid(peaks((4, 6), ((1, 3),), 50.0), fwhm=2.0))
    folded = grid.copy()
    folded[0, :, 3, 0] = folded[0, :, 1, 0]  # x steps back at column 3
    folded[0, 2, :, 1] = folded[0, 0, :, 1] - 0.05  # y steps back at row 2
    envelope = folded.copy()
    envelope[..., 0] = np.maximum.accumulate(folded[..., 0], axis=2)
    envelope[..., 1] = np.maximum.accumulate(folded[..., 1], axis=1)
    return folded.astype("float32"), envelope.astype("float32")


@pytest.mark.parametrize("separable", [True, False])
def test_folded_grids_are_inverted_through_their_monotone_envelope(separable):
    folded, envelope = folded_grid()
    features = np.random.default_rng(3).random((1, 12, 18, 2)).astype("float32")
    got = to_numpy(W.unzoom(features, folded, (10, 14), separable=separable))
    want = to_numpy(W.unzoom(features, envelope, (10, 14), separable=separable))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, atol=1e-5)
    points = np.array([[[3.0, 4.0], [9.0, 1.0]]], "float32")
    got = to_numpy(W.warp_keypoints(points, folded, (10, 14), (12, 18), separable))
    want = to_numpy(W.warp_keypoints(points, envelope, (10, 14), (12, 18), separable))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("separable", [True, False])
def test_graph_mode_folded_grid_and_inverted_boxes(separable):
    import tensorflow as tf

    folded, envelope = folded_grid()
    features = np.random.default_rng(3).random((1, 12, 18, 2)).astype("float32")
    unzoom = traced(lambda f, g: W.unzoom(f, g, (10, 14), separable=separable))
    got = to_numpy(unzoom(tf.constant(features), tf.constant(folded)))
    want = to_numpy(W.unzoom(features, envelope, (10, 14), separable=separable))
    np.testing.assert_allclose(got, want, atol=1e-5)
    # inverted boxes: reordered (eager raises)
    grid = W.coarse_grid(peaks((4, 6), ((1, 3),), 50.0).astype("float32"), fwhm=2.0)
    boxes = np.array([[[9.0, 8.0, 2.0, 1.0]]], "float32")
    ordered = np.array([[[2.0, 1.0, 9.0, 8.0]]], "float32")
    warp = traced(lambda b: W.warp_boxes(b, grid, (10, 14), (12, 18), separable))
    np.testing.assert_allclose(
        to_numpy(warp(tf.constant(boxes))),
        to_numpy(W.warp_boxes(ordered, grid, (10, 14), (12, 18), separable)),
        atol=1e-5,
    )
    assert_value_error(W.warp_boxes, "x2 >= x1", boxes, grid, (10, 14), (12, 18))
    kde = traced(lambda b: W.kde_saliency(b, (10, 14), (4, 6)))
    np.testing.assert_allclose(
        to_numpy(kde(tf.constant(boxes))),
        to_numpy(W.kde_saliency(ordered, (10, 14), (4, 6))),
        atol=1e-6,
    )


# --------------------------------------------------------------------------
# 4. kde_saliency arguments


def test_kde_rejects_bad_amplitude_bandwidth_and_boxes():
    boxes = np.array([[[1.0, 2.0, 5.0, 8.0]]], "float32")
    for amplitude in (-1.0, np.nan, np.inf):
        assert_value_error(
            W.kde_saliency, "amplitude", boxes, (10, 10), (3, 3), amplitude=amplitude
        )
    for bandwidth in (0.0, -2.0, np.nan):
        assert_value_error(
            W.kde_saliency, "bandwidth", boxes, (10, 10), (3, 3), bandwidth=bandwidth
        )
    assert_value_error(
        W.kde_saliency, "amplitude", boxes, (10, 10), (3, 3), amplitude=tensor(-1.0)
    )
    nan_box = np.array([[[1.0, np.nan, 5.0, 8.0]]], "float32")
    assert_value_error(W.kde_saliency, "finite", nan_box, (10, 10), (3, 3))
    assert_value_error(W.dataset_saliency, "finite", [nan_box[0]], (10, 10), (3, 3))
    assert_value_error(
        W.dataset_saliency, "bandwidth", [boxes[0]], (10, 10), (3, 3), bandwidth=0.0
    )


@pytest.mark.tensorflow_only
def test_graph_mode_kde_drops_nan_boxes_and_clamps_parameters():
    import tensorflow as tf

    boxes = np.array([[[1.0, 2.0, 5.0, 8.0], [0.0, 0.0, 2.0, 2.0]]], "float32")
    with_nan = boxes.copy()
    with_nan[0, 1, 2] = np.nan
    kde = traced(lambda b, a, w: W.kde_saliency(b, (10, 10), (3, 3), a, w))
    one = tf.constant(1.0)
    got = to_numpy(kde(tf.constant(with_nan), one, tf.constant(64.0)))
    want = to_numpy(W.kde_saliency(boxes[:, :1], (10, 10), (3, 3)))
    np.testing.assert_allclose(got, want, atol=1e-6)
    uniform = np.full((1, 3, 3), 1 / 9)
    for amplitude in (-1.0, np.nan):
        got = to_numpy(kde(tf.constant(boxes), tf.constant(amplitude), one))
        np.testing.assert_allclose(got, uniform, atol=1e-6)
    for bandwidth in (0.0, np.nan):
        got = to_numpy(kde(tf.constant(boxes), one, tf.constant(bandwidth)))
        assert np.all(np.isfinite(got)) and np.isclose(got.sum(), 1.0, atol=1e-5)


# --------------------------------------------------------------------------
# 5 - 8. bools, dtypes, batch sizes, empty inputs


def test_separable_must_be_a_bool():
    saliency = np.ones((3, 4), "float32")
    grid = W.coarse_grid(saliency)
    images = np.ones((1, 8, 8, 1), "float32")
    assert_value_error(W.coarse_grid, "separable='no'", saliency, separable="no")
    assert_value_error(W.saliency_to_grid, "separable", saliency, (8, 8), separable=1)
    assert_value_error(W.zoom, "separable", images, grid, (4, 4), separable="no")
    assert_value_error(W.unzoom, "separable", images, grid, separable="no")
    assert_value_error(W.invert_grid, "separable", grid, (4, 4), separable="no")
    assert_value_error(
        W.fixed_warp, "separable", np.ones((3, 4)), (8, 8), separable="no"
    )
    points = np.ones((1, 2, 2), "float32")
    assert_value_error(
        W.warp_keypoints, "separable", points, grid, (8, 8), (4, 4), "no"
    )


def test_uniform_saliency_needs_a_float_dtype():
    for dtype in ("int32", "bool", "uint8", "not-a-dtype"):
        assert_value_error(W.uniform_saliency, "float dtype", (3, 4), dtype)
    saliency = to_numpy(W.uniform_saliency((2, 4), "float64"))
    assert np.isclose(saliency.sum(), 1.0)
    if float64_available():
        assert saliency.dtype == np.float64


def test_mismatched_batch_sizes_raise():
    grid3 = W.coarse_grid(np.ones((3, 3, 4), "float32"))
    images2 = np.ones((2, 8, 8, 1), "float32")
    assert_value_error(W.zoom, "`images` and `grid`", images2, grid3, (4, 4))
    assert_value_error(W.unzoom, "`features` and `grid`", images2, grid3)
    assert_value_error(
        W.warp_masks, "`masks` and `grid`", np.ones((2, 8, 8), "int32"), grid3, (4, 4)
    )
    assert_value_error(
        W.unwarp_masks, "`masks` and `grid`", np.ones((2, 8, 8), "int32"), grid3, (4, 4)
    )
    points = np.ones((2, 5, 2), "float32")
    assert_value_error(
        W.warp_keypoints, "`keypoints` and `grid`", points, grid3, (8, 8), (4, 4)
    )
    boxes = np.tile(np.array([[[1.0, 1.0, 3.0, 3.0]]], "float32"), (2, 1, 1))
    assert_value_error(
        W.unwarp_boxes, "`boxes` and `grid`", boxes, grid3, (8, 8), (4, 4)
    )
    assert_value_error(
        W.warp_boxes, "valid", boxes, grid3[:1], (8, 8), (4, 4), valid=np.ones((3, 1))
    )
    assert_value_error(
        W.kde_saliency,
        "`boxes` and `valid`",
        boxes,
        (8, 8),
        (3, 3),
        valid=np.ones((3, 1)),
    )
    inverse = W.invert_separable_axes(grid3, (8, 8))
    assert_value_error(W.resample_inverse, "`features`", images2, inverse)
    # a batch of 1 is shared: fine
    assert tuple(W.zoom(images2, grid3[:1], (4, 4)).shape) == (2, 4, 4, 1)
    # layers
    zoom = Zoom(8, 8, saliency="uniform", grid_shape=(3, 4))
    assert_value_error(zoom, "`images` and `saliency`", images2, np.ones((3, 3, 4)))
    assert_value_error(Unzoom(), "`features` and `grid`", images2, grid3)


def test_zero_size_inputs_raise_and_empty_batches_work():
    grid = W.coarse_grid(np.ones((3, 4), "float32"))
    for shape in ((1, 0, 8, 1), (1, 8, 0, 1)):
        empty = np.ones(shape, "float32")
        assert_value_error(W.zoom, "non-zero height and width", empty, grid, (4, 4))
        assert_value_error(W.unzoom, "non-zero height and width", empty, grid, (4, 4))
        assert_value_error(
            W.warp_masks, "non-zero", np.ones(shape[:3], "int32"), grid, (4, 4)
        )
        assert_value_error(
            Zoom(8, 8, saliency="uniform", grid_shape=(3, 4)), "non-zero", empty
        )
        assert_value_error(
            Unzoom(saliency="uniform", grid_shape=(3, 4)), "non-zero", empty
        )
    nobody = np.ones((0, 8, 8, 1), "float32")
    for separable in (True, False):
        assert tuple(W.zoom(nobody, grid, (4, 6), separable).shape) == (0, 4, 6, 1)
        out = W.unzoom(nobody, grid, (5, 7), separable=separable)
        assert tuple(out.shape) == (0, 5, 7, 1)
    zoom = Zoom(8, 8, saliency=peaks((3, 4), ((1, 1),), 5.0), return_grid=True)
    zoomed, zoom_grid = zoom(nobody)
    assert tuple(zoomed.shape) == (0, 8, 8, 1) and tuple(zoom_grid.shape)[0] == 0
    assert tuple(Unzoom.from_zoom(zoom)(nobody).shape) == (0, 8, 8, 1)
