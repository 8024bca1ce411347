"""Shared pieces of the training scripts (classification, IQA, ...).

A training script builds its parser with `add_model_arguments`,
`add_measurement_arguments` and `add_common_arguments` and checks it with
`check_common_args`; it calls `setup(args)` first thing (logical CPUs, seed,
mixed precision, strategy: this order matters because logical devices must
be configured before TensorFlow initialises its runtime; `start_run` does
this and the run's other first steps), builds its model (`resizer_features`
for the shared resizer -> normalise -> backbone trunk) and compiles it inside
`strategy.scope()` (`compile_model`, with `make_schedule` /
`make_optimizer`), trains with `fit_model` (`[ThroughputCallback(...)] +
standard_callbacks(...)`), and finishes with `run_results` and `finish_run`,
which measures its resizer (`measure_resizer`: `count_flops` /
`measure_latency`) and writes `results.json` with `write_results`.

Example:

```python
import argparse
from training import common

parser = common.add_common_arguments(argparse.ArgumentParser())
args = parser.parse_args(["--epochs", "1", "--output-dir", "/tmp/run"])
strategy = common.setup(args)
with strategy.scope():
    schedule = common.make_schedule("cosine", args.learning_rate, 100, 10)
    optimizer = common.make_optimizer("sgd", schedule, 1e-4, 0.9)
```

Importing this module imports Keras (and so TensorFlow) but runs no op, so
`configure_logical_cpus` still works after it.
"""

import datetime
import importlib.util
import json
import math
import os
import platform
import shutil
import statistics
import time

import keras
import numpy as np
from keras import ops

from keras_resize.layers import available_resizers

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "constant")

# Fractions of the post-warmup steps where the "step" schedule divides the
# learning rate by 10 (the ImageNet ResNet recipe: epochs 30, 60, 80 of 90).
STEP_FRACTIONS = (1 / 3, 2 / 3, 8 / 9)
STEP_GAMMA = 0.1

# Weights whose names contain one of these are not weight-decayed (biases,
# normalisation scales and offsets).
NO_DECAY_NAMES = ("bias", "gamma", "beta")

BACKUP_DIR = "backup"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
CSV_LOG = "log.csv"
RESULTS_FILE = "results.json"

# ImageNet statistics, the input normalisation of keras-hub's ImageNet
# presets (applied inside the models to images in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Help texts of the options added by `add_model_arguments` and
# `add_measurement_arguments` (a script may give its own, by `dest`).
MODEL_HELP = {
    "resizer": "resizer from keras_resize.layers.registry (default: %(default)s)",
    "resizer_arg": (
        "resizer keyword argument (repeatable; ints, floats, bools parsed)"
    ),
    "backbone": "keras-hub backbone built from config (default: %(default)s)",
    "input_size": "side of the square input images (default: %(default)s)",
    "image_size": "side the resizer outputs (default: %(default)s)",
    "dropout": "(default: %(default)s)",
}
MEASUREMENT_HELP = {
    "latency_batch": "batch of the latency timing (8)",
    "latency_repeats": "timed calls (10)",
    "no_flops": "skip the FLOP counts",
}


# ----------------------------------------------------------------------------
# Command line.


def add_common_arguments(parser):
    """Adds the options every training script shares to an argparse parser.

    Options: `--strategy`, `--num-logical-cpus`, `--mixed-precision`,
    `--optimizer`, `--learning-rate`, `--weight-decay`, `--momentum`,
    `--schedule`, `--warmup-epochs`, `--epochs`, `--steps-per-epoch`,
    `--batch-size` (global, over all replicas), `--seed`, `--output-dir`,
    `--resume`, `--bn-recalibration-steps`, `--jit-compile`, `--verbose`. A script changes a default with
    `parser.set_defaults(...)`.

    Args:
        parser: an `argparse.ArgumentParser` (or argument group).

    Returns:
        The same parser, for chaining.
    """
    group = parser.add_argument_group("common training options")
    group.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="tf.distribute strategy (default: %(default)s)",
    )
    group.add_argument(
        "--num-logical-cpus",
        type=int,
        default=0,
        metavar="N",
        help=(
            "split the CPU into N logical devices before TF initialises "
            "(to test --strategy mirrored on one CPU; 0: off)"
        ),
    )
    group.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 compute (float32 variables)",
    )
    group.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="sgd",
        help="sgd (nesterov momentum) or adamw (default: %(default)s)",
    )
    group.add_argument(
        "--learning-rate",
        type=float,
        default=0.1,
        help="peak learning rate (default: %(default)s)",
    )
    group.add_argument(
        "--weight-decay",
        type=float,
        default=5e-5,
        help=(
            "decoupled weight decay, not applied to biases and norm "
            "parameters (default: %(default)s)"
        ),
    )
    group.add_argument(
        "--momentum",
        type=float,
        default=0.9,
        help="SGD momentum (default: %(default)s)",
    )
    group.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="cosine",
        help="learning-rate schedule after warmup (default: %(default)s)",
    )
    group.add_argument(
        "--warmup-epochs",
        type=float,
        default=0.0,
        help="linear warmup length in epochs (default: %(default)s)",
    )
    group.add_argument(
        "--epochs", type=int, default=10, help="epochs (default: %(default)s)"
    )
    group.add_argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        help="cap on the training steps per epoch (default: the whole split)",
    )
    group.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="global batch size, over all replicas (default: %(default)s)",
    )
    group.add_argument("--seed", type=int, default=0, help="random seed")
    group.add_argument(
        "--output-dir",
        default=None,
        help=(
            "folder for checkpoints, logs, TensorBoard and results.json "
            "(default: the script's own)"
        ),
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help=(
            "continue from the backup in --output-dir (without it an old "
            "backup there is deleted and training starts afresh)"
        ),
    )
    group.add_argument(
        "--bn-recalibration-steps",
        type=int,
        default=50,
        metavar="N",
        help="after training, re-estimate every BatchNormalization layer's "
        "moving statistics as the exact mean over N training batches (forward "
        "passes only; 0 = off). Fixes moving averages that lag the weights "
        "on short schedules (50)",
    )
    group.add_argument(
        "--jit-compile",
        choices=("auto", "true", "false"),
        default="auto",
        help="XLA for the train step; auto: on with a GPU/TPU, off on CPU",
    )
    group.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 silent, 1 progress bars, 2 one line per epoch (default: 1)",
    )
    return parser


def add_model_arguments(parser, backbones, image_size, dropout, helps=None):
    """Adds the "model" option group with the options all scripts share.

    Options, in this order: `--resizer` (a registered resizer, default
    `bilinear`), `--resizer-arg KEY=VALUE` (repeatable), `--backbone`
    (default `resnet_tiny`), `--input-size` (default 256), `--image-size`
    and `--dropout`. A script adds its own model options to the returned
    group after these.

    Args:
        parser: an `argparse.ArgumentParser`.
        backbones: the `--backbone` choices.
        image_size: the default of `--image-size`.
        dropout: the default of `--dropout`.
        helps: optional help texts by `dest`, replacing those of
            `MODEL_HELP` (`None` for no help text).

    Returns:
        The argument group.
    """
    helps = {**MODEL_HELP, **(helps or {})}
    group = parser.add_argument_group("model")
    group.add_argument(
        "--resizer",
        choices=available_resizers(),
        default="bilinear",
        help=helps["resizer"],
    )
    group.add_argument(
        "--resizer-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=helps["resizer_arg"],
    )
    group.add_argument(
        "--backbone",
        choices=sorted(backbones),
        default="resnet_tiny",
        help=helps["backbone"],
    )
    group.add_argument("--input-size", type=int, default=256, help=helps["input_size"])
    group.add_argument(
        "--image-size", type=int, default=image_size, help=helps["image_size"]
    )
    group.add_argument("--dropout", type=float, default=dropout, help=helps["dropout"])
    return group


def add_measurement_arguments(parser, helps=None):
    """Adds the "measurements" option group (see `measure_resizer`), returned.

    Options: `--latency-batch` (default 8), `--latency-repeats` (default 10)
    and `--no-flops`; `helps` replaces texts of `MEASUREMENT_HELP` by `dest`
    (`None`: no help text), as in `add_model_arguments`.
    """
    helps = {**MEASUREMENT_HELP, **(helps or {})}
    group = parser.add_argument_group("measurements")
    group.add_argument(
        "--latency-batch", type=int, default=8, help=helps["latency_batch"]
    )
    group.add_argument(
        "--latency-repeats", type=int, default=10, help=helps["latency_repeats"]
    )
    group.add_argument("--no-flops", action="store_true", help=helps["no_flops"])
    return group


def parse_value(text):
    """`"3"` -> 3, `"0.5"` -> 0.5, `"true"` -> True, `"none"` -> None, else str."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_resizer_args(pairs):
    """`["filters=16", "interpolation=bicubic"]` -> `{"filters": 16, ...}`."""
    kwargs = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                "Expected `--resizer-arg` as key=value. "
                f"Received: --resizer-arg {pair!r}"
            )
        kwargs[key.strip().replace("-", "_")] = parse_value(value)
    return kwargs


def check_common_args(parser, args, default_output_dir):
    """The checks of the shared options, after `parser.parse_args`.

    Sets `args.resizer_kwargs` (from `--resizer-arg`), requires
    `--input-size`, `--image-size`, `--batch-size` and `--epochs` >= 1 and
    fills in `--output-dir` with `default_output_dir`. Errors go through
    `parser.error` (usage message, exit status 2).

    Returns:
        `args`.
    """
    try:
        args.resizer_kwargs = parse_resizer_args(args.resizer_arg)
    except ValueError as e:
        parser.error(str(e))
    for name in ("input_size", "image_size", "batch_size", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.output_dir is None:
        args.output_dir = default_output_dir
    return args


def jit_compile_value(value):
    """Maps the `--jit-compile` string to `Model.compile(jit_compile=...)`."""
    return {"auto": "auto", "true": True, "false": False}[str(value).lower()]


def setup(args, clear_session=False):
    """Applies the common options, in the order TensorFlow needs.

    Configures logical CPUs (`--num-logical-cpus`), optionally clears the
    Keras session (for several runs in one process), seeds everything
    (`--seed`), sets the mixed precision policy and returns the strategy.
    Call it before any TensorFlow op runs.

    Args:
        args: the parsed namespace (with the `add_common_arguments` options).
        clear_session: call `keras.backend.clear_session()` after the
            device setup (frees models of earlier runs in this process).

    Returns:
        A `tf.distribute.Strategy`.
    """
    if getattr(args, "num_logical_cpus", 0):
        configure_logical_cpus(args.num_logical_cpus)
    if clear_session:
        keras.backend.clear_session()
    set_seed(args.seed)
    set_mixed_precision(getattr(args, "mixed_precision", False))
    return get_strategy(args.strategy)


def start_run(args, clear_session=False):
    """The first steps of a run: `setup`, resizer kwargs, the output folder.

    Sets `args.resizer_kwargs` from `args.resizer_arg` when the namespace
    did not come from `check_common_args`, and creates `--output-dir`.

    Returns:
        The `tf.distribute.Strategy` of `setup`.
    """
    strategy = setup(args, clear_session=clear_session)
    if not hasattr(args, "resizer_kwargs"):
        args.resizer_kwargs = parse_resizer_args(getattr(args, "resizer_arg", []))
    os.makedirs(args.output_dir, exist_ok=True)
    return strategy


# ----------------------------------------------------------------------------
# Devices, strategies, seeds, precision.


def configure_logical_cpus(n):
    """Splits the first physical CPU into `n` logical devices.

    Lets `MirroredStrategy` run over `n` replicas on one CPU (for tests).
    Must run before TensorFlow initialises its devices (before the first op),
    which is why tests run it in a subprocess.

    Args:
        n: number of logical CPU devices, >= 1.

    Returns:
        The list of logical CPU devices.

    Raises:
        ValueError: if `n` is not a positive int.
        RuntimeError: if TensorFlow has already initialised its devices with
            a different number of logical CPUs.
    """
    import tensorflow as tf

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(
            f"Expected `num_logical_cpus` to be a positive int. Received: {n!r}"
        )
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as e:
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) == n:
            return logical
        raise RuntimeError(
            f"Cannot split the CPU into {n} logical devices: TensorFlow is "
            f"already initialised with {len(logical)}. Configure logical CPUs "
            "before running any TensorFlow op (e.g. in a fresh process)."
        ) from e
    return tf.config.list_logical_devices("CPU")


def get_strategy(name):
    """Returns the `tf.distribute` strategy named by `--strategy`.

    - `default`: the default (single-device) strategy.
    - `mirrored`: `MirroredStrategy` over all GPUs, or over all logical CPUs
      when there is no GPU (with `ReductionToOneDevice`, as NCCL needs GPUs).
    - `multiworker`: `MultiWorkerMirroredStrategy` (reads `TF_CONFIG`).
    - `tpu`: `TPUStrategy` on the TPU found by `TPUClusterResolver`.

    Raises:
        ValueError: for an unknown name.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(
            devices=devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(
        f"Unknown strategy. Expected one of {list(STRATEGIES)}. "
        f"Received: strategy={name!r}"
    )


def set_seed(seed):
    """Seeds Python's `random`, numpy and TensorFlow (`keras.utils`).

    Op determinism is not enabled (it slows CPU training down); runs with the
    same seed are close but not bit-identical.
    """
    keras.utils.set_random_seed(int(seed))


def set_mixed_precision(enabled):
    """Sets the global Keras dtype policy: `mixed_float16` or `float32`."""
    keras.config.set_dtype_policy("mixed_float16" if enabled else "float32")


# ----------------------------------------------------------------------------
# Learning-rate schedule and optimizer.


@keras.saving.register_keras_serializable(package="keras_resize_training")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `base_lr`, then cosine decay, steps or constant.

    During the first `warmup_steps` steps the rate rises linearly,
    `base_lr * (step + 1) / warmup_steps`. After warmup:

    - `cosine`: `base_lr * 0.5 * (1 + cos(pi * t))`, `t` going from 0
      to 1 over the remaining `total_steps - warmup_steps` steps;
    - `step`: `base_lr * 0.1 ** k`, `k` the number of `step_boundaries`
      (absolute step numbers) at or below the step;
    - `constant`: `base_lr`.
    """

    def __init__(self, name, base_lr, total_steps, warmup_steps=0, step_boundaries=()):
        if name not in SCHEDULES:
            raise ValueError(
                f"Unknown schedule. Expected one of {list(SCHEDULES)}. "
                f"Received: schedule={name!r}"
            )
        self.name = name
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.step_boundaries = [int(b) for b in step_boundaries]

    def __call__(self, step):
        step = ops.cast(step, "float32")
        base = ops.cast(self.base_lr, "float32")
        warmup = float(self.warmup_steps)
        if self.name == "cosine":
            span = float(max(self.total_steps - self.warmup_steps, 1))
            t = ops.clip((step - warmup) / span, 0.0, 1.0)
            lr = base * 0.5 * (1.0 + ops.cos(math.pi * t))
        elif self.name == "step":
            k = ops.zeros((), "float32")
            for b in self.step_boundaries:
                k = k + ops.cast(step >= float(b), "float32")
            lr = base * ops.power(STEP_GAMMA, k)
        else:
            lr = base + 0.0 * step
        if self.warmup_steps > 0:
            lr = ops.where(step < warmup, base * (step + 1.0) / warmup, lr)
        return lr

    def get_config(self):
        return {
            "name": self.name,
            "base_lr": self.base_lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "step_boundaries": list(self.step_boundaries),
        }


def make_schedule(name, base_lr, total_steps, warmup_steps, step_boundaries=None):
    """Builds the learning-rate schedule named by `--schedule`.

    Args:
        name: `"cosine"`, `"step"` or `"constant"`.
        base_lr: peak learning rate (reached at the end of warmup).
        total_steps: total optimizer steps of the run (the cosine reaches 0
            there).
        warmup_steps: steps of linear warmup from ~0 to `base_lr`.
        step_boundaries: absolute steps where `"step"` divides the rate by
            10; defaults to 1/3, 2/3 and 8/9 of the post-warmup steps.

    Returns:
        A serializable `keras.optimizers.schedules.LearningRateSchedule`.

    Raises:
        ValueError: for an unknown name or negative step counts.
    """
    if total_steps < 1 or warmup_steps < 0:
        raise ValueError(
            "Expected `total_steps >= 1` and `warmup_steps >= 0`. Received: "
            f"total_steps={total_steps}, warmup_steps={warmup_steps}"
        )
    if step_boundaries is None:
        span = max(total_steps - warmup_steps, 1)
        step_boundaries = [int(warmup_steps + f * span) for f in STEP_FRACTIONS]
    return WarmupSchedule(name, base_lr, total_steps, warmup_steps, step_boundaries)


def make_optimizer(name, schedule, weight_decay, momentum):
    """Builds the optimizer named by `--optimizer`.

    - `sgd`: `keras.optimizers.SGD` with Nesterov momentum `momentum`;
    - `adamw`: `keras.optimizers.AdamW` (`momentum` is unused).

    Both use decoupled weight decay `weight_decay` (Keras applies
    `w -= lr * weight_decay * w`), not applied to biases and normalisation
    parameters (`NO_DECAY_NAMES`). Build it inside `strategy.scope()`.

    Args:
        name: `"sgd"` or `"adamw"`.
        schedule: a learning-rate schedule or a float.
        weight_decay: decoupled weight decay factor, >= 0.
        momentum: SGD momentum in [0, 1).

    Raises:
        ValueError: for an unknown name.
    """
    weight_decay = float(weight_decay) or None
    if name == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=schedule,
            momentum=float(momentum),
            nesterov=True,
            weight_decay=weight_decay,
        )
    elif name == "adamw":
        optimizer = keras.optimizers.AdamW(
            learning_rate=schedule, weight_decay=weight_decay or 0.0
        )
    else:
        raise ValueError(
            f"Unknown optimizer. Expected one of {list(OPTIMIZERS)}. "
            f"Received: optimizer={name!r}"
        )
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer


# ----------------------------------------------------------------------------
# Model.


def resizer_features(resizer_layer, backbone_model, input_size, dropout):
    """The trunk the task heads share, on square images in [0, 1]:

    ```
    images (N, S_in, S_in, 3) -> resizer_layer -> normalise (ImageNet mean
        and std) -> backbone_model -> global average pooling -> dropout
    ```

    Args:
        resizer_layer: the resizer (its name should be `resizer`, which
            `measure_resizer` looks up).
        backbone_model: the backbone (named `backbone`).
        input_size: side of the input images.
        dropout: dropout rate after the pooling.

    Returns:
        `(inputs, features)`: the `keras.Input` named `images` and the
        pooled, dropped-out features, to put a head on.
    """
    inputs = keras.Input((input_size, input_size, 3), name="images")
    x = resizer_layer(inputs)
    x = keras.layers.Normalization(
        mean=list(IMAGENET_MEAN),
        variance=[s * s for s in IMAGENET_STD],
        name="normalize",
    )(x)
    x = backbone_model(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return inputs, x


def compile_model(model, args, steps_per_epoch, loss, metrics=None):
    """Compiles `model` with the schedule and optimizer of the options.

    The schedule (`--schedule`, `--learning-rate`, `--warmup-epochs`, the
    warmup capped one step short of the end) spans `--epochs` epochs of
    `steps_per_epoch` steps; the optimizer is `--optimizer` with
    `--weight-decay` and `--momentum`; XLA follows `--jit-compile`. Call it
    inside `strategy.scope()`.
    """
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = min(
        int(round(args.warmup_epochs * steps_per_epoch)), total_steps - 1
    )
    schedule = make_schedule(
        args.schedule, args.learning_rate, total_steps, warmup_steps
    )
    optimizer = make_optimizer(
        args.optimizer, schedule, args.weight_decay, args.momentum
    )
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=metrics,
        jit_compile=jit_compile_value(args.jit_compile),
    )
    return model


# ----------------------------------------------------------------------------
# Callbacks.


class ThroughputCallback(keras.callbacks.Callback):
    """Measures training throughput in images per second.

    Times each epoch from the end of its first batch (which carries
    tracing and warm-up) to the end of its last, and counts
    `batch_size` images per timed batch (the last batch of an epoch may
    be smaller: with `drop_remainder=True` datasets it is not). Each
    batch end waits for the step's outputs, so asynchronous dispatch
    does not inflate the number.

    Attributes:
        epoch_images_per_sec: one value per epoch with >= 2 batches.
        images_per_sec: all timed images over all timed seconds, or
            `nan` when no epoch had 2 batches.
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = int(batch_size)
        self.epoch_images_per_sec = []
        self._images = 0
        self._seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._first_end = None
        self._last_end = None
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        for value in (logs or {}).values():  # Wait for the step.
            try:
                float(value)
            except (TypeError, ValueError):
                pass
            break
        now = time.perf_counter()
        if self._first_end is None:
            self._first_end = now
        else:
            self._batches += 1
            self._last_end = now

    def on_epoch_end(self, epoch, logs=None):
        rate = float("nan")
        if self._batches and self._last_end > self._first_end:
            seconds = self._last_end - self._first_end
            images = self._batches * self.batch_size
            rate = images / seconds
            self.epoch_images_per_sec.append(rate)
            self._images += images
            self._seconds += seconds
        if logs is not None:  # Always set, so the CSV log has a stable header.
            logs["images_per_sec"] = rate

    @property
    def images_per_sec(self):
        if not self._seconds:
            return float("nan")
        return self._images / self._seconds


class EpochScalarsTensorBoard(keras.callbacks.Callback):
    """Writes the epoch logs as TensorBoard scalars, without `tensorboard`.

    Keras' `TensorBoard` callback needs the `tensorboard` package (for
    `tf.summary.scalar`), which TensorFlow 2.21 does not install. This
    fallback writes the same layout with TensorFlow's core summary writer
    (`tf.summary.write` with the `scalars` plugin metadata):
    `log_dir/train` gets `epoch_<name>` for every log `<name>`, and
    `log_dir/validation` gets `epoch_<name>` for every `val_<name>`.
    TensorBoard shows them like Keras' own logs.

    Args:
        log_dir: the TensorBoard log folder.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self._writers = {}

    def _writer(self, kind):
        import tensorflow as tf

        if kind not in self._writers:
            path = os.path.join(self.log_dir, kind)
            self._writers[kind] = tf.summary.create_file_writer(path)
        return self._writers[kind]

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        )
        for key, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            kind, name = (
                ("validation", key[4:])
                if key.startswith("val_")
                else (
                    "train",
                    key,
                )
            )
            with self._writer(kind).as_default():
                tf.summary.write(
                    f"epoch_{name}",
                    tf.constant(value, tf.float32),
                    step=epoch,
                    metadata=metadata,
                )
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def tensorboard_callback(log_dir):
    """Keras' `TensorBoard` if `tensorboard` is installed, else the fallback.

    Returns:
        `keras.callbacks.TensorBoard(log_dir)` or
        `EpochScalarsTensorBoard(log_dir)` (epoch scalars only).
    """
    if importlib.util.find_spec("tensorboard") is not None:
        return keras.callbacks.TensorBoard(log_dir)
    return EpochScalarsTensorBoard(log_dir)


def standard_callbacks(
    output_dir,
    resume,
    monitor="val_loss",
    mode="min",
    save_format="weights",
    tensorboard=True,
):
    """The callbacks every training run uses, writing under `output_dir`.

    - `BackupAndRestore` in `output_dir/backup`: the training state (weights,
      optimizer, epoch) after every epoch. It is kept after training ends
      (`delete_checkpoint=False`), so `--resume --epochs N+k` extends a
      finished run as well as continuing an interrupted one. Without
      `resume` an existing backup is deleted first, so a new run never
      silently continues an old one.
    - `ModelCheckpoint`: `checkpoints/best.<ext>` (best `monitor`) and
      `checkpoints/last.<ext>` (every epoch); `<ext>` is `weights.h5` for
      `save_format="weights"` or `keras` for a whole-model archive.
    - TensorBoard logs in `output_dir/tensorboard` (if `tensorboard`):
      Keras' callback, or `EpochScalarsTensorBoard` when the `tensorboard`
      package is not installed.
    - `CSVLogger` to `output_dir/log.csv` (appended to when resuming).

    Put other callbacks that read logs (e.g. `ThroughputCallback`) before
    these in the list so their values reach the CSV log.

    Args:
        output_dir: folder (created if missing).
        resume: whether to continue from an existing backup.
        monitor: metric of the "best" checkpoint.
        mode: `"min"` or `"max"` for `monitor`.
        save_format: `"weights"` or `"keras"`.
        tensorboard: whether to add the TensorBoard callback.

    Returns:
        A list of Keras callbacks.
    """
    if save_format not in ("weights", "keras"):
        raise ValueError(
            "Expected `save_format` to be 'weights' or 'keras'. "
            f"Received: save_format={save_format!r}"
        )
    os.makedirs(output_dir, exist_ok=True)
    backup = os.path.join(output_dir, BACKUP_DIR)
    if not resume and os.path.isdir(backup):
        shutil.rmtree(backup)
    checkpoints = os.path.join(output_dir, CHECKPOINT_DIR)
    os.makedirs(checkpoints, exist_ok=True)
    ext = "weights.h5" if save_format == "weights" else "keras"
    weights_only = save_format == "weights"
    callbacks = [
        keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, f"best.{ext}"),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            save_weights_only=weights_only,
        ),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, f"last.{ext}"),
            save_weights_only=weights_only,
        ),
    ]
    if tensorboard:
        callbacks.append(
            tensorboard_callback(os.path.join(output_dir, TENSORBOARD_DIR))
        )
    callbacks.append(
        keras.callbacks.CSVLogger(os.path.join(output_dir, CSV_LOG), append=resume)
    )
    return callbacks


def recalibrate_batch_norm(model, dataset, steps):
    """`keras_resize.callbacks.recalibrate_batch_norm` (kept for the scripts)."""
    from keras_resize.callbacks import recalibrate_batch_norm as recalibrate

    return recalibrate(model, dataset, steps)


def maybe_recalibrate_batch_norm(model, args, strategy, train, log=print):
    """`recalibrate_batch_norm` with `--bn-recalibration-steps`, on one replica.

    Returns the number of batches used, or 0 when switched off or skipped
    (several replicas: the forward passes would run outside the strategy).
    """
    steps = getattr(args, "bn_recalibration_steps", 0)
    if steps <= 0:
        return 0
    if strategy.num_replicas_in_sync != 1:
        log(
            "[bn] recalibration skipped: it runs on one replica "
            f"({strategy.num_replicas_in_sync} in sync)"
        )
        return 0
    return recalibrate_batch_norm(model, train, steps)


def fit_model(model, args, train, val, steps_per_epoch, monitor, mode):
    """`model.fit` with a `ThroughputCallback` and `standard_callbacks`.

    Args:
        model: the compiled model.
        args: the parsed namespace (`--epochs`, `--batch-size`,
            `--output-dir`, `--resume`, `--verbose`).
        train: the training dataset; it shuffles itself (`fit` does not).
        val: the validation dataset or `None`.
        steps_per_epoch: training steps per epoch.
        monitor: the metric of the "best" checkpoint, e.g. `"accuracy"`:
            its `val_` version when there is a validation dataset.
        mode: `"min"` or `"max"` for `monitor`.

    Returns:
        `(history, throughput)`: the `History` and the `ThroughputCallback`.
    """
    throughput = ThroughputCallback(args.batch_size)
    if val is not None:
        monitor = f"val_{monitor}"
    callbacks = [throughput] + standard_callbacks(
        args.output_dir, args.resume, monitor=monitor, mode=mode
    )
    history = model.fit(
        train,
        validation_data=val,
        epochs=args.epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,  # The tf.data pipeline shuffles.
        verbose=args.verbose,
    )
    return history, throughput


# ----------------------------------------------------------------------------
# Cost measurements.


def _as_callable(layer_or_model):
    def forward(x):
        return layer_or_model(x, training=False)

    return forward


def count_flops(layer_or_model, input_shape):
    """Forward FLOPs per image, counted by the TensorFlow profiler.

    Traces `layer(x, training=False)` for one image (`x` of shape
    `(1, *input_shape)`) as a concrete function, freezes its variables to
    constants and sums `ProfileOptionBuilder.float_operation()` over the
    graph (`tensorflow.python.profiler.model_analyzer`).

    Conventions of the TF profiler: a multiply-add counts 2 FLOPs (convs,
    matmuls), elementwise ops count one per output element, and ops without
    a registered FLOP count (gathers, casts, reshapes, TF's own resize
    kernels) count 0. So for gather-based resizers this is the arithmetic
    of the interpolation (weights times samples, sums), not memory traffic.

    Args:
        layer_or_model: a built or unbuilt Keras layer or model.
        input_shape: the shape of one image, without the batch dimension,
            e.g. `(256, 256, 3)`.

    Returns:
        An int, the forward FLOPs per image.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2_as_graph,
    )
    from tensorflow.python.profiler import model_analyzer, option_builder

    from keras_resize.ops import sampling

    spec = tf.TensorSpec((1, *input_shape), tf.float32)
    # The fused sampler core is a nested XLA function, opaque to the profiler:
    # trace the plain kernels instead (the same arithmetic).
    fused = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(False)
    try:
        concrete = tf.function(_as_callable(layer_or_model)).get_concrete_function(spec)
    finally:
        sampling.set_xla_fusion(fused)
    _, graph_def = convert_variables_to_constants_v2_as_graph(concrete)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    options = (
        option_builder.ProfileOptionBuilder(
            option_builder.ProfileOptionBuilder.float_operation()
        )
        .with_empty_output()
        .build()
    )
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # The profiler logs a TF1 deprecation notice.
    try:
        profile = model_analyzer.profile(graph, options=options)
    finally:
        logger.setLevel(level)
    return int(profile.total_float_ops)


def measure_latency(layer, input_shape, repeats=10, warmup=2, seed=0):
    """Median forward time in ms per batch, in graph mode (`tf.function`).

    The call is traced and run `warmup` times first; then each of `repeats`
    calls is timed (waiting for the result) and the median is returned. No
    XLA (`jit_compile` off on the outer function), as on CPU graph mode is
    faster (see STACK.md). Divide by the batch size for ms per image.

    Args:
        layer: a Keras layer or model (called with `training=False`).
        input_shape: the full input shape including the batch, e.g.
            `(8, 256, 256, 3)`.
        repeats: number of timed calls, >= 1.
        warmup: untimed calls before timing.
        seed: seed of the uniform random input in [0, 1).

    Returns:
        A float, the median ms per call.
    """
    import numpy as np
    import tensorflow as tf

    if repeats < 1:
        raise ValueError(f"Expected `repeats >= 1`. Received: repeats={repeats}")
    x = tf.constant(
        np.random.default_rng(seed).random(tuple(input_shape), dtype=np.float32)
    )
    forward = tf.function(_as_callable(layer))
    for _ in range(max(1, warmup)):
        _ = forward(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _ = forward(x).numpy()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


def measure_resizer(model, args):
    """Parameters, FLOPs per image and latency of the model's resizer.

    Also the backbone's FLOPs per image (at `--image-size`). The model has
    layers named `resizer` and `backbone`; the options used are
    `--input-size`, `--image-size`, `--no-flops`, `--latency-batch` and
    `--latency-repeats`. See `count_flops` for the FLOP conventions (TF
    profiler).
    """
    resizer = model.get_layer("resizer")
    backbone = model.get_layer("backbone")
    out = {
        "resizer_params": int(resizer.count_params()),
        "resizer_trainable_params": int(
            sum(np.prod(v.shape) for v in resizer.trainable_weights)
        ),
        "backbone_params": int(backbone.count_params()),
        "model_params": int(model.count_params()),
    }
    if not args.no_flops:
        out["resizer_flops_per_image"] = count_flops(
            resizer, (args.input_size, args.input_size, 3)
        )
        out["backbone_flops_per_image"] = count_flops(
            backbone, (args.image_size, args.image_size, 3)
        )
    batch = args.latency_batch
    ms = measure_latency(
        resizer, (batch, args.input_size, args.input_size, 3), args.latency_repeats
    )
    out["resizer_latency_ms_per_batch"] = ms
    out["resizer_latency_ms_per_image"] = ms / batch
    out["latency_batch"] = batch
    return out


# ----------------------------------------------------------------------------
# Results.


def environment():
    """Versions and devices: Python, TF, Keras, keras-hub, platform, devices."""
    import tensorflow as tf

    env = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "devices": [d.name for d in tf.config.list_logical_devices()],
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "dtype_policy": keras.config.dtype_policy().name,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    try:
        import keras_hub

        env["keras_hub"] = keras_hub.__version__
    except Exception:  # noqa: BLE001 (optional)
        env["keras_hub"] = None
    return env


def json_safe(value):
    """Numpy scalars/arrays to Python; non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_results(path, results, args=None):
    """Writes a results JSON: metrics, `args` and `environment`.

    Args:
        path: output file (folders are created); written atomically.
        results: dict of metrics (numpy values are converted; NaN and inf
            become `null`).
        args: optional `argparse.Namespace` or dict stored under `"args"`
            (unless `results` already has `"args"`).

    Returns:
        The dict written.
    """
    payload = dict(results)
    if args is not None and "args" not in payload:
        payload["args"] = dict(vars(args) if not isinstance(args, dict) else args)
    if "environment" not in payload:
        payload["environment"] = environment()
    payload = json_safe(payload)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return payload


def finite_or_none(value):
    """`float(value)`, or `None` when it is NaN or infinite."""
    value = float(value)
    return value if math.isfinite(value) else None


def format_metric(results, key, spec=".4f"):
    """`results[key]` formatted with `spec`, or `"n/a"` when missing/None."""
    value = results.get(key)
    return "n/a" if value is None else format(value, spec)


def training_results(
    args, strategy, steps_per_epoch, train_examples, history, throughput
):
    """The results entries every training script reports about its training.

    Keys: `seed`, `num_replicas`, `strategy`, `global_batch_size`,
    `steps_per_epoch`, `epochs`, `epochs_run`, `train_examples`,
    `train_images_per_sec` (of `throughput`, `None` if not measured) and
    `history` (the per-epoch logs of `history`).
    """
    hist = history.history
    return {
        "seed": args.seed,
        "num_replicas": int(strategy.num_replicas_in_sync),
        "strategy": args.strategy,
        "global_batch_size": args.batch_size,
        "steps_per_epoch": steps_per_epoch,
        "epochs": args.epochs,
        "epochs_run": len(hist.get("loss", [])),
        "train_examples": train_examples,
        "train_images_per_sec": finite_or_none(throughput.images_per_sec),
        "history": {k: [float(x) for x in v] for k, v in hist.items()},
    }


def run_results(args, strategy, steps_per_epoch, train_examples, history, throughput):
    """`training_results(...)` plus the resizer entries of the classification
    and IQA scripts: `resizer`, `resizer_kwargs`, `backbone`, `input_size`
    and `image_size`."""
    return {
        "resizer": args.resizer,
        "resizer_kwargs": args.resizer_kwargs,
        "backbone": args.backbone,
        "input_size": args.input_size,
        "image_size": args.image_size,
        **training_results(
            args, strategy, steps_per_epoch, train_examples, history, throughput
        ),
    }


def write_run(args, results, start, summary_line):
    """Adds `wall_time_s` (since the `time.perf_counter()` value `start`),
    writes `--output-dir/results.json` (`write_results`, with `args`),
    prints `summary_line(payload)` and returns the dict written."""
    results["wall_time_s"] = time.perf_counter() - start
    payload = write_results(os.path.join(args.output_dir, RESULTS_FILE), results, args)
    print(summary_line(payload), flush=True)
    return payload


def finish_run(model, args, results, start, summary_line):
    """Measures the resizer, writes `results.json` and prints a summary.

    Adds `measure_resizer(model, args)` and `wall_time_s` (since the
    `time.perf_counter()` value `start`) to `results`, writes them to
    `--output-dir/results.json` (`write_results`, with `args`) and prints
    `summary_line(payload)`.

    Returns:
        The dict written.
    """
    results.update(measure_resizer(model, args))
    return write_run(args, results, start, summary_line)
