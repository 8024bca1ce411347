"""Differentiable resampling ops (functions on tensors).

Nothing in `keras_resize.ops` imports layers; layers are thin wrappers.
"""

from keras_resize.ops.kernels import (
    PADDING_MODES,
    RESIZE_METHODS,
    linear_taps,
    nearest_taps,
    reflect_coordinates,
    resize_weights,
)
from keras_resize.ops.resize import resize
from keras_resize.ops.sampling import (
    CONVENTIONS,
    combine_taps,
    from_index_space,
    gather_patches,
    resample_axis,
    resample_separable,
    sample,
    sample_separable,
    set_xla_fusion,
    to_index_space,
)

__all__ = [
    "CONVENTIONS",
    "PADDING_MODES",
    "RESIZE_METHODS",
    "combine_taps",
    "from_index_space",
    "gather_patches",
    "linear_taps",
    "nearest_taps",
    "reflect_coordinates",
    "resample_axis",
    "resample_separable",
    "set_xla_fusion",
    "resize",
    "resize_weights",
    "sample",
    "sample_separable",
    "to_index_space",
]
