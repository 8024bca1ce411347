"""The grid sampler against scipy.ndimage and a brute-force numpy loop."""

import keras
import numpy as np
import pytest
from scipy import ndimage

from keras_resize.ops import combine_taps, gather_patches, sample, sample_separable

BACKEND = keras.backend.backend()
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


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


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
    got = to_numpy(sample(images, grid, interpolation, padding_mode, convention))
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
    got = to_numpy(sample(images, grid))
    # float64 stays float64 (JAX without x64 computes in float32)
    np.testing.assert_allclose(
        got, expected, atol=1e-10 if got.dtype == np.float64 else 1e-5
    )


def test_docstring_example_and_conventions():
    images = np.arange(16, dtype="float32").reshape((1, 4, 4, 1))
    grid = np.array([[[[1.0, 1.0], [2.0, 0.5]]]], "float32")
    np.testing.assert_allclose(to_numpy(sample(images, grid))[0, 0, :, 0], [2.5, 1.5])
    # normalized corners hit the corner pixel centres exactly
    corners = np.array(
        [[[[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]]], "float32"
    )
    got = to_numpy(sample(images, corners, convention="normalized"))[0, 0, :, 0]
    np.testing.assert_allclose(got, [0, 3, 12, 15])
    # pixel centres at i + 0.5 give the pixels themselves
    centres = np.array([[[[0.5, 0.5], [3.5, 2.5]]]], "float32")
    np.testing.assert_allclose(to_numpy(sample(images, centres))[0, 0, :, 0], [0, 11])
    # rank-3 images and grid
    np.testing.assert_allclose(
        to_numpy(sample(images[0], grid[0]))[0, :, 0], [2.5, 1.5]
    )


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflect"])
def test_separable_equals_2d(padding_mode, xla_fusion):
    rng = np.random.default_rng(2)
    images = rng.random((3, 10, 12, 2)).astype("float32")
    x = rng.uniform(-2, 14, (3, 7)).astype("float32")
    y = rng.uniform(-2, 12, (3, 5)).astype("float32")
    grid = np.stack(np.broadcast_arrays(x[:, None, :], y[:, :, None]), axis=-1)
    expected = to_numpy(sample(images, grid, padding_mode=padding_mode))
    got = to_numpy(sample_separable(images, x, y, padding_mode=padding_mode))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    shared = to_numpy(sample_separable(images, x[0], y[0], padding_mode=padding_mode))
    np.testing.assert_allclose(
        shared, to_numpy(sample(images, grid[:1], padding_mode=padding_mode)), atol=1e-5
    )


def test_shared_grid_equals_tiled_grid():
    rng = np.random.default_rng(3)
    images = rng.random((4, 9, 9, 3)).astype("float32")
    grid = random_grid(rng, 1, 6, 6, 9, 9, "pixel").astype("float32")
    np.testing.assert_allclose(
        to_numpy(sample(images, grid)),
        to_numpy(sample(images, np.repeat(grid, 4, axis=0))),
        atol=1e-6,
    )


def backend_gradients(loss, arguments):
    """Gradients of the scalar `loss(*arguments)` with the active backend."""
    if BACKEND == "jax":
        import jax

        grads = jax.grad(loss, argnums=tuple(range(len(arguments))))(*arguments)
        return [np.asarray(g) for g in grads]
    if BACKEND == "torch":
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in arguments]
        grads = torch.autograd.grad(loss(*tensors), tensors)
        return [g.detach().cpu().numpy() for g in grads]
    import tensorflow as tf

    tensors = [tf.constant(a) for a in arguments]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        value = loss(*tensors)
    return [g.numpy() for g in tape.gradient(value, tensors)]


def central_differences(function, arguments, delta):
    """Numerical gradients of the scalar numpy `function(*arguments)`."""
    grads = []
    for index, argument in enumerate(arguments):
        grad = np.zeros(argument.shape)
        for position in np.ndindex(argument.shape):
            values = []
            for sign in (1, -1):
                moved = [a.copy() for a in arguments]
                moved[index][position] += sign * delta
                values.append(function(*moved))
            grad[position] = (values[0] - values[1]) / (2 * delta)
        grads.append(grad)
    return grads


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflect"])
@pytest.mark.parametrize("convention", ["pixel", "normalized"])
def test_autodiff_gradients_match_finite_differences(padding_mode, convention):
    """jax.grad / torch.autograd / GradientTape against central differences.

    Bilinear sampling is linear in the images and, within a pixel cell, in
    each coordinate, so float32 central differences are exact up to rounding.
    """
    rng = np.random.default_rng(4)
    images = rng.random((1, 4, 5, 2)).astype("float32")
    u = rng.integers(-2, 6, (1, 2, 3)) + rng.uniform(0.3, 0.7, (1, 2, 3))
    v = rng.integers(-2, 5, (1, 2, 3)) + rng.uniform(0.3, 0.7, (1, 2, 3))
    grid = np.stack(
        [from_index(u, 5, convention), from_index(v, 4, convention)], -1
    ).astype("float32")
    cotangent = rng.random((1, 2, 3, 2)).astype("float32")
    kwargs = dict(padding_mode=padding_mode, convention=convention)

    def loss(im, g):
        out = sample(im, g, **kwargs)
        return keras.ops.sum(out * keras.ops.convert_to_tensor(cotangent))

    theoretical = backend_gradients(loss, [images, grid])
    # delta 0.02 in coordinates moves at most 0.05 pixels: stays in the cell
    numerical = central_differences(
        lambda im, g: float(to_numpy(loss(im, g))), [images, grid], delta=0.02
    )
    for t, n in zip(theoretical, numerical, strict=True):
        np.testing.assert_allclose(t, n, atol=2e-4)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflect"])
@pytest.mark.parametrize("convention", ["pixel", "normalized"])
def test_gradients_match_finite_differences(padding_mode, convention):
    import tensorflow as tf

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


@pytest.mark.tensorflow_only
def test_compiles_under_xla():
    import tensorflow as tf

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


@pytest.mark.tensorflow_only
def test_converts_to_tflite_builtins(tmp_path):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from keras_resize.testing import tflite_convert, tflite_ops

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


@pytest.mark.tensorflow_only
def test_dynamic_shapes_in_a_tf_function():
    """None batch, image and grid dims inside a tf.function (dynamic taps)."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    images = rng.random((2, 9, 11, 3)).astype("float32")
    grid = random_grid(rng, 2, 4, 5, 9, 11, "pixel").astype("float32")
    fn = tf.function(
        lambda i, g: (
            sample(i, g, padding_mode="reflect"),
            sample_separable(i, g[:, 0, :, 0], g[:, :, 0, 1]),
        ),
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32),
            tf.TensorSpec([None, None, None, 2], tf.float32),
        ],
    )
    dynamic = fn(images, grid)
    np.testing.assert_allclose(
        dynamic[0].numpy(),
        to_numpy(sample(images, grid, padding_mode="reflect")),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        dynamic[1].numpy(),
        to_numpy(sample_separable(images, grid[:, 0, :, 0], grid[:, :, 0, 1])),
        atol=1e-6,
    )


def test_combine_taps_and_gather_patches_against_numpy(xla_fusion):
    rng = np.random.default_rng(8)
    images = rng.random((2, 5, 6, 3)).astype("float32")
    flat = images.reshape(2, 30, 3)
    index = rng.integers(0, 30, (3, 4, 5)).astype("int32")
    weights = rng.random((2, 3, 4, 5)).astype("float32")
    expected = np.einsum("bijk,bijkc->bijc", weights, flat[:, index])
    got = to_numpy(combine_taps(images, index, weights))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    per_sample = np.stack([index, index[::-1]])
    expected = np.einsum(
        "bijk,bijkc->bijc", weights, np.stack([flat[b, per_sample[b]] for b in (0, 1)])
    )
    got = to_numpy(combine_taps(images, per_sample, weights))
    np.testing.assert_allclose(got, expected, atol=1e-5)

    rows, columns = np.array([0, 3, 4], "int32"), np.array([5, 1], "int32")
    patches, inside = gather_patches(images, rows, columns, radius=1)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            np.testing.assert_allclose(
                to_numpy(patches)[:, i, j], padded[:, r : r + 3, c : c + 3], atol=0
            )
            np.testing.assert_array_equal(
                to_numpy(inside)[i, j],
                np.pad(np.ones((5, 6)), 1)[r : r + 3, c : c + 3],
            )


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit: JAX backend only")
def test_traceable_by_jax_jit():
    import jax

    rng = np.random.default_rng(9)
    images = rng.random((2, 12, 14, 3)).astype("float32")
    grid = random_grid(rng, 2, 5, 6, 12, 14, "normalized").astype("float32")
    for kwargs in (
        dict(interpolation="bilinear", padding_mode="reflect"),
        dict(interpolation="nearest", padding_mode="zeros"),
    ):
        jitted = jax.jit(
            lambda i, g, k=kwargs: sample(i, g, convention="normalized", **k)
        )
        np.testing.assert_allclose(
            np.asarray(jitted(images, grid)),
            to_numpy(sample(images, grid, convention="normalized", **kwargs)),
            atol=1e-6,
        )
    separable = jax.jit(
        lambda i, x, y: sample_separable(i, x, y, padding_mode="border")
    )
    np.testing.assert_allclose(
        np.asarray(separable(images, grid[:, 0, :, 0], grid[:, :, 0, 1])),
        to_numpy(
            sample_separable(
                images, grid[:, 0, :, 0], grid[:, :, 0, 1], padding_mode="border"
            )
        ),
        atol=1e-6,
    )


@pytest.mark.skipif(BACKEND != "torch", reason="the PyTorch embedding_bag path")
@pytest.mark.parametrize("axis", [1, 2])
def test_torch_embedding_bag_path_equals_gathers_in_value_and_gradient(axis):
    """`resample_axis` on PyTorch sums shared taps with `embedding_bag`; the
    values and both gradients (image, weights) equal the generic
    take-multiply-add path's, in float64."""
    import torch

    from keras_resize.ops import kernels, sampling

    rng = np.random.default_rng(0)
    images = rng.standard_normal((3, 7, 9, 2))
    in_size = images.shape[axis]
    index, weight = kernels.resize_weights(in_size, 4, "bicubic", True, "float64")
    index = keras.ops.convert_to_numpy(index)
    weight = keras.ops.convert_to_numpy(weight)
    out_shape = list(images.shape)
    out_shape[axis] = 4
    upstream = torch.tensor(rng.standard_normal(out_shape))
    results = []
    for fast in (True, False):
        x = torch.tensor(images, requires_grad=True)
        w = torch.tensor(weight, requires_grad=True)
        if fast:
            assert sampling._torch_bags_apply(x, 0)
            out = sampling.resample_axis(x, torch.tensor(index), w, axis)
        else:
            out = None
            for t in range(index.shape[1]):
                term = torch.index_select(x, axis, torch.tensor(index[:, t]).long())
                shape = [1, 1, 1, 1]
                shape[axis] = -1
                term = term * w[:, t].reshape(shape)
                out = term if out is None else out + term
        (out * upstream).sum().backward()
        results.append([out.detach(), x.grad, w.grad])
    for fast, generic in zip(*results, strict=True):
        np.testing.assert_allclose(fast.numpy(), generic.numpy(), atol=1e-12)
