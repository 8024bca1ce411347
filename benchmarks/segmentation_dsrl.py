"""DSRL ablation on digit segmentation canvases (issue 6).

The segmenter (`unet`, the package's small U-Net) sees 128x128 digit
segmentation canvases downsampled to 64x64 (area); labels stay at 128x128.
Four variants, the same schedule and 3 seeds each (`training.segmentation`):

- (a) `bilinear`: logits upsampled bilinearly (the baseline);
- (b) `sssr`: learned upsampling of the logits;
- (c) `sssr_sisr`: + the image super-resolution branch;
- (d) `dsrl`: + the feature affinity loss.

mIoU (mean over the 11 classes, background included) and per-class IoU on
the test canvases at full label resolution, with the inference model.
Target: (d) beats (a) by at least 1 point mIoU (paper: about +2 on
Cityscapes). Writes `segmentation_dsrl.{json,md}` and
`segmentation_dsrl.png` (input, SISR output, prediction, labels of the
seed-0 DSRL run).

Run with `python -m benchmarks.run --only segmentation_dsrl`.
"""

import os
import shlex
import shutil
import statistics
import time
from pathlib import Path

from benchmarks import common

NAME = "segmentation_dsrl"
VARIANTS = ("bilinear", "sssr", "sssr_sisr", "dsrl")
LABELS = {
    "bilinear": "(a) bilinear upsampling",
    "sssr": "(b) SSSR",
    "sssr_sisr": "(c) SSSR + SISR",
    "dsrl": "(d) SSSR + SISR + FA",
}
TARGET_MARGIN = 0.01

FULL = {
    "seeds": (0, 1, 2),
    "label_size": 128,
    "factor": 2,
    "train_size": 1000,
    "val_size": 250,
    "test_size": 1000,
    "epochs": 6,
    "batch_size": 16,
    "learning_rate": 2e-3,
    "segmenter": "unet",
}
QUICK = {
    **FULL,
    "seeds": (0,),
    "label_size": 32,
    "train_size": 32,
    "val_size": 8,
    "test_size": 8,
    "epochs": 1,
    "batch_size": 8,
}


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--output-dir", help="results folder")
    common.add_runs_arguments(parser, NAME)
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser


def _config(args):
    config = dict(QUICK if args.quick else FULL)
    for key in ("seeds", "epochs", "train_size"):
        value = getattr(args, key, None)
        if value:
            config[key] = tuple(value) if key == "seeds" else value
    config["variants"] = tuple(getattr(args, "variants", None) or VARIANTS)
    return config


def _argv(config, variant, seed, run_dir, verbose):
    size = str(config["label_size"])
    argv = [
        "--variant", variant, "--segmenter", config["segmenter"],
        "--label-size", size, size, "--factor", str(config["factor"]),
        "--train-size", str(config["train_size"]),
        "--val-size", str(config["val_size"]),
        "--test-size", str(config["test_size"]),
        "--epochs", str(config["epochs"]),
        "--batch-size", str(config["batch_size"]),
        "--learning-rate", str(config["learning_rate"]),
        "--seed", str(seed), "--output-dir", str(run_dir),
        "--verbose", str(verbose),
    ]  # fmt: skip
    if config["label_size"] < 64:
        argv += ["--unet-filters", "8", "16", "--decoder-filters", "8"]
        argv += ["--fa-subsample", "0.25"]
    return argv


def _summarise(runs, variants):
    summary = {}
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        mean, std = common.mean_std([r["test_mean_iou"] for r in mine])
        per_class = [
            statistics.fmean(values)
            for values in zip(*[r["test_per_class_iou"] for r in mine], strict=True)
        ]
        summary[variant] = {
            "test_mean_iou_mean": mean,
            "test_mean_iou_std": std,
            "test_mean_iou_per_seed": [r["test_mean_iou"] for r in mine],
            "test_per_class_iou_mean": per_class,
            "pixel_accuracy_mean": common.mean_std(
                [r["test_pixel_accuracy"] for r in mine]
            )[0],
            "train_images_per_sec_mean": common.mean_std(
                [r["train_images_per_sec"] for r in mine]
            )[0],
            "training_params": mine[0]["training_params"],
            "inference_params": mine[0]["inference_params"],
        }
    return summary


def _targets(summary):
    base = summary.get("bilinear", {}).get("test_mean_iou_mean")
    full = summary.get("dsrl", {}).get("test_mean_iou_mean")
    if base is None or full is None:
        return []
    return [
        {
            "target": "(d) SSSR + SISR + FA beats (a) bilinear by >= 1 point mIoU",
            "margin": full - base,
            "met": full - base >= TARGET_MARGIN,
        }
    ]


def to_markdown(results):
    config = results["config"]
    env = results["environment"]
    size = config["label_size"]
    low = size // config["factor"]
    lines = [
        "# DSRL ablation: digit segmentation canvases",
        "",
        f"Network input {low}x{low} (area-downsampled), labels {size}x{size}; "
        f"segmenter `{config['segmenter']}`; {config['train_size']} train / "
        f"{config['val_size']} val / {config['test_size']} test canvases; "
        f"{config['epochs']} epochs, batch {config['batch_size']}, AdamW lr "
        f"{config['learning_rate']} (cosine); seeds "
        f"{', '.join(map(str, config['seeds']))}. mIoU over 11 classes "
        "(background + 10 digits) at full label resolution.",
        "",
        f"{env.get('cpu_usable')} usable CPU cores, TF {env.get('tensorflow')}; total "
        f"time {results['total_time_s'] / 60:.1f} min.",
        "",
        "| variant | test mIoU % (mean +- std) | per seed | pixel acc % | "
        "train img/s | params (train / inference) |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for variant, row in results["summary"].items():
        per_seed = ", ".join(f"{100 * v:.1f}" for v in row["test_mean_iou_per_seed"])
        lines.append(
            f"| {LABELS[variant]} | {100 * row['test_mean_iou_mean']:.1f} +- "
            f"{100 * row['test_mean_iou_std']:.1f} | {per_seed} | "
            f"{100 * row['pixel_accuracy_mean']:.1f} | "
            f"{row['train_images_per_sec_mean'] or float('nan'):.0f} | "
            f"{row['training_params']} / {row['inference_params']} |"
        )
    lines += ["", "Per-class IoU % (mean over seeds):", ""]
    header = ["variant", "bg"] + [str(d) for d in range(10)]
    lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for variant, row in results["summary"].items():
        cells = [f"{100 * v:.1f}" for v in row["test_per_class_iou_mean"]]
        lines.append(f"| {LABELS[variant]} | " + " | ".join(cells) + " |")
    lines += ["", "Targets:", ""]
    for target in results["targets"]:
        status = "MET" if target["met"] else "NOT MET"
        lines.append(
            f"- {status}: {target['target']} (margin {100 * target['margin']:+.1f} points)"
        )
    if results.get("figure"):
        lines += ["", f"![predictions]({Path(results['figure']).name})"]
    lines += ["", "Command:", "", "```", results["command"], "```", ""]
    return "\n".join(lines)


def run(args, command=None, log=print):
    from training import segmentation
    from training.results import json_safe

    start = time.perf_counter()
    config = _config(args)
    output_dir = common.output_dir(args)
    output_dir.mkdir(parents=True, exist_ok=True)
    runs_dir = common.runs_dir(args, output_dir, NAME)
    command = command or shlex.join(["python", "-m", f"benchmarks.{NAME}"])
    environment = common.environment()
    runs = []
    for variant in config["variants"]:
        for seed in config["seeds"]:
            run_dir = runs_dir / f"{variant}_seed{seed}"
            argv = _argv(config, variant, seed, run_dir, args.verbose)
            result = common.train_or_reuse(
                run_dir,
                segmentation,
                argv,
                args,
                log,
                f"[{NAME}] {variant} seed {seed}",
            )
            kept = (
                "test_mean_iou", "test_per_class_iou", "test_pixel_accuracy",
                "val_mean_iou", "train_images_per_sec", "training_params",
                "inference_params", "wall_time_s",
            )  # fmt: skip
            runs.append(
                {"variant": variant, "seed": seed, "run_dir": str(run_dir)}
                | {k: result.get(k) for k in kept}
            )
    figure = None
    source = runs_dir / f"dsrl_seed{config['seeds'][0]}" / "predictions.png"
    if source.exists():
        figure = output_dir / f"{NAME}.png"
        shutil.copyfile(source, figure)
    environment["load_average_after"] = list(os.getloadavg())
    summary = _summarise(runs, config["variants"])
    results = {
        "config": config,
        "environment": environment,
        "quick": bool(args.quick),
        "command": command,
        "summary": summary,
        "targets": _targets(summary),
        "runs": runs,
        "figure": str(figure) if figure else None,
        "total_time_s": time.perf_counter() - start,
    }
    common.write_outputs(output_dir, NAME, json_safe(results), to_markdown, log)
    return results


def main(argv=None):
    return common.main(NAME, __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    main()
