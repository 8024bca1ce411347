"""Zoom warps and their inverses against independent numpy references.

Runs on every backend (TensorFlow, JAX, PyTorch). float64 checks need float64
tensors: on JAX they run only with `jax_enable_x64` (`JAX_ENABLE_X64=1`).
"""

import keras
import numpy as np
import pytest
from scipy import ndimage, stats

from keras_resize.ops import resize, sample, sampling
from keras_resize.ops import warp as W
from keras_resize.testing import assert_value_error

RNG = np.random.default_rng(0)
BACKEND = keras.backend.backend()


def _float64_available():
    if BACKEND != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


FLOAT64 = _float64_available()
needs_float64 = pytest.mark.skipif(
    not FLOAT64,
    reason="float64 tensors on JAX need jax_enable_x64 (run with JAX_ENABLE_X64=1)",
)
DTYPES = [
    "float32",
    pytest.param("float64", marks=needs_float64),
]


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def tensor(x, dtype=None):
    return keras.ops.convert_to_tensor(np.asarray(x), dtype)


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


def value_and_gradients(function, *args):
    """`function(*args)` (a scalar) and its gradients to every argument."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xs = [tf.convert_to_tensor(a) for a in args]
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            value = function(*xs)
        grads = tape.gradient(value, xs)
    elif BACKEND == "jax":
        import jax

        xs = [keras.ops.convert_to_tensor(a) for a in args]
        value, grads = jax.value_and_grad(function, argnums=tuple(range(len(xs))))(*xs)
    else:
        import torch

        xs = [torch.tensor(np.asarray(a), requires_grad=True) for a in args]
        value = function(*xs)
        value.backward()
        grads = [x.grad for x in xs]
    return to_numpy(value), [None if g is None else to_numpy(g) for g in grads]


@pytest.fixture(autouse=True)
def plain_tensorflow_kernels():
    """On TensorFlow, run the sampler's gather cores as plain TF kernels: the
    nested XLA clusters would be compiled anew for every shape of these small
    tests (seconds each on 2 cores). `test_fused_and_plain_kernels_agree` and
    `test_compiles_under_xla` cover the compiled paths."""
    if not hasattr(sampling, "set_xla_fusion"):
        yield
        return
    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(False)
    yield
    sampling.set_xla_fusion(previous)


def peaked_saliency(grid_shape=(11, 17), peaks=((3, 12, 400.0), (8, 2, 150.0))):
    """Flat background plus sharp peaks: a strong, asymmetric warp."""
    s = np.ones(grid_shape)
    for row, col, value in peaks:
        s[row, col] += value
    return s


def pixel_centres(size):
    return (np.arange(size) + 0.5) / size * 2.0 - 1.0  # extent coordinates


# --------------------------------------------------------------------------
# independent references (numpy, from the formulas of ALGORITHMS.md)


def reference_axis(profile, pad, fwhm, mode):
    """1-D attraction kernel, literally: np.pad, positions, valid convolution."""
    size = len(profile)
    k = np.exp(-4 * np.log(2) * np.arange(-pad, pad + 1) ** 2 / fwhm**2)
    padded = np.pad(profile, pad, mode="reflect" if mode == "reflect" else "edge")
    positions = (np.arange(size + 2 * pad) - pad) / (size - 1)
    num = np.convolve(positions * padded, k, mode="valid")
    den = np.convolve(padded, k, mode="valid")
    return _clip_reflect(2 * num / den - 1, mode)


def _clip_reflect(grid, mode):
    """ALGORITHMS.md clips to [-1, 1]; the package clips reflect padding only
    (replicate nodes may lie past the borders, so that the warp stays
    invertible; see `coarse_grid`)."""
    return np.clip(grid, -1, 1) if mode == "reflect" else grid


def reference_grid(saliency, fwhm, mode, separable):
    gh, gw = saliency.shape
    pad = min(gh, gw) - 1
    if separable:
        x = reference_axis(saliency.sum(0), pad, fwhm, mode)
        y = reference_axis(saliency.sum(1), pad, fwhm, mode)
        return np.stack(np.broadcast_arrays(x[None, :], y[:, None]), -1)
    np_mode = "reflect" if mode == "reflect" else "edge"
    padded = np.pad(saliency, pad, mode=np_mode)
    d = np.arange(-pad, pad + 1)
    k2 = np.exp(-4 * np.log(2) * (d[:, None] ** 2 + d[None, :] ** 2) / fwhm**2)
    px = (np.arange(gw + 2 * pad) - pad) / (gw - 1)
    py = (np.arange(gh + 2 * pad) - pad) / (gh - 1)
    grid = np.zeros((gh, gw, 2))
    for i in range(gh):
        for j in range(gw):
            window = padded[i : i + 2 * pad + 1, j : j + 2 * pad + 1] * k2
            den = window.sum()
            grid[i, j, 0] = (window * px[None, j : j + 2 * pad + 1]).sum() / den
            grid[i, j, 1] = (window * py[i : i + 2 * pad + 1, None]).sum() / den
    return _clip_reflect(2 * grid - 1, mode)


def brute_force_inverse(grid, qx, qy):
    """Invert a piecewise-bilinear warp by Newton's method in every tile."""
    gh, gw = grid.shape[:2]
    v00 = grid[:-1, :-1].reshape(-1, 2)
    v01 = grid[:-1, 1:].reshape(-1, 2)
    v10 = grid[1:, :-1].reshape(-1, 2)
    v11 = grid[1:, 1:].reshape(-1, 2)
    rows, cols = np.meshgrid(np.arange(gh - 1), np.arange(gw - 1), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    points = np.stack([qx, qy], -1)  # (q, 2)
    out = np.full((len(points), 2), np.nan)
    for start in range(0, len(points), 256):
        p = points[start : start + 256, None, :]  # (q, 1, 2)
        l_value = np.full(p.shape[:1] + (len(v00),), 0.5)
        m = np.full_like(l_value, 0.5)
        for _ in range(40):
            value = (
                v00 * (1 - l_value[..., None]) * (1 - m[..., None])
                + v01 * (1 - l_value[..., None]) * m[..., None]
                + v10 * l_value[..., None] * (1 - m[..., None])
                + v11 * l_value[..., None] * m[..., None]
                - p
            )
            d_l = (v10 - v00) * (1 - m[..., None]) + (v11 - v01) * m[..., None]
            d_m = (v01 - v00) * (1 - l_value[..., None]) + (v11 - v10) * l_value[
                ..., None
            ]
            det = d_l[..., 0] * d_m[..., 1] - d_l[..., 1] * d_m[..., 0]
            step_l = (value[..., 0] * d_m[..., 1] - value[..., 1] * d_m[..., 0]) / det
            step_m = (d_l[..., 0] * value[..., 1] - d_l[..., 1] * value[..., 0]) / det
            l_value, m = l_value - step_l, m - step_m
        inside = (
            (np.abs(value).max(-1) < 1e-12)
            & (l_value > -1e-9)
            & (l_value < 1 + 1e-9)
            & (m > -1e-9)
            & (m < 1 + 1e-9)
        )
        found = inside.argmax(-1)
        ok = inside.any(-1)
        pick = np.arange(len(found))
        u = (cols[found] + m[pick, found]) / (gw - 1) * 2 - 1
        v = (rows[found] + l_value[pick, found]) / (gh - 1) * 2 - 1
        out[start : start + 256][ok] = np.stack([u, v], -1)[ok]
    return out


def interp_inverse(nodes, queries):
    grid_size = len(nodes)
    u = np.interp(queries, nodes, np.arange(grid_size)) / (grid_size - 1)
    return 2 * u - 1


# --------------------------------------------------------------------------
# saliency -> grid


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize(
    "in_size, out_size",
    [((40, 60), (10, 15)), ((23, 31), (37, 50)), ((30, 30), (7, 19))],
)
def test_uniform_saliency_is_the_bilinear_resize(in_size, out_size, separable):
    images = RNG.random((2,) + in_size + (3,)).astype("float32")
    saliency = W.uniform_saliency((5, 7))
    grid = W.coarse_grid(saliency, separable=separable)
    zoomed = to_numpy(W.zoom(images, grid, out_size, separable=separable))
    np.testing.assert_allclose(zoomed, to_numpy(resize(images, out_size)), atol=1e-5)
    tf = pytest.importorskip("tensorflow")  # the reference, on every backend
    np.testing.assert_allclose(zoomed, tf.image.resize(images, out_size), atol=1e-5)
    # and through the plain sampler, in its "normalized" convention
    dense = W.saliency_to_grid(saliency, out_size, separable=separable)
    coordinates = W.grid_to_coordinates(dense, in_size, "normalized")
    sampled = sample(
        images, coordinates, padding_mode="border", convention="normalized"
    )
    np.testing.assert_allclose(
        to_numpy(sampled), to_numpy(resize(images, out_size)), atol=1e-5
    )


def test_a_peaked_saliency_is_not_the_resize():
    images = RNG.random((1, 40, 60, 3)).astype("float32")
    grid = W.coarse_grid(peaked_saliency())
    zoomed = to_numpy(W.zoom(images, grid, (20, 30)))
    assert np.abs(zoomed - to_numpy(resize(images, (20, 30)))).max() > 0.1


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize("padding", ["reflect", "replicate"])
def test_coarse_grid_matches_the_reference_formula(separable, padding):
    saliency = RNG.random((7, 9)) ** 4 + 0.01
    for fwhm in (2.0, 6.0):
        expected = reference_grid(saliency, fwhm, padding, separable)
        if FLOAT64:
            got64 = to_numpy(W.coarse_grid(saliency, fwhm, padding, separable))[0]
            np.testing.assert_allclose(got64, expected, atol=1e-12)
        got32 = W.coarse_grid(saliency.astype("float32"), fwhm, padding, separable)
        assert dtype_of(got32) == "float32"
        np.testing.assert_allclose(to_numpy(got32)[0], expected, atol=2e-6)
        # the float64 numpy path of fixed warps: the same formula
        fixed = W.fixed_warp(saliency, (8, 8), fwhm, padding, separable)["grid"]
        np.testing.assert_allclose(fixed[0], expected, atol=1e-12)


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_anti_crop_end_nodes_are_exactly_the_borders(separable, dtype):
    saliency = np.stack([RNG.random((9, 13)) ** 6 for _ in range(3)])
    saliency[1] = peaked_saliency((9, 13), ((0, 0, 500.0), (8, 12, 50.0)))
    saliency[2] = peaked_saliency((9, 13), ((1, 1, 900.0),))
    grid = W.coarse_grid(saliency.astype(dtype), fwhm=3.0, separable=separable)
    assert dtype_of(grid) == dtype
    grid = to_numpy(grid)
    assert np.all(grid[:, :, 0, 0] == -1.0) and np.all(grid[:, :, -1, 0] == 1.0)
    assert np.all(grid[:, 0, :, 1] == -1.0) and np.all(grid[:, -1, :, 1] == 1.0)
    # replicate padding crops when saliency peaks near (not at) the border
    cropped = W.coarse_grid(saliency.astype(dtype), 3.0, "replicate", separable)
    assert to_numpy(cropped)[2, 1, 0, 0] > -0.99  # the row of the peak


def test_uniform_saliency_is_the_identity_grid_and_stronger_saliency_warps_more():
    grid = to_numpy(W.coarse_grid(W.uniform_saliency((6, 11))))[0]
    np.testing.assert_allclose(grid[0, :, 0], np.linspace(-1, 1, 11), atol=1e-6)
    np.testing.assert_allclose(grid[:, 0, 1], np.linspace(-1, 1, 6), atol=1e-6)
    magnification = []
    for peak in (0.01, 1.0, 10.0, 100.0):
        s = np.ones((11, 17))
        s[5, 8] += peak
        x = to_numpy(W.coarse_grid(s))[0, 0, :, 0].astype("float64")
        magnification.append((2 / 16) / (x[9] - x[8]))  # zoomed / original step
    assert abs(magnification[0] - 1) < 1e-3  # nearly flat: almost no warp
    assert np.all(np.diff(magnification) > 0) and magnification[-1] > 1.5


@pytest.mark.parametrize("dtype, atol", [("float32", 1e-6), ("float64", 1e-12)])
def test_upsample_grid_evaluates_the_bilinear_warp_at_pixel_centres(dtype, atol):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    grid = to_numpy(W.coarse_grid(peaked_saliency().astype(dtype), separable=False))
    dense = to_numpy(W.upsample_grid(grid, (23, 40)))[0]
    numpy_dense = W.upsample_grid_numpy(grid.astype("float64"), (23, 40))[0]
    gh, gw = grid.shape[1:3]
    rows = (np.arange(23) + 0.5) / 23 * (gh - 1)
    cols = (np.arange(40) + 0.5) / 40 * (gw - 1)
    r, c = np.meshgrid(rows, cols, indexing="ij")
    for channel in range(2):
        expected = ndimage.map_coordinates(
            grid[0, ..., channel].astype("float64"), [r, c], order=1
        )
        np.testing.assert_allclose(dense[..., channel], expected, atol=atol)
        np.testing.assert_allclose(numpy_dense[..., channel], expected, atol=1e-12)


# --------------------------------------------------------------------------
# inverses


@pytest.mark.parametrize("dtype, atol", [("float32", 2e-6), ("float64", 1e-13)])
def test_separable_inverse_matches_numpy_interp(dtype, atol):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    saliency = np.stack([peaked_saliency(), RNG.random((11, 17)) + 0.1])
    grid = to_numpy(W.coarse_grid(saliency.astype(dtype), fwhm=4.0))
    inverse = to_numpy(W.invert_separable_grid(grid, (29, 45)))
    for b in range(2):
        x_nodes = grid[b, 0, :, 0].astype("float64")
        y_nodes = grid[b, :, 0, 1].astype("float64")
        np.testing.assert_allclose(
            inverse[b, 0, :, 0], interp_inverse(x_nodes, pixel_centres(45)), atol=atol
        )
        np.testing.assert_allclose(
            inverse[b, :, 0, 1], interp_inverse(y_nodes, pixel_centres(29)), atol=atol
        )


@pytest.mark.parametrize("separable_saliency", [True, False])
@pytest.mark.parametrize("dtype, atol", [("float32", 2e-5), ("float64", 1e-9)])
def test_nonseparable_inverse_matches_a_brute_force_search(
    separable_saliency, dtype, atol
):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    saliency = peaked_saliency((7, 9), ((2, 6, 300.0), (5, 1, 80.0)))
    grid = W.coarse_grid(saliency.astype(dtype), fwhm=3.0, separable=separable_saliency)
    grid = to_numpy(grid)
    got = to_numpy(W.invert_nonseparable_grid(grid, (21, 33)))[0]
    qx, qy = np.meshgrid(pixel_centres(33), pixel_centres(21))
    expected = brute_force_inverse(
        grid[0].astype("float64"), qx.ravel(), qy.ravel()
    ).reshape(got.shape)
    assert not np.isnan(expected).any()
    np.testing.assert_allclose(got, expected, atol=atol)
    # the float64 numpy path of fixed inverses
    fixed = W.fixed_inverse(grid, (21, 33), separable=False)[0]
    np.testing.assert_allclose(fixed, expected, atol=1e-9)


@pytest.mark.parametrize("dtype, atol", [("float32", 1e-6), ("float64", 1e-12)])
def test_nonseparable_inverse_of_a_separable_grid_equals_the_separable_inverse(
    dtype, atol
):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    saliency = np.stack([peaked_saliency(), RNG.random((11, 17)) ** 3 + 0.05])
    grid = W.coarse_grid(saliency.astype(dtype), fwhm=4.0)
    separable = to_numpy(W.invert_separable_grid(grid, (40, 52)))
    general = to_numpy(W.invert_nonseparable_grid(grid, (40, 52)))
    np.testing.assert_allclose(general, separable, atol=atol)


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize(
    "dtype, tolerance_px",
    [("float32", 1e-3), pytest.param("float64", 1e-8, marks=needs_float64)],
)
def test_forward_then_inverse_round_trip(separable, dtype, tolerance_px):
    """Strongly peaked saliency, both directions, in pixels of the images."""
    zoomed_size, original_size = (48, 80), (120, 200)
    saliency = np.stack(
        [peaked_saliency(), peaked_saliency((11, 17), ((5, 8, 2000.0),))]
    )
    grid = W.coarse_grid(saliency.astype(dtype), fwhm=4.0, separable=separable)
    # zoomed pixel centres -> original (forward), -> zoomed again (inverse)
    zx, zy = np.meshgrid(
        (np.arange(80) + 0.5), (np.arange(48) + 0.5)
    )  # zoomed pixel coordinates
    points = np.broadcast_to(np.stack([zx, zy], -1).reshape(1, -1, 2), (2, 48 * 80, 2))
    points = points.astype(dtype)
    original = W.unwarp_keypoints(points, grid, zoomed_size, original_size)
    back = W.warp_keypoints(original, grid, original_size, zoomed_size, separable)
    assert dtype_of(back) == dtype
    assert np.abs(to_numpy(back) - points).max() < tolerance_px
    # the dense inverse: original pixel centres -> zoomed (inverse) -> original
    inverse = to_numpy(W.invert_grid(grid, original_size, separable=separable))
    assert inverse.min() >= -1.0  # anti-crop: everything covered
    zoomed_points = to_numpy(W.grid_to_coordinates(inverse, zoomed_size))
    again = to_numpy(
        W.unwarp_keypoints(
            zoomed_points.reshape(2, -1, 2), grid, zoomed_size, original_size
        )
    )
    ox, oy = np.meshgrid(np.arange(200) + 0.5, np.arange(120) + 0.5)
    expected = np.stack([ox, oy], -1).reshape(1, -1, 2)
    assert np.abs(again - expected).max() < tolerance_px * 2.5  # original px


def test_the_warp_is_strong_in_the_round_trip_test():
    grid = W.coarse_grid(peaked_saliency((11, 17), ((5, 8, 2000.0),)), fwhm=4.0)
    x = to_numpy(grid)[0, 0, :, 0]
    steps = np.diff(x)
    assert steps.max() / steps.min() > 5  # locally > 5x magnification


@pytest.mark.slow_on_jax
@pytest.mark.parametrize("dtype, atol", [("float32", 1e-6), ("float64", 1e-12)])
def test_uncovered_pixels_sample_zeros(dtype, atol):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    saliency = peaked_saliency((9, 13), ((1, 1, 900.0), (7, 11, 900.0)))
    grid = W.coarse_grid(saliency.astype(dtype), fwhm=3.0, padding="replicate")
    x_nodes = to_numpy(grid)[0, 0, :, 0]
    assert x_nodes[0] > -0.97 and x_nodes[-1] < 0.97  # cropped on both sides
    inverse = to_numpy(W.invert_separable_grid(grid, (30, 40)))
    centres = pixel_centres(40).astype(dtype)
    outside = (centres < x_nodes[0]) | (centres > x_nodes[-1])
    assert outside.sum() >= 2
    np.testing.assert_array_equal(inverse[0, 15, :, 0] == W.UNCOVERED, outside)
    general = to_numpy(W.invert_nonseparable_grid(grid, (30, 40)))
    np.testing.assert_array_equal(general[0, 15, :, 0] == W.UNCOVERED, outside)
    np.testing.assert_allclose(general, inverse, atol=atol)
    features = np.ones((1, 16, 24, 2), "float32")
    for separable in (True, False):
        out = to_numpy(W.unzoom(features, grid, (30, 40), separable=separable))
        np.testing.assert_array_equal(out[0, 5, :, 0] == 0, outside)
        np.testing.assert_allclose(out[0, 5, ~outside], 1.0)


def ramp_features(height, width, dtype="float64"):
    """A map whose value is its own (x, y) pixel coordinate: bilinear
    sampling reads back the sampling position exactly."""
    x, y = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return np.stack([x, y], -1)[None].astype(dtype)


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize("dtype, atol", [("float32", 1e-4), ("float64", 1e-10)])
def test_unzoom_reads_the_zoomed_map_at_the_inverse_warp(separable, dtype, atol):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    saliency = peaked_saliency().astype(dtype)
    grid = W.coarse_grid(saliency, fwhm=4.0, separable=separable)
    features = ramp_features(24, 40, dtype)
    out = to_numpy(W.unzoom(features, grid, (30, 50), separable=separable))[0]
    inverse = to_numpy(W.invert_grid(grid, (30, 50), separable=separable))[0]
    expected = to_numpy(W.grid_to_coordinates(inverse, (24, 40)))
    expected[..., 0] = np.clip(expected[..., 0], 0.5, 39.5)  # border clamp
    expected[..., 1] = np.clip(expected[..., 1], 0.5, 23.5)
    np.testing.assert_allclose(out, expected, atol=atol)


@pytest.mark.slow_on_jax
def test_valid_region_inversion_of_a_padded_zoom():
    grid = W.coarse_grid(peaked_saliency(), fwhm=4.0)
    images = RNG.random((1, 60, 100, 2)).astype("float32")
    zoomed = to_numpy(W.zoom(images, grid, (48, 80)))
    padded = np.pad(zoomed, [[0, 0], [0, 16], [0, 16], [0, 0]])  # to 64 x 96
    for separable in (True, False):
        got = to_numpy(
            W.unzoom(
                padded,
                grid,
                separable=separable,
                valid_size=(48, 80),
                padded_size=(64, 96),
            )
        )
        plain = to_numpy(W.unzoom(zoomed, grid, separable=separable))
        np.testing.assert_allclose(got[:, :48, :80], plain, atol=1e-5)
        assert np.all(got[:, 48:] == 0) and np.all(got[:, :, 80:] == 0)
        # ignoring the padding (the public bug) stretches the features
        naive = to_numpy(W.unzoom(padded, grid, separable=separable))
        assert np.abs(naive[:, :48, :80] - plain).max() > 0.2
    # feature-pyramid level: the same fractions at a quarter of the size
    level = W.unzoom(
        padded[:, ::4, ::4], grid, valid_size=(48, 80), padded_size=(64, 96)
    )
    assert tuple(level.shape) == (1, 16, 24, 2)


# --------------------------------------------------------------------------
# boxes, keypoints, masks


def random_boxes(rng, batch, count, height, width):
    x = np.sort(rng.uniform(0, width, (batch, count, 2)), -1)
    y = np.sort(rng.uniform(0, height, (batch, count, 2)), -1)
    return np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)


def test_boxes_warped_then_unwarped_return_to_themselves():
    rng = np.random.default_rng(1)
    saliency = np.stack([peaked_saliency(), rng.random((11, 17)) + 0.05])
    grid = W.coarse_grid(saliency.astype("float32"), fwhm=4.0)
    boxes = random_boxes(rng, 2, 20, 120, 200).astype("float32")
    boxes[0, 0] = [0.0, 0.0, 200.0, 120.0]  # the whole image
    zoomed = to_numpy(W.warp_boxes(boxes, grid, (120, 200), (48, 80)))
    assert np.all(zoomed >= -1e-4) and np.all(zoomed[..., 2] <= 80.001)
    back = to_numpy(W.unwarp_boxes(zoomed, grid, (48, 80), (120, 200)))
    np.testing.assert_allclose(back, boxes, atol=1e-3)
    np.testing.assert_allclose(zoomed[0, 0], [0, 0, 80, 48], atol=1e-4)
    # yxyx is the same transform on permuted columns
    yxyx = W.warp_boxes(
        boxes[..., [1, 0, 3, 2]], grid, (120, 200), (48, 80), box_format="yxyx"
    )
    np.testing.assert_allclose(to_numpy(yxyx)[..., [1, 0, 3, 2]], zoomed, atol=1e-6)


@pytest.mark.parametrize("dtype, atol", [("float32", 1e-4), ("float64", 1e-10)])
def test_unwarp_boxes_matches_bilinear_interpolation_of_the_grid(dtype, atol):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    saliency = peaked_saliency().astype(dtype)
    grid = to_numpy(W.coarse_grid(saliency, fwhm=4.0, separable=False))
    boxes = random_boxes(np.random.default_rng(2), 1, 15, 48, 80).astype(dtype)
    got = to_numpy(W.unwarp_boxes(boxes, grid, (48, 80), (120, 200)))[0]
    gh, gw = grid.shape[1:3]
    grid = grid.astype("float64")

    def forward(x, y):  # zoomed pixels -> original pixels
        coords = [y / 48 * (gh - 1), x / 80 * (gw - 1)]
        fx = ndimage.map_coordinates(grid[0, ..., 0], coords, order=1, mode="nearest")
        fy = ndimage.map_coordinates(grid[0, ..., 1], coords, order=1, mode="nearest")
        return (fx + 1) / 2 * 200, (fy + 1) / 2 * 120

    b = boxes[0].astype("float64")
    xs, ys = forward(b[:, [0, 2, 0, 2]], b[:, [1, 1, 3, 3]])
    expected = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], -1)
    np.testing.assert_allclose(got, expected, atol=atol)


def test_uniform_warp_scales_boxes_and_padding_rows_stay():
    grid = W.coarse_grid(W.uniform_saliency((4, 6)))
    boxes = np.array([[[10.0, 20.0, 30.0, 60.0], [-1, -1, -1, -1]]], "float32")
    valid = np.array([[True, False]])
    out = to_numpy(W.warp_boxes(boxes, grid, (100, 200), (50, 50), valid=valid))
    np.testing.assert_allclose(out[0, 0], [2.5, 10.0, 7.5, 30.0], atol=1e-5)
    np.testing.assert_array_equal(out[0, 1], [-1, -1, -1, -1])


@pytest.mark.parametrize("dtype, atol", [("float32", 2e-3), ("float64", 1e-8)])
def test_nonseparable_keypoints_round_trip_and_boxes_enclose(dtype, atol):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    saliency = peaked_saliency().astype(dtype)
    grid = W.coarse_grid(saliency, fwhm=4.0, separable=False)
    points = random_boxes(np.random.default_rng(3), 1, 30, 120, 200)[..., :2]
    points = points.astype(dtype)
    zoomed = W.warp_keypoints(points, grid, (120, 200), (48, 80), separable=False)
    back = to_numpy(W.unwarp_keypoints(zoomed, grid, (48, 80), (120, 200)))
    np.testing.assert_allclose(back, points, atol=atol)
    boxes = random_boxes(np.random.default_rng(4), 1, 10, 120, 200).astype(dtype)
    there = W.warp_boxes(boxes, grid, (120, 200), (48, 80), separable=False)
    back = to_numpy(W.unwarp_boxes(there, grid, (48, 80), (120, 200)))
    assert np.all(back[..., :2] <= boxes[..., :2] + atol)  # encloses
    assert np.all(back[..., 2:] >= boxes[..., 2:] - atol)


def test_masks_keep_labels_and_survive_a_round_trip():
    masks = np.zeros((2, 60, 100), "int32")
    masks[:, 10:40, 20:70] = 3
    masks[1, 45:58, 5:30] = 7
    grid = W.coarse_grid(peaked_saliency(), fwhm=4.0)
    zoomed = W.warp_masks(masks, grid, (120, 200))
    assert dtype_of(zoomed) == "int32" and tuple(zoomed.shape) == (2, 120, 200)
    zoomed = to_numpy(zoomed)
    assert set(np.unique(zoomed)) == {0, 3, 7}
    back = to_numpy(W.unwarp_masks(zoomed, grid, (60, 100)))
    assert set(np.unique(back)) <= {0, 3, 7}
    assert (back == masks).mean() > 0.99
    # with channels and floats, too
    float_masks = masks[..., None].astype("float32")
    np.testing.assert_array_equal(
        to_numpy(W.warp_masks(float_masks, grid, (120, 200)))[..., 0], zoomed
    )


# --------------------------------------------------------------------------
# saliency sources


def reference_kde(boxes, image_size, grid_shape, amplitude, bandwidth):
    height, width = image_size
    gh, gw = grid_shape
    pad = min(gh, gw) - 1
    X, Y = np.meshgrid(np.linspace(0, width, gw), np.linspace(0, height, gh))
    total = np.zeros(grid_shape)
    for x1, y1, x2, y2 in boxes:
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        g = np.exp(
            -0.5 * ((X - cx) ** 2 / (bandwidth * w) + (Y - cy) ** 2 / (bandwidth * h))
        )
        total += amplitude * g / (1e-5 + g.sum()) + 1 / (2 * pad + 1) ** 2
    return total / total.sum()


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5), ("float64", 1e-10)])
def test_kde_saliency_matches_fovea_formula_and_masks_padding(dtype, rtol):
    if dtype == "float64" and not FLOAT64:
        pytest.skip("float64 tensors on JAX need jax_enable_x64")
    rng = np.random.default_rng(5)
    boxes = random_boxes(rng, 2, 4, 300, 500).astype(dtype)
    valid = np.array([[True, True, False, True], [False, False, False, False]])
    got = W.kde_saliency(boxes, (300, 500), (9, 15), 2.0, 16.0, valid=valid)
    assert dtype_of(got) == dtype
    got = to_numpy(got)
    expected = reference_kde(
        boxes[0, valid[0]].astype("float64"), (300, 500), (9, 15), 2.0, 16.0
    )
    np.testing.assert_allclose(got[0], expected, rtol=rtol)
    np.testing.assert_allclose(got[1], 1 / (9 * 15), rtol=rtol)  # no boxes: uniform
    yxyx = W.kde_saliency(
        boxes[..., [1, 0, 3, 2]], (300, 500), (9, 15), 2.0, 16.0, valid, "yxyx"
    )
    np.testing.assert_allclose(to_numpy(yxyx), got, rtol=rtol)
    assert abs(got[0].max() / got[0].min() - 1) > 0.5  # not flat


def test_learned_kde_parameters_get_gradients():
    boxes = keras.ops.convert_to_tensor([[[40.0, 50.0, 90.0, 120.0]]])
    images = keras.ops.convert_to_tensor(
        np.random.default_rng(12).random((1, 64, 64, 1)).astype("float32")
    )
    weights = keras.ops.convert_to_tensor(np.arange(32.0, dtype="float32"))

    def loss(raw_amplitude, raw_bandwidth):
        amplitude = W.learned_kde_parameter(raw_amplitude, 1.0)
        bandwidth = W.learned_kde_parameter(raw_bandwidth, 64.0)
        saliency = W.kde_saliency(boxes, (200, 200), (7, 9), amplitude, bandwidth)
        zoomed = W.zoom(images, W.coarse_grid(saliency, fwhm=3.0), (32, 32))
        return keras.ops.sum(zoomed * weights[:, None, None])

    _, grads = value_and_gradients(
        loss, np.asarray(0.0, "float32"), np.asarray(0.0, "float32")
    )
    assert all(g is not None and np.isfinite(g) and g != 0 for g in grads)


def test_jitter_is_uniform_and_zero_mean():
    boxes = np.tile([[100.0, 50.0, 140.0, 90.0]], (20000, 1))
    shifted = W.jitter_boxes(boxes, (8.0, 3.0), seed=7)
    atol = 1e-9 if dtype_of(shifted) == "float64" else 1e-4
    shifted = to_numpy(shifted).astype("float64")
    dx, dy = shifted[:, 0] - 100.0, shifted[:, 1] - 50.0
    np.testing.assert_allclose(shifted[:, 2] - shifted[:, 0], 40.0, atol=atol)
    np.testing.assert_allclose(shifted[:, 3] - shifted[:, 1], 40.0, atol=atol)
    assert np.abs(dx).max() <= 8.0 + atol and np.abs(dy).max() <= 3.0 + atol
    assert stats.kstest(dx / 8.0, "uniform", args=(-1, 2)).pvalue > 1e-3
    assert stats.kstest(dy / 3.0, "uniform", args=(-1, 2)).pvalue > 1e-3
    assert abs(dx.mean()) < 0.15 and np.abs(dx).max() > 7.9
    again = to_numpy(W.jitter_boxes(boxes, (8.0, 3.0), seed=7)).astype("float64")
    np.testing.assert_array_equal(again, shifted)
    other = to_numpy(W.jitter_boxes(boxes, (8.0, 3.0), seed=8)).astype("float64")
    assert np.abs(other - shifted).max() > 1.0


@pytest.mark.tensorflow_only
def test_jitter_takes_per_example_seed_tensors_in_a_tensorflow_graph():
    import tensorflow as tf

    boxes = tf.constant([[10.0, 10.0, 20.0, 30.0]] * 3)

    @tf.function
    def jitter(seed):
        return W.jitter_boxes(boxes, 2.0, seed)

    first = jitter(tf.constant([1, 2], tf.int64)).numpy()
    second = jitter(tf.constant([1, 3], tf.int64)).numpy()
    assert np.abs(first - boxes.numpy()).max() <= 2.0
    assert np.abs(first - second).max() > 0
    np.testing.assert_array_equal(jitter(tf.constant([1, 2], tf.int64)), first)


def test_dataset_saliency_pools_all_boxes_and_drops_padding():
    rng = np.random.default_rng(6)
    per_image = [random_boxes(rng, 1, k, 256, 256)[0] for k in (3, 1, 5)]
    padded = [np.concatenate([b, -np.ones((2, 4))]) for b in per_image]
    prior = W.dataset_saliency(padded, (256, 256), (8, 12), chunk_size=3)
    expected = reference_kde(np.concatenate(per_image), (256, 256), (8, 12), 1.0, 64.0)
    np.testing.assert_allclose(prior, expected, rtol=1e-10)
    assert prior.dtype == np.float64
    np.testing.assert_allclose(W.dataset_saliency([], (256, 256), (8, 12)), 1 / 96)


# --------------------------------------------------------------------------
# gradients, compilation, fixed warps


@needs_float64
def test_gradients_match_finite_differences():
    """float64 directional derivatives `w . J v` of the grid and of both
    inverses with respect to the saliency, autodiff vs central differences."""
    rng = np.random.default_rng(8)
    saliency = peaked_saliency((5, 7), ((2, 4, 5.0),))
    box = np.array([[3.0, 2.0, 17.0, 9.0]])
    functions = {
        "coarse grid": lambda s: W.coarse_grid(s, fwhm=2.5, separable=False),
        "separable inverse": lambda s: W.invert_separable_grid(
            W.coarse_grid(s, fwhm=2.5), (6, 9)
        ),
        "nonseparable inverse": lambda s: W.invert_nonseparable_grid(
            W.coarse_grid(s, fwhm=2.5, separable=False), (6, 9)
        ),
        "unwarped boxes": lambda s: W.unwarp_boxes(
            keras.ops.convert_to_tensor(box, "float64"),
            W.coarse_grid(s, fwhm=2.5, separable=False),
            (12, 20),
            (30, 50),
        ),
    }
    for name, function in functions.items():
        shape = to_numpy(function(saliency)).shape
        cotangent = rng.normal(size=shape)

        def scalar(s, function=function, cotangent=cotangent):
            return keras.ops.sum(
                function(s) * keras.ops.convert_to_tensor(cotangent, "float64")
            )

        _, (gradient,) = value_and_gradients(scalar, saliency)
        assert np.abs(gradient).max() > 1e-3, name
        for _ in range(3):
            direction = rng.normal(size=saliency.shape)
            h = 1e-6
            plus = to_numpy(scalar(saliency + h * direction))
            minus = to_numpy(scalar(saliency - h * direction))
            numerical = (plus - minus) / (2 * h)
            np.testing.assert_allclose(
                (gradient * direction).sum(),
                numerical,
                rtol=1e-5,
                atol=1e-8,
                err_msg=name,
            )


@pytest.mark.slow_on_jax
def test_gradients_flow_to_learned_saliency_parameters():
    logits = np.random.default_rng(3).normal(size=(2, 7, 9)).astype("float32")
    images = keras.ops.convert_to_tensor(
        np.random.default_rng(5).random((2, 40, 50, 3)).astype("float32")
    )

    def loss(logits):
        flat = keras.ops.softmax(keras.ops.reshape(logits, (2, -1)), axis=-1)
        saliency = keras.ops.reshape(flat, (2, 7, 9))
        grid = W.coarse_grid(saliency, fwhm=3.0)
        features = W.zoom(images, grid, (20, 25))
        restored = W.unzoom(features, grid, (40, 50))
        return keras.ops.sum(keras.ops.square(restored - images))

    _, (grad,) = value_and_gradients(loss, logits)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 1e-4


def _pipeline_inputs():
    images = np.random.default_rng(7).random((2, 40, 50, 3)).astype("float32")
    saliency = np.stack([peaked_saliency(), peaked_saliency()[::-1]]).astype("float32")
    boxes = random_boxes(np.random.default_rng(9), 2, 3, 40, 50).astype("float32")
    return images, saliency, boxes


def _pipeline(separable):
    def pipeline(images, saliency, boxes):
        grid = W.coarse_grid(saliency, fwhm=4.0, separable=separable)
        zoomed = W.zoom(images, grid, (24, 30), separable=separable)
        restored = W.unzoom(zoomed, grid, (40, 50), separable=separable)
        warped = W.warp_boxes(boxes, grid, (40, 50), (24, 30), separable=separable)
        return zoomed, restored, W.unwarp_boxes(warped, grid, (24, 30), (40, 50))

    return pipeline


def _check_compiled(eager, compiled, boxes, separable):
    for a, b in zip(eager, compiled, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-4)
    if separable:  # nonseparable: the enclosing box of the mapped corners
        np.testing.assert_allclose(to_numpy(compiled[2]), boxes, atol=1e-3)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("separable", [True, False])
def test_compiles_under_xla(separable):
    import tensorflow as tf

    inputs = [tf.constant(x) for x in _pipeline_inputs()]
    pipeline = _pipeline(separable)
    eager = pipeline(*inputs)
    compiled = tf.function(pipeline, jit_compile=True)(*inputs)
    _check_compiled(eager, compiled, inputs[2].numpy(), separable)


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit on the JAX backend")
@pytest.mark.parametrize("separable", [True, False])
def test_compiles_under_jax_jit(separable):
    import jax

    inputs = [keras.ops.convert_to_tensor(x) for x in _pipeline_inputs()]
    pipeline = _pipeline(separable)
    eager = pipeline(*inputs)
    compiled = jax.jit(pipeline)(*inputs)
    _check_compiled(eager, compiled, _pipeline_inputs()[2], separable)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("separable", [True, False])
def test_unzoom_of_maps_of_unknown_size_in_a_tensorflow_graph(separable):
    import tensorflow as tf

    grid = W.coarse_grid(peaked_saliency().astype("float32"), 4.0, separable=separable)
    features = RNG.random((2, 24, 40, 3)).astype("float32")
    unzoom = tf.function(
        lambda f: W.unzoom(f, grid, separable=separable),
        input_signature=[tf.TensorSpec([None, None, None, 3])],
    )
    np.testing.assert_allclose(
        unzoom(features), W.unzoom(features, grid, separable=separable), atol=1e-5
    )


def test_fixed_warp_float64_constants():
    saliency = peaked_saliency()
    warp = W.fixed_warp(saliency, (48, 80), fwhm=4.0)
    assert warp["x"].dtype == np.float64 and warp["x"].shape == (80,)
    dense = to_numpy(W.saliency_to_grid(saliency.astype("float32"), (48, 80), fwhm=4.0))
    np.testing.assert_allclose(dense[0, 0, :, 0], warp["x"], atol=1e-6)
    np.testing.assert_allclose(dense[0, :, 0, 1], warp["y"], atol=1e-6)
    x, y = W.fixed_inverse(warp["grid"], (120, 200))
    assert x.dtype == np.float64
    # inverse then forward: exact to float64 rounding
    forward_x = np.interp(
        (x[0] + 1) / 2, np.linspace(0, 1, 17), warp["grid"][0, 0, :, 0]
    )
    np.testing.assert_allclose(forward_x, pixel_centres(200), atol=1e-12)
    general = W.fixed_warp(saliency, (48, 80), fwhm=4.0, separable=False)
    assert general["dense"].shape == (1, 48, 80, 2)
    dense = to_numpy(
        W.saliency_to_grid(
            saliency.astype("float32"), (48, 80), fwhm=4.0, separable=False
        )
    )
    np.testing.assert_allclose(dense, general["dense"], atol=1e-6)
    assert W.fixed_inverse(general["grid"], (12, 20), separable=False).shape == (
        1,
        12,
        20,
        2,
    )


# --------------------------------------------------------------------------
# bad input


def test_bad_inputs_raise_value_errors():
    assert_value_error(
        W.coarse_grid, "non-negative", np.array([[1.0, -0.5], [1.0, 1.0]])
    )
    assert_value_error(
        W.coarse_grid, "non-negative", tensor([[1.0, -0.5], [1.0, 1.0]], "float32")
    )
    assert_value_error(W.coarse_grid, "positive sum", np.zeros((3, 3)))
    assert_value_error(W.coarse_grid, "at least (2, 2)", np.ones((1, 5)))
    assert_value_error(W.uniform_saliency, "at least (2, 2)", (5, 1))
    assert_value_error(W.coarse_grid, "fwhm=0", np.ones((3, 3)), fwhm=0)
    assert_value_error(W.coarse_grid, "'mirror'", np.ones((3, 3)), padding="mirror")
    assert_value_error(W.fixed_warp, "non-negative", -np.ones((3, 3)), (8, 8))
    grid = W.coarse_grid(np.ones((3, 4)))
    bad_boxes = np.array([[10.0, 5.0, 4.0, 8.0]])
    assert_value_error(W.warp_boxes, "x2 >= x1", bad_boxes, grid, (10, 10), (5, 5))
    assert_value_error(W.unwarp_boxes, "x2 >= x1", bad_boxes, grid, (5, 5), (10, 10))
    assert_value_error(W.kde_saliency, "x2 >= x1", bad_boxes, (10, 10))
    assert_value_error(W.jitter_boxes, "x2 >= x1", bad_boxes, 1.0, 0)
    assert_value_error(W.dataset_saliency, "inverted", [bad_boxes], (10, 10))
    assert_value_error(W.jitter_boxes, "max_shift", np.ones((1, 4)), -1.0, 0)
    assert_value_error(
        W.invert_separable_grid,
        "valid_size",
        grid,
        (4, 4),
        valid_size=(9, 9),
        padded_size=(8, 8),
    )
    assert_value_error(
        W.invert_separable_grid, "together", grid, (4, 4), valid_size=(4, 4)
    )
    assert_value_error(
        W.check_output_fits_grid, "output_size=(20, 40)", (20, 40), (31, 51)
    )
    assert_value_error(W.zoom, "output_size", np.ones((1, 4, 4, 1)), grid, (0, 3))


@pytest.mark.tensorflow_only
def test_fused_and_plain_kernels_agree():
    grid = W.coarse_grid(peaked_saliency().astype("float32"), fwhm=4.0)
    images = RNG.random((1, 30, 40, 2)).astype("float32")
    plain = [W.invert_separable_grid(grid, (12, 20)), W.zoom(images, grid, (12, 20))]
    sampling.set_xla_fusion(True)
    fused = [W.invert_separable_grid(grid, (12, 20)), W.zoom(images, grid, (12, 20))]
    for a, b in zip(plain, fused, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)


def test_the_package_keeps_the_public_names_of_the_module():
    for name in (
        "GRID_SHAPE",
        "DEFAULT_FWHM",
        "PADDINGS",
        "INTERPOLATIONS",
        "BOX_FORMATS",
        "UNCOVERED",
        "check_grid_shape",
        "check_fwhm",
        "check_output_fits_grid",
        "as_saliency",
        "as_grid",
        "uniform_saliency",
        "kde_saliency",
        "learned_kde_parameter",
        "jitter_boxes",
        "dataset_saliency",
        "coarse_grid",
        "upsample_grid",
        "separable_axes",
        "saliency_to_grid",
        "grid_to_coordinates",
        "zoom",
        "invert_separable_axes",
        "invert_separable_grid",
        "invert_nonseparable_grid",
        "inverse_for_resampling",
        "invert_grid",
        "resample_inverse",
        "unzoom",
        "unwarp_keypoints",
        "warp_keypoints",
        "unwarp_boxes",
        "warp_boxes",
        "warp_masks",
        "unwarp_masks",
        "fixed_warp",
        "fixed_inverse",
    ):
        assert hasattr(W, name), name
