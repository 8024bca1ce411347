"""Pretrained resizer weights: a manifest, hash-checked loading, and saving.

Weights live in the repository's `saved_models/` folder (or the folder named
by `$KERAS_RESIZE_SAVED_MODELS`), next to `manifest.json`, which holds one
entry per weight file:

```json
{"downsizenet-digits-4x": {
    "layer": "DownsizeNetResize",
    "config": {...},                 # the layer's get_config()
    "input_shape": [256, 256, 3],    # the input it was built and trained for
    "file": "downsizenet-digits-4x.weights.h5",
    "sha256": "...",
    "task": "...", "data": "...", "command": "...", "metric": {...},
    "package_version": "0.1.0"}}
```

`load(name)` builds the layer from its config, checks the file's sha256 and
loads the weights; a missing or corrupted file raises an error that says so,
with the command that reproduces it.
"""

import hashlib
import json
import os
from pathlib import Path

import keras

import keras_resize

MANIFEST_NAME = "manifest.json"


def saved_models_dir():
    """The folder of the shipped weights and their manifest."""
    override = os.environ.get("KERAS_RESIZE_SAVED_MODELS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1] / "saved_models"


def read_manifest(directory=None):
    """The manifest as a dict (empty if there is none)."""
    path = Path(directory or saved_models_dir()) / MANIFEST_NAME
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def available(directory=None):
    """Names of the pretrained weights in the manifest."""
    return sorted(read_manifest(directory))


def info(name, directory=None):
    """The manifest entry of `name` (task, data, command, metric, ...)."""
    manifest = read_manifest(directory)
    if name not in manifest:
        raise ValueError(
            f"Unknown pretrained weights. Expected one of {sorted(manifest)}. "
            f"Received: name={name!r}"
        )
    return manifest[name]


def sha256_of(path):
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _holder(layer, input_shape):
    inputs = keras.Input(tuple(input_shape))
    return keras.Model(inputs, layer(inputs), name="resizer_holder")


def save_weights(layer, path, input_shape):
    """Write a resizer's weights (`.weights.h5`) for inputs of `input_shape`.

    The file stores the weights of a model holding only this layer, keyed by
    the layer's class, so they load into a layer of any name.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _holder(layer, input_shape).save_weights(str(path))


def load_weights(layer, path, input_shape):
    """Load weights written by `save_weights` into `layer`."""
    _holder(layer, input_shape).load_weights(str(path))


def load(name, trainable=False, directory=None, **overrides):
    """Build the layer named `name` in the manifest and load its weights.

    Args:
        name: a name from `available()`.
        trainable: whether the returned layer is trainable (frozen by
            default, for reuse in front of another model).
        directory: the weights folder (default `saved_models_dir()`).
        **overrides: config values to change (e.g. `height`, `width`: the
            learned weights do not depend on the output size).

    Returns:
        The built layer with the pretrained weights.

    Raises:
        ValueError: unknown name, or a file whose sha256 does not match the
            manifest (corrupted or replaced).
        FileNotFoundError: the weight file is missing.
    """
    directory = Path(directory or saved_models_dir())
    entry = info(name, directory)
    path = directory / entry["file"]
    if not path.exists():
        raise FileNotFoundError(
            f"Pretrained weights {name!r} are missing: {path} does not exist. "
            f"Reproduce them with: {entry.get('command', '(no command recorded)')}"
        )
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise ValueError(
            f"Pretrained weights {name!r} are corrupted: {path} has sha256 "
            f"{actual}, the manifest expects {entry['sha256']}. Reproduce them "
            f"with: {entry.get('command', '(no command recorded)')}"
        )
    cls = keras.saving.get_registered_object(f"keras_resize>{entry['layer']}")
    if cls is None:
        raise ValueError(
            f"Pretrained weights {name!r} need the layer {entry['layer']!r}, "
            "which this version of keras_resize does not have."
        )
    layer = cls.from_config({**entry["config"], **overrides})
    load_weights(layer, path, entry["input_shape"])
    layer.trainable = trainable
    return layer


def register(
    name,
    layer,
    weights_path,
    input_shape,
    task,
    data,
    command,
    metric,
    directory=None,
):
    """Add (or replace) a manifest entry for weights saved with `save_weights`.

    The weights file must already be in the weights folder; its sha256 is
    computed here. Returns the entry.
    """
    directory = Path(directory or saved_models_dir())
    weights_path = Path(weights_path)
    if weights_path.parent.resolve() != directory.resolve():
        raise ValueError(
            f"Expected `weights_path` inside {directory}. Received: "
            f"weights_path={str(weights_path)!r}"
        )
    config = layer.get_config()
    config.pop("dtype", None)
    entry = {
        "layer": type(layer).__name__,
        "config": config,
        "input_shape": list(input_shape),
        "file": weights_path.name,
        "sha256": sha256_of(weights_path),
        "task": task,
        "data": data,
        "command": command,
        "metric": metric,
        "package_version": keras_resize.__version__,
    }
    manifest = read_manifest(directory)
    manifest[name] = entry
    (directory / MANIFEST_NAME).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    )
    return entry


class PretrainedMixin:
    """Adds `from_pretrained(name, ...)` to a layer class."""

    @classmethod
    def from_pretrained(cls, name, trainable=False, **overrides):
        """Load pretrained weights from the manifest (see `keras_resize.pretrained`).

        Raises a ValueError if `name` holds weights of another layer class.
        """
        entry = info(name)
        if entry["layer"] != cls.__name__:
            raise ValueError(
                f"Pretrained weights {name!r} are for {entry['layer']}, not "
                f"{cls.__name__}. Use keras_resize.pretrained.load({name!r})."
            )
        return load(name, trainable=trainable, **overrides)
