"""Object detection at reduced scale with a saliency-guided zoom (FOVEA, LZU).

A keras-hub `RetinaNetObjectDetector` (ResNet + FPN backbone built from its
configuration, no preset download) is trained with `model.fit` on images of
`--input-size` pixels that it sees at `--scale` of that size (0.25: 256 ->
64). Three front ends decide how the pixels are spent (`--front-end`):

- `uniform`: plain downsizing with the package's resize (bilinear, no
  antialiasing, so it equals a zoom with uniform saliency exactly); the
  boxes are scaled by `--scale`. The detector's frame is the uniformly
  downsampled image.
- `fovea` (FOVEA, Thavamani et al., ICCV 2021): the image is zoomed with a
  saliency-guided warp (`keras_resize.ops.warp.zoom`) to the same size; the
  detector is trained on the zoomed images with the boxes warped into the
  zoomed frame (`warp_boxes`, the exact inverse warp), and its predicted boxes
  are unwarped back (`unwarp_boxes`) for evaluation.
- `lzu` (Learning to Zoom and Unzoom, Thavamani et al., CVPR 2023): the image
  is zoomed, the backbone and FPN run on the zoomed image, and every FPN level
  is unzoomed (`keras_resize.layers.ZoomUnzoom`, or `Zoom` + `Unzoom` for
  adaptive saliency), so the head predicts in the uniformly downsampled
  frame: head, anchors and targets are those of `uniform`.

```
uniform: image (S) --resize--> (sS) -> ResNet+FPN -> head -> boxes (sS frame) / s
fovea:   image (S) --zoom-->   (sS) -> ResNet+FPN -> head -> boxes (zoomed) -> unwarp
lzu:     image (S) --zoom-->   (sS) -> ResNet+FPN -> unzoom -> head -> boxes (sS) / s
```

The LZU zoom reads the full-resolution image, but keras-hub's detector
takes one image tensor whose size sets its anchors. So the LZU detector's
input is the full-resolution image packed into the detector's frame without
loss (`tf.nn.space_to_depth` by `1 / scale`: 256x256x1 -> 64x64x16); its
backbone (`LZUBackbone`) unpacks it (`depth_to_space`) and zooms. Anchors,
targets and predictions then live in the uniformly downsampled frame, as
LZU prescribes.

Saliency (`--saliency`, for `fovea` and `lzu`):

- `fixed`: the dataset prior, a KDE over every training box
  (`warp.dataset_saliency`, FOVEA's formula with `--kde-amplitude` and
  `--kde-bandwidth`), computed once; the warp is a constant. FOVEA's
  bandwidth, 64 for 1920-pixel-wide frames, is scaled to the input size by
  default (8.5 at 256 px): the variance per box side grows with the side.
- `adaptive`: in training, a KDE over the ground truth of each image jittered
  by a uniform +-`--jitter` pixels (`warp.jitter_boxes`: object motion between
  frames). At evaluation the saliency is the KDE of the previous frame's
  detections; these are still images, so a first pass provides them: the
  same detector run with the dataset prior (`--adaptive-first-pass fixed`,
  default) or with uniform saliency (`uniform`), keeping its detections
  with a score >= `--adaptive-score-threshold`; the second pass, zoomed by
  the KDE of those detections, gives the reported boxes. Images without such
  a detection get a uniform saliency. For `lzu` the per-image saliency
  reaches the model as one extra input channel (its top-left `grid_height
  x grid_width` values), since keras-hub's detector has one input.

Evaluation: COCO-style AP@[.5:.95], AP50, AP75, AP small / medium / large
and AR (`training.coco_metrics`, equal to pycocotools), at most 100
detections per image, in the original image frame (input size), against the
original boxes. COCO's area ranges (32^2, 96^2) are meant for ~640-pixel
images: they are scaled by `(input_size / 640)^2` (`--area-scale` overrides),
so at 256 px "small" is below 12.8^2 and "large" above 38.4^2 px^2.
Detections are decoded as in detectron2's and mmdetection's RetinaNet: the
1000 best-scoring anchors, per-class NMS at IoU 0.5, scores >= 0.05 (COCO
practice; keras-hub's default of 0.5 would cut the precision-recall curve
short), at most 100 per image (`make_predictor`).

Data (`--dataset`):

- `digits`: the offline digit detection canvases
  (`keras_resize.data.make_detection_canvases`, tight `yxyx` ink boxes, 10
  classes); train canvases from MNIST train digits, val and test from MNIST
  test digits, seeds `--data-seed`, `+1`, `+2`. `--layout full` is the
  canvases as built (digits anywhere: the dataset prior is almost flat, so a
  fixed warp is nearly the identity); `--layout band` pastes two canvases
  of half the side next to each other into the middle half of the rows, so
  objects gather in a horizontal band, as they do near the horizon in
  driving data (Argoverse-HD, LZU's and FOVEA's benchmark) where a fixed
  prior pays off. `--num-digits` then counts per half canvas.
- `coco`: TFDS `coco/2017` (80 classes; val = test = `validation`, the test
  split has no labels); crowd boxes are left out of training and are
  COCO crowd regions in the evaluation, COCO's mask areas are not used.
- `voc`: TFDS `voc/2007` (20 classes; train / validation / test splits);
  "difficult" objects are left out of training and ignored in the evaluation.

TFDS images are resized (area, aspect ratio not kept) to `--input-size`
squares and their normalised `yxyx` boxes scaled to pixels; `--data-dir` and
`--manual-dir` are passed to TFDS. `--val-size` / `--test-size` cap the TFDS
evaluation splits. When a split's size is unknown (e.g. under
`tfds.testing.mock_data`) `--steps-per-epoch` is required.

Detectors (`--detector`): `resnet_tiny` (basic-block ResNet, filters 64, 64,
128, 128, one block per stage; 2 convolutions per head, fast) and `resnet50`
(ResNet-50 v1, 4 convolutions per head, keras-hub's RetinaNet). Pyramid
levels and anchors default to the digit canvases' small objects (P2-P5,
anchor size 1, i.e. 4-50 px anchors in the detector frame); keras-hub's
RetinaNet defaults for COCO-like data are `--min-level 3 --max-level 7
--anchor-size 4`. Anchors are matched as in mmdetection and detectron2's
RetinaNet: IoU >= 0.5 positive, < 0.4 negative, and every ground-truth box
also takes its best anchor (`--no-force-match` turns that off).

Outputs under `--output-dir`: `checkpoints/{best,last}.weights.h5`,
`backup/` (`--resume`), `log.csv`, `tensorboard/`, `results.json` (AP
figures of val and test, per-class AP, training and evaluation images/s,
parameters, the arguments and the environment) and `predictions.png`
(detector input and detections vs ground truth).

Examples:

```
python -m training.detection --front-end lzu --saliency fixed --scale 0.25 \\
    --layout band --epochs 12
python -m training.detection --dataset coco --data-dir ~/tfds --detector resnet50 \\
    --input-size 640 --scale 0.5 --min-level 3 --max-level 7 --anchor-size 4 \\
    --front-end lzu --grid-shape 31 51 --batch-size 32 --strategy mirrored
```
"""

import argparse
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_resize.layers import Unzoom, Zoom, ZoomUnzoom
from keras_resize.ops import RESIZE_METHODS, resize, warp
from training import coco_metrics, common

TASK = "detection"
FRONT_ENDS = ("uniform", "fovea", "lzu")
SALIENCY_MODES = ("fixed", "adaptive")
FIRST_PASSES = ("fixed", "uniform")
LAYOUTS = ("full", "band")
DATASETS = ("digits", "coco", "voc")
TFDS_NAMES = {"coco": "coco/2017", "voc": "voc/2007"}
TFDS_SPLITS = {
    "coco": {"train": "train", "val": "validation", "test": "validation"},
    "voc": {"train": "train", "val": "validation", "test": "test"},
}
TFDS_CLASSES = {"coco": 80, "voc": 20}
BOX_FORMAT = "yxyx"
TFDS_SHUFFLE_BUFFER = 256
NMS_CANDIDATES = 1000  # anchors kept for NMS per image (detectron2: 1000 per level)

# name -> (stage filters, blocks per stage, block type, head convolutions)
DETECTORS = {
    "resnet_tiny": ([64, 64, 128, 128], [1, 1, 1, 1], "basic_block", 2),
    "resnet50": ([64, 128, 256, 512], [3, 4, 6, 3], "bottleneck_block", 4),
}
# FOVEA's KDE bandwidth (variance per box side, pixels) at Argoverse-HD's
# width; a bandwidth scales with the image side (variance ~ side^2).
FOVEA_BANDWIDTH = 64.0
FOVEA_WIDTH = 1920
ENCODER_MAX_LEVEL = 5  # ResNet: stem stride 4 (P2), then strides 2, 2, 2


# ----------------------------------------------------------------------------
# Options.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m training.detection",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = parser.add_argument_group("front end")
    group.add_argument("--front-end", choices=FRONT_ENDS, default="lzu")
    group.add_argument(
        "--saliency",
        choices=SALIENCY_MODES,
        default="fixed",
        help="fixed: dataset KDE prior; adaptive: KDE of jittered ground truth "
        "in training, of first-pass detections at evaluation (fovea, lzu)",
    )
    group.add_argument(
        "--scale",
        type=float,
        default=0.25,
        help="detector frame / input size, 1/k for an integer k (default 0.25)",
    )
    group.add_argument(
        "--grid-shape",
        type=int,
        nargs=2,
        default=(31, 31),
        metavar=("HEIGHT", "WIDTH"),
        help="coarse warp grid (default 31 31; FOVEA 31 51, LZU 27 48 for 16:9)",
    )
    group.add_argument(
        "--fwhm",
        type=float,
        default=warp.DEFAULT_FWHM,
        help="attraction kernel FWHM in grid nodes (default: %(default)s)",
    )
    group.add_argument("--kde-amplitude", type=float, default=1.0)
    group.add_argument(
        "--kde-bandwidth",
        type=float,
        default=None,
        help="KDE variance per box side, input pixels (default: FOVEA's 64 at "
        "Argoverse's 1920-px width, scaled: 64 * input size / 1920)",
    )
    group.add_argument(
        "--jitter",
        type=float,
        default=8.0,
        help="adaptive training: uniform +-J pixel box shift (default 8)",
    )
    group.add_argument("--adaptive-first-pass", choices=FIRST_PASSES, default="fixed")
    group.add_argument("--adaptive-score-threshold", type=float, default=0.3)
    group.add_argument(
        "--uniform-method",
        choices=RESIZE_METHODS,
        default="bilinear",
        help="resize of the uniform front end (default bilinear, no antialias)",
    )

    group = parser.add_argument_group("detector")
    group.add_argument("--detector", choices=sorted(DETECTORS), default="resnet_tiny")
    group.add_argument("--min-level", type=int, default=2)
    group.add_argument("--max-level", type=int, default=5)
    group.add_argument("--anchor-size", type=float, default=1.0)
    group.add_argument(
        "--head-conv-layers",
        type=int,
        default=None,
        help="convolutions per head (default: 2 resnet_tiny, 4 resnet50)",
    )
    group.add_argument(
        "--no-force-match",
        dest="force_match",
        action="store_false",
        help="do not give every ground-truth box its best anchor",
    )
    group.add_argument("--score-threshold", type=float, default=0.05)
    group.add_argument("--nms-iou", type=float, default=0.5)
    group.add_argument("--max-detections", type=int, default=100)

    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=DATASETS, default="digits")
    group.add_argument(
        "--input-size",
        type=int,
        default=256,
        help="full resolution (square side); digits: the canvas side",
    )
    group.add_argument("--layout", choices=LAYOUTS, default="full", help="digits")
    group.add_argument(
        "--digit-size", type=int, nargs=2, default=(16, 64), metavar=("MIN", "MAX")
    )
    group.add_argument(
        "--num-digits", type=int, nargs=2, default=(1, 4), metavar=("MIN", "MAX")
    )
    group.add_argument("--train-size", type=int, default=2000, help="digits")
    group.add_argument(
        "--val-size", type=int, default=None, help="digits: 250; TFDS: a cap"
    )
    group.add_argument(
        "--test-size", type=int, default=None, help="digits: 1000; TFDS: a cap"
    )
    group.add_argument("--data-seed", type=int, default=0, help="digits")
    group.add_argument(
        "--class-agnostic",
        action="store_true",
        help="one class for every object (detect digits, not which digit)",
    )
    group.add_argument(
        "--max-boxes", type=int, default=None, help="padded boxes per image"
    )
    group.add_argument("--data-dir", default=None, help="TFDS data folder")
    group.add_argument("--manual-dir", default=None, help="TFDS manual downloads")
    group.add_argument(
        "--saliency-images",
        type=int,
        default=5000,
        help="TFDS: training images read for the dataset prior (default 5000)",
    )
    group.add_argument(
        "--area-scale",
        type=float,
        default=None,
        help="factor on COCO's area ranges (default (input_size / 640)^2)",
    )
    group.add_argument("--no-figure", action="store_true", help="skip predictions.png")
    common.add_common_arguments(parser)
    parser.set_defaults(
        optimizer="adamw",
        learning_rate=1e-3,
        weight_decay=1e-4,
        batch_size=16,
        epochs=12,
        warmup_epochs=0.5,
    )
    args = parser.parse_args(argv)
    _check_args(parser, args)
    return args


def _check_args(parser, args):
    for name in ("batch_size", "epochs", "train_size", "input_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("val_size", "test_size", "max_boxes", "head_conv_layers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if not 0 < args.scale <= 1:
        parser.error(f"--scale must be in (0, 1], got {args.scale}")
    block = round(1 / args.scale)
    if abs(block * args.scale - 1) > 1e-6:
        parser.error(f"--scale must be 1/k for an integer k, got {args.scale}")
    if args.input_size % block:
        parser.error(
            f"--input-size {args.input_size} must be divisible by 1/--scale = {block}"
        )
    frame = args.input_size // block
    if not 2 <= args.min_level <= args.max_level:
        parser.error(
            f"--min-level {args.min_level} and --max-level {args.max_level}: "
            "need 2 <= min <= max"
        )
    if args.min_level > ENCODER_MAX_LEVEL:
        parser.error(f"--min-level must be <= {ENCODER_MAX_LEVEL}")
    if frame % 2**ENCODER_MAX_LEVEL:
        parser.error(
            f"the detector frame --input-size x --scale = {frame} must be "
            f"divisible by {2**ENCODER_MAX_LEVEL} (the ResNet's stride)"
        )
    if args.front_end != "uniform":
        gh, gw = args.grid_shape
        if gh < 2 or gw < 2 or gh > frame or gw > frame:
            parser.error(
                f"--grid-shape {gh} {gw}: need 2 <= grid <= the detector frame "
                f"({frame})"
            )
    if args.kde_bandwidth is None:
        args.kde_bandwidth = FOVEA_BANDWIDTH * args.input_size / FOVEA_WIDTH
    for name in ("fwhm", "kde_amplitude", "kde_bandwidth", "anchor_size"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if not (math.isfinite(args.jitter) and args.jitter >= 0):
        parser.error(f"--jitter must be >= 0, got {args.jitter}")
    for name in ("adaptive_score_threshold", "score_threshold", "nms_iou"):
        value = getattr(args, name)
        if not 0 <= value <= 1:
            parser.error(f"--{name.replace('_', '-')} must be in [0, 1], got {value}")
    if args.max_detections < 1:
        parser.error("--max-detections must be >= 1")
    if args.area_scale is not None and not args.area_scale > 0:
        parser.error(f"--area-scale must be positive, got {args.area_scale}")
    if args.dataset == "digits":
        low, high = args.digit_size
        side = args.input_size // 2 if args.layout == "band" else args.input_size
        if not 8 <= low <= high <= side:
            parser.error(
                f"--digit-size {low} {high}: need 8 <= min <= max <= {side} "
                f"(the {'half ' if args.layout == 'band' else ''}canvas side)"
            )
        if not 1 <= args.num_digits[0] <= args.num_digits[1]:
            parser.error(f"--num-digits {args.num_digits}: need 1 <= min <= max")
    if args.output_dir is None:
        name = args.front_end
        if args.front_end != "uniform":
            name += f"_{args.saliency}"
        args.output_dir = os.path.join(
            "runs", TASK, f"{name}_scale{args.scale:g}_seed{args.seed}"
        )
    return args


# ----------------------------------------------------------------------------
# Data: full-resolution images in [0, 1] and padded yxyx pixel boxes.


def _targets(boxes, labels, crowd=None, ignore=None):
    crowd = np.zeros(labels.shape, bool) if crowd is None else crowd
    ignore = np.zeros(labels.shape, bool) if ignore is None else ignore
    return {"boxes": boxes, "labels": labels, "crowd": crowd, "ignore": ignore}


def _band_layout(images, boxes, labels, side):
    """Pairs of half-side canvases side by side in the middle rows."""
    half, top = side // 2, side // 4
    count = len(images) // 2
    pairs = images.reshape(count, 2, half, half, images.shape[-1])
    band = np.concatenate([pairs[:, 0], pairs[:, 1]], axis=2)  # (n, half, side, c)
    out = np.zeros((count, side, side, images.shape[-1]), images.dtype)
    out[:, top : top + half] = band
    offsets = (
        np.array([top, 0, top, 0], np.float32),
        np.array([top, half, top, half], np.float32),
    )
    out_boxes = [
        np.concatenate([boxes[2 * i] + offsets[0], boxes[2 * i + 1] + offsets[1]])
        for i in range(count)
    ]
    out_labels = [
        np.concatenate([labels[2 * i], labels[2 * i + 1]]) for i in range(count)
    ]
    return out, out_boxes, out_labels


def digit_arrays(args, count, seed, split):
    """Digit detection canvases as `(uint8 images, padded targets)`."""
    from keras_resize.data import make_detection_canvases, pad_boxes

    side = args.input_size
    band = args.layout == "band"
    data = make_detection_canvases(
        2 * count if band else count,
        canvas_size=side // 2 if band else side,
        num_digits=tuple(args.num_digits),
        digit_size=tuple(args.digit_size),
        seed=seed,
        split=split,
        channels=1,
    )
    images = np.round(data.pop("images") * 255.0).astype(np.uint8)
    boxes, labels = data["boxes"], data["labels"]
    if band:
        images, boxes, labels = _band_layout(images, boxes, labels, side)
    boxes, labels = pad_boxes(boxes, labels, args.max_boxes)
    return images, _targets(boxes, labels)


def _digits(args):
    val_size = args.val_size or 250
    test_size = args.test_size or 1000
    out = {}
    for offset, (name, count, split) in enumerate(
        (
            ("train", args.train_size, "train"),
            ("val", val_size, "test"),
            ("test", test_size, "test"),
        )
    ):
        images, targets = digit_arrays(args, count, args.data_seed + offset, split)
        dataset = tf.data.Dataset.from_tensor_slices((images, targets))
        if name == "train":
            train_boxes = targets["boxes"][targets["labels"] >= 0]
            # uint8 in the buffer: a quarter of the float32 memory
            dataset = dataset.shuffle(
                count, seed=args.seed, reshuffle_each_iteration=True
            )
        out[name] = dataset
    info = {
        "num_classes": 10,
        "channels": 1,
        "train_examples": args.train_size,
        "train_boxes": train_boxes,
    }
    return out, info


def _tfds_targets(objects, dataset, size, max_boxes):
    """TFDS objects -> padded `{"boxes" (pixels, yxyx), "labels", "crowd",
    "ignore"}` for an image resized to `size` squares."""
    flag = objects["is_crowd"] if dataset == "coco" else objects["is_difficult"]
    # real data has one entry per object in every field; mock data draws
    # each field's length independently: use the common length
    count = tf.reduce_min(
        tf.stack(
            [tf.shape(objects["bbox"])[0], tf.shape(objects["label"])[0],
             tf.shape(flag)[0]]
        )
    )  # fmt: skip
    count = tf.minimum(count, max_boxes)
    bbox = objects["bbox"][:count] * float(size)  # normalised yxyx -> pixels
    y1 = tf.minimum(bbox[:, 0], bbox[:, 2])
    y2 = tf.maximum(bbox[:, 0], bbox[:, 2])
    x1 = tf.minimum(bbox[:, 1], bbox[:, 3])
    x2 = tf.maximum(bbox[:, 1], bbox[:, 3])
    boxes = tf.stack([y1, x1, y2, x2], axis=-1)
    labels = tf.cast(objects["label"][:count], tf.int32)
    flag = tf.cast(flag[:count], tf.bool)
    pad = max_boxes - count
    boxes = tf.ensure_shape(
        tf.pad(boxes, [[0, pad], [0, 0]], constant_values=-1.0), (max_boxes, 4)
    )
    labels = tf.ensure_shape(
        tf.pad(labels, [[0, pad]], constant_values=-1), (max_boxes,)
    )
    flag = tf.ensure_shape(tf.pad(flag, [[0, pad]]), (max_boxes,))
    no = tf.zeros_like(flag)
    crowd, ignore = (flag, no) if dataset == "coco" else (no, flag)
    return {"boxes": boxes, "labels": labels, "crowd": crowd, "ignore": ignore}


def _tfds_example(example, dataset, size, max_boxes):
    """One TFDS example -> (image (size, size, 3) in [0, 1], padded targets)."""
    image = tf.image.convert_image_dtype(example["image"], tf.float32)
    image = resize(tf.expand_dims(image, 0), (size, size), "area")[0]
    return image, _tfds_targets(example["objects"], dataset, size, max_boxes)


def _tfds_prior_boxes(builder, split, args):
    """Boxes (input pixels) of the first `--saliency-images` training images.

    Read without decoding the images (the boxes are normalised). Under
    `tfds.testing.mock_data` that path fails (the mock re-encodes random
    examples whose fields have unequal lengths); it then reads decoded ones.
    """
    import tensorflow_datasets as tfds

    def read(decoders):
        source = builder.as_dataset(split=split, decoders=decoders)
        targets = source.take(args.saliency_images).map(
            lambda e: _tfds_targets(
                e["objects"], args.dataset, args.input_size, args.max_boxes
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        boxes = []
        for example in targets.as_numpy_iterator():
            keep = (example["labels"] >= 0) & ~example["crowd"] & ~example["ignore"]
            boxes.append(example["boxes"][keep])
        return np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)

    try:
        return read({"image": tfds.decode.SkipDecoding()})
    except tf.errors.InvalidArgumentError:
        return read(None)


def _tfds(args):
    import tensorflow_datasets as tfds

    name = TFDS_NAMES[args.dataset]
    builder = tfds.builder(name, data_dir=args.data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir)
    )
    splits = TFDS_SPLITS[args.dataset]
    caps = {"train": None, "val": args.val_size, "test": args.test_size}
    out = {}
    for key, split in splits.items():
        dataset = builder.as_dataset(split=split, shuffle_files=key == "train")
        if caps[key]:
            dataset = dataset.take(caps[key])
        if key == "train":  # decoded uint8 images of any size: a small buffer
            dataset = dataset.shuffle(
                TFDS_SHUFFLE_BUFFER, seed=args.seed, reshuffle_each_iteration=True
            )
        out[key] = dataset.map(
            lambda example: _tfds_example(
                example, args.dataset, args.input_size, args.max_boxes
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    try:
        examples = builder.info.splits[splits["train"]].num_examples
    except KeyError:  # split sizes unknown (e.g. tfds.testing.mock_data)
        examples = None
    info = {
        "num_classes": TFDS_CLASSES[args.dataset],
        "channels": 3,
        "train_examples": examples,
        "train_boxes": _tfds_prior_boxes(builder, splits["train"], args),
    }
    return out, info


def _one_class(image, targets):
    """Every object's label becomes 0 (padding stays -1)."""
    labels = targets["labels"]
    labels = tf.where(labels >= 0, tf.zeros_like(labels), labels)
    return image, {**targets, "labels": labels}


def make_datasets(args):
    """`(splits, info)`: unbatched `{"train", "val", "test"}` datasets of
    `(image, {"boxes", "labels", "crowd", "ignore"})` at full resolution
    (images uint8 for the digits, float32 in [0, 1] for TFDS; `as_float`
    makes both float), the training split shuffled, and `{"num_classes",
    "channels", "train_examples", "train_boxes", "steps_per_epoch"}`."""
    if args.max_boxes is None:
        if args.dataset == "digits":
            per_canvas = args.num_digits[1]
            args.max_boxes = 2 * per_canvas if args.layout == "band" else per_canvas
        else:
            args.max_boxes = 100
    if args.dataset == "digits":
        splits, info = _digits(args)
    else:
        splits, info = _tfds(args)
    if args.class_agnostic:
        splits = {name: split.map(_one_class) for name, split in splits.items()}
        info["num_classes"] = 1
    steps = args.steps_per_epoch
    if steps is None:
        if not info["train_examples"]:
            raise ValueError(
                "The training split has an unknown size: pass --steps-per-epoch."
            )
        steps = -(-info["train_examples"] // args.batch_size)
    info["steps_per_epoch"] = steps
    return splits, info


# ----------------------------------------------------------------------------
# Front ends (tf.data side): the detector's input and the box frames.


class FrontEnd:
    """The pixel-side half of a front end: inputs, box transforms, saliency.

    Args:
        kind: `"uniform"`, `"fovea"` or `"lzu"`.
        saliency: `"fixed"` or `"adaptive"`.
        input_size: side of the full-resolution images.
        scale: detector frame / input size (`1 / block` for an integer block).
        prior: `(grid_height, grid_width)` dataset saliency (the fixed warp,
            and the first pass of adaptive evaluation).
        fwhm, kde_amplitude, kde_bandwidth, jitter: the warp and the KDE.
        first_pass: `"fixed"` or `"uniform"` saliency of the first pass of
            adaptive evaluation.
        uniform_method: the resize method of `"uniform"`.
    """

    def __init__(
        self,
        kind,
        saliency,
        input_size,
        scale,
        prior,
        fwhm=warp.DEFAULT_FWHM,
        kde_amplitude=1.0,
        kde_bandwidth=64.0,
        jitter=8.0,
        first_pass="fixed",
        uniform_method="bilinear",
    ):
        self.kind = kind
        self.adaptive = kind != "uniform" and saliency == "adaptive"
        self.input_size = int(input_size)
        self.block = round(1 / scale)
        self.frame = self.input_size // self.block
        self.scale = 1.0 / self.block
        self.prior = np.asarray(prior, np.float64)
        self.grid_shape = tuple(self.prior.shape)
        self.fwhm = fwhm
        self.kde_amplitude = kde_amplitude
        self.kde_bandwidth = kde_bandwidth
        self.jitter = jitter
        self.uniform_method = uniform_method
        first = self.prior
        if first_pass == "uniform":
            first = np.full(self.grid_shape, 1.0 / np.prod(self.grid_shape))
        self.first_pass = tf.constant(first, tf.float32)
        self.fixed_grid = None
        if kind != "uniform":
            self.fixed_grid = tf.constant(
                warp.fixed_warp(self.prior, (self.frame, self.frame), fwhm=fwhm)[
                    "grid"
                ],
                tf.float32,
            )

    @property
    def size(self):
        return (self.input_size, self.input_size)

    @property
    def frame_size(self):
        return (self.frame, self.frame)

    def saliency_from_boxes(self, boxes, valid):
        """FOVEA's KDE over `(batch, n, 4)` yxyx boxes of the input frame."""
        return warp.kde_saliency(
            boxes,
            self.size,
            self.grid_shape,
            amplitude=self.kde_amplitude,
            bandwidth=self.kde_bandwidth,
            valid=valid,
            box_format=BOX_FORMAT,
        )

    def first_pass_saliency(self, batch):
        return tf.broadcast_to(self.first_pass, [batch, *self.grid_shape])

    def grid(self, saliency=None):
        """The zoom's coarse grid: the fixed one, or that of `saliency`."""
        if saliency is None:
            return self.fixed_grid
        return warp.coarse_grid(saliency, fwhm=self.fwhm)

    def inputs(self, images, saliency=None):
        """Full-resolution images -> `(detector input, zoom grid or None)`.

        `saliency` (`(batch, gh, gw)`) is used by adaptive front ends; for
        them it is required by `lzu` and optional for `fovea` (default: the
        fixed grid).
        """
        if self.kind == "uniform":
            return resize(images, self.frame_size, self.uniform_method), None
        if self.kind == "fovea":
            grid = self.grid(saliency)
            return warp.zoom(images, grid, self.frame_size), grid
        packed = tf.nn.space_to_depth(images, self.block)
        if not self.adaptive:
            return packed, None
        gh, gw = self.grid_shape
        plane = tf.pad(
            tf.cast(saliency, packed.dtype),
            [[0, 0], [0, self.frame - gh], [0, self.frame - gw]],
        )
        return tf.concat([packed, tf.expand_dims(plane, -1)], axis=-1), None

    def to_frame(self, boxes, valid, grid=None):
        """Input-frame boxes -> the detector's frame (padding kept)."""
        if self.kind == "fovea":
            return warp.warp_boxes(
                boxes, grid, self.size, self.frame_size, box_format=BOX_FORMAT,
                valid=valid,
            )  # fmt: skip
        return tf.where(tf.expand_dims(valid, -1), boxes * self.scale, boxes)

    def to_input(self, boxes, valid, grid=None):
        """Detector-frame boxes -> the input frame (padding kept)."""
        if self.kind == "fovea":
            return warp.unwarp_boxes(
                boxes, grid, self.frame_size, self.size, box_format=BOX_FORMAT,
                valid=valid,
            )  # fmt: skip
        return tf.where(tf.expand_dims(valid, -1), boxes / self.scale, boxes)

    def training_batch(self, images, targets, seed, jitter=None):
        """A batch of full-resolution data -> `(detector input, targets)`.

        Adaptive front ends zoom by the KDE of the ground truth jittered by
        `jitter` (default the front end's) with the stateless `seed`.
        """
        boxes, labels = targets["boxes"], targets["labels"]
        valid = labels >= 0
        saliency = None
        if self.adaptive:
            jitter = self.jitter if jitter is None else jitter
            moved = warp.jitter_boxes(
                tf.where(tf.expand_dims(valid, -1), boxes, tf.zeros_like(boxes)),
                float(jitter),
                seed,
                box_format=BOX_FORMAT,
            )
            saliency = self.saliency_from_boxes(moved, valid)
        x, grid = self.inputs(images, saliency)
        if self.kind == "fovea" and grid is None:
            grid = self.fixed_grid
        frame_boxes = self.to_frame(boxes, valid, grid)
        return x, {"boxes": frame_boxes, "labels": labels}


def _training_only(targets):
    """Crowd and ignored boxes are not training targets: make them padding."""
    drop = targets["crowd"] | targets["ignore"]
    labels = tf.where(drop, -1, targets["labels"])
    boxes = tf.where(tf.expand_dims(drop, -1), -1.0, targets["boxes"])
    return {"boxes": boxes, "labels": labels}


def as_float(images):
    """uint8 images -> float32 in [0, 1]; float images pass through."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def training_dataset(dataset, front_end, args, repeat, jitter=None):
    """Unbatched full-resolution data -> batched detector training data.

    With `repeat` the data repeats and partial batches are dropped (the
    training split); `jitter` overrides the front end's (e.g. 0 for
    validation).
    """
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(args.batch_size, drop_remainder=repeat).enumerate()

    def prepare(index, batch):
        images, targets = batch
        seed = tf.stack([tf.cast(args.seed, tf.int64), index])
        return front_end.training_batch(
            as_float(images), _training_only(targets), seed, jitter
        )

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------
# Models.


@keras.saving.register_keras_serializable(package="keras_resize_training")
class UnpackFrame(keras.layers.Layer):
    """Packed detector-frame input -> the full-resolution image (+ saliency).

    The inverse of `tf.nn.space_to_depth(images, block_size)`; with
    `grid_shape` the last channel carries a saliency map in its top-left
    `grid_shape` corner, returned as `(batch, grid_height, grid_width)`.
    """

    def __init__(self, block_size, channels, grid_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.block_size = int(block_size)
        self.channels = int(channels)
        self.grid_shape = None if grid_shape is None else tuple(grid_shape)

    def call(self, inputs):
        pixels = self.channels * self.block_size**2
        image = tf.nn.depth_to_space(inputs[..., :pixels], self.block_size)
        if self.grid_shape is None:
            return image
        gh, gw = self.grid_shape
        saliency = tf.cast(inputs[:, :gh, :gw, pixels], tf.float32)
        return image, saliency

    def compute_output_shape(self, input_shape):
        batch, height, width = input_shape[:3]
        b = self.block_size
        image = (
            batch,
            None if height is None else height * b,
            None if width is None else width * b,
            self.channels,
        )
        if self.grid_shape is None:
            return image
        return image, (batch, *self.grid_shape)

    def compute_output_spec(self, inputs):
        shapes = self.compute_output_shape(tuple(inputs.shape))
        if self.grid_shape is None:
            return keras.KerasTensor(shapes, dtype=self.compute_dtype)
        return (
            keras.KerasTensor(shapes[0], dtype=self.compute_dtype),
            keras.KerasTensor(shapes[1], dtype="float32"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "block_size": self.block_size,
            "channels": self.channels,
            "grid_shape": self.grid_shape,
        }


def _lzu_backbone_class():
    import keras_hub

    @keras.saving.register_keras_serializable(package="keras_resize_training")
    class LZUBackbone(keras_hub.models.Backbone):
        """Zoom -> ResNet + FPN -> unzoom every level, on a packed input.

        Takes the full-resolution image packed into the detector's frame
        (`UnpackFrame`), zooms it to the frame with a saliency-guided warp,
        runs `detector_backbone` (a `RetinaNetBackbone` built for the frame
        size) and unzooms each FPN level into the uniformly downsampled
        frame, so keras-hub's RetinaNet head, anchors and targets are those
        of plain downsizing. `saliency` is the fixed `(gh, gw)` prior
        (`ZoomUnzoom`: warps computed once) or `None` for a per-image
        saliency carried by the input's last channel (`Zoom` + `Unzoom`).
        """

        def __init__(
            self,
            detector_backbone,
            block_size,
            saliency=None,
            grid_shape=warp.GRID_SHAPE,
            fwhm=warp.DEFAULT_FWHM,
            dtype=None,
            **kwargs,
        ):
            height, width, channels = detector_backbone.image_shape
            adaptive = saliency is None
            grid_shape = tuple(grid_shape) if adaptive else tuple(np.shape(saliency))
            packed = channels * block_size**2 + (1 if adaptive else 0)
            inputs = keras.Input((height, width, packed), name="images")
            unpack = UnpackFrame(
                block_size, channels, grid_shape if adaptive else None, name="unpack"
            )
            if adaptive:
                image, saliency_map = unpack(inputs)
                zoomed, grid = Zoom(
                    height,
                    width,
                    saliency="uniform",
                    grid_shape=grid_shape,
                    fwhm=fwhm,
                    return_grid=True,
                    name="zoom",
                )(image, saliency_map)
                features = detector_backbone(zoomed)
                outputs = Unzoom(fwhm=fwhm, name="unzoom")(features, grid)
            else:
                outputs = ZoomUnzoom(
                    detector_backbone,
                    height,
                    width,
                    saliency=np.asarray(saliency, np.float64),
                    fwhm=fwhm,
                    name="zoom_unzoom",
                )(unpack(inputs))
            super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
            self.detector_backbone = detector_backbone
            self.block_size = int(block_size)
            self.saliency = None if adaptive else np.asarray(saliency, np.float64)
            self.grid_shape = grid_shape
            self.fwhm = float(fwhm)
            self.min_level = detector_backbone.min_level
            self.max_level = detector_backbone.max_level
            self.image_shape = (height, width, packed)

        def get_config(self):
            return {
                **super().get_config(),
                "detector_backbone": keras.layers.serialize(self.detector_backbone),
                "block_size": self.block_size,
                "saliency": None if self.saliency is None else self.saliency.tolist(),
                "grid_shape": self.grid_shape,
                "fwhm": self.fwhm,
            }

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            config["detector_backbone"] = keras.layers.deserialize(
                config["detector_backbone"]
            )
            return super().from_config(config)

    return LZUBackbone


_LZU_BACKBONE = None


def lzu_backbone(detector_backbone, block_size, saliency=None, **kwargs):
    """An `LZUBackbone` (defined lazily: it subclasses a keras-hub class)."""
    global _LZU_BACKBONE
    if _LZU_BACKBONE is None:
        _LZU_BACKBONE = _lzu_backbone_class()
    return _LZU_BACKBONE(detector_backbone, block_size, saliency, **kwargs)


def _low_quality_matcher(positive_threshold=0.5, negative_threshold=0.4):
    """keras-hub's `BoxMatcher` plus low-quality matches, done right.

    Rows are anchors, columns ground-truth boxes: IoU >= 0.5 positive, < 0.4
    background, between ignored; then every real ground-truth box (a column
    with some positive IoU; `-1` padding rows have none) also takes its best
    anchor as a positive (mmdetection's `min_pos_iou=0`, detectron2's
    `allow_low_quality_matches`). keras-hub 0.32's own
    `force_match_for_each_col` cannot be used: it takes the argmax over its
    similarity matrix padded with a column of -1, so an anchor can be
    "matched" to that column, one past the ground truth, and the target
    gather fails (`indices[...] = max_boxes is not in [0, max_boxes)`).
    """
    from keras import ops
    from keras_hub.src.layers.modeling.box_matcher import BoxMatcher

    class LowQualityBoxMatcher(BoxMatcher):
        def call(self, similarity_matrix):
            columns, values = super().call(similarity_matrix)
            squeeze = len(similarity_matrix.shape) == 2
            if squeeze:
                similarity_matrix = ops.expand_dims(similarity_matrix, 0)
                columns, values = columns[None], values[None]
            num_rows = ops.shape(similarity_matrix)[1]
            best_rows = ops.argmax(similarity_matrix, axis=1)  # (batch, cols)
            real = ops.max(similarity_matrix, axis=1) > 0  # (batch, cols)
            mapping = ops.one_hot(best_rows, num_rows) * ops.cast(
                ops.expand_dims(real, -1), "float32"
            )  # (batch, cols, rows)
            forced = ops.max(mapping, axis=1) > 0  # (batch, rows)
            forced_columns = ops.cast(ops.argmax(mapping, axis=1), columns.dtype)
            columns = ops.where(forced, forced_columns, columns)
            values = ops.where(
                forced, ops.cast(self.match_values[-1], values.dtype), values
            )
            if squeeze:
                columns, values = columns[0], values[0]
            return columns, values

    return LowQualityBoxMatcher(
        thresholds=[negative_threshold, positive_threshold],
        match_values=[-1, -2, 1],
        force_match_for_each_col=False,
    )


def build_encoder(name, frame, channels):
    """The keras-hub ResNet of `DETECTORS[name]`, for `(frame, frame)` images."""
    import keras_hub

    if name not in DETECTORS:
        raise ValueError(
            f"Unknown detector. Expected one of {sorted(DETECTORS)}. "
            f"Received: detector={name!r}"
        )
    filters, blocks, block_type, _ = DETECTORS[name]
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=list(filters),
        stackwise_num_blocks=list(blocks),
        stackwise_num_strides=[1, 2, 2, 2],
        block_type=block_type,
        use_pre_activation=False,
        image_shape=(frame, frame, channels),
    )


def build_detector(args, front_end, num_classes, channels):
    """keras-hub's `RetinaNetObjectDetector` for the front end, from config."""
    import keras_hub
    from keras_hub.src.models.retinanet.retinanet_label_encoder import (
        RetinaNetLabelEncoder,
    )

    frame = front_end.frame
    encoder = build_encoder(args.detector, frame, channels)
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder,
        min_level=args.min_level,
        max_level=args.max_level,
        use_p5=False,
        image_shape=(frame, frame, channels),
    )
    if front_end.kind == "lzu":
        backbone = lzu_backbone(
            backbone,
            front_end.block,
            None if front_end.adaptive else front_end.prior,
            grid_shape=front_end.grid_shape,
            fwhm=front_end.fwhm,
        )
    anchors = keras_hub.layers.AnchorGenerator(
        BOX_FORMAT,
        min_level=args.min_level,
        max_level=args.max_level,
        num_scales=3,
        aspect_ratios=[0.5, 1.0, 2.0],
        anchor_size=args.anchor_size,
    )
    label_encoder = RetinaNetLabelEncoder(
        anchors, bounding_box_format=BOX_FORMAT, encoding_format="center_xywh"
    )
    if args.force_match:
        label_encoder.box_matcher = _low_quality_matcher()
    decoder = keras_hub.layers.NonMaxSuppression(
        bounding_box_format=BOX_FORMAT,
        from_logits=True,
        iou_threshold=args.nms_iou,
        confidence_threshold=args.score_threshold,
        max_detections=args.max_detections,
    )
    head_layers = args.head_conv_layers or DETECTORS[args.detector][3]
    return keras_hub.models.RetinaNetObjectDetector(
        backbone=backbone,
        num_classes=num_classes,
        bounding_box_format=BOX_FORMAT,
        anchor_generator=anchors,
        label_encoder=label_encoder,
        pre_logits_num_conv_layers=head_layers,
        prediction_decoder=decoder,
    )


def compile_detector(detector, args, steps_per_epoch):
    """The detector's own losses (focal + Huber) with the shared schedule and
    optimizer (`common.make_schedule` / `make_optimizer`)."""
    total = steps_per_epoch * args.epochs
    warmup = min(int(round(args.warmup_epochs * steps_per_epoch)), total - 1)
    schedule = common.make_schedule(args.schedule, args.learning_rate, total, warmup)
    optimizer = common.make_optimizer(
        args.optimizer, schedule, args.weight_decay, args.momentum
    )
    detector.compile(
        optimizer=optimizer, jit_compile=common.jit_compile_value(args.jit_compile)
    )
    return detector


# ----------------------------------------------------------------------------
# Evaluation.


def make_predictor(detector, args):
    """`x -> detections` (`boxes` yxyx in the detector's frame, `confidence`,
    `labels`, `num_detections`), a `tf.function` in inference mode.

    Decoding as in detectron2's and mmdetection's RetinaNet: the box deltas
    of the `NMS_CANDIDATES` best-scoring anchors (sigmoid class scores,
    best class) are decoded with keras-hub's anchors and box coding, then
    per-class NMS (`tf.image.combined_non_max_suppression`) at IoU
    `--nms-iou`, score >= `--score-threshold`, at most `--max-detections`
    per image. keras-hub's own decoder (`detector.predict`) runs
    class-agnostic NMS over every anchor, which takes seconds per image on
    a CPU at 128x128 with P2 (12k anchors); its `predict_on_batch` also
    fails on its one-element data tuple in keras-hub 0.32.
    """
    from keras.utils import bounding_boxes

    anchor_generator = detector.anchor_generator

    @tf.function(autograph=False)
    def predictor(x):
        outputs = detector(x, training=False)
        anchors = tf.concat(list(anchor_generator(x).values()), axis=0)
        shape = tf.shape(x)
        boxes = bounding_boxes.decode_deltas_to_boxes(
            anchors=anchors,
            boxes_delta=tf.cast(outputs["bbox_regression"], tf.float32),
            anchor_format=anchor_generator.bounding_box_format,
            box_format=BOX_FORMAT,
            encoded_format="center_xywh",
            image_shape=(shape[1], shape[2], shape[3]),
        )
        scores = tf.sigmoid(tf.cast(outputs["cls_logits"], tf.float32))
        count = min(NMS_CANDIDATES, int(anchors.shape[0]))
        _, best = tf.math.top_k(tf.reduce_max(scores, axis=-1), k=count)
        boxes = tf.gather(boxes, best, batch_dims=1)
        scores = tf.gather(scores, best, batch_dims=1)
        result = tf.image.combined_non_max_suppression(
            tf.expand_dims(boxes, 2),
            scores,
            max_output_size_per_class=args.max_detections,
            max_total_size=args.max_detections,
            iou_threshold=args.nms_iou,
            score_threshold=args.score_threshold,
            clip_boxes=False,
        )
        return {
            "boxes": result.nmsed_boxes,
            "confidence": result.nmsed_scores,
            "labels": tf.cast(result.nmsed_classes, tf.int32),
            "num_detections": result.valid_detections,
        }

    return predictor


def predict(predictor, front_end, images, saliency=None):
    """Detections of full-resolution `images`, in the input frame (numpy).

    `predictor` is a `make_predictor(...)`. Boxes are clipped to the
    detector's frame before they are mapped back (keras-hub decodes box
    deltas without bounds: an early, untrained detector can predict boxes
    far outside the image, or non-finite ones, which are dropped).
    """
    x, grid = front_end.inputs(images, saliency)
    out = {key: value.numpy() for key, value in predictor(x).items()}
    labels = out["labels"]
    count = out["num_detections"].reshape(-1, 1)
    valid = (labels >= 0) & (np.arange(labels.shape[1])[None, :] < count)
    valid &= np.all(np.isfinite(out["boxes"]), axis=-1)
    boxes = np.where(
        valid[..., None], np.clip(out["boxes"], 0.0, float(front_end.frame)), -1.0
    )
    boxes = front_end.to_input(tf.constant(boxes, tf.float32), tf.constant(valid), grid)
    return {
        "boxes": np.asarray(boxes),
        "scores": np.asarray(out["confidence"]),
        "labels": labels,
        "valid": valid,
    }


def detect(predictor, front_end, images, score_threshold=0.3):
    """One or two passes: adaptive front ends zoom by the first pass' boxes.

    Returns `(detections, saliency of the second pass or None)`.
    """
    saliency = None
    if front_end.adaptive:
        batch = int(images.shape[0])
        first = predict(
            predictor, front_end, images, front_end.first_pass_saliency(batch)
        )
        keep = first["valid"] & (first["scores"] >= score_threshold)
        saliency = front_end.saliency_from_boxes(
            tf.constant(first["boxes"], tf.float32), tf.constant(keep)
        )
    return predict(predictor, front_end, images, saliency), saliency


def evaluate(predictor, front_end, dataset, args, num_classes, log=None):
    """COCO figures of `dataset` (unbatched full-resolution data).

    `predictor` is a `make_predictor(...)`. Returns `(metrics dict with
    "per_class_AP", images per second)`.
    """
    scale = args.area_scale
    if scale is None:
        scale = coco_metrics.area_scale_for(args.input_size)
    evaluator = coco_metrics.COCOEvaluator(
        num_classes,
        box_format=BOX_FORMAT,
        area_ranges=coco_metrics.area_ranges(scale),
        max_detections=args.max_detections,
    )
    images_seen, seconds = 0, 0.0
    for step, (images, targets) in enumerate(dataset.batch(args.batch_size)):
        images = as_float(images)
        start = time.perf_counter()
        out, _ = detect(predictor, front_end, images, args.adaptive_score_threshold)
        if step:  # the first batch carries tracing
            seconds += time.perf_counter() - start
            images_seen += int(images.shape[0])
        targets = {k: v.numpy() for k, v in targets.items()}
        for i in range(len(out["boxes"])):
            gt = targets["labels"][i] >= 0
            keep = out["valid"][i]
            evaluator.update_image(
                targets["boxes"][i][gt],
                targets["labels"][i][gt],
                out["boxes"][i][keep],
                out["scores"][i][keep],
                out["labels"][i][keep],
                gt_crowd=targets["crowd"][i][gt],
                gt_ignore=targets["ignore"][i][gt],
            )
        if log is not None and args.verbose and (step + 1) % 20 == 0:
            log(f"[{TASK}] evaluated {evaluator.num_images} images")
    rate = images_seen / seconds if seconds else float("nan")
    return evaluator.result(per_class=True), rate


def save_figure(predictor, front_end, dataset, path, count=4, score_threshold=0.3):
    """Per row: the detector's view (zoomed or resized) with the predicted
    boxes in its frame, and the input with ground truth (green) and
    detections (red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, targets = next(iter(dataset.batch(count)))
    images = as_float(images)
    out, saliency = detect(predictor, front_end, images, score_threshold)
    if front_end.kind == "uniform":
        view = resize(images, front_end.frame_size, front_end.uniform_method)
        grid = None
    else:
        grid = front_end.grid(saliency)
        view = warp.zoom(images, grid, front_end.frame_size)
    boxes = tf.constant(out["boxes"], tf.float32)
    if grid is None:
        view_boxes = boxes * front_end.scale
    else:  # lzu predicts in the uniform frame: show its boxes zoomed too
        view_boxes = warp.warp_boxes(
            boxes, grid, front_end.size, front_end.frame_size, box_format=BOX_FORMAT,
            valid=tf.constant(out["valid"]),
        )  # fmt: skip
    view_boxes = view_boxes.numpy()
    images, view = images.numpy(), view.numpy()
    fig, axes = plt.subplots(
        len(images), 2, figsize=(7, 3.4 * len(images)), squeeze=False
    )

    def draw(ax, boxes, color):
        for y1, x1, y2, x2 in boxes:
            ax.add_patch(
                plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=color, lw=1)
            )

    for row in range(len(images)):
        keep = out["valid"][row] & (out["scores"][row] >= score_threshold)
        gt = targets["labels"][row].numpy() >= 0
        for ax, picture in zip(axes[row], (view[row], images[row]), strict=True):
            picture = np.clip(picture, 0, 1)
            ax.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture,
                      cmap="gray", vmin=0, vmax=1)  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
        draw(axes[row, 0], view_boxes[row][keep], "red")
        draw(axes[row, 1], targets["boxes"][row].numpy()[gt], "lime")
        draw(axes[row, 1], out["boxes"][row][keep], "red")
        if row == 0:
            axes[row, 0].set_title(f"detector input ({front_end.kind})")
            axes[row, 1].set_title("input: ground truth / detections")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------
# The run.


def run(args):
    """Trains and evaluates one front end; writes `results.json`."""
    start = time.perf_counter()
    strategy = common.start_run(args, clear_session=True)
    splits, info = make_datasets(args)
    num_classes, channels = info["num_classes"], info["channels"]
    steps = info["steps_per_epoch"]
    prior = warp.dataset_saliency(
        info["train_boxes"],
        (args.input_size, args.input_size),
        tuple(args.grid_shape),
        amplitude=args.kde_amplitude,
        bandwidth=args.kde_bandwidth,
        box_format=BOX_FORMAT,
    )
    front_end = FrontEnd(
        args.front_end,
        args.saliency,
        args.input_size,
        args.scale,
        prior,
        fwhm=args.fwhm,
        kde_amplitude=args.kde_amplitude,
        kde_bandwidth=args.kde_bandwidth,
        jitter=args.jitter,
        first_pass=args.adaptive_first_pass,
        uniform_method=args.uniform_method,
    )
    train = training_dataset(splits["train"], front_end, args, repeat=True)
    val = training_dataset(splits["val"], front_end, args, repeat=False, jitter=0.0)
    with strategy.scope():
        detector = build_detector(args, front_end, num_classes, channels)
        compile_detector(detector, args, steps)
    history, throughput = common.fit_model(
        detector, args, train, val, steps, monitor="loss", mode="min"
    )
    results = {
        "task": TASK,
        "front_end": args.front_end,
        "saliency": None if args.front_end == "uniform" else args.saliency,
        "scale": args.scale,
        "detector": args.detector,
    }
    results["bn_recalibration_batches"] = common.maybe_recalibrate_batch_norm(
        detector, args, strategy, train
    )
    predictor = make_predictor(detector, args)
    for name in ("val", "test"):
        metrics, rate = evaluate(
            predictor, front_end, splits[name], args, num_classes, log=print
        )
        per_class = metrics.pop("per_class_AP")
        results.update(
            {f"{name}_{k}": common.finite_or_none(v) for k, v in metrics.items()}
        )
        results[f"{name}_per_class_AP"] = [common.finite_or_none(v) for v in per_class]
        results[f"{name}_images_per_sec"] = common.finite_or_none(rate)
    area_scale = args.area_scale or coco_metrics.area_scale_for(args.input_size)
    results.update(
        {
            "dataset": args.dataset,
            "layout": args.layout if args.dataset == "digits" else None,
            "num_classes": num_classes,
            "input_size": args.input_size,
            "frame_size": front_end.frame,
            "grid_shape": list(front_end.grid_shape),
            "fwhm": args.fwhm,
            "area_ranges": coco_metrics.area_ranges(area_scale),
            "prior_max_over_min": float(prior.max() / prior.min()),
            "detector_params": int(detector.count_params()),
            "backbone_params": int(detector.backbone.count_params()),
        }
    )
    results.update(
        common.training_results(
            args, strategy, steps, info["train_examples"], history, throughput
        )
    )
    if not args.no_figure:
        results["figure"] = str(
            save_figure(
                predictor,
                front_end,
                splits["test"],
                os.path.join(args.output_dir, "predictions.png"),
                score_threshold=args.adaptive_score_threshold,
            )
        )
    return common.write_run(args, results, start, summary_line)


def summary_line(results):
    name = results["front_end"]
    if results.get("saliency"):
        name += f"/{results['saliency']}"
    figures = " ".join(
        f"{key}={common.format_metric(results, f'test_{key}', '.3f')}"
        for key in ("AP", "AP50", "AP75", "APs", "APm", "APl")
    )
    return (
        f"[{TASK}] front_end={name} scale={results['scale']:g} "
        f"detector={results['detector']} test {figures} "
        f"train_img/s={common.format_metric(results, 'train_images_per_sec', '.1f')} "
        f"params={results['detector_params']} time={results['wall_time_s']:.0f}s"
    )


def main(argv=None):
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
