"""DownsizeNetResize: the interpolation special cases, invariants, both paths."""

import keras
import numpy as np
import pytest

from keras_resize.layers import DownsizeNetResize, get_resizer
from keras_resize.ops import resize
from keras_resize.testing import assert_value_error, run_layer_test


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


RNG = np.random.default_rng(0)
IMAGES = RNG.random((2, 37, 53, 3)).astype("float32")
SIZES = [(16, 24), (9, 40), (37, 53), (13, 7), (60, 70)]  # down, mixed, equal, up


def randomize(layer, scale=0.5, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [
            w + scale * rng.normal(size=w.shape).astype("float32")
            for w in layer.get_weights()
        ]
    )


@pytest.mark.parametrize("neighborhood", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", SIZES)
def test_interpolation_initializer_equals_the_fixed_resize(neighborhood, size):
    """The central correctness test: bilinear (K=4) and bicubic (K=16) are
    special cases of DownsizeNet."""
    layer = DownsizeNetResize(
        *size, neighborhood=neighborhood, initializer="interpolation"
    )
    expected = _np(resize(IMAGES, size, method=neighborhood))
    np.testing.assert_allclose(_np(layer(IMAGES)), expected, atol=1e-5)
    # and random texture convolutions do not matter at that initialisation
    weights = layer.get_weights()
    rng = np.random.default_rng(2)
    for i in range(2 * layer.num_conv_layers):
        weights[i] = rng.normal(size=weights[i].shape).astype("float32")
    layer.set_weights(weights)
    np.testing.assert_allclose(_np(layer(IMAGES)), expected, atol=1e-5)


def test_the_special_case_can_fail():
    layer = DownsizeNetResize(16, 24, initializer="interpolation")
    layer(IMAGES)
    weights = layer.get_weights()
    weights[-2][0, 0] = 0.5  # let one feature channel leak into a coefficient
    layer.set_weights(weights)
    assert np.abs(_np(layer(IMAGES)) - _np(resize(IMAGES, (16, 24)))).max() > 1e-3


@pytest.mark.parametrize("normalization", ["sigmoid", "softmax", "none"])
@pytest.mark.parametrize("neighborhood", ["bilinear", "bicubic"])
def test_coefficients_sum_to_one_and_constants_stay_constant(
    normalization, neighborhood
):
    # seeded: with "none" (no squashing) the float32 sum of 16 large random
    # coefficients can miss 1 by ~1e-5 for unlucky initial weights
    keras.utils.set_random_seed(0)
    layer = DownsizeNetResize(
        11, 19, neighborhood=neighborhood, normalization=normalization
    )
    layer(IMAGES)
    randomize(layer)
    coefficients = _np(layer.coefficients(IMAGES))
    assert coefficients.shape == (2, 11, 19, 4 if neighborhood == "bilinear" else 16)
    np.testing.assert_allclose(coefficients.sum(-1), 1.0, atol=1e-5)
    if normalization != "none":
        assert coefficients.min() >= 0
    constant = np.full((2, 37, 53, 3), 0.3, "float32")
    np.testing.assert_allclose(_np(layer(constant)), 0.3, atol=1e-5)


@pytest.mark.parametrize("num_conv_layers", [1, 2, 3])
@pytest.mark.parametrize("neighborhood", ["bilinear", "bicubic"])
def test_patch_and_full_feature_paths_agree(num_conv_layers, neighborhood):
    kwargs = dict(
        height=12, width=20, num_conv_layers=num_conv_layers, neighborhood=neighborhood
    )
    patches = DownsizeNetResize(feature_path="patches", **kwargs)
    full = DownsizeNetResize(feature_path="full", **kwargs)
    patches(IMAGES)
    full(IMAGES)
    randomize(patches)  # non-zero biases make the border padding matter
    full.set_weights(patches.get_weights())
    np.testing.assert_allclose(_np(patches(IMAGES)), _np(full(IMAGES)), atol=1e-5)
    np.testing.assert_allclose(
        _np(patches.coefficients(IMAGES)), _np(full.coefficients(IMAGES)), atol=1e-5
    )


def test_auto_feature_path_picks_the_cheaper_one():
    two = DownsizeNetResize(64, 64, num_conv_layers=2)
    three = DownsizeNetResize(64, 64, num_conv_layers=3)
    assert two.resolved_feature_path(256, 256, 3) == "patches"
    assert three.resolved_feature_path(256, 256, 3) == "full"
    assert two.resolved_feature_path(None, 256, 3) == "patches"
    assert (
        DownsizeNetResize(64, 64, feature_path="full").resolved_feature_path(
            256, 256, 3
        )
        == "full"
    )


def test_texture_features_change_the_output():
    layer = DownsizeNetResize(16, 24)
    before = _np(layer(IMAGES))
    weights = layer.get_weights()
    weights[0] = weights[0] * 0.0
    layer.set_weights(weights)
    assert np.abs(_np(layer(IMAGES)) - before).max() > 1e-3


@pytest.mark.parametrize(
    "kwargs,input_shape",
    [
        (dict(height=12, width=16), (2, 40, 48, 3)),
        (
            dict(height=10, width=7, neighborhood="bicubic", num_conv_layers=3),
            (2, 33, 29, 1),
        ),
        (
            dict(height=8, width=8, normalization="softmax", feature_path="full"),
            (2, 24, 24, 3),
        ),
        (
            dict(height=8, width=6, data_format="channels_first"),
            (2, 3, 20, 18),
        ),
    ],
    ids=["bilinear", "bicubic-3-layers", "softmax-full", "channels-first"],
)
def test_passes_the_harness(kwargs, input_shape):
    if kwargs.get("data_format") == "channels_first":
        expected = (*input_shape[:2], kwargs["height"], kwargs["width"])
    else:
        expected = (input_shape[0], kwargs["height"], kwargs["width"], input_shape[-1])
    report = run_layer_test(
        DownsizeNetResize,
        kwargs,
        input_shape,
        expected_output_shape=expected,
        expected_output_dtype="float32",
        # a kernel and a bias per texture convolution, the mixing kernel and bias
        expected_num_trainable_weights=2 * kwargs.get("num_conv_layers", 2) + 2,
        expected_num_non_trainable_weights=0,
    )
    if keras.backend.backend() == "tensorflow":
        assert not [op for op in report["tflite_ops"] if "FLEX" in op.upper()]


@pytest.mark.parametrize("feature_path", ["patches", "full"])
def test_channels_first_equals_transposed_channels_last(feature_path):
    last = DownsizeNetResize(11, 19, feature_path=feature_path)
    last(IMAGES)
    randomize(last)
    first = DownsizeNetResize(
        11, 19, feature_path=feature_path, data_format="channels_first"
    )
    first.build((None, 3, 37, 53))
    first.set_weights(last.get_weights())
    images = np.transpose(IMAGES, (0, 3, 1, 2))
    expected = np.transpose(_np(last(IMAGES)), (0, 3, 1, 2))
    np.testing.assert_allclose(_np(first(images)), expected, atol=1e-5)
    np.testing.assert_allclose(
        _np(first.coefficients(images)),
        np.transpose(_np(last.coefficients(IMAGES)), (0, 3, 1, 2)),
        atol=1e-6,
    )
    assert first.compute_output_shape((2, 3, 37, 53)) == (2, 3, 11, 19)


def test_trains_and_is_in_the_registry():
    layer = get_resizer("downsizenet", 8, 8, neighborhood="bicubic")
    assert isinstance(layer, DownsizeNetResize) and layer.name == "resizer"
    model = keras.Sequential(
        [keras.Input((32, 32, 3)), layer, keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in layer.get_weights()]
    model.fit(RNG.random((16, 32, 32, 3)), RNG.integers(0, 2, 16), epochs=1, verbose=0)
    changed = [
        not np.allclose(a, b) for a, b in zip(before, layer.get_weights(), strict=True)
    ]
    assert all(changed)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(height=0, width=4), "height=0"),
        (dict(height=4, width=-2), "width=-2"),
        (dict(height=4, width=4, neighborhood="lanczos"), "neighborhood='lanczos'"),
        (dict(height=4, width=4, num_conv_layers=0), "num_conv_layers=0"),
        (dict(height=4, width=4, filters=2.5), "filters=2.5"),
        (dict(height=4, width=4, normalization="tanh"), "normalization='tanh'"),
        (
            dict(height=4, width=4, initializer="bilinearish"),
            "initializer='bilinearish'",
        ),
        (dict(height=4, width=4, feature_path="dense"), "feature_path='dense'"),
        (dict(height=4, width=4, activation="wiggle"), "activation='wiggle'"),
    ],
)
def test_bad_arguments(kwargs, match):
    assert_value_error(DownsizeNetResize, match, **kwargs)


def test_bad_input_rank():
    with pytest.raises(ValueError, match="rank"):
        DownsizeNetResize(4, 4)(np.zeros((1, 2, 8, 8, 3), "float32"))
