"""The GPU benchmarks of issue 15, for a machine without TensorFlow (Keras on JAX).

One command runs the selected parts and writes `gpu_benchmarks.json`,
`gpu_benchmarks.md` and `gpu_benchmarks.png` under `--output-dir`
(default `benchmarks/results/gpu/`):

- `resize_speed`: our `resize` methods vs `jax.image.resize` and, where
  installed, `torch.nn.functional.interpolate` (same run, ratios).
- `muller_speed`: MULLER folded / direct vs a bilinear resize and a
  ResNet-50 forward, at the paper's 448 -> 224 (batch 64).
- `resizer_cost`: each learned resizer's forward time as a fraction of the
  backbone behind it, at the papers' settings (LearnedResize 448 -> 224
  with ResNet-50; DownsizeNet 1024x2048 -> 256x512 with ResNet-50 at
  256x512; the LZU zoom at 0.5x).
- `classification`: the learned-resizer table at scale (bilinear,
  antialias, MULLER from zero and from the preset, LearnedResize,
  DownsizeNet; 4x and 8x downsizing; 5 seeds; 5x today's schedule), plus
  the frozen-transfer row on Fashion-MNIST canvases.
- `detection` (issue 15 point 3) and `dsrl` (point 5): not in this runner
  yet (their training code, `training/detection.py` and
  `training/segmentation.py`, imports TensorFlow); they report
  `not_implemented` with the reason.

Data travel as numpy arrays: `--prepare-data` (run where the offline
digit loaders work) writes the 28x28 MNIST / Fashion-MNIST digits to
`runs/gpu_data/digits.npz`; on the GPU machine the canvases are built from
that file by `keras_resize.data`.

`--smoke` runs every part with tiny sizes on any machine (CPU JAX, < 60 s
for the speed parts) to check the runner itself.

Usage (see `benchmarks/gpu/README.md` for the device command):

```
KERAS_BACKEND=jax python benchmarks/gpu/run.py --parts all
KERAS_BACKEND=jax python benchmarks/gpu/run.py --smoke --parts muller_speed
```
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import keras  # noqa: E402
import numpy as np  # noqa: E402

PARTS = (
    "resize_speed",
    "muller_speed",
    "resizer_cost",
    "classification",
    "detection",
    "dsrl",
)
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "gpu"
DEFAULT_DIGITS = ROOT / "runs" / "gpu_data" / "digits.npz"
NAME = "gpu_benchmarks"


class NotImplementedPart(Exception):
    """A part that this runner cannot run yet (the reason is reported)."""


# ---------------------------------------------------------------------------
# Timing.


def _block(value):
    if keras.backend.backend() == "jax":
        import jax

        return jax.block_until_ready(value)
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    return value


def _compile(function):
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    return function


def time_functions(functions, inputs, repeats, warmup=2):
    """Median ms of each `function(inputs[name])`, interleaved rounds."""
    for name, function in functions.items():
        for _ in range(warmup):
            _block(function(inputs[name]))
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            _block(function(inputs[name]))
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _layer_function(layer):
    return _compile(lambda x: layer(x, training=False))


def _random(shape, seed=0):
    return keras.ops.convert_to_tensor(
        np.random.default_rng(seed).random(shape, dtype=np.float32)
    )


def _resnet50(height, width, smoke):
    """ResNet-50 (random weights), or a tiny conv net in smoke mode."""
    if smoke:
        inputs = keras.Input((height, width, 3))
        x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(10)(x), name="tiny_backbone")
    return keras.applications.ResNet50(
        weights=None, input_shape=(height, width, 3), classes=1000
    )


# ---------------------------------------------------------------------------
# Parts.


def part_resize_speed(args):
    """Our resize vs `jax.image.resize` and torch interpolate."""
    from keras_resize.ops import resize

    batch, in_h, in_w, out_h, out_w = (
        (2, 64, 128, 16, 32) if args.smoke else (8, 1024, 2048, 256, 512)
    )
    repeats = 3 if args.smoke else args.repeats
    x = _random((batch, in_h, in_w, 3))
    cases = {
        "bilinear": ("bilinear", False, "linear"),
        "area": ("area", False, None),
        "antialias_bilinear": ("bilinear", True, "linear"),
        "bicubic": ("bicubic", False, None),
        "antialias_bicubic": ("bicubic", True, "cubic"),
    }
    functions, inputs = {}, {}
    for name, (method, antialias, _) in cases.items():
        functions[f"ours_{name}"] = _compile(
            lambda v, m=method, a=antialias: resize(v, (out_h, out_w), m, a)
        )
        inputs[f"ours_{name}"] = x
    if keras.backend.backend() == "jax":
        import jax

        for name, (_, antialias, jax_method) in cases.items():
            if jax_method is None:
                continue
            functions[f"jax_{name}"] = jax.jit(
                lambda v, m=jax_method, a=antialias: jax.image.resize(
                    v, (batch, out_h, out_w, 3), m, antialias=a
                )
            )
            inputs[f"jax_{name}"] = x
    ms = time_functions(functions, inputs, repeats)
    torch_ms = _torch_resize_speed(batch, in_h, in_w, out_h, out_w, repeats)
    ms.update(torch_ms)
    base = ms["ours_bilinear"]
    return {
        "shape": [batch, in_h, in_w, 3],
        "output": [out_h, out_w],
        "repeats": repeats,
        "median_ms": ms,
        "ratio_to_ours_bilinear": {k: v / base for k, v in ms.items()},
    }


def _torch_resize_speed(batch, in_h, in_w, out_h, out_w, repeats):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.rand(batch, 3, in_h, in_w, device=device)
    cases = {
        "torch_bilinear": dict(mode="bilinear", antialias=False),
        "torch_area": dict(mode="area"),
        "torch_antialias_bilinear": dict(mode="bilinear", antialias=True),
        "torch_bicubic": dict(mode="bicubic", antialias=False),
        "torch_antialias_bicubic": dict(mode="bicubic", antialias=True),
    }
    out = {}
    for name, kwargs in cases.items():
        if kwargs["mode"] != "area":
            kwargs["align_corners"] = False

        def run(kwargs=kwargs):
            y = F.interpolate(x, size=(out_h, out_w), **kwargs)
            if device == "cuda":
                torch.cuda.synchronize()
            return y

        for _ in range(2):
            run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1e3)
        out[name] = statistics.median(times)
    return out


def part_muller_speed(args):
    """MULLER folded / direct vs bilinear and a ResNet-50 forward, 448 -> 224."""
    from keras_resize.layers import MullerResize, Resize
    from keras_resize.layers.muller_resize import PRESET_VALUES

    batch, size, out = (2, 32, 16) if args.smoke else (64, 448, 224)
    repeats = 3 if args.smoke else args.repeats
    x = _random((batch, size, size, 3))
    layers = {
        "bilinear": Resize(out, out, interpolation="bilinear"),
        "muller_folded": MullerResize(out, out),
        "muller_direct": MullerResize(out, out, implementation="direct"),
    }
    for name in ("muller_folded", "muller_direct"):
        layer = layers[name]
        layer.build(tuple(x.shape))
        values = iter(PRESET_VALUES)
        for weight, bias in zip(layer.detail_weights, layer.detail_biases, strict=True):
            weight.assign(next(values))
            bias.assign(next(values))
    functions = {name: _layer_function(layer) for name, layer in layers.items()}
    inputs = dict.fromkeys(functions, x)
    if keras.backend.backend() == "jax":
        import jax

        functions["jax_image_resize_linear"] = jax.jit(
            lambda v: jax.image.resize(
                v, (batch, out, out, 3), "linear", antialias=False
            )
        )
        inputs["jax_image_resize_linear"] = x
    backbone = _resnet50(out, out, args.smoke)
    functions["resnet50_forward"] = _layer_function(backbone)
    inputs["resnet50_forward"] = _random((batch, out, out, 3), seed=1)
    ms = time_functions(functions, inputs, repeats)
    folded = np.asarray(keras.ops.convert_to_numpy(functions["muller_folded"](x)))
    direct = np.asarray(keras.ops.convert_to_numpy(functions["muller_direct"](x)))
    return {
        "batch": batch,
        "input_size": size,
        "output_size": out,
        "repeats": repeats,
        "backbone": backbone.name,
        "median_ms": ms,
        "ratio_to_bilinear": {k: v / ms["bilinear"] for k, v in ms.items()},
        "ratio_to_backbone": {k: v / ms["resnet50_forward"] for k, v in ms.items()},
        "folded_vs_direct_max_abs_diff": float(np.max(np.abs(folded - direct))),
        "target": "muller_folded within 5x bilinear, equal to direct within 1e-5",
        "met": bool(
            ms["muller_folded"] <= 5 * ms["bilinear"]
            and np.max(np.abs(folded - direct)) <= 1e-5
        ),
    }


def part_resizer_cost(args):
    """Learned resizers' forward cost as a fraction of their backbone."""
    from keras_resize.layers import DownsizeNetResize, LearnedResize, Resize, Zoom

    repeats = 3 if args.smoke else args.repeats
    settings = {
        # name: (layer factory, batch, input (h, w), output (h, w))
        "learned_resize_448_224": (
            lambda h, w: LearnedResize(h, w),
            2 if args.smoke else 64,
            (32, 32) if args.smoke else (448, 448),
            (16, 16) if args.smoke else (224, 224),
        ),
        "downsizenet_1024x2048_256x512": (
            lambda h, w: DownsizeNetResize(h, w),
            2 if args.smoke else 8,
            (64, 128) if args.smoke else (1024, 2048),
            (16, 32) if args.smoke else (256, 512),
        ),
        "lzu_zoom_0.5x": (
            lambda h, w: Zoom(h, w),
            2 if args.smoke else 8,
            (64, 128) if args.smoke else (1024, 2048),
            (32, 64) if args.smoke else (512, 1024),
        ),
    }
    results = {}
    for name, (factory, batch, (in_h, in_w), (out_h, out_w)) in settings.items():
        try:
            x = _random((batch, in_h, in_w, 3))
            layer = factory(out_h, out_w)
            bilinear = Resize(out_h, out_w, interpolation="bilinear")
            backbone = _resnet50(out_h, out_w, args.smoke)
            functions = {
                "resizer": _layer_function(layer),
                "bilinear": _layer_function(bilinear),
                "backbone": _layer_function(backbone),
            }
            inputs = {
                "resizer": x,
                "bilinear": x,
                "backbone": _random((batch, out_h, out_w, 3), 1),
            }
            ms = time_functions(functions, inputs, repeats)
            results[name] = {
                "status": "ok",
                "batch": batch,
                "input": [in_h, in_w],
                "output": [out_h, out_w],
                "median_ms": ms,
                "resizer_over_backbone": ms["resizer"] / ms["backbone"],
                "resizer_over_bilinear": ms["resizer"] / ms["bilinear"],
            }
        except Exception as error:  # One setting failing keeps the others.
            results[name] = {
                "status": "failed",
                "error": f"{type(error).__name__}: {error}"[:800],
            }
    return results


# -- classification ----------------------------------------------------------

CLASSIFICATION = {
    "full": {
        "input_size": 256,
        "scales": (4, 8),
        "seeds": (0, 1, 2, 3, 4),
        "resizers": (
            "bilinear",
            "antialias",
            "muller",
            "muller_imagenet",
            "learned",
            "downsizenet",
        ),
        # 5x today's CPU schedule (2000 canvases x 6 epochs): 10000 x 6.
        "train_size": 10000,
        "val_size": 1000,
        "test_size": 2000,
        "epochs": 6,
        "batch_size": 64,
        "learning_rate": 2e-3,
        "weight_decay": 1e-4,
        "transfer_train_size": 5000,
        "transfer_epochs": 6,
    },
    "smoke": {
        "input_size": 32,
        "scales": (4,),
        "seeds": (0,),
        "resizers": ("bilinear", "muller"),
        "train_size": 32,
        "val_size": 16,
        "test_size": 16,
        "epochs": 1,
        "batch_size": 16,
        "learning_rate": 2e-3,
        "weight_decay": 1e-4,
        "transfer_train_size": 16,
        "transfer_epochs": 1,
    },
}


def _use_digits_file(path):
    """Make `keras_resize.data` read the 28x28 digits from `path` (npz)."""
    from keras_resize.data import canvases

    arrays = np.load(path)

    def load_digits(source="mnist", split="train"):
        key = f"{source}_{split}"
        if f"{key}_images" not in arrays:
            raise FileNotFoundError(f"{path} has no {key} digits")
        return arrays[f"{key}_images"], arrays[f"{key}_labels"]

    canvases.load_digits = load_digits


def _canvases(count, size, seed, split, source="mnist"):
    from keras_resize.data import make_classification_canvases

    scale = size / 256
    digit_size = (max(8, round(40 * scale)), min(size, max(8, round(100 * scale))))
    data = make_classification_canvases(
        count,
        canvas_size=size,
        digit_size=digit_size,
        clutter=6,
        seed=seed,
        source=source,
        split=split,
        channels=3,
        cache_dir=None,
        verbose=False,
    )
    return data["images"], data["labels"]


def _small_resnet(image_size, num_classes=10, width=32):
    """A small ResNet (the role of `resnet_tiny` in today's CPU table)."""
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    for stage, filters in enumerate((width, 2 * width, 4 * width)):
        strides = 1 if stage == 0 else 2
        shortcut = x
        y = keras.layers.Conv2D(filters, 3, strides, padding="same", use_bias=False)(x)
        y = keras.layers.ReLU()(keras.layers.BatchNormalization()(y))
        y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
        y = keras.layers.BatchNormalization()(y)
        if strides != 1 or shortcut.shape[-1] != filters:
            shortcut = keras.layers.Conv2D(filters, 1, strides, use_bias=False)(x)
            shortcut = keras.layers.BatchNormalization()(shortcut)
        x = keras.layers.ReLU()(y + shortcut)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(x), name="backbone")


def _classifier(resizer_name, input_size, image_size):
    from keras_resize.layers import get_resizer

    resizer = get_resizer(resizer_name, image_size, image_size, name="resizer")
    inputs = keras.Input((input_size, input_size, 3))
    features = resizer(inputs)
    features = (features - 0.5) / 0.25
    logits = _small_resnet(image_size)(features)
    return keras.Model(inputs, logits), resizer


def _compile_classifier(model, config, steps):
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(steps - steps // 12, 1),
        warmup_target=config["learning_rate"],
        warmup_steps=max(steps // 12, 1),
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config["weight_decay"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def part_classification(args):
    """Classification with each resizer, 4x / 8x, seeds; plus frozen transfer."""
    config = CLASSIFICATION["smoke" if args.smoke else "full"]
    if args.digits and Path(args.digits).exists():
        _use_digits_file(args.digits)
    size = config["input_size"]
    train = _canvases(config["train_size"], size, 0, "train")
    val = _canvases(config["val_size"], size, 1, "test")
    test = _canvases(config["test_size"], size, 2, "test")
    rows = []
    for scale in config["scales"]:
        image_size = size // scale
        for resizer in config["resizers"]:
            for seed in config["seeds"]:
                row = {"resizer": resizer, "scale": scale, "seed": seed}
                try:
                    keras.utils.set_random_seed(seed)
                    model, layer = _classifier(resizer, size, image_size)
                    steps = config["epochs"] * (
                        config["train_size"] // config["batch_size"]
                    )
                    _compile_classifier(model, config, steps)
                    start = time.perf_counter()
                    model.fit(
                        *train,
                        batch_size=config["batch_size"],
                        epochs=config["epochs"],
                        validation_data=val,
                        verbose=0,
                    )
                    row["train_s"] = time.perf_counter() - start
                    row["val_accuracy"] = model.evaluate(*val, verbose=0)[1]
                    row["test_accuracy"] = model.evaluate(*test, verbose=0)[1]
                    row["resizer_params"] = layer.count_params()
                    if resizer.startswith("muller"):
                        row["muller_values"] = [
                            float(keras.ops.convert_to_numpy(v)) for v in layer.weights
                        ]
                    row["status"] = "ok"
                except Exception as error:
                    row["status"] = "failed"
                    row["error"] = f"{type(error).__name__}: {error}"[:800]
                rows.append(row)
    summary = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        key = f"{row['resizer']} {row['scale']}x"
        summary.setdefault(key, []).append(row["test_accuracy"])
    summary = {
        key: {
            "mean": float(np.mean(v)),
            "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
            "n": len(v),
        }
        for key, v in summary.items()
    }
    return {
        "config": {
            k: list(v) if isinstance(v, tuple) else v for k, v in config.items()
        },
        "runs": rows,
        "summary": summary,
        "frozen_transfer": _frozen_transfer(args, config),
    }


def _frozen_transfer(args, config):
    """Frozen transfer: a resizer trained on digits, frozen, Fashion-MNIST."""
    try:
        size = config["input_size"]
        image_size = size // config["scales"][0]
        train = _canvases(
            config["transfer_train_size"], size, 0, "train", "fashion_mnist"
        )
        test = _canvases(config["test_size"], size, 2, "test", "fashion_mnist")
    except Exception as error:
        return {"status": "skipped", "reason": f"{type(error).__name__}: {error}"}
    rows = {}
    for resizer in ("bilinear", "muller_imagenet", "muller"):
        try:
            keras.utils.set_random_seed(0)
            model, layer = _classifier(resizer, size, image_size)
            layer.trainable = False
            steps = config["transfer_epochs"] * (
                config["transfer_train_size"] // config["batch_size"]
            )
            _compile_classifier(model, config, steps)
            model.fit(
                *train,
                batch_size=config["batch_size"],
                epochs=config["transfer_epochs"],
                verbose=0,
            )
            rows[resizer] = {
                "status": "ok",
                "test_accuracy": model.evaluate(*test, verbose=0)[1],
            }
        except Exception as error:
            rows[resizer] = {"status": "failed", "error": str(error)[:800]}
    return {
        "status": "ok",
        "note": "resizers frozen (muller_imagenet: the published values; muller: "
        "zero = bilinear); the digits-trained resizers of the classification "
        "runs are not carried over yet",
        "rows": rows,
    }


def part_detection(args):
    raise NotImplementedPart(
        "issue 15 point 3 needs a TensorFlow-free port of training/detection.py "
        "(its front ends and RetinaNet builder import TensorFlow); not in this "
        "runner yet"
    )


def part_dsrl(args):
    raise NotImplementedPart(
        "issue 15 point 5 needs a TensorFlow-free port of training/segmentation.py "
        "(it imports TensorFlow); not in this runner yet"
    )


PART_FUNCTIONS = {
    "resize_speed": part_resize_speed,
    "muller_speed": part_muller_speed,
    "resizer_cost": part_resizer_cost,
    "classification": part_classification,
    "detection": part_detection,
    "dsrl": part_dsrl,
}


# ---------------------------------------------------------------------------
# Output.


def environment():
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "numpy": np.__version__,
        "tensorflow_imported": "tensorflow" in sys.modules
        and sys.modules["tensorflow"] is not None,
    }
    if keras.backend.backend() == "jax":
        import jax

        env["jax"] = jax.__version__
        env["devices"] = [str(d) for d in jax.devices()]
    try:
        import torch

        env["torch"] = torch.__version__
        env["cuda"] = torch.cuda.is_available()
    except ImportError:
        pass
    return env


def _table(mapping, value_name, ratio=None, ratio_name=None):
    lines = [
        f"| name | {value_name} |" + (f" {ratio_name} |" if ratio else ""),
        "|---|---:|" + ("---:|" if ratio else ""),
    ]
    for key, value in mapping.items():
        row = f"| {key} | {value:.3f} |"
        if ratio:
            row += f" {ratio[key]:.2f} |"
        lines.append(row)
    return lines


def to_markdown(results):
    env = results["environment"]
    lines = [
        "# GPU benchmarks (issue 15)",
        "",
        f"{'SMOKE RUN (tiny sizes, not results). ' if results['smoke'] else ''}"
        f"Backend {env['backend']}, devices {env.get('devices')}, Keras "
        f"{env['keras']}, {env['date']}.",
        "",
        "Command:",
        "",
        "```",
        results["command"],
        "```",
    ]
    for part, entry in results["parts"].items():
        lines += ["", f"## {part}: {entry['status']}", ""]
        if entry["status"] != "ok":
            lines.append(entry.get("reason") or entry.get("error", ""))
            continue
        data = entry["result"]
        if part == "resize_speed":
            lines += _table(
                data["median_ms"],
                "median ms",
                data["ratio_to_ours_bilinear"],
                "x ours bilinear",
            )
        elif part == "muller_speed":
            lines += _table(
                data["median_ms"], "median ms", data["ratio_to_bilinear"], "x bilinear"
            )
            lines += [
                "",
                f"Folded vs direct max abs difference "
                f"{data['folded_vs_direct_max_abs_diff']:.1e}; target "
                f"({data['target']}): {'MET' if data['met'] else 'NOT MET'}.",
            ]
        elif part == "resizer_cost":
            lines += [
                "| setting | status | resizer ms | backbone ms | resizer / backbone |",
                "|---|---|---:|---:|---:|",
            ]
            for name, row in data.items():
                if row["status"] != "ok":
                    lines.append(f"| {name} | failed: {row['error'][:120]} | | | |")
                    continue
                ms = row["median_ms"]
                lines.append(
                    f"| {name} | ok | {ms['resizer']:.2f} | {ms['backbone']:.2f} "
                    f"| {row['resizer_over_backbone']:.2f} |"
                )
        elif part == "classification":
            lines += ["| resizer, scale | test acc % (mean +- std) | runs |"]
            lines += ["|---|---:|---:|"]
            for key, row in data["summary"].items():
                lines.append(
                    f"| {key} | {100 * row['mean']:.1f} +- {100 * row['std']:.1f} "
                    f"| {row['n']} |"
                )
            failed = [r for r in data["runs"] if r["status"] != "ok"]
            for row in failed:
                lines.append(
                    f"- failed: {row['resizer']} {row['scale']}x seed {row['seed']}: "
                    f"{row['error'][:200]}"
                )
            transfer = data["frozen_transfer"]
            lines += ["", f"Frozen transfer: {transfer['status']}"]
            for name, row in (transfer.get("rows") or {}).items():
                text = (
                    f"{100 * row['test_accuracy']:.1f}%"
                    if row["status"] == "ok"
                    else row["status"]
                )
                lines.append(f"- {name}: {text}")
    lines.append("")
    return "\n".join(lines)


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for part in ("resize_speed", "muller_speed"):
        entry = results["parts"].get(part)
        if entry and entry["status"] == "ok":
            panels.append((part, entry["result"]["median_ms"]))
    entry = results["parts"].get("classification")
    if entry and entry["status"] == "ok" and entry["result"]["summary"]:
        summary = entry["result"]["summary"]
        panels.append(
            (
                "classification test acc %",
                {k: 100 * v["mean"] for k, v in summary.items()},
            )
        )
    if not panels:
        return False
    fig, axes = plt.subplots(
        1, len(panels), figsize=(6 * len(panels), 4), squeeze=False
    )
    for ax, (title, values) in zip(axes[0], panels, strict=True):
        ax.barh(list(values), list(values.values()))
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------
# Data preparation (where the offline digit loaders work).


def prepare_data(path):
    """Write the 28x28 MNIST / Fashion-MNIST digits to `path` (npz)."""
    from keras_resize.data.digits import load_digits

    arrays = {}
    for source in ("mnist", "fashion_mnist"):
        for split in ("train", "test"):
            try:
                images, labels = load_digits(source, split)
            except Exception as error:
                print(f"skipping {source} {split}: {error}")
                continue
            arrays[f"{source}_{split}_images"] = np.asarray(images)
            arrays[f"{source}_{split}_labels"] = np.asarray(labels)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({Path(path).stat().st_size / 2**20:.1f} MiB)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python benchmarks/gpu/run.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["all"],
        choices=("all", *PARTS),
        help="parts to run (default all)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CPU check)")
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--digits",
        type=Path,
        default=DEFAULT_DIGITS,
        help="npz of the 28x28 digits (written by --prepare-data)",
    )
    parser.add_argument(
        "--prepare-data",
        action="store_true",
        help="write --digits from the offline loaders and exit",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.prepare_data:
        prepare_data(args.digits)
        return None
    parts = PARTS if "all" in args.parts else tuple(args.parts)
    output_dir = args.output_dir or (
        DEFAULT_OUTPUT / "smoke" if args.smoke else DEFAULT_OUTPUT
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    results = {
        "command": " ".join(["python", "benchmarks/gpu/run.py", *sys.argv[1:]]),
        "smoke": args.smoke,
        "backend": keras.backend.backend(),
        "environment": environment(),
        "parts": {},
    }
    for part in parts:
        start = time.perf_counter()
        print(f"[gpu] {part} ...", flush=True)
        try:
            entry = {"status": "ok", "result": PART_FUNCTIONS[part](args)}
        except NotImplementedPart as reason:
            entry = {"status": "not_implemented", "reason": str(reason)}
        except Exception as error:
            entry = {
                "status": "failed",
                "error": f"{type(error).__name__}: {error}"[:2000],
                "traceback": traceback.format_exc()[-4000:],
            }
        entry["seconds"] = time.perf_counter() - start
        results["parts"][part] = entry
        print(f"[gpu] {part}: {entry['status']} ({entry['seconds']:.1f} s)", flush=True)
    results["environment"]["tensorflow_imported"] = bool(
        sys.modules.get("tensorflow") is not None
    )
    (output_dir / f"{NAME}.json").write_text(
        json.dumps(results, indent=2, default=float) + "\n"
    )
    (output_dir / f"{NAME}.md").write_text(to_markdown(results))
    figure(results, output_dir / f"{NAME}.png")
    print(f"[gpu] wrote {output_dir}/{NAME}.json, .md, .png")
    return results


if __name__ == "__main__":
    main()
