"""The `Resize` layer through the shared harness, and the harness itself."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resize.layers import Resize
from keras_resize.testing import assert_value_error, run_layer_test


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
    ],
)
def test_resize_layer_passes_the_harness(kwargs, input_shape):
    report = run_layer_test(
        Resize,
        kwargs,
        input_shape,
        expected_output_shape=(
            input_shape[0],
            kwargs["height"],
            kwargs["width"],
            input_shape[-1],
        ),
    )
    assert set(report["tflite_ops"]) <= {"GATHER", "MUL", "ADD", "RESHAPE", "SUM"}


def test_resize_layer_matches_keras_resizing():
    images = np.random.default_rng(0).random((2, 30, 40, 3)).astype("float32")
    ours = Resize(12, 17)(images)
    theirs = keras.layers.Resizing(12, 17)(images)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_resize_layer_rank3_input():
    out = Resize(4, 5)(np.zeros((8, 10, 3), "float32"))
    assert out.shape == (4, 5, 3)
    assert Resize(4, 5).compute_output_shape((8, 10, 3)) == (4, 5, 3)


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


# -- the harness must catch broken layers -------------------------------------


class DropsAnArgumentFromItsConfig(keras.layers.Layer):
    """A classic bug: get_config forgets `interpolation`, so a reloaded layer
    silently falls back to the default."""

    def __init__(self, height, width, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.interpolation = height, width, interpolation

    def call(self, x):
        return tf.image.resize(x, (self.height, self.width), method=self.interpolation)

    def compute_output_shape(self, shape):
        return (shape[0], self.height, self.width, shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class UsesTfArea(DropsAnArgumentFromItsConfig):
    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}

    def call(self, x):
        return tf.image.resize(x, (self.height, self.width), method="area")


class WrongOutputShape(UsesTfArea):
    def call(self, x):
        return tf.image.resize(x, (self.height, self.width))

    def compute_output_shape(self, shape):
        return (shape[0], self.width, self.height, shape[-1])


@pytest.mark.parametrize(
    "layer_cls,kwargs",
    [
        (
            DropsAnArgumentFromItsConfig,
            dict(interpolation="nearest", check_saved_model=False, check_tflite=False),
        ),
        (
            UsesTfArea,
            dict(check_config=False, check_keras_save=False, check_saved_model=False),
        ),
        (WrongOutputShape, {}),
    ],
    ids=["config", "tflite", "output-shape"],
)
def test_harness_fails_on_broken_layers(layer_cls, kwargs, request):
    reason = {
        "config": "from_config clone",
        "tflite": "ResizeArea",
        "output-shape": "compute_output_shape",
    }[request.node.callspec.id]
    init_kwargs = dict(height=4, width=6)
    if "interpolation" in kwargs:
        init_kwargs["interpolation"] = kwargs.pop("interpolation")
    with pytest.raises(Exception, match=reason):
        run_layer_test(
            layer_cls,
            init_kwargs,
            (2, 8, 8, 1),
            check_tf_data=False,
            check_xla=False,
            check_gradients=False,
            check_mixed_precision=False,
            **kwargs,
        )
