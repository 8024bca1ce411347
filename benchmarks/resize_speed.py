"""Resize speed: `keras_resize.ops.resize` against each backend's own resize.

Downsizes a batch of float32 images (NHWC) with each method, on every Keras
backend whose framework is importable, each in its own process (the Keras
backend is fixed per process; the processes run one after another):

- **TensorFlow**, graph mode (`tf.function`, no `jit_compile` on the outer
  function): `tf.image.resize` (the reference), our `resize` with the sampler
  core as a nested XLA cluster (the default) and with XLA fusion off
  (`set_xla_fusion(False)`: plain TF kernels).
- **JAX**, everything under `jax.jit`: `jax.image.resize` (the reference; it
  has no `area`, so area is compared with a reshape-and-mean box filter when
  the factors are integers), `keras.ops.image.resize`, and our `resize`.
- **PyTorch**, eager: `torch.nn.functional.interpolate` on an NCHW tensor
  (`align_corners=False`; `nearest-exact`, torch's half-pixel nearest; area =
  `adaptive_avg_pool2d`; no Lanczos) and our `resize` on the NHWC tensor;
  `--torch-compile` adds our `resize` under `torch.compile`.

Every function is warmed up once (tracing, compilation), then the functions of
one backend are timed in interleaved rounds (one call of every function per
round), so slow drifts in machine load affect every row alike. Times are
reported as ratios of medians measured in the same process: to the
reference's bilinear, and ours over the reference's same method. The max abs
difference between ours and the reference on the same input is a sanity
column (where the two define the method differently, a note says so).

A backend whose framework does not import is skipped with the reason, so the
benchmark runs on a machine with JAX only (no TensorFlow).

Run with `python -m benchmarks.run --only resize_speed` (or directly with
`python -m benchmarks.resize_speed`); see `--help` for the options.
"""

import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks import common

NAME = "resize_speed"

FULL = {"batch": 8, "in_size": (1024, 2048), "out_size": (256, 512), "repeats": 7}
QUICK = {"batch": 2, "in_size": (256, 512), "out_size": (64, 128), "repeats": 3}

BACKENDS = ("tensorflow", "jax", "torch")
BACKEND_TITLES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}

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
CASE_NAMES = tuple(case[0] for case in CASES)

# Where TF's own op falls short (see the project's shared STACK.md, TF 2.21): TFLite
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

# The functions timed on each backend; the first one is the reference.
IMPLS = {
    "tensorflow": ("tf", "ours_fused", "ours_unfused"),
    "jax": ("jax_image", "keras_ops", "ours_jit"),
    "torch": ("torch", "ours_eager", "ours_compiled"),
}
# Functions that ours is compared against (ratios, max abs diff).
REFERENCES = {
    "tensorflow": ("tf",),
    "jax": ("jax_image", "keras_ops"),
    "torch": ("torch",),
}
IMPL_TITLES = {
    "tf": "`tf.image.resize`",
    "ours_fused": "ours (fused)",
    "ours_unfused": "ours (unfused)",
    "jax_image": "`jax.image.resize`",
    "keras_ops": "`keras.ops.image.resize`",
    "ours_jit": "ours (`jax.jit`)",
    "torch": "`F.interpolate`",
    "ours_eager": "ours (eager)",
    "ours_compiled": "ours (`torch.compile`)",
}

# jax.image.resize: (method, antialias) per case; None = no such method.
JAX_METHODS = {
    "bilinear": ("linear", False),
    "nearest": ("nearest", False),
    "bicubic": ("cubic", False),
    "area": None,
    "bilinear+antialias": ("linear", True),
    "bicubic+antialias": ("cubic", True),
    "lanczos3+antialias": ("lanczos3", True),
}
# torch: (callable name, mode, antialias) per case; None = no such method.
TORCH_METHODS = {
    "bilinear": ("interpolate", "bilinear", False),
    "nearest": ("interpolate", "nearest-exact", False),
    "bicubic": ("interpolate", "bicubic", False),
    "area": ("adaptive_avg_pool2d", None, False),
    "bilinear+antialias": ("interpolate", "bilinear", True),
    "bicubic+antialias": ("interpolate", "bicubic", True),
    "lanczos3+antialias": None,
}
NOTES = {
    "jax": {
        "area": "`jax.image.resize` and `keras.ops.image.resize` have no area "
        "method: the reference is a reshape + mean box filter (integer factors)",
    },
    "torch": {
        "nearest": "`nearest-exact` (half-pixel; torch's `nearest` is not)",
        "bicubic": "torch's cubic is a=-0.75, TF's and ours a=-0.5: values differ",
        "area": "`adaptive_avg_pool2d` (= `mode='area'`)",
        "lanczos3+antialias": "torch has no Lanczos resize",
    },
}

# (backend, case, ours impl, reference impl, max ratio of medians, text)
TARGETS = (
    ("tensorflow", "bilinear", "ours_fused", "tf", 1.5, "within 1.5x of TF"),
    ("tensorflow", "nearest", "ours_fused", "tf", 1.5, "within 1.5x of TF"),
    ("tensorflow", "area", "ours_fused", "tf", 1.0, "no slower than TF"),
    ("tensorflow", "bilinear+antialias", "ours_fused", "tf", 1.0, "no slower than TF"),
    *(
        (
            "jax",
            case,
            "ours_jit",
            reference,
            1.0,
            f"no slower than {IMPL_TITLES[reference]}",
        )
        for case in CASE_NAMES
        if JAX_METHODS[case] is not None
        for reference in ("jax_image", "keras_ops")
    ),
    ("torch", "bilinear", "ours_eager", "torch", 2.0, "within 2x of torch"),
    ("torch", "area", "ours_eager", "torch", 1.0, "no slower than torch"),
    ("torch", "bilinear+antialias", "ours_eager", "torch", 1.0, "no slower than torch"),
    ("torch", "bicubic+antialias", "ours_eager", "torch", 1.0, "no slower than torch"),
    # Reported only where `--torch-compile` measured them.
    ("torch", "bilinear", "ours_compiled", "torch", 2.0, "within 2x of torch"),
    ("torch", "area", "ours_compiled", "torch", 1.0, "no slower than torch"),
    *(
        ("torch", case, "ours_compiled", "torch", 1.0, "no slower than torch")
        for case in ("bilinear+antialias", "bicubic+antialias")
    ),
)
OPTIONAL_IMPLS = ("ours_compiled",)


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
        "--backends",
        nargs="+",
        choices=BACKENDS,
        metavar="BACKEND",
        help=(
            "Keras backends to measure, each in its own process (default: all "
            "three; one whose framework does not import is skipped)"
        ),
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=CASE_NAMES,
        metavar="CASE",
        help=f"methods to measure (default all: {' '.join(CASE_NAMES)})",
    )
    parser.add_argument(
        "--torch-compile",
        nargs="*",
        choices=CASE_NAMES,
        metavar="CASE",
        help=(
            "also time our resize under torch.compile, for these cases (all "
            "measured cases if none is named; each compiles for a minute or more "
            "on a loaded 2-core CPU)"
        ),
    )
    parser.add_argument(
        "--backend-timeout",
        type=float,
        default=1800.0,
        help="seconds allowed per backend process (default 1800)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help=f"where to write {NAME}.json/.md (default benchmarks/results)",
    )
    # Internal: run one backend in this process and write its JSON there.
    parser.add_argument("--worker", choices=BACKENDS, help="(internal)")
    parser.add_argument("--worker-output", type=Path, help="(internal)")
    return parser


def _config(args):
    config = dict(QUICK if args.quick else FULL)
    for key in ("batch", "in_size", "out_size", "repeats"):
        value = getattr(args, key, None)
        if value is not None:
            config[key] = tuple(value) if isinstance(value, list) else value
    if config["repeats"] < 1 or config["batch"] < 1:
        raise ValueError(f"`repeats` and `batch` must be >= 1. Received: {config}")
    config["cases"] = tuple(getattr(args, "cases", None) or CASE_NAMES)
    compiled = getattr(args, "torch_compile", None)
    if compiled is None:
        compiled = ()
    elif not compiled:
        compiled = config["cases"]
    config["torch_compile"] = tuple(c for c in config["cases"] if c in compiled)
    return config


def _error(exception):
    """One line for an exception."""
    text = str(exception).strip().splitlines()
    return f"{type(exception).__name__}: {text[0] if text else ''}"[:300]


# --------------------------------------------------------------------------
# Per-backend functions: {(case, impl): callable(images) -> output}, plus the
# input converter, the synchroniser and the framework/device description.


@contextlib.contextmanager
def _xla_fusion(enabled):
    from keras_resize.ops import sampling

    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(enabled)
    try:
        yield
    finally:
        sampling.set_xla_fusion(previous)


def _tensorflow_setup(size, cases, config, errors):
    import keras
    import tensorflow as tf

    functions = {}
    try:
        from keras_resize.ops import resize, sampling

        has_fusion_switch = hasattr(sampling, "set_xla_fusion")
    except Exception as e:  # ours does not import: time the reference only.
        resize = None
        errors["ours"] = _error(e)
    for label, method, antialias in CASES:
        if label not in cases:
            continue

        def reference(x, method=method, antialias=antialias):
            return tf.image.resize(x, size, method=method, antialias=antialias)

        functions[label, "tf"] = tf.function(reference, autograph=False)
        if resize is None:
            continue

        def ours(x, method=method, antialias=antialias):
            return resize(x, size, method=method, antialias=antialias)

        # Two separate tf.functions: the fusion flag is read when tracing, so
        # each one is traced (and later called) with its own flag value.
        for impl, fused in (("ours_fused", True), ("ours_unfused", False)):
            function = tf.function(ours, autograph=False)
            if has_fusion_switch:

                def call(x, function=function, fused=fused):
                    with _xla_fusion(fused):
                        return function(x)

                functions[label, impl] = call
            elif fused:
                functions[label, impl] = function

    info = {
        "framework": f"TensorFlow {tf.__version__}",
        "keras": keras.__version__,
        "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "mode": "tf.function graph mode (no jit_compile on the outer function)",
    }
    return {
        "functions": functions,
        "convert": tf.constant,
        "to_numpy": lambda y: y.numpy(),
        "sync": lambda y: y,  # CPU: the call returns when the graph has run.
        "info": info,
    }


def _jax_setup(size, cases, config, errors):
    import jax
    import jax.numpy as jnp
    import keras

    functions = {}
    try:
        from keras_resize.ops import resize
    except Exception as e:
        resize = None
        errors["ours"] = _error(e)
    in_h, in_w = config["in_size"]
    out_h, out_w = size
    for label, method, antialias in CASES:
        if label not in cases:
            continue
        jax_method = JAX_METHODS[label]
        if jax_method is not None:
            functions[label, "jax_image"] = jax.jit(
                lambda x, m=jax_method: jax.image.resize(
                    x,
                    (x.shape[0], out_h, out_w, x.shape[3]),
                    method=m[0],
                    antialias=m[1],
                )
            )
            functions[label, "keras_ops"] = jax.jit(
                lambda x, method=method, antialias=antialias: keras.ops.image.resize(
                    x, size, interpolation=method, antialias=antialias
                )
            )
        elif label == "area" and in_h % out_h == 0 and in_w % out_w == 0:
            factor_h, factor_w = in_h // out_h, in_w // out_w
            functions[label, "jax_image"] = jax.jit(
                lambda x, fh=factor_h, fw=factor_w: jnp.mean(
                    x.reshape(x.shape[0], out_h, fh, out_w, fw, x.shape[3]),
                    axis=(2, 4),
                )
            )
        if resize is not None:
            functions[label, "ours_jit"] = jax.jit(
                lambda x, method=method, antialias=antialias: resize(
                    x, size, method=method, antialias=antialias
                )
            )
    device = jax.devices()[0]
    info = {
        "framework": f"JAX {jax.__version__}",
        "keras": keras.__version__,
        "device": f"{device.platform.upper()} ({getattr(device, 'device_kind', '')})",
        "mode": "every function under jax.jit",
    }
    return {
        "functions": functions,
        "convert": jnp.asarray,
        "to_numpy": lambda y: jax.device_get(y),
        "sync": lambda y: y.block_until_ready(),
        "info": info,
    }


def _torch_setup(size, cases, config, errors):
    import keras
    import torch
    import torch.nn.functional as F

    functions = {}
    try:
        from keras_resize.ops import resize
    except Exception as e:
        resize = None
        errors["ours"] = _error(e)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for label, method, antialias in CASES:
        if label not in cases:
            continue
        spec = TORCH_METHODS[label]
        if spec is not None:
            kind, mode, torch_antialias = spec
            if kind == "adaptive_avg_pool2d":

                def reference(x):
                    return F.adaptive_avg_pool2d(x, size)

            else:

                def reference(x, mode=mode, torch_antialias=torch_antialias):
                    return F.interpolate(
                        x,
                        size=size,
                        mode=mode,
                        align_corners=None if mode.startswith("nearest") else False,
                        antialias=torch_antialias,
                    )

            # The reference takes torch's own layout, NCHW (contiguous).
            functions[label, "torch"] = reference
        if resize is not None:

            def ours(x, method=method, antialias=antialias):
                return resize(x, size, method=method, antialias=antialias)

            functions[label, "ours_eager"] = ours
            if label in config["torch_compile"]:
                functions[label, "ours_compiled"] = torch.compile(ours, dynamic=False)

    def sync(y):
        if device == "cuda":
            torch.cuda.synchronize()
        return y

    info = {
        "framework": f"PyTorch {torch.__version__}",
        "keras": keras.__version__,
        "device": device.upper()
        + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else ""),
        "threads": torch.get_num_threads(),
        "mode": "eager"
        + (
            f", and ours under torch.compile for {', '.join(config['torch_compile'])}"
            if config["torch_compile"]
            else ""
        ),
        "layout": "F.interpolate on NCHW (contiguous), ours on NHWC",
    }

    def to_numpy(y):
        return y.detach().cpu().numpy()

    return {
        "functions": functions,
        "convert": lambda x: torch.from_numpy(x).to(device),
        "to_numpy": to_numpy,
        "sync": sync,
        "info": info,
        "nchw": lambda x: x.permute(0, 3, 1, 2).contiguous(),
        "nhwc": lambda y: y.permute(0, 2, 3, 1),
    }


SETUPS = {"tensorflow": _tensorflow_setup, "jax": _jax_setup, "torch": _torch_setup}
FRAMEWORK_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def measure_backend(backend, config, seed=0, log=print):
    """Times every (case, impl) pair of one backend in this process.

    Keras' backend must already be `backend` (`KERAS_BACKEND`). Returns a dict
    with `status` `"ok"`, or `"unavailable"` (the framework does not import)
    with the `reason`.
    """
    import importlib

    try:
        importlib.import_module(FRAMEWORK_MODULES[backend])
        import keras
    except ImportError as e:
        return {"status": "unavailable", "reason": _error(e)}
    if keras.backend.backend() != backend:
        return {
            "status": "unavailable",
            "reason": f"Keras backend is {keras.backend.backend()}, not {backend} "
            "(set KERAS_BACKEND)",
        }
    import numpy as np

    batch, in_size, out_size = config["batch"], config["in_size"], config["out_size"]
    repeats = config["repeats"]
    size = tuple(out_size)
    cases = config["cases"]
    errors = {}
    setup = SETUPS[backend](size, cases, config, errors)
    functions = setup["functions"]
    tag = f"[{NAME}:{backend}]"

    rng = np.random.default_rng(seed)
    images_np = rng.random((batch, *in_size, 3), dtype=np.float32)
    images = setup["convert"](images_np)
    inputs = {"nhwc": images}
    if "nchw" in setup:
        inputs["nchw"] = setup["nchw"](images)

    def input_for(impl):
        return (
            inputs["nchw"] if backend == "torch" and impl == "torch" else inputs["nhwc"]
        )

    def output_numpy(impl, y):
        if backend == "torch" and impl == "torch":
            y = setup["nhwc"](y)
        return np.asarray(setup["to_numpy"](y))

    log(
        f"{tag} {setup['info']['framework']} on {setup['info']['device']}: input "
        f"{batch}x{in_size[0]}x{in_size[1]}x3 float32 -> {out_size[0]}x{out_size[1]}, "
        f"{len(functions)} functions, {repeats} timed rounds"
    )
    warmup, max_abs_diff = {}, {}
    for label in cases:
        outputs = {}
        for impl in IMPLS[backend]:
            if (label, impl) not in functions:
                continue
            start = time.perf_counter()
            try:
                y = setup["sync"](functions[label, impl](input_for(impl)))
                outputs[impl] = output_numpy(impl, y)
            except Exception as e:
                errors[f"{label}/{impl}"] = _error(e)
                log(f"{tag} {label}/{impl} failed: {_error(e)}")
                if os.environ.get("RESIZE_SPEED_TRACEBACK"):
                    traceback.print_exc()
                del functions[label, impl]
                continue
            warmup[f"{label}/{impl}"] = time.perf_counter() - start
        diffs = {}
        for reference in REFERENCES[backend]:
            for impl in IMPLS[backend]:
                if impl in REFERENCES[backend] or impl not in outputs:
                    continue
                if reference in outputs:
                    diffs[f"{impl}_vs_{reference}"] = float(
                        np.max(np.abs(outputs[impl] - outputs[reference]))
                    )
        max_abs_diff[label] = diffs
        log(f"{tag} warmed up {label:<20s} max abs diffs {diffs}")
        del outputs

    times = {key: [] for key in functions}
    for r in range(repeats):
        for (label, impl), function in functions.items():
            x = input_for(impl)
            start = time.perf_counter()
            setup["sync"](function(x))
            times[label, impl].append(time.perf_counter() - start)
        log(f"{tag} round {r + 1}/{repeats} done")

    medians = {key: statistics.median(runs) for key, runs in times.items()}
    reference_impl = IMPLS[backend][0]
    base = medians.get(("bilinear", reference_impl))
    rows = []
    for label, method, antialias in CASES:
        if label not in cases:
            continue
        row = {
            "case": label,
            "method": method,
            "antialias": antialias,
            "note": NOTES.get(backend, {}).get(label, ""),
            "max_abs_diff": max_abs_diff[label],
        }
        if backend == "tensorflow":
            row["tf_limits"] = TF_LIMITS[label]
        for impl in IMPLS[backend]:
            runs = times.get((label, impl))
            if not runs:
                row[impl] = None
                continue
            median = medians[label, impl]
            entry = {
                "median_ms": 1e3 * median,
                "min_ms": 1e3 * min(runs),
                "runs_ms": [1e3 * t for t in runs],
                "warmup_s": warmup[f"{label}/{impl}"],
                "ratio_to_reference_bilinear": median / base if base else None,
                "ratio_to": {},
                "paired_ratio_to": {},
            }
            for reference in REFERENCES[backend]:
                reference_runs = times.get((label, reference))
                if reference == impl or not reference_runs:
                    continue
                entry["ratio_to"][reference] = median / medians[label, reference]
                # Median over rounds of (this run / the reference's run of the
                # same round): less sensitive to load changing between rounds.
                entry["paired_ratio_to"][reference] = statistics.median(
                    t / u for t, u in zip(runs, reference_runs, strict=True)
                )
            row[impl] = entry
        rows.append(row)

    return {
        "status": "ok",
        "info": setup["info"],
        "reference": reference_impl,
        "reference_bilinear_median_ms": 1e3 * base if base else None,
        "impls": list(IMPLS[backend]),
        "rows": rows,
        "errors": errors,
        "load_average_after": list(os.getloadavg())
        if hasattr(os, "getloadavg")
        else None,
    }


def _targets(backends):
    """The targets whose rows were measured, MET when ratio <= limit."""
    targets = []
    for backend, case, impl, reference, limit, text in TARGETS:
        result = backends.get(backend, {})
        if result.get("status") != "ok":
            continue
        row = next((r for r in result["rows"] if r["case"] == case), None)
        if row is None:
            continue
        entry = row.get(impl)
        if entry is None and impl in OPTIONAL_IMPLS:
            continue
        target = {
            "backend": backend,
            "case": case,
            "path": impl,
            "reference": reference,
            "target": f"{BACKEND_TITLES[backend]} {case}: {IMPL_TITLES[impl]} {text}",
            "max_ratio": limit,
        }
        if entry is None or reference not in entry["ratio_to"]:
            target.update(ratio=None, paired_ratio=None, met=False)
            target["why"] = "not measured (ours or the reference failed)"
        else:
            ratio = entry["ratio_to"][reference]
            target.update(
                ratio=ratio,
                paired_ratio=entry["paired_ratio_to"][reference],
                met=bool(ratio <= limit),
            )
        targets.append(target)
    return targets


# --------------------------------------------------------------------------
# Parent: one process per backend, merged.


def _worker_argv(config, backend, output):
    argv = [
        sys.executable,
        "-m",
        f"benchmarks.{NAME}",
        "--worker",
        backend,
        "--worker-output",
        str(output),
        "--batch",
        str(config["batch"]),
        "--in-size",
        *map(str, config["in_size"]),
        "--out-size",
        *map(str, config["out_size"]),
        "--repeats",
        str(config["repeats"]),
        "--cases",
        *config["cases"],
    ]
    if config["torch_compile"]:
        argv += ["--torch-compile", *config["torch_compile"]]
    return argv


def _run_backend_process(backend, config, timeout, log):
    """Runs `measure_backend` in a fresh process with `KERAS_BACKEND=backend`."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if backend == "jax":
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / f"{backend}.json"
        start = time.perf_counter()
        try:
            process = subprocess.run(
                _worker_argv(config, backend, output),
                cwd=common.ROOT,
                env=env,
                timeout=timeout,
                stderr=subprocess.PIPE,
                text=True,
            )
        except subprocess.TimeoutExpired:
            return {"status": "failed", "reason": f"timed out after {timeout:.0f} s"}
        seconds = time.perf_counter() - start
        if output.exists():
            result = json.loads(output.read_text())
        else:
            lines = [line for line in process.stderr.splitlines() if line.strip()]
            result = {
                "status": "failed",
                "reason": f"exit code {process.returncode}: "
                + (lines[-1] if lines else "no output")[:300],
            }
            log(process.stderr[-3000:])
        result["process_seconds"] = seconds
        return result


def measure(config, backends=BACKENDS, timeout=1800.0, log=print):
    """Runs every backend in its own process; returns the merged results."""
    results = {}
    for backend in backends:
        log(f"[{NAME}] {backend}: starting a KERAS_BACKEND={backend} process")
        results[backend] = _run_backend_process(backend, config, timeout, log)
        status = results[backend]["status"]
        if status != "ok":
            log(f"[{NAME}] {backend}: {status} ({results[backend].get('reason')})")
    return results


# --------------------------------------------------------------------------
# Markdown.


def _load(value):
    return f"{value[0]:.2f}" if value else "n/a"


def _ms(entry):
    return "n/a" if entry is None else f"{entry['median_ms']:.1f}"


def _ratio(entry, reference):
    if entry is None or reference not in entry["ratio_to"]:
        return "n/a"
    return f"{entry['ratio_to'][reference]:.2f}"


def _bl(entry):
    if entry is None or entry["ratio_to_reference_bilinear"] is None:
        return "n/a"
    return f"{entry['ratio_to_reference_bilinear']:.2f}"


def _diff(row, key):
    value = row["max_abs_diff"].get(key)
    return "n/a" if value is None else f"{value:.1e}"


def _tensorflow_table(result):
    lines = [
        "Graph mode (`tf.function`, outer function not jit-compiled). `x bl` = ratio "
        "to `tf.image.resize` bilinear in this run "
        f"({result['reference_bilinear_median_ms'] or float('nan'):.1f} ms); `/TF` = "
        "ours over TF's same method. *fused* = default (sampler core as a nested XLA "
        "cluster); *unfused* = `set_xla_fusion(False)` (plain TF kernels).",
        "",
        "| method | TF ms | TF x bl | TF op limits | ours fused ms | x bl | /TF "
        "| ours unfused ms | x bl | /TF | max abs diff vs TF |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        t, f, u = row["tf"], row["ours_fused"], row["ours_unfused"]
        lines.append(
            f"| {row['case']} | {_ms(t)} | {_bl(t)} | {row['tf_limits'] or '-'} "
            f"| {_ms(f)} | {_bl(f)} | {_ratio(f, 'tf')} "
            f"| {_ms(u)} | {_bl(u)} | {_ratio(u, 'tf')} "
            f"| {_diff(row, 'ours_fused_vs_tf')} |"
        )
    lines += [
        "",
        "TF op limits (TF 2.21, from the project's STACK.md): *TFLite* = converts "
        "with builtin ops only; *XLA* = compiles under `jit_compile=True`. Ours "
        "does both for every method.",
    ]
    return lines


def _jax_table(result):
    lines = [
        "Every function under `jax.jit`, same NHWC input. `/jax` = ours over "
        "`jax.image.resize` (same method), `/keras` = ours over "
        "`keras.ops.image.resize` (which calls `jax.image.resize`).",
        "",
        "| method | `jax.image.resize` ms | `keras.ops.image.resize` ms | ours (jit) ms "
        "| /jax | /keras | max abs diff vs jax | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["rows"]:
        j, k, o = row["jax_image"], row["keras_ops"], row["ours_jit"]
        lines.append(
            f"| {row['case']} | {_ms(j)} | {_ms(k)} | {_ms(o)} "
            f"| {_ratio(o, 'jax_image')} | {_ratio(o, 'keras_ops')} "
            f"| {_diff(row, 'ours_jit_vs_jax_image')} | {row['note'] or '-'} |"
        )
    return lines


def _torch_table(result):
    compiled = any(row.get("ours_compiled") for row in result["rows"])
    header = "| method | torch ms | ours eager ms | /torch "
    rule = "|---|---:|---:|---:|"
    if compiled:
        header += "| ours compiled ms | /torch "
        rule += "---:|---:|"
    lines = [
        f"{result['info'].get('layout', '')}. `/torch` = ours over torch's op for the "
        "same method (`F.interpolate`, `align_corners=False`).",
        "",
        header + "| max abs diff vs torch | note |",
        rule + "---:|---|",
    ]
    for row in result["rows"]:
        t, e, c = row["torch"], row["ours_eager"], row.get("ours_compiled")
        line = f"| {row['case']} | {_ms(t)} | {_ms(e)} | {_ratio(e, 'torch')} "
        if compiled:
            line += f"| {_ms(c)} | {_ratio(c, 'torch')} "
        line += f"| {_diff(row, 'ours_eager_vs_torch')} | {row['note'] or '-'} |"
        lines.append(line)
    return lines


TABLES = {"tensorflow": _tensorflow_table, "jax": _jax_table, "torch": _torch_table}


def to_markdown(results):
    config = results["config"]
    env = results["environment"]
    b, (h, w), (oh, ow) = config["batch"], config["in_size"], config["out_size"]
    lines = [
        "# Resize speed: `keras_resize.ops.resize` vs each backend's own resize",
        "",
        f"Input {b} x {h}x{w}x3 float32 -> {oh}x{ow}, median of "
        f"{config['repeats']} timed runs after a warm-up call (interleaved rounds), "
        "each backend in its own process, one after another; every ratio is a "
        "ratio of medians measured in the same process. "
        f"{env['cpu_usable']} usable CPU cores ({env['cpu_model']}), {env['date']}. "
        f"Load average (1 min) {_load(env.get('load_average_before'))} before the "
        f"run and {_load(env.get('load_average_after'))} after it (the machine may "
        "be shared: this benchmark itself uses all cores).",
        "",
    ]
    for backend, result in results["backends"].items():
        title = BACKEND_TITLES[backend]
        lines += [f"## {title}", ""]
        if result["status"] != "ok":
            lines += [f"Not measured ({result['status']}): {result.get('reason')}", ""]
            continue
        info = result["info"]
        lines += [
            f"{info['framework']}, Keras {info['keras']}, {info['device']}; load "
            f"average (1 min) {_load(result.get('load_average_after'))} after this "
            "backend's run.",
            "",
            *TABLES[backend](result),
            "",
        ]
        if result["errors"]:
            lines += ["Failed or not run:", ""]
            lines += [f"- `{key}`: {text}" for key, text in result["errors"].items()]
            lines.append("")
    lines += [
        "## Targets",
        "",
        "Met when the ratio of medians (ours / the reference, same method, same "
        "process) is within the limit.",
        "",
    ]
    for target in results["targets"]:
        if target["ratio"] is None:
            lines.append(f"- NOT MEASURED: {target['target']} ({target['why']})")
            continue
        status = "MET" if target["met"] else "NOT MET"
        lines.append(
            f"- {status}: {target['target']} (ratio of medians "
            f"{target['ratio']:.2f}; median of per-round ratios "
            f"{target['paired_ratio']:.2f}; limit {target['max_ratio']:.1f})"
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


def _worker(args):
    config = _config(args)
    result = measure_backend(args.worker, config)
    args.worker_output.write_text(json.dumps(result, indent=2) + "\n")
    return result


def run(args, command=None, log=print):
    """Runs the benchmark for parsed `args`; writes JSON and markdown."""
    if getattr(args, "worker", None):
        return _worker(args)
    config = _config(args)
    output_dir = common.output_dir(args)
    environment = common.environment(frameworks=False)
    backends = measure(
        config,
        backends=tuple(b for b in BACKENDS if b in (args.backends or BACKENDS)),
        timeout=args.backend_timeout,
        log=log,
    )
    environment["load_average_after"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    results = {
        "benchmark": NAME,
        "config": {
            "batch": config["batch"],
            "in_size": list(config["in_size"]),
            "out_size": list(config["out_size"]),
            "channels": 3,
            "dtype": "float32",
            "repeats": config["repeats"],
            "cases": list(config["cases"]),
            "torch_compile": list(config["torch_compile"]),
            "seed": 0,
            "timing": "one process per backend; warm-up call, then interleaved "
            "rounds; median and min per function",
        },
        "environment": environment,
        "backends": backends,
        "targets": _targets(backends),
        "quick": bool(args.quick),
        "command": command or shlex.join(["python", "-m", f"benchmarks.{NAME}"]),
    }
    json_path, md_path = common.write_outputs(
        output_dir, NAME, results, to_markdown, log
    )
    log(f"[{NAME}] wrote {json_path} and {md_path}")
    return results


def main(argv=None):
    return common.main(NAME, __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    main()
