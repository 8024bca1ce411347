"""Losses: the Earth Mover's Distance for rating distributions (NIMA / AVA)."""

import keras
from keras import ops


def earth_movers_distance(y_true, y_pred, r=2):
    """Per-sample EMD between distributions over ordered buckets.

    `EMD_r(p, q) = (mean_k |CDF_p(k) - CDF_q(k)|^r)^(1/r)`.

    Args:
        y_true: `(batch, buckets)` target distributions (e.g. normalised vote
            histograms; they are renormalised to sum to one).
        y_pred: `(batch, buckets)` predicted distributions (softmax outputs).
        r: the norm, 2 (default, NIMA) or 1.

    Returns:
        `(batch,)` distances.
    """
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    y_true = y_true / ops.maximum(ops.sum(y_true, axis=-1, keepdims=True), 1e-12)
    difference = ops.abs(ops.cumsum(y_true, axis=-1) - ops.cumsum(y_pred, axis=-1))
    if r == 1:
        return ops.mean(difference, axis=-1)
    return ops.power(ops.mean(ops.power(difference, r), axis=-1) + 1e-12, 1.0 / r)


@keras.saving.register_keras_serializable(package="keras_resize")
class EarthMoversDistance(keras.losses.Loss):
    """Earth Mover's Distance between ordered rating distributions.

    The NIMA loss for aesthetic / quality assessment on AVA-style data: 10
    score buckets, target = the normalised vote histogram, prediction = a
    softmax. `EMD_r = (mean_k |CDF_true(k) - CDF_pred(k)|^r)^(1/r)` per
    sample, averaged over the batch.

    Args:
        r: 2 (default, as NIMA and the Learned Resizer paper) or 1.
        **kwargs: `name`, `reduction`, `dtype` of `keras.losses.Loss`.

    Example:

    >>> loss = EarthMoversDistance()
    >>> y_true = np.array([[0.0, 1.0, 0.0]])
    >>> y_pred = np.array([[0.0, 0.0, 1.0]])
    >>> float(loss(y_true, y_pred))  # CDFs differ by 1 in one of 3 buckets
    0.577...

    Convention: buckets are ordered (score 1 first); both inputs have the
    buckets on the last axis.
    """

    def __init__(self, r=2, name="earth_movers_distance", **kwargs):
        if r not in (1, 2):
            raise ValueError(f"Expected `r` to be 1 or 2. Received: r={r!r}")
        super().__init__(name=name, **kwargs)
        self.r = r

    def call(self, y_true, y_pred):
        return earth_movers_distance(y_true, y_pred, self.r)

    def get_config(self):
        return {**super().get_config(), "r": self.r}
