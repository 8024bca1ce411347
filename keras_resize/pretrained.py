"""Presets: pretrained resizer weights shipped inside the package.

Each preset is a folder of `keras_resize/presets/` (keras-hub style; the
folder named by `$KERAS_RESIZE_PRESETS` replaces it), installed with the
wheel:

```
keras_resize/presets/downsizenet-digits-4x/
    config.json        {"layer": "DownsizeNetResize", "config": {...},
                        "input_shape": [256, 256, 3]}
    model.weights.h5   the weights (`save_weights`)
    metadata.json      {"task", "data", "command", "metric", "sha256",
                        "package_version", ...}
    classifier.keras   (optional) the classifier trained with the resizer:
                        resized images in [0, 1] -> logits
```

`load(name_or_directory)` builds the layer from its config, checks the
weights' sha256 and loads them; `Layer.from_preset(...)` does the same for
one layer class. A missing or corrupted file raises an error that says so,
with the command that reproduces it. `list_presets()` names them.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import keras

import keras_resize

CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"
CLASSIFIER_NAME = "classifier.keras"
# Kept for callers of the previous layout (one manifest for all weights).
MANIFEST_NAME = "manifest.json"


def presets_dir():
    """The folder of the shipped presets (one sub-folder per preset)."""
    override = os.environ.get("KERAS_RESIZE_PRESETS") or os.environ.get(
        "KERAS_RESIZE_SAVED_MODELS"
    )
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "presets"


saved_models_dir = presets_dir  # the previous name


def _is_preset(folder):
    folder = Path(folder)
    return (folder / CONFIG_NAME).is_file() and (folder / METADATA_NAME).is_file()


def _entry(folder):
    folder = Path(folder)
    config = json.loads((folder / CONFIG_NAME).read_text())
    metadata = json.loads((folder / METADATA_NAME).read_text())
    return {**metadata, **config, "file": f"{folder.name}/{WEIGHTS_NAME}"}


def read_manifest(directory=None):
    """`{name: entry}` of every preset in `directory` (default `presets_dir()`).

    An entry merges the preset's `config.json` and `metadata.json`, plus
    `file`, the weights' path relative to `directory`.
    """
    directory = Path(directory or presets_dir())
    if not directory.is_dir():
        return {}
    return {
        folder.name: _entry(folder)
        for folder in sorted(directory.iterdir())
        if folder.is_dir() and _is_preset(folder)
    }


def available(directory=None):
    """Names of the presets."""
    return sorted(read_manifest(directory))


def list_presets(directory=None):
    """Names of the presets shipped with the package (or in `directory`).

    Example:

    >>> "learned-resize-digits-4x" in list_presets()
    True
    """
    return available(directory)


def _resolve(name_or_directory, directory=None):
    """`(folder, entry)` of a preset given by name or by its folder."""
    candidate = Path(str(name_or_directory))
    if _is_preset(candidate):
        return candidate, _entry(candidate)
    directory = Path(directory or presets_dir())
    manifest = read_manifest(directory)
    if name_or_directory not in manifest:
        raise ValueError(
            "Unknown preset. Expected one of "
            f"{sorted(manifest)} or a preset folder (with {CONFIG_NAME} and "
            f"{METADATA_NAME}). Received: name={name_or_directory!r}"
        )
    return directory / name_or_directory, manifest[name_or_directory]


def info(name, directory=None):
    """The entry of a preset (task, data, command, metric, config, ...)."""
    return _resolve(name, directory)[1]


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
    """Build the layer of a preset and load its weights.

    Args:
        name: a preset name from `list_presets()`, or a preset folder.
        trainable: whether the returned layer is trainable (frozen by
            default, for reuse in front of another model).
        directory: the presets folder (default `presets_dir()`).
        **overrides: config values to change (e.g. `height`, `width`: the
            learned weights do not depend on the output size).

    Returns:
        The built layer with the pretrained weights.

    Raises:
        ValueError: unknown name, or weights whose sha256 does not match the
            preset's metadata (corrupted or replaced).
        FileNotFoundError: the weight file is missing.
    """
    folder, entry = _resolve(name, directory)
    path = folder / WEIGHTS_NAME
    command = entry.get("command", "(no command recorded)")
    if not path.exists():
        raise FileNotFoundError(
            f"Preset {str(name)!r} is missing its weights: {path} does not "
            f"exist. Reproduce them with: {command}"
        )
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise ValueError(
            f"Preset {str(name)!r} is corrupted: {path} has sha256 {actual}, "
            f"its metadata expects {entry['sha256']}. Reproduce it with: {command}"
        )
    cls = keras.saving.get_registered_object(f"keras_resize>{entry['layer']}")
    if cls is None:
        raise ValueError(
            f"Preset {str(name)!r} needs the layer {entry['layer']!r}, which this "
            "version of keras_resize does not have."
        )
    layer = cls.from_config({**entry["config"], **overrides})
    load_weights(layer, path, entry["input_shape"])
    layer.trainable = trainable
    return layer


def load_classifier(name, directory=None):
    """The classifier shipped beside a preset's resizer, or `None`.

    Presets trained jointly with a classifier (the digit-canvas ones) ship
    it as `classifier.keras`: resized images `(N, height, width, 3)` in
    `[0, 1]` (the resizer's output) -> logits. With the resizer in front it
    reproduces the accuracy in the preset's metadata, which is how
    `make demo` compares the presets with bilinear resizing.

    The classifiers use keras-hub backbones: loading one needs `keras_hub`
    (`pip install keras-resize[train]`).

    Raises:
        ValueError: unknown preset, or a classifier whose sha256 does not
            match the metadata.
        ImportError: keras-hub is not installed.
    """
    folder, entry = _resolve(name, directory)
    path = folder / CLASSIFIER_NAME
    if not path.exists():
        return None
    expected = entry.get("classifier_sha256")
    actual = sha256_of(path)
    if expected != actual:
        raise ValueError(
            f"Preset {str(name)!r} has a corrupted classifier: {path} has sha256 "
            f"{actual}, its metadata expects {expected}. Reproduce it with: "
            f"{entry.get('command', '(no command recorded)')}"
        )
    try:
        import keras_hub  # noqa: F401  (registers the backbone classes)
    except ImportError as error:
        raise ImportError(
            f"The classifier of preset {str(name)!r} needs keras-hub: "
            "pip install keras-resize[train]"
        ) from error
    return keras.saving.load_model(str(path), compile=False)


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
    extra=None,
    classifier_path=None,
):
    """Write (or replace) the preset `name` from weights saved with `save_weights`.

    The weights file must be inside the presets folder; it is moved to
    `directory/name/model.weights.h5`, and `config.json` and
    `metadata.json` (with its sha256 and the package version) are written
    beside it. `extra` adds metadata keys (a citation, say).
    `classifier_path` (a `.keras` file) is copied to
    `directory/name/classifier.keras` with its sha256 in the metadata.
    Returns the entry.
    """
    directory = Path(directory or presets_dir())
    weights_path = Path(weights_path)
    if directory.resolve() not in weights_path.resolve().parents:
        raise ValueError(
            f"Expected `weights_path` inside {directory}. Received: "
            f"weights_path={str(weights_path)!r}"
        )
    folder = directory / name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / WEIGHTS_NAME
    if weights_path.resolve() != target.resolve():
        shutil.move(str(weights_path), str(target))
    config = layer.get_config()
    config.pop("dtype", None)
    config_json = {
        "layer": type(layer).__name__,
        "config": config,
        "input_shape": list(input_shape),
    }
    extra = dict(extra or {})
    if classifier_path is not None:
        shutil.copyfile(str(classifier_path), str(folder / CLASSIFIER_NAME))
        extra["classifier_sha256"] = sha256_of(folder / CLASSIFIER_NAME)
    metadata = {
        "task": task,
        "data": data,
        "command": command,
        "metric": metric,
        "sha256": sha256_of(target),
        "package_version": keras_resize.__version__,
        **extra,
    }
    (folder / CONFIG_NAME).write_text(
        json.dumps(config_json, indent=2, sort_keys=True) + "\n"
    )
    (folder / METADATA_NAME).write_text(
        json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    )
    return _entry(folder)


class PretrainedMixin:
    """Adds `from_preset(name_or_directory, ...)` (and `from_pretrained`) to a layer."""

    @classmethod
    def from_preset(cls, preset, trainable=False, **overrides):
        """Build this layer from a preset (see `keras_resize.pretrained`).

        Args:
            preset: a preset name (`keras_resize.presets.list_presets()`) or
                a preset folder.
            trainable: whether the layer is trainable (frozen by default).
            **overrides: config values to change (`height`, `width`, ...).

        Raises a ValueError if the preset holds weights of another layer class.
        """
        entry = info(preset)
        if entry["layer"] != cls.__name__:
            raise ValueError(
                f"Preset {str(preset)!r} is for {entry['layer']}, not "
                f"{cls.__name__}. Use keras_resize.pretrained.load({str(preset)!r})."
            )
        return load(preset, trainable=trainable, **overrides)

    @classmethod
    def from_pretrained(cls, name, trainable=False, **overrides):
        """Alias of `from_preset`."""
        return cls.from_preset(name, trainable=trainable, **overrides)
