"""LZU vs FOVEA vs uniform downsizing for detection (issue 5).

The same keras-hub RetinaNet (`resnet10_narrow` ResNet + FPN, P2-P5, built from
config) and the same schedule, trained on 128x128 digit detection canvases
that it sees at 0.25x (32x32) and 0.5x (64x64), with three front ends
(`training.detection`):

- `uniform`: bilinear downsizing, boxes scaled;
- `fovea`: zoom with the fixed saliency, train on warped boxes, unwarp the
  predicted boxes (FOVEA);
- `lzu`: zoom, ResNet + FPN on the zoomed image, unzoom every FPN level, the
  head in the uniform frame (LZU).

The fixed saliency is the KDE over all training boxes. The canvases use the
`band` layout (digits in the middle half of the rows, like objects near the
horizon in driving data): on the canvases as built, digits are spread
uniformly, the dataset prior is nearly flat and a fixed warp is nearly the
identity, so there is nothing for a fixed zoom to gain.

Detection is class-agnostic (one class, "digit"): with 1500 steps from
scratch on 2 CPU cores, a 10-class RetinaNet on 256x256 canvases at 0.25x
found the digits but not which digit (AP 0.4, 18 min a run), and the 0.5x
runs would take ~70 min each. One class and 128x128 canvases keep the
question (how well small objects are found at a reduced scale) within a
CPU budget.

COCO-style AP@[.5:.95], AP50 and AP small / medium / large (area ranges
scaled by (128 / 640)^2: small < 6.4^2, large > 19.2^2 px^2) on the test
canvases in the original 128x128 frame; mean +- std over the seeds. Targets
(paper, Argoverse-HD: +1.9 AP at 0.25x, +2.6 at 0.5x): LZU beats uniform at
both scales and is at least as good as FOVEA. Writes
`detection_lzu.{json,md}`.

Run with `python -m benchmarks.detection_lzu` (`--quick` for a smoke run;
`--seeds 0` for one seed; `--reuse-runs` to resume).
"""

import os
import shlex
import time
from pathlib import Path

from benchmarks import common

NAME = "detection_lzu"
FRONT_ENDS = ("uniform", "fovea", "lzu")
LABELS = {
    "uniform": "uniform (bilinear)",
    "fovea": "FOVEA (zoom, unwarp boxes)",
    "lzu": "LZU (zoom, unzoom features)",
}
METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")

FULL = {
    "seeds": (0, 1, 2),
    "scales": (0.25, 0.5),
    "input_size": 128,
    "layout": "band",
    "class_agnostic": True,
    "digit_size": (8, 32),
    "num_digits": (1, 3),
    "train_size": 2000,
    "val_size": 100,
    "test_size": 500,
    "epochs": 12,
    "steps_per_epoch": None,
    "batch_size": 16,
    "learning_rate": 1e-3,
    "detector": "resnet10_narrow",
    "head_conv_layers": None,
    "grid_shape": (31, 31),
}
QUICK = {
    **FULL,
    "seeds": (0,),
    "input_size": 128,
    "digit_size": (8, 32),
    "train_size": 16,
    "val_size": 8,
    "test_size": 8,
    "epochs": 1,
    "steps_per_epoch": 2,
    "batch_size": 8,
    "head_conv_layers": 1,
    "grid_shape": (9, 9),
}


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--output-dir", help="results folder")
    common.add_runs_arguments(parser, NAME)
    parser.add_argument(
        "--finished-only",
        action="store_true",
        help="train nothing: summarise the finished runs in --runs-dir among "
        "the configurations asked for (e.g. more seeds at one scale)",
    )
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--scales", type=float, nargs="+")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--front-ends", nargs="+", choices=FRONT_ENDS)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser


def _config(args):
    config = dict(QUICK if args.quick else FULL)
    for key in ("seeds", "scales", "epochs", "train_size"):
        value = getattr(args, key, None)
        if value:
            config[key] = tuple(value) if key in ("seeds", "scales") else value
    config["front_ends"] = tuple(getattr(args, "front_ends", None) or FRONT_ENDS)
    return config


def _argv(config, front_end, scale, seed, run_dir, verbose):
    argv = [
        "--front-end", front_end, "--saliency", "fixed", "--scale", str(scale),
        "--input-size", str(config["input_size"]), "--layout", config["layout"],
        "--digit-size", *map(str, config["digit_size"]),
        "--num-digits", *map(str, config["num_digits"]),
        "--train-size", str(config["train_size"]),
        "--val-size", str(config["val_size"]),
        "--test-size", str(config["test_size"]),
        "--epochs", str(config["epochs"]),
        "--batch-size", str(config["batch_size"]),
        "--learning-rate", str(config["learning_rate"]),
        "--detector", config["detector"],
        "--grid-shape", *map(str, config["grid_shape"]),
        "--seed", str(seed), "--output-dir", str(run_dir),
        "--verbose", str(verbose),
    ]  # fmt: skip
    if config["class_agnostic"]:
        argv.append("--class-agnostic")
    if config["steps_per_epoch"]:
        argv += ["--steps-per-epoch", str(config["steps_per_epoch"])]
    if config["head_conv_layers"]:
        argv += ["--head-conv-layers", str(config["head_conv_layers"])]
    if seed != config["seeds"][0] or front_end != "uniform":
        argv.append("--no-figure")
    return argv


def _summarise(runs, config):
    summary = []
    for scale in config["scales"]:
        for front_end in config["front_ends"]:
            mine = [
                r for r in runs if r["scale"] == scale and r["front_end"] == front_end
            ]
            if not mine:
                continue
            row = {"scale": scale, "front_end": front_end, "seeds": len(mine)}
            for metric in METRICS:
                mean, std = common.mean_std([r[f"test_{metric}"] for r in mine])
                row[f"{metric}_mean"], row[f"{metric}_std"] = mean, std
            row["AP_per_seed"] = [r["test_AP"] for r in mine]
            row["train_images_per_sec_mean"] = common.mean_std(
                [r["train_images_per_sec"] for r in mine]
            )[0]
            row["wall_time_s_mean"] = common.mean_std([r["wall_time_s"] for r in mine])[
                0
            ]
            row["detector_params"] = mine[0]["detector_params"]
            summary.append(row)
    return summary


def _targets(summary):
    targets = []
    for scale in sorted({row["scale"] for row in summary}):
        ap = {
            row["front_end"]: row["AP_mean"]
            for row in summary
            if row["scale"] == scale and row["AP_mean"] is not None
        }
        if "lzu" in ap and "uniform" in ap:
            targets.append(
                {
                    "target": f"LZU beats uniform AP at {scale:g}x",
                    "margin": ap["lzu"] - ap["uniform"],
                    "met": ap["lzu"] > ap["uniform"],
                }
            )
        if "lzu" in ap and "fovea" in ap:
            targets.append(
                {
                    "target": f"LZU AP >= FOVEA AP at {scale:g}x",
                    "margin": ap["lzu"] - ap["fovea"],
                    "met": ap["lzu"] >= ap["fovea"],
                }
            )
    return targets


def _cell(row, metric):
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    if mean is None:
        return "n/a"
    if row["seeds"] > 1:
        return f"{100 * mean:.1f} +- {100 * std:.1f}"
    return f"{100 * mean:.1f}"


def to_markdown(results):
    config = results["config"]
    env = results["environment"]
    size = config["input_size"]
    lines = [
        "# Detection at reduced scale: uniform vs FOVEA vs LZU (fixed saliency)",
        "",
        f"keras-hub RetinaNet (`{config['detector']}`, P2-P5) on {size}x{size} "
        f"digit detection canvases (`{config['layout']}` layout, digits "
        f"{config['digit_size'][0]}-{config['digit_size'][1]} px, "
        f"{config['num_digits'][0]}-{config['num_digits'][1]} per half canvas"
        f"{', one class: digit' if config.get('class_agnostic') else ''}); "
        f"{config['train_size']} train / {config['test_size']} test canvases; "
        f"{config['epochs']} epochs, batch {config['batch_size']}, AdamW lr "
        f"{config['learning_rate']} (cosine); grid {config['grid_shape'][0]}x"
        f"{config['grid_shape'][1]}; seeds {', '.join(map(str, config['seeds']))}. "
        "COCO AP (%) on the test canvases in the original frame; area ranges "
        f"scaled by ({size}/640)^2.",
        "",
        f"{env.get('cpu_usable')} usable CPU cores, TF {env.get('tensorflow')}; "
        + (
            "a summary of finished runs (their training times: min / run)."
            if results.get("finished_only")
            else f"total time {results['total_time_s'] / 60:.1f} min."
        ),
        "",
        "| scale | front end | AP | AP50 | AP75 | APs | APm | APl | AP per seed | "
        "train img/s | min / run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in results["summary"]:
        per_seed = ", ".join(
            "n/a" if v is None else f"{100 * v:.1f}" for v in row["AP_per_seed"]
        )
        cells = " | ".join(_cell(row, m) for m in METRICS)
        lines.append(
            f"| {row['scale']:g}x | {LABELS[row['front_end']]} | {cells} | "
            f"{per_seed} | {row['train_images_per_sec_mean'] or float('nan'):.1f} | "
            f"{row['wall_time_s_mean'] / 60:.1f} |"
        )
    lines += ["", "Targets:", ""]
    for target in results["targets"]:
        status = "MET" if target["met"] else "NOT MET"
        lines.append(
            f"- {status}: {target['target']} (margin {100 * target['margin']:+.1f} AP)"
        )
    if results.get("quick"):
        lines += ["", "(quick mode: a smoke run, the figures mean nothing)"]
    if results.get("figure"):
        lines += ["", f"![AP per front end]({Path(results['figure']).name})"]
    lines += ["", "Command:", "", "```", results["command"], "```", ""]
    return "\n".join(lines)


def plot(results, path):
    """Bar chart of AP and AP50 per front end at each scale (seed spread as
    error bars); returns `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results["summary"]
    scales = sorted({row["scale"] for row in summary})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False)
    width = 0.8 / len(FRONT_ENDS)
    for ax, metric in zip(axes, ("AP", "AP50"), strict=True):
        for k, front_end in enumerate(FRONT_ENDS):
            rows = {r["scale"]: r for r in summary if r["front_end"] == front_end}
            xs = [
                i + (k - (len(FRONT_ENDS) - 1) / 2) * width for i in range(len(scales))
            ]
            means = [
                100 * (rows.get(s, {}).get(f"{metric}_mean") or 0.0) for s in scales
            ]
            stds = [100 * (rows.get(s, {}).get(f"{metric}_std") or 0.0) for s in scales]
            ax.bar(xs, means, width, yerr=stds, capsize=3, label=LABELS[front_end])
            for x, mean in zip(xs, means, strict=True):
                ax.annotate(f"{mean:.1f}", (x, mean), ha="center", va="bottom",
                            fontsize=8, xytext=(0, 2), textcoords="offset points")  # fmt: skip
        ax.set_xticks(range(len(scales)), [f"{s:g}x" for s in scales])
        ax.set_xlabel("detector input scale")
        ax.set_ylabel(f"test {metric} (%)")
        ax.set_title(f"{metric} in the original frame")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(args, command=None, log=print):
    from training import detection
    from training.results import json_safe

    start = time.perf_counter()
    config = _config(args)
    output_dir = common.output_dir(args)
    output_dir.mkdir(parents=True, exist_ok=True)
    runs_dir = common.runs_dir(args, output_dir, NAME)
    command = command or shlex.join(["python", "-m", f"benchmarks.{NAME}"])
    environment = common.environment()
    runs = []
    kept = tuple(f"test_{m}" for m in METRICS) + (
        "val_AP", "test_per_class_AP", "train_images_per_sec",
        "test_images_per_sec", "detector_params", "prior_max_over_min",
        "wall_time_s",
    )  # fmt: skip
    for scale in config["scales"]:
        for front_end in config["front_ends"]:
            for seed in config["seeds"]:
                run_dir = runs_dir / f"{front_end}_scale{scale:g}_seed{seed}"
                if getattr(args, "finished_only", False):
                    if not (run_dir / "results.json").exists():
                        log(f"[{NAME}] not run: {run_dir.name}")
                        continue
                    args.reuse_runs = True
                argv = _argv(config, front_end, scale, seed, run_dir, args.verbose)
                result = common.train_or_reuse(
                    run_dir,
                    detection,
                    argv,
                    args,
                    log,
                    f"[{NAME}] {front_end} at {scale:g}x, seed {seed}",
                )
                runs.append(
                    {"front_end": front_end, "scale": scale, "seed": seed,
                     "run_dir": str(run_dir)}
                    | {k: result.get(k) for k in kept}
                )  # fmt: skip
    environment["load_average_after"] = list(os.getloadavg())
    summary = _summarise(runs, config)
    results = {
        "config": config,
        "environment": environment,
        "quick": bool(args.quick),
        "finished_only": bool(getattr(args, "finished_only", False)),
        "command": command,
        "summary": summary,
        "targets": _targets(summary),
        "runs": runs,
        "total_time_s": time.perf_counter() - start,
    }
    if summary:
        results["figure"] = str(plot(results, output_dir / f"{NAME}.png"))
    common.write_outputs(output_dir, NAME, json_safe(results), to_markdown, log)
    return results


def main(argv=None):
    return common.main(NAME, __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    main()
