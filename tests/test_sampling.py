"""The grid sampler against scipy.ndimage and a brute-force numpy loop."""

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from scipy import ndimage

from keras_resize.ops import sample, sample_separable
from keras_resize.testing import tflite_convert, tflite_ops

SCIPY_MODE = {"zeros": "grid-constant", "border": "nearest", "reflect": "mirror"}


def to_index(coords, size, convention):
    if convention == "pixel":
        return coords - 0.5
    return (coords + 1) / 2 * (size - 1)


def from_index(u, size, convention):
    if convention == "pixel":
        return u + 0.5
    return u / (size - 1) * 2 - 1


def random_grid(rng, batch, out_h, out_w, height, width, convention, margin=3.0):
    u = rng.uniform(-margin, width - 1 + margin, (batch, out_h, out_w))
    v = rng.uniform(-margin, height - 1 + margin, (batch, out_h, out_w))
    return np.stack(
        [from_index(u, width, convention), from_index(v, height, convention)], axis=-1
    )


def scipy_reference(images, grid, order, mode, convention):
    batch, height, width, channels = images.shape
    out = np.zeros(grid.shape[:3] + (channels,))
    for b in range(batch):
        g = grid[min(b, grid.shape[0] - 1)]
        u = to_index(g[..., 0], width, convention)
        v = to_index(g[..., 1], height, convention)
        for c in range(channels):
            out[b, ..., c] = ndimage.map_coordinates(
                images[b, ..., c], [v, u], order=order, mode=SCIPY_MODE[mode], cval=0.0
            )
    return out


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflect"])
@pytest.mark.parametrize("convention", ["pixel", "normalized"])
def test_matches_scipy_map_coordinates(
    interpolation, padding_mode, convention, xla_fusion
):
    rng = np.random.default_rng(0)
    images = rng.random((2, 13, 17, 3)).astype("float32")
    grid = random_grid(rng, 2, 9, 11, 13, 17, convention).astype("float32")
    got = sample(images, grid, interpolation, padding_mode, convention).numpy()
    order = 1 if interpolation == "bilinear" else 0
    expected = scipy_reference(images, grid, order, padding_mode, convention)
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_matches_a_brute_force_loop():
    """Independent of scipy: bilinear, zero padding, pixel convention."""
    rng = np.random.default_rng(1)
    images = rng.random((1, 6, 7, 2))
    grid = random_grid(rng, 1, 5, 4, 6, 7, "pixel", margin=1.5)
    expected = np.zeros((1, 5, 4, 2))
    for i in range(5):
        for j in range(4):
            x, y = grid[0, i, j] - 0.5  # pixel centre i + 0.5 -> index i
            for yy in range(6):
                for xx in range(7):
                    w = max(0, 1 - abs(x - xx)) * max(0, 1 - abs(y - yy))
                    expected[0, i, j] += w * images[0, yy, xx]
    got = sample(images, grid).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_docstring_example_and_conventions():
    images = tf.reshape(tf.range(16, dtype="float32"), (1, 4, 4, 1))
    grid = tf.constant([[[[1.0, 1.0], [2.0, 0.5]]]])
    np.testing.assert_allclose(sample(images, grid)[0, 0, :, 0], [2.5, 1.5])
    # normalized corners hit the corner pixel centres exactly
    corners = tf.constant([[[[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]]])
    got = sample(images, corners, convention="normalized")[0, 0, :, 0]
    np.testing.assert_allclose(got, [0, 3, 12, 15])
    # pixel centres at i + 0.5 give the pixels themselves
    centres = tf.constant([[[[0.5, 0.5], [3.5, 2.5]]]])
    np.testing.assert_allclose(sample(images, centres)[0, 0, :, 0], [0, 11])


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflect"])
def test_separable_equals_2d(padding_mode, xla_fusion):
    rng = np.random.default_rng(2)
    images = rng.random((3, 10, 12, 2)).astype("float32")
    x = rng.uniform(-2, 14, (3, 7)).astype("float32")
    y = rng.uniform(-2, 12, (3, 5)).astype("float32")
    grid = np.stack(np.broadcast_arrays(x[:, None, :], y[:, :, None]), axis=-1)
    expected = sample(images, grid, padding_mode=padding_mode).numpy()
    got = sample_separable(images, x, y, padding_mode=padding_mode).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    shared = sample_separable(images, x[0], y[0], padding_mode=padding_mode).numpy()
    np.testing.assert_allclose(
        shared, sample(images, grid[:1], padding_mode=padding_mode).numpy(), atol=1e-5
    )


def test_shared_grid_equals_tiled_grid():
    rng = np.random.default_rng(3)
    images = rng.random((4, 9, 9, 3)).astype("float32")
    grid = random_grid(rng, 1, 6, 6, 9, 9, "pixel").astype("float32")
    np.testing.assert_allclose(
        sample(images, grid).numpy(),
        sample(images, np.repeat(grid, 4, axis=0)).numpy(),
        atol=1e-6,
    )


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflect"])
@pytest.mark.parametrize("convention", ["pixel", "normalized"])
def test_gradients_match_finite_differences(padding_mode, convention):
    rng = np.random.default_rng(4)
    images = tf.constant(rng.random((2, 5, 6, 2)))
    # keep coordinates away from integer index positions (kinks of bilinear)
    u = rng.integers(-2, 7, (2, 3, 4)) + rng.uniform(0.2, 0.8, (2, 3, 4))
    v = rng.integers(-2, 6, (2, 3, 4)) + rng.uniform(0.2, 0.8, (2, 3, 4))
    grid = tf.constant(
        np.stack([from_index(u, 6, convention), from_index(v, 5, convention)], -1)
    )
    theoretical, numerical = tf.test.compute_gradient(
        lambda im, g: sample(im, g, padding_mode=padding_mode, convention=convention),
        [images, grid],
        delta=1e-6,
    )
    for t, n in zip(theoretical, numerical, strict=True):
        np.testing.assert_allclose(t, n, atol=1e-5)


def test_compiles_under_xla():
    rng = np.random.default_rng(5)
    images = rng.random((2, 16, 16, 3)).astype("float32")
    grid = random_grid(rng, 2, 8, 8, 16, 16, "normalized").astype("float32")
    for interpolation in ("bilinear", "nearest"):
        for padding_mode in ("zeros", "border", "reflect"):
            kwargs = dict(interpolation=interpolation, padding_mode=padding_mode)
            fn = tf.function(
                lambda i, g, k=kwargs: sample(i, g, convention="normalized", **k),
                jit_compile=True,
            )
            np.testing.assert_allclose(
                fn(images, grid).numpy(),
                sample(images, grid, convention="normalized", **kwargs).numpy(),
                atol=1e-6,
            )


def test_converts_to_tflite_builtins(tmp_path):
    class Sampler(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([2, 12, 14, 3], tf.float32),
                tf.TensorSpec([2, 5, 6, 2], tf.float32),
            ]
        )
        def serve(self, images, grid):
            return {
                "bilinear_reflect": sample(images, grid, padding_mode="reflect"),
                "nearest_zeros": sample(images, grid, interpolation="nearest"),
                "separable_border": sample_separable(
                    images, grid[:, 0, :, 0], grid[:, :, 0, 1], padding_mode="border"
                ),
            }

    module = Sampler()
    tf.saved_model.save(module, str(tmp_path), signatures=module.serve)
    flatbuffer = tflite_convert(str(tmp_path))
    assert not [op for op in tflite_ops(flatbuffer) if "FLEX" in op.upper()]
    rng = np.random.default_rng(6)
    images = rng.random((2, 12, 14, 3)).astype("float32")
    grid = random_grid(rng, 2, 5, 6, 12, 14, "pixel").astype("float32")
    outputs = Interpreter(model_content=flatbuffer).get_signature_runner()(
        images=images, grid=grid
    )
    expected = module.serve(images, grid)
    for name, value in expected.items():
        np.testing.assert_allclose(
            outputs[name], value.numpy(), atol=1e-5, err_msg=name
        )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(interpolation="bicubic"), "interpolation='bicubic'"),
        (dict(padding_mode="wrap"), "padding_mode='wrap'"),
        (dict(convention="ndc"), "convention='ndc'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError) as error:
        sample(
            np.zeros((1, 4, 4, 1), "float32"),
            np.zeros((1, 2, 2, 2), "float32"),
            **kwargs,
        )
    assert match in str(error.value)


def test_bad_coordinate_shape_raises():
    with pytest.raises(ValueError, match=r"coordinates.shape=\(1, 2, 2, 3\)"):
        sample(np.zeros((1, 4, 4, 1), "float32"), np.zeros((1, 2, 2, 3), "float32"))
    with pytest.raises(ValueError, match=r"x.shape=\(1, 2, 3\)"):
        sample_separable(
            np.zeros((1, 4, 4, 1), "float32"), np.zeros((1, 2, 3)), np.zeros(3)
        )
