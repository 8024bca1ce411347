"""Resize speed: `keras_resize.ops.resize` against `tf.image.resize` on CPU.

Times, in graph mode (`tf.function`, no `jit_compile` on the outer function),
a batch of float32 images downsized with each method by

- `tf.image.resize` (the reference),
- our `resize` with the sampler core as a nested XLA cluster (the default),
- our `resize` with XLA fusion off (`set_xla_fusion(False)`: plain TF kernels).

All functions are warmed up once (tracing, XLA compilation) and then timed in
interleaved rounds (one call of every function per round), so slow drifts in
machine load affect every row alike. Every time is reported as a ratio to
`tf.image.resize` bilinear from the same run, and ours as a ratio to TF's
same method. The max abs difference between ours and TF on the same input is
a sanity column.

Run with `python -m benchmarks.run --only resize_speed` (or directly with
`python -m benchmarks.resize_speed`); see `--help` for the options.
"""

import contextlib
import os
import shlex
import statistics
import time
from pathlib import Path

from benchmarks import common

NAME = "resize_speed"

FULL = {"batch": 8, "in_size": (1024, 2048), "out_size": (256, 512), "repeats": 7}
QUICK = {"batch": 2, "in_size": (256, 512), "out_size": (64, 128), "repeats": 3}

# (row label, method, antialias)
CASES = (
    ("bilinear", "bilinear", False),
    ("nearest", "nearest", False),
    ("bicubic", "bicubic", False),
    ("area", "area", False),
    ("bilinear+antialias", "bilinear", True),
    ("bicubic+antialias", "bicubic", True),
    ("lanczos3+antialias", "lanczos3", True),
)

# Where TF's own op falls short (see /work/shared/STACK.md, TF 2.21): TFLite
# with builtin ops only, and compilation under XLA (`jit_compile=True`).
TF_LIMITS = {
    "bilinear": "",
    "nearest": "",
    "bicubic": "TFLite: Flex only; XLA: fails",
    "area": "TFLite: no; XLA: no",
    "bilinear+antialias": "TFLite: no; XLA: no",
    "bicubic+antialias": "TFLite: no; XLA: no",
    "lanczos3+antialias": "TFLite: no; XLA: no",
}

IMPLS = ("tf", "ours_fused", "ours_unfused")

# (target label, case, ours / TF same-case ratio must be <= this)
TARGETS = (
    ("ours bilinear within 1.5x of TF bilinear", "bilinear", 1.5),
    ("ours nearest within 1.5x of TF nearest", "nearest", 1.5),
    ("ours area no slower than TF area", "area", 1.0),
    ("ours bilinear+antialias no slower than TF antialias", "bilinear+antialias", 1.0),
)


def add_arguments(parser):
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "smoke-test size: 2x256x512x3 -> 64x128, 3 repeats (writes to "
            "benchmarks/results/quick/ unless --output-dir is given)"
        ),
    )
    parser.add_argument("--batch", type=int, help="batch size (default 8)")
    parser.add_argument(
        "--in-size", type=int, nargs=2, metavar=("H", "W"), help="default 1024 2048"
    )
    parser.add_argument(
        "--out-size", type=int, nargs=2, metavar=("H", "W"), help="default 256 512"
    )
    parser.add_argument(
        "--repeats", type=int, help="timed runs per function (default 7, min 1)"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help=f"where to write {NAME}.json/.md (default benchmarks/results)",
    )
    return parser


def _config(args):
    config = dict(QUICK if args.quick else FULL)
    for key in ("batch", "in_size", "out_size", "repeats"):
        value = getattr(args, key, None)
        if value is not None:
            config[key] = tuple(value) if isinstance(value, list) else value
    if config["repeats"] < 1 or config["batch"] < 1:
        raise ValueError(f"`repeats` and `batch` must be >= 1. Received: {config}")
    return config


@contextlib.contextmanager
def _xla_fusion(enabled):
    from keras_resize.ops import sampling

    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(enabled)
    try:
        yield
    finally:
        sampling.set_xla_fusion(previous)


def _make_functions(size):
    """Returns {(case, impl): (tf.function, fusion flag)}."""
    import tensorflow as tf

    from keras_resize.ops import resize

    functions = {}
    for label, method, antialias in CASES:

        def reference(x, method=method, antialias=antialias):
            return tf.image.resize(x, size, method=method, antialias=antialias)

        def ours(x, method=method, antialias=antialias):
            return resize(x, size, method=method, antialias=antialias)

        functions[label, "tf"] = (tf.function(reference, autograph=False), True)
        # Two separate tf.functions: the fusion flag is read when tracing, so
        # each one is traced (and later called) with its own flag value.
        functions[label, "ours_fused"] = (tf.function(ours, autograph=False), True)
        functions[label, "ours_unfused"] = (tf.function(ours, autograph=False), False)
    return functions


def _call(function, fused, images):
    with _xla_fusion(fused):
        return function(images)


def measure(batch, in_size, out_size, repeats, seed=0, log=print):
    """Times every (case, impl) pair; returns the results dict (no files)."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    images = tf.constant(rng.random((batch, *in_size, 3), dtype=np.float32))
    functions = _make_functions(tuple(out_size))

    log(
        f"[{NAME}] input {batch}x{in_size[0]}x{in_size[1]}x3 float32 -> "
        f"{out_size[0]}x{out_size[1]}, {len(functions)} functions, "
        f"{repeats} timed rounds"
    )
    warmup = {}
    max_abs_diff = {}
    for label, _, _ in CASES:
        outputs = {}
        for impl in IMPLS:
            function, fused = functions[label, impl]
            start = time.perf_counter()
            outputs[impl] = _call(function, fused, images).numpy()
            warmup[f"{label}/{impl}"] = time.perf_counter() - start
        max_abs_diff[label] = {
            impl: float(np.max(np.abs(outputs[impl] - outputs["tf"])))
            for impl in ("ours_fused", "ours_unfused")
        }
        log(
            f"[{NAME}] warmed up {label:<20s} max|ours-TF| "
            f"{max_abs_diff[label]['ours_fused']:.2e}"
        )
        del outputs

    times = {key: [] for key in functions}
    for r in range(repeats):
        for key, (function, fused) in functions.items():
            with _xla_fusion(fused):
                start = time.perf_counter()
                function(images)  # CPU: returns when the graph has run.
                times[key].append(time.perf_counter() - start)
        log(f"[{NAME}] round {r + 1}/{repeats} done")

    base = statistics.median(times["bilinear", "tf"])
    rows = []
    for label, method, antialias in CASES:
        tf_median = statistics.median(times[label, "tf"])
        row = {
            "case": label,
            "method": method,
            "antialias": antialias,
            "tf_limits": TF_LIMITS[label],
            "max_abs_diff_vs_tf": max_abs_diff[label],
        }
        for impl in IMPLS:
            runs = times[label, impl]
            median = statistics.median(runs)
            paired = [t / r for t, r in zip(runs, times[label, "tf"], strict=True)]
            row[impl] = {
                "median_ms": 1e3 * median,
                "min_ms": 1e3 * min(runs),
                "runs_ms": [1e3 * t for t in runs],
                "warmup_s": warmup[f"{label}/{impl}"],
                "ratio_to_tf_bilinear": median / base,
                "ratio_to_tf_same_method": median / tf_median,
                # Median over rounds of (this run / TF's run of the same
                # round): less sensitive to load changing between rounds.
                "paired_ratio_to_tf_same_method": statistics.median(paired),
            }
        rows.append(row)

    by_case = {row["case"]: row for row in rows}
    targets = []
    for text, case, limit in TARGETS:
        fused = by_case[case]["ours_fused"]
        ratio = fused["ratio_to_tf_same_method"]
        targets.append(
            {
                "target": text,
                "case": case,
                "path": "ours_fused",
                "max_ratio_to_tf_same_method": limit,
                "ratio": ratio,
                "paired_ratio": fused["paired_ratio_to_tf_same_method"],
                "met": bool(ratio <= limit),
            }
        )
    return {
        "benchmark": NAME,
        "config": {
            "batch": batch,
            "in_size": list(in_size),
            "out_size": list(out_size),
            "channels": 3,
            "dtype": "float32",
            "repeats": repeats,
            "seed": seed,
            "mode": "tf.function graph mode (no jit_compile on the outer function)",
            "timing": "warm-up call, then interleaved rounds; median and min per function",
        },
        "reference_tf_bilinear_median_ms": 1e3 * base,
        "rows": rows,
        "targets": targets,
    }


def _load(env, when):
    value = env.get(f"load_average_{when}")
    return f"{value[0]:.2f}" if value else "n/a"


def _fmt_ms(entry):
    return f"{entry['median_ms']:.1f}"


def to_markdown(results):
    config = results["config"]
    env = results["environment"]
    b, (h, w), (oh, ow) = config["batch"], config["in_size"], config["out_size"]
    lines = [
        "# Resize speed: `keras_resize.ops.resize` vs `tf.image.resize`",
        "",
        f"Input {b} x {h}x{w}x3 float32 -> {oh}x{ow}, graph mode (`tf.function`, "
        "outer function not jit-compiled), median of "
        f"{config['repeats']} timed runs after a warm-up call (interleaved rounds). "
        f"{env['cpu_usable']} usable CPU cores ({env['cpu_model']}), "
        f"TF {env['tensorflow']}, Keras {env['keras']}, {env['date']}. "
        f"Load average (1 min) {_load(env, 'before')} before the run and "
        f"{_load(env, 'after')} after it (the machine may be shared: this "
        "benchmark itself uses all cores).",
        "",
        "Times in ms (median); `x bl` = ratio to `tf.image.resize` bilinear in this run "
        f"({results['reference_tf_bilinear_median_ms']:.1f} ms); `/TF` = ours over "
        "TF's same method. *fused* = default (sampler core as a nested XLA cluster); "
        "*unfused* = `set_xla_fusion(False)` (plain TF kernels).",
        "",
        "| method | TF ms | TF x bl | TF op limits | ours fused ms | x bl | /TF "
        "| ours unfused ms | x bl | /TF | max abs diff vs TF |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["rows"]:
        t, f, u = row["tf"], row["ours_fused"], row["ours_unfused"]
        lines.append(
            f"| {row['case']} | {_fmt_ms(t)} | {t['ratio_to_tf_bilinear']:.2f} "
            f"| {row['tf_limits'] or '-'} "
            f"| {_fmt_ms(f)} | {f['ratio_to_tf_bilinear']:.2f} "
            f"| {f['ratio_to_tf_same_method']:.2f} "
            f"| {_fmt_ms(u)} | {u['ratio_to_tf_bilinear']:.2f} "
            f"| {u['ratio_to_tf_same_method']:.2f} "
            f"| {row['max_abs_diff_vs_tf']['ours_fused']:.1e} |"
        )
    lines += [
        "",
        "TF op limits (TF 2.21, from /work/shared/STACK.md): *TFLite* = converts "
        "with builtin ops only; *XLA* = compiles under `jit_compile=True`. Ours "
        "does both for every method.",
        "",
        "Targets (default fused path; met when the ratio of medians, ours / TF same "
        "method, is within the limit):",
        "",
    ]
    for target in results["targets"]:
        status = "MET" if target["met"] else "NOT MET"
        lines.append(
            f"- {status}: {target['target']} "
            f"(ratio of medians {target['ratio']:.2f}; median of per-round ratios "
            f"{target['paired_ratio']:.2f}; limit {target['max_ratio_to_tf_same_method']:.1f})"
        )
    lines += [
        "",
        "Command:",
        "",
        "```",
        results["command"],
        "```",
        "",
        "Machine-readable results (every run): `resize_speed.json`.",
        "",
    ]
    return "\n".join(lines)


def run(args, command=None, log=print):
    """Runs the benchmark for parsed `args`; writes JSON and markdown."""
    config = _config(args)
    output_dir = common.output_dir(args)
    environment = common.environment()
    results = measure(
        config["batch"],
        config["in_size"],
        config["out_size"],
        config["repeats"],
        log=log,
    )
    environment["load_average_after"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    results["environment"] = environment
    results["quick"] = bool(args.quick)
    results["command"] = command or shlex.join(["python", "-m", f"benchmarks.{NAME}"])
    json_path, md_path = common.write_outputs(
        output_dir, NAME, results, to_markdown, log
    )
    log(f"[{NAME}] wrote {json_path} and {md_path}")
    return results


def main(argv=None):
    return common.main(NAME, __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    main()
