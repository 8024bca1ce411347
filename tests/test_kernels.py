"""Interpolation kernels: hand-computed cases and invariants."""

import keras
import numpy as np
import pytest

from keras_resize.ops import kernels


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def weights_np(in_size, out_size, method, antialias=False):
    index, weight = kernels.resize_weights(in_size, out_size, method, antialias)
    return to_numpy(index), to_numpy(weight)


def dense_matrix(in_size, out_size, method, antialias=False):
    index, weight = weights_np(in_size, out_size, method, antialias)
    matrix = np.zeros((out_size, in_size))
    for o in range(out_size):
        for t in range(index.shape[1]):
            matrix[o, index[o, t]] += weight[o, t]
    return matrix


def test_bilinear_halving_hand_computed():
    # 4 -> 2: output 0 samples at (0.5)*2 - 0.5 = 0.5 -> half of pixels 0 and 1
    np.testing.assert_allclose(
        dense_matrix(4, 2, "bilinear"), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]]
    )


def test_bilinear_doubling_hand_computed():
    # 2 -> 4: samples at -0.25, 0.25, 0.75, 1.25 (edges clamp)
    np.testing.assert_allclose(
        dense_matrix(2, 4, "bilinear"),
        [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]],
    )


def test_area_hand_computed():
    # 5 -> 2: footprints [0, 2.5) and [2.5, 5), each divided by 2.5
    np.testing.assert_allclose(
        dense_matrix(5, 2, "area"),
        [[0.4, 0.4, 0.2, 0, 0], [0, 0, 0.2, 0.4, 0.4]],
        atol=1e-6,
    )


def test_nearest_hand_computed():
    # 5 -> 2: floor((o + 0.5) * 2.5) = 1, 3
    np.testing.assert_array_equal(weights_np(5, 2, "nearest")[0][:, 0], [1, 3])


def test_antialiased_bilinear_is_a_widened_tent():
    # 8 -> 2 (scale 4): tent of radius 4 around centres 1.5 and 5.5
    matrix = dense_matrix(8, 2, "bilinear", antialias=True)
    centre = 1.5
    expected = np.maximum(0, 1 - np.abs(np.arange(8) - centre) / 4)
    expected /= expected.sum()
    np.testing.assert_allclose(matrix[0], expected, atol=1e-6)


def test_keys_cubic_kernel_values():
    x = keras.ops.convert_to_tensor(np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], "float32"))
    a = -0.5
    # Keys (1981): (a+2)|x|^3 - (a+3)|x|^2 + 1 on [0,1], a|x|^3 - 5a|x|^2 + 8a|x| - 4a on [1,2)
    expected = [
        1.0,
        (a + 2) / 8 - (a + 3) / 4 + 1,
        0.0,
        a * 3.375 - 5 * a * 2.25 + 8 * a * 1.5 - 4 * a,
        0.0,
        0.0,
    ]
    np.testing.assert_allclose(
        to_numpy(kernels.keys_cubic_kernel(x)), expected, atol=1e-7
    )


def test_lanczos3_kernel_values():
    x = np.array([0.0, 0.5, 1.0, 2.5, 3.5])
    expected = np.where(x == 0, 1.0, np.sinc(x) * np.sinc(x / 3)) * (np.abs(x) < 3)
    np.testing.assert_allclose(
        to_numpy(
            kernels.lanczos_kernel(keras.ops.convert_to_tensor(x, "float32"), 3.0)
        ),
        expected,
        atol=1e-6,
    )


@pytest.mark.parametrize("method", kernels.RESIZE_METHODS)
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize(
    "sizes", [(17, 5), (5, 17), (64, 64), (100, 7), (3, 1), (1, 4)]
)
def test_taps_are_in_range_and_sum_to_one(method, antialias, sizes):
    in_size, out_size = sizes
    index, weight = weights_np(in_size, out_size, method, antialias)
    assert index.shape == weight.shape and index.shape[0] == out_size
    assert index.min() >= 0 and index.max() <= in_size - 1
    np.testing.assert_allclose(weight.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("method", kernels.RESIZE_METHODS)
@pytest.mark.parametrize("antialias", [False, True])
def test_numpy_taps_are_the_tensor_taps(method, antialias):
    for in_size, out_size in [(17, 5), (5, 17), (100, 7), (1, 4)]:
        index, weight = kernels.numpy_resize_weights(
            in_size, out_size, method, antialias
        )
        assert isinstance(index, np.ndarray) and isinstance(weight, np.ndarray)
        assert weight.dtype == np.float32
        expected_index, expected_weight = weights_np(
            in_size, out_size, method, antialias
        )
        np.testing.assert_array_equal(index, expected_index)
        np.testing.assert_array_equal(weight, expected_weight)
    with pytest.raises(ValueError, match="in_size"):
        kernels.numpy_resize_weights(0, 4, method, antialias)


@pytest.mark.tensorflow_only
def test_dynamic_input_size_gives_the_same_taps():
    import tensorflow as tf

    fn = tf.function(
        lambda n: kernels.resize_weights(n, 6, "bilinear", antialias=True),
        input_signature=[tf.TensorSpec([], tf.int32)],
    )
    dynamic = dense_from(*fn(tf.constant(23)), 23)
    np.testing.assert_allclose(
        dynamic, dense_matrix(23, 6, "bilinear", True), atol=1e-6
    )


def dense_from(index, weight, in_size):
    index, weight = to_numpy(index), to_numpy(weight)
    matrix = np.zeros((index.shape[0], in_size))
    for o in range(index.shape[0]):
        for t in range(index.shape[1]):
            matrix[o, index[o, t]] += weight[o, t]
    return matrix


@pytest.mark.parametrize("mode", ["zeros", "border", "reflect"])
def test_linear_taps_padding_modes(mode):
    u_np = np.array([-1.25, -0.5, 0.0, 1.5, 3.0, 3.5, 4.75], "float32")
    index, weight = kernels.linear_taps(u_np, 4, mode)
    values = np.array([10.0, 20.0, 30.0, 40.0])
    got = (values[to_numpy(index)] * to_numpy(weight)).sum(-1)
    if mode == "zeros":
        padded = np.concatenate([[0, 0, 0], values, [0, 0, 0]])
        expected = np.interp(u_np + 3, np.arange(10), padded)
    elif mode == "border":
        expected = np.interp(np.clip(u_np, 0, 3), np.arange(4), values)
    else:
        # reflect about the edge centres: ... 30 20 | 10 20 30 40 | 30 20 ...
        period = 6.0
        folded = np.mod(u_np, period)
        reflected = 3 - np.abs(folded - 3)
        expected = np.interp(reflected, np.arange(4), values)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_bad_method_and_padding_raise():
    with pytest.raises(ValueError, match="cubic3"):
        kernels.resize_weights(4, 2, "cubic3")
    with pytest.raises(ValueError, match="wrap"):
        kernels.linear_taps(np.zeros(3, "float32"), 4, "wrap")


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("method", ["area", "bicubic", "lanczos3"])
def test_dynamic_input_size_every_family(method):
    import tensorflow as tf

    fn = tf.function(
        lambda n: kernels.resize_weights(n, 5, method, antialias=True),
        input_signature=[tf.TensorSpec([], tf.int32)],
    )
    dynamic = dense_from(*fn(tf.constant(19)), 19)
    np.testing.assert_allclose(dynamic, dense_matrix(19, 5, method, True), atol=1e-6)


@pytest.mark.parametrize("mode", ["zeros", "border", "reflect"])
def test_nearest_taps_padding_modes(mode):
    u = np.array([-1.25, -0.4, 0.0, 1.5, 2.6, 3.4, 4.75], "float32")
    index, weight = kernels.nearest_taps(u, 4, mode)
    index, weight = to_numpy(index)[:, 0], to_numpy(weight)[:, 0]
    if mode == "zeros":
        expected = np.floor(u + 0.5)
        inside = (expected >= 0) & (expected <= 3)
        np.testing.assert_array_equal(weight, inside.astype("float32"))
        np.testing.assert_array_equal(index[inside], expected[inside])
    else:
        clipped = np.clip(u, 0, 3) if mode == "border" else 3 - np.abs(np.mod(u, 6) - 3)
        np.testing.assert_array_equal(index, np.floor(clipped + 0.5))
        np.testing.assert_array_equal(weight, 1.0)
