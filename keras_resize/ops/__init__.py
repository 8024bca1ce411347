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
from keras_resize.ops.pyramids import (
    adaptive_bin_edges,
    adaptive_pool,
    bilinear_resize_to,
    gaussian_pyramid,
    laplacian_pyramid,
    pyramid_down,
    pyramid_up,
    reconstruct_laplacian,
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
    "adaptive_bin_edges",
    "adaptive_pool",
    "bilinear_resize_to",
    "combine_taps",
    "from_index_space",
    "gather_patches",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "linear_taps",
    "nearest_taps",
    "pyramid_down",
    "pyramid_up",
    "reconstruct_laplacian",
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
