"""Offline data: real digits, high-resolution tasks built from them, photos;
readers of the user's own AVA, COCO and Pascal VOC files.

Nothing here downloads. TensorFlow is imported lazily (by `as_dataset` and the
AVA-format and detection dataset helpers, which need it), so the loaders and
the canvas builders need numpy only and work where TensorFlow is not installed.
"""

from keras_resize.data.ava import (
    ava_dataset,
    check_image,
    load_ava,
    make_quality_fixture,
    mean_score,
    parse_ava_txt,
    split_ids,
    write_ava_txt,
)
from keras_resize.data.canvases import (
    INK_THRESHOLD,
    SEGMENTATION_NUM_CLASSES,
    as_dataset,
    default_cache_dir,
    make_classification_canvases,
    make_detection_canvases,
    make_segmentation_canvases,
    pad_boxes,
)
from keras_resize.data.detection import (
    VOC_CLASSES,
    DecodeCounter,
    DetectionFiles,
    DetectionRecord,
    detection_dataset,
    image_size,
    read_coco_json,
    read_voc,
    split_held_out,
)
from keras_resize.data.digits import (
    FASHION_MNIST_DIR,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)
from keras_resize.data.photos import (
    DEFAULT_PHOTOS,
    PHOTO_NAMES,
    load_photo,
    load_photos,
)

__all__ = [
    "DEFAULT_PHOTOS",
    "DecodeCounter",
    "DetectionFiles",
    "DetectionRecord",
    "FASHION_MNIST_DIR",
    "INK_THRESHOLD",
    "PHOTO_NAMES",
    "SEGMENTATION_NUM_CLASSES",
    "VOC_CLASSES",
    "as_dataset",
    "ava_dataset",
    "check_image",
    "default_cache_dir",
    "detection_dataset",
    "image_size",
    "load_ava",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_photo",
    "load_photos",
    "make_classification_canvases",
    "make_detection_canvases",
    "make_quality_fixture",
    "make_segmentation_canvases",
    "mean_score",
    "pad_boxes",
    "parse_ava_txt",
    "read_coco_json",
    "read_voc",
    "split_held_out",
    "split_ids",
    "write_ava_txt",
]
