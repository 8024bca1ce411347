"""One-call export of a Keras model to SavedModel and TFLite, with a report.

`keras_resize.export(model, path)` writes a SavedModel and a TFLite flatbuffer converted
with **builtin ops only** (no Flex/SELECT_TF_OPS, which `ai_edge_litert`
cannot run), optionally float16- or int8-quantized, then runs all three
(Keras, SavedModel, TFLite) on the same sample inputs and reports the largest
difference between them. Every layer of this package is written with gathers,
arithmetic and convolutions, so any model built from them exports; a graph
that still needs a non-builtin op fails with a `ValueError` naming the op.
"""

import dataclasses
import re
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_resize.ops.validation import check_choice

FORMATS = ("saved_model", "tflite")
QUANTIZATIONS = (None, "float16", "int8")


def _check_quantize(quantize):
    if quantize is not None:
        check_choice("quantize", quantize, QUANTIZATIONS[1:])
    return quantize


SIGNATURE = "serving_default"
SAVED_MODEL_DIR = "saved_model"
TFLITE_FILE = "model.tflite"


@dataclasses.dataclass
class ExportReport:
    """What `export` wrote and measured.

    Attributes:
        files: `{format: {"path": str, "bytes": int}}`.
        tflite_ops: sorted TFLite builtin op names in the flatbuffer.
        max_abs_diff: `{"saved_model": float, "tflite": float}`: largest
            absolute difference from the Keras outputs on the sample inputs.
        inputs: `{input name: shape}` with `None` for dims that stay dynamic
            in the SavedModel (the batch at least).
        fixed_sizes: `{input name: [fixed non-batch dims]}`: the sizes a
            caller cannot change (a `None` spatial dim of the Keras model is
            dynamic in the SavedModel; TFLite resizes only what its signature
            allows).
        dynamic_batch_checked: batch sizes the TFLite model was run with.
        quantize: the quantization used (`None`, `"float16"` or `"int8"`).
        seconds: wall time of the whole export.
    """

    files: dict
    tflite_ops: list
    max_abs_diff: dict
    inputs: dict
    fixed_sizes: dict
    dynamic_batch_checked: list
    quantize: str | None
    seconds: float

    def to_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        lines = [f"export report (quantize={self.quantize}, {self.seconds:.1f} s)"]
        for name, info in self.files.items():
            lines.append(f"  {name}: {info['path']} ({info['bytes'] / 1e6:.2f} MB)")
        for name, diff in self.max_abs_diff.items():
            lines.append(f"  max |keras - {name}| = {diff:.3g}")
        if self.tflite_ops:
            lines.append(f"  TFLite ops: {', '.join(self.tflite_ops)}")
        for name, shape in self.inputs.items():
            lines.append(f"  input {name}: {shape}")
        if self.dynamic_batch_checked:
            lines.append(
                "  TFLite run with batch sizes "
                + ", ".join(map(str, self.dynamic_batch_checked))
            )
        return "\n".join(lines)


def _directory_bytes(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _input_specs(model):
    return {t.name: tuple(t.shape) for t in model.inputs}


def _as_input_dict(model, inputs):
    names = [t.name for t in model.inputs]
    if isinstance(inputs, dict):
        missing = sorted(set(names) - set(inputs))
        if missing:
            raise ValueError(f"sample inputs lack the model input(s) {missing}")
        return {name: np.asarray(inputs[name]) for name in names}
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != len(names):
            raise ValueError(
                f"got {len(inputs)} sample input arrays for a model with "
                f"{len(names)} inputs {names}"
            )
        return {name: np.asarray(x) for name, x in zip(names, inputs, strict=True)}
    if len(names) != 1:
        raise ValueError(f"the model has inputs {names}: pass a dict or a list")
    return {names[0]: np.asarray(inputs)}


def _first_batch(data):
    """The first element of an array, a list of arrays or a dataset."""
    if isinstance(data, tf.data.Dataset):
        data = next(iter(data))
        if isinstance(data, tuple) and len(data) == 2:
            data = data[0]  # (inputs, labels)
        return tf.nest.map_structure(lambda t: np.asarray(t), data)
    return data


def _samples(model, sample_inputs, representative_data, seed):
    if sample_inputs is not None:
        return _as_input_dict(model, sample_inputs)
    if representative_data is not None:
        return _as_input_dict(model, _first_batch(representative_data))
    rng = np.random.default_rng(seed)
    samples = {}
    for name, shape in _input_specs(model).items():
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"input {name!r} has the shape {shape} with unknown non-batch "
                "dims: pass `sample_inputs` (or `representative_data`)"
            )
        samples[name] = rng.random((2,) + shape[1:]).astype("float32")
    return samples


def _representative_dataset(model, representative_data, limit=100):
    """A converter generator yielding one-sample dicts keyed by input name."""

    def generator():
        count = 0
        data = representative_data
        if not isinstance(data, tf.data.Dataset):
            data = [data]
        for batch in data:
            if isinstance(batch, tuple) and len(batch) == 2 and model.inputs:
                if len(model.inputs) == 1 and not isinstance(batch[0], dict):
                    batch = batch[0]
            batch = _as_input_dict(model, tf.nest.map_structure(np.asarray, batch))
            size = len(next(iter(batch.values())))
            for i in range(size):
                yield {k: v[i : i + 1].astype("float32") for k, v in batch.items()}
                count += 1
                if count >= limit:
                    return

    return generator


def _unsupported_ops(message):
    """Op names that a converter error says have no builtin kernel."""
    names = set(re.findall(r"'?tf\.([A-Za-z0-9_]+)'?", message))
    names |= set(re.findall(r"Flex([A-Za-z0-9_]+)", message))
    return sorted(names)


def convert_to_tflite(
    saved_model_dir, quantize=None, representative_data=None, model=None
):
    """Convert a SavedModel to a TFLite flatbuffer with builtin ops only.

    Args:
        saved_model_dir: a SavedModel directory (e.g. from `model.export`).
        quantize: `None`, `"float16"` (weights stored in float16) or
            `"int8"` (post-training integer quantization of weights and
            activations, calibrated on `representative_data`; inputs and
            outputs stay float32).
        representative_data: calibration inputs for `"int8"`: an array, a
            list/dict of arrays, or a `tf.data.Dataset` of batches.
        model: the Keras model (needed with `"int8"`, for the input names).

    Returns:
        The flatbuffer (`bytes`).

    Raises:
        ValueError: naming the op(s) if the graph needs a non-builtin op.
    """
    _check_quantize(quantize)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if representative_data is None or model is None:
            raise ValueError(
                'quantize="int8" needs `representative_data` (calibration inputs)'
            )
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative_dataset(
            model, representative_data
        )
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
    try:
        flatbuffer = converter.convert()
    except Exception as error:  # ConverterError has no public import path
        ops = _unsupported_ops(str(error))
        raise ValueError(
            "TFLite conversion with builtin ops only failed"
            + (f"; the graph needs the non-builtin op(s) {ops}" if ops else "")
            + ". Use this package's gather-based layers (e.g. `Resize`) "
            f"instead of TF image ops. Converter message: {str(error)[-600:]}"
        ) from error
    ops = tflite_ops(flatbuffer)
    flex = [op for op in ops if op.startswith("Flex") or op == "CUSTOM"]
    if flex:
        raise ValueError(f"the TFLite model needs non-builtin op(s) {flex}")
    return flatbuffer


def tflite_ops(flatbuffer):
    """Sorted names of the TFLite ops in a flatbuffer (before delegation)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=flatbuffer,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def run_tflite(flatbuffer, inputs):
    """Run the serving signature of a TFLite flatbuffer in `ai_edge_litert`.

    Args:
        flatbuffer: the model (`bytes`).
        inputs: a dict `{input name: array}`, or one array for a
            single-input model; tensors are resized to the given shapes
            first (dynamic batch).

    Returns:
        The outputs as a list, in the SavedModel's output order
        (`output_0`, `output_1`, ...).
    """
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=flatbuffer).get_signature_runner(SIGNATURE)
    details = runner.get_input_details()
    if not isinstance(inputs, dict):
        if len(details) != 1:
            raise ValueError(f"the model has inputs {sorted(details)}: pass a dict")
        inputs = {next(iter(details)): inputs}
    feed = {
        name: np.asarray(value).astype(details[name]["dtype"])
        for name, value in inputs.items()
    }
    outputs = runner(**feed)
    return [outputs[k] for k in sorted(outputs, key=_output_index)]


def _output_index(name):
    match = re.search(r"(\d+)$", name)
    return (int(match.group(1)) if match else 0, name)


def _flat_outputs(outputs):
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs, key=_output_index)]
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in tf.nest.flatten(outputs)]


def _max_diff(actual, expected):
    if len(actual) != len(expected):
        raise AssertionError(f"{len(actual)} outputs against {len(expected)}")
    return max(
        float(np.max(np.abs(a.astype(np.float64) - e.astype(np.float64))))
        if e.size
        else 0.0
        for a, e in zip(actual, expected, strict=True)
    )


def export(
    model,
    path,
    formats=FORMATS,
    quantize=None,
    representative_data=None,
    sample_inputs=None,
    seed=0,
    verbose=True,
):
    """Export a model (any model that holds this package's layers).

    Args:
        model: a built `keras.Model`.
        path: output directory; receives `saved_model/` and/or `model.tflite`.
        formats: any of `"saved_model"`, `"tflite"`.
        quantize: `None`, `"float16"` or `"int8"` (TFLite only).
        representative_data: calibration inputs, required for `"int8"` (an
            array, list/dict of arrays or a `tf.data.Dataset` of batches, or
            of `(inputs, labels)`); its first batch is also the default
            sample input.
        sample_inputs: inputs for the Keras/SavedModel/TFLite comparison
            (default: `representative_data`'s first batch, else uniform
            random values in [0, 1) with a batch of 2, which needs fully
            known non-batch input dims).
        seed: seed of the random sample inputs.
        verbose: print the report.

    Returns:
        An `ExportReport`.

    Example:

    >>> import tempfile
    >>> inputs = keras.Input((64, 64, 3))
    >>> outputs = keras_resize.layers.Resize(16, 16, "area")(inputs)
    >>> model = keras.Model(inputs, outputs)
    >>> report = export(model, tempfile.mkdtemp(), verbose=False)
    >>> report.max_abs_diff["tflite"] < 1e-5
    True
    >>> sorted(report.files)
    ['saved_model', 'tflite']

    Convention: inputs and outputs keep the Keras model's layout and dtype
    (float32 at the boundary, also for `"int8"`); the batch dim is dynamic
    in both exports, other dims as in `model.inputs`.
    """
    start = time.perf_counter()
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(formats)
    if not formats:
        raise ValueError("formats is empty: pass 'saved_model' and/or 'tflite'")
    for fmt in formats:
        check_choice("format", fmt, FORMATS)
    _check_quantize(quantize)
    if quantize is not None and "tflite" not in formats:
        raise ValueError(f"quantize={quantize!r} applies to TFLite only")
    if quantize == "int8" and representative_data is None:
        raise ValueError('quantize="int8" needs `representative_data`')
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    samples = _samples(model, sample_inputs, representative_data, seed)
    keras_outputs = _flat_outputs(
        model(samples if len(samples) > 1 else next(iter(samples.values())))
    )

    files, diffs, ops, batches = {}, {}, [], []
    with tempfile.TemporaryDirectory() as tmp:
        saved_model_dir = (
            path / SAVED_MODEL_DIR if "saved_model" in formats else Path(tmp) / "sm"
        )
        model.export(str(saved_model_dir), format="tf_saved_model", verbose=False)
        reloaded = tf.saved_model.load(str(saved_model_dir))
        serve = reloaded.signatures[SIGNATURE]
        sm_inputs = {k: tf.constant(v, tf.float32) for k, v in samples.items()}
        sm_outputs = _flat_outputs(serve(**sm_inputs))
        if "saved_model" in formats:
            diffs["saved_model"] = _max_diff(sm_outputs, keras_outputs)
            files["saved_model"] = {
                "path": str(saved_model_dir),
                "bytes": _directory_bytes(saved_model_dir),
            }
        signature_inputs = serve.structured_input_signature[1]
        inputs = {
            k: tuple(spec.shape.as_list()) for k, spec in signature_inputs.items()
        }
        if "tflite" in formats:
            flatbuffer = convert_to_tflite(
                saved_model_dir, quantize, representative_data, model
            )
            tflite_path = path / TFLITE_FILE
            tflite_path.write_bytes(flatbuffer)
            files["tflite"] = {"path": str(tflite_path), "bytes": len(flatbuffer)}
            ops = tflite_ops(flatbuffer)
            diffs["tflite"] = _max_diff(run_tflite(flatbuffer, samples), keras_outputs)
            batch = len(next(iter(samples.values())))
            batches = [batch]
            if batch > 1:  # a second batch size through the same interpreter path
                single = {k: v[:1] for k, v in samples.items()}
                expected = [o[:1] for o in keras_outputs]
                diffs["tflite"] = max(
                    diffs["tflite"], _max_diff(run_tflite(flatbuffer, single), expected)
                )
                batches.append(1)
    fixed = {
        name: [d for d in shape[1:] if d is not None] for name, shape in inputs.items()
    }
    report = ExportReport(
        files=files,
        tflite_ops=ops,
        max_abs_diff=diffs,
        inputs=inputs,
        fixed_sizes=fixed,
        dynamic_batch_checked=batches,
        quantize=quantize,
        seconds=time.perf_counter() - start,
    )
    if verbose:
        print(report)
    return report


__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "ExportReport",
    "convert_to_tflite",
    "export",
    "run_tflite",
    "tflite_ops",
]
