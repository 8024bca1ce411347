"""numpy under the names of `keras.ops`, for constants computed ahead of time.

The warp's arithmetic (the attraction kernel, the inverses, the KDE) is
written once, against a namespace `xp` that is either
`keras_resize.backend.ops` (tensors of the active backend, differentiable,
traceable) or `numpy_ops` below (float64 numpy, for fixed warps and dataset
priors computed once: no backend, no graph, float64 even on JAX without
`jax_enable_x64`). Only the names the warp uses differ from numpy's own.
"""

import numpy as np


class _NumpyOps:
    """`keras.ops`-style names over numpy (`cast`, `convert_to_tensor`, ...)."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(dtype)

    @staticmethod
    def convert_to_tensor(x, dtype=None):
        return np.asarray(x, dtype)

    @staticmethod
    def shape(x):
        return list(np.shape(x))

    @staticmethod
    def is_tensor(x):
        return False


numpy_ops = _NumpyOps()
"""numpy with the `keras.ops` names the warp uses (see the module docstring)."""
