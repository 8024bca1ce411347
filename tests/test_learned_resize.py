"""`LearnedResize` (Talebi & Milanfar 2021): counts, reference, harness, errors."""

import keras
import numpy as np
import pytest

from keras_resize.layers import LearnedResize, Resize, get_resizer
from keras_resize.layers.learned_resize import _learned
from keras_resize.ops import RESIZE_METHODS, resize
from keras_resize.testing import assert_value_error, run_layer_test

BLOCK_PARAMS = 4736  # 2 * 3x3x16x16 kernels + 2 BN of 4 * 16


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _images(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


def _counts(layer):
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    return layer.count_params(), trainable


# -- 1. parameter counts --------------------------------------------------------


def test_parameter_count_of_the_paper_configuration():
    layer = LearnedResize(16, 16)
    layer.build((None, 64, 64, 3))
    assert _counts(layer) == (12163, 12035)
    assert len(layer.non_trainable_weights) == 8  # 4 BN x (mean, variance)


@pytest.mark.parametrize("num_res_blocks", [0, 1, 2, 3])
def test_every_block_adds_4736_parameters(num_res_blocks):
    layer = LearnedResize(16, 16, num_res_blocks=num_res_blocks)
    layer.build((None, 64, 64, 3))
    total, trainable = _counts(layer)
    assert total == 12163 + (num_res_blocks - 1) * BLOCK_PARAMS
    # Each block has 2 BN of 16 channels: 64 moving statistics.
    assert total - trainable == 128 + (num_res_blocks - 1) * 64


@pytest.mark.parametrize("channels", [1, 4])
def test_parameter_count_follows_the_channels(channels):
    layer = LearnedResize(16, 16)
    layer.build((None, 64, 64, channels))
    # Only the 7x7 stem (C -> 16, bias 16) and 7x7 output conv (16 -> C,
    # bias C) depend on C.
    fixed = 12163 - (7 * 7 * 3 * 16 + 16) - (7 * 7 * 16 * 3 + 3)
    expected = fixed + (7 * 7 * channels * 16 + 16) + (7 * 7 * 16 * channels + channels)
    assert layer.count_params() == expected


def test_block_width_follows_filters():
    layer = LearnedResize(16, 16, filters=8, num_res_blocks=2)
    layer.build((None, 64, 64, 3))
    kernels = [w for w in layer.weights if w.path.endswith("kernel")]
    assert all(8 in tuple(w.shape) for w in kernels)
    assert tuple(layer.output_conv.kernel.shape) == (7, 7, 8, 3)


# -- 2. against a functional model built from the spec -------------------------


def _spec_model(
    input_shape,
    height,
    width,
    filters=16,
    num_res_blocks=1,
    interpolation="bilinear",
    chained=True,
):
    """ALGORITHMS.md section 1 as a plain functional model, layer by layer.

    Layer names match `LearnedResize`'s sublayers, so weights are copied by
    name. `chained=False` is the public-port bug: every block reads the
    bottleneck (`y = b + block_k(b)`), so only the last block counts.
    """
    n, channels = filters, input_shape[-1]

    def fixed(name):
        return keras.layers.Lambda(
            lambda t: resize(t, (height, width), method=interpolation), name=name
        )

    def conv(filters, size, bias, name):
        return keras.layers.Conv2D(
            filters, size, padding="same", use_bias=bias, name=name
        )

    def lrelu():
        return keras.layers.LeakyReLU(negative_slope=0.2)

    def bn(name):
        return keras.layers.BatchNormalization(name=name)

    x = keras.Input(input_shape)
    skip = fixed("skip")(x)
    f = lrelu()(conv(n, 7, True, "stem_conv")(x))
    f = bn("reduce_bn")(lrelu()(conv(n, 1, True, "reduce_conv")(f)))
    b = fixed("bottleneck")(f)
    y = b
    for k in range(num_res_blocks):
        source = y if chained else b
        t = lrelu()(
            bn(f"block_{k}_bn_1")(conv(n, 3, False, f"block_{k}_conv_1")(source))
        )
        t = bn(f"block_{k}_bn_2")(conv(n, 3, False, f"block_{k}_conv_2")(t))
        y = keras.layers.Add()([source, t])
    y = keras.layers.Add()([bn("merge_bn")(conv(n, 3, False, "merge_conv")(y)), b])
    out = keras.layers.Add()([skip, conv(channels, 7, True, "output_conv")(y)])
    return keras.Model(x, out)


def _key(variable):
    # "<layer>/stem_conv/kernel" -> "stem_conv/kernel"
    return "/".join(variable.path.split("/")[-2:])


def _randomise(layer, seed=1):
    """Random weights everywhere, also BN statistics (variance > 0), so that a
    wrong wiring or a weight copied to the wrong place shows."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        if w.path.endswith("moving_variance"):
            value = rng.uniform(0.5, 2.0, w.shape)
        elif w.path.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, w.shape)
        else:
            value = rng.normal(0.0, 0.1, w.shape)
        w.assign(value.astype("float32"))


def _copy_by_name(source_layer, target_model, exact=True):
    source = {_key(w): w for w in source_layer.weights}
    target = {_key(w): w for w in target_model.weights}
    if exact:
        assert sorted(source) == sorted(target), "the networks have different weights"
    else:  # the unchained model drops the unused blocks' layers
        assert set(target) < set(source), "the networks have different weights"
    assert len(source) == len(source_layer.weights), "ambiguous weight names"
    for key, w in target.items():
        assert tuple(w.shape) == tuple(source[key].shape), key
        w.assign(source[key])


def _layer_and_reference(num_res_blocks, chained=True, interpolation="bilinear"):
    shape = (3, 30, 26, 3)
    layer = LearnedResize(
        12, 17, num_res_blocks=num_res_blocks, interpolation=interpolation
    )
    layer.build(shape)
    _randomise(layer)
    reference = _spec_model(
        shape[1:],
        12,
        17,
        num_res_blocks=num_res_blocks,
        interpolation=interpolation,
        chained=chained,
    )
    _copy_by_name(layer, reference, exact=chained)
    return layer, reference, _images(shape)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("num_res_blocks", [1, 2])
def test_matches_the_spec_network(num_res_blocks, training):
    layer, reference, x = _layer_and_reference(num_res_blocks)
    ours = layer(x, training=training)
    theirs = reference(x, training=training)
    np.testing.assert_allclose(_np(ours), _np(theirs), atol=1e-5, rtol=0)
    # Inference and training mode really differ (BN moving vs batch stats).
    other = layer(x, training=not training)
    assert np.max(np.abs(_np(other) - _np(ours))) > 1e-2


def test_matches_the_spec_network_with_area_bottleneck():
    layer, reference, x = _layer_and_reference(2, interpolation="area")
    np.testing.assert_allclose(_np(layer(x)), _np(reference(x)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_unchained_blocks_are_detected(training):
    """The reference test can fail: the public-port bug gives other outputs."""
    layer, unchained, x = _layer_and_reference(2, chained=False)
    difference = np.abs(
        _np(layer(x, training=training)) - _np(unchained(x, training=training))
    )
    assert difference.max() > 1e-2


# -- 3. shapes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "input_shape,size",
    [
        ((2, 64, 48, 3), (16, 20)),  # down, aspect ratio changes
        ((2, 20, 24, 3), (20, 24)),  # equal size
        ((2, 17, 17, 3), (40, 40)),  # up
        ((1, 17, 23, 3), (40, 9)),  # up in one axis, down in the other
        ((2, 33, 21, 1), (16, 16)),  # one channel
        ((2, 21, 33, 4), (16, 8)),  # four channels
    ],
)
def test_output_shapes(input_shape, size):
    layer = LearnedResize(*size)
    out = layer(_images(input_shape))
    expected = (input_shape[0], *size, input_shape[-1])
    assert tuple(out.shape) == expected
    assert layer.compute_output_shape(input_shape) == expected
    assert np.all(np.isfinite(_np(out)))


def test_rank3_and_dynamic_spatial_input():
    layer = LearnedResize(8, 6)
    x = _images((2, 20, 18, 2))
    batched = layer(x)
    np.testing.assert_allclose(_np(layer(x[0])), _np(batched[0]), atol=1e-6)
    assert layer.compute_output_shape((20, 18, 2)) == (8, 6, 2)
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, layer(inputs))
    assert tuple(model.output.shape) == (None, 8, 6, 2)
    np.testing.assert_allclose(_np(model(x)), _np(batched), atol=1e-5)
    assert tuple(model(_images((1, 31, 7, 2))).shape) == (1, 8, 6, 2)


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("interpolation", RESIZE_METHODS)
def test_every_interpolation_runs(interpolation, antialias):
    layer = LearnedResize(5, 7, interpolation=interpolation, antialias=antialias)
    out = layer(_images((1, 12, 10, 2)))
    assert tuple(out.shape) == (1, 5, 7, 2)
    assert np.all(np.isfinite(_np(out)))


# -- 4. the skip path uses the selected interpolation ---------------------------


@pytest.mark.parametrize(
    "interpolation,antialias",
    [("bilinear", False), ("area", False), ("bicubic", True), ("nearest", False)],
)
def test_zero_output_conv_gives_the_fixed_resize(interpolation, antialias):
    x = _images((2, 37, 29, 3))
    layer = LearnedResize(11, 13, interpolation=interpolation, antialias=antialias)
    layer.build(x.shape)
    for w in layer.output_conv.weights:
        w.assign(np.zeros(w.shape, "float32"))
    expected = _np(resize(x, (11, 13), method=interpolation, antialias=antialias))
    np.testing.assert_array_equal(_np(layer(x)), expected)
    np.testing.assert_array_equal(_np(layer(x, training=True)), expected)
    np.testing.assert_array_equal(_np(layer.fixed_resize(x)), expected)
    np.testing.assert_array_equal(
        _np(layer.fixed_resize(x)),
        _np(Resize(11, 13, interpolation, antialias=antialias)(x)),
    )
    if (interpolation, antialias) != ("bilinear", False):
        assert np.max(np.abs(expected - _np(resize(x, (11, 13))))) > 1e-3


def test_learned_residual_is_not_zero_at_initialisation():
    x = _images((2, 37, 29, 3))
    layer = LearnedResize(11, 13)
    residual = _np(layer(x)) - _np(layer.fixed_resize(x))
    assert np.max(np.abs(residual)) > 1e-3


# -- 5. the shared harness ------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(height=16, width=12),
        dict(height=16, width=12, num_res_blocks=2, interpolation="area"),
    ],
    ids=["default", "two-blocks-area"],
)
def test_passes_the_harness(kwargs):
    blocks = kwargs.get("num_res_blocks", 1)
    report = run_layer_test(
        LearnedResize,
        kwargs,
        (2, 40, 36, 3),
        expected_output_shape=(2, 16, 12, 3),
        expected_output_dtype="float32",
        # 11 + 6 per block (2 kernels, 2 x BN gamma/beta); BN moving stats
        expected_num_trainable_weights=11 + 6 * blocks,
        expected_num_non_trainable_weights=4 + 4 * blocks,
    )
    if keras.backend.backend() == "tensorflow":
        assert "CONV_2D" in report["tflite_ops"]
    assert report["num_gradients"] == 1 + 11 + 6 * blocks


def test_passes_the_harness_upscaling_one_channel():
    run_layer_test(
        LearnedResize,
        dict(height=20, width=30, filters=8, num_res_blocks=0),
        (2, 13, 11, 1),
        expected_output_shape=(2, 20, 30, 1),
        expected_output_dtype="float32",
        expected_num_trainable_weights=11,
        expected_num_non_trainable_weights=4,
        check_saved_model=False,  # covered above; TFLite still exports it
    )


def test_passes_the_harness_channels_first():
    run_layer_test(
        LearnedResize,
        dict(height=10, width=12, filters=8, data_format="channels_first"),
        (2, 3, 21, 17),
        expected_output_shape=(2, 3, 10, 12),
        expected_output_dtype="float32",
        expected_num_trainable_weights=17,
        expected_num_non_trainable_weights=8,
        check_saved_model=False,  # covered above
        check_mixed_precision=False,  # covered above
    )


def test_channels_first_equals_transposed_channels_last():
    x = _images((2, 30, 26, 3))
    last = LearnedResize(12, 17, data_format="channels_last")
    last.build(x.shape)
    _randomise(last)
    first = LearnedResize(12, 17, data_format="channels_first")
    first.build((None, 3, 30, 26))
    first.set_weights(last.get_weights())
    for training in (False, True):
        expected = np.transpose(_np(last(x, training=training)), (0, 3, 1, 2))
        out = first(np.transpose(x, (0, 3, 1, 2)), training=training)
        np.testing.assert_allclose(_np(out), expected, atol=1e-5)
    assert first.compute_output_shape((2, 3, 30, 26)) == (2, 3, 12, 17)
    assert first.get_config()["data_format"] == "channels_first"
    fixed = first.fixed_resize(np.transpose(x, (0, 3, 1, 2)))
    np.testing.assert_allclose(
        _np(fixed), np.transpose(_np(last.fixed_resize(x)), (0, 3, 1, 2)), atol=1e-6
    )


# -- registry ---------------------------------------------------------------------


def test_registered_as_learned():
    layer = get_resizer("learned", 16, 12)
    assert isinstance(layer, LearnedResize)
    assert layer.name == "resizer"
    assert (layer.height, layer.width) == (16, 12)
    other = get_resizer("learned", 8, 8, filters=8, num_res_blocks=2)
    assert (other.filters, other.num_res_blocks) == (8, 2)
    # `get_resizer`'s own first parameter is `name`, so the layer name is
    # overridden through the registered factory itself.
    other = _learned(8, 8, name="front", filters=8, num_res_blocks=2)
    assert other.name == "front"
    assert (other.filters, other.num_res_blocks) == (8, 2)


# -- 6. bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(height=0, width=4), "height=0"),
        (dict(height=4, width=-1), "width=-1"),
        (dict(height=4.0, width=4), "height=4.0"),
        (dict(height=4, width=4, filters=0), "filters=0"),
        (dict(height=4, width=4, num_res_blocks=-1), "num_res_blocks=-1"),
        (dict(height=4, width=4, num_res_blocks=True), "num_res_blocks=True"),
        (dict(height=4, width=4, interpolation="cubic"), "interpolation='cubic'"),
        (dict(height=4, width=4, antialias="yes"), "antialias='yes'"),
    ],
)
def test_bad_arguments(kwargs, match):
    assert_value_error(LearnedResize, match, **kwargs)


def test_zero_blocks_is_allowed():
    layer = LearnedResize(4, 4, num_res_blocks=0)
    assert layer(_images((1, 8, 8, 3))).shape == (1, 4, 4, 3)


@pytest.mark.parametrize("shape", [(1, 8, 8, 3, 1), (8, 8)], ids=["rank5", "rank2"])
def test_bad_input_rank(shape):
    assert_value_error(
        LearnedResize(4, 4), f"input_shape={shape}", np.zeros(shape, "float32")
    )
    built = LearnedResize(4, 4)
    built(_images((1, 8, 8, 3)))
    assert_value_error(built, "rank 3", np.zeros(shape, "float32"))


def test_unknown_channels_are_rejected():
    assert_value_error(LearnedResize(4, 4).build, "None", (None, 8, 8, None))


# -- 7. training ----------------------------------------------------------------------


def test_one_epoch_of_training_changes_the_resizer():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.random((16, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 2, 16)
    inputs = keras.Input((32, 32, 3))
    resizer = LearnedResize(16, 16, name="resizer")
    x = resizer(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = [_np(w) for w in resizer.weights]
    history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    for w, old in zip(resizer.weights, before, strict=True):
        assert np.any(_np(w) != old), f"{w.path} did not change"
