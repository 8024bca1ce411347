"""`make demo`: the shipped presets against bilinear, then every resize method.

1. **Presets vs bilinear, in seconds.** Every shipped preset that comes
   with the classifier it was trained with (`keras_resize.presets`,
   `classifier.keras`) classifies the digit test canvases (256 x 256, one
   real MNIST test digit among clutter, downsized 4x to 64 x 64), beside
   `bilinear-digits-4x`: the same classifier architecture trained the same
   way behind plain bilinear resizing. The table gives test accuracy, the
   gain over bilinear, and the accuracy in each preset's metadata (the
   same 2000 canvases: the figures match).
2. **Every method of `keras_resize.ops.resize` on real images.** Downsizes
   real photos bundled with scikit-image (`astronaut` 512x512 and `coffee`
   400x600, both by exactly 4x) and a batch of 16 classification canvases
   (256x256 -> 64x64) with each resize method, then
   - prints a table: time (graph mode, median of a few runs) for the canvas
     batch and for the astronaut photo, and the PSNR of every output against
     an exact 4x box average computed in numpy (independent of every
     method, so no method is favoured by construction; `area` computes the
     same average and so only checks itself there);
   - saves a side-by-side PNG of a photo crop and a canvas per method to
     `demo_outputs/resize_methods.png` (`--output-dir` to change).

Offline, CPU only, about a minute on 2 cores. Run with
`python -m keras_resize.demo` (`--quick` for a smaller smoke run). The
presets' classifiers need keras-hub (`pip install keras-resize[train]`).
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
# The presets' test canvases: `benchmarks.learned_resize`'s test split
# (data seed 0 + 2, MNIST test digits, 6 clutter fragments, 256 px).
PRESET_BASELINE = "bilinear-digits-4x"
PRESET_CANVASES = 2000
PRESET_CANVAS_SEED = 2
PRESET_BATCH = 50


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
    _print_rows(headers, rows)


def _print_rows(headers, rows):
    """A plain-text table: the first column left-aligned, the others right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    header = line(headers)
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        print(line(r))
    print()


def preset_canvases(num_canvases=PRESET_CANVASES):
    """`(uint8 grey canvases (N, 256, 256, 1), labels)`: the presets' test set."""
    from keras_resize.data import make_classification_canvases

    data = make_classification_canvases(
        num_canvases, seed=PRESET_CANVAS_SEED, split="test", verbose=False
    )
    images = np.rint(data["images"] * 255.0).astype(np.uint8)
    return images, np.asarray(data["labels"])


def evaluate_presets(num_canvases=PRESET_CANVASES, log=print):
    """Test accuracy of every preset shipped with its classifier.

    Each preset's resizer (`keras_resize.presets.load`) feeds the
    classifier trained with it (`keras_resize.presets.load_classifier`);
    `bilinear-digits-4x` is the fixed-bilinear baseline trained the same
    way. Returns `{name: {"accuracy", "metadata_accuracy", "ms_per_image",
    "layer"}}`.
    """
    import keras
    import tensorflow as tf

    from keras_resize import pretrained

    names = [
        n for n in pretrained.available() if pretrained.info(n).get("classifier_sha256")
    ]
    if not names:
        log("No preset ships a classifier: nothing to evaluate.")
        return {}
    names.sort(key=lambda n: (n != PRESET_BASELINE, n))
    images, labels = preset_canvases(num_canvases)
    dataset = (
        tf.data.Dataset.from_tensor_slices(images)
        .batch(PRESET_BATCH)
        .map(lambda x: tf.image.grayscale_to_rgb(tf.cast(x, tf.float32) / 255.0))
        .cache()
    )
    out = {}
    for name in names:
        entry = pretrained.info(name)
        resizer = pretrained.load(name)
        classifier = pretrained.load_classifier(name)
        inputs = keras.Input(tuple(entry["input_shape"]), name="images")
        model = keras.Model(inputs, classifier(resizer(inputs)))
        predict = tf.function(lambda x, model=model: model(x, training=False))
        predict(next(iter(dataset)))  # trace outside the timing
        start = time.perf_counter()
        predictions = np.concatenate(
            [np.argmax(predict(batch).numpy(), -1) for batch in dataset]
        )
        seconds = time.perf_counter() - start
        out[name] = {
            "layer": entry["layer"],
            "accuracy": float(np.mean(predictions == labels)),
            "metadata_accuracy": entry.get("metric", {}).get("test_accuracy"),
            "ms_per_image": 1000.0 * seconds / len(labels),
        }
    return out


def _print_presets(results, num_canvases):
    base = results.get(PRESET_BASELINE, {}).get("accuracy")
    headers = ["preset", "layer", "test acc %", "vs bilinear", "metadata %", "ms/img"]
    rows = []
    for name, row in results.items():
        gain = (
            "-"
            if base is None or name == PRESET_BASELINE
            else (f"{100 * (row['accuracy'] - base):+.1f} pts")
        )
        meta = row["metadata_accuracy"]
        rows.append(
            [
                name,
                row["layer"],
                f"{100 * row['accuracy']:.1f}",
                gain,
                "-" if meta is None else f"{100 * meta:.1f}",
                f"{row['ms_per_image']:.2f}",
            ]
        )
    print(
        f"Test accuracy on {num_canvases} digit canvases (256 -> 64 px; each "
        "preset with the classifier trained with it;\n  `metadata %`: the test "
        "accuracy recorded when the preset was trained, on "
        f"{PRESET_CANVASES} canvases of this seed;\n  ms/img: resizer + "
        "classifier, graph mode, CPU)."
    )
    _print_rows(headers, rows)


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
    parser.add_argument(
        "--skip-presets",
        action="store_true",
        help="skip part 1 (the presets with their classifiers; needs keras-hub)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    from keras_resize.console import quiet_framework_logs

    quiet_framework_logs()

    start = time.perf_counter()
    presets = {}
    if not args.skip_presets:
        count = 64 if args.quick else PRESET_CANVASES
        print(
            "keras_resize demo, part 1: the shipped presets against bilinear "
            "(each with its own trained classifier)"
        )
        print(f"Building {count} digit test canvases and evaluating ...")
        presets = evaluate_presets(count)
        if presets:
            _print_presets(presets, count)
    methods = [m for m in METHODS if not args.quick or m[0] in QUICK_METHODS]
    print(
        "keras_resize demo, part 2: downsizing with every method of "
        "keras_resize.ops.resize"
    )
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
    return {"results": results, "figure": path, "presets": presets}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
