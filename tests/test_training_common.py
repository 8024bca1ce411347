"""Shared training utilities: BatchNormalization recalibration."""

import keras
import numpy as np
import tensorflow as tf

from training.common import recalibrate_batch_norm


def test_recalibration_gives_the_exact_mean_of_batch_statistics():
    rng = np.random.default_rng(0)
    inputs = keras.Input((4,))
    frozen = keras.layers.BatchNormalization(name="frozen")
    model = keras.Model(
        inputs, frozen(keras.layers.BatchNormalization(name="bn")(inputs))
    )
    frozen.trainable = False
    batches = [rng.normal(loc=i, size=(8, 4)).astype("float32") for i in range(3)]
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.concatenate(batches), np.zeros(24))
    )
    used = recalibrate_batch_norm(model, dataset.batch(8), steps=3)
    assert used == 3
    bn = model.get_layer("bn")
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), atol=1e-5
    )
    np.testing.assert_allclose(
        bn.moving_variance.numpy(), np.mean([b.var(0) for b in batches], 0), rtol=1e-4
    )
    assert bn.momentum == 0.99  # restored
    np.testing.assert_array_equal(frozen.moving_mean.numpy(), np.zeros(4))  # untouched


def test_recalibration_is_a_no_op_without_batch_norm_or_steps():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 3)), np.zeros(4))).batch(
        2
    )
    assert recalibrate_batch_norm(model, dataset, steps=5) == 0
    bn_model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization()])
    assert recalibrate_batch_norm(bn_model, dataset, steps=0) == 0
