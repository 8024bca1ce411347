"""Correlation metrics of image-quality assessment (SRCC, PLCC), in numpy.

Quality models are judged by how well their predicted mean scores follow the
human mean scores over a test set: Spearman's rank correlation (SRCC) and
Pearson's linear correlation (PLCC). Both need the whole set at once, so they
are plain functions on arrays, computed after prediction, not streaming Keras
metrics.
"""

import numpy as np


def _as_pair(x, y):
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(
            "Expected `x` and `y` to have the same number of elements. "
            f"Received: x.size={x.size}, y.size={y.size}"
        )
    if x.size < 2:
        raise ValueError(
            f"Expected at least 2 elements in `x` and `y`. Received: size={x.size}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("Expected finite values in `x` and `y` (no nan or inf).")
    return x, y


def rank_average(x):
    """Ranks 1..n of a 1-D array; tied values share their average rank.

    Args:
        x: a 1-D array-like.

    Returns:
        A float64 array of ranks, the same length as `x`.

    Example:

    >>> rank_average([10, 30, 20, 20])
    array([1. , 4. , 2.5, 2.5])
    """
    x = np.asarray(x).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts_group = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    sizes = np.diff(np.append(starts, x.size))
    average = starts + 1 + (sizes - 1) / 2.0  # ranks start at 1
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def pearson_correlation(x, y):
    """Pearson's linear correlation coefficient (PLCC) of two samples.

    `sum((x - mean x)(y - mean y)) / sqrt(sum((x - mean x)^2) sum((y -
    mean y)^2))`, computed in float64. Equals `scipy.stats.pearsonr(x,
    y)[0]`.

    Args:
        x: array-like of `n >= 2` finite values (flattened), e.g. the
            predicted mean scores.
        y: array-like of the same size, e.g. the ground-truth mean scores.

    Returns:
        A python float in `[-1, 1]`; `nan` if `x` or `y` is constant.

    Raises:
        ValueError: if the sizes differ, are below 2, or a value is not
            finite.

    Example:

    >>> pearson_correlation([1, 2, 3, 4], [2, 4, 6, 8])
    1.0
    >>> round(pearson_correlation([1, 2, 3, 4], [1, 3, 2, 4]), 4)
    0.8
    """
    x, y = _as_pair(x, y)
    x = x - x.mean()
    y = y - y.mean()
    denominator = np.sqrt(np.sum(x * x) * np.sum(y * y))
    if denominator == 0.0:
        return float("nan")
    return float(np.clip(np.sum(x * y) / denominator, -1.0, 1.0))


def spearman_correlation(x, y):
    """Spearman's rank correlation coefficient (SRCC) of two samples.

    The Pearson correlation of the ranks; tied values get the average of the
    ranks they span, so the result equals `scipy.stats.spearmanr(x, y)[0]`
    also with ties.

    Args:
        x: array-like of `n >= 2` finite values (flattened), e.g. the
            predicted mean scores.
        y: array-like of the same size, e.g. the ground-truth mean scores.

    Returns:
        A python float in `[-1, 1]`; `nan` if `x` or `y` is constant.

    Raises:
        ValueError: if the sizes differ, are below 2, or a value is not
            finite.

    Example:

    >>> spearman_correlation([1, 2, 3, 4], [1, 4, 9, 16])  # monotone
    1.0
    >>> spearman_correlation([1, 2, 3, 4], [4, 3, 2, 1])
    -1.0
    >>> round(spearman_correlation([1, 2, 2, 3], [1, 2, 3, 3]), 4)  # ties
    0.8333
    """
    x, y = _as_pair(x, y)
    return pearson_correlation(rank_average(x), rank_average(y))
