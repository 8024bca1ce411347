"""Models built from the package's layers: a small U-Net segmenter and the
dual super-resolution (DSRL) training model around any segmenter."""

from keras_resize.models.dual_sr import (
    VARIANTS,
    DualSRModel,
    segmentation_feature_model,
)
from keras_resize.models.unet import build_unet

__all__ = [
    "VARIANTS",
    "DualSRModel",
    "build_unet",
    "segmentation_feature_model",
]
