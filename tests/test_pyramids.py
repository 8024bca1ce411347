"""Pyramid ops and layers against brute-force numpy / scipy references.

The numerics run on every backend; the checks that need TensorFlow's own
machinery (`tf.function` with unknown dims, `jit_compile=True`) are marked
`tensorflow_only`.
"""

import math
import os
from fractions import Fraction

import keras
import numpy as np
import pytest
import scipy.ndimage

from keras_resize.layers import (
    AtrousSpatialPyramidPooling,
    GaussianPyramid,
    LaplacianPyramid,
    PyramidPoolingModule,
    SpatialPyramidPooling,
)
from keras_resize.ops import (
    adaptive_bin_edges,
    adaptive_pool,
    bilinear_resize_to,
    gaussian_pyramid,
    laplacian_pyramid,
    pyramid_down,
    pyramid_up,
    reconstruct_laplacian,
    sampling,
)
from keras_resize.testing import assert_value_error, run_layer_test

BACKEND = keras.backend.backend()
RNG = np.random.default_rng(0)
BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
# (size, bins): odd sizes, sizes smaller than the bins, exact multiples
SIZE_BIN_PAIRS = [(7, 4), (5, 3), (1, 1), (13, 6), (3, 6), (1, 4), (8, 4), (10, 3)]
BATCH_NORM_SCALE = 1.0 / math.sqrt(1.0 + 1e-3)  # fresh BN at inference, eps 1e-3


def to_numpy(x):
    if isinstance(x, (list, tuple)):
        return [to_numpy(v) for v in x]
    return np.asarray(keras.ops.convert_to_numpy(x))


def gradient(function, x):
    """d sum(function(x)) / dx on the active backend, as numpy."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = keras.ops.sum(function(x))
        return tape.gradient(total, x).numpy()
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(
            jax.grad(lambda v: keras.ops.sum(function(v)))(jnp.asarray(x))
        )
    import torch

    x = torch.tensor(x, requires_grad=True)
    keras.ops.sum(function(x)).backward()
    return x.grad.numpy()


def assert_linear_gradient(function, x, seed=0):
    """The backend gradient of a *linear* op equals its finite differences
    (exact for a linear function at any step, up to float rounding)."""
    weights = np.random.default_rng(seed).normal(size=to_numpy(function(x)).shape)

    def projected(v):
        return keras.ops.sum(function(v) * keras.ops.cast(weights, "float32"))

    theoretical = gradient(projected, x)
    evaluate = projected
    if BACKEND == "jax":  # one compilation instead of one per eager op call
        import jax

        evaluate = jax.jit(projected)
    numerical = np.zeros_like(x)
    base = float(to_numpy(evaluate(x)))
    for index in np.ndindex(*x.shape):
        shifted = x.copy()
        shifted[index] += 1.0
        numerical[index] = float(to_numpy(evaluate(shifted))) - base
    np.testing.assert_allclose(theoretical, numerical, atol=1e-4)


# -- references ------------------------------------------------------------------


def reference_bin_edges(size, bins):
    """PyTorch's adaptive pooling bins, in exact rational arithmetic."""
    starts = [math.floor(Fraction(i * size, bins)) for i in range(bins)]
    ends = [math.ceil(Fraction((i + 1) * size, bins)) for i in range(bins)]
    return starts, ends


def reference_adaptive_pool(images, bins, reduction):
    """Brute force: reduce every (row bin, column bin) rectangle separately."""
    batch, height, width, channels = images.shape
    row_starts, row_ends = reference_bin_edges(height, bins)
    column_starts, column_ends = reference_bin_edges(width, bins)
    reduce = np.max if reduction == "max" else np.mean
    out = np.zeros((batch, bins, bins, channels), np.float64)
    for i in range(bins):
        for j in range(bins):
            window = images[
                :, row_starts[i] : row_ends[i], column_starts[j] : column_ends[j]
            ]
            out[:, i, j] = reduce(window, axis=(1, 2))
    return out


def reference_pyramid_down(images):
    """scipy: separable binomial correlation with mode 'mirror', then [::2]."""
    blurred = scipy.ndimage.correlate1d(images, BINOMIAL, axis=1, mode="mirror")
    blurred = scipy.ndimage.correlate1d(blurred, BINOMIAL, axis=2, mode="mirror")
    return blurred[:, ::2, ::2]


def reference_pyramid_up(images, size):
    """np.interp at index j / 2 along each axis (np.interp clamps at the ends)."""
    out = images
    for axis, out_size in ((1, size[0]), (2, size[1])):
        source = np.arange(out.shape[axis])
        out = np.apply_along_axis(
            lambda line, s=source, n=out_size: np.interp(np.arange(n) / 2.0, s, line),
            axis,
            out,
        )
    return out


def reference_dilated_conv(images, kernel, rate):
    """Brute-force 3x3 'same' convolution with dilation `rate` (zero padding)."""
    batch, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (rate, rate), (rate, rate), (0, 0)))
    out = np.zeros((batch, height, width, kernel.shape[-1]), np.float64)
    for a in range(3):
        for b in range(3):
            window = padded[
                :, a * rate : a * rate + height, b * rate : b * rate + width
            ]
            out += np.einsum("bhwc,cf->bhwf", window, kernel[a, b])
    return out


def reference_bilinear(images, size):
    """Half-pixel bilinear resize (`tf.image.resize`), np.interp per axis."""
    out = images.astype(np.float64)
    for axis, out_size in ((1, size[0]), (2, size[1])):
        in_size = out.shape[axis]
        positions = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
        out = np.apply_along_axis(
            lambda line, p=positions, n=in_size: np.interp(p, np.arange(n), line),
            axis,
            out,
        )
    return out


def random_images(*shape):
    return RNG.random(shape).astype("float32")


@pytest.fixture
def unfused_sampler():
    """Run without the sampler's nested XLA clusters on TensorFlow, for
    speed: each call site and shape compiles its own cluster (8 in the
    default PyramidPoolingModule), which costs ~30 s across a harness run.
    The math is the same; the fused path runs in every other test of this
    file (the default), and the harness's own `jit_compile=True` check still
    compiles the whole layer. No effect on JAX and PyTorch."""
    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(False)
    yield
    sampling.set_xla_fusion(previous)


# -- adaptive bins and pooling -------------------------------------------------


def test_bin_edges_match_pytorch_for_many_sizes():
    pairs = [(s, n) for s in range(1, 26) for n in range(1, 9)] + SIZE_BIN_PAIRS
    for size, bins in pairs:
        expected = reference_bin_edges(size, bins)
        starts, ends = adaptive_bin_edges(size, bins)
        assert (to_numpy(starts).tolist(), to_numpy(ends).tolist()) == expected
        # the size as a tensor (known only at run time in a graph)
        starts, ends = adaptive_bin_edges(keras.ops.convert_to_tensor(size), bins)
        assert (to_numpy(starts).tolist(), to_numpy(ends).tolist()) == expected
        # n non-empty bins that cover the axis
        assert all(e > s for s, e in zip(*expected, strict=True))
        assert expected[0][0] == 0 and expected[1][-1] == size
    # the case the ceil/floor window formula gets wrong, spelled out
    starts, ends = adaptive_bin_edges(7, 4)
    assert to_numpy(starts).tolist() == [0, 1, 3, 5]
    assert to_numpy(ends).tolist() == [2, 4, 6, 7]


@pytest.mark.tensorflow_only
def test_bin_edges_of_a_size_unknown_at_trace_time():
    import tensorflow as tf

    for bins in (1, 3, 4, 8):
        function = tf.function(
            lambda size, n=bins: adaptive_bin_edges(size, n),
            input_signature=[tf.TensorSpec((), tf.int32)],
        )
        for size in (1, 3, 7, 13, 25):
            starts, ends = function(tf.constant(size))
            expected = reference_bin_edges(size, bins)
            assert (starts.numpy().tolist(), ends.numpy().tolist()) == expected


@pytest.mark.parametrize("reduction", ["max", "average"])
def test_adaptive_pool_matches_brute_force(reduction):
    shapes = [(h, w, n) for (h, n) in SIZE_BIN_PAIRS for w in (h, 9)]
    for height, width, bins in shapes:
        images = random_images(2, height, width, 3)
        expected = reference_adaptive_pool(images, bins, reduction)
        out = adaptive_pool(images, bins, reduction)
        assert tuple(out.shape) == (2, bins, bins, 3)
        np.testing.assert_allclose(
            to_numpy(out), expected, atol=1e-6, err_msg=f"{height}x{width}/{bins}"
        )


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("reduction", ["max", "average"])
def test_adaptive_pool_dynamic_sizes_and_xla(reduction):
    import tensorflow as tf

    dynamic = tf.function(
        lambda x: adaptive_pool(x, 4, reduction),
        input_signature=[tf.TensorSpec((None, None, None, 2))],
    )
    compiled = tf.function(lambda x: adaptive_pool(x, 4, reduction), jit_compile=True)
    for height, width in [(7, 7), (3, 13), (16, 5), (1, 2)]:
        images = random_images(2, height, width, 2)
        expected = reference_adaptive_pool(images, 4, reduction)
        np.testing.assert_allclose(dynamic(images), expected, atol=1e-6)
        np.testing.assert_allclose(compiled(images), expected, atol=1e-6)


def test_adaptive_pool_rank3_and_integer_input():
    images = RNG.integers(0, 255, (7, 5, 2)).astype("uint8")
    out = adaptive_pool(images, 3, "average")
    assert tuple(out.shape) == (3, 3, 2)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    expected = reference_adaptive_pool(images[None].astype("float64"), 3, "average")[0]
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-4)


def test_max_pool_gradient_goes_to_each_bins_maximum():
    """d(sum of outputs)/d(pixel) = number of (overlapping) bins whose max it is."""
    images = random_images(1, 7, 5, 2)  # distinct values: no ties
    grad = gradient(lambda x: adaptive_pool(x, 4, "max"), images)
    expected = np.zeros_like(images)
    row_starts, row_ends = reference_bin_edges(7, 4)
    column_starts, column_ends = reference_bin_edges(5, 4)
    for i in range(4):
        for j in range(4):
            for c in range(2):
                window = images[
                    0, row_starts[i] : row_ends[i], column_starts[j] : column_ends[j], c
                ]
                r, q = np.unravel_index(np.argmax(window), window.shape)
                expected[0, row_starts[i] + r, column_starts[j] + q, c] += 1
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@pytest.mark.slow_on_jax
def test_linear_ops_have_finite_difference_gradients(unfused_sampler):
    images = random_images(1, 4, 3, 1)
    assert_linear_gradient(lambda x: adaptive_pool(x, 3, "average"), images)
    assert_linear_gradient(pyramid_down, images)
    assert_linear_gradient(lambda x: pyramid_up(x, (7, 6)), images)
    assert_linear_gradient(lambda x: laplacian_pyramid(x, 2)[0], images)
    assert_linear_gradient(
        lambda x: reconstruct_laplacian(laplacian_pyramid(x, 3)), images
    )


# -- image pyramids ------------------------------------------------------------------


def test_scipy_mirror_is_reflect_padding():
    """The reference is right: scipy mode 'mirror' pads like np.pad 'reflect'
    (= `tf.pad(..., "REFLECT")`, the edge pixel not repeated)."""
    for size in (3, 4, 7):
        line = RNG.random(size)
        padded = np.pad(line, 2, mode="reflect")
        by_hand = np.convolve(padded, BINOMIAL[::-1], mode="valid")
        scipy_line = scipy.ndimage.correlate1d(line, BINOMIAL, mode="mirror")
        np.testing.assert_allclose(by_hand, scipy_line, atol=1e-12)


def test_pyramid_down_matches_scipy():
    for height, width in [(1, 1), (2, 3), (3, 4), (5, 8), (13, 10), (16, 16)]:
        images = random_images(2, height, width, 3)
        out = pyramid_down(images)
        assert tuple(out.shape) == (2, -(-height // 2), -(-width // 2), 3)
        np.testing.assert_allclose(
            to_numpy(out), reference_pyramid_down(images), atol=1e-6
        )


def _gaussian_reference(images, levels):
    expected = [images.astype("float64")]
    for _ in range(levels - 1):
        expected.append(reference_pyramid_down(expected[-1]))
    return expected


def test_gaussian_pyramid_matches_repeated_scipy():
    images = random_images(2, 13, 10, 3)
    pyramid = gaussian_pyramid(images, 4)
    assert [tuple(level.shape) for level in pyramid] == [
        (2, 13, 10, 3),
        (2, 7, 5, 3),
        (2, 4, 3, 3),
        (2, 2, 2, 3),
    ]
    for level, reference in zip(pyramid, _gaussian_reference(images, 4), strict=True):
        np.testing.assert_allclose(to_numpy(level), reference, atol=1e-6)


@pytest.mark.tensorflow_only
def test_gaussian_pyramid_with_sizes_unknown_at_trace_time():
    import tensorflow as tf

    images = random_images(2, 13, 10, 3)
    dynamic = tf.function(
        lambda x: gaussian_pyramid(x, 4),
        input_signature=[tf.TensorSpec((None, None, None, 3))],
    )
    pyramid = dynamic(images)
    assert [tuple(level.shape) for level in pyramid] == [
        (2, 13, 10, 3),
        (2, 7, 5, 3),
        (2, 4, 3, 3),
        (2, 2, 2, 3),
    ]
    for level, reference in zip(pyramid, _gaussian_reference(images, 4), strict=True):
        np.testing.assert_allclose(level, reference, atol=1e-6)


def test_pyramid_up_matches_numpy_interpolation():
    for coarse, fine in [((4, 3), (7, 6)), ((4, 4), (8, 8)), ((1, 2), (2, 3))]:
        images = random_images(2, *coarse, 2)
        out = pyramid_up(images, fine)
        np.testing.assert_allclose(
            to_numpy(out), reference_pyramid_up(images, fine), atol=1e-6
        )


def test_laplacian_levels_match_the_references():
    images = random_images(1, 11, 8, 2)
    pyramid = to_numpy(laplacian_pyramid(images, 3))
    gaussian = _gaussian_reference(images, 3)
    for k in range(2):
        band = gaussian[k] - reference_pyramid_up(
            gaussian[k + 1], gaussian[k].shape[1:3]
        )
        np.testing.assert_allclose(pyramid[k], band, atol=1e-6)
    np.testing.assert_allclose(pyramid[2], gaussian[2], atol=1e-6)
    assert np.abs(pyramid[0]).max() > 0.05  # band-pass levels are not trivial


@pytest.mark.parametrize("size", [(16, 16), (13, 10), (7, 5), (1, 3), (2, 2), (31, 32)])
def test_laplacian_reconstruction_is_exact(size):
    images = random_images(2, *size, 3)
    for levels in (1, 2, 5):
        rebuilt = reconstruct_laplacian(laplacian_pyramid(images, levels))
        np.testing.assert_allclose(to_numpy(rebuilt), images, atol=1e-5, rtol=0)


def test_laplacian_reconstruction_rank3_and_not_trivially_exact():
    images = random_images(13, 10, 3)
    pyramid = laplacian_pyramid(images, 3)
    assert [len(level.shape) for level in pyramid] == [3, 3, 3]
    np.testing.assert_allclose(
        to_numpy(reconstruct_laplacian(pyramid)), images, atol=1e-5
    )
    # dropping a band changes the result
    broken = [keras.ops.zeros_like(pyramid[0])] + list(pyramid[1:])
    assert np.abs(to_numpy(reconstruct_laplacian(broken)) - images).max() > 0.05


@pytest.mark.tensorflow_only
def test_laplacian_reconstruction_dynamic_and_xla():
    import tensorflow as tf

    images = random_images(2, 13, 10, 3)
    round_trip = lambda x: reconstruct_laplacian(laplacian_pyramid(x, 4))  # noqa: E731
    dynamic = tf.function(
        round_trip, input_signature=[tf.TensorSpec((None, None, None, 3))]
    )
    compiled = tf.function(round_trip, jit_compile=True)
    for function in (dynamic, compiled):
        np.testing.assert_allclose(function(images), images, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        dynamic(images[:1, :6, :9]), images[:1, :6, :9], atol=1e-5
    )


def test_bilinear_resize_to_equals_half_pixel_bilinear():
    images = random_images(2, 3, 5, 2)
    np.testing.assert_allclose(
        to_numpy(bilinear_resize_to(images, (11, 7))),
        reference_bilinear(images, (11, 7)),
        atol=1e-5,
    )
    # a size given as a tensor (the dynamic path) gives the same values
    size = keras.ops.convert_to_tensor(np.array([11, 7], "int32"))
    np.testing.assert_allclose(
        to_numpy(bilinear_resize_to(images, size)),
        reference_bilinear(images, (11, 7)),
        atol=1e-5,
    )


@pytest.mark.tensorflow_only
def test_bilinear_resize_to_size_unknown_at_trace_time():
    import tensorflow as tf

    images = random_images(2, 3, 5, 2)
    expected = tf.image.resize(images, (11, 7), method="bilinear")
    dynamic = tf.function(
        lambda x, like: bilinear_resize_to(x, tf.shape(like)[1:3]),
        input_signature=[tf.TensorSpec((None, None, None, 2))] * 2,
    )
    np.testing.assert_allclose(
        dynamic(images, np.zeros((1, 11, 7, 2), "float32")), expected, atol=1e-5
    )


# -- SpatialPyramidPooling --------------------------------------------------------


def test_spp_length_is_fixed_and_values_are_the_pooled_levels():
    layer = SpatialPyramidPooling(levels=(4, 2, 1))
    dynamic = keras.Model(*(lambda i: (i, layer(i)))(keras.Input((None, None, 5))))
    for height, width in [(7, 7), (3, 2), (13, 6), (32, 24), (1, 1)]:
        images = random_images(2, height, width, 5)
        expected = np.concatenate(
            [
                reference_adaptive_pool(images, n, "max").reshape(2, -1)
                for n in (4, 2, 1)
            ],
            axis=-1,
        )
        assert expected.shape == (2, 5 * 21)
        np.testing.assert_allclose(to_numpy(layer(images)), expected, atol=1e-6)
        np.testing.assert_allclose(to_numpy(dynamic(images)), expected, atol=1e-6)
    assert layer.compute_output_shape((None, None, None, 5)) == (None, 105)
    average = SpatialPyramidPooling(levels=(3,), reduction="average")
    images = random_images(1, 7, 5, 2)
    np.testing.assert_allclose(
        to_numpy(average(images[0])),
        reference_adaptive_pool(images, 3, "average").reshape(-1),
        atol=1e-6,
    )


def _tflite_ops(report):
    """The TFLite op list of a harness report (TensorFlow only), else None."""
    return report.get("tflite_ops")


def test_spp_passes_the_harness():
    report = run_layer_test(
        SpatialPyramidPooling,
        dict(levels=(4, 2, 1)),
        (2, 7, 13, 3),
        expected_output_shape=(2, 63),
        expected_num_trainable_weights=0,
    )
    if BACKEND == "tensorflow":
        assert "REDUCE_MAX" in _tflite_ops(report)


# -- PyramidPoolingModule -------------------------------------------------------


def set_branch_kernels(layer, seed=1):
    rng = np.random.default_rng(seed)
    kernels = []
    for convolution, _ in layer.branches:
        kernel = rng.normal(size=tuple(convolution.kernel.shape)).astype("float32")
        convolution.kernel.assign(kernel)
        kernels.append(kernel[0, 0])
    return kernels


def test_ppm_branches_are_pooled_convolved_and_upsampled():
    """Fresh BatchNormalization at inference is a scale by 1/sqrt(1 + eps)."""
    bins = (1, 2, 3, 6)
    layer = PyramidPoolingModule(bins=bins, filters=3)
    images = random_images(2, 13, 10, 4)
    layer(images)
    kernels = set_branch_kernels(layer)
    dynamic = keras.Model(*(lambda i: (i, layer(i)))(keras.Input((None, None, 4))))
    for out in (layer(images), dynamic(images)):
        out = to_numpy(out)
        assert out.shape == (2, 13, 10, 4 + 4 * 3)
        np.testing.assert_allclose(out[..., :4], images, atol=0)
        for k, (n, kernel) in enumerate(zip(bins, kernels, strict=True)):
            pooled = reference_adaptive_pool(images, n, "average")
            branch = np.maximum(pooled @ kernel * BATCH_NORM_SCALE, 0.0)
            expected = reference_bilinear(branch, (13, 10))
            np.testing.assert_allclose(
                out[..., 4 + 3 * k : 7 + 3 * k], expected, atol=1e-5
            )


def test_ppm_default_filters_and_channels():
    layer = PyramidPoolingModule()
    assert tuple(layer(random_images(1, 9, 9, 8)).shape) == (1, 9, 9, 16)
    assert layer.branch_filters == 2
    assert layer.compute_output_shape((None, None, None, 8)) == (None, None, None, 16)
    with pytest.raises(ValueError, match="filters=None"):
        PyramidPoolingModule(bins=(1, 2, 3, 6))(random_images(1, 5, 5, 3))


def test_ppm_passes_the_harness(unfused_sampler):
    report = run_layer_test(
        PyramidPoolingModule,
        dict(bins=(1, 3)),  # filters: 4 // 2
        (2, 7, 9, 4),
        expected_output_shape=(2, 7, 9, 8),
        expected_num_trainable_weights=6,
        expected_num_non_trainable_weights=4,
    )
    if BACKEND == "tensorflow":
        assert "CONV_2D" in _tflite_ops(report)


# -- AtrousSpatialPyramidPooling -------------------------------------------------


def test_aspp_atrous_and_pooling_branches_equal_numpy():
    """Select one branch with the projection and compare the output with a
    brute-force dilated convolution (BN fresh, inference: a 1/sqrt(1+eps) scale)."""
    rates, filters, channels = (1, 2, 5), 4, 3
    layer = AtrousSpatialPyramidPooling(rates=rates, filters=filters, dropout=0.5)
    images = RNG.normal(size=(2, 9, 11, channels)).astype("float32")
    layer(images)
    rng = np.random.default_rng(3)
    branches = [layer.pointwise_branch, *layer.atrous_branches, layer.pooling_branch]
    kernels = []
    for convolution, _ in branches:
        kernels.append(
            rng.normal(size=tuple(convolution.kernel.shape)).astype("float32")
        )
        convolution.kernel.assign(kernels[-1])
    projection = layer.projection[0]
    scale = BATCH_NORM_SCALE**2
    for index in range(len(branches)):
        select = np.zeros(tuple(projection.kernel.shape), "float32")
        select[0, 0, index * filters : (index + 1) * filters] = np.eye(filters)
        projection.kernel.assign(select)
        out = to_numpy(layer(images))
        if index == 0:
            expected = images @ kernels[0][0, 0]
        elif index <= len(rates):
            expected = reference_dilated_conv(images, kernels[index], rates[index - 1])
        else:
            mean = images.mean(axis=(1, 2), keepdims=True) @ kernels[index][0, 0]
            expected = np.broadcast_to(mean, (2, 9, 11, filters))
        np.testing.assert_allclose(out, scale * np.maximum(expected, 0.0), atol=1e-4)
    # and the brute force tells rates apart: branch 3 (rate 5) is not rate 4
    select = np.zeros(tuple(projection.kernel.shape), "float32")
    select[0, 0, 3 * filters : 4 * filters] = np.eye(filters)
    projection.kernel.assign(select)
    wrong = scale * np.maximum(reference_dilated_conv(images, kernels[3], 4), 0.0)
    assert np.abs(to_numpy(layer(images)) - wrong).max() > 1e-2


def test_aspp_shapes_and_dropout_in_training():
    layer = AtrousSpatialPyramidPooling()
    assert tuple(layer(random_images(2, 8, 10, 6)).shape) == (2, 8, 10, 256)
    assert tuple(layer(random_images(8, 10, 6)).shape) == (8, 10, 256)
    assert layer.compute_output_shape((None, None, None, 6)) == (None, None, None, 256)
    assert len(layer.atrous_branches) == 3
    assert [b[0].dilation_rate for b in layer.atrous_branches] == [
        (6, 6),
        (12, 12),
        (18, 18),
    ]
    small = AtrousSpatialPyramidPooling(rates=(2,), filters=64, dropout=0.5)
    images = random_images(1, 6, 6, 3)
    train = to_numpy(small(images, training=True))
    assert 0.2 < np.mean(train == 0) < 0.9  # ReLU zeros and about half dropped


def test_aspp_passes_the_harness():
    report = run_layer_test(
        AtrousSpatialPyramidPooling,
        dict(rates=(1, 3), filters=8),
        (2, 9, 11, 4),
        expected_output_shape=(2, 9, 11, 8),
    )
    if BACKEND == "tensorflow":
        assert "CONV_2D" in _tflite_ops(report)


# -- Gaussian / Laplacian pyramid layers ----------------------------------------


# The harness flattens a list of output *shapes* to its first int (its
# `_first(compute_output_shape(...))`): a harness bug, reported; the test
# passes again once the harness compares the first shape of the list.
@pytest.mark.xfail(
    raises=TypeError, strict=False, reason="harness: list of output shapes"
)
def test_pyramid_layers_pass_the_harness_with_list_outputs(unfused_sampler):
    for layer_cls in (GaussianPyramid, LaplacianPyramid):
        report = run_layer_test(
            layer_cls,
            dict(levels=3),
            (2, 13, 10, 3),
            expected_output_shape=(2, 13, 10, 3),
            expected_num_trainable_weights=0,
        )
        if BACKEND == "tensorflow":
            assert set(_tflite_ops(report)) <= {"ADD", "GATHER", "MUL", "SUB"}


def test_pyramid_layers_values_shapes_and_reconstruct():
    images = random_images(2, 13, 10, 3)
    gaussian = GaussianPyramid(levels=3)
    laplacian = LaplacianPyramid(levels=3)
    for layer, op in ((gaussian, gaussian_pyramid), (laplacian, laplacian_pyramid)):
        out = layer(images)
        assert isinstance(out, list) and len(out) == 3
        for level, expected in zip(out, op(images, 3), strict=True):
            np.testing.assert_allclose(to_numpy(level), to_numpy(expected), atol=0)
        assert layer.compute_output_shape((None, 13, None, 3)) == [
            (None, 13, None, 3),
            (None, 7, None, 3),
            (None, 4, None, 3),
        ]
    pyramid = laplacian(images)
    np.testing.assert_allclose(
        to_numpy(LaplacianPyramid.reconstruct(pyramid)), images, atol=1e-5
    )
    assert [tuple(level.shape) for level in gaussian(images[0])] == [
        (13, 10, 3),
        (7, 5, 3),
        (4, 3, 3),
    ]


# -- data_format -------------------------------------------------------------------

# (layer class, constructor arguments); each is checked in both formats
IMAGE_LAYERS = [
    (SpatialPyramidPooling, dict(levels=(2, 1))),
    (PyramidPoolingModule, dict(bins=(1, 2), filters=2)),
    (AtrousSpatialPyramidPooling, dict(rates=(1, 2), filters=4, dropout=0.0)),
    (GaussianPyramid, dict(levels=3)),
    (LaplacianPyramid, dict(levels=3)),
]
LAYER_IDS = [layer_cls.__name__ for layer_cls, _ in IMAGE_LAYERS]


def _channels_first(x, rank=4):
    return np.transpose(x, (0, 3, 1, 2) if rank == 4 else (2, 0, 1))


@pytest.mark.parametrize("layer_cls,kwargs", IMAGE_LAYERS, ids=LAYER_IDS)
def test_channels_first_is_the_transpose_of_channels_last(layer_cls, kwargs):
    images = random_images(2, 9, 7, 4)
    last = layer_cls(**kwargs, data_format="channels_last")
    first = layer_cls(**kwargs, data_format="channels_first")
    assert first.get_config()["data_format"] == "channels_first"
    expected = last(images)
    first(_channels_first(images))
    first.set_weights(last.get_weights())
    for images_last, rank in ((images, 4), (images[0], 3)):
        expected = to_numpy(last(images_last))
        got = to_numpy(first(_channels_first(images_last, rank)))
        if layer_cls is SpatialPyramidPooling:  # a vector: the same features
            np.testing.assert_allclose(got, expected, atol=1e-6)
            continue
        if not isinstance(expected, list):
            expected, got = [expected], [got]
        for level_last, level_first in zip(expected, got, strict=True):
            np.testing.assert_allclose(
                level_first, _channels_first(level_last, rank), atol=1e-5
            )
    # compute_output_shape follows the format, unknown dims included
    shape_last = last.compute_output_shape((None, None, 7, 4))
    shape_first = first.compute_output_shape((None, 4, None, 7))
    if layer_cls is SpatialPyramidPooling:
        assert shape_first == shape_last
    else:
        shapes_last = shape_last if isinstance(shape_last, list) else [shape_last]
        shapes_first = shape_first if isinstance(shape_first, list) else [shape_first]
        for a, b in zip(shapes_last, shapes_first, strict=True):
            assert tuple(b) == (a[0], a[3], a[1], a[2])
    if layer_cls is LaplacianPyramid:
        pyramid = first(_channels_first(images))
        rebuilt = LaplacianPyramid.reconstruct(pyramid, data_format="channels_first")
        np.testing.assert_allclose(
            to_numpy(rebuilt), _channels_first(images), atol=1e-5
        )


def test_data_format_defaults_to_the_keras_setting():
    previous = keras.config.image_data_format()
    try:
        keras.config.set_image_data_format("channels_first")
        layers = [layer_cls(**kwargs) for layer_cls, kwargs in IMAGE_LAYERS]
        assert {layer.data_format for layer in layers} == {"channels_first"}
        # inner convolutions stay channels-last, whatever the global setting
        out = PyramidPoolingModule(bins=(1, 2), filters=2)(random_images(1, 3, 5, 6))
        assert tuple(out.shape) == (1, 7, 5, 6)
    finally:
        keras.config.set_image_data_format(previous)
    assert SpatialPyramidPooling().data_format == previous
    assert_value_error(GaussianPyramid, "data_format='nchw'", data_format="nchw")


# -- build, run, one fit step and .keras round trip, on every backend --------------


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("layer_cls,kwargs", IMAGE_LAYERS, ids=LAYER_IDS)
def test_fit_one_step_and_keras_round_trip(layer_cls, kwargs, data_format, tmp_path):
    keras.utils.set_random_seed(0)
    shape = (16, 16, 3) if data_format == "channels_last" else (3, 16, 16)
    inputs = keras.Input(shape)
    # a convolution in front: every model has trainable weights to fit (in
    # channels-last: TensorFlow's CPU Conv2D has no channels-first kernel)
    x = inputs
    if data_format == "channels_first":
        x = keras.layers.Permute((2, 3, 1))(x)
    x = keras.layers.Conv2D(4, 1)(x)
    if data_format == "channels_first":
        x = keras.layers.Permute((3, 1, 2))(x)
    outputs = layer_cls(**kwargs, data_format=data_format)(x)
    pooled = [
        o if len(o.shape) == 2 else keras.layers.Flatten()(o)
        for o in (outputs if isinstance(outputs, list) else [outputs])
    ]
    if len(pooled) > 1:
        pooled = [keras.layers.Concatenate()(pooled)]
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled[0]))
    model.compile(optimizer="sgd", loss="mse")
    x = random_images(2, *shape)
    y = random_images(2, 2)
    before = to_numpy(model.predict(x, verbose=0))
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = to_numpy(model.predict(x, verbose=0))
    assert not np.allclose(before, after)  # the step changed the weights
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded.predict(x, verbose=0)), after, atol=1e-5)
    layer = next(layer for layer in loaded.layers if isinstance(layer, layer_cls))
    assert layer.data_format == data_format


# -- bad arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    "factory,match",
    [
        (lambda: SpatialPyramidPooling(levels=()), "levels=()"),
        (lambda: SpatialPyramidPooling(levels=(4, 0)), "levels=(4, 0)"),
        (lambda: SpatialPyramidPooling(levels=4), "levels=4"),
        (lambda: SpatialPyramidPooling(reduction="min"), "reduction='min'"),
        (lambda: PyramidPoolingModule(bins=(1, -2)), "bins=(1, -2)"),
        (lambda: PyramidPoolingModule(bins=(1, 2.5)), "bins=(1, 2.5)"),
        (lambda: PyramidPoolingModule(filters=0), "filters=0"),
        (lambda: AtrousSpatialPyramidPooling(rates=(6, 0)), "rates=(6, 0)"),
        (lambda: AtrousSpatialPyramidPooling(rates=()), "rates=()"),
        (lambda: AtrousSpatialPyramidPooling(filters=-1), "filters=-1"),
        (lambda: AtrousSpatialPyramidPooling(dropout=1.0), "dropout=1.0"),
        (lambda: GaussianPyramid(levels=0), "levels=0"),
        (lambda: LaplacianPyramid(levels=2.0), "levels=2.0"),
        (lambda: adaptive_pool(np.zeros((1, 4, 4, 1)), 0), "bins=0"),
        (lambda: adaptive_pool(np.zeros((1, 4, 4, 1)), 2, "sum"), "reduction='sum'"),
        (lambda: adaptive_bin_edges(0, 2), "size=0"),
        (lambda: gaussian_pyramid(np.zeros((1, 4, 4, 1)), -1), "levels=-1"),
        (lambda: reconstruct_laplacian([]), "pyramid=[]"),
        (lambda: SpatialPyramidPooling()(np.zeros((4, 4), "float32")), "rank 3"),
        (lambda: SpatialPyramidPooling(data_format="NHWC"), "data_format='NHWC'"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_value(factory, match):
    assert_value_error(factory, match)
