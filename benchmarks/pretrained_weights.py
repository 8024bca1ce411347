"""Reproduce every preset shipped in `keras_resize/presets/` from scratch.

Each entry trains one classifier run on the offline digit canvases (256 ->
64 px, `resnet_tiny`, the schedule of `benchmarks/learned_resize.py`, seed
0) with the resizer in front, saves the resizer's weights with
`keras_resize.pretrained.save_weights`, writes them as presets and
writes their config and metadata (layer, arguments, task, data, command, metric,
sha256, package version):

- `learned-resize-digits-4x`: `LearnedResize` (Talebi & Milanfar);
- `downsizenet-digits-4x`: `DownsizeNetResize`, bilinear neighbourhood, 2
  convolutions (also written by `benchmarks/downsizenet_accuracy.py`);
- `zoom-saliency-digits-4x`: `Zoom` with the learned saliency network;
- `bilinear-digits-4x`: the fixed bilinear `Resize` (no weights), the
  baseline the others are compared with.

Each preset also ships the classifier trained with it
(`classifier.keras`: resized images -> logits, after the BatchNormalization
re-estimation), so `make demo` can evaluate the presets against bilinear in
seconds, and its metadata records the validation accuracy `fit` reported
(`fit_val_accuracy`, lagging BatchNormalization statistics) beside the
accuracies after re-estimation.

`--from-runs DIR` registers the `resizer.weights.h5` of finished runs
(`DIR/<name>/`, e.g. the benchmark runs) instead of training again.

Run with `python -m benchmarks.pretrained_weights [--only NAME ...]`.
"""

import argparse
import json
import shlex
import shutil
from pathlib import Path

from benchmarks import learned_resize as family

ROOT = Path(__file__).resolve().parents[1]
RUNS_DIR = ROOT / "runs" / "pretrained"
# name -> (registry resizer, resizer kwargs, benchmark run that already has it)
WEIGHTS = {
    "learned-resize-digits-4x": ("learned", {}, "learned_resize/learned_seed0"),
    "downsizenet-digits-4x": (
        "downsizenet",
        {"neighborhood": "bilinear", "num_conv_layers": 2},
        "downsizenet_accuracy/digits/downsizenet-bilinear-2_seed0",
    ),
    "zoom-saliency-digits-4x": ("zoom", {"saliency": "learned"}, None),
    "bilinear-digits-4x": ("bilinear", {}, None),
}
CLASSIFIER_FILE = "classifier.keras"


def _argv(name, run_dir, verbose):
    resizer, kwargs, _ = WEIGHTS[name]
    config = dict(family.FULL)
    argv = family._training_argv(config, resizer, 0, run_dir, verbose)
    for key, value in kwargs.items():
        argv += ["--resizer-arg", f"{key}={value}"]
    if "--save-resizer" not in argv:
        argv += ["--save-resizer", str(run_dir / "resizer.weights.h5")]
    argv += ["--save-classifier", str(run_dir / CLASSIFIER_FILE)]
    return config, argv


def ship(name, run_dir, command, log=print):
    """Write a run's resizer weights as a preset."""
    from keras_resize import pretrained
    from keras_resize.layers import get_resizer

    resizer, kwargs, _ = WEIGHTS[name]
    config = dict(family.FULL)
    result = json.loads((run_dir / "results.json").read_text())
    size, input_size = config["image_size"], config["input_size"]
    directory = pretrained.saved_models_dir()
    target = directory / f"{name}.weights.h5"
    shutil.copyfile(run_dir / "resizer.weights.h5", target)
    layer = get_resizer(resizer, size, size, name="resizer", **kwargs)
    input_shape = (input_size, input_size, 3)
    pretrained.load_weights(layer, target, input_shape)  # checks the file loads
    entry = pretrained.register(
        name,
        layer,
        target,
        input_shape,
        task="digit-canvas classification (10 classes), 4x downsizing "
        f"{input_size} -> {size}, trained jointly with a {config['backbone']} classifier",
        data=f"keras_resize.data.make_classification_canvases: {config['train_size']} "
        "train canvases from MNIST train digits (data seed 0)",
        command=command,
        metric={
            "test_accuracy": result.get("test_accuracy"),
            "val_accuracy": result.get("val_accuracy"),
            "fit_val_accuracy": result.get("fit_val_accuracy"),
            "bn_recalibration_batches": result.get("bn_recalibration_batches"),
            "seed": result.get("seed"),
        },
        classifier_path=(
            run_dir / CLASSIFIER_FILE if (run_dir / CLASSIFIER_FILE).exists() else None
        ),
    )
    log(f"shipped {target} (sha256 {entry['sha256'][:12]}...)")
    return entry


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pretrained_weights",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("--only", nargs="+", choices=tuple(WEIGHTS))
    parser.add_argument(
        "--from-runs",
        type=Path,
        help="register finished runs under this folder (e.g. runs/benchmarks) "
        "instead of training",
    )
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    args = parser.parse_args(argv)
    from training import classification

    for name in args.only or WEIGHTS:
        _, _, benchmark_run = WEIGHTS[name]
        if args.from_runs is not None:
            if benchmark_run is None:
                raise SystemExit(f"{name}: no benchmark run holds it; train it")
            run_dir = args.from_runs / benchmark_run
            benchmark = benchmark_run.split("/")[0]
            command = shlex.join(
                ["python", "-m", "benchmarks.run", "--only", benchmark]
            )
        else:
            run_dir = RUNS_DIR / name
            _, train_argv = _argv(name, run_dir, args.verbose)
            classification.run(classification.parse_args(train_argv))
            command = shlex.join(
                ["python", "-m", "benchmarks.pretrained_weights", "--only", name]
            )
        ship(name, run_dir, command)
    return 0


if __name__ == "__main__":
    main()
