"""Zoom, Unzoom and ZoomUnzoom layers: the harness, the ops they wrap, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resize.layers import (
    Resize,
    Unzoom,
    Zoom,
    ZoomUnzoom,
    available_resizers,
    get_resizer,
)
from keras_resize.ops import resize
from keras_resize.ops import warp as W
from keras_resize.testing import assert_value_error, run_layer_test

RNG = np.random.default_rng(0)
IMAGES = RNG.random((2, 40, 60, 3)).astype("float32")


def peaked(grid_shape=(5, 7), row=2, col=4, value=40.0):
    s = np.ones(grid_shape)
    s[row, col] += value
    return s


def perturb(layer, scale=0.3, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [w + scale * rng.normal(size=w.shape) for w in layer.get_weights()]
    )


# --------------------------------------------------------------------------
# the shared harness (each call checks config, .keras, SavedModel, TFLite
# builtins, tf.data, XLA, gradients and mixed precision)


def test_zoom_fixed_saliency_passes_the_layer_harness():
    report = run_layer_test(
        Zoom,
        {"height": 16, "width": 24, "saliency": peaked().tolist()},
        (2, 32, 48, 3),
        expected_output_shape=(2, 16, 24, 3),
    )
    assert "GATHER" in report["tflite_ops"]


def test_zoom_learned_saliency_passes_the_layer_harness():
    def randomized(**kwargs):
        layer = Zoom(**kwargs)
        layer.build((None, None, None, 3))
        perturb(layer)  # leave the identity start, so the warp is exercised
        return layer

    report = run_layer_test(
        randomized,
        {"height": 12, "width": 16, "saliency": "learned", "grid_shape": (4, 6)},
        (2, 32, 48, 3),
        expected_output_shape=(2, 12, 16, 3),
        check_config=False,  # the factory is not the class; see below
    )
    assert report["num_gradients"] == 1 + 6
    layer = Zoom(12, 16, saliency="learned", grid_shape=(4, 6))
    clone = Zoom.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_unzoom_fixed_saliency_passes_the_layer_harness():
    run_layer_test(
        Unzoom,
        {"saliency": peaked().tolist(), "fwhm": 4.0},
        (2, 12, 20, 4),
        expected_output_shape=(2, 12, 20, 4),
    )


def small_extractor(channels=3):
    inputs = keras.Input((None, None, channels))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(5, 3, padding="same")(x))


def test_zoom_unzoom_learned_passes_the_layer_harness():
    keras.utils.set_random_seed(0)
    run_layer_test(
        ZoomUnzoom,
        {
            "feature_extractor": small_extractor(),
            "height": 16,
            "width": 24,
            "saliency": "learned",
            "grid_shape": (4, 6),
        },
        (2, 32, 48, 3),
        expected_output_shape=(2, 8, 12, 5),
        check_mixed_precision=False,  # the extractor instance is float32
    )


# --------------------------------------------------------------------------
# Zoom


def test_uniform_zoom_is_the_bilinear_resize_and_the_registry_has_zoom():
    layer = Zoom(17, 29, saliency="uniform", grid_shape=(6, 9))
    np.testing.assert_allclose(layer(IMAGES), resize(IMAGES, (17, 29)), atol=1e-5)
    np.testing.assert_allclose(layer(IMAGES), Resize(17, 29)(IMAGES), atol=1e-5)
    assert "zoom" in available_resizers()
    uniform = get_resizer("zoom", 17, 29, saliency="uniform")
    np.testing.assert_allclose(uniform(IMAGES), resize(IMAGES, (17, 29)), atol=1e-5)
    learned = get_resizer("zoom", 20, 20)
    assert learned.saliency_kind == "learned" and learned.grid_shape == (20, 20)
    assert learned(IMAGES).shape == (2, 20, 20, 3)


@pytest.mark.parametrize("separable", [True, False])
def test_fixed_zoom_equals_the_op(separable):
    saliency = peaked()
    layer = Zoom(20, 30, saliency=saliency, fwhm=4.0, separable=separable)
    grid = W.coarse_grid(saliency.astype("float32"), fwhm=4.0, separable=separable)
    expected = W.zoom(IMAGES, grid, (20, 30), separable=separable)
    np.testing.assert_allclose(layer(IMAGES), expected, atol=1e-5)
    assert np.abs(layer(IMAGES) - resize(IMAGES, (20, 30))).max() > 0.05
    # XLA of the fixed nonseparable path (the separable one is in the harness)
    compiled = tf.function(layer, jit_compile=True)(tf.constant(IMAGES))
    np.testing.assert_allclose(compiled, expected, atol=1e-5)


def test_adaptive_saliency_overrides_and_the_grid_is_exposed():
    layer = Zoom(20, 30, saliency="uniform", grid_shape=(5, 7), return_grid=True)
    saliency = np.stack([peaked(), peaked(row=4, col=1)]).astype("float32")
    zoomed, grid = layer(IMAGES, saliency)
    expected_grid = W.coarse_grid(saliency)
    np.testing.assert_allclose(grid, expected_grid, atol=1e-6)
    np.testing.assert_allclose(
        zoomed, W.zoom(IMAGES, expected_grid, (20, 30)), atol=1e-6
    )
    fixed_zoomed, fixed_grid = layer(IMAGES)
    assert fixed_grid.shape == (2, 5, 7, 2)
    np.testing.assert_allclose(fixed_zoomed, resize(IMAGES, (20, 30)), atol=1e-5)
    # functional use: images and a saliency input; the grid stays float32
    images_in = keras.Input((None, None, 3))
    saliency_in = keras.Input((5, 7))
    mixed = Zoom(20, 30, grid_shape=(5, 7), return_grid=True, dtype="mixed_float16")
    outputs = mixed(images_in, saliency_in)
    assert outputs[0].dtype == "float16" and outputs[1].dtype == "float32"
    model = keras.Model([images_in, saliency_in], outputs)
    out_zoomed, out_grid = model([IMAGES, saliency])
    assert out_grid.dtype == tf.float32
    np.testing.assert_allclose(out_grid, expected_grid, atol=1e-6)


def test_learned_saliency_starts_flat_and_trains():
    layer = Zoom(12, 16, saliency="learned", grid_shape=(4, 6))
    np.testing.assert_allclose(layer(IMAGES), resize(IMAGES, (12, 16)), atol=1e-5)
    np.testing.assert_allclose(layer.saliency_map(IMAGES), 1 / 24, atol=1e-7)
    perturb(layer, scale=1.0)
    saliency = layer.saliency_map(IMAGES).numpy()
    np.testing.assert_allclose(saliency.sum((1, 2)), 1.0, atol=1e-5)
    assert saliency.max() / saliency.min() > 1.5
    assert np.abs(layer(IMAGES) - resize(IMAGES, (12, 16))).max() > 1e-2
    layer = Zoom(12, 16, saliency="learned", grid_shape=(4, 6))
    layer.build((None, None, None, 3))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(IMAGES) * tf.range(16.0)[:, None])
    gradient = tape.gradient(loss, layer.saliency_head.kernel)
    assert np.abs(gradient.numpy()).max() > 1e-4  # the head learns at once


# --------------------------------------------------------------------------
# Unzoom and ZoomUnzoom


@pytest.mark.parametrize("separable", [True, False])
def test_unzoom_fixed_equals_the_op_and_the_grid_path(separable):
    saliency = peaked()
    zoom = Zoom(
        20, 30, saliency=saliency, fwhm=4.0, separable=separable, return_grid=True
    )
    zoomed, grid = zoom(IMAGES)
    fixed = Unzoom.from_zoom(zoom)
    expected = W.unzoom(
        zoomed, W.coarse_grid(saliency, 4.0, separable=separable), separable=separable
    )
    np.testing.assert_allclose(fixed(zoomed), expected, atol=1e-5)
    np.testing.assert_allclose(
        Unzoom(separable=separable)(zoomed, grid), expected, atol=1e-5
    )
    levels = {"P3": zoomed, "P4": zoomed[:, ::2, ::2]}
    out = fixed(levels)
    assert set(out) == {"P3", "P4"} and out["P4"].shape == (2, 10, 15, 3)
    np.testing.assert_allclose(
        out["P4"],
        W.unzoom(
            levels["P4"],
            W.coarse_grid(saliency, 4.0, separable=separable),
            separable=separable,
        ),
        atol=1e-5,
    )
    # unknown map sizes: the inverse is computed in the graph
    graph = tf.function(
        fixed.call, input_signature=[tf.TensorSpec((None, None, None, 3))]
    )
    np.testing.assert_allclose(graph(zoomed), expected, atol=1e-5)


def test_zoom_unzoom_with_uniform_saliency_is_extractor_of_resize():
    extractor = small_extractor()
    layer = ZoomUnzoom(extractor, 16, 24, saliency="uniform", grid_shape=(4, 6))
    expected = extractor(resize(IMAGES, (16, 24)))
    np.testing.assert_allclose(layer(IMAGES), expected, atol=1e-5)
    # padded to a multiple of 32: the valid part is unchanged, the padding 0
    padded = ZoomUnzoom(
        extractor, 16, 24, saliency="uniform", grid_shape=(4, 6), pad_to_multiple=32
    )
    out = padded(IMAGES).numpy()
    assert out.shape == (2, 16, 16, 5)
    zoomed = tf.pad(resize(IMAGES, (16, 24)), [[0, 0], [0, 16], [0, 8], [0, 0]])
    np.testing.assert_allclose(
        out[:, :8, :12], extractor(zoomed)[:, :8, :12], atol=1e-5
    )
    assert np.all(out[:, 8:] == 0) and np.all(out[:, :, 12:] == 0)


def test_zoom_unzoom_unzooms_every_pyramid_level():
    inputs = keras.Input((None, None, 3))
    c3 = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    c4 = keras.layers.Conv2D(6, 3, strides=2, padding="same")(c3)
    extractor = keras.Model(inputs, {"P3": c3, "P4": c4})
    saliency = peaked()
    layer = ZoomUnzoom(extractor, 20, 32, saliency=saliency, fwhm=4.0)
    out = layer(IMAGES)
    assert out["P3"].shape == (2, 10, 16, 4) and out["P4"].shape == (2, 5, 8, 6)
    assert layer.compute_output_shape((2, 40, 60, 3))["P4"] == (2, 5, 8, 6)
    grid = W.coarse_grid(saliency, fwhm=4.0)
    features = extractor(W.zoom(IMAGES, grid, (20, 32)))
    for key in ("P3", "P4"):
        np.testing.assert_allclose(out[key], W.unzoom(features[key], grid), atol=1e-5)
    clone = ZoomUnzoom.from_config(layer.get_config())
    clone(IMAGES)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(IMAGES)["P4"], out["P4"], atol=1e-6)


# --------------------------------------------------------------------------
# bad input


def test_bad_arguments_raise_value_errors():
    assert_value_error(Zoom, "at least (2, 2)", 16, 16, grid_shape=(1, 5))
    assert_value_error(Zoom, "non-negative", 16, 16, saliency=-peaked())
    assert_value_error(Zoom, "output_size=(8, 8)", 8, 8)  # 31 x 51 grid
    assert_value_error(Zoom, "'mirror'", 16, 16, grid_shape=(4, 4), padding="mirror")
    assert_value_error(Zoom, "fwhm", 16, 16, grid_shape=(4, 4), fwhm=-1.0)
    assert_value_error(Zoom, "'magic'", 16, 16, saliency="magic")
    assert_value_error(Zoom, "grid_shape", 16, 16, saliency=peaked(), grid_shape=(4, 4))
    assert_value_error(Zoom, "height", 0, 16)
    assert_value_error(Unzoom, "non-negative", saliency=-peaked())
    assert_value_error(Unzoom, "together", saliency="uniform", valid_size=(4, 4))
    assert_value_error(
        Unzoom, "valid_size", saliency="uniform", valid_size=(9, 4), padded_size=(8, 8)
    )
    assert_value_error(Unzoom(), "grid", np.zeros((1, 4, 4, 2), "float32"))
    assert_value_error(ZoomUnzoom, "feature_extractor", "resnet", 16, 16)
    layer = Zoom(16, 16, saliency="uniform", grid_shape=(4, 4))
    assert_value_error(layer.saliency_map, "learned", IMAGES)
