"""The `keras-resize` command line.

Subcommands (each works from an installed wheel):

- `export`: a resizer (from the registry or a preset) or a saved `.keras`
  model -> SavedModel + TFLite (builtin ops only) with a report.
- `visualize`: resized outputs of several resizers side by side, with their
  residual maps against bilinear, as a PNG.
- `list`: the registered resizers and the shipped presets.

The training scripts and benchmarks live in a source checkout, beside the
package, and run as modules there: `python -m training.classification`
(also `iqa`, `detection`, `segmentation`) and `python -m benchmarks.compare`
(the comparison `make demo` runs); each takes `--help`.
Bad arguments print one line `keras-resize: error: ...` and exit with 2
(`--debug` shows the traceback).
"""

import argparse
import re
import sys
from pathlib import Path

PROG = "keras-resize"


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


def _size(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive int, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value}")
    return value


def _resizer_kwargs(pairs):
    """`key=value` strings -> dict (values parsed as Python literals if possible)."""
    import ast

    kwargs = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise CommandError(f"--resizer-arg expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return kwargs


# -- export ----------------------------------------------------------------------
def _build_resizer(args):
    from keras_resize import pretrained
    from keras_resize.layers import get_resizer

    kwargs = _resizer_kwargs(args.resizer_arg)
    if args.pretrained:
        overrides = dict(kwargs)
        if args.size:
            overrides.update(height=args.size[0], width=args.size[1])
        return pretrained.load(args.pretrained, **overrides)
    if not args.size:
        raise CommandError("--size HEIGHT WIDTH is required with --resizer")
    return get_resizer(args.resizer, args.size[0], args.size[1], **kwargs)


def _export(args, rest):
    import keras

    import keras_resize

    if rest:
        raise CommandError(f"unrecognised arguments: {' '.join(rest)}")
    if args.model:
        path = Path(args.model)
        if not path.exists():
            raise CommandError(f"--model {path} does not exist")
        import keras_resize.layers  # noqa: F401 - registers the layers

        model = keras.saving.load_model(path)
    else:
        if not args.input_size and args.pretrained:
            from keras_resize import pretrained

            # a preset is exported for the input it was trained on
            shape = pretrained.info(args.pretrained)["input_shape"]
            args.input_size, args.channels = tuple(shape[:2]), shape[2]
        if not args.input_size:
            raise CommandError("--input-size HEIGHT WIDTH is required with --resizer")
        layer = _build_resizer(args)
        inputs = keras.Input((*args.input_size, args.channels), name="images")
        model = keras.Model(inputs, layer(inputs))
    representative = None
    if args.quantize == "int8":
        representative = _calibration_images(model)
    report = keras_resize.export(
        model,
        args.output,
        formats=tuple(args.formats),
        quantize=args.quantize,
        representative_data=representative,
        verbose=True,
    )
    import json

    output = Path(args.output)
    (output / "export_report.json").write_text(
        json.dumps(report.to_dict(), indent=2, default=str) + "\n"
    )
    (output / "export_report.txt").write_text(str(report) + "\n")
    return 0 if report else 1


def _calibration_images(model, count=8):
    """Real photos at the model's input size, for int8 calibration."""
    import numpy as np
    import tensorflow as tf

    from keras_resize.data import load_photos

    shape = model.inputs[0].shape[1:]
    if any(d is None for d in shape):
        raise CommandError("int8 export of a model with unknown input size")
    photos = load_photos()
    batch = [tf.image.resize(p, shape[:2], antialias=True).numpy() for p in photos]
    batch = np.clip(np.stack(batch * 2)[:count], 0, 1)[..., : shape[-1]]
    return batch.astype("float32")


# -- visualize --------------------------------------------------------------------
def _load_image(spec):
    from keras_resize.data.photos import PHOTO_NAMES, load_photo

    if spec in PHOTO_NAMES:
        return load_photo(spec)
    path = Path(spec)
    if not path.exists():
        raise CommandError(
            f"--image {spec!r} is neither a bundled photo ({', '.join(PHOTO_NAMES)}) "
            "nor an existing file"
        )
    import tensorflow as tf

    try:
        data = path.read_bytes()
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (OSError, tf.errors.OpError) as error:
        reason = getattr(error, "message", None) or str(error)
        reason = (
            reason.strip().splitlines()[0] if reason.strip() else type(error).__name__
        )
        # TensorFlow's op errors carry "{{function_node ...}}" and "[Op:...]"
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:\w+\]", "", reason)
        raise CommandError(
            f"--image {spec!r} is not a readable image (PNG, JPEG, GIF, BMP or "
            f"WebP): {reason}"
        ) from None
    return tf.image.convert_image_dtype(image, tf.float32).numpy()


def visualize(image, layers, output, title=""):
    """Save a PNG: each layer's output, and its residual against bilinear.

    Args:
        image: `(H, W, C)` float array in [0, 1].
        layers: `{label: layer}`; every layer maps a batch of images to
            resized images of one common size.
        output: the PNG path.
        title: figure title.

    Returns:
        `{label: resized image}` (numpy).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from keras_resize.layers import Resize

    batch = np.asarray(image, "float32")[None]
    outputs = {label: np.asarray(layer(batch))[0] for label, layer in layers.items()}
    height, width = next(iter(outputs.values())).shape[:2]
    reference = np.asarray(Resize(height, width, "bilinear")(batch))[0]
    columns = len(outputs) + 1
    fig, axes = plt.subplots(
        2,
        columns,
        figsize=(3 * columns, 6 * height / width + 1.4),
        squeeze=False,
        layout="constrained",
    )
    axes[0, 0].imshow(np.clip(image, 0, 1))
    axes[0, 0].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=9)
    axes[1, 0].axis("off")
    axes[1, 0].text(
        0.5,
        0.5,
        "bottom row:\n|output - bilinear|\n(mean over channels;\neach on its own scale)",
        ha="center",
        va="center",
    )
    for column, (label, out) in enumerate(outputs.items(), start=1):
        display = out if out.shape[-1] == 3 else out.mean(-1)
        low, high = float(display.min()), float(display.max())
        if low < -0.01 or high > 1.01:
            # A learned resizer's output is a feature map for the network
            # behind it, not meant to look like an image: show its own range.
            shown = (display - low) / max(high - low, 1e-6)
            note = f"\nrange [{low:.2f}, {high:.2f}], stretched"
        else:
            shown, note = np.clip(display, 0, 1), ""
        axes[0, column].imshow(shown, cmap="gray")
        axes[0, column].set_title(f"{label} {height}x{width}{note}", fontsize=9)
        residual = np.abs(out - reference).mean(-1)
        axes[1, column].imshow(
            residual, cmap="magma", vmin=0, vmax=max(float(residual.max()), 1e-6)
        )
        axes[1, column].set_xlabel(f"max {residual.max():.3f}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return outputs


def _visualize(args, rest):
    from keras_resize import pretrained
    from keras_resize.layers import get_resizer

    if rest:
        raise CommandError(f"unrecognised arguments: {' '.join(rest)}")
    image = _load_image(args.image)
    height, width = args.size or (image.shape[0] // 4, image.shape[1] // 4)
    layers = {}
    for name in args.resizers:
        layers[name] = get_resizer(name, height, width)
    for name in args.pretrained or ():
        layers[name] = pretrained.load(name, height=height, width=width)
    if not layers:
        raise CommandError("nothing to show: pass --resizers and/or --pretrained")
    visualize(image, layers, args.output, title=f"{args.image} -> {height}x{width}")
    print(f"saved {Path(args.output).resolve()}")
    return 0


# -- list -------------------------------------------------------------------------
def _list(args, rest):
    from keras_resize import pretrained
    from keras_resize.layers import describe_resizers

    if rest:
        raise CommandError(f"unrecognised arguments: {' '.join(rest)}")
    print("resizers (keras_resize.layers.get_resizer):")
    for name, description in describe_resizers().items():
        print(f"  {name:20s} {description}")
    names = pretrained.available()
    print("presets (keras_resize.presets; Layer.from_preset(name)):")
    for name in names:
        entry = pretrained.info(name)
        print(f"  {name:28s} {entry['layer']}: {entry.get('task', '')}")
    if not names:
        print("  (none)")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Learned image resizers for Keras: export, visualize, list.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks on errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    export = sub.add_parser(
        "export",
        help="export a resizer or a .keras model to SavedModel + TFLite",
        description="Export with builtin TFLite ops only and print the report "
        "(files, sizes, op list, max difference Keras vs SavedModel vs TFLite).",
    )
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--resizer", help="a registered resizer name (see `list`)")
    source.add_argument(
        "--preset",
        "--pretrained",
        dest="pretrained",
        help="a preset name (see `list`) or a preset folder",
    )
    source.add_argument("--model", help="a saved .keras model")
    export.add_argument("--output", required=True, help="output folder")
    export.add_argument(
        "--input-size", nargs=2, type=_size, metavar=("HEIGHT", "WIDTH")
    )
    export.add_argument("--size", nargs=2, type=_size, metavar=("HEIGHT", "WIDTH"))
    export.add_argument("--channels", type=_size, default=3)
    export.add_argument(
        "--resizer-arg", action="append", metavar="KEY=VALUE", help="resizer option"
    )
    export.add_argument(
        "--formats",
        nargs="+",
        default=["saved_model", "tflite"],
        choices=["saved_model", "tflite"],
    )
    export.add_argument("--quantize", choices=["float16", "int8"])
    export.set_defaults(handler=_export)

    vis = sub.add_parser(
        "visualize",
        help="resized outputs and residual maps vs bilinear, as a PNG",
        description="Resize one image with several resizers and save a PNG.",
    )
    vis.add_argument(
        "--image", default="astronaut", help="a bundled photo name or an image file"
    )
    vis.add_argument(
        "--resizers",
        nargs="*",
        default=["nearest", "bilinear", "area", "antialias"],
        help="registered resizer names",
    )
    vis.add_argument(
        "--preset",
        "--pretrained",
        dest="pretrained",
        nargs="*",
        help="preset names or folders",
    )
    vis.add_argument("--size", nargs=2, type=_size, metavar=("HEIGHT", "WIDTH"))
    vis.add_argument("--output", default="demo_outputs/visualize.png")
    vis.set_defaults(handler=_visualize)

    lister = sub.add_parser("list", help="registered resizers and pretrained weights")
    lister.set_defaults(handler=_list)
    return parser


def main(argv=None):
    from keras_resize.console import quiet_framework_logs

    quiet_framework_logs()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        return args.handler(args, [])
    except (CommandError, ValueError, FileNotFoundError, KeyError) as error:
        if args.debug:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"{PROG}: error: {message or type(error).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
