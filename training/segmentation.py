"""Semantic segmentation with dual super-resolution learning (DSRL).

The network sees the image downsampled by `--factor` (e.g. 128 -> 64); the
labels stay at full resolution. Four variants of the DSRL ablation
(`--variant`, see `keras_resize.models.VARIANTS`):

- `bilinear` (a): the segmenter's logits upsampled bilinearly (fixed);
- `sssr` (b): learned upsampling of the logits (SSSR);
- `sssr_sisr` (c): SSSR + the image super-resolution branch (SISR, MSE);
- `dsrl` (d): SSSR + SISR + the feature affinity loss.

```
image (H, W) --area / factor--> (H/f, W/f) -> segmenter -> logits (H/f, W/f)
    -> SSSR upsampling -> logits (H, W)  <- cross-entropy vs labels (H, W)
  encoder features -> SISR decoder -> image (H, W)  <- MSE vs the image
```

Segmenters (`--segmenter`): `unet` (the package's small U-Net), or a keras-hub
`DeepLabV3ImageSegmenter` built from its configuration with no preset
download: `deeplabv3_tiny` (2-stage basic-block ResNet encoder) or
`deeplabv3_resnet50` (ResNet-50 encoder, ASPP at P5, DeepLabV3+ decoder).

Data (`--dataset`):
- `digits`: the offline digit segmentation canvases
  (`keras_resize.data.make_segmentation_canvases`, 11 classes: background
  and the ten digits); train canvases from MNIST train digits, val and test
  from MNIST test digits, seeds `--data-seed`, `+1`, `+2`.
- `cityscapes`: TFDS `cityscapes/semantic_segmentation` (manual download,
  `--manual-dir`), label ids mapped to the 19 train ids, 255 ignored.
- `oxford_iiit_pet`: TFDS trimaps (3 classes: pet, background, border).
- `voc:PATH`: PASCAL VOC 2012 segmentation from its folder
  (`PATH/JPEGImages`, `PATH/SegmentationClass` palette PNGs,
  `PATH/ImageSets/Segmentation/{train,val}.txt`); 21 classes, 255 ignored.
  (TFDS `voc/2012` holds only boxes, no masks.)

Evaluation is at full label resolution with the inference model (segmenter
+ upsampling only): mean IoU over the classes present, per-class IoU, pixel
accuracy, all from one confusion matrix. Outputs under `--output-dir`:
checkpoints, `backup/` (`--resume`), `log.csv`, `tensorboard/`,
`results.json`, and `predictions.png` (input, SISR output, prediction,
labels).

Examples:

```
python -m training.segmentation --variant dsrl --segmenter unet \\
    --label-size 128 128 --factor 2 --epochs 10
python -m training.segmentation --dataset cityscapes --manual-dir ~/cityscapes \\
    --segmenter deeplabv3_resnet50 --label-size 512 1024 --factor 2 \\
    --variant dsrl --batch-size 16 --strategy mirrored --epochs 200
```
"""

import argparse
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_resize.models import VARIANTS, DualSRModel, build_unet
from keras_resize.ops import resize
from training.callbacks import fit_model, maybe_recalibrate_batch_norm
from training.optimization import compile_model
from training.options import add_common_arguments
from training.results import format_metric, training_results, write_run
from training.runtime import start_run

TASK = "segmentation"
SEGMENTERS = ("unet", "deeplabv3_tiny", "deeplabv3_resnet50")
IGNORE = 255
# Cityscapes label id -> train id (19 classes), the official table.
CITYSCAPES_TRAIN_IDS = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
CITYSCAPES_CLASSES = 19
VOC_CLASSES = 21


def voc_colormap(count=256):
    """The PASCAL VOC palette: class index -> (r, g, b)."""
    colormap = np.zeros((count, 3), np.int64)
    for index in range(count):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        colormap[index] = (r, g, b)
    return colormap


# ----------------------------------------------------------------------------
# Options.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m training.segmentation",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Variants: " + ", ".join(VARIANTS),
    )
    group = parser.add_argument_group("segmentation options")
    group.add_argument("--variant", choices=tuple(VARIANTS), default="dsrl")
    group.add_argument("--segmenter", choices=SEGMENTERS, default="unet")
    group.add_argument(
        "--dataset",
        default="digits",
        help="digits | cityscapes | oxford_iiit_pet | voc:PATH (default: digits)",
    )
    group.add_argument(
        "--label-size",
        type=int,
        nargs=2,
        default=(128, 128),
        metavar=("HEIGHT", "WIDTH"),
        help="full (label) resolution; the network sees it / --factor",
    )
    group.add_argument("--factor", type=int, default=2, help="super-resolution factor")
    group.add_argument("--sr-weight", type=float, default=0.1, help="MSE weight (0.1)")
    group.add_argument(
        "--fa-weight", type=float, default=1.0, help="affinity weight (1.0)"
    )
    group.add_argument(
        "--fa-subsample", type=float, default=0.125, help="affinity subsampling (1/8)"
    )
    group.add_argument("--decoder-filters", type=int, default=32)
    group.add_argument("--unet-filters", type=int, nargs="+", default=(16, 32, 64))
    group.add_argument("--train-size", type=int, default=2000, help="digits only")
    group.add_argument("--val-size", type=int, default=250, help="digits only")
    group.add_argument("--test-size", type=int, default=1000, help="digits only")
    group.add_argument("--data-seed", type=int, default=0, help="digits only")
    group.add_argument("--data-dir", default=None, help="TFDS data folder")
    group.add_argument("--manual-dir", default=None, help="TFDS manual downloads")
    group.add_argument("--no-figure", action="store_true", help="skip predictions.png")
    add_common_arguments(parser)
    parser.set_defaults(
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=1e-4,
        batch_size=16,
        epochs=10,
        warmup_epochs=0.5,
    )
    args = parser.parse_args(argv)
    if args.factor < 1:
        parser.error(f"--factor must be >= 1, got {args.factor}")
    height, width = args.label_size
    if height < 1 or width < 1 or height % args.factor or width % args.factor:
        parser.error(
            f"--label-size {height} {width} must be positive and divisible by "
            f"--factor {args.factor}"
        )
    for name in ("batch_size", "epochs", "train_size", "val_size", "test_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if not (0 < args.fa_subsample <= 1):
        parser.error(f"--fa-subsample must be in (0, 1], got {args.fa_subsample}")
    known = ("digits", "cityscapes", "oxford_iiit_pet")
    if args.dataset not in known and not args.dataset.startswith("voc:"):
        parser.error(f"--dataset {args.dataset!r}: expected one of {known} or voc:PATH")
    if args.output_dir is None:
        args.output_dir = os.path.join("runs", TASK, f"{args.variant}_seed{args.seed}")
    return args


# ----------------------------------------------------------------------------
# Data.


def _downsample(images, factor):
    """Area downsampling by `factor` with the package's resize."""
    height, width = images.shape[1] // factor, images.shape[2] // factor
    return resize(images, (height, width), method="area")


def _pairs(images, labels, factor):
    """`(low-res image, {"segmentation": labels, "super_resolution": image})`."""
    low = _downsample(tf.expand_dims(images, 0), factor)[0]
    return low, {"segmentation": labels, "super_resolution": images}


def _batched(dataset, args, shuffle, examples=None):
    if shuffle:
        dataset = dataset.shuffle(
            min(examples or 1024, 2048), seed=args.seed, reshuffle_each_iteration=True
        )
    return dataset.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)


def _digits(args):
    from keras_resize.data import make_segmentation_canvases

    height, width = args.label_size
    if height != width:
        raise ValueError(f"digit canvases are square: --label-size {height} {width}")
    # digits of 3/16 to 1/2 of the canvas side: (24, 64) at 128, the default
    digit_size = (max(8, round(3 * height / 16)), max(8, height // 2))
    splits = {}
    for offset, (name, size, split) in enumerate(
        (
            ("train", args.train_size, "train"),
            ("val", args.val_size, "test"),
            ("test", args.test_size, "test"),
        )
    ):
        data = make_segmentation_canvases(
            size,
            canvas_size=height,
            digit_size=digit_size,
            seed=args.data_seed + offset,
            split=split,
            channels=3,
        )
        images = tf.constant(data["images"])
        low = np.concatenate(
            [
                _downsample(images[i : i + 256], args.factor).numpy()
                for i in range(0, size, 256)
            ]
        )
        targets = {"segmentation": data["masks"], "super_resolution": data["images"]}
        dataset = tf.data.Dataset.from_tensor_slices((low, targets))
        splits[name] = _batched(dataset, args, name == "train", size)
    steps = -(-args.train_size // args.batch_size)
    return splits, {"num_classes": data["num_classes"], "ignore_class": None,
                    "steps_per_epoch": steps, "train_examples": args.train_size}  # fmt: skip


def _tfds(args, name, splits, decode):
    import tensorflow_datasets as tfds

    download_config = tfds.download.DownloadConfig(manual_dir=args.manual_dir)
    builder = tfds.builder(name, data_dir=args.data_dir)
    builder.download_and_prepare(download_config=download_config)
    height, width = args.label_size
    out = {}
    for key, split in splits.items():
        dataset = builder.as_dataset(split=split)

        def prepare(example):
            image, labels = decode(example)
            image = tf.image.convert_image_dtype(image, tf.float32)
            image = resize(tf.expand_dims(image, 0), (height, width), "area")[0]
            labels = resize(
                tf.cast(tf.expand_dims(labels, 0), tf.float32),
                (height, width),
                "nearest",
            )[0, ..., 0]
            return _pairs(image, tf.cast(labels, tf.int32), args.factor)

        dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        out[key] = _batched(dataset, args, key == "train")
    try:
        examples = builder.info.splits[splits["train"]].num_examples
    except KeyError:  # split sizes unknown (e.g. tfds.testing.mock_data)
        examples = None
    return out, examples


def _cityscapes(args):
    table = np.full(256, IGNORE, np.int32)
    for label_id, train_id in CITYSCAPES_TRAIN_IDS.items():
        table[label_id] = train_id
    table = tf.constant(table)

    def decode(example):
        ids = tf.cast(example["segmentation_label"], tf.int32)
        return example["image_left"], tf.gather(table, ids)

    splits, examples = _tfds(
        args,
        "cityscapes/semantic_segmentation",
        {"train": "train", "val": "validation", "test": "validation"},
        decode,
    )
    return splits, {"num_classes": CITYSCAPES_CLASSES, "ignore_class": IGNORE,
                    "train_examples": examples}  # fmt: skip


def _pets(args):
    def decode(example):
        # trimap 1 pet, 2 background, 3 border -> classes 0, 1, 2 (else ignored)
        labels = tf.cast(example["segmentation_mask"], tf.int32) - 1
        valid = (labels >= 0) & (labels < 3)
        return example["image"], tf.where(valid, labels, IGNORE)

    splits, examples = _tfds(
        args,
        "oxford_iiit_pet",
        {"train": "train", "val": "test", "test": "test"},
        decode,
    )
    return splits, {
        "num_classes": 3,
        "ignore_class": IGNORE,
        "train_examples": examples,
    }


def _voc_labels(rgb):
    """VOC palette colours -> class indices (boundary and unknown -> 255)."""
    colormap = voc_colormap(VOC_CLASSES)
    keys = tf.constant(colormap[:, 0] * 65536 + colormap[:, 1] * 256 + colormap[:, 2])
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            keys, tf.range(VOC_CLASSES, dtype=tf.int64)
        ),
        default_value=IGNORE,
    )
    rgb = tf.cast(rgb, tf.int64)
    codes = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
    return tf.expand_dims(tf.cast(table.lookup(codes), tf.int32), -1)


def _voc(args):
    root = args.dataset.split(":", 1)[1]
    height, width = args.label_size
    out = {}
    examples = None
    for key, split in (("train", "train"), ("val", "val"), ("test", "val")):
        list_file = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
        if not os.path.exists(list_file):
            raise FileNotFoundError(
                f"{list_file} not found: --dataset voc:PATH expects the VOC2012 "
                "folder (JPEGImages, SegmentationClass, ImageSets/Segmentation)"
            )
        with open(list_file) as f:
            ids = [line.strip() for line in f if line.strip()]
        if key == "train":
            examples = len(ids)
        images = [os.path.join(root, "JPEGImages", f"{i}.jpg") for i in ids]
        masks = [os.path.join(root, "SegmentationClass", f"{i}.png") for i in ids]

        def prepare(image_path, mask_path):
            image = tf.io.decode_jpeg(tf.io.read_file(image_path), channels=3)
            image = tf.image.convert_image_dtype(image, tf.float32)
            labels = _voc_labels(
                tf.io.decode_png(tf.io.read_file(mask_path), channels=3)
            )
            image = resize(tf.expand_dims(image, 0), (height, width), "area")[0]
            labels = resize(
                tf.cast(tf.expand_dims(labels, 0), tf.float32),
                (height, width),
                "nearest",
            )[0, ..., 0]
            return _pairs(image, tf.cast(labels, tf.int32), args.factor)

        dataset = tf.data.Dataset.from_tensor_slices((images, masks))
        dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        out[key] = _batched(dataset, args, key == "train", len(ids))
    return out, {"num_classes": VOC_CLASSES, "ignore_class": IGNORE,
                 "train_examples": examples}  # fmt: skip


def make_datasets(args):
    """`(splits, info)`: `{"train", "val", "test"}` datasets and
    `{"num_classes", "ignore_class", "steps_per_epoch", "train_examples"}`."""
    if args.dataset == "digits":
        splits, info = _digits(args)
    elif args.dataset == "cityscapes":
        splits, info = _cityscapes(args)
    elif args.dataset == "oxford_iiit_pet":
        splits, info = _pets(args)
    else:
        splits, info = _voc(args)
    steps = args.steps_per_epoch or info.get("steps_per_epoch")
    if steps is None:
        if not info["train_examples"]:
            raise ValueError(
                "The training split has an unknown size: pass --steps-per-epoch."
            )
        steps = -(-info["train_examples"] // args.batch_size)
    info["steps_per_epoch"] = steps
    splits["train"] = splits["train"].repeat()
    return splits, info


# ----------------------------------------------------------------------------
# Models.


def build_segmenter(name, num_classes, image_shape, unet_filters=(16, 32, 64)):
    """The segmenter: low-resolution images -> logits at the same size."""
    if name == "unet":
        return build_unet(num_classes, image_shape=image_shape, filters=unet_filters)
    import keras_hub

    if name == "deeplabv3_tiny":
        encoder = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 128],
            stackwise_num_blocks=[1, 1],
            stackwise_num_strides=[1, 2],
            block_type="basic_block",
            use_pre_activation=False,
            image_shape=image_shape,
        )
        backbone = keras_hub.models.DeepLabV3Backbone(
            image_encoder=encoder,
            spatial_pyramid_pooling_key="P3",
            upsampling_size=2,
            dilation_rates=[1, 2],
            low_level_feature_key="P2",
            projection_filters=16,
        )
    elif name == "deeplabv3_resnet50":
        encoder = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 128, 256, 512],
            stackwise_num_blocks=[3, 4, 6, 3],
            stackwise_num_strides=[1, 2, 2, 2],
            block_type="bottleneck_block",
            use_pre_activation=False,
            image_shape=image_shape,
        )
        backbone = keras_hub.models.DeepLabV3Backbone(
            image_encoder=encoder,
            spatial_pyramid_pooling_key="P5",
            upsampling_size=8,
            dilation_rates=[6, 12, 18],
            low_level_feature_key="P2",
            projection_filters=48,
        )
    else:
        raise ValueError(f"Unknown segmenter={name!r}; expected one of {SEGMENTERS}")
    return keras_hub.models.DeepLabV3ImageSegmenter(
        backbone=backbone, num_classes=num_classes
    )


def build_model(args, num_classes, ignore_class):
    height, width = args.label_size
    image_shape = (height // args.factor, width // args.factor, 3)
    segmenter = build_segmenter(
        args.segmenter, num_classes, image_shape, tuple(args.unet_filters)
    )
    return DualSRModel.from_variant(
        args.variant,
        segmenter,
        factor=args.factor,
        super_resolution_weight=args.sr_weight,
        feature_affinity_weight=args.fa_weight,
        feature_affinity_subsample=args.fa_subsample,
        decoder_filters=args.decoder_filters,
        ignore_class=ignore_class,
    )


# ----------------------------------------------------------------------------
# Evaluation.


def confusion_matrix(model, dataset, num_classes, ignore_class=None):
    """Confusion matrix (rows: labels, columns: predictions) at full resolution."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    for x, y in dataset:
        labels = y["segmentation"].numpy().reshape(-1)
        predictions = np.argmax(model(x, training=False), axis=-1).reshape(-1)
        keep = labels != ignore_class if ignore_class is not None else slice(None)
        matrix += np.bincount(
            labels[keep] * num_classes + predictions[keep],
            minlength=num_classes * num_classes,
        ).reshape(num_classes, num_classes)
    return matrix


def iou_from_confusion(matrix):
    """`(mean IoU over present classes, per-class IoU (nan if absent), pixel accuracy)`."""
    matrix = np.asarray(matrix, np.float64)
    true_positive = np.diag(matrix)
    union = matrix.sum(0) + matrix.sum(1) - true_positive
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, true_positive / union, np.nan)
    present = matrix.sum(1) > 0
    mean = float(np.nanmean(per_class[present])) if present.any() else float("nan")
    accuracy = float(true_positive.sum() / max(matrix.sum(), 1))
    return mean, per_class, accuracy


def save_figure(model, dataset, path, count=4):
    """Input (low-res), SISR output, prediction and labels, per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = next(iter(dataset))
    x, labels = x[:count].numpy(), y["segmentation"][:count].numpy()
    outputs = model(x, training=False)
    predictions = np.argmax(outputs["segmentation"], -1)
    sisr = outputs.get("super_resolution")
    columns = ["input (network)", "SISR output", "prediction", "labels"]
    fig, axes = plt.subplots(len(x), 4, figsize=(10, 2.6 * len(x)), squeeze=False)
    vmax = max(int(labels.max()), int(predictions.max()), 1)
    for row in range(len(x)):
        axes[row, 0].imshow(np.clip(x[row], 0, 1))
        if sisr is not None:
            axes[row, 1].imshow(np.clip(np.asarray(sisr[row]), 0, 1))
        else:
            axes[row, 1].text(0.5, 0.5, "(no SISR branch)", ha="center", va="center")
        axes[row, 2].imshow(predictions[row], cmap="tab20", vmin=0, vmax=vmax)
        axes[row, 3].imshow(np.where(labels[row] == IGNORE, 0, labels[row]),
                            cmap="tab20", vmin=0, vmax=vmax)  # fmt: skip
        for column, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(columns[column])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------
# The run.


def run(args):
    """Trains and evaluates one variant; writes `results.json`."""
    start = time.perf_counter()
    strategy = start_run(args, clear_session=True)
    splits, info = make_datasets(args)
    num_classes, ignore_class = info["num_classes"], info["ignore_class"]
    steps = info["steps_per_epoch"]
    with strategy.scope():
        model = build_model(args, num_classes, ignore_class)
        height, width = args.label_size
        model(tf.zeros((1, height // args.factor, width // args.factor, 3)))  # build
        metrics = [
            keras.metrics.MeanIoU(
                num_classes,
                sparse_y_pred=False,
                ignore_class=ignore_class,
                name="mean_iou",
            )
        ]
        compile_model(model, args, steps, loss=None, metrics=metrics)
    history, throughput = fit_model(
        model,
        args,
        splits["train"],
        splits["val"],
        steps,
        monitor="mean_iou",
        mode="max",
    )
    results = {"task": TASK, "variant": args.variant, "segmenter": args.segmenter}
    results["bn_recalibration_batches"] = maybe_recalibrate_batch_norm(
        model, args, strategy, splits["train"]
    )
    inference = model.inference_model()
    for name in ("val", "test"):
        matrix = confusion_matrix(inference, splits[name], num_classes, ignore_class)
        mean, per_class, accuracy = iou_from_confusion(matrix)
        results[f"{name}_mean_iou"] = mean
        results[f"{name}_per_class_iou"] = [float(v) for v in per_class]
        results[f"{name}_pixel_accuracy"] = accuracy
    results.update(
        {
            "dataset": args.dataset,
            "num_classes": num_classes,
            "label_size": list(args.label_size),
            "factor": args.factor,
            "training_params": int(model.count_params()),
            "inference_params": int(inference.count_params()),
        }
    )
    results.update(
        training_results(
            args, strategy, steps, info["train_examples"], history, throughput
        )
    )
    if not args.no_figure:
        results["figure"] = str(
            save_figure(
                model, splits["test"], os.path.join(args.output_dir, "predictions.png")
            )
        )
    return write_run(args, results, start, summary_line)


def summary_line(results):
    return (
        f"[{TASK}] variant={results['variant']} segmenter={results['segmenter']} "
        f"test_mIoU={format_metric(results, 'test_mean_iou')} "
        f"val_mIoU={format_metric(results, 'val_mean_iou')} "
        f"pixel_acc={format_metric(results, 'test_pixel_accuracy')} "
        f"train_img/s={format_metric(results, 'train_images_per_sec', '.1f')} "
        f"params train/inference={results['training_params']}/"
        f"{results['inference_params']} time={results['wall_time_s']:.0f}s"
    )


def main(argv=None):
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
