"""DownsizeNet vs fixed resizers, and frozen reuse on a second task (issue 4).

The same benchmark family as `learned_resize` (same task, backbone, schedule
and seeds, trained with `training.classification`):

1. Digit canvases at 4x downsizing (256 -> 64): `bilinear`, `bicubic`,
   `area`, and DownsizeNet with bilinear (K=4) and bicubic (K=16)
   neighbourhoods and 2 or 3 texture convolutions, 3 seeds each. Target:
   DownsizeNet beats bilinear by at least 1 point.
2. The seed-0 DownsizeNet (bilinear neighbourhood, 2 convs) trained on the
   digits is shipped as a preset in `keras_resize/presets/` (metadata with task, data,
   command, metric, sha256) and reused frozen (`trainable=False`) in front of
   a new classifier on a second task: Fashion-MNIST canvases (same canvas
   builder, clothing items instead of digits). Target: the frozen
   pretrained DownsizeNet still beats bilinear there (3 seeds each).

Run with `python -m benchmarks.run --only downsizenet_accuracy`.
"""

import os
import shlex
import shutil
import time
from pathlib import Path

from benchmarks import common
from benchmarks import learned_resize as family

NAME = "downsizenet_accuracy"
PRETRAINED_NAME = "downsizenet-digits-4x"
PRETRAINED_VARIANT = "downsizenet-bilinear-2"

# label -> (registry name, resizer kwargs)
VARIANTS = {
    "bilinear": ("bilinear", {}),
    "bicubic": ("bicubic", {}),
    "area": ("area", {}),
    "downsizenet-bilinear-2": (
        "downsizenet",
        {"neighborhood": "bilinear", "num_conv_layers": 2},
    ),
    "downsizenet-bicubic-2": (
        "downsizenet",
        {"neighborhood": "bicubic", "num_conv_layers": 2},
    ),
    "downsizenet-bilinear-3": (
        "downsizenet",
        {"neighborhood": "bilinear", "num_conv_layers": 3},
    ),
    "downsizenet-bicubic-3": (
        "downsizenet",
        {"neighborhood": "bicubic", "num_conv_layers": 3},
    ),
}
FIXED = ("bilinear", "bicubic", "area")
TARGET_MARGIN = 0.01


def add_arguments(parser):
    family.add_arguments(parser)
    for action in parser._actions:
        if action.dest == "resizers":
            action.choices = tuple(VARIANTS)
            action.help = f"subset of variants (default: {' '.join(VARIANTS)})"
    parser.add_argument(
        "--no-transfer", action="store_true", help="skip the frozen-reuse stage"
    )
    parser.add_argument(
        "--no-ship",
        action="store_true",
        help="do not write the preset into keras_resize/presets/",
    )
    return parser


def _config(args):
    config = family._config(args)
    config["resizers"] = tuple(getattr(args, "resizers", None) or VARIANTS)
    return config


def _argv(config, label, seed, run_dir, verbose, extra=()):
    registry_name, kwargs = VARIANTS[label]
    argv = family._training_argv(config, registry_name, seed, run_dir, verbose)
    for key, value in kwargs.items():
        argv += ["--resizer-arg", f"{key}={value}"]
    if registry_name == "downsizenet":
        argv += ["--save-resizer", str(run_dir / "resizer.weights.h5")]
    return argv + list(extra)


def _train(config, labels, seeds, runs_dir, args, log, extra=(), stage="digits"):
    from training import classification

    runs = []
    for label in labels:
        for seed in seeds:
            run_dir = runs_dir / stage / f"{label}_seed{seed}"
            argv = _argv(config, label, seed, run_dir, args.verbose, extra)
            result = common.train_or_reuse(
                run_dir,
                classification,
                argv,
                args,
                log,
                f"[{NAME}] {stage}: {label} seed {seed}",
            )
            entry = {
                "resizer": label,
                "seed": seed,
                "run_dir": str(run_dir),
                "stage": stage,
            }
            entry.update({k: result.get(k) for k in family.KEPT})
            runs.append(entry)
    return runs


def _targets(summary, transfer_summary):
    targets = []
    bilinear = summary.get("bilinear", {}).get("test_accuracy_mean")
    learned = {
        k: v["test_accuracy_mean"]
        for k, v in summary.items()
        if k.startswith("downsizenet")
    }
    if bilinear is not None and learned:
        best = max(learned, key=learned.get)
        targets.append(
            {
                "target": f"DownsizeNet ({best}, best variant) beats bilinear by >= 1 point",
                "margin": learned[best] - bilinear,
                "met": learned[best] - bilinear >= TARGET_MARGIN,
            }
        )
        default = learned.get(PRETRAINED_VARIANT)
        if default is not None:
            targets.append(
                {
                    "target": f"DownsizeNet ({PRETRAINED_VARIANT}, the paper's 2-conv "
                    "default) beats bilinear by >= 1 point",
                    "margin": default - bilinear,
                    "met": default - bilinear >= TARGET_MARGIN,
                }
            )
    if transfer_summary:
        frozen = transfer_summary.get("frozen-pretrained-downsizenet", {}).get(
            "test_accuracy_mean"
        )
        base = transfer_summary.get("bilinear", {}).get("test_accuracy_mean")
        if frozen is not None and base is not None:
            targets.append(
                {
                    "target": "frozen pretrained DownsizeNet beats bilinear on the "
                    "second task (Fashion-MNIST canvases)",
                    "margin": frozen - base,
                    "met": frozen > base,
                }
            )
    return targets


def _ship(config, runs, command, log):
    """Write the seed-0 pretrained DownsizeNet as a preset (keras_resize/presets/)."""
    from keras_resize import pretrained
    from keras_resize.layers import DownsizeNetResize

    source = next(
        r
        for r in runs
        if r["resizer"] == PRETRAINED_VARIANT and r["seed"] == config["seeds"][0]
    )
    directory = pretrained.saved_models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{PRETRAINED_NAME}.weights.h5"
    shutil.copyfile(Path(source["run_dir"]) / "resizer.weights.h5", target)
    _, kwargs = VARIANTS[PRETRAINED_VARIANT]
    size = config["image_size"]
    layer = DownsizeNetResize(size, size, name="resizer", **kwargs)
    input_shape = (config["input_size"], config["input_size"], 3)
    pretrained.load_weights(layer, target, input_shape)
    entry = pretrained.register(
        PRETRAINED_NAME,
        layer,
        target,
        input_shape,
        task="digit-canvas classification (10 classes), 4x downsizing "
        f"{config['input_size']} -> {size}, trained jointly with a "
        f"{config['backbone']} classifier",
        data=f"keras_resize.data.make_classification_canvases: {config['train_size']} "
        "train canvases from MNIST train digits (data seed 0)",
        command=command,
        metric={
            "test_accuracy": source["test_accuracy"],
            "val_accuracy": source["val_accuracy"],
            "seed": source["seed"],
        },
    )
    log(f"[{NAME}] shipped {target} (sha256 {entry['sha256'][:12]}...)")
    return target


def _transfer(config, weights, runs_dir, args, log):
    """Second task: bilinear vs the frozen pretrained DownsizeNet."""
    extra = ["--canvas-source", "fashion_mnist"]
    runs = _train(
        config,
        ["bilinear"],
        config["seeds"],
        runs_dir,
        args,
        log,
        extra,
        "fashion",
    )
    frozen = ["--resizer-weights", str(weights), "--freeze-resizer"]
    for seed in config["seeds"]:
        run = _train(
            config,
            [PRETRAINED_VARIANT],
            [seed],
            runs_dir,
            args,
            log,
            extra + frozen,
            "fashion",
        )[0]
        run["resizer"] = "frozen-pretrained-downsizenet"
        runs.append(run)
    return runs


def to_markdown(results):
    config = results["config"]
    env = results["environment"]
    lines = [
        "# DownsizeNet vs fixed resizers (digit canvases, 4x downsizing)",
        "",
        "Same family as `learned_resize.md`: "
        f"{config['input_size']} -> {config['image_size']} px, backbone "
        f"`{config['backbone']}`, {config['train_size']} train / "
        f"{config['val_size']} val / {config['test_size']} test canvases, "
        f"{config['epochs']} epochs, {config['optimizer']} lr {config['learning_rate']}, "
        f"seeds {', '.join(map(str, config['seeds']))}.",
        "",
        f"{env.get('cpu_usable')} usable CPU cores, TF {env.get('tensorflow')}; "
        f"total time {results['total_time_s'] / 60:.1f} min.",
        "",
    ]
    for title, summary in (
        ("Digits (the training task)", results["summary"]),
        (
            "Fashion-MNIST canvases (second task; DownsizeNet pretrained on digits, frozen)",
            results.get("transfer_summary") or {},
        ),
    ):
        if not summary:
            continue
        lines += [
            f"## {title}",
            "",
            "| resizer | test acc % (mean +- std) | per seed | val acc % | train img/s | params |",
            "|---|---:|---|---:|---:|---:|",
        ]
        for name, row in summary.items():
            per_seed = ", ".join(family._pct(v) for v in row["test_accuracy_per_seed"])
            lines.append(
                f"| {name} | {family._pct(row['test_accuracy_mean'])} +- "
                f"{family._pct(row['test_accuracy_std'])} | {per_seed} | "
                f"{family._pct(row['val_accuracy_mean'])} | "
                f"{row['train_images_per_sec_mean'] or float('nan'):.1f} | "
                f"{row['resizer_params']} |"
            )
        lines.append("")
    lines += ["Targets:", ""]
    for target in results["targets"]:
        status = "MET" if target["met"] else "NOT MET"
        lines.append(
            f"- {status}: {target['target']} (margin {100 * target['margin']:+.1f} points)"
        )
    lines += [
        "",
        f"Preset: `keras_resize/presets/{PRETRAINED_NAME}/` "
        "(config.json, model.weights.h5, metadata.json).",
        "",
        "Command:",
        "",
        "```",
        results["command"],
        "```",
        "",
    ]
    return "\n".join(lines)


def run(args, command=None, log=print):
    from training.results import json_safe

    start = time.perf_counter()
    config = _config(args)
    output_dir = common.output_dir(args)
    runs_dir = common.runs_dir(args, output_dir, NAME)
    output_dir.mkdir(parents=True, exist_ok=True)
    command = command or shlex.join(["python", "-m", f"benchmarks.{NAME}"])
    environment = common.environment()
    runs = _train(config, config["resizers"], config["seeds"], runs_dir, args, log)
    summary = family._summarise(runs, config["resizers"])
    transfer_runs, transfer_summary = [], {}
    if not args.no_transfer and PRETRAINED_VARIANT in config["resizers"]:
        if args.no_ship or args.quick:
            weights = (
                Path(
                    next(r for r in runs if r["resizer"] == PRETRAINED_VARIANT)[
                        "run_dir"
                    ]
                )
                / "resizer.weights.h5"
            )
        else:
            weights = _ship(config, runs, command, log)
        transfer_runs = _transfer(config, weights, runs_dir, args, log)
        transfer_summary = family._summarise(
            transfer_runs, ["bilinear", "frozen-pretrained-downsizenet"]
        )
    environment["load_average_after"] = list(os.getloadavg())
    results = {
        "config": config,
        "environment": environment,
        "quick": bool(args.quick),
        "command": command,
        "summary": summary,
        "transfer_summary": transfer_summary,
        "targets": _targets(summary, transfer_summary),
        "runs": runs + transfer_runs,
        "total_time_s": time.perf_counter() - start,
    }
    common.write_outputs(output_dir, NAME, json_safe(results), to_markdown, log)
    return results


def main(argv=None):
    return common.main(NAME, __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    main()
