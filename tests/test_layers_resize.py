"""The `Resize` layer through the shared harness, and the harness itself."""

import keras
import numpy as np
import pytest

from keras_resize.layers import Resize
from keras_resize.testing import assert_value_error, run_layer_test

BACKEND = keras.backend.backend()


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.fixture
def channels_first_default():
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format(previous)


@pytest.mark.parametrize(
    "kwargs,input_shape",
    [
        (dict(height=16, width=24), (2, 37, 53, 3)),
        (dict(height=16, width=24, interpolation="area"), (2, 64, 96, 1)),
        (
            dict(height=40, width=13, interpolation="bicubic", antialias=True),
            (2, 20, 50, 3),
        ),
        (dict(height=8, width=8, interpolation="nearest"), (3, 32, 32, 2)),
        (
            dict(
                height=8, width=12, interpolation="area", data_format="channels_first"
            ),
            (2, 3, 20, 30),
        ),
    ],
    ids=["bilinear", "area", "bicubic-antialias", "nearest", "channels-first"],
)
def test_resize_layer_passes_the_harness(kwargs, input_shape):
    if kwargs.get("data_format") == "channels_first":
        expected = (*input_shape[:2], kwargs["height"], kwargs["width"])
    else:
        expected = (input_shape[0], kwargs["height"], kwargs["width"], input_shape[-1])
    report = run_layer_test(
        Resize,
        kwargs,
        input_shape,
        expected_output_shape=expected,
        expected_output_dtype="float32",
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        stateless=True,
    )
    assert report["backend"] == BACKEND
    if BACKEND == "tensorflow":
        assert set(report["tflite_ops"]) <= {
            "GATHER",
            "MUL",
            "ADD",
            "RESHAPE",
            "SUM",
            "TRANSPOSE",
        }
        assert not report["skipped"]
    else:
        assert "tf_data" not in report["skipped"]  # stateless: runs everywhere
        assert "saved_model" in report["skipped"]


def test_resize_layer_matches_keras_resizing():
    images = np.random.default_rng(0).random((2, 30, 40, 3)).astype("float32")
    ours = Resize(12, 17)(images)
    theirs = keras.layers.Resizing(12, 17)(images)
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), atol=1e-5)
    first = np.transpose(images, (0, 3, 1, 2))
    ours = Resize(12, 17, data_format="channels_first")(first)
    theirs = keras.layers.Resizing(12, 17, data_format="channels_first")(first)
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), atol=1e-5)


def test_resize_layer_rank3_input():
    out = Resize(4, 5)(np.zeros((8, 10, 3), "float32"))
    assert tuple(out.shape) == (4, 5, 3)
    assert Resize(4, 5).compute_output_shape((8, 10, 3)) == (4, 5, 3)
    first = Resize(4, 5, data_format="channels_first")
    assert tuple(first(np.zeros((3, 8, 10), "float32")).shape) == (3, 4, 5)
    assert first.compute_output_shape((3, 8, 10)) == (3, 4, 5)


# -- data_format ----------------------------------------------------------------


def test_channels_first_is_never_silently_wrong(channels_first_default):
    """Issue 12: under channels_first, `Resize(32, 32)` gave (1, 32, 32, 96)."""
    layer = Resize(32, 32)
    assert layer.data_format == "channels_first"
    assert layer.get_config()["data_format"] == "channels_first"
    images = np.random.default_rng(0).random((1, 3, 128, 96)).astype("float32")
    out = layer(images)
    assert tuple(out.shape) == (1, 3, 32, 32)
    assert layer.compute_output_shape((1, 3, 128, 96)) == (1, 3, 32, 32)
    symbolic = layer(keras.Input((3, None, None)))
    assert tuple(symbolic.shape) == (None, 3, 32, 32)


@pytest.mark.parametrize(
    "interpolation,antialias",
    [("bilinear", False), ("area", False), ("bicubic", True), ("nearest", False)],
)
def test_channels_first_equals_transposed_channels_last(interpolation, antialias):
    images = np.random.default_rng(1).random((2, 23, 31, 3)).astype("float32")
    last = Resize(9, 14, interpolation, antialias, data_format="channels_last")
    first = Resize(9, 14, interpolation, antialias, data_format="channels_first")
    expected = np.transpose(_numpy(last(images)), (0, 3, 1, 2))
    out = first(np.transpose(images, (0, 3, 1, 2)))
    np.testing.assert_allclose(_numpy(out), expected, atol=1e-6)


def test_bad_data_format():
    assert_value_error(Resize, "data_format='NHWC'", 4, 4, data_format="NHWC")


# -- tf.data under every backend (issue 12, point 5) -----------------------------


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_resize_inside_tf_data_on_every_backend(data_format):
    """Images of different sizes, unbatched: unknown spatial dims in the graph."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = [rng.random((h, w, 3)).astype("float32") for h, w in [(20, 30), (17, 9)]]
    if data_format == "channels_first":
        images = [np.transpose(image, (2, 0, 1)) for image in images]
    layer = Resize(8, 6, interpolation="area", data_format=data_format)
    spec = tf.TensorSpec(
        (3, None, None) if data_format == "channels_first" else (None, None, 3)
    )
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=spec
    )
    outputs = [x.numpy() for x in dataset.map(layer).batch(1)]
    for image, out in zip(images, outputs, strict=True):
        np.testing.assert_allclose(out[0], _numpy(layer(image)), atol=1e-5)
    expected = (3, 8, 6) if data_format == "channels_first" else (8, 6, 3)
    assert outputs[0].shape[1:] == expected
    # the layer still works eagerly on the backend afterwards
    assert tuple(layer(images[0]).shape) == expected


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(height=-3, width=4), "height=-3"),
        (dict(height=4, width=0), "width=0"),
        (dict(height=4.5, width=4), "height=4.5"),
        (dict(height=4, width=4, interpolation="cubic"), "interpolation='cubic'"),
        (dict(height=4, width=4, antialias=1), "antialias=1"),
    ],
)
def test_resize_layer_bad_arguments(kwargs, match):
    assert_value_error(Resize, match, **kwargs)


def test_resize_layer_bad_input_rank():
    with pytest.raises(ValueError, match="rank 3"):
        Resize(4, 4)(np.zeros((2, 8, 8, 3, 1), "float32"))
    with pytest.raises(ValueError, match="rank 3"):
        Resize(4, 4, data_format="channels_first")(np.zeros((2, 3, 8, 8, 1), "float32"))


# -- the harness must catch broken layers -------------------------------------


class DropsAnArgumentFromItsConfig(keras.layers.Layer):
    """A classic bug: get_config forgets `interpolation`, so a reloaded layer
    silently falls back to the default."""

    def __init__(self, height, width, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.interpolation = height, width, interpolation

    def call(self, x):
        return keras.ops.image.resize(
            x,
            (self.height, self.width),
            interpolation=self.interpolation,
            data_format="channels_last",
        )

    def compute_output_shape(self, shape):
        return (shape[0], self.height, self.width, shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class UsesTfArea(DropsAnArgumentFromItsConfig):
    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}

    def call(self, x):
        return keras.ops.image.resize(
            x,
            (self.height, self.width),
            interpolation="area",
            data_format="channels_last",
        )


class WrongOutputShape(UsesTfArea):
    def call(self, x):
        return keras.ops.image.resize(
            x, (self.height, self.width), data_format="channels_last"
        )

    def compute_output_shape(self, shape):
        return (shape[0], self.width, self.height, shape[-1])


class HasAFrozenScale(WrongOutputShape):
    """A weight that never trains: its gradient is cut."""

    def build(self, shape):
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, x):
        return super().call(x) * keras.ops.stop_gradient(self.scale)

    def compute_output_shape(self, shape):
        return (shape[0], self.height, self.width, shape[-1])


_QUIET = dict(
    check_tf_data=False,
    check_xla=False,
    check_gradients=False,
    check_mixed_precision=False,
    check_fit=False,
)


@pytest.mark.parametrize(
    "layer_cls,kwargs,reason",
    [
        (
            DropsAnArgumentFromItsConfig,
            dict(interpolation="nearest", check_saved_model=False, check_tflite=False),
            "from_config clone",
        ),
        pytest.param(
            UsesTfArea,
            dict(check_config=False, check_keras_save=False, check_tflite=True),
            "ResizeArea",
            marks=pytest.mark.tensorflow_only,
        ),
        (WrongOutputShape, {}, "compute_output_shape"),
        (
            DropsAnArgumentFromItsConfig,
            dict(expected_output_dtype="float16"),
            "output dtype",
        ),
        (
            HasAFrozenScale,
            dict(expected_num_trainable_weights=0),
            "1 trainable weights != expected 0",
        ),
        (
            HasAFrozenScale,
            dict(expected_num_non_trainable_weights=1),
            "0 non-trainable weights",
        ),
        (
            HasAFrozenScale,
            dict(check_fit=True, check_keras_save=False),
            "did not change",
        ),
    ],
    ids=[
        "config",
        "tflite",
        "output-shape",
        "dtype",
        "trainable",
        "non-trainable",
        "fit",
    ],
)
def test_harness_fails_on_broken_layers(layer_cls, kwargs, reason):
    init_kwargs = dict(height=4, width=6)
    if "interpolation" in kwargs:
        init_kwargs["interpolation"] = kwargs.pop("interpolation")
    with pytest.raises(Exception, match=reason):
        run_layer_test(
            layer_cls,
            init_kwargs,
            (2, 8, 8, 1),
            **{**_QUIET, "check_saved_model": False, "check_tflite": False, **kwargs},
        )
