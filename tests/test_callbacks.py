"""`keras_resize.callbacks`: BatchNormalization re-estimation, on every backend."""

import keras
import numpy as np
import pytest

from keras_resize.callbacks import BatchNormRecalibration, recalibrate_batch_norm


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5),
            keras.layers.BatchNormalization(momentum=0.99),
            keras.layers.Dense(1),
        ]
    )


def _batches(count=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (
            rng.normal(loc=index, size=(size, 6)).astype("float32"),
            rng.normal(size=(size, 1)).astype("float32"),
        )
        for index in range(count)
    ]


def _batch_statistics(model, batches):
    dense = model.layers[0]
    means, variances = [], []
    for x, _ in batches:
        h = keras.ops.convert_to_numpy(dense(x)).astype("float64")
        means.append(h.mean(0))
        variances.append(h.var(0))
    return np.mean(means, 0), np.mean(variances, 0)


def test_recalibration_is_the_average_of_the_batch_statistics():
    model = _model()
    batches = _batches()
    assert recalibrate_batch_norm(model, batches, steps=4) == 4
    mean, variance = _batch_statistics(model, batches)
    bn = model.layers[1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(bn.moving_mean), mean, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(bn.moving_variance), variance, rtol=1e-4, atol=1e-5
    )
    assert bn.momentum == 0.99  # restored
    # fewer steps than batches: only the first ones
    model2 = _model()
    assert recalibrate_batch_norm(model2, iter(batches), steps=2) == 2
    mean2, _ = _batch_statistics(model2, batches[:2])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model2.layers[1].moving_mean), mean2, atol=1e-5
    )


def test_recalibration_leaves_weights_and_frozen_layers_alone():
    model = _model()
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    model.layers[1].trainable = False
    frozen_mean = keras.ops.convert_to_numpy(model.layers[1].moving_mean).copy()
    assert recalibrate_batch_norm(model, _batches(), steps=3) == 0
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.layers[1].moving_mean), frozen_mean
    )
    model.layers[1].trainable = True
    recalibrate_batch_norm(model, _batches(), steps=3)
    for old, new in zip(before, model.trainable_weights, strict=True):
        np.testing.assert_array_equal(old, keras.ops.convert_to_numpy(new))


@pytest.mark.tensorflow_only
def test_recalibration_takes_a_tf_data_dataset():
    import tensorflow as tf

    batches = _batches()
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    model = _model()
    assert recalibrate_batch_norm(model, dataset, steps=10) == 4
    mean, _ = _batch_statistics(model, batches)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.layers[1].moving_mean), mean, atol=1e-5
    )


def test_callback_recalibrates_before_each_validation_and_at_the_end():
    batches = _batches()
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    model = _model()
    model.compile("sgd", "mse")
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            seen.append(keras.ops.convert_to_numpy(self.model.layers[1].moving_mean))

    callback = BatchNormRecalibration(batches, steps=4)
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        validation_data=(x, y),
        verbose=0,
        shuffle=False,
        callbacks=[callback, Probe()],
    )
    assert callback.count == 3  # two validation runs + the end of training
    assert callback.last_batches == 4
    # at the end the statistics belong to the final weights
    mean, _ = _batch_statistics(model, batches)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.layers[1].moving_mean), mean, atol=1e-4
    )
    # validation saw recalibrated statistics (not the lagging moving average,
    # which after 8 steps at momentum 0.99 would still be near 0)
    assert np.abs(seen[0]).max() > 0.5


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(steps=0), "steps=0"),
        (dict(steps=2.5), "steps=2.5"),
        (dict(before_validation="yes"), "before_validation='yes'"),
    ],
)
def test_callback_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BatchNormRecalibration([], **kwargs)
    with pytest.raises(ValueError, match="steps=-1"):
        recalibrate_batch_norm(_model(), [], steps=-1)
