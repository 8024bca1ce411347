"""`make demo`: every method of `keras_resize.ops.resize` on real images.

Downsizes real photos bundled with scikit-image (`astronaut` 512x512 and
`coffee` 400x600, both by exactly 4x) and a batch of 16 classification
canvases (256x256 -> 64x64, real MNIST digits) with each resize method, then

- prints a table: time (graph mode, median of a few runs) for the canvas
  batch and for the astronaut photo, and the PSNR of every output against an
  exact 4x box average computed in numpy (independent of every method, so no
  method is favoured by construction; `area` computes the same average and
  so only checks itself there);
- saves a side-by-side PNG of a photo crop and a canvas per method to
  `demo_outputs/resize_methods.png` (`--output-dir` to change).

Offline, CPU only, well under a minute on 2 cores. Run with
`python -m keras_resize.demo` (`--quick` for a smaller smoke run).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# (label, method, antialias)
METHODS = (
    ("nearest", "nearest", False),
    ("bilinear", "bilinear", False),
    ("bicubic", "bicubic", False),
    ("area", "area", False),
    ("bilinear+antialias", "bilinear", True),
    ("bicubic+antialias", "bicubic", True),
    ("lanczos3+antialias", "lanczos3", True),
    ("gaussian+antialias", "gaussian", True),
    ("mitchellcubic+antialias", "mitchellcubic", True),
)
QUICK_METHODS = ("nearest", "bilinear", "area", "bilinear+antialias")

FACTOR = 4
NUM_CANVASES = 16
CANVAS_SIZE = 256
# Displayed crops, in output (downsized) pixels: (row, column, size).
CROPS = {"astronaut": (14, 38, 56), "coffee": (8, 40, 56)}
PSNR_CAP = 99.0


def box_downsize(images, factor):
    """Exact area average over `factor x factor` blocks, in float64 numpy.

    For an integer factor this is the exact average of each output pixel's
    footprint: the ideal "area" downsizing, computed without TensorFlow.
    """
    images = np.asarray(images, dtype=np.float64)
    *lead, height, width, channels = images.shape
    if height % factor or width % factor:
        raise ValueError(
            f"Expected sizes divisible by factor={factor}. Received: {images.shape}"
        )
    blocks = images.reshape(
        *lead, height // factor, factor, width // factor, factor, channels
    )
    return blocks.mean(axis=(-4, -2)).astype(np.float32)


def psnr(estimate, reference, peak=1.0):
    """PSNR in dB for images in `[0, peak]`, capped at `PSNR_CAP`."""
    diff = np.asarray(estimate, np.float64) - np.asarray(reference, np.float64)
    mse = float(np.mean(diff * diff))
    if mse <= peak**2 * 10 ** (-PSNR_CAP / 10):
        return PSNR_CAP
    return float(10.0 * np.log10(peak**2 / mse))


def _format_psnr(value):
    return f">{PSNR_CAP:.0f}" if value >= PSNR_CAP else f"{value:.2f}"


def _median_ms(function, images, size, repeats):
    function(images, size)  # Warm-up: trace (and XLA-compile) this shape.
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(images, size)
        runs.append(time.perf_counter() - start)
    return 1e3 * statistics.median(runs)


def _load_inputs(quick):
    from keras_resize.data import load_photo, make_classification_canvases

    names = ("astronaut",) if quick else ("astronaut", "coffee")
    photos = {name: load_photo(name) for name in names}
    data = make_classification_canvases(
        4 if quick else NUM_CANVASES, canvas_size=CANVAS_SIZE, seed=0, split="test"
    )
    return photos, data["images"], data["labels"]


def run_methods(photos, canvases, methods, repeats, log=print):
    """Resizes every input with every method; returns outputs and timings."""
    import tensorflow as tf

    from keras_resize.ops import resize

    canvas_size = (canvases.shape[1] // FACTOR, canvases.shape[2] // FACTOR)
    canvases = tf.constant(canvases)
    photo_tensors = {name: tf.constant(p[None]) for name, p in photos.items()}
    first_photo = next(iter(photos))
    results = []
    for i, (label, method, antialias) in enumerate(methods, 1):
        start = time.perf_counter()

        def call(images, size, method=method, antialias=antialias):
            return resize(images, size, method=method, antialias=antialias)

        function = tf.function(call, autograph=False)
        row = {"label": label, "outputs": {}}
        row["canvas_ms"] = _median_ms(function, canvases, canvas_size, repeats)
        row["outputs"]["canvases"] = function(canvases, canvas_size).numpy()
        for name, tensor in photo_tensors.items():
            size = (tensor.shape[1] // FACTOR, tensor.shape[2] // FACTOR)
            if name == first_photo:
                row["photo_ms"] = _median_ms(function, tensor, size, repeats)
            row["outputs"][name] = function(tensor, size).numpy()[0]
        results.append(row)
        log(f"  [{i}/{len(methods)}] {label:<24s} {time.perf_counter() - start:5.1f} s")
    return results


def _print_table(results, references, photos, canvases, repeats):
    first_photo = next(iter(photos))
    ph, pw = photos[first_photo].shape[:2]
    n, ch, cw = canvases.shape[:3]
    names = list(photos) + ["canvases"]
    print()
    print(
        f"Timing: graph mode (tf.function), default XLA-fused sampler, median of "
        f"{repeats} runs after a warm-up;\n  canvases = {n} x {ch}x{cw} -> "
        f"{ch // FACTOR}x{cw // FACTOR}, photo = {first_photo} {ph}x{pw} -> "
        f"{ph // FACTOR}x{pw // FACTOR}."
    )
    print(
        f"PSNR (dB, higher = closer): against an exact {FACTOR}x box average "
        "(area average of each 4x4 block) computed in numpy,\n  not against any "
        "of the methods. `area` computes that same average, so its PSNR only "
        "checks it;\n  a high PSNR means close to the box filter, not sharper."
    )
    headers = ["method", "canvases ms", f"{first_photo} ms"] + [
        f"PSNR {name}" for name in names
    ]
    rows = []
    for row in results:
        rows.append(
            [row["label"], f"{row['canvas_ms']:.2f}", f"{row['photo_ms']:.2f}"]
            + [
                _format_psnr(psnr(row["outputs"][name], references[name]))
                for name in names
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    print()
    print(line)
    print("-" * len(line))
    for r in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    print()


def _crop(image, name):
    row, col, size = CROPS.get(name, (0, 0, min(image.shape[:2])))
    return image[row : row + size, col : col + size]


def save_figure(results, references, photos, canvases, path, canvas_label=None):
    """One column per method (plus source and box reference), one row per input."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(photos) + ["canvases"]
    sources = {name: photos[name] for name in photos}
    sources["canvases"] = canvases[0]
    columns = [("source (full res)", None), ("box reference\n(numpy, exact)", None)]
    columns += [(row["label"].replace("+", "\n+"), row) for row in results]
    fig, axes = plt.subplots(
        len(names),
        len(columns),
        figsize=(1.55 * len(columns), 1.75 * len(names) + 0.5),
        squeeze=False,
    )
    for r, name in enumerate(names):
        for c, (title, row) in enumerate(columns):
            ax = axes[r, c]
            if c == 0:
                row_, col_, size = CROPS.get(name, (0, 0, None))
                source = sources[name]
                if size is not None:
                    f = FACTOR
                    source = source[
                        f * row_ : f * (row_ + size), f * col_ : f * (col_ + size)
                    ]
                image, caption = source, f"{source.shape[0]}x{source.shape[1]} px"
            elif c == 1:
                reference = references[name]
                image = reference[0] if name == "canvases" else reference
                image, caption = _crop(image, name), "reference"
            else:
                output = row["outputs"][name]
                image = output[0] if name == "canvases" else output
                reference = references[name]
                value = psnr(output, reference)
                image, caption = _crop(image, name), f"{_format_psnr(value)} dB"
            image = np.clip(image, 0.0, 1.0)
            if image.shape[-1] == 1:
                ax.imshow(
                    image[..., 0],
                    cmap="gray",
                    vmin=0.0,
                    vmax=1.0,
                    interpolation="nearest",
                )
            else:
                ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(caption, fontsize=8)
            if r == 0:
                ax.set_title(title, fontsize=9)
            if c == 0:
                label = f"{name} (crop)"
                if name == "canvases":
                    label = "canvas 0" + (
                        "" if canvas_label is None else f" (digit {canvas_label})"
                    )
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle(
        f"keras_resize.ops.resize, {FACTOR}x downsizing "
        "(PSNR vs exact box average; crops shown at output resolution)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_resize.demo",
        description="Downsize real photos and digit canvases with every resize method.",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("demo_outputs"),
        help="folder for resize_methods.png (default: demo_outputs)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {len(QUICK_METHODS)} methods, one photo, 4 canvases",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per input (default 5)"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    from keras_resize.console import quiet_framework_logs

    quiet_framework_logs()

    start = time.perf_counter()
    methods = [m for m in METHODS if not args.quick or m[0] in QUICK_METHODS]
    print("keras_resize demo: downsizing with every method of keras_resize.ops.resize")
    print("Loading photos (scikit-image) and digit canvases (MNIST test split) ...")
    photos, canvases, labels = _load_inputs(args.quick)
    references = {name: box_downsize(p, FACTOR) for name, p in photos.items()}
    references["canvases"] = box_downsize(canvases, FACTOR)
    print(f"Resizing with {len(methods)} methods (first call traces and compiles):")
    results = run_methods(photos, canvases, methods, repeats)
    _print_table(results, references, photos, canvases, repeats)
    path = save_figure(
        results,
        references,
        photos,
        canvases,
        args.output_dir / "resize_methods.png",
        canvas_label=int(labels[0]),
    )
    print(f"Saved the side-by-side figure to {path.resolve()}")
    print(f"Done in {time.perf_counter() - start:.1f} s.")
    return {"results": results, "figure": path}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
