"""TensorFlow resize speed of this checkout vs an earlier revision, in one process.

The multi-backend rewrite (issue 12) must keep the TensorFlow speed table within
10% of its ratios before the rewrite. Ratios measured on different days or
machines are not comparable, so this benchmark extracts `keras_resize/` of an
earlier revision (`git archive`, default `6c6de57`, the last TensorFlow-only
revision) into a temporary folder under another package name and times, in the
same process and interleaved rounds, `tf.image.resize`, the old
`keras_resize.ops.resize` and the current one, each in graph mode
(`tf.function`), on 8 x 1024x2048x3 -> 256x512.

    python -m benchmarks.resize_speed_regression [--ref 6c6de57] [--repeats 25]

Writes `benchmarks/results/resize_speed_regression.{md,json}`.
"""

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CASES = (
    ("bilinear", False),
    ("nearest", False),
    ("bicubic", False),
    ("area", False),
    ("bilinear", True),
    ("bicubic", True),
    ("lanczos3", True),
)


def extract_old_package(ref, folder):
    """`keras_resize/` at `ref`, renamed `keras_resize_old`, under `folder`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "keras_resize"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    source = Path(folder) / "keras_resize"
    target = Path(folder) / "keras_resize_old"
    source.rename(target)
    for path in target.rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(r"\bkeras_resize\b", "keras_resize_old", text))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="6c6de57", help="earlier git revision")
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # one tf.function per case: no retracing notes

    import keras_resize
    from keras_resize import ops as new

    temporary = tempfile.TemporaryDirectory()
    extract_old_package(args.ref, temporary.name)
    sys.path.insert(0, temporary.name)
    from keras_resize_old import ops as old  # noqa: E402

    images = tf.random.uniform((args.batch, 1024, 2048, 3), seed=0)
    functions = {}
    for method, antialias in CASES:
        for who, resize in (
            ("tf", tf.image.resize),
            ("old", old.resize),
            ("new", new.resize),
        ):
            functions[(method, antialias, who)] = tf.function(
                lambda t, r=resize, m=method, a=antialias: r(
                    t, (256, 512), m, antialias=a
                )
            )
    for function in functions.values():
        function(images).numpy()
    times = {key: [] for key in functions}
    load_before = os.getloadavg()[0]
    for round_index in range(args.repeats):
        print(f"round {round_index + 1}/{args.repeats}", flush=True)
        for key, function in functions.items():
            start = time.perf_counter()
            function(images).numpy()
            times[key].append(time.perf_counter() - start)
    load_after = os.getloadavg()[0]

    rows = []
    for method, antialias in CASES:
        median = {
            who: statistics.median(times[(method, antialias, who)]) * 1e3
            for who in ("tf", "old", "new")
        }
        old_ratio = median["old"] / median["tf"]
        new_ratio = median["new"] / median["tf"]
        rows.append(
            {
                "method": method + ("+antialias" if antialias else ""),
                "tf_ms": median["tf"],
                "old_ms": median["old"],
                "new_ms": median["new"],
                "old_over_tf": old_ratio,
                "new_over_tf": new_ratio,
                "change": new_ratio / old_ratio - 1.0,
            }
        )
    worst = max(row["change"] for row in rows)
    result = {
        "ref": args.ref,
        "head": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "batch": args.batch,
        "repeats": args.repeats,
        "tensorflow": tf.__version__,
        "keras_resize": keras_resize.__version__,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "rows": rows,
        "worst_change": worst,
        "target_met": worst <= 0.10,
    }
    lines = [
        "# TensorFlow resize speed: this checkout vs the TensorFlow-only revision",
        "",
        f"`python -m benchmarks.resize_speed_regression --ref {args.ref}`: "
        f"{args.batch} x 1024x2048x3 float32 -> 256x512, graph mode (`tf.function`), "
        f"median of {args.repeats} interleaved rounds after a warm-up call, all in one "
        f"process. *old* = `keras_resize.ops.resize` at `{args.ref}` (before the "
        f"multi-backend rewrite), *new* = at `{result['head']}` (this checkout). "
        f"Load average (1 min) {load_before:.2f} before, {load_after:.2f} after.",
        "",
        "| method | `tf.image.resize` ms | old ms | new ms | old / TF | new / TF | change |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['tf_ms']:.1f} | {row['old_ms']:.1f} | "
            f"{row['new_ms']:.1f} | {row['old_over_tf']:.2f} | {row['new_over_tf']:.2f} | "
            f"{row['change']:+.0%} |"
        )
    verdict = "MET" if result["target_met"] else "NOT MET"
    lines += [
        "",
        f"- {verdict}: every ratio within 10% of the old one (worst change "
        f"{worst:+.1%}; a negative change is faster).",
        "",
    ]
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "resize_speed_regression.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    (args.output_dir / "resize_speed_regression.md").write_text("\n".join(lines))
    print("\n".join(lines))
    temporary.cleanup()


if __name__ == "__main__":
    main()
