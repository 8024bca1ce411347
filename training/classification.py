"""Image classification with a resizer in front of the backbone.

The model takes images at `--input-size`, resizes them to `--image-size` with
a resizer from the registry (`--resizer bilinear|area|antialias|learned|...`),
normalises them (ImageNet mean and std) and classifies them with a keras-hub
backbone built from its configuration (no preset download), global average
pooling, dropout and a dense layer of logits:

```
images [0, 1] (N, S_in, S_in, 3) -> resizer -> (N, S, S, 3) -> normalise
    -> backbone -> global average pooling -> dropout -> Dense(num_classes)
```

Data (`--dataset`):
- `digits`: the offline high-resolution digit canvases of
  `keras_resize.data.make_classification_canvases` (one real MNIST digit plus
  clutter on a black canvas of `--input-size` pixels). Train canvases draw
  from MNIST's train split, val and test canvases from its test split, with
  distinct seeds (`--data-seed`, `+1`, `+2`); they do not depend on `--seed`,
  which changes only the initialisation and the shuffling.
- `imagenet2012` (or any `tfds:NAME` with `image` and `label`): TFDS, with
  `--data-dir` and `--manual-dir` (ImageNet's tar files).
- `folder:PATH`: `tfds.ImageFolder(PATH)`, images in `PATH/<split>/<label>/`.

ImageNet-style training augmentation is an Inception random-resized crop plus
a horizontal flip; evaluation crops the central 87.5% square and resizes it
to the input size (the same as resizing the shorter side and centre
cropping). Both resizes use `keras_resize.ops.resize` (antialiased bilinear).

Outputs under `--output-dir`: `checkpoints/{best,last}.weights.h5`,
`backup/` (for `--resume`), `log.csv`, `tensorboard/`, and `results.json`
with the test / val metrics, training images/s, the resizer's parameters,
FLOPs and latency, the backbone's FLOPs, the arguments and the environment.

Examples:

```
python -m training.classification --dataset digits --resizer learned \\
    --backbone resnet_tiny --input-size 256 --image-size 64 --epochs 10
python -m training.classification --dataset imagenet2012 --manual-dir ~/tars \\
    --backbone resnet50 --input-size 448 --image-size 224 --batch-size 256 \\
    --strategy mirrored --resizer learned --epochs 90 --schedule step
```
"""

import argparse
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_resize import pretrained
from keras_resize.layers import get_resizer
from keras_resize.ops import resize
from training.backbones import BACKBONES, build_backbone, resizer_features
from training.callbacks import fit_model, maybe_recalibrate_batch_norm
from training.optimization import compile_model
from training.options import (
    add_common_arguments,
    add_measurement_arguments,
    add_model_arguments,
    check_common_args,
)
from training.results import finish_run, format_metric, run_results
from training.runtime import start_run

TASK = "classification"
DEFAULT_OUTPUT_DIR = os.path.join("runs", TASK)

# Canvas builder defaults (`make_classification_canvases`), at 256 px.
CANVAS_REFERENCE_SIZE = 256
CANVAS_DIGIT_SIZE = (40, 100)

# ImageNet-style augmentation and evaluation crops.
CROP_AREA_RANGE = (0.08, 1.0)
CROP_ASPECT_RANGE = (3 / 4, 4 / 3)
EVAL_CROP_FRACTION = 0.875


# ----------------------------------------------------------------------------
# Arguments.


def _dataset_name(text):
    if text in ("digits", "imagenet2012") or text.startswith(("folder:", "tfds:")):
        return text
    raise argparse.ArgumentTypeError(
        f"expected digits, imagenet2012, tfds:NAME or folder:PATH; received {text!r}"
    )


def build_parser():
    """The argparse parser of `python -m training.classification`."""
    parser = argparse.ArgumentParser(
        prog="python -m training.classification",
        description="Train an image classifier with a resizer in front.",
    )
    model = add_model_arguments(parser, BACKBONES, image_size=64, dropout=0.2)
    model.add_argument(
        "--freeze-backbone", action="store_true", help="train the head only"
    )
    model.add_argument(
        "--resizer-weights",
        default=None,
        metavar="PATH",
        help="load the resizer's weights (.weights.h5) from another run",
    )
    model.add_argument(
        "--freeze-resizer", action="store_true", help="keep the resizer fixed"
    )
    model.add_argument(
        "--save-resizer",
        default=None,
        metavar="PATH",
        help="write the trained resizer's weights (.weights.h5)",
    )
    model.add_argument(
        "--save-classifier",
        default=None,
        metavar="PATH",
        help="write the trained classifier that follows the resizer (.keras: "
        "resized images in [0, 1] -> logits), after any BatchNormalization "
        "re-estimation",
    )
    model.add_argument(
        "--label-smoothing", type=float, default=0.1, help="(default: %(default)s)"
    )

    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        type=_dataset_name,
        default="digits",
        help="digits | imagenet2012 | tfds:NAME | folder:PATH (default: digits)",
    )
    data.add_argument("--data-dir", default=None, help="TFDS data_dir")
    data.add_argument(
        "--manual-dir", default=None, help="TFDS manual_dir (ImageNet tar files)"
    )
    data.add_argument(
        "--train-split", default=None, help="TFDS/folder (default: train)"
    )
    data.add_argument(
        "--val-split",
        default=None,
        help="default: validation (TFDS); val, validation or test (folder)",
    )
    data.add_argument(
        "--test-split", default=None, help="default: test, else the val split"
    )
    data.add_argument(
        "--train-size", type=int, default=5000, help="digits: canvases (5000)"
    )
    data.add_argument(
        "--val-size", type=int, default=1000, help="digits: canvases (1000)"
    )
    data.add_argument(
        "--test-size", type=int, default=2000, help="digits: canvases (2000)"
    )
    data.add_argument(
        "--canvas-digit-size",
        type=int,
        nargs=2,
        default=None,
        metavar=("MIN", "MAX"),
        help=(
            "digits: digit size range in px (default: the builder's 40-100 "
            "at 256 px, scaled with --input-size)"
        ),
    )
    data.add_argument(
        "--clutter", type=int, default=6, help="digits: clutter fragments (6)"
    )
    data.add_argument(
        "--canvas-source",
        choices=("mnist", "fashion_mnist"),
        default="mnist",
        help="digits: what the canvases hold, MNIST digits or Fashion-MNIST "
        "items (the Debian package dataset-fashion-mnist) (mnist)",
    )
    data.add_argument(
        "--data-seed",
        type=int,
        default=0,
        help="digits: canvas seed (train; val +1, test +2), independent of --seed",
    )
    data.add_argument(
        "--eval-steps", type=int, default=None, help="cap on val/test batches (all)"
    )

    add_measurement_arguments(parser)
    add_common_arguments(parser)
    parser.set_defaults(
        optimizer="sgd",
        learning_rate=0.05,
        weight_decay=5e-5,
        epochs=10,
        batch_size=32,
        warmup_epochs=1.0,
    )
    return parser


def parse_args(argv=None):
    """Parses and checks the command line (`sys.argv[1:]` if `argv` is None)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return check_common_args(parser, args, DEFAULT_OUTPUT_DIR)


# ----------------------------------------------------------------------------
# Model.


def save_resizer_weights(resizer, input_size, path):
    """Writes the resizer's weights to `path` (`.weights.h5`), in the format
    of `keras_resize.pretrained` (so they can be shipped in saved_models/)."""
    pretrained.save_weights(resizer, path, (input_size, input_size, 3))


def classifier_after_resizer(model, image_size):
    """The part of a `build_model` model after its resizer, as its own model.

    `resized images (N, image_size, image_size, 3) in [0, 1] -> logits`,
    sharing the layers (and weights) of `model`.
    """
    inputs = keras.Input((image_size, image_size, 3), name="resized_images")
    x = inputs
    for name in ("normalize", "backbone", "pool", "dropout", "logits"):
        x = model.get_layer(name)(x)
    return keras.Model(inputs, x, name="classifier")


def save_classifier(model, image_size, path):
    """Writes `classifier_after_resizer(model, image_size)` as a `.keras` file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    classifier_after_resizer(model, image_size).save(path)


def load_resizer_weights(resizer, input_size, path):
    """Loads weights written by `save_resizer_weights` into `resizer`."""
    pretrained.load_weights(resizer, path, (input_size, input_size, 3))


def build_model(
    resizer,
    backbone,
    input_size,
    image_size,
    num_classes,
    dropout=0.2,
    resizer_kwargs=None,
    freeze_backbone=False,
    freeze_resizer=False,
    resizer_weights=None,
):
    """Builds the classifier: resizer -> normalise -> backbone -> head.

    Args:
        resizer: a registered resizer name (`available_resizers()`).
        backbone: a name in `training.backbones.BACKBONES`.
        input_size: side of the square input images in [0, 1].
        image_size: side the resizer outputs and the backbone sees.
        num_classes: number of classes (the logits' size).
        dropout: dropout rate before the dense layer.
        resizer_kwargs: extra keyword arguments of the resizer factory.
        freeze_backbone: make the backbone non-trainable (its batch norms
            then run in inference mode).
        freeze_resizer: make the resizer non-trainable.
        resizer_weights: optional `.weights.h5` written by
            `save_resizer_weights`, loaded into the resizer.

    Returns:
        A functional `keras.Model` with layers named `resizer`, `backbone`
        and `logits`; the logits are float32 even under mixed precision.

    Raises:
        ValueError: for an unknown resizer or backbone name.
    """
    kwargs = dict(resizer_kwargs or {})
    kwargs["name"] = "resizer"
    resizer_layer = get_resizer(resizer, image_size, image_size, **kwargs)
    backbone_model = build_backbone(backbone, image_size)
    inputs, x = resizer_features(resizer_layer, backbone_model, input_size, dropout)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    model = keras.Model(inputs, outputs, name=f"{resizer}_{backbone}")
    if resizer_weights:
        load_resizer_weights(resizer_layer, input_size, resizer_weights)
    if freeze_resizer:
        resizer_layer.trainable = False
    if freeze_backbone:
        backbone_model.trainable = False
    return model


# ----------------------------------------------------------------------------
# Data.


def _default_digit_size(input_size):
    scale = input_size / CANVAS_REFERENCE_SIZE
    lo, hi = (max(8, round(s * scale)) for s in CANVAS_DIGIT_SIZE)
    return min(lo, input_size), min(hi, input_size)


def _digits_split(args, num_images, seed, split):
    from keras_resize.data import make_classification_canvases

    digit_size = tuple(args.canvas_digit_size or _default_digit_size(args.input_size))
    data = make_classification_canvases(
        num_images,
        canvas_size=args.input_size,
        digit_size=digit_size,
        clutter=args.clutter,
        seed=seed,
        source=args.canvas_source,
        split=split,
        channels=1,
        verbose=None if args.verbose == 1 else False,  # Progress line with bars.
    )
    # Canvas values are multiples of 1/255: uint8 is exact and 4x smaller.
    # The grey channel is repeated to RGB in the pipeline.
    images = np.rint(data["images"] * 255.0).astype(np.uint8)
    return images, data["labels"], data["num_classes"]


def _digits_to_rgb(image, label):
    image = tf.cast(image, tf.float32) / 255.0
    return tf.image.grayscale_to_rgb(image), label


def _to_float(image):
    image = tf.cast(image, tf.float32) / 255.0
    if image.shape.rank == 3 and image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    return image


def random_resized_crop(image, size):
    """Inception crop (area 8-100%, aspect 3/4-4/3) + resize + flip."""
    image = _to_float(image)
    begin, crop_size, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.zeros((1, 0, 4), tf.float32),
        min_object_covered=0.0,
        aspect_ratio_range=CROP_ASPECT_RANGE,
        area_range=CROP_AREA_RANGE,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    image = tf.slice(image, begin, crop_size)
    image = resize(image, (size, size), method="bilinear", antialias=True)
    return tf.image.random_flip_left_right(image)


def center_crop(image, size):
    """Central square of 87.5% of the shorter side, resized to `size`.

    The same as resizing the shorter side to `size / 0.875` and cropping
    the centre `size x size`.
    """
    image = _to_float(image)
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    side = tf.cast(
        tf.math.round(tf.cast(tf.minimum(h, w), tf.float32) * EVAL_CROP_FRACTION),
        tf.int32,
    )
    side = tf.maximum(side, 1)
    image = tf.slice(image, [(h - side) // 2, (w - side) // 2, 0], [side, side, -1])
    return resize(image, (size, size), method="bilinear", antialias=True)


def _tfds_splits(args):
    import tensorflow_datasets as tfds

    if args.dataset.startswith("folder:"):
        root = args.dataset[len("folder:") :]
        if not os.path.isdir(root):
            raise ValueError(
                f"Expected an image folder PATH/<split>/<label>/. Received: {root!r}"
            )
        builder = tfds.ImageFolder(root)
        available = list(builder.info.splits.keys())
        val = args.val_split or next(
            (s for s in ("val", "validation", "test") if s in available), None
        )
        test = args.test_split or ("test" if "test" in available else val)
    else:
        name = "imagenet2012" if args.dataset == "imagenet2012" else args.dataset[5:]
        builder = tfds.builder(name, data_dir=args.data_dir)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir)
        )
        val = args.val_split or "validation"
        test = args.test_split or val
    train = args.train_split or "train"
    num_classes = builder.info.features["label"].num_classes

    def load(split, training):
        if split is None:
            return None
        return builder.as_dataset(
            split=split, as_supervised=True, shuffle_files=training
        )

    return load(train, True), load(val, False), load(test, False), num_classes


def _cardinality(ds):
    n = int(ds.cardinality())
    return n if n >= 0 else None


def make_datasets(args):
    """Builds the train, val and test `tf.data` pipelines.

    Train: shuffled (seed `--seed`), batched to the global batch size with
    `drop_remainder`, repeated, with a step count per epoch (the number of
    full batches, capped by `--steps-per-epoch`). Val / test: batched in
    order, capped at `--eval-steps` batches. Labels are one-hot (for label
    smoothing). Images are float32 in [0, 1], `(input_size, input_size, 3)`.

    Returns:
        `(train, val, test, info)`; `info` has `num_classes`,
        `steps_per_epoch`, `train_examples`, `val_examples`, `test_examples`
        (`None` where unknown). `val` or `test` may be `None`.
    """
    autotune = tf.data.AUTOTUNE
    size = args.input_size
    batch = args.batch_size
    if args.dataset == "digits":
        splits = {}
        for key, n, seed, split in (
            ("train", args.train_size, args.data_seed, "train"),
            ("val", args.val_size, args.data_seed + 1, "test"),
            ("test", args.test_size, args.data_seed + 2, "test"),
        ):
            images, labels, num_classes = _digits_split(args, n, seed, split)
            splits[key] = tf.data.Dataset.from_tensor_slices((images, labels))
        raw = splits["train"], splits["val"], splits["test"]
        train_map = eval_map = _digits_to_rgb
    else:
        *raw, num_classes = _tfds_splits(args)

        def train_map(image, label):
            return random_resized_crop(image, size), label

        def eval_map(image, label):
            return center_crop(image, size), label

    def one_hot(images, labels):
        return images, tf.one_hot(tf.cast(labels, tf.int32), num_classes)

    train_raw, val_raw, test_raw = raw
    train_examples = _cardinality(train_raw)
    if train_examples is not None and train_examples < batch:
        raise ValueError(
            f"The training split has {train_examples} examples, fewer than "
            f"one global batch. Received: batch_size={batch}"
        )
    buffer = min(train_examples or 10_000, 10_000)
    train = (
        train_raw.shuffle(buffer, seed=args.seed, reshuffle_each_iteration=True)
        .map(train_map, num_parallel_calls=autotune)
        .batch(batch, drop_remainder=True)
        .map(one_hot, num_parallel_calls=autotune)
    )
    steps = train_examples // batch if train_examples is not None else None
    if args.steps_per_epoch:
        steps = min(steps, args.steps_per_epoch) if steps else args.steps_per_epoch
    if steps is not None:
        train = train.repeat()
    train = train.prefetch(autotune)

    def evaluation(ds):
        if ds is None:
            return None
        ds = (
            ds.map(eval_map, num_parallel_calls=autotune)
            .batch(batch)
            .map(one_hot, num_parallel_calls=autotune)
        )
        if args.eval_steps:
            ds = ds.take(args.eval_steps)
        return ds.prefetch(autotune)

    info = {
        "num_classes": int(num_classes),
        "steps_per_epoch": steps,
        "train_examples": train_examples,
        "val_examples": _cardinality(val_raw) if val_raw is not None else None,
        "test_examples": _cardinality(test_raw) if test_raw is not None else None,
    }
    return train, evaluation(val_raw), evaluation(test_raw), info


# ----------------------------------------------------------------------------
# Training.


def _metrics(num_classes):
    metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if num_classes > 5:
        metrics.append(keras.metrics.TopKCategoricalAccuracy(k=5, name="top5"))
    return metrics


def run(args):
    """Trains, evaluates and measures one configuration; writes results.json.

    Args:
        args: the namespace of `parse_args`.

    Returns:
        The results dict (also written to `--output-dir/results.json`).
    """
    start = time.perf_counter()
    strategy = start_run(args, clear_session=True)
    train, val, test, info = make_datasets(args)
    num_classes = info["num_classes"]
    steps = info["steps_per_epoch"]
    if steps is None:
        raise ValueError(
            "The training split has an unknown size: pass --steps-per-epoch."
        )

    with strategy.scope():
        model = build_model(
            args.resizer,
            args.backbone,
            args.input_size,
            args.image_size,
            num_classes,
            dropout=args.dropout,
            resizer_kwargs=args.resizer_kwargs,
            freeze_backbone=args.freeze_backbone,
            freeze_resizer=args.freeze_resizer,
            resizer_weights=args.resizer_weights,
        )
        compile_model(
            model,
            args,
            steps,
            loss=keras.losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=args.label_smoothing
            ),
            metrics=_metrics(num_classes),
        )

    history, throughput = fit_model(
        model, args, train, val, steps, monitor="accuracy", mode="max"
    )

    results = {"task": TASK}
    hist = history.history
    for key in ("val_accuracy", "val_loss", "val_top5", "accuracy", "loss"):
        if hist.get(key):
            results[key if key.startswith("val_") else f"train_{key}"] = float(
                hist[key][-1]
            )
    results["bn_recalibration_batches"] = maybe_recalibrate_batch_norm(
        model, args, strategy, train
    )
    if results["bn_recalibration_batches"]:
        # the fit-time validation figures used the lagging moving statistics
        for key in ("val_accuracy", "val_loss", "val_top5"):
            if key in results:
                results[f"fit_{key}"] = results.pop(key)
        if val is not None:
            val_metrics = model.evaluate(val, return_dict=True, verbose=args.verbose)
            results.update({f"val_{k}": float(v) for k, v in val_metrics.items()})
    if test is not None:
        test_metrics = model.evaluate(test, return_dict=True, verbose=args.verbose)
        results.update({f"test_{k}": float(v) for k, v in test_metrics.items()})
    if args.save_resizer:
        save_resizer_weights(
            model.get_layer("resizer"), args.input_size, args.save_resizer
        )
    if args.save_classifier:
        save_classifier(model, args.image_size, args.save_classifier)
    results.update(
        run_results(args, strategy, steps, info["train_examples"], history, throughput)
    )
    results.update({"dataset": args.dataset, "num_classes": num_classes})
    return finish_run(model, args, results, start, summary_line)


def summary_line(results):
    """One line: resizer, backbone, accuracies, throughput, resizer costs."""

    def fmt(key, spec=".4f"):
        return format_metric(results, key, spec)

    flops = results.get("resizer_flops_per_image")
    mflops = "n/a" if flops is None else f"{flops / 1e6:.1f}"
    return (
        f"[{TASK}] resizer={results['resizer']} backbone={results['backbone']} "
        f"{results['input_size']}->{results['image_size']} "
        f"test_acc={fmt('test_accuracy')} val_acc={fmt('val_accuracy')} "
        f"train_img/s={fmt('train_images_per_sec', '.1f')} "
        f"resizer: {results['resizer_params']} params, {mflops} MFLOPs/img, "
        f"{fmt('resizer_latency_ms_per_image', '.3f')} ms/img "
        f"replicas={results['num_replicas']} "
        f"time={results['wall_time_s']:.0f}s"
    )


def main(argv=None):
    args = parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
