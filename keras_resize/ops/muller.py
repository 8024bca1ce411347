"""MULLER's linear parts as 1-D matrices, folded into resize taps ahead of time.

MULLER (Tu, Milanfar & Talebi, "Multilayer Laplacian Resizer for Vision",
ICCV 2023) adds to a base resize `R` the squashed, resized band-pass details
of a Gaussian stack:

```
y = R x + sum_k tanh(w_k * R (B^k x - B^(k-1) x) + c_k),   k = 1..L
```

`R` (the base resize, optionally after the authors' integer average pooling)
and `B` (a separable 5-tap Gaussian blur with zero padding) are separable
linear maps, so every `R B^k` is a product of two 1-D matrices, one per axis.
This module computes them in numpy, once per (input size, output size), and
keeps per output sample only their non-zero taps, as `(indices, weights)`
with a fixed tap count: one pass of the separable sampler
(`keras_resize.ops.sampling.resample_separable`) then computes `R B^k x` at
the output resolution, instead of blurring at the input resolution first.

Everything here is numpy (no tensors): the results are constants of the
traced program on every backend. `resize_matrix` is the dense matrix of
the taps of `keras_resize.ops.kernels.resize_weights` (the package's one
set of interpolation kernels, evaluated in numpy).

Convention: index space, as `keras_resize.ops.kernels` (half-pixel centres
for the resize; the blur is a "same" convolution with zeros outside).
"""

import functools

import numpy as np

from keras_resize.ops import kernels
from keras_resize.ops.validation import check_choice


def _dense(out_size, in_size, index, weights):
    """Scatter-add `(out, taps)` taps into a dense `(out, in)` float64 matrix."""
    matrix = np.zeros((out_size, in_size), np.float64)
    rows = np.broadcast_to(np.arange(out_size)[:, None], index.shape)
    index = np.clip(index, 0, in_size - 1)
    np.add.at(matrix, (rows, index), weights.astype(np.float64))
    return matrix


@functools.lru_cache(maxsize=256)
def resize_matrix(in_size, out_size, method="bilinear", antialias=False):
    """The `(out_size, in_size)` matrix of a 1-D resize.

    The same linear map as `keras_resize.ops.resize` along one axis (the
    taps of `keras_resize.ops.kernels.resize_weights`, computed in numpy in
    the same float32 arithmetic), as a dense float64 array. The identity
    when the size does not change, for the methods that `resize` skips then.

    Args:
        in_size: source length, a positive python int.
        out_size: target length, a positive python int.
        method: a resize method of `keras_resize.ops.resize`.
        antialias: widen the kernel by the scale factor when downsizing.

    Returns:
        A read-only float64 numpy array of shape `(out_size, in_size)`.
    """
    check_choice("method", method, kernels.RESIZE_METHODS)
    in_size, out_size = int(in_size), int(out_size)
    if in_size == out_size and method not in ("gaussian", "mitchellcubic"):
        matrix = np.eye(in_size)
        matrix.setflags(write=False)
        return matrix
    index, weights = kernels.numpy_resize_weights(in_size, out_size, method, antialias)
    matrix = _dense(out_size, in_size, index, weights)
    matrix.setflags(write=False)
    return matrix


def gaussian_taps(kernel_size=5, stddev=1.0):
    """The normalised 1-D Gaussian of the authors' blur, float64 `(kernel_size,)`.

    `exp(-x^2 / (2 stddev^2))` at `x = -r..r` (`r = kernel_size // 2`),
    divided by its sum.
    """
    radius = kernel_size // 2
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-(x**2) / (2.0 * stddev**2))
    return taps / taps.sum()


@functools.lru_cache(maxsize=256)
def blur_matrix(size, kernel_size=5, stddev=1.0):
    """The `(size, size)` matrix of the 1-D blur with zero padding ("same")."""
    taps = gaussian_taps(kernel_size, stddev)
    radius = kernel_size // 2
    matrix = np.zeros((size, size))
    for offset, value in zip(range(-radius, radius + 1), taps, strict=True):
        matrix += np.eye(size, k=offset) * value
    matrix.setflags(write=False)
    return matrix


def pool_strides(in_height, in_width, height, width):
    """The authors' `avg_pool` strides: `in // out` per axis, or `(1, 1)`.

    Pooling happens only when both strides exceed 1 (their rule).
    """
    strides = (in_height // height, in_width // width)
    if strides[0] > 1 and strides[1] > 1:
        return strides
    return (1, 1)


@functools.lru_cache(maxsize=256)
def pool_matrix(size, stride):
    """`(size // stride, size)` matrix of a "valid" 1-D average pool."""
    out = size // stride
    matrix = np.zeros((out, size))
    for p in range(out):
        matrix[p, p * stride : (p + 1) * stride] = 1.0 / stride
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=256)
def term_matrices(
    in_size,
    out_size,
    method="bilinear",
    antialias=False,
    num_layers=2,
    kernel_size=5,
    stddev=1.0,
    stride=1,
):
    """`[R, R B, ..., R B^L]` for one axis, with `R = resize (o) pool`.

    Args:
        in_size, out_size: the axis' input and output lengths.
        method, antialias: the base resize.
        num_layers: `L`.
        kernel_size, stddev: the blur.
        stride: the average-pool stride applied before the resize (1: none).

    Returns:
        A tuple of `L + 1` float64 `(out_size, in_size)` matrices.
    """
    base = np.asarray(resize_matrix(in_size // stride, out_size, method, antialias))
    if stride > 1:
        base = base @ pool_matrix(in_size, stride)
    blur = blur_matrix(in_size, kernel_size, stddev)
    terms = [base]
    for _ in range(num_layers):
        terms.append(terms[-1] @ blur)
    for term in terms:
        term.setflags(write=False)
    return tuple(terms)


def matrix_taps(matrix):
    """The non-zero taps of each row of `matrix`, with a fixed tap count.

    Args:
        matrix: `(out, in)` numpy array.

    Returns:
        `(indices, weights)`: int32 `(out, taps)` indices, all in
        `[0, in - 1]`, and float64 `(out, taps)` weights with
        `matrix[o] @ v == sum_t weights[o, t] * v[indices[o, t]]`; `taps` is
        the widest run of non-zero entries of a row, and rows with a
        narrower run carry zero weights on their extra taps.
    """
    out_size, in_size = matrix.shape
    nonzero = matrix != 0.0
    any_nonzero = nonzero.any(axis=1)
    first = np.where(any_nonzero, np.argmax(nonzero, axis=1), 0)
    last = np.where(any_nonzero, in_size - 1 - np.argmax(nonzero[:, ::-1], axis=1), 0)
    taps = int(max(np.max(last - first + 1), 1))
    start = np.clip(first, 0, in_size - taps)
    indices = start[:, None] + np.arange(taps)[None, :]
    weights = np.take_along_axis(matrix, indices, axis=1)
    return indices.astype(np.int32), weights


@functools.lru_cache(maxsize=256)
def folded_taps(
    in_size,
    out_size,
    method="bilinear",
    antialias=False,
    num_layers=2,
    kernel_size=5,
    stddev=1.0,
    stride=1,
):
    """The taps of `R B^k`, `k = 0..L`, along one axis (see `term_matrices`).

    Returns:
        A tuple of `L + 1` pairs `(indices, weights)` (int32 and float64
        numpy arrays of shape `(out_size, taps_k)`), for
        `keras_resize.ops.sampling.resample_separable`.

    Example:

    >>> taps = folded_taps(448, 224)
    >>> [indices.shape[1] for indices, _ in taps]
    [2, 6, 10]
    """
    return tuple(
        matrix_taps(term)
        for term in term_matrices(
            in_size,
            out_size,
            method,
            antialias,
            num_layers,
            kernel_size,
            stddev,
            stride,
        )
    )
