"""Learned resizer vs fixed resizers on a 4x-downsized classification task.

Trains the same classifier (`training.classification`: resizer -> backbone
-> logits) on the offline high-resolution digit canvases of
`keras_resize.data.make_classification_canvases` (256 px canvases, one real
MNIST digit of 40-100 px plus 6 clutter fragments, the builder's defaults),
resized 4x to 64 px by each resizer:

- `bilinear`, `area`, `antialias` (fixed, no parameters),
- `learned` (`LearnedResize`, trained end to end with the backbone),
- `muller` (`MullerResize`, 4 scalars on bilinear, from zero, trained end to
  end) and `muller_imagenet` (the same, starting from the authors' published
  ResNet-50 / ImageNet values, the `muller-resnet50-imagenet` preset),

with the same backbone, optimizer, schedule and seeds (0, 1, 2). The canvases
are the same for every run (train from MNIST train digits, val and test from
MNIST test digits, fixed seeds); the seed changes only the initialisation
and the shuffling.

Reported per resizer: mean +- std test accuracy over the seeds (and each
seed's), the val accuracy, training images/s, the resizer's parameters and
FLOPs per image, and its forward time in ms per image, measured at the end in
the same process for every resizer (graph mode, batch 8, 256x256x3 -> 64x64,
interleaved rounds, median). Targets: learned beats bilinear by >= 2 points
of mean test accuracy; learned beats the best fixed resizer.

With MULLER rows, a speed comparison at the paper's setting (448 -> 224,
batch 8, graph mode, same process): MULLER's folded form (resampling with
the taps of `R B^k`), its direct form (depthwise blurs at 448, then
resizes), and a bilinear resize; target: folded within 5x bilinear.

`--resizers muller muller_imagenet --keep-previous` trains only those rows
and keeps the other rows of the previous `learned_resize.json` (their
latency comes from their own run; the new rows' latency is measured beside
a fresh bilinear row).

A figure (`learned_resize.png`) shows test canvases resized by bilinear and
by the trained learned resizer (seed 0), and their difference.

Time: see `ESTIMATE` (calibrated on 2 CPU cores); `--quick` is a < 1 minute
smoke test (1 seed, 64 -> 16 px, tiny splits) writing to
`benchmarks/results/quick/` unless `--output-dir` is given.

Run with `python -m benchmarks.run --only learned_resize` (or directly with
`python -m benchmarks.learned_resize`); see `--help` for the options.
"""

import json
import os
import shlex
import statistics
import time
from pathlib import Path

from benchmarks import common

NAME = "learned_resize"

RESIZERS = ("bilinear", "area", "antialias", "learned", "muller", "muller_imagenet")
MULLER = ("muller", "muller_imagenet")
FIXED = ("bilinear", "area", "antialias")

# The schedule, calibrated on 2 shared CPU cores (load average ~2.5) with
# one short run of each (12 steps of 32 canvases, 256 -> 64, resnet_tiny,
# adamw): `learned` trains at ~27 images/s (1.2 s per step: its 7x7 stem
# convolution runs at 256x256) and evaluates at ~110 images/s; `bilinear`
# trains at ~270 images/s (0.12 s per step) and evaluates at ~380 images/s.
# A 5-epoch, 1500-canvas bilinear run reached 66% test accuracy and was
# still improving (not trivial, not saturated); hence 2000 x 6 below.
FULL = {
    "seeds": (0, 1, 2),
    "input_size": 256,
    "image_size": 64,
    "train_size": 2000,
    "val_size": 500,
    "test_size": 2000,
    "epochs": 6,
    "batch_size": 32,
    "backbone": "resnet_tiny",
    "optimizer": "adamw",
    "learning_rate": 2e-3,
    "weight_decay": 1e-4,
    "warmup_epochs": 0.5,
    "schedule": "cosine",
    "latency_batch": 8,
    "latency_repeats": 15,
}
QUICK = {
    **FULL,
    "seeds": (0,),
    "input_size": 64,
    "image_size": 16,
    "train_size": 32,
    "val_size": 16,
    "test_size": 16,
    "epochs": 1,
    "batch_size": 16,
    "latency_batch": 2,
    "latency_repeats": 3,
}
ESTIMATE = (
    "About 36 minutes on 2 shared CPU cores: learned ~510 s per seed "
    "(2000 x 6 training images at ~27 img/s = 1.2 s per 32-image step, "
    "3000 val + 2000 test images at ~110 img/s, ~15 s of tracing and "
    "measurements), each fixed resizer ~70 s per seed (~270 img/s training, "
    "~380 img/s evaluation); 3 x 510 + 9 x 70 = ~2160 s."
)

TARGET_MARGIN = 0.02  # Learned must beat bilinear by 2 points of accuracy.
FIGURE_IMAGES = 4

OVERRIDABLE = (
    "train_size",
    "val_size",
    "test_size",
    "epochs",
    "batch_size",
    "backbone",
    "optimizer",
    "learning_rate",
    "weight_decay",
    "warmup_epochs",
)


def add_arguments(parser):
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "smoke test (< 1 min): 1 seed, 64 -> 16 px, 32 train canvases, "
            "1 epoch (writes to benchmarks/results/quick/ unless --output-dir)"
        ),
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help=f"where to write {NAME}.json/.md/.png (default benchmarks/results)",
    )
    common.add_runs_arguments(parser, NAME)
    parser.add_argument(
        "--resizers",
        nargs="+",
        choices=RESIZERS,
        help=f"subset of resizers (default: {' '.join(RESIZERS)})",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="seeds (default 0 1 2; quick: 0)"
    )
    parser.add_argument("--train-size", type=int, help="training canvases")
    parser.add_argument("--val-size", type=int, help="validation canvases")
    parser.add_argument("--test-size", type=int, help="test canvases")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--backbone", help="a training.classification backbone")
    parser.add_argument("--optimizer", choices=("sgd", "adamw"))
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--warmup-epochs", type=float)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument(
        "--keep-previous",
        action="store_true",
        help="keep the rows of the previous learned_resize.json for the resizers "
        "not in --resizers (same schedule), instead of dropping them",
    )
    parser.add_argument(
        "--muller-speed-batch",
        type=int,
        default=8,
        help="batch of the MULLER speed comparison at 448 -> 224 (default 8)",
    )
    parser.add_argument(
        "--reevaluate",
        action="store_true",
        help="do not train: re-evaluate the runs in --runs-dir from their final "
        "weights with BatchNormalization recalibration (for runs trained "
        "before the training script recalibrated by itself)",
    )
    return parser


def _config(args):
    config = dict(QUICK if args.quick else FULL)
    for key in OVERRIDABLE:
        value = getattr(args, key, None)
        if value is not None:
            config[key] = value
    if getattr(args, "seeds", None):
        config["seeds"] = tuple(args.seeds)
    config["resizers"] = tuple(getattr(args, "resizers", None) or RESIZERS)
    config["seeds"] = tuple(config["seeds"])
    return config


def _training_argv(config, resizer, seed, run_dir, verbose):
    argv = [
        "--dataset",
        "digits",
        "--resizer",
        resizer,
        "--backbone",
        config["backbone"],
        "--input-size",
        str(config["input_size"]),
        "--image-size",
        str(config["image_size"]),
        "--train-size",
        str(config["train_size"]),
        "--val-size",
        str(config["val_size"]),
        "--test-size",
        str(config["test_size"]),
        "--epochs",
        str(config["epochs"]),
        "--batch-size",
        str(config["batch_size"]),
        "--optimizer",
        config["optimizer"],
        "--learning-rate",
        str(config["learning_rate"]),
        "--weight-decay",
        str(config["weight_decay"]),
        "--warmup-epochs",
        str(config["warmup_epochs"]),
        "--schedule",
        config["schedule"],
        "--seed",
        str(seed),
        "--output-dir",
        str(run_dir),
        "--latency-batch",
        str(config["latency_batch"]),
        "--latency-repeats",
        str(config["latency_repeats"]),
        "--verbose",
        str(verbose),
    ]
    if resizer == "learned" or resizer in MULLER:
        argv += ["--save-resizer", str(run_dir / "resizer.weights.h5")]
    return argv


KEPT = (
    "test_accuracy",
    "test_loss",
    "val_accuracy",
    "val_loss",
    "train_accuracy",
    "train_images_per_sec",
    "resizer_params",
    "resizer_flops_per_image",
    "backbone_flops_per_image",
    "resizer_latency_ms_per_image",
    "steps_per_epoch",
    "wall_time_s",
    "history",
    "bn_recalibration_batches",
    "fit_val_accuracy",
)


def _train_all(config, runs_dir, args, log):
    from training import classification

    runs = []
    for resizer in config["resizers"]:
        for seed in config["seeds"]:
            run_dir = runs_dir / f"{resizer}_seed{seed}"
            argv = _training_argv(config, resizer, seed, run_dir, args.verbose)
            result = common.train_or_reuse(
                run_dir,
                classification,
                argv,
                args,
                log,
                f"[{NAME}] {resizer} seed {seed}",
            )
            entry = {"resizer": resizer, "seed": seed, "run_dir": str(run_dir)}
            entry.update({k: result.get(k) for k in KEPT})
            if resizer in MULLER:
                entry["muller_values"] = _muller_values(config, run_dir)
            runs.append(entry)
    return runs


def _muller_values(config, run_dir):
    """The trained `(w1, b1, w2, b2)` of a MULLER run (None if not saved)."""
    from keras_resize.layers import get_resizer
    from training import classification

    path = Path(run_dir) / "resizer.weights.h5"
    if not path.exists():
        return None
    size = config["image_size"]
    layer = get_resizer("muller", size, size, name="resizer")
    classification.load_resizer_weights(layer, config["input_size"], path)
    pairs = zip(layer.detail_weights, layer.detail_biases, strict=True)
    return [float(v) for pair in pairs for v in (pair[0].numpy(), pair[1].numpy())]


def muller_speed(batch=8, repeats=15, input_size=448, output_size=224):
    """Forward ms of MULLER folded / direct and a bilinear resize, same process.

    Graph mode (`tf.function`), `batch` random `input_size^2 x 3` images to
    `output_size`, interleaved rounds, median. Also checks that the folded
    and direct forms agree (max abs difference, with the preset's values).
    """
    import numpy as np
    import tensorflow as tf

    from keras_resize.layers import MullerResize, Resize
    from keras_resize.layers.muller_resize import PRESET_VALUES

    x = tf.constant(
        np.random.default_rng(0).random(
            (batch, input_size, input_size, 3), dtype=np.float32
        )
    )
    layers = {
        "bilinear": Resize(output_size, output_size, interpolation="bilinear"),
        "muller_folded": MullerResize(output_size, output_size),
        "muller_direct": MullerResize(
            output_size, output_size, implementation="direct"
        ),
    }
    for name in ("muller_folded", "muller_direct"):
        layer = layers[name]
        layer.build(x.shape)
        values = iter(PRESET_VALUES)
        for weight, bias in zip(layer.detail_weights, layer.detail_biases, strict=True):
            weight.assign(next(values))
            bias.assign(next(values))
    functions = {
        name: tf.function(lambda images, layer=layer: layer(images))
        for name, layer in layers.items()
    }
    outputs = {}
    for name, function in functions.items():  # Trace and warm up.
        function(x).numpy()
        outputs[name] = function(x).numpy()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function(x).numpy()
            times[name].append((time.perf_counter() - start) * 1e3)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return {
        "batch": batch,
        "input_size": input_size,
        "output_size": output_size,
        "repeats": repeats,
        "median_ms_per_batch": medians,
        "ratio_to_bilinear": {
            name: medians[name] / medians["bilinear"] for name in medians
        },
        "folded_vs_direct_max_abs_diff": float(
            np.max(np.abs(outputs["muller_folded"] - outputs["muller_direct"]))
        ),
        "target": "muller_folded within 5x bilinear",
        "met": medians["muller_folded"] <= 5.0 * medians["bilinear"],
    }


def _reevaluate_all(config, runs_dir, log):
    """Re-evaluate trained runs from their final weights (no retraining).

    For runs trained before BatchNormalization recalibration existed: loads
    each run's `checkpoints/last.weights.h5`, applies
    `keras_resize.callbacks.recalibrate_batch_norm` (the same step
    `training.classification` now runs after `fit`), evaluates val and test
    again, re-saves the learned resizer, and updates the run's `results.json`.
    """
    from keras_resize.callbacks import recalibrate_batch_norm
    from training import classification
    from training.runtime import set_seed

    runs = []
    for resizer in config["resizers"]:
        for seed in config["seeds"]:
            run_dir = runs_dir / f"{resizer}_seed{seed}"
            argv = _training_argv(config, resizer, seed, run_dir, 0)
            args = classification.parse_args(argv)
            log(f"[{NAME}] re-evaluating {resizer} seed {seed}")
            set_seed(seed)
            train, val, test, info = classification.make_datasets(args)
            model = classification.build_model(
                resizer,
                args.backbone,
                args.input_size,
                args.image_size,
                info["num_classes"],
                dropout=args.dropout,
            )
            model.load_weights(run_dir / "checkpoints" / "last.weights.h5")
            steps = recalibrate_batch_norm(model, train, args.bn_recalibration_steps)
            model.compile(
                loss=classification.keras.losses.CategoricalCrossentropy(
                    from_logits=True, label_smoothing=args.label_smoothing
                ),
                metrics=["accuracy"],
            )
            result = json.loads((run_dir / "results.json").read_text())
            for key in ("val_accuracy", "val_loss", "val_top5"):
                if key in result and f"fit_{key}" not in result:
                    result[f"fit_{key}"] = result.pop(key)
            for split, data in (("val", val), ("test", test)):
                metrics = model.evaluate(data, return_dict=True, verbose=0)
                result.update({f"{split}_{k}": float(v) for k, v in metrics.items()})
            result["bn_recalibration_batches"] = steps
            if resizer == "learned":
                classification.save_resizer_weights(
                    model.get_layer("resizer"),
                    args.input_size,
                    run_dir / "resizer.weights.h5",
                )
            (run_dir / "results.json").write_text(json.dumps(result, indent=2) + "\n")
            entry = {"resizer": resizer, "seed": seed, "run_dir": str(run_dir)}
            entry.update({k: result.get(k) for k in KEPT})
            runs.append(entry)
    return runs


def _summarise(runs, resizers):
    summary = {}
    for resizer in resizers:
        mine = [r for r in runs if r["resizer"] == resizer]
        acc_mean, acc_std = common.mean_std([r["test_accuracy"] for r in mine])
        val_mean, val_std = common.mean_std([r["val_accuracy"] for r in mine])
        ips, _ = common.mean_std([r["train_images_per_sec"] for r in mine])
        summary[resizer] = {
            "test_accuracy_mean": acc_mean,
            "test_accuracy_std": acc_std,
            "test_accuracy_per_seed": [r["test_accuracy"] for r in mine],
            "val_accuracy_mean": val_mean,
            "val_accuracy_std": val_std,
            "train_images_per_sec_mean": ips,
            "resizer_params": mine[0]["resizer_params"] if mine else None,
            "resizer_flops_per_image": mine[0]["resizer_flops_per_image"]
            if mine
            else None,
            "num_runs": len(mine),
            "seeds": [r["seed"] for r in mine],
        }
        if resizer in MULLER:
            summary[resizer]["muller_values_per_seed"] = [
                r.get("muller_values") for r in mine
            ]
    return summary


def _targets(summary):
    learned = summary.get("learned", {}).get("test_accuracy_mean")
    fixed = {
        name: summary[name]["test_accuracy_mean"]
        for name in FIXED
        if name in summary and summary[name]["test_accuracy_mean"] is not None
    }
    targets = []
    if learned is not None and "bilinear" in fixed:
        margin = learned - fixed["bilinear"]
        targets.append(
            {
                "target": "learned beats bilinear by >= 2 points (mean test accuracy)",
                "margin": margin,
                "met": margin >= TARGET_MARGIN,
            }
        )
    if learned is not None and fixed:
        best = max(fixed, key=fixed.get)
        margin = learned - fixed[best]
        targets.append(
            {
                "target": "learned beats the best fixed resizer "
                f"({best}, mean test accuracy)",
                "margin": margin,
                "met": margin > 0,
            }
        )
    return targets


def _build_resizers(config, runs):
    """The resizer layers, the learned one with seed-0 (first) trained weights."""
    from keras_resize.layers import get_resizer
    from training import classification

    size = config["image_size"]
    layers = {}
    for resizer in config["resizers"]:
        if resizer in MULLER:  # Same cost whatever its 4 values.
            layer = get_resizer("muller", size, size, name=f"{resizer}_resizer")
            layers[resizer] = layer
            continue
        layer = get_resizer(resizer, size, size, name=f"{resizer}_resizer")
        if resizer == "learned":
            trained = next(r for r in runs if r["resizer"] == "learned")
            classification.load_resizer_weights(
                layer,
                config["input_size"],
                Path(trained["run_dir"]) / "resizer.weights.h5",
            )
        layers[resizer] = layer
    return layers


def measure_latency(layers, config):
    """Median forward ms per image of every resizer, interleaved rounds."""
    import numpy as np
    import tensorflow as tf

    batch, size = config["latency_batch"], config["input_size"]
    x = tf.constant(
        np.random.default_rng(0).random((batch, size, size, 3), dtype=np.float32)
    )
    functions = {
        name: tf.function(lambda images, layer=layer: layer(images, training=False))
        for name, layer in layers.items()
    }
    for function in functions.values():  # Trace and warm up.
        function(x).numpy()
        function(x).numpy()
    times = {name: [] for name in functions}
    for _ in range(config["latency_repeats"]):
        for name, function in functions.items():
            start = time.perf_counter()
            function(x).numpy()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {
        name: {
            "median_ms_per_batch": statistics.median(ts),
            "median_ms_per_image": statistics.median(ts) / batch,
            "min_ms_per_batch": min(ts),
        }
        for name, ts in times.items()
    }


def _figure(layers, config, path):
    """Test canvases: input, bilinear, learned, learned - bilinear."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from keras_resize.data import make_classification_canvases
    from training import classification

    size = config["input_size"]
    digit_size = classification._default_digit_size(size)
    data = make_classification_canvases(
        FIGURE_IMAGES,
        canvas_size=size,
        digit_size=digit_size,
        clutter=6,
        seed=2,  # The test split's seed (data seed 0 + 2).
        split="test",
        channels=3,
    )
    images = data["images"]
    bilinear = np.asarray(layers["bilinear"](images, training=False))
    learned = np.asarray(layers["learned"](images, training=False))
    residual = learned - bilinear
    limit = float(np.max(np.abs(residual))) or 1.0
    columns = (
        ("input", images, "gray", (0, 1)),
        ("bilinear", bilinear, "gray", (0, 1)),
        ("learned", learned, "gray", None),
        ("learned - bilinear", residual, "RdBu_r", (-limit, limit)),
    )
    fig, axes = plt.subplots(
        FIGURE_IMAGES, len(columns), figsize=(2.6 * len(columns), 2.6 * FIGURE_IMAGES)
    )
    for i in range(FIGURE_IMAGES):
        for j, (title, batch, cmap, limits) in enumerate(columns):
            ax = axes[i, j]
            image = batch[i].mean(axis=-1)
            kwargs = {"vmin": limits[0], "vmax": limits[1]} if limits else {}
            shown = ax.imshow(image, cmap=cmap, interpolation="nearest", **kwargs)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title)
            if j == 0:
                ax.set_ylabel(f"label {int(data['labels'][i])}")
            if j == len(columns) - 1:
                fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.suptitle(
        f"{size} -> {config['image_size']} px (learned: seed 0, "
        f"backbone {config['backbone']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _load(values):
    return "n/a" if not values else f"{values[0]:.1f}"


def _latency_text(results, name):
    value = results["latency"].get(name, {}).get("median_ms_per_image")
    return "n/a" if value is None else f"{value:.3f}"


def _pct(value):
    return "n/a" if value is None else f"{100 * value:.1f}"


def to_markdown(results):
    from training.classification import _default_digit_size

    config = results["config"]
    env = results["environment"]
    lo, hi = _default_digit_size(config["input_size"])
    short = len(config["seeds"]) < 3
    lines = [
        "# Learned resizer vs fixed resizers (digit canvases, 4x downsizing)"
        + (" - a short run" if short else ""),
        "",
        *(
            [
                f"**A short run** ({len(config['seeds'])} seed, {config['epochs']} "
                "epochs, small splits): a quick look, not a measurement. The "
                "figures that count come from the full 3-seed benchmark (`make "
                "bench`, `benchmarks/results/learned_resize.md`).",
                "",
            ]
            if short
            else []
        ),
        f"Task: `make_classification_canvases` ({config['input_size']} px "
        f"canvases, one MNIST digit of {lo}-{hi} px, 6 clutter fragments), resized "
        f"to {config['image_size']} px, backbone `{config['backbone']}`; "
        f"{config['train_size']} train / {config['val_size']} val / "
        f"{config['test_size']} test canvases; {config['epochs']} epochs, batch "
        f"{config['batch_size']}, {config['optimizer']} lr {config['learning_rate']} "
        f"(weight decay {config['weight_decay']}, {config['schedule']} schedule, "
        f"{config['warmup_epochs']} warmup epochs), label smoothing 0.1; seeds "
        f"{', '.join(map(str, config['seeds']))} (same canvases, seed changes the "
        "initialisation and shuffling).",
        "",
        f"{env.get('cpu_usable')} usable CPU cores ({env.get('cpu_model')}), TF "
        f"{env.get('tensorflow')}, Keras {env.get('keras')}, {env.get('date')}; "
        f"total time {results['total_time_s'] / 60:.1f} min.",
        "",
        "| resizer | test acc % (mean +- std) | per seed | val acc % | train img/s "
        "| resizer ms/img | params | resizer MFLOPs/img |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["summary"].items():
        latency = results["latency"].get(name, {}).get("median_ms_per_image")
        flops = row["resizer_flops_per_image"]
        per_seed = ", ".join(_pct(v) for v in row["test_accuracy_per_seed"])
        if row.get("seeds") is not None and list(row["seeds"]) != list(config["seeds"]):
            per_seed += f" (seeds {', '.join(map(str, row['seeds']))} only)"
        lines.append(
            f"| {name} | {_pct(row['test_accuracy_mean'])} +- "
            f"{_pct(row['test_accuracy_std'])} | {per_seed} "
            f"| {_pct(row['val_accuracy_mean'])} "
            f"| {row['train_images_per_sec_mean'] or float('nan'):.1f} "
            f"| {'n/a' if latency is None else f'{latency:.3f}'} "
            f"| {row['resizer_params']} "
            f"| {'n/a' if flops is None else f'{flops / 1e6:.1f}'} |"
        )
    kept = results.get("kept_from_previous")
    if kept:
        groups = {}
        for name in kept["resizers"]:
            row = results["summary"][name]
            key = (row.get("run_date"), row.get("run_load_average"))
            groups.setdefault(key, []).append(name)
        earlier = "; ".join(
            f"{', '.join(names)} ({date}, load average "
            f"{'n/a' if load is None else f'{load:.1f}'})"
            for (date, load), names in groups.items()
        )
        load = (env.get("load_average_before") or [None])[0]
        lines += [
            "",
            f"Rows from earlier runs, kept as they were (`--keep-previous`): "
            f"{earlier}. The other rows were timed in this run (load average "
            f"{'n/a' if load is None else f'{load:.1f}'}; their train img/s comes "
            "from their training runs, which `--reuse-runs` may have reused from "
            "an earlier, differently loaded time), beside a fresh "
            "bilinear resize (`bilinear (beside the new rows)`: "
            f"{_latency_text(results, 'bilinear (beside the new rows)')} ms/img). "
            "Train img/s and resizer ms/img depend on the machine's load: compare "
            "speeds only within one run.",
        ]
        if results.get("note"):
            lines += ["", results["note"]]
    values = {
        name: row.get("muller_values_per_seed")
        for name, row in results["summary"].items()
        if row.get("muller_values_per_seed")
    }
    if values:
        lines += ["", "Trained MULLER values `(w1, b1, w2, b2)` per seed:", ""]
        for name, per_seed in values.items():
            seeds = results["summary"][name].get("seeds") or config["seeds"]
            for seed, vals in zip(seeds, per_seed, strict=True):
                text = "n/a" if vals is None else ", ".join(f"{v:+.3f}" for v in vals)
                lines.append(f"- {name} seed {seed}: ({text})")
    speed = results.get("muller_speed")
    if speed:
        ms = speed["median_ms_per_batch"]
        ratio = speed["ratio_to_bilinear"]
        lines += [
            "",
            f"MULLER speed, {speed['input_size']} -> {speed['output_size']}, batch "
            f"{speed['batch']} (graph mode, median of {speed['repeats']} "
            "interleaved rounds, same process):",
            "",
            "| form | ms/batch | x bilinear |",
            "|---|---:|---:|",
        ]
        for name in ("bilinear", "muller_folded", "muller_direct"):
            lines.append(f"| {name} | {ms[name]:.2f} | {ratio[name]:.2f} |")
        lines += [
            "",
            f"- {('MET' if speed['met'] else 'NOT MET') if not short else 'measured'}: "
            f"{speed['target']} "
            f"({ratio['muller_folded']:.2f}x); folded vs direct max abs difference "
            f"{speed['folded_vs_direct_max_abs_diff']:.1e} (preset values).",
        ]
    lines += [
        "",
        "Resizer ms/img: forward time of the resizer alone, graph mode, batch "
        f"{config['latency_batch']} of {config['input_size']}x"
        f"{config['input_size']}x3, median of {config['latency_repeats']} "
        "interleaved rounds in the same process for all resizers. FLOPs: TF "
        "profiler (gathers count 0, a multiply-add counts 2).",
        "",
        "Accuracies are measured after re-estimating every BatchNormalization "
        "layer's moving statistics over "
        f"{max((r.get('bn_recalibration_batches') or 0) for r in results['runs'])} "
        "training batches (forward passes only; `--bn-recalibration-steps`): on "
        "this short schedule the moving averages lag the weights, and the learned "
        "resizer's own BatchNormalization layers made inference-mode accuracy fall "
        "far below training-mode accuracy without it (compare `fit_val_accuracy`, "
        "the validation accuracy at the end of `fit`, in the JSON). Every "
        "resizer gets the same step.",
        "",
        "Targets:",
        "",
    ]
    for target in results["targets"]:
        if short:  # one seed: a margin, not a verdict
            lines.append(
                f"- {target['target']}: margin {100 * target['margin']:+.1f} points "
                "on this short run (no verdict on one seed)"
            )
            continue
        status = "MET" if target["met"] else "NOT MET"
        lines.append(
            f"- {status}: {target['target']} (margin {100 * target['margin']:+.1f} "
            "points)"
        )
    if not results["targets"]:
        lines.append("- n/a (needs `learned` and fixed resizers)")
    lines += [
        "",
        f"Figure: `{NAME}.png` (test canvases; bilinear vs trained learned "
        "resizer, seed 0, and their difference).",
        "",
        "Command:",
        "",
        "```",
        *(results.get("previous_commands") or []),
        *([results["training_command"]] if results.get("training_command") else []),
        results["command"],
        "```",
        "",
        f"Machine-readable results (every run, with its history): `{NAME}.json`.",
        "",
    ]
    return "\n".join(lines)


def _previous_rows(previous, config):
    """The rows of a previous result for the resizers not rerun now."""
    schedule = {k: v for k, v in config.items() if k not in ("resizers", "seeds")}
    old = {k: previous["config"].get(k) for k in schedule}
    if old != schedule:
        raise ValueError(
            "--keep-previous needs the same schedule as the previous results. "
            f"Previous: {old}, now: {schedule}"
        )
    names = [n for n in previous["summary"] if n not in config["resizers"]]
    commands = list(previous.get("previous_commands") or [])
    for key in ("training_command", "command"):
        if previous.get(key) and previous[key] not in commands:
            commands.append(previous[key])
    old_env = previous.get("environment") or {}
    summary = {}
    for n in names:
        row = dict(previous["summary"][n])
        row.setdefault("run_date", old_env.get("date"))
        row.setdefault(
            "run_load_average", (old_env.get("load_average_before") or [None])[0]
        )
        summary[n] = row
    return {
        "summary": summary,
        "latency": {n: previous["latency"].get(n, {}) for n in names},
        "runs": [r for r in previous["runs"] if r["resizer"] in names],
        "commands": commands,
        "seeds": tuple(previous["config"]["seeds"]),
        "meta": {
            "resizers": names,
            "environment": previous.get("environment"),
            "total_time_s": previous.get("total_time_s"),
        },
    }


def run(args, command=None, log=print):
    """Runs the benchmark for parsed `args`; writes JSON, markdown and PNG."""
    from training.results import json_safe

    start = time.perf_counter()
    config = _config(args)
    output_dir = common.output_dir(args)
    runs_dir = common.runs_dir(args, output_dir, NAME)
    output_dir.mkdir(parents=True, exist_ok=True)
    environment = common.environment()
    if getattr(args, "reevaluate", False):
        runs = _reevaluate_all(config, runs_dir, log)
    else:
        runs = _train_all(config, runs_dir, args, log)
    previous = output_dir / f"{NAME}.json"
    kept = None
    if getattr(args, "keep_previous", False) and previous.exists():
        kept = _previous_rows(json.loads(previous.read_text()), config)
    layers = _build_resizers(config, runs)
    if kept is not None and "bilinear" not in layers:
        from keras_resize.layers import get_resizer

        size = config["image_size"]
        layers["bilinear"] = get_resizer(
            "bilinear", size, size, name="bilinear_resizer"
        )
    latency = measure_latency(layers, config)
    environment["load_average_after"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    summary = _summarise(runs, config["resizers"])
    for row in summary.values():
        row["run_date"] = environment.get("date")
        row["run_load_average"] = (environment.get("load_average_before") or [None])[0]
    training_command = None
    if getattr(args, "reevaluate", False) and previous.exists():
        training_command = json.loads(previous.read_text()).get("command")
    previous_commands = []
    if kept is not None:
        if "bilinear" not in config["resizers"]:
            latency["bilinear (beside the new rows)"] = latency.pop("bilinear")
        for name, row in kept["summary"].items():
            summary[name] = row
            latency.setdefault(name, kept["latency"].get(name, {}))
        order = [n for n in RESIZERS if n in summary]
        summary = {n: summary[n] for n in order}
        runs = kept["runs"] + runs
        previous_commands = kept["commands"]
        seeds = tuple(sorted(set(config["seeds"]) | set(kept["seeds"])))
        config = {**config, "resizers": tuple(order), "seeds": seeds}
    muller_speed_results = None
    if set(MULLER) & set(config["resizers"]):
        if args.quick:
            muller_speed_results = muller_speed(2, 3, 64, 32)
        else:
            muller_speed_results = muller_speed(args.muller_speed_batch)
    results = {
        "previous_commands": previous_commands,
        "kept_from_previous": None if kept is None else kept["meta"],
        "muller_speed": muller_speed_results,
        "training_command": training_command,
        "config": config,
        "estimate": ESTIMATE,
        "environment": environment,
        "quick": bool(args.quick),
        "command": command or shlex.join(["python", "-m", f"benchmarks.{NAME}"]),
        "summary": summary,
        "targets": _targets(summary),
        "latency": latency,
        "runs": runs,
    }
    png_path = output_dir / f"{NAME}.png"
    if {"bilinear", "learned"} <= set(layers):
        _figure(layers, config, png_path)
    results["total_time_s"] = time.perf_counter() - start
    json_path, md_path = common.write_outputs(
        output_dir, NAME, json_safe(results), to_markdown, log
    )
    log(f"[{NAME}] wrote {json_path}, {md_path} and {png_path}")
    return results


def main(argv=None):
    return common.main(NAME, __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    main()
