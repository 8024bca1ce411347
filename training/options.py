"""Command-line options shared by the training scripts.

A training script builds its parser with `add_model_arguments`,
`add_measurement_arguments` and `add_common_arguments`, and checks the
parsed namespace with `check_common_args`. The choices of `--strategy`,
`--optimizer` and `--schedule` live here (`STRATEGIES`, `OPTIMIZERS`,
`SCHEDULES`) and are used by `training.runtime` and `training.optimization`.

Example:

```python
import argparse
from training import options

parser = argparse.ArgumentParser()
options.add_model_arguments(parser, ["resnet_tiny"], image_size=64, dropout=0.2)
options.add_measurement_arguments(parser)
options.add_common_arguments(parser)
args = options.check_common_args(
    parser, parser.parse_args(["--resizer-arg", "filters=8"]), "runs/example"
)
assert args.resizer_kwargs == {"filters": 8}
assert args.output_dir == "runs/example"
```

Importing this module imports Keras (and so TensorFlow) but runs no op.
"""

from keras_resize.layers import available_resizers

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "constant")

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
    """Adds the "measurements" option group (`training.measurement`), returned.

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
