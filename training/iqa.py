"""Image-quality assessment (NIMA-style) with a resizer in front of the backbone.

The model takes images at `--input-size`, resizes them to `--image-size` with
a resizer from the registry (`--resizer bilinear|area|antialias|learned|...`),
normalises them (ImageNet mean and std) and predicts a distribution over the
ten rating buckets with a backbone of the classification script
(`training.backbones.build_backbone`), global average pooling, dropout
and a dense softmax, trained with the Earth Mover's Distance
(`keras_resize.losses.EarthMoversDistance(r=--emd-r)`):

```
images [0, 1] (N, S_in, S_in, 3) -> resizer -> (N, S, S, 3) -> normalise
    -> backbone -> global average pooling -> dropout -> Dense(10, softmax)
```

Data, in the AVA file format (`AVA.txt` rows of 15 integers, images
`<image_id>.jpg`; see `keras_resize.data.ava`):
- `--ava-txt PATH --image-dir DIR`: a real AVA download (or anything in its
  format). The split is seeded (`--split-fractions`, `--split-seed`) or given
  by id lists (`--train-ids`, `--val-ids`, `--test-ids`, e.g. AVA's
  `aesthetics_image_lists/generic_ls_train.jpgl` and `generic_test.jpgl`;
  without `--val-ids`, `--val-fraction` of the train list is held out).
- `--fixture N`: build a small offline *fixture* in that format in
  `--output-dir/fixture` (`keras_resize.data.make_quality_fixture`: crops of
  real photos with distortions of random strength, ratings falling with the
  strength) and use it. A fixture is not AVA: it tests the pipeline.

Images that are missing or unreadable are skipped and counted (per split, in
`results.json` under `data_counts`; their ids in `skipped_images.json`).
Images are decoded and resized to `--input-size` squares (antialiased
bilinear, aspect ratio ignored); training adds random horizontal flips.

Reported on the test split: EMD (`r = --emd-r`), SRCC and PLCC of the mean
scores (`sum_i i p_i`), the binary accuracy at mean score 5 (NIMA's
"high/low quality" split), plus training images/s and the resizer's
parameters, FLOPs and latency. Outputs under `--output-dir`:
`checkpoints/{best,last}.weights.h5`, `backup/` (for `--resume`), `log.csv`,
`tensorboard/`, `results.json`, `skipped_images.json`.

Examples:

```
python -m training.iqa --fixture 200 --input-size 128 --image-size 64 \\
    --backbone resnet_tiny --epochs 5
python -m training.iqa --ava-txt AVA/AVA.txt --image-dir AVA/images \\
    --train-ids AVA/aesthetics_image_lists/generic_ls_train.jpgl \\
    --test-ids AVA/aesthetics_image_lists/generic_test.jpgl \\
    --backbone resnet50 --input-size 448 --image-size 224 --resizer learned \\
    --batch-size 64 --strategy mirrored --epochs 20
```
"""

import argparse
import json
import os
import sys
import time
import warnings

import keras
import numpy as np

from keras_resize.data.ava import (
    CHECK_MODES,
    NUM_BUCKETS,
    SPLITS,
    ava_dataset,
    load_ava,
    make_quality_fixture,
    mean_score,
    split_ids,
)
from keras_resize.layers import get_resizer
from keras_resize.losses import EarthMoversDistance, earth_movers_distance
from keras_resize.metrics import pearson_correlation, spearman_correlation
from training.backbones import BACKBONES, build_backbone, resizer_features
from training.callbacks import fit_model, maybe_recalibrate_batch_norm
from training.optimization import compile_model
from training.options import (
    add_common_arguments,
    add_measurement_arguments,
    add_model_arguments,
    check_common_args,
)
from training.results import (
    finish_run,
    finite_or_none,
    format_metric,
    run_results,
)
from training.runtime import start_run

TASK = "iqa"
DEFAULT_OUTPUT_DIR = os.path.join("runs", TASK)
SKIPPED_FILE = "skipped_images.json"
FIXTURE_DIR = "fixture"
# Mean score separating "low" from "high" quality (NIMA's binary accuracy).
BINARY_THRESHOLD = 5.0
# Help texts of the shared options where this script words them its own way
# (its formatter appends the defaults).
MODEL_HELP = {
    "resizer": "resizer from keras_resize.layers.registry",
    "resizer_arg": "resizer keyword argument (repeatable; ints/floats/bools parsed)",
    "backbone": None,
    "input_size": "side of the decoded input images (the resizer's input)",
    "image_size": "side the resizer outputs",
    "dropout": "before the head (NIMA: 0.75)",
}
MEASUREMENT_HELP = {
    "latency_batch": "batch of the latency timing",
    "latency_repeats": None,
}


# ----------------------------------------------------------------------------
# Arguments.


def build_parser():
    """The argparse parser of `python -m training.iqa`."""
    parser = argparse.ArgumentParser(
        prog="python -m training.iqa",
        description=(
            "Train a NIMA-style quality model (EMD loss) with a resizer in "
            "front, on AVA-format data or an offline fixture."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    model = add_model_arguments(
        parser, BACKBONES, image_size=128, dropout=0.75, helps=MODEL_HELP
    )
    model.add_argument(
        "--emd-r", type=int, choices=(1, 2), default=2, help="EMD norm of the loss"
    )
    model.add_argument("--freeze-backbone", action="store_true")

    data = parser.add_argument_group("data (AVA file format)")
    data.add_argument("--ava-txt", default=None, help="path of AVA.txt")
    data.add_argument(
        "--image-dir", default=None, help="folder of the images <image_id>.jpg"
    )
    data.add_argument(
        "--fixture",
        type=int,
        default=0,
        metavar="N",
        help="build an offline fixture of N images in OUTPUT_DIR/fixture and use it",
    )
    data.add_argument("--fixture-seed", type=int, default=0)
    data.add_argument(
        "--fixture-image-size",
        type=int,
        nargs=2,
        default=(96, 160),
        metavar=("MIN", "MAX"),
        help="side range of the fixture's images",
    )
    data.add_argument(
        "--fixture-missing",
        type=int,
        default=0,
        help="fixture rows without an image file (exercises skipping)",
    )
    data.add_argument(
        "--fixture-corrupt",
        type=int,
        default=0,
        help="fixture rows with a truncated JPEG (exercises skipping)",
    )
    data.add_argument(
        "--split-fractions",
        type=float,
        nargs=3,
        default=(0.8, 0.1, 0.1),
        metavar=("TRAIN", "VAL", "TEST"),
        help="seeded split of the ids (when no id lists are given)",
    )
    data.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="seed of the split, independent of --seed",
    )
    data.add_argument("--train-ids", default=None, help="id list file (one per line)")
    data.add_argument("--val-ids", default=None, help="id list file (one per line)")
    data.add_argument("--test-ids", default=None, help="id list file (one per line)")
    data.add_argument(
        "--val-fraction",
        type=float,
        default=0.05,
        help="with --train-ids but no --val-ids: train ids held out for val",
    )
    data.add_argument(
        "--check-images",
        choices=CHECK_MODES,
        default="header",
        help="how image files are checked before training (see check_image)",
    )
    data.add_argument(
        "--limit",
        type=int,
        default=None,
        help="use at most this many rows per split (quick runs)",
    )
    data.add_argument(
        "--eval-steps", type=int, default=None, help="cap on val/test batches"
    )

    add_measurement_arguments(parser, helps=MEASUREMENT_HELP)
    add_common_arguments(parser)
    parser.set_defaults(
        optimizer="adamw",
        learning_rate=1e-3,
        weight_decay=1e-4,
        epochs=10,
        batch_size=32,
        warmup_epochs=0.0,
    )
    return parser


def parse_args(argv=None):
    """Parses and checks the command line (`sys.argv[1:]` if `argv` is None)."""
    parser = build_parser()
    args = check_common_args(parser, parser.parse_args(argv), DEFAULT_OUTPUT_DIR)
    has_ava = args.ava_txt is not None or args.image_dir is not None
    if args.fixture < 0:
        parser.error("--fixture must be >= 0")
    if args.fixture and has_ava:
        parser.error("use either --fixture or --ava-txt/--image-dir, not both")
    if not args.fixture and (args.ava_txt is None or args.image_dir is None):
        parser.error("give --ava-txt and --image-dir, or --fixture N")
    if (args.train_ids is None) != (args.test_ids is None):
        parser.error("--train-ids and --test-ids go together")
    return args


# ----------------------------------------------------------------------------
# Model.


def build_model(
    resizer,
    backbone,
    input_size,
    image_size,
    dropout=0.75,
    resizer_kwargs=None,
    freeze_backbone=False,
):
    """Builds the quality model: resizer -> normalise -> backbone -> softmax.

    Args:
        resizer: a registered resizer name (`available_resizers()`).
        backbone: a name in `training.backbones.BACKBONES`.
        input_size: side of the square input images in [0, 1].
        image_size: side the resizer outputs and the backbone sees.
        dropout: dropout rate before the dense layer.
        resizer_kwargs: extra keyword arguments of the resizer factory.
        freeze_backbone: make the backbone non-trainable.

    Returns:
        A functional `keras.Model` with layers named `resizer`, `backbone`
        and `scores`; the output is a float32 `(N, 10)` softmax, also under
        mixed precision.
    """
    kwargs = dict(resizer_kwargs or {})
    kwargs.setdefault("name", "resizer")
    resizer_layer = get_resizer(resizer, image_size, image_size, **kwargs)
    backbone_model = build_backbone(backbone, image_size)
    inputs, x = resizer_features(resizer_layer, backbone_model, input_size, dropout)
    outputs = keras.layers.Dense(
        NUM_BUCKETS, activation="softmax", dtype="float32", name="scores"
    )(x)
    if freeze_backbone:
        backbone_model.trainable = False
    return keras.Model(inputs, outputs, name=f"iqa_{resizer}_{backbone}")


# ----------------------------------------------------------------------------
# Data.


def _read_ids(path):
    with open(path, encoding="utf-8") as f:
        return np.asarray([int(t) for t in f.read().split()], dtype=np.int64)


def data_source(args):
    """`(ava_txt, image_dir, fixture_info_or_None)`; builds the fixture if asked."""
    if not args.fixture:
        return args.ava_txt, args.image_dir, None
    info = make_quality_fixture(
        os.path.join(args.output_dir, FIXTURE_DIR),
        num_images=args.fixture,
        seed=args.fixture_seed,
        image_size=tuple(args.fixture_image_size),
        num_missing=args.fixture_missing,
        num_corrupt=args.fixture_corrupt,
    )
    return info["ava_txt"], info["image_dir"], info


def split_selectors(args):
    """Per split, what `load_ava(split=...)` gets: a name or a list of ids."""
    if args.train_ids is None:
        return {name: name for name in SPLITS}
    train = _read_ids(args.train_ids)
    test = _read_ids(args.test_ids)
    if args.val_ids is not None:
        val = _read_ids(args.val_ids)
    else:
        f = float(args.val_fraction)
        parts = split_ids(train, fractions=(1.0 - f, f, 0.0), seed=args.split_seed)
        train, val = parts["train"], parts["val"]
    return {"train": train, "val": val, "test": test}


def load_splits(args, ava_txt, image_dir):
    """Loads and checks the three splits (`load_ava`), printing their counts."""
    splits = {}
    for name, selector in split_selectors(args).items():
        splits[name] = load_ava(
            ava_txt,
            image_dir,
            split=selector,
            fractions=tuple(args.split_fractions),
            seed=args.split_seed,
            check=args.check_images,
            limit=args.limit,
        )
        c = splits[name]["counts"]
        if args.verbose:
            print(
                f"[{TASK}] {name}: {c['used']} images used of {c['selected']} "
                f"rows (missing {c['missing']}, unreadable {c['unreadable']}, "
                f"no votes {c['no_votes']}; malformed rows in file "
                f"{c['malformed']})",
                flush=True,
            )
    return splits


def make_datasets(args, splits, num_replicas=1):
    """The train, val and test pipelines.

    Train: shuffled (seed `--seed`), flipped, full global batches, repeated,
    with `steps_per_epoch` = the number of full batches (capped by
    `--steps-per-epoch`). Val: batched in order; with several replicas its
    last partial batch is dropped (a replica given an empty batch fails in
    some TensorFlow kernels). Test: *unbatched* examples in order, for
    `predict_distributions`, which pads the last batch and keeps every image.

    Returns:
        `(train, val, test, steps_per_epoch)`; `val` or `test` is `None`
        when the split is empty.
    """
    size = (args.input_size, args.input_size)
    batch = args.batch_size
    n_train = len(splits["train"]["paths"])
    if n_train < batch:
        raise ValueError(
            f"The training split has {n_train} usable images, fewer than one "
            f"global batch. Received: batch_size={batch}"
        )
    steps = n_train // batch
    if args.steps_per_epoch:
        steps = min(steps, args.steps_per_epoch)
    train = ava_dataset(
        splits["train"],
        size,
        batch_size=batch,
        shuffle=True,
        seed=args.seed,
        augment=True,
        drop_remainder=True,
    ).repeat()

    val = None
    n_val = len(splits["val"]["paths"])
    if n_val and (num_replicas == 1 or n_val >= batch):
        val = ava_dataset(
            splits["val"], size, batch_size=batch, drop_remainder=num_replicas > 1
        )
        if args.eval_steps:
            val = val.take(args.eval_steps)
    test = None
    if len(splits["test"]["paths"]):
        test = ava_dataset(splits["test"], size, batch_size=None)
    return train, val, test, steps


def padded_batches(dataset, batch_size):
    """Full batches of `(image, target)` examples; the last is zero-padded.

    Padding examples have all-zero targets (real targets sum to one), so
    they are told apart after prediction. Every replica of a strategy then
    gets a non-empty batch.
    """
    import tensorflow as tf

    spec_x, spec_y = dataset.element_spec
    pad = tf.data.Dataset.from_tensors(
        (tf.zeros(spec_x.shape, spec_x.dtype), tf.zeros(spec_y.shape, spec_y.dtype))
    ).repeat()
    batches = dataset.concatenate(pad).batch(batch_size, drop_remainder=True)
    batches = batches.take_while(lambda x, y: tf.reduce_any(tf.reduce_sum(y, -1) > 0))
    return batches.prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------
# Evaluation.


def predict_distributions(
    model, examples, batch_size, strategy=None, max_batches=None, verbose=1
):
    """Predicts rating distributions for `(image, target)` examples.

    Images are decoded once: the targets travel through a wrapper model next
    to the images, so predictions and targets stay aligned even if the
    pipeline drops an undecodable file. Batches are full (see
    `padded_batches`) and `Model.predict` spreads them over the strategy's
    replicas.

    Args:
        model: the quality model.
        examples: an unbatched dataset of `(image, target distribution)`.
        batch_size: the global batch size.
        strategy: the `tf.distribute` strategy the model was built under.
        max_batches: optional cap on the number of batches.
        verbose: progress bar (1) or not (0).

    Returns:
        `(y_true (M, 10), y_pred (M, 10))` as float32 numpy arrays.
    """
    import tensorflow as tf

    with (strategy or tf.distribute.get_strategy()).scope():
        images = keras.Input(model.input_shape[1:], name="images")
        targets = keras.Input((NUM_BUCKETS,), name="targets")
        passthrough = keras.layers.Identity(dtype="float32", name="passthrough")
        wrapper = keras.Model([images, targets], [model(images), passthrough(targets)])
    batches = padded_batches(examples, batch_size)
    if max_batches:
        batches = batches.take(max_batches)
    with warnings.catch_warnings():  # unknown length: Keras warns at the end
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        y_pred, y_true = wrapper.predict(
            batches.map(lambda x, y: ((x, y),)), verbose=verbose
        )
    real = np.sum(y_true, axis=-1) > 0
    return np.asarray(y_true[real], np.float32), np.asarray(y_pred[real], np.float32)


def quality_metrics(y_true, y_pred, r=2):
    """EMD, SRCC / PLCC of the mean scores and binary accuracy at score 5."""
    n = len(y_true)
    out = {"images": n}
    if n == 0:
        return out
    emd = np.asarray(earth_movers_distance(y_true, y_pred, r=r))
    true_scores = mean_score(y_true)
    pred_scores = mean_score(y_pred)
    out["emd"] = float(np.mean(emd))
    out["mean_score_rmse"] = float(np.sqrt(np.mean((true_scores - pred_scores) ** 2)))
    out["binary_accuracy"] = float(
        np.mean((true_scores > BINARY_THRESHOLD) == (pred_scores > BINARY_THRESHOLD))
    )
    if n >= 2:
        out["srcc"] = finite_or_none(spearman_correlation(pred_scores, true_scores))
        out["plcc"] = finite_or_none(pearson_correlation(pred_scores, true_scores))
    return out


# ----------------------------------------------------------------------------
# Training.


def run(args):
    """Trains, evaluates and measures one configuration; writes results.json.

    Args:
        args: the namespace of `parse_args`.

    Returns:
        The results dict (also written to `--output-dir/results.json`).
    """
    start = time.perf_counter()
    strategy = start_run(args)
    ava_txt, image_dir, fixture = data_source(args)
    splits = load_splits(args, ava_txt, image_dir)
    with open(os.path.join(args.output_dir, SKIPPED_FILE), "w") as f:
        json.dump({name: s["skipped"] for name, s in splits.items()}, f, indent=1)
    train, val, test, steps = make_datasets(args, splits, strategy.num_replicas_in_sync)

    with strategy.scope():
        model = build_model(
            args.resizer,
            args.backbone,
            args.input_size,
            args.image_size,
            dropout=args.dropout,
            resizer_kwargs=args.resizer_kwargs,
            freeze_backbone=args.freeze_backbone,
        )
        compile_model(model, args, steps, loss=EarthMoversDistance(r=args.emd_r))

    with warnings.catch_warnings():
        # The val pipeline drops undecodable files (`ignore_errors`), so its
        # length is unknown and Keras warns at the end of its first pass;
        # the train pipeline repeats forever and cannot run out.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history, throughput = fit_model(
            model, args, train, val, steps, monitor="loss", mode="min"
        )

    results = {"task": TASK}
    results["bn_recalibration_batches"] = maybe_recalibrate_batch_norm(
        model, args, strategy, train
    )
    if test is not None:
        expected = len(splits["test"]["paths"])
        if args.eval_steps:
            expected = min(expected, args.eval_steps * args.batch_size)
        y_true, y_pred = predict_distributions(
            model, test, args.batch_size, strategy, args.eval_steps, args.verbose
        )
        metrics = quality_metrics(y_true, y_pred, r=args.emd_r)
        results.update({f"test_{k}": v for k, v in metrics.items()})
        # Files that passed the check but failed to decode (dropped by tf.data).
        results["test_decode_failures"] = expected - len(y_true)
    hist = history.history
    for key in ("loss", "val_loss"):
        if hist.get(key):
            name = key.replace("loss", "emd")
            results[name if key.startswith("val_") else f"train_{name}"] = float(
                hist[key][-1]
            )
    counts = {name: s["counts"] for name, s in splits.items()}
    results.update(
        {
            "data": "fixture" if fixture is not None else "ava_txt",
            "ava_txt": os.path.abspath(ava_txt),
            "image_dir": os.path.abspath(image_dir),
            "data_counts": counts,
            "skipped_missing": sum(c["missing"] for c in counts.values()),
            "skipped_unreadable": sum(c["unreadable"] for c in counts.values()),
            "skipped_no_votes": sum(c["no_votes"] for c in counts.values()),
            "emd_r": args.emd_r,
        }
    )
    results.update(
        run_results(
            args,
            strategy,
            steps,
            len(splits["train"]["paths"]),
            history,
            throughput,
        )
    )
    return finish_run(model, args, results, start, summary_line)


def summary_line(results):
    """One line: resizer, backbone, test EMD / SRCC / PLCC, throughput, skips."""

    def fmt(key, spec=".4f"):
        return format_metric(results, key, spec)

    return (
        f"[{TASK}] resizer={results['resizer']} backbone={results['backbone']} "
        f"{results['input_size']}->{results['image_size']} "
        f"test: emd={fmt('test_emd')} srcc={fmt('test_srcc')} "
        f"plcc={fmt('test_plcc')} n={results.get('test_images', 0)} "
        f"train_img/s={fmt('train_images_per_sec', '.1f')} "
        f"skipped: missing={results['skipped_missing']} "
        f"unreadable={results['skipped_unreadable']} "
        f"no_votes={results['skipped_no_votes']} "
        f"time={results['wall_time_s']:.0f}s"
    )


def main(argv=None):
    args = parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
