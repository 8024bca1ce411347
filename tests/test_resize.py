"""`resize` against `tf.image.resize`, under XLA, in TFLite, and its gradients."""

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_resize.data import load_photo
from keras_resize.ops import RESIZE_METHODS, resize
from keras_resize.testing import tflite_convert, tflite_run

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
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("method,antialias", TF_PARITY)
@pytest.mark.parametrize("size", [(32, 32), (45, 77), (200, 150)])
def test_matches_tf_image_resize_on_a_real_photo(photo, method, antialias, size):
    expected = tf.image.resize(photo, size, method=method, antialias=antialias)
    got = resize(photo, size, method=method, antialias=antialias)
    assert got.shape == (*size, 3)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)


def test_dtypes():
    images = np.random.default_rng(0).random((1, 8, 8, 2))
    assert resize(images.astype("float64"), (4, 4)).dtype == tf.float64
    assert resize(images.astype("float16"), (4, 4)).dtype == tf.float16
    as_int = resize((images * 255).astype("uint8"), (4, 4))
    assert as_int.dtype == tf.float32  # integers are cast, as tf.image.resize
    np.testing.assert_allclose(
        as_int.numpy(),
        tf.image.resize((images * 255).astype("uint8"), (4, 4)).numpy(),
        atol=1e-3,
    )


def test_constant_image_stays_constant():
    images = np.full((1, 23, 17, 1), 0.7, "float32")
    for method in RESIZE_METHODS:
        for antialias in (False, True):
            out = resize(images, (9, 40), method=method, antialias=antialias).numpy()
            np.testing.assert_allclose(out, 0.7, atol=1e-5, err_msg=method)


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


def test_every_method_converts_to_tflite_builtins_and_runs(tmp_path):
    """One SavedModel holding every method, converted with builtin ops only."""
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
        resize(tf.zeros((1, 4, 4, 1), tf.complex64), (2, 2))
