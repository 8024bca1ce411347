"""`resize` against `tf.image.resize`, under XLA, in TFLite, and its gradients.

The references are computed with TensorFlow (installed in the dev venv), our
op with the active backend; both are compared as numpy arrays.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resize.data import load_photo
from keras_resize.ops import RESIZE_METHODS, resize

BACKEND = keras.backend.backend()


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


TF_PARITY = [
    ("bilinear", False),
    ("nearest", False),
    ("bicubic", False),
    ("area", False),
    ("bilinear", True),
    ("bicubic", True),
    ("lanczos3", True),
    ("lanczos5", False),
    ("gaussian", True),
    ("mitchellcubic", True),
]
# (input height, width) -> (output height, width): down, up, equal, odd,
# aspect-ratio changes, one axis up and the other down, size one.
SIZE_CASES = [
    ((64, 96), (16, 24)),
    ((37, 53), (16, 24)),
    ((17, 9), (40, 31)),
    ((30, 30), (30, 30)),
    ((61, 47), (13, 90)),
    ((100, 31), (7, 64)),
    ((9, 11), (1, 1)),
    ((1, 5), (4, 3)),
]


@pytest.fixture(scope="module")
def photo():
    return load_photo("astronaut")[::4, ::4]  # 128 x 128 real photo


@pytest.mark.parametrize("method,antialias", TF_PARITY)
@pytest.mark.parametrize("case", SIZE_CASES, ids=lambda c: f"{c[0]}->{c[1]}")
def test_matches_tf_image_resize_on_random_images(method, antialias, case, xla_fusion):
    (height, width), size = case
    images = np.random.default_rng(1).random((2, height, width, 3)).astype("float32")
    expected = tf.image.resize(images, size, method=method, antialias=antialias)
    got = resize(images, size, method=method, antialias=antialias)
    np.testing.assert_allclose(to_numpy(got), expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("method,antialias", TF_PARITY)
@pytest.mark.parametrize("size", [(32, 32), (45, 77), (200, 150)])
def test_matches_tf_image_resize_on_a_real_photo(photo, method, antialias, size):
    expected = tf.image.resize(photo, size, method=method, antialias=antialias)
    got = resize(photo, size, method=method, antialias=antialias)
    assert tuple(got.shape) == (*size, 3)
    np.testing.assert_allclose(to_numpy(got), expected.numpy(), atol=1e-4)


def test_dtypes():
    images = np.random.default_rng(0).random((1, 8, 8, 2))
    # float64 where the backend has it (JAX only with x64 enabled)
    float64 = dtype_of(keras.ops.convert_to_tensor(images))
    assert dtype_of(resize(images.astype("float64"), (4, 4))) == float64
    assert dtype_of(resize(images.astype("float16"), (4, 4))) == "float16"
    as_int = resize((images * 255).astype("uint8"), (4, 4))
    assert dtype_of(as_int) == "float32"  # integers are cast, as tf.image.resize
    np.testing.assert_allclose(
        to_numpy(as_int),
        tf.image.resize((images * 255).astype("uint8"), (4, 4)).numpy(),
        atol=1e-3,
    )


def test_constant_image_stays_constant():
    images = np.full((1, 23, 17, 1), 0.7, "float32")
    for method in RESIZE_METHODS:
        for antialias in (False, True):
            out = to_numpy(resize(images, (9, 40), method=method, antialias=antialias))
            np.testing.assert_allclose(out, 0.7, atol=1e-5, err_msg=method)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("method", RESIZE_METHODS)
def test_every_method_compiles_under_xla(method):
    images = np.random.default_rng(2).random((2, 33, 47, 3)).astype("float32")
    for antialias in (False, True):
        eager = resize(images, (12, 20), method=method, antialias=antialias)
        compiled = tf.function(
            lambda x, m=method, a=antialias: resize(x, (12, 20), method=m, antialias=a),
            jit_compile=True,
        )
        np.testing.assert_allclose(compiled(images).numpy(), eager.numpy(), atol=1e-5)


@pytest.mark.tensorflow_only
def test_every_method_converts_to_tflite_builtins_and_runs(tmp_path):
    """One SavedModel holding every method, converted with builtin ops only."""
    from ai_edge_litert.interpreter import Interpreter

    from keras_resize.testing import tflite_convert, tflite_run

    combos = [(m, a) for m in RESIZE_METHODS for a in (False, True)]

    class AllMethods(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 40, 52, 3], tf.float32)])
        def serve(self, images):
            return {
                f"{m}_{int(a)}": resize(images, (15, 21), method=m, antialias=a)
                for m, a in combos
            }

    module = AllMethods()
    tf.saved_model.save(module, str(tmp_path), signatures=module.serve)
    flatbuffer = tflite_convert(str(tmp_path))
    images = np.random.default_rng(3).random((2, 40, 52, 3)).astype("float32")
    _, ops = tflite_run(flatbuffer, images)
    assert set(ops) <= {"GATHER", "MUL", "ADD", "RESHAPE", "SUM", "CONCATENATION"}, ops
    runner = Interpreter(model_content=flatbuffer).get_signature_runner()
    outputs = runner(images=images)
    expected = module.serve(tf.constant(images))
    assert set(outputs) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(
            outputs[name], value.numpy(), atol=1e-4, err_msg=name
        )

    # TensorFlow's own area and antialiased resize do not convert at all
    class TfArea(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 40, 52, 3], tf.float32)])
        def serve(self, images):
            return tf.image.resize(images, (15, 21), method="area")

    tf.saved_model.save(TfArea(), str(tmp_path / "tf_area"))
    with pytest.raises(Exception):  # noqa: B017 - converter raises its own error types
        tflite_convert(str(tmp_path / "tf_area"))


@pytest.mark.parametrize(
    "method,antialias",
    [
        ("nearest", False),
        ("bilinear", False),
        ("bicubic", False),
        ("area", False),
        ("bilinear", True),
        ("lanczos3", True),
    ],
)
@pytest.mark.tensorflow_only
def test_gradient_matches_finite_differences(method, antialias):
    # resize is linear in the images, so central differences are exact up to
    # rounding for every method (nearest included)
    images = tf.constant(np.random.default_rng(4).random((1, 7, 9, 2)))  # float64
    theoretical, numerical = tf.test.compute_gradient(
        lambda x: resize(x, (4, 13), method=method, antialias=antialias), [images]
    )
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(size=(0, 4)), "size=(0, 4)"),
        (dict(size=(-3, 4)), "size=(-3, 4)"),
        (dict(size=(2.5, 4)), "size=(2.5, 4)"),
        (dict(size=4), "size=4"),
        (dict(size=(4, 4, 4)), "size=(4, 4, 4)"),
        (dict(size=(4, 4), method="cubic"), "method='cubic'"),
        (dict(size=(4, 4), antialias="yes"), "antialias='yes'"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_value(kwargs, match):
    with pytest.raises(ValueError) as error:
        resize(np.zeros((1, 8, 8, 1), "float32"), **kwargs)
    assert match in str(error.value)


@pytest.mark.parametrize("shape", [(8, 8), (1, 1, 8, 8, 1), (8,)])
def test_bad_rank_raises(shape):
    with pytest.raises(ValueError, match=r"rank 3 .* or 4") as error:
        resize(np.zeros(shape, "float32"), (4, 4))
    assert str(shape).replace(" ", "")[1:-1].split(",")[0] in str(error.value)


def test_complex_images_raise():
    with pytest.raises(ValueError, match="complex64"):
        resize(np.zeros((1, 4, 4, 1), "complex64"), (2, 2))


def backend_gradient(loss, argument):
    """Gradient of the scalar `loss(argument)` with the active backend."""
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.grad(loss)(argument))
    if BACKEND == "torch":
        import torch

        tensor = torch.tensor(argument, requires_grad=True)
        return torch.autograd.grad(loss(tensor), tensor)[0].detach().cpu().numpy()
    tensor = tf.constant(argument)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        value = loss(tensor)
    return tape.gradient(value, tensor).numpy()


@pytest.mark.parametrize(
    "method,antialias",
    [
        ("nearest", False),
        ("bilinear", False),
        ("bicubic", False),
        ("area", False),
        ("bilinear", True),
        ("lanczos3", True),
    ],
)
def test_autodiff_gradient_is_the_adjoint_of_tf_image_resize(method, antialias):
    """jax.grad / torch.autograd / GradientTape of `sum(resize(x) * c)`.

    `resize` is linear, so the gradient is `J^T c`, with the columns of `J`
    the resized basis images, computed here with `tf.image.resize`.
    """
    rng = np.random.default_rng(4)
    images = rng.random((1, 7, 9, 2)).astype("float32")
    cotangent = rng.random((1, 4, 13, 2)).astype("float32")

    def loss(x):
        out = resize(x, (4, 13), method=method, antialias=antialias)
        return keras.ops.sum(out * keras.ops.convert_to_tensor(cotangent))

    basis = np.eye(63, dtype="float32").reshape(63, 7, 9, 1)
    columns = tf.image.resize(basis, (4, 13), method=method, antialias=antialias)
    expected = np.einsum("kij,ijc->kc", columns.numpy()[..., 0], cotangent[0])
    np.testing.assert_allclose(
        backend_gradient(loss, images), expected.reshape(1, 7, 9, 2), atol=1e-5
    )


@pytest.mark.tensorflow_only
def test_dynamic_shapes_in_a_tf_function():
    """None batch and spatial dims inside a tf.function (dynamic taps)."""
    images = np.random.default_rng(5).random((2, 21, 30, 3)).astype("float32")
    for method, antialias in (("bilinear", False), ("area", False), ("bicubic", True)):
        fn = tf.function(
            lambda x, m=method, a=antialias: resize(x, (8, 11), method=m, antialias=a),
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        )
        expected = tf.image.resize(images, (8, 11), method=method, antialias=antialias)
        np.testing.assert_allclose(
            fn(images).numpy(), expected.numpy(), atol=1e-4, err_msg=method
        )


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit: JAX backend only")
def test_traceable_by_jax_jit():
    import jax

    images = np.random.default_rng(6).random((2, 33, 47, 3)).astype("float32")
    for method, antialias in (("bilinear", False), ("area", False), ("lanczos3", True)):
        jitted = jax.jit(
            lambda x, m=method, a=antialias: resize(x, (12, 20), method=m, antialias=a)
        )
        expected = tf.image.resize(images, (12, 20), method=method, antialias=antialias)
        np.testing.assert_allclose(
            np.asarray(jitted(images)), expected.numpy(), atol=1e-4, err_msg=method
        )
