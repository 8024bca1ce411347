"""Keras layers (thin, serializable wrappers over `keras_resize.ops`).

Importing this package registers every resizer in `registry`.
"""

from keras_resize.layers.downsizenet_resize import DownsizeNetResize
from keras_resize.layers.dual_sr import (
    DualSRHead,
    SubPixelUpsampling,
    SuperResolutionDecoder,
)
from keras_resize.layers.learned_resize import LearnedResize
from keras_resize.layers.muller_resize import MullerResize
from keras_resize.layers.pyramids import (
    AtrousSpatialPyramidPooling,
    GaussianPyramid,
    LaplacianPyramid,
    PyramidPoolingModule,
    SpatialPyramidPooling,
)
from keras_resize.layers.registry import (
    available_resizers,
    describe_resizers,
    get_resizer,
    register_resizer,
)
from keras_resize.layers.resize import Resize
from keras_resize.layers.zoom import Unzoom, Zoom, ZoomUnzoom

__all__ = [
    "AtrousSpatialPyramidPooling",
    "DownsizeNetResize",
    "DualSRHead",
    "GaussianPyramid",
    "LaplacianPyramid",
    "LearnedResize",
    "MullerResize",
    "PyramidPoolingModule",
    "Resize",
    "SpatialPyramidPooling",
    "SubPixelUpsampling",
    "SuperResolutionDecoder",
    "Unzoom",
    "Zoom",
    "ZoomUnzoom",
    "available_resizers",
    "describe_resizers",
    "get_resizer",
    "register_resizer",
]
