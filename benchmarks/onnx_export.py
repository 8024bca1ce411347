"""ONNX export of every resizer: op types and max |Keras - onnxruntime|.

`python -m benchmarks.onnx_export` exports one model per row with
`keras_resize.export(model, path, formats="onnx")` (Keras' `model.export(...,
format="onnx")`, on TensorFlow through `tf2onnx`), runs it in onnxruntime
on a batch of 2 and of 1 (the batch dim stays dynamic) and writes
`benchmarks/results/onnx_export.md` (and `.json`): the ONNX op types of each
graph (standard domain only: a custom-domain op fails the export), its node
count, file size and the largest difference from Keras.

Rows: `Resize` with every method, antialiased bilinear and area, all of
them in one model, `LearnedResize` (random weights and batch-norm
statistics), and a fixed-saliency `Zoom` + `Unzoom` (separable and not).
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from keras_resize.ops import RESIZE_METHODS

METHODS = RESIZE_METHODS  # the package's one list of methods
TOLERANCE = 1e-4
BACKEND_NOTE = """Why TensorFlow: tf2onnx folds every weight and index table computed ahead
of time into constants, so a resize is a weighted gather-and-sum per axis
(Gather, Mul, Add) with a dynamic batch. On PyTorch (torch 2.13, Keras 3.15)
Keras' export fails today: with a dynamic batch it uses the TorchScript
exporter, which stops at `aten::ravel` (from `keras.ops.take` on torch);
with a fixed batch it tries the dynamo exporter, which writes a graph that
onnxruntime rejects (`aten.squeeze.dim` on a dim that is not 1, also from
`keras.ops.take`, becomes an invalid ONNX `Squeeze`). With `take` rewritten
as `index_select` + `reshape`, the TorchScript export of the all-methods
model runs within 4e-7 of Keras but keeps the weight computation in the
graph (31 op types: Sin, Exp, Range, Where, ...). On JAX, Keras 3.15 exports
ONNX through `jax2onnx` (not a dependency here)."""


def _resize_model(shape, size, specs):
    from keras_resize.layers import Resize

    inputs = keras.Input(shape, name="images")
    outputs = [
        Resize(*size, interpolation=method, antialias=antialias)(inputs)
        for method, antialias in specs
    ]
    if len(outputs) > 1:
        outputs = keras.layers.Concatenate()(outputs)
    else:
        outputs = outputs[0]
    return keras.Model(inputs, outputs)


def _learned_model(shape, size, seed):
    from keras_resize.layers import LearnedResize

    inputs = keras.Input(shape, name="images")
    model = keras.Model(inputs, LearnedResize(*size)(inputs))
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        value = rng.normal(size=weight.shape) * 0.1
        if "variance" in weight.path:
            value = np.abs(value) + 1.0
        weight.assign(value.astype("float32"))
    return model


def _zoom_model(shape, size, separable):
    from keras_resize.layers import Unzoom, Zoom

    saliency = np.ones((5, 7))
    saliency[2, 3] = 50.0
    inputs = keras.Input(shape, name="images")
    zoomed = Zoom(*size, saliency=saliency, separable=separable)(inputs)
    unzoomed = Unzoom(saliency=saliency, separable=separable)(zoomed)
    return keras.Model(inputs, [zoomed, unzoomed])


def models(shape, size, seed=0):
    """`(row name, builder)` for every row of the table."""
    rows = [
        (f"Resize {method}", lambda m=method: _resize_model(shape, size, [(m, False)]))
        for method in METHODS
    ]
    rows += [
        (
            "Resize bilinear antialias",
            lambda: _resize_model(shape, size, [("bilinear", True)]),
        ),
        ("Resize area antialias", lambda: _resize_model(shape, size, [("area", True)])),
        (
            "Resize, all 8 methods + antialias (one model)",
            lambda: _resize_model(
                shape, size, [(m, False) for m in METHODS] + [("bilinear", True)]
            ),
        ),
        ("LearnedResize (n=16, r=1)", lambda: _learned_model(shape, size, seed)),
        ("Zoom + Unzoom, fixed separable", lambda: _zoom_model(shape, size, True)),
        ("Zoom + Unzoom, fixed non-separable", lambda: _zoom_model(shape, size, False)),
    ]
    return rows


def _versions():
    import onnx
    import onnxruntime

    versions = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        import tf2onnx

        versions.update(tensorflow=tf.__version__, tf2onnx=tf2onnx.__version__)
    elif keras.backend.backend() == "torch":
        import torch

        versions.update(torch=torch.__version__)
    return versions


def run(args, command):
    import onnx

    from keras_resize import exporting

    shape = (args.height, args.width, 3)
    size = (args.out_height, args.out_width)
    rng = np.random.default_rng(args.seed)
    samples = rng.random((2, *shape)).astype("float32")
    rows = []
    for name, build in models(shape, size, args.seed):
        model = build()
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            report = exporting.export(
                model, tmp, formats="onnx", sample_inputs=samples, verbose=False
            )
            seconds = time.perf_counter() - start
            proto = onnx.load(report.files["onnx"]["path"])
            opset = max(
                (o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                default=None,
            )
            rows.append(
                {
                    "model": name,
                    "op_types": report.onnx_ops,
                    "nodes": len(proto.graph.node),
                    "bytes": report.files["onnx"]["bytes"],
                    "max_abs_diff": report.max_abs_diff["onnx"],
                    "batches": report.dynamic_batch_checked,
                    "opset": opset,
                    "seconds": seconds,
                }
            )
        print(
            f"{name}: {', '.join(rows[-1]['op_types'])}; "
            f"max diff {rows[-1]['max_abs_diff']:.2e}",
            flush=True,
        )
    result = {
        "command": command,
        "input": [2, *shape],
        "output_size": list(size),
        "tolerance": TOLERANCE,
        "rows": rows,
        "all_within_tolerance": all(r["max_abs_diff"] < TOLERANCE for r in rows),
        "environment": {
            **_versions(),
            "python": platform.python_version(),
            "load_average_before": list(os.getloadavg()),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
        },
    }
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "onnx_export.json").write_text(json.dumps(result, indent=2) + "\n")
    (output_dir / "onnx_export.md").write_text(to_markdown(result))
    print(f"wrote {output_dir / 'onnx_export.md'}")
    return result


def to_markdown(result):
    env = result["environment"]
    versions = ", ".join(
        f"{k} {v}" for k, v in env.items() if k not in ("date", "load_average_before")
    )
    load = ", ".join(f"{x:.1f}" for x in env["load_average_before"])
    lines = [
        "# ONNX export (standard ops, checked in onnxruntime)",
        "",
        f'`keras_resize.export(model, path, formats="onnx")` on the '
        f'**{env["backend"]}** backend (Keras `model.export(..., format="onnx")`'
        + (
            ", i.e. tf2onnx; the sampler's nested XLA fusion is switched off "
            "during the export"
            if env["backend"] == "tensorflow"
            else ""
        )
        + f"). Input {' x '.join(map(str, result['input']))} float32 (uniform "
        f"[0, 1)), output {result['output_size'][0]}x{result['output_size'][1]}; "
        "each graph run in onnxruntime (CPU) with a batch of 2 and of 1 "
        "(dynamic batch) and compared with the Keras outputs.",
        "",
        "| model | ONNX op types | nodes | size KB | max abs diff Keras - ONNX | export s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['model']} | {', '.join(row['op_types'])} | {row['nodes']} | "
            f"{row['bytes'] / 1e3:.1f} | {row['max_abs_diff']:.2e} | "
            f"{row['seconds']:.1f} |"
        )
    all_ops = sorted({op for row in result["rows"] for op in row["op_types"]})
    opsets = sorted({row["opset"] for row in result["rows"]})
    status = "MET" if result["all_within_tolerance"] else "NOT MET"
    lines += [
        "",
        f"All op types: {', '.join(all_ops)} (default ONNX domain, opset "
        f"{', '.join(map(str, opsets))}; no custom domain).",
        "",
        f"- {status}: max |Keras - ONNX| < {result['tolerance']:g} on every row.",
        "",
        f"Versions: {versions}. Date: {env['date']}. Export times are wall "
        f"seconds on a shared 2-core CPU (load average before: {load}).",
        "",
        BACKEND_NOTE,
        "",
        "Command:",
        "",
        "```",
        result["command"],
        "```",
        "",
    ]
    return "\n".join(lines)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.onnx_export", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--out-height", type=int, default=32)
    parser.add_argument("--out-width", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output-dir", default=str(Path(__file__).resolve().parent / "results")
    )
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = _parser().parse_args(argv)
    backend = keras.backend.backend()
    prefix = [] if backend == "tensorflow" else [f"KERAS_BACKEND={backend}"]
    command = shlex.join([*prefix, "python", "-m", "benchmarks.onnx_export", *argv])
    return run(args, command)


if __name__ == "__main__":
    main()
