"""The results of a training run: `results.json` and the summary line.

A training script finishes with `run_results` (or `training_results`) and
`finish_run` (which adds `training.measurement.measure_resizer`) or
`write_run`, writing `--output-dir/results.json` with `write_results`: the
metrics, the arguments and the `environment`, JSON-safe (`json_safe`: numpy
values to Python, NaN and inf to `null`).

Example:

```python
import json, os, tempfile
import numpy as np
from training import results

path = os.path.join(tempfile.mkdtemp(), results.RESULTS_FILE)
results.write_results(path, {"accuracy": np.float32(0.5), "loss": float("nan")})
with open(path) as f:
    written = json.load(f)
assert written["accuracy"] == 0.5 and written["loss"] is None
assert results.format_metric(written, "loss") == "n/a"
```
"""

import datetime
import json
import math
import os
import platform
import time

import keras

from training.measurement import measure_resizer

RESULTS_FILE = "results.json"


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
