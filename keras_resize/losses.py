"""Losses: the Earth Mover's Distance for rating distributions (NIMA / AVA) and
the feature affinity loss of dual super-resolution learning (DSRL).

Written with `keras.ops`: they run on TensorFlow, JAX and PyTorch.
"""

import keras
import numpy as np
from keras import ops

from keras_resize.ops.validation import (
    check_bool,
    check_positive_int,
    check_same_batch,
)


def earth_movers_distance(y_true, y_pred, r=2):
    """Per-sample EMD between distributions over ordered buckets.

    `EMD_r(p, q) = (mean_k |CDF_p(k) - CDF_q(k)|^r)^(1/r)`.

    `y_true` holds non-negative bucket masses (probabilities or vote
    counts), renormalised per row to sum to one. Invalid targets: when the
    values are concrete (eager TensorFlow, JAX outside `jit`, PyTorch
    outside `torch.compile`) a negative value or a row without any mass
    raises a `ValueError`; inside a traced graph (`tf.function`, `fit` on
    TensorFlow, `jax.jit`), where the values cannot be inspected, negative
    values count as 0 and a row without mass as the uniform distribution,
    so the result is never NaN.

    Args:
        y_true: `(batch, buckets)` target distributions (e.g. normalised vote
            histograms; they are renormalised to sum to one).
        y_pred: `(batch, buckets)` predicted distributions (softmax outputs),
            of the same shape as `y_true`.
        r: the norm, 2 (default, NIMA) or 1.

    Returns:
        `(batch,)` distances (`(0,)` for an empty batch).

    Raises:
        ValueError: when the shapes of `y_true` and `y_pred` differ (batch
            size, rank or bucket count), or for concrete invalid targets.
    """
    return _earth_movers_distance(y_true, y_pred, r)


def _earth_movers_distance(y_true, y_pred, r, names=("y_true", "y_pred")):
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    _check_same_shape(names, y_true, y_pred, min_rank=1)
    y_true = ops.cast(y_true, y_pred.dtype)
    values = _concrete_values(y_true)
    if values is not None:
        _check_distributions(names[0], values)
    # The graph policy (a no-op on targets that passed the eager checks).
    y_true = ops.maximum(y_true, ops.zeros_like(y_true))
    total = ops.sum(y_true, axis=-1, keepdims=True)
    has_mass = total > 0
    uniform = ops.ones_like(y_true) / ops.cast(ops.shape(y_true)[-1], y_true.dtype)
    y_true = ops.where(
        has_mass, y_true / ops.where(has_mass, total, ops.ones_like(total)), uniform
    )
    difference = ops.abs(ops.cumsum(y_true, axis=-1) - ops.cumsum(y_pred, axis=-1))
    if r == 1:
        return ops.mean(difference, axis=-1)
    return ops.power(ops.mean(ops.power(difference, r), axis=-1) + 1e-12, 1.0 / r)


def _concrete_values(tensor):
    """`tensor` as a numpy array when its values are known now, else None.

    None inside a traced function: a `tf.function` graph, `jax.jit`, or
    `torch.compile`.
    """
    if isinstance(tensor, keras.KerasTensor):
        return None
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly() or not hasattr(tensor, "numpy"):
            return None
    elif backend == "jax":
        import jax

        if isinstance(tensor, jax.core.Tracer):
            return None
    elif backend == "torch":
        import torch

        compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
        if compiling is not None and compiling():
            return None
    try:
        return np.asarray(ops.convert_to_numpy(tensor))
    except Exception:  # any other symbolic tensor
        return None


def _check_distributions(name, values):
    """Eager checks of concrete target distributions (`(..., buckets)`)."""
    if values.size == 0:
        return
    if np.any(values < 0):
        index = tuple(int(i) for i in np.argwhere(values < 0)[0])
        raise ValueError(
            f"Expected `{name}` to hold non-negative values (bucket masses). "
            f"Received: {name}[{', '.join(map(str, index))}]={float(values[index])} "
            f"in {name}.shape={values.shape}"
        )
    empty = np.argwhere(np.sum(values, axis=-1) == 0)
    if len(empty):
        rows = [tuple(int(i) for i in row) for row in empty[:5]]
        rows = [row[0] if len(row) == 1 else row for row in rows]
        raise ValueError(
            f"Expected every row of `{name}` to have a positive sum (a "
            f"distribution over the buckets). Received: all-zero row(s) {rows} "
            f"in {name}.shape={values.shape}"
        )


def _check_same_shape(names, a, b, min_rank=1, compare=None):
    """Static check that two paired inputs agree: the same rank (at least
    `min_rank`), the same batch size, and the same size along the axes in
    `compare` (default: every axis)."""
    shape_a, shape_b = tuple(a.shape), tuple(b.shape)
    if len(shape_a) != len(shape_b) or len(shape_a) < min_rank:
        raise ValueError(
            f"Expected `{names[0]}` and `{names[1]}` to have the same rank (at "
            f"least {min_rank}). Received: {names[0]}.shape={shape_a} and "
            f"{names[1]}.shape={shape_b}"
        )
    if len(shape_a) > 1:
        check_same_batch(names[0], a, names[1], b)
    axes = range(len(shape_a)) if compare is None else compare
    for axis in axes:
        dim_a, dim_b = shape_a[axis], shape_b[axis]
        if dim_a is not None and dim_b is not None and dim_a != dim_b:
            raise ValueError(
                f"Expected `{names[0]}` and `{names[1]}` to have the same shape. "
                f"Received: {names[0]}.shape={shape_a} and "
                f"{names[1]}.shape={shape_b}"
            )


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
    buckets on the last axis and the same shape. Targets with a negative
    value or a row without mass raise a `ValueError` where the values are
    concrete; in a traced graph negatives count as 0 and a row without mass
    as uniform (see `earth_movers_distance`).
    """

    def __init__(self, r=2, name="earth_movers_distance", **kwargs):
        if r not in (1, 2):
            raise ValueError(f"Expected `r` to be 1 or 2. Received: r={r!r}")
        super().__init__(name=name, **kwargs)
        self.r = r

    def call(self, y_true, y_pred):
        return _earth_movers_distance(y_true, y_pred, self.r)

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
        ValueError: for a bad `subsample`; when the (static) size after
            subsampling exceeds `max_positions` (the message names the
            subsample factor that would fit); when a static height or width
            is smaller than `1 / subsample` (no position left); when the
            maps differ in rank, batch size, height or width. In a graph of
            unknown size, maps without a position give a distance of 0.
    """
    return _feature_affinity(
        features_a, features_b, subsample, normalize, max_positions
    )


def _feature_affinity(
    features_a,
    features_b,
    subsample=1 / 8,
    normalize=False,
    max_positions=4096,
    names=("features_a", "features_b"),
):
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
    for name, features in zip(names, (features_a, features_b), strict=True):
        if len(features.shape) != 4:
            raise ValueError(
                f"Expected `{name}` to have rank 4 (batch, height, width, "
                f"channels). Received: {names[0]}.shape={tuple(features_a.shape)} "
                f"and {names[1]}.shape={tuple(features_b.shape)}"
            )
    # the same batch and spatial size (the channel counts may differ: the
    # affinity matrices are (HW, HW) whatever the channels)
    _check_same_shape(names, features_a, features_b, min_rank=4, compare=(1, 2))
    shape = ops.shape(features_a)
    _check_pooled_size(names[0], features_a, pool)
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
    # no positions (only in a graph of unknown size, checked statically
    # elsewhere): no pairs, distance 0 rather than 0 / 0
    return distance / ops.maximum(ops.square(positions), 1.0)


def _check_pooled_size(name, features, pool):
    """Raise when a static height or width holds no whole pooling window."""
    for axis in (1, 2):
        size = features.shape[axis]
        if size is not None and int(size) < pool:
            raise ValueError(
                f"Expected `{name}` to be at least {pool}x{pool} (subsample="
                f"1/{pool} averages {pool}x{pool} windows; a smaller map has no "
                f"position to compare). Received: {name}.shape="
                f"{tuple(features.shape)}"
            )


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
        return _feature_affinity(
            y_true,
            y_pred,
            self.subsample,
            self.normalize,
            self.max_positions,
            names=("y_true", "y_pred"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "subsample": self.subsample,
            "normalize": self.normalize,
            "max_positions": self.max_positions,
        }
