"""Zoom, Unzoom and ZoomUnzoom layers: the harness, the ops they wrap, errors."""

import keras
import numpy as np
import pytest

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
from keras_resize.testing import _gradients, assert_value_error, run_layer_test


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


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
        expected_output_dtype="float32",
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        stateless=True,  # runs in tf.data under every backend
    )
    if keras.backend.backend() == "tensorflow":
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
        expected_output_dtype="float32",
        expected_num_trainable_weights=6,  # 2 convs + the head, kernel and bias
        expected_num_non_trainable_weights=0,
        check_config=False,  # the factory is not the class; see below
        # a bias added to every cell before the softmax has zero gradient
        fit_may_not_change=("saliency_head/bias",),
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
        expected_output_dtype="float32",
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        stateless=True,  # runs in tf.data under every backend
    )


def test_zoom_and_unzoom_channels_first_pass_the_layer_harness():
    saliency = peaked().tolist()
    run_layer_test(
        Zoom,
        {
            "height": 12,
            "width": 16,
            "saliency": saliency,
            "data_format": "channels_first",
        },
        (2, 3, 30, 40),
        expected_output_shape=(2, 3, 12, 16),
        expected_num_trainable_weights=0,
        stateless=True,
        check_saved_model=False,  # channels-last covers these
        check_mixed_precision=False,
    )
    run_layer_test(
        Unzoom,
        {"saliency": saliency, "data_format": "channels_first"},
        (2, 4, 12, 20),
        expected_output_shape=(2, 4, 12, 20),
        stateless=True,
        check_saved_model=False,
        check_mixed_precision=False,
    )


def small_extractor(channels=3):
    inputs = keras.Input((None, None, channels))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(5, 3, padding="same")(x))


def test_zoom_unzoom_learned_passes_the_layer_harness():
    def randomized(**kwargs):
        # The saliency head starts at zero (identity warp), so at the very
        # first step nothing reaches the saliency convolutions: move it off
        # zero, so that the fit check sees every weight train.
        layer = ZoomUnzoom(**kwargs)
        layer.build((None, 32, 48, 3))
        head = layer.zoom.saliency_head.kernel
        head.assign(np.random.default_rng(1).normal(0, 0.3, head.shape))
        return layer

    keras.utils.set_random_seed(0)
    run_layer_test(
        randomized,
        {
            "feature_extractor": small_extractor(),
            "height": 16,
            "width": 24,
            "saliency": "learned",
            "grid_shape": (4, 6),
        },
        (2, 32, 48, 3),
        expected_output_shape=(2, 8, 12, 5),
        expected_output_dtype="float32",
        # the zoom's saliency network (6) and the extractor's 2 convolutions (4)
        expected_num_trainable_weights=10,
        expected_num_non_trainable_weights=0,
        check_mixed_precision=False,  # the extractor instance is float32
        check_config=False,  # the factory is not the class; see the pyramid test
        # a bias added to every cell before the softmax has zero gradient
        fit_may_not_change=("saliency_head/bias",),
    )


# --------------------------------------------------------------------------
# Zoom


def test_uniform_zoom_is_the_bilinear_resize_and_the_registry_has_zoom():
    layer = Zoom(17, 29, saliency="uniform", grid_shape=(6, 9))
    expected = _np(resize(IMAGES, (17, 29)))
    np.testing.assert_allclose(_np(layer(IMAGES)), expected, atol=1e-5)
    np.testing.assert_allclose(
        _np(layer(IMAGES)), _np(Resize(17, 29)(IMAGES)), atol=1e-5
    )
    assert "zoom" in available_resizers()
    uniform = get_resizer("zoom", 17, 29, saliency="uniform")
    np.testing.assert_allclose(_np(uniform(IMAGES)), expected, atol=1e-5)
    learned = get_resizer("zoom", 20, 20)
    assert learned.saliency_kind == "learned" and learned.grid_shape == (20, 20)
    assert tuple(learned(IMAGES).shape) == (2, 20, 20, 3)


@pytest.mark.parametrize("separable", [True, False])
def test_fixed_zoom_equals_the_op(separable):
    saliency = peaked()
    layer = Zoom(20, 30, saliency=saliency, fwhm=4.0, separable=separable)
    grid = W.coarse_grid(saliency.astype("float32"), fwhm=4.0, separable=separable)
    expected = _np(W.zoom(IMAGES, grid, (20, 30), separable=separable))
    np.testing.assert_allclose(_np(layer(IMAGES)), expected, atol=1e-5)
    assert np.abs(_np(layer(IMAGES)) - _np(resize(IMAGES, (20, 30)))).max() > 0.05


@pytest.mark.tensorflow_only
def test_fixed_nonseparable_zoom_compiles_with_xla():
    import tensorflow as tf

    saliency = peaked()
    layer = Zoom(20, 30, saliency=saliency, fwhm=4.0, separable=False)
    expected = layer(IMAGES)
    compiled = tf.function(layer, jit_compile=True)(tf.constant(IMAGES))
    np.testing.assert_allclose(compiled, expected, atol=1e-5)


def test_adaptive_saliency_overrides_and_the_grid_is_exposed():
    layer = Zoom(20, 30, saliency="uniform", grid_shape=(5, 7), return_grid=True)
    saliency = np.stack([peaked(), peaked(row=4, col=1)]).astype("float32")
    zoomed, grid = layer(IMAGES, saliency)
    expected_grid = W.coarse_grid(saliency)
    np.testing.assert_allclose(_np(grid), _np(expected_grid), atol=1e-6)
    np.testing.assert_allclose(
        _np(zoomed), _np(W.zoom(IMAGES, expected_grid, (20, 30))), atol=1e-6
    )
    fixed_zoomed, fixed_grid = layer(IMAGES)
    assert tuple(fixed_grid.shape) == (2, 5, 7, 2)
    np.testing.assert_allclose(
        _np(fixed_zoomed), _np(resize(IMAGES, (20, 30))), atol=1e-5
    )
    # functional use: images and a saliency input; the grid stays float32
    images_in = keras.Input((None, None, 3))
    saliency_in = keras.Input((5, 7))
    mixed = Zoom(20, 30, grid_shape=(5, 7), return_grid=True, dtype="mixed_float16")
    outputs = mixed(images_in, saliency_in)
    assert outputs[0].dtype == "float16" and outputs[1].dtype == "float32"
    model = keras.Model([images_in, saliency_in], outputs)
    out_zoomed, out_grid = model([IMAGES, saliency])
    assert keras.backend.standardize_dtype(out_grid.dtype) == "float32"
    np.testing.assert_allclose(_np(out_grid), _np(expected_grid), atol=1e-6)


def test_learned_saliency_starts_flat_and_trains():
    layer = Zoom(12, 16, saliency="learned", grid_shape=(4, 6))
    bilinear = _np(resize(IMAGES, (12, 16)))
    np.testing.assert_allclose(_np(layer(IMAGES)), bilinear, atol=1e-5)
    np.testing.assert_allclose(_np(layer.saliency_map(IMAGES)), 1 / 24, atol=1e-7)
    perturb(layer, scale=1.0)
    saliency = _np(layer.saliency_map(IMAGES))
    np.testing.assert_allclose(saliency.sum((1, 2)), 1.0, atol=1e-5)
    assert saliency.max() / saliency.min() > 1.5
    assert np.abs(_np(layer(IMAGES)) - bilinear).max() > 1e-2
    layer = Zoom(12, 16, saliency="learned", grid_shape=(4, 6))
    layer.build((None, None, None, 3))
    names, gradients = _gradients(layer, IMAGES, with_input=False)
    gradient = dict(zip(names, gradients, strict=True))[layer.saliency_head.kernel.path]
    assert np.abs(gradient).max() > 1e-4  # the head learns at once


# --------------------------------------------------------------------------
# Unzoom and ZoomUnzoom


@pytest.mark.slow_on_jax
@pytest.mark.parametrize("separable", [True, False])
def test_unzoom_fixed_equals_the_op_and_the_grid_path(separable):
    saliency = peaked()
    zoom = Zoom(
        20, 30, saliency=saliency, fwhm=4.0, separable=separable, return_grid=True
    )
    zoomed, grid = zoom(IMAGES)
    fixed = Unzoom.from_zoom(zoom)
    expected = _np(
        W.unzoom(
            zoomed,
            W.coarse_grid(saliency, 4.0, separable=separable),
            separable=separable,
        )
    )
    np.testing.assert_allclose(_np(fixed(zoomed)), expected, atol=1e-5)
    np.testing.assert_allclose(
        _np(Unzoom(separable=separable)(zoomed, grid)), expected, atol=1e-5
    )
    levels = {"P3": zoomed, "P4": zoomed[:, ::2, ::2]}
    out = fixed(levels)
    assert set(out) == {"P3", "P4"} and tuple(out["P4"].shape) == (2, 10, 15, 3)
    np.testing.assert_allclose(
        _np(out["P4"]),
        _np(
            W.unzoom(
                levels["P4"],
                W.coarse_grid(saliency, 4.0, separable=separable),
                separable=separable,
            )
        ),
        atol=1e-5,
    )


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("separable", [True, False])
def test_unzoom_of_unknown_map_sizes_in_a_graph(separable):
    import tensorflow as tf

    saliency = peaked()
    zoom = Zoom(20, 30, saliency=saliency, fwhm=4.0, separable=separable)
    zoomed = zoom(IMAGES)
    fixed = Unzoom.from_zoom(zoom)
    expected = fixed(zoomed)
    # unknown map sizes: the inverse is computed in the graph
    graph = tf.function(
        fixed.call, input_signature=[tf.TensorSpec((None, None, None, 3))]
    )
    np.testing.assert_allclose(graph(zoomed), expected, atol=1e-5)


def test_zoom_unzoom_with_uniform_saliency_is_extractor_of_resize():
    extractor = small_extractor()
    layer = ZoomUnzoom(extractor, 16, 24, saliency="uniform", grid_shape=(4, 6))
    expected = _np(extractor(resize(IMAGES, (16, 24))))
    np.testing.assert_allclose(_np(layer(IMAGES)), expected, atol=1e-5)
    # padded to a multiple of 32: the valid part is unchanged, the padding 0
    padded = ZoomUnzoom(
        extractor, 16, 24, saliency="uniform", grid_shape=(4, 6), pad_to_multiple=32
    )
    out = _np(padded(IMAGES))
    assert out.shape == (2, 16, 16, 5)
    zoomed = np.pad(_np(resize(IMAGES, (16, 24))), [[0, 0], [0, 16], [0, 8], [0, 0]])
    np.testing.assert_allclose(
        out[:, :8, :12], _np(extractor(zoomed))[:, :8, :12], atol=1e-5
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
    assert tuple(out["P3"].shape) == (2, 10, 16, 4)
    assert tuple(out["P4"].shape) == (2, 5, 8, 6)
    assert layer.compute_output_shape((2, 40, 60, 3))["P4"] == (2, 5, 8, 6)
    grid = W.coarse_grid(saliency, fwhm=4.0)
    features = extractor(W.zoom(IMAGES, grid, (20, 32)))
    for key in ("P3", "P4"):
        np.testing.assert_allclose(
            _np(out[key]), _np(W.unzoom(features[key], grid)), atol=1e-5
        )
    clone = ZoomUnzoom.from_config(layer.get_config())
    clone(IMAGES)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(_np(clone(IMAGES)["P4"]), _np(out["P4"]), atol=1e-6)


# --------------------------------------------------------------------------
# data_format


@pytest.mark.parametrize("separable", [True, False])
def test_channels_first_equals_transposed_channels_last(separable):
    saliency = peaked()
    first_images = np.transpose(IMAGES, (0, 3, 1, 2))

    def to_first(x):
        return np.transpose(_np(x), (0, 3, 1, 2))

    kwargs = dict(saliency=saliency, fwhm=4.0, separable=separable, return_grid=True)
    last = Zoom(20, 30, **kwargs)
    first = Zoom(20, 30, data_format="channels_first", **kwargs)
    zoomed, grid = last(IMAGES)
    zoomed_first, grid_first = first(first_images)
    np.testing.assert_allclose(_np(zoomed_first), to_first(zoomed), atol=1e-6)
    np.testing.assert_allclose(_np(grid_first), _np(grid), atol=1e-7)
    assert first.compute_output_shape((2, 3, 40, 60)) == [(2, 3, 20, 30), (2, 5, 7, 2)]
    unzoom_first = Unzoom.from_zoom(first)
    assert unzoom_first.data_format == "channels_first"
    np.testing.assert_allclose(
        _np(unzoom_first(zoomed_first)),
        to_first(Unzoom.from_zoom(last)(zoomed)),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        _np(Unzoom(data_format="channels_first")(zoomed_first, grid)),
        to_first(Unzoom()(zoomed, grid)),
        atol=1e-6,
    )
    # learned saliency: same weights, same numbers
    learned_last = Zoom(12, 16, saliency="learned", grid_shape=(4, 6))
    learned_last.build((None, None, None, 3))
    perturb(learned_last)
    learned_first = Zoom(
        12, 16, saliency="learned", grid_shape=(4, 6), data_format="channels_first"
    )
    learned_first.build((None, 3, None, None))
    learned_first.set_weights(learned_last.get_weights())
    np.testing.assert_allclose(
        _np(learned_first(first_images)), to_first(learned_last(IMAGES)), atol=1e-5
    )


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow"
    and not __import__("tensorflow").config.list_physical_devices("GPU"),
    reason="TensorFlow's CPU Conv2D has no channels-first (NCHW) kernel",
)
def test_zoom_unzoom_channels_first_equals_transposed_channels_last():
    def extractor(data_format):
        inputs = keras.Input(
            (3, None, None) if data_format == "channels_first" else (None, None, 3)
        )
        x = keras.layers.Conv2D(
            4, 3, strides=2, padding="same", data_format=data_format
        )(inputs)
        return keras.Model(inputs, x)

    kwargs = dict(saliency=peaked(), fwhm=4.0, pad_to_multiple=32)
    last = ZoomUnzoom(extractor("channels_last"), 20, 30, **kwargs)
    first = ZoomUnzoom(
        extractor("channels_first"), 20, 30, data_format="channels_first", **kwargs
    )
    expected = _np(last(IMAGES))
    first.build((None, 3, 40, 60))
    first.set_weights(last.get_weights())
    out = first(np.transpose(IMAGES, (0, 3, 1, 2)))
    np.testing.assert_allclose(
        _np(out), np.transpose(expected, (0, 3, 1, 2)), atol=1e-5
    )
    assert first.compute_output_shape((2, 3, 40, 60)) == (2, 4, 16, 16)


# --------------------------------------------------------------------------
# the default grid


DEFAULT_GRID_SIZES = [(2, 2), (4, 4), (8, 32), (32, 32), (31, 51), (64, 64), (224, 224)]


@pytest.mark.parametrize("size", DEFAULT_GRID_SIZES, ids=str)
def test_zoom_default_grid_fits_any_output(size):
    """`Zoom(h, w)` with defaults: FOVEA's 31 x 51 grid capped by the output."""
    height, width = size
    expected_grid = (min(31, height), min(51, width))
    layer = Zoom(height, width, return_grid=True)
    assert layer.grid_shape == expected_grid
    assert layer.saliency_input_size == (2 * expected_grid[0], 2 * expected_grid[1])
    zoomed, grid = layer(IMAGES)
    assert tuple(zoomed.shape) == (2, height, width, 3)
    assert tuple(grid.shape) == (2, *expected_grid, 2)
    # uniform saliency (the default) is the bilinear resize
    np.testing.assert_allclose(
        _np(zoomed), _np(resize(IMAGES, size)), atol=1e-5, rtol=0
    )
    assert layer.compute_output_shape(IMAGES.shape) == [
        (2, height, width, 3),
        (2, *expected_grid, 2),
    ]
    clone = Zoom.from_config(layer.get_config())
    assert clone.grid_shape == expected_grid


@pytest.mark.parametrize("size", [(2, 2), (4, 4), (8, 32)], ids=str)
def test_zoom_default_grid_warps_small_outputs(size):
    """A peaked saliency on the small default grid gives a valid warp: finite,
    monotone, anti-crop (the end nodes on the borders), and denser (more
    output pixels per input pixel) at the peak than the identity."""
    height, width = size
    layer = Zoom(height, width, return_grid=True)
    grid_height, grid_width = layer.grid_shape
    saliency = np.ones((1, grid_height, grid_width), "float32")
    saliency[0, grid_height // 2, grid_width // 2] = 40.0
    zoomed, grid = layer(IMAGES, saliency)
    zoomed, grid = _np(zoomed), _np(grid)
    assert zoomed.shape == (2, height, width, 3) and np.all(np.isfinite(zoomed))
    x, y = grid[0, ..., 0], grid[0, ..., 1]
    assert np.all(np.diff(x, axis=1) > 0) and np.all(np.diff(y, axis=0) > 0)
    np.testing.assert_allclose(x[:, 0], -1.0, atol=1e-6)
    np.testing.assert_allclose(x[:, -1], 1.0, atol=1e-6)
    np.testing.assert_allclose(y[0, :], -1.0, atol=1e-6)
    np.testing.assert_allclose(y[-1, :], 1.0, atol=1e-6)
    # the interior nodes next to the peak move towards it
    centre, uniform = grid_width // 2, np.linspace(-1.0, 1.0, grid_width)
    if 0 < centre - 1:
        assert x[0, centre - 1] > uniform[centre - 1] + 1e-3
    if centre + 1 < grid_width - 1:
        assert x[0, centre + 1] < uniform[centre + 1] - 1e-3


def test_zoom_default_grid_for_learned_saliency_and_zoom_unzoom():
    learned = Zoom(8, 32, saliency="learned")
    assert learned.grid_shape == (8, 32)
    assert tuple(learned(IMAGES).shape) == (2, 8, 32, 3)
    extractor = keras.Sequential([keras.layers.Conv2D(4, 3, strides=2, padding="same")])
    layer = ZoomUnzoom(extractor, 8, 8)
    assert layer.zoom.grid_shape == (8, 8) and layer.unzoom.grid_shape == (8, 8)
    assert tuple(layer(IMAGES).shape) == (2, 4, 4, 4)
    # the registry's zoom uses the same default
    assert get_resizer("zoom", 4, 100).grid_shape == (4, 51)


def test_zoom_default_grid_is_unchanged_for_large_outputs():
    """Outputs of at least 31 x 51 keep FOVEA's grid (presets keep loading)."""
    assert W.GRID_SHAPE == (31, 51)
    for size in [(31, 51), (224, 224), (512, 1024)]:
        assert Zoom(*size).grid_shape == (31, 51)
        assert Zoom(*size, saliency="learned").saliency_input_size == (62, 102)
    assert Zoom(30, 224).grid_shape == (30, 51)
    assert Zoom(224, 50).grid_shape == (31, 50)
    assert Unzoom(saliency="uniform").grid_shape == (31, 51)


@pytest.mark.parametrize("size", [(1, 1), (1, 8), (8, 1)], ids=str)
def test_zoom_default_grid_needs_two_pixels_per_axis(size):
    height, width = size
    match = "at least 2 x 2 pixels"
    error = assert_value_error(Zoom, match, height, width)
    assert f"height={height}, width={width}" in str(error)
    assert_value_error(Zoom, match, height, width, saliency="learned")
    assert_value_error(get_resizer, match, "zoom", height, width)
    extractor = keras.layers.Identity()
    assert_value_error(ZoomUnzoom, match, extractor, height, width)


# --------------------------------------------------------------------------
# bad input


def test_bad_arguments_raise_value_errors():
    assert_value_error(Zoom, "at least (2, 2)", 16, 16, grid_shape=(1, 5))
    assert_value_error(Zoom, "non-negative", 16, 16, saliency=-peaked())
    # an explicit grid larger than the output
    assert_value_error(Zoom, "output_size=(8, 8)", 8, 8, grid_shape=(31, 51))
    assert_value_error(Zoom, "output_size=(8, 8)", 8, 8, saliency=np.ones((9, 5)))
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
