"""Command-line options of the detection training (`parse_args`)."""

import argparse
import math
import os

from keras_resize.models.front_ends import FIRST_PASSES, FRONT_ENDS, SALIENCY_MODES
from keras_resize.ops import RESIZE_METHODS, warp
from training.detection.model import DEFAULT_DETECTOR, DETECTORS, ENCODER_MAX_LEVEL
from training.options import add_common_arguments

TASK = "detection"
DESCRIPTION = (
    "Object detection at reduced scale with a saliency-guided zoom (FOVEA, LZU)."
)
LAYOUTS = ("full", "band")
DATASETS = ("digits", "coco", "voc", "coco_json", "voc_folder")
FILE_DATASETS = ("coco_json", "voc_folder")
# FOVEA's KDE bandwidth (variance per box side, pixels) at Argoverse-HD's
# width; a bandwidth scales with the image side (variance ~ side^2).
FOVEA_BANDWIDTH = 64.0
FOVEA_WIDTH = 1920


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m training.detection",
        description=DESCRIPTION,
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
    group.add_argument(
        "--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR
    )
    group.add_argument("--min-level", type=int, default=2)
    group.add_argument("--max-level", type=int, default=5)
    group.add_argument("--anchor-size", type=float, default=1.0)
    group.add_argument(
        "--head-conv-layers",
        type=int,
        default=None,
        help=f"convolutions per head (default: 2 {DEFAULT_DETECTOR}, 4 resnet50)",
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
    group.add_argument(
        "--data-dir", default=None, help="TFDS data folder; voc_folder: the VOC folder"
    )
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
    group.add_argument(
        "--annotations", default=None, metavar="FILE",
        help="coco_json: the training annotations (COCO JSON)",
    )  # fmt: skip
    group.add_argument(
        "--images", default=None, metavar="DIR",
        help="coco_json: the folder of the training images",
    )  # fmt: skip
    group.add_argument(
        "--val-annotations", default=None, metavar="FILE",
        help="coco_json: validation annotations (default: --held-out)",
    )  # fmt: skip
    group.add_argument(
        "--val-images", default=None, metavar="DIR",
        help="coco_json: the folder of the validation images (default: --images)",
    )  # fmt: skip
    group.add_argument(
        "--train-split", default=None, metavar="NAME",
        help="voc_folder: ImageSets/Main list of the training images "
        "(default: every annotation file)",
    )  # fmt: skip
    group.add_argument(
        "--val-split", default=None, metavar="NAME",
        help="voc_folder: ImageSets/Main list of the validation images "
        "(default: --held-out)",
    )  # fmt: skip
    group.add_argument(
        "--held-out", type=float, default=0.1, metavar="FRACTION",
        help="coco_json / voc_folder without validation annotations: the "
        "fraction of the training images held out for validation and test "
        "(default 0.1)",
    )  # fmt: skip
    group.add_argument("--no-figure", action="store_true", help="skip predictions.png")
    add_common_arguments(parser)
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
    if args.dataset == "coco_json":
        for name in ("annotations", "images"):
            if not getattr(args, name):
                parser.error(f"--dataset coco_json needs --{name}")
    if args.dataset == "voc_folder" and not args.data_dir:
        parser.error("--dataset voc_folder needs --data-dir (the VOC folder)")
    separate = args.val_annotations if args.dataset == "coco_json" else args.val_split
    if args.dataset in FILE_DATASETS and not separate and not 0 < args.held_out < 1:
        parser.error(f"--held-out must be in (0, 1), got {args.held_out}")
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
