"""Models built from the package's layers: a small U-Net segmenter, the dual
super-resolution (DSRL) training model around any segmenter, and the pieces
of detectors at reduced scale (uniform / FOVEA / LZU front ends, the LZU
backbone for keras-hub detectors).

`LZUBackbone` subclasses a keras-hub class: `lzu_backbone` and the
`LZUBackbone` attribute import keras-hub on first use (an optional
dependency); importing this package does not.
"""

from keras_resize.models.dual_sr import (
    VARIANTS,
    DualSRModel,
    segmentation_feature_model,
)
from keras_resize.models.front_ends import DetectionFrontEnd
from keras_resize.models.lzu import (
    UnpackFrame,
    lzu_backbone,
    lzu_backbone_class,
    pack_frame,
)
from keras_resize.models.unet import build_unet

__all__ = [
    "VARIANTS",
    "DetectionFrontEnd",
    "DualSRModel",
    "UnpackFrame",
    "build_unet",
    "lzu_backbone",
    "lzu_backbone_class",
    "pack_frame",
    "segmentation_feature_model",
]


def __getattr__(name):
    # `keras_resize.models.LZUBackbone` imports keras-hub on first use.
    if name == "LZUBackbone":
        return lzu_backbone_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
