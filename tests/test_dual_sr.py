"""DSRL: feature affinity loss, sub-pixel upsampling, the head and the model.

References are independent of the code under test: brute-force numpy for the
feature affinity (window loops, pairwise dot products), half-pixel bilinear
interpolation in numpy (`tf.image.resize`) for bilinear upsampling, numpy
cross-entropy / MSE for the total loss, and the TFLite op lists of the plain
segmenter for the exported inference model (TensorFlow only). Everything
else runs on every backend.
"""

import collections
import json
import os
import tempfile

import keras
import numpy as np
import pytest

from keras_resize.layers import (
    DualSRHead,
    SubPixelUpsampling,
    SuperResolutionDecoder,
)
from keras_resize.layers.dual_sr import bilinear_subpixel_weights, depth_to_space
from keras_resize.losses import FeatureAffinityLoss, feature_affinity
from keras_resize.models import (
    VARIANTS,
    DualSRModel,
    build_unet,
    segmentation_feature_model,
)
from keras_resize.testing import (
    assert_value_error,
    run_layer_test,
    tflite_convert,
    tflite_run,
)

BACKEND = keras.backend.backend()


def _tensorflow_without_gpu():
    if BACKEND != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


# keras.layers.Conv2D(data_format="channels_first"), as in a channels-first
# U-Net, has no CPU kernel on TensorFlow (NCHW convolutions are GPU-only there)
needs_nchw_convolutions = pytest.mark.skipif(
    _tensorflow_without_gpu(),
    reason="TensorFlow's CPU Conv2D has no channels-first (NCHW) kernel",
)


def to_numpy(x):
    if isinstance(x, dict):
        return {key: to_numpy(value) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_numpy(v) for v in x]
    return np.asarray(keras.ops.convert_to_numpy(x))


def gradients(function, *arrays):
    """Gradients of the scalar `function(*tensors)` to each input (numpy)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tensors = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            value = function(*tensors)
        return [g.numpy() for g in tape.gradient(value, tensors)]
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        argnums = tuple(range(len(arrays)))
        grads = jax.grad(function, argnums=argnums)(*map(jnp.asarray, arrays))
        return [np.asarray(g) for g in grads]
    import torch

    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    function(*tensors).backward()
    return [t.grad.numpy() for t in tensors]


def reference_bilinear(images, size):
    """Half-pixel bilinear resize (`tf.image.resize`), np.interp per axis."""
    out = np.asarray(images, np.float64)
    for axis, out_size in ((1, size[0]), (2, size[1])):
        in_size = out.shape[axis]
        positions = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
        out = np.apply_along_axis(
            lambda line, p=positions, n=in_size: np.interp(p, np.arange(n), line),
            axis,
            out,
        )
    return out


def channels_first(x):
    return np.transpose(np.asarray(x), (0, 3, 1, 2))


# ---------------------------------------------------------------------------
# FeatureAffinityLoss


def affinity_numpy(a, b, pool, normalize):
    """Brute force: loop over windows for the pooling, over pairs for S."""
    losses = []
    for fa, fb in zip(a.astype(np.float64), b.astype(np.float64), strict=True):
        flats = []
        for f in (fa, fb):
            rows, cols = f.shape[0] // pool, f.shape[1] // pool
            positions = []
            for i in range(rows):
                for j in range(cols):
                    window = f[i * pool : (i + 1) * pool, j * pool : (j + 1) * pool]
                    vector = window.reshape(-1, f.shape[2]).mean(0)
                    if normalize:
                        vector = vector / max(np.sqrt((vector**2).sum()), 1e-6)
                    positions.append(vector)
            flats.append(positions)
        n = len(flats[0])
        total = 0.0
        for i in range(n):
            for j in range(n):
                s_a = float(np.dot(flats[0][i], flats[0][j]))
                s_b = float(np.dot(flats[1][i], flats[1][j]))
                total += abs(s_a - s_b)
        losses.append(total / n**2)
    return np.array(losses)


@pytest.mark.parametrize("normalize", [False, True])
def test_feature_affinity_matches_brute_force(normalize):
    rng = np.random.default_rng(0)
    # 22 x 29 with 1/4: a remainder of 2 rows and 1 column is dropped
    a = rng.normal(size=(3, 22, 29, 3)).astype("float32")
    b = rng.normal(size=(3, 22, 29, 3)).astype("float32")
    expected = affinity_numpy(a, b, 4, normalize)
    got = feature_affinity(a, b, subsample=1 / 4, normalize=normalize)
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-5, atol=1e-6)
    loss = FeatureAffinityLoss(subsample=1 / 4, normalize=normalize)
    np.testing.assert_allclose(float(loss(a, b)), expected.mean(), rtol=1e-5)
    # no subsampling
    np.testing.assert_allclose(
        to_numpy(feature_affinity(a[:1, :6, :5], b[:1, :6, :5], subsample=1)),
        affinity_numpy(a[:1, :6, :5], b[:1, :6, :5], 1, False),
        rtol=1e-5,
    )


def test_feature_affinity_is_averaged_per_sample():
    rng = np.random.default_rng(1)
    a = rng.random((1, 16, 16, 3)).astype("float32")
    b = rng.random((1, 16, 16, 3)).astype("float32")
    loss = FeatureAffinityLoss(subsample=1 / 8)
    one = float(loss(a, b))
    two = float(loss(np.concatenate([a, a]), np.concatenate([b, b])))
    assert one > 0.01
    # a public port sums over the batch, which would give 2 * one here
    np.testing.assert_allclose(two, one, rtol=1e-6)
    # and the per-sample values of a mixed batch are independent
    per_sample = to_numpy(
        feature_affinity(np.concatenate([a, b]), np.concatenate([b, b]))
    )
    np.testing.assert_allclose(
        per_sample[0], to_numpy(feature_affinity(a, b))[0], rtol=1e-6
    )
    assert float(per_sample[1]) == 0.0


def test_feature_affinity_hand_computed():
    ones = np.ones((1, 8, 8, 2), "float32")
    # S = 2 everywhere vs 2 * 9 = 18: |2 - 18| = 16 for every pair
    assert float(to_numpy(feature_affinity(ones, 3 * ones, subsample=1 / 2))[0]) == 16
    # normalised, both are unit vectors in the same direction: zero
    same = feature_affinity(ones, 3 * ones, 1 / 2, normalize=True)
    assert float(to_numpy(same)[0]) == pytest.approx(0.0, abs=1e-6)


def test_feature_affinity_gradient_equals_finite_differences_of_numpy():
    """The backend gradient (float32) against central differences of the
    brute-force numpy reference in float64."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(1, 4, 6, 2)).astype("float32")
    b = rng.normal(size=(1, 4, 6, 2)).astype("float32")
    step = 1e-4
    for normalize in (False, True):
        theoretical = gradients(
            lambda x, y, n=normalize: keras.ops.sum(feature_affinity(x, y, 1 / 2, n)),
            a,
            b,
        )
        for which, grad in enumerate(theoretical):
            numerical = np.zeros(a.shape)
            for index in np.ndindex(*a.shape):
                maps = [a.astype(np.float64), b.astype(np.float64)]
                maps[which][index] += step
                plus = affinity_numpy(*maps, 2, normalize)[0]
                maps[which][index] -= 2 * step
                minus = affinity_numpy(*maps, 2, normalize)[0]
                numerical[index] = (plus - minus) / (2 * step)
            assert np.abs(grad).max() > 1e-2
            np.testing.assert_allclose(grad, numerical, atol=1e-4)


@pytest.mark.tensorflow_only
def test_feature_affinity_gradient_float64():
    import tensorflow as tf

    rng = np.random.default_rng(2)
    a = tf.constant(rng.normal(size=(1, 4, 6, 2)))
    b = tf.constant(rng.normal(size=(1, 4, 6, 2)))
    for normalize in (False, True):
        theoretical, numerical = tf.test.compute_gradient(
            lambda x, y, n=normalize: feature_affinity(x, y, 1 / 2, n), [a, b]
        )
        for t, n in zip(theoretical, numerical, strict=True):
            # central differences (step 1e-3): second-order error ~1e-6
            assert np.abs(t).max() > 1e-2
            np.testing.assert_allclose(t, n, atol=1e-5)


def test_feature_affinity_size_bound_names_the_fitting_subsample():
    maps = np.zeros((1, 128, 96, 3), "float32")
    error = assert_value_error(
        feature_affinity, "subsample=1/2", maps, maps, subsample=1, max_positions=4096
    )
    # 128 x 96 = 12288 positions; 1/2 gives 64 x 48 = 3072 <= 4096
    assert "12288" in str(error) and "64x48 = 3072" in str(error)
    error = assert_value_error(
        FeatureAffinityLoss(subsample=1 / 4, max_positions=100),
        "subsample=1/11",  # 1/10 gives 12 x 9 = 108 > 100
        maps,
        maps,
    )
    assert "max_positions=100" in str(error)
    # exactly at the bound is fine
    assert tuple(feature_affinity(maps, maps, 1 / 2, max_positions=3072).shape) == (1,)


@pytest.mark.parametrize("subsample", [0.3, 0, 2, -0.5, True, "1/8"])
def test_feature_affinity_bad_subsample(subsample):
    assert_value_error(FeatureAffinityLoss, "subsample=", subsample=subsample)


def test_feature_affinity_loss_bad_arguments_and_config():
    assert_value_error(FeatureAffinityLoss, "normalize=1", normalize=1)
    assert_value_error(FeatureAffinityLoss, "max_positions=0", max_positions=0)
    assert_value_error(
        feature_affinity, "rank 4", np.zeros((4, 4, 3)), np.zeros((4, 4, 3))
    )
    loss = FeatureAffinityLoss(subsample=1 / 4, normalize=True, max_positions=64)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(clone, FeatureAffinityLoss)
    assert clone.get_config() == loss.get_config()


def test_feature_affinity_loss_fits_and_round_trips(tmp_path):
    """A model trained with the loss: one `fit` step, `.keras` round trip."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((2, 16, 16, 3)).astype("float32")
    y = rng.random((2, 16, 16, 2)).astype("float32")
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    model.compile(optimizer="sgd", loss=FeatureAffinityLoss(subsample=1 / 4))
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = model.evaluate(x, y, verbose=0)
    assert after != before
    np.testing.assert_allclose(
        after,
        affinity_numpy(to_numpy(model.predict(x, verbose=0)), y, 4, False).mean(),
        rtol=1e-5,
    )
    path = os.path.join(tmp_path, "affinity.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, FeatureAffinityLoss)
    assert loaded.loss.get_config() == model.loss.get_config()
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), after, rtol=1e-5)


# ---------------------------------------------------------------------------
# SubPixelUpsampling and SuperResolutionDecoder


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_bilinear_subpixel_equals_half_pixel_bilinear(factor):
    rng = np.random.default_rng(factor)
    x = rng.normal(size=(2, 5, 7, 3)).astype("float32")
    expected = reference_bilinear(x, (5 * factor, 7 * factor))
    for kwargs in (
        {},  # learned, channel mixing, bilinear initialisation
        {"channel_mixing": False},
        {"learned": False},  # fixed, no weights
    ):
        layer = SubPixelUpsampling(factor, **kwargs)
        np.testing.assert_allclose(
            to_numpy(layer(x)), expected, atol=2e-6, err_msg=str(kwargs)
        )
    assert not SubPixelUpsampling(factor, learned=False).weights


def test_depth_to_space_order():
    """Channel `(r * s + c) * k + ch` of pixel (i, j) lands at (i s + r, j s + c)."""
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 4, 2 * 2 * 3)).astype("float32")
    out = to_numpy(depth_to_space(x, 2))
    assert out.shape == (2, 6, 8, 3)
    for r in range(2):
        for c in range(2):
            np.testing.assert_array_equal(
                out[:, r::2, c::2, :], x[..., (r * 2 + c) * 3 : (r * 2 + c + 1) * 3]
            )


@pytest.mark.tensorflow_only
def test_depth_to_space_equals_tensorflow():
    import tensorflow as tf

    x = np.random.default_rng(0).random((2, 3, 4, 27)).astype("float32")
    np.testing.assert_array_equal(
        to_numpy(depth_to_space(x, 3)), tf.nn.depth_to_space(x, 3).numpy()
    )


def test_bilinear_subpixel_weights_hand_computed():
    weights = bilinear_subpixel_weights(2)
    # sub-pixel (0, 0) sits at (-1/4, -1/4): taps (-1, 0) weigh 1/4, 3/4 per axis
    np.testing.assert_allclose(
        weights[:, :, 0],
        np.outer([0.25, 0.75, 0], [0.25, 0.75, 0]),
    )
    np.testing.assert_allclose(
        weights[:, :, 1], np.outer([0.25, 0.75, 0], [0, 0.75, 0.25])
    )
    np.testing.assert_allclose(weights.sum(axis=(0, 1)), 1.0)


def test_sub_pixel_upsampling_learns_away_from_bilinear():
    # nearest-neighbour upsampling is not bilinear but is a 3x3 sub-pixel
    # kernel (centre tap 1): training from the bilinear start must reach it
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 6, 6, 2)).astype("float32")
    target = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    layer = SubPixelUpsampling(2)
    inputs = keras.Input((6, 6, 2))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    initial = model.evaluate(x, target, verbose=0)
    # 300 steps on the same batch, in one epoch
    repeats = 300
    model.fit(
        np.tile(x, (repeats, 1, 1, 1)),
        np.tile(target, (repeats, 1, 1, 1)),
        batch_size=4,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    final = model.evaluate(x, target, verbose=0)
    assert initial > 0.05 and final < 0.02 * initial
    # a random initializer is not bilinear
    other = SubPixelUpsampling(2, initializer="glorot_uniform")
    assert not np.allclose(
        to_numpy(other(x)), to_numpy(SubPixelUpsampling(2)(x)), atol=1e-3
    )


def test_sub_pixel_upsampling_harness():
    report = run_layer_test(
        SubPixelUpsampling,
        {"factor": 2},
        (2, 6, 10, 4),
        expected_output_shape=(2, 12, 20, 4),
        expected_num_trainable_weights=2,
    )
    if BACKEND == "tensorflow":
        assert set(UPSAMPLING_OPS) <= set(report["tflite_ops"])


def test_super_resolution_decoder_harness():
    report = run_layer_test(
        SuperResolutionDecoder,
        {"scale": 4, "image_channels": 3, "filters": 8},
        (2, 5, 6, 7),
        expected_output_shape=(2, 20, 24, 3),
        expected_num_trainable_weights=6,
    )
    if BACKEND == "tensorflow":
        assert {"CONV_2D", "TRANSPOSE", "RESHAPE"} <= set(report["tflite_ops"])


def test_super_resolution_decoder_sub_pixel_order():
    # one hidden layer free: with num_layers=0 the last conv is a 1x1 map
    # from known channels; channel (r * s + c) * k + ch lands at (r, c)
    decoder = SuperResolutionDecoder(scale=2, image_channels=1, num_layers=0)
    decoder.build((1, 1, 1, 4))
    kernel = np.zeros((3, 3, 4, 4), "float32")
    kernel[1, 1] = np.eye(4)
    decoder.to_subpixels.kernel.assign(kernel)
    out = to_numpy(decoder(np.array([1, 2, 3, 4], "float32").reshape(1, 1, 1, 4)))
    np.testing.assert_array_equal(out[0, :, :, 0], [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    "layer_cls,kwargs",
    [
        (SubPixelUpsampling, {"factor": 2}),
        (SubPixelUpsampling, {"factor": 3, "channel_mixing": False}),
        (SubPixelUpsampling, {"factor": 2, "learned": False}),
        (SuperResolutionDecoder, {"scale": 2, "filters": 4}),
    ],
    ids=["mixing", "depthwise", "fixed", "decoder"],
)
def test_channels_first_is_the_transpose_of_channels_last(layer_cls, kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 7, 4)).astype("float32")
    last = layer_cls(**kwargs, data_format="channels_last")
    first = layer_cls(**kwargs, data_format="channels_first")
    expected = to_numpy(last(x))
    first(channels_first(x))
    first.set_weights(last.get_weights())
    if last.weights:  # make the weights differ from the initialisation
        first.set_weights([w + 0.1 for w in last.get_weights()])
        last.set_weights(first.get_weights())
        expected = to_numpy(last(x))
    np.testing.assert_allclose(
        to_numpy(first(channels_first(x))), channels_first(expected), atol=1e-5
    )
    a = last.compute_output_shape((None, None, 7, 4))
    b = first.compute_output_shape((None, 4, None, 7))
    assert tuple(b) == (a[0], a[3], a[1], a[2])
    assert first.get_config()["data_format"] == "channels_first"


def test_bad_layer_arguments():
    assert_value_error(SubPixelUpsampling, "factor=0", 0)
    assert_value_error(
        SubPixelUpsampling, "channel_mixing='yes'", 2, channel_mixing="yes"
    )
    assert_value_error(SubPixelUpsampling, "initializer='nope'", 2, initializer="nope")
    assert_value_error(
        SubPixelUpsampling, "initializer='zeros'", 2, learned=False, initializer="zeros"
    )
    assert_value_error(SubPixelUpsampling, "data_format='nchw'", 2, data_format="nchw")
    assert_value_error(SuperResolutionDecoder, "scale=1.5", 1.5)
    assert_value_error(SuperResolutionDecoder, "num_layers=-1", 2, num_layers=-1)
    assert_value_error(DualSRHead, "num_classes=0", 0)
    assert_value_error(DualSRHead, "upsampling='nearest'", 3, upsampling="nearest")
    assert_value_error(DualSRHead, "feature_stride=0", 3, feature_stride=0)
    assert_value_error(DualSRHead, "decoder_layers=-2", 3, decoder_layers=-2)
    with pytest.raises(ValueError, match="rank 4"):
        SubPixelUpsampling(2)(np.zeros((4, 4, 3), "float32"))


# ---------------------------------------------------------------------------
# DualSRHead (two inputs: the shared harness takes one, so its checks are
# repeated here by hand: shapes, config, .keras, compiled, gradients, float16)


def _head_inputs(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, 4, 6, 16)).astype("float32")  # stride 4
    logits = rng.normal(size=(batch, 16, 24, 5)).astype("float32")
    return features, logits


def _head_model(head, features_shape=(4, 6, 16), logits_shape=(16, 24, 5)):
    inputs = [keras.Input(features_shape), keras.Input(logits_shape)]
    return keras.Model(inputs, head(inputs))


def test_dual_sr_head():
    features, logits = _head_inputs()
    head = DualSRHead(5, factor=2, decoder_filters=8)
    out = to_numpy(head([features, logits], training=True))
    assert head.decoder.scale == 8  # inferred stride 4 x factor 2
    expected = {
        "segmentation": (2, 32, 48, 5),
        "super_resolution": (2, 32, 48, 3),
        "feature_transform": (2, 32, 48, 3),
    }
    assert {k: v.shape for k, v in out.items()} == expected
    assert head.compute_output_shape([features.shape, logits.shape]) == expected
    np.testing.assert_allclose(
        out["segmentation"], reference_bilinear(logits, (32, 48)), atol=2e-6
    )
    assert out["feature_transform"].min() >= 0.0  # ReLU
    assert len(head.trainable_weights) == 12

    # symbolic with unknown spatial size (stride given)
    dynamic = DualSRHead(5, feature_stride=4, decoder_filters=8)
    inputs = [keras.Input((None, None, 16)), keras.Input((None, None, 5))]
    symbolic = dynamic(inputs)
    assert tuple(symbolic["super_resolution"].shape) == (None, None, None, 3)
    with pytest.raises(ValueError, match="feature_stride"):
        DualSRHead(5)(inputs)

    # config round trip
    clone = DualSRHead.from_config(head.get_config())
    assert clone.get_config() == head.get_config()

    # mixed precision
    reference = to_numpy(head([features, logits]))
    half = DualSRHead(5, decoder_filters=8, dtype="mixed_float16")
    half([features, logits])
    half.set_weights(head.get_weights())
    for key, value in half([features, logits]).items():
        assert keras.backend.standardize_dtype(value.dtype) == "float16"
        np.testing.assert_allclose(
            to_numpy(value).astype("float32"), reference[key], atol=5e-2, rtol=5e-2
        )


def test_dual_sr_head_fits_one_step_and_round_trips(tmp_path):
    """One `fit` step moves every trainable weight (gradients reach all of
    them); `.keras` save / load gives the same outputs."""
    keras.utils.set_random_seed(0)
    features, logits = _head_inputs()
    head = DualSRHead(5, factor=2, decoder_filters=4)
    model = _head_model(head)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    targets = {
        key: np.ones(value)
        for key, value in head.compute_output_shape(
            [features.shape, logits.shape]
        ).items()
    }
    before = [to_numpy(w).copy() for w in head.trainable_weights]
    history = model.fit([features, logits], targets, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    unchanged = [
        w.path
        for w, old in zip(head.trainable_weights, before, strict=True)
        if np.array_equal(to_numpy(w), old)
    ]
    assert not unchanged
    reference = to_numpy(model.predict([features, logits], verbose=0))
    path = os.path.join(tmp_path, "head.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for key, value in to_numpy(loaded.predict([features, logits], verbose=0)).items():
        np.testing.assert_allclose(value, reference[key], atol=1e-5)


def test_dual_sr_head_compiled():
    """`jit_compile=True` (TensorFlow) or `jax.jit` gives the same outputs
    (PyTorch: torch.compile is too slow for the test suite, skipped)."""
    features, logits = _head_inputs()
    head = DualSRHead(5, factor=2, decoder_filters=8)
    reference = to_numpy(head([features, logits], training=False))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        function = tf.function(
            lambda f, g: head([f, g], training=False), jit_compile=True
        )
        compiled = function(features, logits)
    elif BACKEND == "jax":
        import jax

        trainable = [v.value for v in head.trainable_variables]
        non_trainable = [v.value for v in head.non_trainable_variables]
        compiled = jax.jit(
            lambda t, n, f, g: head.stateless_call(t, n, [f, g], training=False)[0]
        )(trainable, non_trainable, features, logits)
    else:
        pytest.skip("torch.compile: too slow for the test suite")
    for key, value in to_numpy(compiled).items():
        np.testing.assert_allclose(value, reference[key], atol=1e-4)


@pytest.mark.tensorflow_only
def test_dual_sr_head_input_gradients():
    import tensorflow as tf

    features, logits = _head_inputs()
    head = DualSRHead(5, factor=2, decoder_filters=8)
    f, g = tf.constant(features), tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch([f, g])
        outputs = head([f, g], training=True)
        loss = sum(tf.reduce_sum(tf.square(v)) for v in outputs.values())
    grads = tape.gradient(loss, [f, g] + list(head.trainable_weights))
    for grad in grads:
        assert grad is not None and np.all(np.isfinite(grad))


def test_dual_sr_head_channels_first_is_the_transpose_of_channels_last():
    features, logits = _head_inputs()
    last = DualSRHead(5, decoder_filters=4, data_format="channels_last")
    first = DualSRHead(5, decoder_filters=4, data_format="channels_first")
    last([features, logits])
    first([channels_first(features), channels_first(logits)])
    weights = [w + 0.05 for w in last.get_weights()]  # not the initialisation
    last.set_weights(weights)
    first.set_weights(weights)
    for training in (False, True):
        expected = to_numpy(last([features, logits], training=training))
        got = to_numpy(
            first([channels_first(features), channels_first(logits)], training=training)
        )
        for key, value in expected.items():
            np.testing.assert_allclose(got[key], channels_first(value), atol=1e-4)
    shapes = first.compute_output_shape([(None, 16, 4, 6), (None, 5, 16, 24)])
    assert shapes == {
        "segmentation": (None, 5, 32, 48),
        "super_resolution": (None, 3, 32, 48),
        "feature_transform": (None, 3, 32, 48),
    }
    assert first.get_config()["data_format"] == "channels_first"
    assert first.upsampler.data_format == "channels_first"
    assert first.decoder.data_format == "channels_first"


def test_dual_sr_head_variants_and_errors():
    features, logits = _head_inputs(1)
    baseline = DualSRHead(
        5, upsampling="bilinear", super_resolution=False, feature_transform=False
    )
    out = baseline([features, logits])
    assert list(out) == ["segmentation"] and not baseline.weights
    with pytest.raises(ValueError, match="num_classes=4"):
        DualSRHead(4)([features, logits])
    with pytest.raises(ValueError, match=r"list \[features, logits\]"):
        DualSRHead(5).build((1, 16, 24, 5))
    with pytest.raises(ValueError, match="feature_stride"):
        DualSRHead(5)([features[:, :, :5], logits])  # 24 / 5 is no integer


# ---------------------------------------------------------------------------
# U-Net and DualSRModel


def test_build_unet():
    model = build_unet(4, image_shape=(None, None, 3), filters=(8, 16, 16))
    x = np.zeros((1, 24, 40, 3), "float32")
    assert tuple(model(x).shape) == (1, 24, 40, 4)
    assert model.get_layer("features").output.shape[-1] == 8
    assert build_unet(2, filters=(4,)).get_layer("features") is not None
    assert_value_error(build_unet, "num_classes=0", 0)
    assert_value_error(build_unet, "filters=0", 2, filters=(8, 0))
    assert_value_error(
        build_unet, "image_shape=(30, 32, 3)", 2, image_shape=(30, 32, 3)
    )
    assert_value_error(
        build_unet,
        "image_shape=(3, 30, 32)",
        2,
        image_shape=(3, 30, 32),
        data_format="channels_first",
    )
    assert_value_error(build_unet, "data_format='nhwc'", 2, data_format="nhwc")


@needs_nchw_convolutions
def test_build_unet_channels_first_is_the_transpose_of_channels_last():
    last = build_unet(3, image_shape=(8, 12, 2), filters=(4, 8))
    first = build_unet(
        3, image_shape=(2, 8, 12), filters=(4, 8), data_format="channels_first"
    )
    assert tuple(first.outputs[0].shape) == (None, 3, 8, 12)
    assert tuple(first.get_layer("features").output.shape) == (None, 4, 8, 12)
    first.set_weights(last.get_weights())
    x = np.random.default_rng(0).random((2, 8, 12, 2)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(first(channels_first(x))),
        channels_first(to_numpy(last(x))),
        atol=1e-5,
    )


def test_build_unet_fits_one_step_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_unet(3, image_shape=(16, 16, 3), filters=(4, 8))
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    x = rng.random((2, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 3, (2, 16, 16)).astype("int32")
    before = to_numpy(model.predict(x, verbose=0))
    history = model.fit(x, y, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = to_numpy(model.predict(x, verbose=0))
    assert not np.allclose(before, after)
    path = os.path.join(tmp_path, "unet.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded.predict(x, verbose=0)), after, atol=1e-5)


def _data(num_classes=4, size=16, factor=2, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, size, size, 3)).astype("float32")
    labels = rng.integers(0, num_classes, (batch, size * factor, size * factor))
    image = rng.random((batch, size * factor, size * factor, 3)).astype("float32")
    return x, {"segmentation": labels.astype("int32"), "super_resolution": image}


def _unet(size=16):
    return build_unet(4, image_shape=(size, size, 3), filters=(8, 16))


def test_total_loss_is_ce_plus_weighted_mse_and_affinity():
    keras.utils.set_random_seed(0)
    model = DualSRModel(
        _unet(),
        decoder_filters=8,
        super_resolution_weight=0.25,
        feature_affinity_weight=2.0,
        feature_affinity_subsample=1 / 4,
    )
    model.compile(optimizer="sgd")
    x, y = _data()
    y_pred = model(x, training=False)
    total = float(model.compute_loss(x, y, y_pred, training=False))
    predicted = to_numpy(y_pred)
    logits = predicted["segmentation"].astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    labels = y["segmentation"]
    ce = -np.take_along_axis(log_softmax, labels[..., None], -1).mean()
    mse = ((predicted["super_resolution"] - y["super_resolution"]) ** 2).mean()
    fa = affinity_numpy(
        predicted["feature_transform"], predicted["super_resolution"], 4, False
    ).mean()
    assert fa > 0 and mse > 0
    np.testing.assert_allclose(total, ce + 0.25 * mse + 2.0 * fa, rtol=1e-5)
    # ignore_class and per-sample weights (cross-entropy only)
    labels = labels.copy()  # class 3 in the top 4 rows, and ignored
    labels[:, :4] = 3
    valid = labels != 3
    pixel_ce = -np.take_along_axis(log_softmax, labels[..., None], -1)[..., 0]
    weights = np.array([1.0, 0.0, 2.0, 1.0])
    expected = (pixel_ce * valid * weights[:, None, None]).sum() / valid.sum()
    masked = DualSRModel(
        _unet(), super_resolution=False, feature_affinity=False, ignore_class=3
    )
    got = masked.segmentation_loss(labels, y_pred["segmentation"], weights)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    # tuple targets are the same
    tuple_total = model.compute_loss(
        x, (y["segmentation"], y["super_resolution"]), y_pred, training=False
    )
    np.testing.assert_allclose(float(tuple_total), total, rtol=1e-6)


def test_variants():
    segmenter = _unet()
    x, y = _data()
    outputs = {
        "bilinear": ["segmentation"],
        "sssr": ["segmentation"],
        "sssr_sisr": ["segmentation", "super_resolution"],
        "dsrl": ["segmentation", "super_resolution", "feature_transform"],
    }
    assert set(VARIANTS) == set(outputs)
    for name, keys in outputs.items():
        model = DualSRModel.from_variant(name, segmenter, decoder_filters=8)
        out = model(x)
        assert list(out) == keys, name
        if name == "bilinear":
            np.testing.assert_allclose(
                to_numpy(out["segmentation"]),
                reference_bilinear(to_numpy(segmenter(x)), (32, 32)),
                atol=1e-5,
            )
            assert not model.head.weights
    # labels only are enough without the SISR branch
    model = DualSRModel.from_variant("sssr", segmenter)
    loss = model.compute_loss(x, y["segmentation"], model(x), training=False)
    assert np.isfinite(float(loss))


def test_model_argument_errors():
    segmenter = _unet()
    assert_value_error(
        DualSRModel,
        "super_resolution=False",
        segmenter,
        super_resolution=False,
        feature_affinity=True,
    )
    assert_value_error(
        DualSRModel, "super_resolution_weight=-1", segmenter, super_resolution_weight=-1
    )
    assert_value_error(
        DualSRModel, "subsample=0.3", segmenter, feature_affinity_subsample=0.3
    )
    assert_value_error(DualSRModel.from_variant, "variant='fancy'", "fancy", segmenter)
    assert_value_error(DualSRModel, "'decoder'", segmenter, feature_layer="decoder")
    assert_value_error(segmentation_feature_model, "segmenter=3", 3)
    x, y = _data()
    model = DualSRModel(segmenter)
    with pytest.raises(ValueError, match="full-resolution image"):
        model.compute_loss(x, y["segmentation"], model(x))
    with pytest.raises(ValueError, match="32x32"):
        model.compute_loss(
            x,
            {
                "segmentation": x[..., 0].astype("int32"),
                "super_resolution": y["super_resolution"],
            },
            model(x),
        )
    with pytest.raises(ValueError, match="Received keys"):
        model.compute_loss(x, {"labels": y["segmentation"]}, model(x))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="without `loss`"):
        model.compute_loss(x, y, model(x))


def test_unet_fit_save_and_inference_model():
    keras.utils.set_random_seed(0)
    model = DualSRModel.from_variant(
        "dsrl", _unet(), decoder_filters=8, feature_affinity_subsample=1 / 4
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        metrics=[keras.metrics.MeanIoU(4, sparse_y_pred=False)],
    )
    x, y = _data()
    # per-sample weights (ones) go through the fit path too
    history = model.fit(
        x, y, sample_weight=np.ones(4), batch_size=2, epochs=1, verbose=0
    ).history
    for name in (
        "loss",
        "segmentation_loss",
        "super_resolution_loss",
        "feature_affinity_loss",
        "mean_io_u",
    ):
        assert np.isfinite(history[name][0]), name
    np.testing.assert_allclose(
        history["loss"][0],
        history["segmentation_loss"][0]
        + 0.1 * history["super_resolution_loss"][0]
        + history["feature_affinity_loss"][0],
        rtol=1e-4,
    )
    # the segmenter's variables are shared, not duplicated, by the feature model
    assert len({id(v) for v in model.weights}) == len(model.weights)
    assert model.count_params() == (
        model.segmenter.count_params() + model.head.count_params()
    )
    reference = to_numpy(model(x))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dsrl.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    assert isinstance(loaded, DualSRModel)
    # equal up to tuples read back as lists
    assert json.dumps(loaded.get_config(), sort_keys=True) == json.dumps(
        model.get_config(), sort_keys=True
    )
    for key, value in to_numpy(loaded(x)).items():
        np.testing.assert_allclose(value, reference[key], atol=1e-5)
    inference = loaded.inference_model()
    np.testing.assert_allclose(
        to_numpy(inference(x)), reference["segmentation"], atol=1e-5
    )
    # the inference model holds the segmenter and the upsampler only
    assert inference.count_params() == (
        model.segmenter.count_params() + model.head.upsampler.count_params()
    )


@needs_nchw_convolutions
def test_channels_first_model_trains_and_equals_channels_last():
    keras.utils.set_random_seed(0)
    last = DualSRModel.from_variant(
        "dsrl", _unet(), decoder_filters=4, feature_affinity_subsample=1 / 4
    )
    segmenter = build_unet(
        4, image_shape=(3, 16, 16), filters=(8, 16), data_format="channels_first"
    )
    first = DualSRModel.from_variant(
        "dsrl",
        segmenter,
        decoder_filters=4,
        feature_affinity_subsample=1 / 4,
        data_format="channels_first",
    )
    assert first.feature_stride == 1 and first.num_classes == 4
    x, y = _data(batch=2)
    last(x)
    first(channels_first(x))
    first.set_weights(last.get_weights())
    y_first = {
        "segmentation": y["segmentation"],
        "super_resolution": channels_first(y["super_resolution"]),
    }
    expected = to_numpy(last(x))
    got = to_numpy(first(channels_first(x)))
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], channels_first(value), atol=1e-4)
    loss_last = float(last.compute_loss(x, y, last(x), training=False))
    loss_first = float(
        first.compute_loss(
            channels_first(x), y_first, first(channels_first(x)), training=False
        )
    )
    np.testing.assert_allclose(loss_first, loss_last, rtol=1e-5)
    first.compile(optimizer="sgd")
    history = first.fit(channels_first(x), y_first, batch_size=2, verbose=0).history
    assert np.isfinite(history["loss"][0])
    inference = first.inference_model()
    assert tuple(inference.outputs[0].shape) == (None, 4, 32, 32)
    assert first.get_config()["data_format"] == "channels_first"


# the TFLite ops of a learned `SubPixelUpsampling` (builtins only)
UPSAMPLING_OPS = {
    "STRIDED_SLICE": 4,
    "CONCATENATION": 2,
    "CONV_2D": 1,
    "RESHAPE": 2,
    "TRANSPOSE": 1,
}


def _op_counts(flatbuffer):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=flatbuffer,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return collections.Counter(op["op_name"] for op in interpreter._get_ops_details())


def _tflite(model):
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        return tflite_convert(tmp)


@pytest.mark.tensorflow_only
def test_exported_inference_model_is_segmenter_plus_upsampling():
    keras.utils.set_random_seed(0)
    segmenter = _unet()
    model = DualSRModel.from_variant("dsrl", segmenter, decoder_filters=8)
    x, _ = _data(batch=2)
    model(x)
    plain = _op_counts(_tflite(segmenter))
    flatbuffer = _tflite(model.inference_model())
    exported = _op_counts(flatbuffer)
    # no op of the SISR decoder or of the feature transform: exactly the ops
    # of the learned upsampling (edge padding by slices and concatenation,
    # the 3x3 convolution, depth_to_space as reshape / transpose / reshape)
    assert exported - plain == collections.Counter(UPSAMPLING_OPS)
    assert plain - exported == collections.Counter()
    outputs, _ = tflite_run(flatbuffer, x)
    np.testing.assert_allclose(
        outputs[0], to_numpy(model(x)["segmentation"]), atol=1e-4
    )


def _deeplab(num_classes=3):
    import keras_hub

    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(None, None, 3),
    )
    backbone = keras_hub.models.DeepLabV3Backbone(
        image_encoder=encoder,
        spatial_pyramid_pooling_key="P3",
        upsampling_size=2,
        dilation_rates=[1, 2],
        low_level_feature_key="P2",
        projection_filters=16,
    )
    return keras_hub.models.DeepLabV3ImageSegmenter(
        backbone=backbone, num_classes=num_classes
    )


def test_deeplab_feature_model():
    segmenter = _deeplab()
    feature_model = segmentation_feature_model(segmenter)
    x = np.random.default_rng(0).random((1, 32, 32, 3)).astype("float32")
    features, logits = feature_model(x)
    # the encoder output (ASPP upsampled + projected low-level features), stride 4
    assert tuple(features.shape) == (1, 8, 8, 256 + 16)
    np.testing.assert_allclose(to_numpy(logits), to_numpy(segmenter(x)), atol=1e-5)
    # the encoder runs once: the feature model has the segmenter's weights
    assert feature_model.count_params() == segmenter.count_params()
    model = DualSRModel(segmenter, decoder_filters=8)
    assert model.feature_stride == 4 and model.head.num_classes == 3


@pytest.mark.large
@pytest.mark.tensorflow_only
def test_deeplab_fit_and_export():
    keras.utils.set_random_seed(0)
    segmenter = _deeplab()
    model = DualSRModel.from_variant("dsrl", segmenter, decoder_filters=8)
    model.compile(optimizer="adam")
    x, y = _data(num_classes=3, size=32, batch=2)
    history = model.fit(x, y, batch_size=1, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    inference = model.inference_model((32, 32, 3))
    np.testing.assert_allclose(
        to_numpy(inference(x)), to_numpy(model(x)["segmentation"]), atol=1e-4
    )
    fixed = keras.Input((32, 32, 3))
    plain = keras.Model(fixed, segmenter(fixed))
    exported = _op_counts(_tflite(inference))
    assert exported - _op_counts(_tflite(plain)) == collections.Counter(UPSAMPLING_OPS)
