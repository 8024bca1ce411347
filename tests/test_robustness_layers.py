"""Issue 14 ("correct on every input"): layers, losses, models and export.

Regression tests for inputs at the edges: paired inputs of different batch
sizes or ranks, empty batches, zero-size images, feature maps smaller than
the affinity pooling window, invalid rating distributions and multi-input
models without input names. References are independent of the code under
test: numpy brute force (cumulative sums, window loops, pairwise dot
products) and `keras_resize.ops.resize` for the untrained resizers' skip
paths. Everything runs on every backend except `tf.function` graphs, JAX
`jit` and the SavedModel / TFLite export.
"""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_settings import property_settings

from keras_resize.layers import (
    DownsizeNetResize,
    DualSRHead,
    LearnedResize,
    MullerResize,
)
from keras_resize.losses import (
    EarthMoversDistance,
    FeatureAffinityLoss,
    earth_movers_distance,
    feature_affinity,
)
from keras_resize.models import DualSRModel, build_unet
from keras_resize.testing import assert_value_error

BACKEND = keras.backend.backend()


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _random(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


# -- the layers: (id, factory) ----------------------------------------------

RESIZERS = [
    ("learned", lambda: LearnedResize(4, 6, filters=4)),
    (
        "learned-cf",
        lambda: LearnedResize(4, 6, filters=4, data_format="channels_first"),
    ),
    (
        "downsizenet-patches",
        lambda: DownsizeNetResize(4, 6, filters=4, feature_path="patches"),
    ),
    (
        "downsizenet-full-bicubic",
        lambda: DownsizeNetResize(
            4, 6, neighborhood="bicubic", filters=4, feature_path="full"
        ),
    ),
    (
        "downsizenet-cf",
        lambda: DownsizeNetResize(4, 6, filters=4, data_format="channels_first"),
    ),
    ("muller", lambda: MullerResize(4, 6)),
    ("muller-direct", lambda: MullerResize(4, 6, implementation="direct")),
    ("muller-cf", lambda: MullerResize(4, 6, data_format="channels_first")),
]
RESIZER_IDS = [name for name, _ in RESIZERS]


def _image_shape(layer, height, width, channels=3, batch=None):
    if layer.data_format == "channels_first":
        shape = (channels, height, width)
    else:
        shape = (height, width, channels)
    return shape if batch is None else (batch,) + shape


def _output_shape(layer, batch, channels=3):
    return _image_shape(layer, layer.height, layer.width, channels, batch)


# -- 1. paired inputs of different batch sizes or ranks ----------------------


def _head():
    return DualSRHead(num_classes=3, factor=2, decoder_filters=4, decoder_layers=0)


def test_dual_sr_head_rejects_mismatched_batches_eagerly():
    head = _head()
    features = np.zeros((2, 4, 4, 8), "float32")
    logits = np.zeros((3, 16, 16, 3), "float32")
    error = assert_value_error(head, "features.shape=(2, 4, 4, 8)", [features, logits])
    assert "logits.shape=(3, 16, 16, 3)" in str(error)
    assert "batch size" in str(error)
    # a built head checks as well (the first call builds it)
    head([features[:1], logits[:1]])
    assert_value_error(head, "logits.shape=(3, 16, 16, 3)", [features, logits])


def test_dual_sr_head_rejects_mismatched_batches_symbolically():
    head = _head()
    features = keras.Input(batch_shape=(2, 4, 4, 8))
    logits = keras.Input(batch_shape=(3, 16, 16, 3))
    error = assert_value_error(head, "features.shape=(2, 4, 4, 8)", [features, logits])
    assert "logits.shape=(3, 16, 16, 3)" in str(error)


def test_dual_sr_head_rejects_wrong_ranks():
    head = _head()
    head([np.zeros((1, 4, 4, 8), "float32"), np.zeros((1, 16, 16, 3), "float32")])
    assert_value_error(
        head,
        "features.shape=(4, 4, 8)",
        [np.zeros((4, 4, 8), "float32"), np.zeros((1, 16, 16, 3), "float32")],
    )
    assert_value_error(
        head,
        "logits.shape=(16, 16, 3)",
        [np.zeros((1, 4, 4, 8), "float32"), np.zeros((16, 16, 3), "float32")],
    )
    assert_value_error(head, "[features, logits]", np.zeros((1, 4, 4, 8), "float32"))


@pytest.mark.property
@property_settings(8)
@given(
    batch_features=st.integers(0, 3),
    batch_logits=st.integers(0, 3),
    channels_first=st.booleans(),
)
def test_dual_sr_head_outputs_share_the_batch_or_raise(
    batch_features, batch_logits, channels_first
):
    data_format = "channels_first" if channels_first else "channels_last"
    head = DualSRHead(
        num_classes=3,
        factor=2,
        decoder_filters=4,
        decoder_layers=0,
        data_format=data_format,
    )

    def shape(batch, size, channels):
        if channels_first:
            return (batch, channels, size, size)
        return (batch, size, size, channels)

    features = np.zeros(shape(batch_features, 2, 4), "float32")
    logits = np.zeros(shape(batch_logits, 8, 3), "float32")
    if batch_features != batch_logits:
        assert_value_error(head, "batch size", [features, logits])
        return
    outputs = head([features, logits])
    assert {key: tuple(value.shape) for key, value in outputs.items()} == {
        "segmentation": shape(batch_logits, 16, 3),
        "super_resolution": shape(batch_logits, 16, 3),
        "feature_transform": shape(batch_logits, 16, 3),
    }


def _dual_sr_model():
    keras.utils.set_random_seed(0)
    segmenter = build_unet(3, image_shape=(8, 8, 3), filters=(4, 8))
    return DualSRModel.from_variant(
        "dsrl",
        segmenter,
        decoder_filters=4,
        decoder_layers=0,
        feature_affinity_subsample=1 / 2,
    )


def test_dual_sr_model_losses_reject_mismatched_batches():
    model = _dual_sr_model()
    outputs = model(_random((2, 8, 8, 3)))
    labels = np.zeros((3, 16, 16), "int32")
    image = np.zeros((2, 16, 16, 3), "float32")
    error = assert_value_error(
        model.compute_loss,
        "labels.shape=(3, 16, 16)",
        y={"segmentation": labels, "super_resolution": image},
        y_pred=outputs,
    )
    assert "(2, 16, 16, 3)" in str(error)
    error = assert_value_error(
        model.compute_loss,
        "image.shape=(4, 16, 16, 3)",
        y={"segmentation": labels[:2], "super_resolution": np.zeros((4, 16, 16, 3))},
        y_pred=outputs,
    )
    assert "(2, 16, 16, 3)" in str(error)
    assert_value_error(
        model.segmentation_loss,
        "labels.shape=(3, 16, 16)",
        labels,
        outputs["segmentation"],
    )
    assert_value_error(
        model.segmentation_loss,
        "logits",
        labels[:2],
        np.zeros((2, 16, 16), "float32"),  # rank 3 logits
    )
    # matching batches give a finite loss
    loss = model.compute_loss(
        y={"segmentation": labels[:2], "super_resolution": image}, y_pred=outputs
    )
    assert np.isfinite(_numpy(loss))


@pytest.mark.parametrize("use_class", [True, False])
def test_earth_movers_distance_rejects_mismatched_pairs(use_class):
    loss = EarthMoversDistance() if use_class else earth_movers_distance
    y_true = np.full((2, 5), 0.2, "float32")
    error = assert_value_error(
        loss, "y_true.shape=(2, 5)", y_true, np.full((3, 5), 0.2, "float32")
    )
    assert "y_pred.shape=(3, 5)" in str(error)
    # a rank-1 target is not broadcast over the batch of predictions
    assert_value_error(loss, "y_true.shape=(5,)", y_true[0], y_true)
    # different bucket counts
    assert_value_error(loss, "y_pred.shape=(2, 4)", y_true, y_true[:, :4])


@pytest.mark.parametrize("use_class", [True, False])
def test_feature_affinity_rejects_mismatched_pairs(use_class):
    if use_class:
        loss, names = FeatureAffinityLoss(subsample=1 / 2), ("y_true", "y_pred")
    else:

        def loss(a, b):
            return feature_affinity(a, b, subsample=1 / 2)

        names = ("features_a", "features_b")
    a = np.ones((2, 8, 8, 3), "float32")
    error = assert_value_error(
        loss, f"{names[0]}.shape=(2, 8, 8, 3)", a, np.ones((3, 8, 8, 3), "float32")
    )
    assert f"{names[1]}.shape=(3, 8, 8, 3)" in str(error)
    assert_value_error(loss, f"{names[1]}.shape=(2, 8, 6, 3)", a, a[:, :, :6])
    assert_value_error(loss, f"{names[0]}.shape=(8, 8, 3)", a[0], a)


# -- 2. empty batches ----------------------------------------------------------


@pytest.mark.parametrize("name,factory", RESIZERS, ids=RESIZER_IDS)
def test_resizers_map_an_empty_batch_to_an_empty_batch(name, factory):
    layer = factory()
    images = np.zeros(_image_shape(layer, 12, 10, batch=0), "float32")
    assert tuple(layer(images).shape) == _output_shape(layer, 0)
    # once built, through a model: a call and the compiled predict step
    inputs = keras.Input(_image_shape(layer, 12, 10))
    model = keras.Model(inputs, layer(inputs))
    assert tuple(model(images).shape) == _output_shape(layer, 0)
    assert _numpy(model.predict_on_batch(images)).shape == _output_shape(layer, 0)
    # and the same model still computes a non-empty batch
    full = _random(_image_shape(layer, 12, 10, batch=2))
    assert np.all(np.isfinite(_numpy(model.predict_on_batch(full))))


def test_downsizenet_coefficients_of_an_empty_batch():
    for neighborhood, taps in (("bilinear", 4), ("bicubic", 16)):
        for path in ("patches", "full"):
            layer = DownsizeNetResize(
                4, 6, neighborhood=neighborhood, filters=4, feature_path=path
            )
            images = np.zeros((0, 12, 10, 3), "float32")
            assert tuple(layer.coefficients(images).shape) == (0, 4, 6, taps)


def test_dual_sr_head_maps_an_empty_batch_to_an_empty_batch():
    head = _head()
    features = np.zeros((0, 4, 4, 8), "float32")
    logits = np.zeros((0, 16, 16, 3), "float32")
    shapes = {
        key: tuple(value.shape) for key, value in head([features, logits]).items()
    }
    assert shapes == {
        "segmentation": (0, 32, 32, 3),
        "super_resolution": (0, 32, 32, 3),
        "feature_transform": (0, 32, 32, 3),
    }
    inputs = [keras.Input((4, 4, 8)), keras.Input((16, 16, 3))]
    model = keras.Model(inputs, head(inputs))
    outputs = model.predict_on_batch([features, logits])
    assert {key: _numpy(value).shape for key, value in outputs.items()} == shapes


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("name,factory", RESIZERS, ids=RESIZER_IDS)
def test_resizers_map_an_empty_batch_in_a_graph_of_unknown_batch(name, factory):
    import tensorflow as tf

    layer = factory()
    shape = _image_shape(layer, 12, 10, batch=None)
    layer(np.zeros((1,) + shape, "float32"))  # build
    function = tf.function(
        layer, input_signature=[tf.TensorSpec((None,) + shape, tf.float32)]
    )
    assert tuple(function(np.zeros((0,) + shape, "float32")).shape) == (
        _output_shape(layer, 0)
    )


# -- 3. zero-size images -------------------------------------------------------


@pytest.mark.parametrize("name,factory", RESIZERS, ids=RESIZER_IDS)
@pytest.mark.parametrize("size", [(0, 10), (12, 0), (0, 0)], ids=["h0", "w0", "hw0"])
def test_resizers_reject_zero_size_images(name, factory, size):
    layer = factory()
    shape = _image_shape(layer, *size, batch=2)
    images = np.zeros(shape, "float32")
    assert_value_error(layer, f"inputs.shape={shape}", images)
    # without the batch axis
    assert_value_error(layer, f"inputs.shape={shape[1:]}", images[0])
    # in a model: when it is built and when it is called
    symbolic = keras.Input(shape[1:])
    assert_value_error(factory(), "height and width", symbolic)
    inputs = keras.Input((None, None, 3) if shape[-1] == 3 else (3, None, None))
    model = keras.Model(inputs, factory()(inputs))
    assert_value_error(model, "height and width", images)
    assert_value_error(model.predict_on_batch, "height and width", images)


def test_learned_and_muller_fixed_resize_reject_zero_size_images():
    for layer in (LearnedResize(4, 6, filters=4), MullerResize(4, 6)):
        assert_value_error(
            layer.fixed_resize,
            "inputs.shape=(1, 0, 5, 3)",
            np.zeros((1, 0, 5, 3), "float32"),
        )
    assert_value_error(
        DownsizeNetResize(4, 6).coefficients,
        "inputs.shape=(1, 7, 0, 3)",
        np.zeros((1, 7, 0, 3), "float32"),
    )


# -- 4. feature maps smaller than the affinity pooling window ----------------


@pytest.mark.parametrize("size", [(4, 16), (16, 7), (0, 16)])
def test_feature_affinity_rejects_maps_without_pooled_positions(size):
    a = np.ones((2, *size, 3), "float32")
    loss = FeatureAffinityLoss(subsample=1 / 8)
    error = assert_value_error(loss, f"y_true.shape=(2, {size[0]}, {size[1]}, 3)", a, a)
    assert "subsample=1/8" in str(error)
    assert_value_error(feature_affinity, "features_a.shape", a, 2 * a, 1 / 8)


def test_feature_affinity_of_the_smallest_pooled_maps_is_brute_force():
    # 9x8 maps pooled by 8: one window (rows 0-7), the ninth row dropped
    a, b = _random((2, 9, 8, 3), 1), _random((2, 9, 8, 3), 2)
    pooled_a = a[:, :8, :8].mean(axis=(1, 2))
    pooled_b = b[:, :8, :8].mean(axis=(1, 2))
    expected = np.abs(np.sum(pooled_a * pooled_a, -1) - np.sum(pooled_b * pooled_b, -1))
    actual = _numpy(feature_affinity(a, b, subsample=1 / 8))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.tensorflow_only
def test_feature_affinity_is_never_nan_in_a_graph_of_unknown_size():
    import tensorflow as tf

    loss = FeatureAffinityLoss(subsample=1 / 8)
    spec = tf.TensorSpec((None, None, None, 3), tf.float32)
    function = tf.function(loss, input_signature=[spec, spec])
    small = np.ones((2, 4, 4, 3), "float32")
    value = float(function(small, 2 * small))
    assert value == 0.0  # no positions: no pairs to compare
    # a large enough map in the same graph still gives the brute-force value
    a, b = _random((1, 8, 8, 3), 3), _random((1, 8, 8, 3), 4)
    expected = abs(np.sum(a.mean(axis=(1, 2)) ** 2) - np.sum(b.mean(axis=(1, 2)) ** 2))
    np.testing.assert_allclose(float(function(a, b)), expected, rtol=1e-5)


# -- 5. invalid rating distributions ------------------------------------------


def _emd_reference(y_true, y_pred, r):
    """Brute-force EMD with the graph policy: negatives -> 0, zero row -> uniform."""
    y_true = np.maximum(np.asarray(y_true, np.float64), 0.0)
    totals = y_true.sum(-1, keepdims=True)
    buckets = y_true.shape[-1]
    y_true = np.where(totals > 0, y_true / np.where(totals > 0, totals, 1), 1 / buckets)
    out = []
    for p, q in zip(y_true, np.asarray(y_pred, np.float64), strict=True):
        cdf_p = [sum(p[: k + 1]) for k in range(buckets)]
        cdf_q = [sum(q[: k + 1]) for k in range(buckets)]
        diffs = [abs(a - b) ** r for a, b in zip(cdf_p, cdf_q, strict=True)]
        out.append((sum(diffs) / buckets) ** (1 / r))
    return np.array(out)


@pytest.mark.parametrize("use_class", [True, False])
def test_earth_movers_distance_rejects_invalid_targets_eagerly(use_class):
    loss = EarthMoversDistance() if use_class else earth_movers_distance
    y_pred = np.full((2, 4), 0.25, "float32")
    negative = np.array([[0.5, 0.5, 0.0, 0.0], [0.5, -0.1, 0.3, 0.3]], "float32")
    error = assert_value_error(loss, "non-negative", negative, y_pred)
    assert "y_true" in str(error)
    zero = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], "float32")
    error = assert_value_error(loss, "all-zero", zero, y_pred)
    assert "y_true" in str(error)
    # unnormalised vote counts are still fine
    votes = np.array([[1.0, 3.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0]], "float32")
    np.testing.assert_allclose(
        _numpy(earth_movers_distance(votes, y_pred)),
        _emd_reference(votes, y_pred, 2),
        rtol=1e-5,
    )


def test_earth_movers_distance_of_an_empty_batch():
    empty = np.zeros((0, 10), "float32")
    assert _numpy(earth_movers_distance(empty, empty)).shape == (0,)
    # the reduction of an empty batch is Keras': as for any Keras loss
    value = _numpy(EarthMoversDistance()(empty, empty))
    reference = _numpy(keras.losses.MeanSquaredError()(empty, empty))
    assert value.shape == reference.shape
    assert not np.any(np.isnan(value))


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("r", [1, 2])
def test_earth_movers_distance_graph_policy(r):
    import tensorflow as tf

    y_true = np.array(
        [[0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 3.0, 0.0], [0.0, 2.0, 2.0, 0.0]],
        "float32",
    )
    y_pred = np.array(
        [[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]],
        "float32",
    )
    function = tf.function(lambda t, p: earth_movers_distance(t, p, r))
    actual = function(y_true, y_pred).numpy()
    assert np.all(np.isfinite(actual))
    np.testing.assert_allclose(
        actual, _emd_reference(y_true, y_pred, r), rtol=1e-5, atol=2e-6
    )
    # the zero row is uniform, the negative bucket is 0
    np.testing.assert_allclose(
        actual[0], _emd_reference([[0.25] * 4], y_pred[:1], r)[0], rtol=1e-5
    )
    np.testing.assert_allclose(
        actual[1],
        _emd_reference([[0.25, 0.0, 0.75, 0.0]], y_pred[1:2], r)[0],
        rtol=1e-5,
    )
    # the loss class in a graph too
    loss = EarthMoversDistance(r=r)
    value = tf.function(loss)(y_true, y_pred).numpy()
    np.testing.assert_allclose(value, actual.mean(), rtol=1e-5)


@pytest.mark.skipif(BACKEND != "jax", reason="JAX jit")
def test_earth_movers_distance_jit_policy():
    import jax

    y_true = np.array([[0.0, 0.0, 0.0], [2.0, -1.0, 2.0]], "float32")
    y_pred = np.array([[0.2, 0.3, 0.5], [0.5, 0.0, 0.5]], "float32")
    actual = np.asarray(jax.jit(earth_movers_distance)(y_true, y_pred))
    # atol: the implementation's sqrt(mean + 1e-12) adds up to 1e-6
    np.testing.assert_allclose(
        actual, _emd_reference(y_true, y_pred, 2), rtol=1e-5, atol=2e-6
    )


@pytest.mark.property
@property_settings(15)
@given(
    st.integers(1, 4).flatmap(
        lambda batch: st.tuples(
            st.just(batch),
            st.integers(1, 12),
            st.integers(0, 2**31 - 1),
            st.lists(
                st.sampled_from(["ok", "zero", "negative"]),
                min_size=batch,
                max_size=batch,
            ),
        )
    ),
    st.sampled_from([1, 2]),
)
def test_earth_movers_distance_matches_brute_force(case, r):
    batch, buckets, seed, kinds = case
    rng = np.random.default_rng(seed)
    y_true = rng.random((batch, buckets)).astype("float32") + 0.01
    for row, kind in enumerate(kinds):
        if kind == "zero":
            y_true[row] = 0.0
        elif kind == "negative":
            y_true[row, rng.integers(buckets)] = -1.0
    y_pred = rng.dirichlet(np.ones(buckets), batch).astype("float32")
    valid = all(kind == "ok" for kind in kinds)
    if valid:
        actual = _numpy(earth_movers_distance(y_true, y_pred, r))
        np.testing.assert_allclose(
            actual, _emd_reference(y_true, y_pred, r), rtol=2e-5, atol=2e-6
        )
    else:
        assert_value_error(earth_movers_distance, "y_true", y_true, y_pred, r)
    if BACKEND == "tensorflow":
        graph = _emd_graph(r)(y_true, y_pred).numpy()
        np.testing.assert_allclose(
            graph, _emd_reference(y_true, y_pred, r), rtol=2e-5, atol=2e-6
        )


_EMD_GRAPHS = {}


def _emd_graph(r):
    """One traced `earth_movers_distance` per `r` (unknown batch and buckets)."""
    if r not in _EMD_GRAPHS:
        import tensorflow as tf

        spec = tf.TensorSpec((None, None), tf.float32)
        _EMD_GRAPHS[r] = tf.function(
            lambda t, p: earth_movers_distance(t, p, r), input_signature=[spec, spec]
        )
    return _EMD_GRAPHS[r]


# -- 6. export of multi-input models without input names ---------------------


def _unnamed_head_model():
    keras.utils.set_random_seed(0)
    features = keras.Input((4, 4, 8))  # no names
    logits = keras.Input((8, 8, 3))
    head = DualSRHead(
        num_classes=3, factor=2, decoder_filters=4, decoder_layers=0, name="head"
    )
    return keras.Model([features, logits], head([features, logits]))


def _unnamed_head_samples():
    return [_random((2, 4, 4, 8), 5), _random((2, 8, 8, 3), 6)]


@pytest.mark.tensorflow_only
def test_export_a_multi_input_model_without_input_names(tmp_path):
    import keras_resize

    model = _unnamed_head_model()
    report = keras_resize.export(model, tmp_path, verbose=False)
    assert report.max_abs_diff["saved_model"] < 1e-5
    assert report.max_abs_diff["tflite"] < 1e-4
    assert report.dynamic_batch_checked == [2, 1]
    assert sorted(report.inputs.values()) == [(None, 4, 4, 8), (None, 8, 8, 3)]


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("keys", ["layer names", "tensor names", "list"])
def test_export_takes_sample_inputs_keyed_as_keras_asks(tmp_path, keys):
    import keras_resize

    model = _unnamed_head_model()
    samples = _unnamed_head_samples()
    if keys == "layer names":  # what `model({...})` asks for
        names = [tensor._keras_history[0].name for tensor in model.inputs]
        samples = dict(zip(names, samples, strict=True))
    elif keys == "tensor names":
        names = [tensor.name for tensor in model.inputs]
        samples = dict(zip(names, samples, strict=True))
    report = keras_resize.export(
        model,
        tmp_path,
        formats=("saved_model",),
        sample_inputs=samples,
        verbose=False,
    )
    assert report.max_abs_diff["saved_model"] < 1e-5
    # a dict with a key that is no input is refused, naming the inputs
    with pytest.raises(ValueError, match="sample inputs"):
        keras_resize.export(
            model,
            tmp_path,
            formats=("saved_model",),
            sample_inputs={"a": samples, "b": samples},
            verbose=False,
        )
