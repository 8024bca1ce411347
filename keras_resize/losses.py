"""Losses: the Earth Mover's Distance for rating distributions (NIMA / AVA) and
the feature affinity loss of dual super-resolution learning (DSRL).

Written with `keras.ops`: they run on TensorFlow, JAX and PyTorch.
"""

import keras
from keras import ops

from keras_resize.ops.validation import check_bool, check_positive_int


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
    >>> round(float(loss(y_true, y_pred)), 3)  # CDFs differ by 1 in one of 3
    0.577

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


def _pool_size(subsample):
    """`1 / subsample` as a positive int, or a `ValueError`."""
    try:
        inverse = 1.0 / float(subsample)
    except (TypeError, ValueError, ZeroDivisionError):
        inverse = None
    if (
        isinstance(subsample, bool)
        or inverse is None
        or not 0.0 < float(subsample) <= 1.0
        or abs(inverse - round(inverse)) > 1e-6 * inverse
    ):
        raise ValueError(
            "Expected `subsample` to be 1/n for a positive int n (e.g. 1/8). "
            f"Received: subsample={subsample!r}"
        )
    return int(round(inverse))


def _check_affinity_size(height, width, pool, max_positions):
    """Raise a `ValueError` when the pooled maps have too many positions."""
    if not isinstance(height, int) or not isinstance(width, int):
        return  # unknown until run time: the bound cannot be checked here
    positions = (height // pool) * (width // pool)
    if positions <= max_positions:
        return
    fitting = pool + 1
    while (height // fitting) * (width // fitting) > max_positions:
        fitting += 1
    raise ValueError(
        f"The feature affinity matrix of {height}x{width} maps subsampled by "
        f"subsample=1/{pool} has {positions} positions, i.e. {positions}^2 = "
        f"{positions**2} entries per sample, over the bound "
        f"max_positions={max_positions}. Use subsample=1/{fitting} "
        f"({height // fitting}x{width // fitting} = "
        f"{(height // fitting) * (width // fitting)} positions) or raise "
        "`max_positions`."
    )


def feature_affinity(
    features_a, features_b, subsample=1 / 8, normalize=False, max_positions=4096
):
    """Per-sample feature affinity distance (DSRL, Wang et al., CVPR 2020).

    Both maps are average-pooled by `1 / subsample` ("valid" windows: a
    remainder of less than one window at the bottom / right is dropped, as
    PyTorch's `AvgPool2d`), flattened to `(HW, C)` per sample, optionally
    L2-normalised per position, and turned into affinity matrices
    `S = F F^T` of shape `(HW, HW)`. The distance is
    `sum |S_a - S_b| / (HW)^2` for each sample (the paper's
    `||S_a - S_b||_q` with `q = 1`, normalised by the number of pairs).

    Args:
        features_a, features_b: `(batch, height, width, channels)` maps of
            the same shape (in DSRL: the feature-transformed segmentation
            output and the super-resolved image).
        subsample: spatial subsampling, `1/n` for a positive int `n`
            (paper: 1/8); `1` keeps every position.
        normalize: L2-normalise each position's channel vector before the
            affinity (off by default, as the public port, which found it
            hurt).
        max_positions: bound on `HW` after subsampling; the affinity matrix
            has `(HW)^2` entries per sample.

    Returns:
        `(batch,)` distances, float32 (float64 for float64 inputs).

    Raises:
        ValueError: for a bad `subsample`, or when the (static) size after
            subsampling exceeds `max_positions`; the message names the
            subsample factor that would fit.
    """
    pool = _pool_size(subsample)
    max_positions = check_positive_int("max_positions", max_positions)
    features_a = ops.convert_to_tensor(features_a)
    features_b = ops.convert_to_tensor(features_b)
    # float32 at least (the products of float16 maps overflow easily)
    dtypes = {
        keras.backend.standardize_dtype(features.dtype)
        for features in (features_a, features_b)
    }
    dtype = "float64" if "float64" in dtypes else "float32"
    features_a = ops.cast(features_a, dtype)
    features_b = ops.cast(features_b, dtype)
    if len(features_a.shape) != 4 or len(features_b.shape) != 4:
        raise ValueError(
            "Expected both feature maps to have rank 4 (batch, height, width, "
            f"channels). Received: shapes {tuple(features_a.shape)} and "
            f"{tuple(features_b.shape)}"
        )
    shape = ops.shape(features_a)
    _check_affinity_size(shape[1], shape[2], pool, max_positions)
    affinities = []
    for features in (features_a, features_b):
        if pool > 1:
            features = ops.average_pool(
                features, pool, pool, padding="valid", data_format="channels_last"
            )
        _, height, width, channels = ops.shape(features)
        flat = ops.reshape(features, (-1, height * width, channels))
        if normalize:
            flat = flat * ops.rsqrt(
                ops.maximum(ops.sum(ops.square(flat), -1, keepdims=True), 1e-12)
            )
        affinities.append(ops.matmul(flat, ops.transpose(flat, (0, 2, 1))))
    positions = ops.cast(ops.shape(affinities[0])[1], dtype)
    distance = ops.sum(ops.abs(affinities[0] - affinities[1]), axis=(1, 2))
    return distance / ops.square(positions)


@keras.saving.register_keras_serializable(package="keras_resize")
class FeatureAffinityLoss(keras.losses.Loss):
    """Feature affinity loss of dual super-resolution learning (DSRL).

    Compares the pairwise structure of two feature maps rather than the
    maps themselves: both are average-pooled by `1 / subsample`, flattened
    to `(HW, C)`, and their affinity matrices `S = F F^T` are compared with
    the L1 distance divided by `(HW)^2`. The loss is computed per sample
    and averaged over the batch (a public PyTorch port sums over the batch
    instead, so its value grows with the batch size; here a batch of two
    identical samples gives the same loss as one). See
    `feature_affinity` for the details.

    The affinity matrix has `(HW)^2` entries per sample, so always
    subsample: a map with more than `max_positions` positions after
    subsampling raises a `ValueError` naming the size and a subsample
    factor that fits.

    Args:
        subsample: `1/n` for a positive int `n` (paper: 1/8).
        normalize: L2-normalise each position before the affinity (default
            `False`, as the public port).
        max_positions: bound on `HW` after subsampling (default 4096, i.e.
            16.8 M affinity entries, 64 MiB per sample in float32).
        **kwargs: `name`, `reduction`, `dtype` of `keras.losses.Loss`.

    Example:

    >>> loss = FeatureAffinityLoss(subsample=1 / 4)
    >>> a = np.ones((2, 16, 16, 3), "float32")
    >>> float(loss(a, a))
    0.0
    >>> float(loss(a, 2 * a))  # S = 3 vs 12 for all 16 x 16 pairs
    9.0

    Convention: NHWC feature maps of equal shape; `y_true` and `y_pred` are
    symmetric (the distance is the same either way round). Pooling windows
    start at the top-left pixel and a remainder is dropped.
    """

    def __init__(
        self,
        subsample=1 / 8,
        normalize=False,
        max_positions=4096,
        name="feature_affinity",
        **kwargs,
    ):
        _pool_size(subsample)
        super().__init__(name=name, **kwargs)
        self.subsample = subsample
        self.normalize = check_bool("normalize", normalize)
        self.max_positions = check_positive_int("max_positions", max_positions)

    def call(self, y_true, y_pred):
        return feature_affinity(
            y_true, y_pred, self.subsample, self.normalize, self.max_positions
        )

    def get_config(self):
        return {
            **super().get_config(),
            "subsample": self.subsample,
            "normalize": self.normalize,
            "max_positions": self.max_positions,
        }
