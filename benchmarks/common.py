"""Helpers shared by the benchmarks: environment record, outputs, entry point."""

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
RUNS_DIR = ROOT / "runs" / "benchmarks"


def output_dir(args):
    """`--output-dir`, else `results/` (`results/quick/` for `--quick`, so a
    smoke run never overwrites the committed full-size results)."""
    if getattr(args, "output_dir", None) is not None:
        return Path(args.output_dir)
    return RESULTS_DIR / "quick" if getattr(args, "quick", False) else RESULTS_DIR


def add_runs_arguments(parser, name):
    """`--runs-dir` and `--reuse-runs`, shared by the benchmarks that train."""
    parser.add_argument(
        "--runs-dir",
        type=Path,
        help=(
            "training run folders (checkpoints, logs, results.json; default "
            f"runs/benchmarks/{name}, or OUTPUT_DIR/{name}_runs with --quick)"
        ),
    )
    parser.add_argument(
        "--reuse-runs",
        action="store_true",
        help="reuse finished runs (their results.json) instead of retraining "
        "them, e.g. to resume an interrupted benchmark",
    )
    return parser


def runs_dir(args, output_dir, name):
    """`--runs-dir`, else `OUTPUT_DIR/NAME_runs` for `--quick` (a smoke run
    never mixes with the full runs), else `runs/benchmarks/NAME`."""
    if getattr(args, "runs_dir", None):
        return Path(args.runs_dir)
    if getattr(args, "quick", False):
        return Path(output_dir) / f"{name}_runs"
    return RUNS_DIR / name


def train_or_reuse(run_dir, script, argv, args, log, what):
    """Runs a training script (`script.run(script.parse_args(argv))`, which
    writes `run_dir/results.json`) and returns its results, or, with
    `--reuse-runs`, the results of a finished run in `run_dir`."""
    previous = Path(run_dir) / "results.json"
    if getattr(args, "reuse_runs", False) and previous.exists():
        log(f"reusing {what}: {previous}")
        return json.loads(previous.read_text())
    log(f"training {what}")
    return script.run(script.parse_args(argv))


def mean_std(values):
    """`(mean, sample std)` of the values that are not None (std 0 for one
    value; `(None, None)` for none)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def repository_relative(value, root=None):
    """`value` with every path inside the repository made relative to it.

    Results travel: a path of the machine that ran a benchmark
    (`/home/me/keras-resize/runs/...`) means nothing elsewhere, so strings
    (in dicts, lists and tuples, recursively) that are absolute paths under
    the repository root become repository-relative (`runs/...`). Other
    values are returned unchanged.
    """
    root = Path(ROOT if root is None else root).resolve()
    if isinstance(value, dict):
        return {key: repository_relative(item, root) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(repository_relative(item, root) for item in value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str) and value.startswith(str(root) + os.sep):
        return Path(value).relative_to(root).as_posix()
    return value


def write_outputs(output_dir, name, results, to_markdown, log=print):
    """Write `NAME.json` (the results) and `NAME.md` (`to_markdown(results)`)
    into `output_dir`, print the markdown, and return the two paths.

    `results` must be JSON-serialisable (see `training.results.json_safe`);
    paths inside the repository are written relative to it
    (`repository_relative`).
    """
    results = repository_relative(results)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    json_path = output_dir / f"{name}.json"
    md_path = output_dir / f"{name}.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    markdown = to_markdown(results)
    md_path.write_text(markdown)
    log(markdown)
    return json_path, md_path


def main(name, doc, add_arguments, run, argv=None):
    """`python -m benchmarks.NAME`: parse the module's options and run it."""
    parser = add_arguments(
        argparse.ArgumentParser(
            prog=f"python -m benchmarks.{name}", description=doc.split("\n")[0]
        )
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join(["python", "-m", f"benchmarks.{name}", *argv])
    return run(parser.parse_args(argv), command=command)


def git_revision():
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}{'+dirty' if dirty else ''}" if head else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def environment(frameworks=True):
    """Machine, load and versions. `frameworks=False` skips TensorFlow and
    Keras (whose versions each backend's process then records itself), and
    TensorFlow's fields are None where it is not installed."""
    import numpy as np

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "load_average_before": list(os.getloadavg())
        if hasattr(os, "getloadavg")
        else None,
        "numpy": np.__version__,
        "git_revision": git_revision(),
    }
    if not frameworks:
        return record
    import keras

    try:
        import tensorflow as tf
    except ImportError:
        tf = None
    record.update(
        tensorflow=tf.__version__ if tf else None,
        keras=keras.__version__,
        gpus_visible=len(tf.config.list_physical_devices("GPU")) if tf else None,
        intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads()
        if tf
        else None,
        inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads()
        if tf
        else None,
    )
    return record
