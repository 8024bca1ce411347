"""One-call export of a Keras model to SavedModel, TFLite and ONNX, with a report.

`keras_resize.export(model, path)` writes a SavedModel and a TFLite flatbuffer converted
with **builtin ops only** (no Flex/SELECT_TF_OPS, which `ai_edge_litert`
cannot run), optionally float16- or int8-quantized, and/or an ONNX file with
**standard ONNX ops only** (`formats=("onnx",)`), then runs Keras and every
export on the same sample inputs and reports the largest difference between
them. Every layer of this package is written with gathers, arithmetic and
convolutions, so any model built from them exports; a graph that still needs a
non-builtin (TFLite) or non-standard (ONNX) op fails with a `ValueError`
naming the op.

SavedModel and TFLite need the TensorFlow backend. ONNX goes through Keras'
`model.export(path, format="onnx")`: on TensorFlow that is `tf2onnx` (the
backend this package documents for ONNX, with the sampler's nested XLA
fusion switched off during the export), on PyTorch `torch.onnx`. TensorFlow
is imported only by the TensorFlow formats.
"""

import contextlib
import dataclasses
import importlib
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from keras_resize.ops.validation import check_choice

FORMATS = ("saved_model", "tflite", "onnx")
TENSORFLOW_FORMATS = ("saved_model", "tflite")
QUANTIZATIONS = (None, "float16", "int8")
ONNX_FILE = "model.onnx"
# The default ONNX operator set ("" and its alias "ai.onnx"): no custom domains.
STANDARD_ONNX_DOMAINS = ("", "ai.onnx")


def _tensorflow(feature):
    """TensorFlow for a TensorFlow-only format, with a one-line error."""
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"{feature} export needs the TensorFlow backend (KERAS_BACKEND="
            f"tensorflow); the backend is {keras.backend.backend()}: use "
            'formats=("onnx",)'
        )
    from keras_resize.backend import tensorflow

    return tensorflow()


def default_formats():
    """`("saved_model", "tflite")` on TensorFlow, `("onnx",)` on other backends."""
    if keras.backend.backend() == "tensorflow":
        return TENSORFLOW_FORMATS
    return ("onnx",)


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
        max_abs_diff: `{"saved_model": float, "tflite": float, "onnx":
            float}` (the formats written): largest absolute difference from
            the Keras outputs on the sample inputs.
        inputs: `{input name: shape}` with `None` for dims that stay dynamic
            in the SavedModel (the batch at least), or in the ONNX graph
            when no SavedModel is written.
        fixed_sizes: `{input name: [fixed non-batch dims]}`: the sizes a
            caller cannot change (a `None` spatial dim of the Keras model is
            dynamic in the SavedModel; TFLite resizes only what its signature
            allows).
        dynamic_batch_checked: batch sizes the TFLite (else ONNX) model was
            run with.
        quantize: the quantization used (`None`, `"float16"` or `"int8"`).
        seconds: wall time of the whole export.
        onnx_ops: sorted ONNX op types in the graph (standard domain only).
        backend: the Keras backend that exported.
    """

    files: dict
    tflite_ops: list
    max_abs_diff: dict
    inputs: dict
    fixed_sizes: dict
    dynamic_batch_checked: list
    quantize: str | None
    seconds: float
    onnx_ops: list = dataclasses.field(default_factory=list)
    backend: str = "tensorflow"

    def to_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        lines = [
            f"export report ({self.backend}, quantize={self.quantize}, "
            f"{self.seconds:.1f} s)"
        ]
        for name, info in self.files.items():
            lines.append(f"  {name}: {info['path']} ({info['bytes'] / 1e6:.2f} MB)")
        for name, diff in self.max_abs_diff.items():
            lines.append(f"  max |keras - {name}| = {diff:.3g}")
        if self.tflite_ops:
            lines.append(f"  TFLite ops: {', '.join(self.tflite_ops)}")
        if self.onnx_ops:
            lines.append(f"  ONNX ops: {', '.join(self.onnx_ops)}")
        for name, shape in self.inputs.items():
            lines.append(f"  input {name}: {shape}")
        if self.dynamic_batch_checked:
            lines.append(
                "  run with batch sizes "
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


def _input_aliases(model):
    """For each model input (in `model.inputs` order), the keys it goes by.

    The first is the tensor's name, the name of the input in the SavedModel
    and TFLite signatures (`keras_tensor_N` for an unnamed `keras.Input`);
    then the name of its `InputLayer` (what `model({...})` asks for, the
    same as the tensor's name for a named `keras.Input`) and, for a model
    built on a dict of inputs, its key.
    """
    struct = getattr(model, "_inputs_struct", None)
    struct_keys = {}
    if isinstance(struct, dict):
        struct_keys = {id(tensor): key for key, tensor in struct.items()}
    aliases = []
    for tensor in model.inputs:
        names = [tensor.name]
        history = getattr(tensor, "_keras_history", None)
        if history is not None:
            names.append(history[0].name)
        if id(tensor) in struct_keys:
            names.append(struct_keys[id(tensor)])
        aliases.append(list(dict.fromkeys(names)))
    return aliases


def _as_input_dict(model, inputs):
    """`{signature name: array}` in `model.inputs` order.

    A dict may be keyed by any of the names in `_input_aliases`.
    """
    aliases = _input_aliases(model)
    names = [keys[0] for keys in aliases]
    if isinstance(inputs, dict):
        samples, missing = {}, []
        for keys in aliases:
            found = [key for key in keys if key in inputs]
            if not found:
                missing.append(keys[0] if len(keys) == 1 else " or ".join(keys))
            else:
                samples[keys[0]] = np.asarray(inputs[found[0]])
        known = {key for keys in aliases for key in keys}
        unknown = sorted(set(inputs) - known, key=str)
        if missing or unknown:
            raise ValueError(
                f"Expected the sample inputs keyed by the model's input names "
                f"{names}. Received: keys {sorted(inputs, key=str)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; not model inputs {unknown}" if unknown else "")
            )
        return samples
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


def _keras_inputs(model, samples):
    """The `_as_input_dict` samples in the structure that `model(...)` takes."""
    values = list(samples.values())
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, dict):
        keys = {id(tensor): key for key, tensor in struct.items()}
        return {
            keys[id(tensor)]: value
            for tensor, value in zip(model.inputs, values, strict=True)
        }
    if len(values) == 1:
        return values[0]
    return values


def _first_batch(data):
    """The first element of an array, a list of arrays or a dataset."""
    tf = sys.modules.get("tensorflow")  # a Dataset means TensorFlow is imported
    if tf is not None and isinstance(data, tf.data.Dataset):
        data = next(iter(data))
        if isinstance(data, tuple) and len(data) == 2:
            data = data[0]  # (inputs, labels)
        return keras.tree.map_structure(np.asarray, data)
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

    tf = _tensorflow("TFLite")

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
    tf = _tensorflow("TFLite")
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
        with warnings.catch_warnings():
            # int8 calibration runs TF's own deprecated `tf.lite.Interpreter`
            # and warns about it; this package runs models in ai_edge_litert
            warnings.filterwarnings(
                "ignore", message=r"[\s\S]*tf\.lite\.Interpreter is deprecated"
            )
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

    from keras_resize.console import _stderr_to_devnull

    with _stderr_to_devnull():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
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
    with _stderr_to_devnull():  # the delegate is applied on the first run
        outputs = runner(**feed)
    return [outputs[k] for k in sorted(outputs, key=_output_index)]


def _onnx_modules():
    """`onnx`, `onnxruntime` and the backend's exporter, with a one-line error."""
    backend = keras.backend.backend()
    exporter = {"tensorflow": "tf2onnx", "jax": "jax2onnx", "torch": "onnxscript"}
    needed = ["onnx", "onnxruntime"]
    if backend in exporter:
        needed.append(exporter[backend])
    missing = []
    for module in needed:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(
            f"ONNX export on the {backend} backend needs {', '.join(needed)}: "
            f"pip install {' '.join(missing)}"
        )
    return sys.modules["onnx"], sys.modules["onnxruntime"]


@contextlib.contextmanager
def _without_xla_fusion():
    """Switch the sampler's nested `tf.function(jit_compile=True)` off.

    `tf2onnx` cannot convert a nested function call (it stays a
    `PartitionedCall` node); unfused, the sampler is plain Gather/Mul/Add.
    """
    from keras_resize.ops import sampling

    enabled = getattr(sampling, "xla_fusion_enabled", lambda: False)()
    if enabled:
        sampling.set_xla_fusion(False)
    try:
        yield
    finally:
        if enabled:
            sampling.set_xla_fusion(True)


def _graph_nodes(graph):
    """Every node of an ONNX graph, subgraphs (If / Loop / Scan) included."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _graph_nodes(attribute.g)
            for subgraph in attribute.graphs:
                yield from _graph_nodes(subgraph)


def _model_nodes(model_proto):
    yield from _graph_nodes(model_proto.graph)
    for function in model_proto.functions:
        yield from function.node


def _as_onnx_model(model_or_path):
    onnx, _ = _onnx_modules()
    if isinstance(model_or_path, (str, Path)):
        return onnx.load(str(model_or_path))
    return model_or_path


def onnx_ops(model_or_path):
    """Sorted op types of an ONNX model (a path or a `ModelProto`).

    Ops outside the standard domain are named `"domain::OpType"`.
    """
    model_proto = _as_onnx_model(model_or_path)
    return sorted(
        {
            node.op_type
            if node.domain in STANDARD_ONNX_DOMAINS
            else f"{node.domain}::{node.op_type}"
            for node in _model_nodes(model_proto)
        }
    )


def _nonstandard_onnx_ops(model_proto):
    """Ops that are not in the standard ONNX operator set (nor local functions)."""
    import onnx

    local = {(f.domain, f.name) for f in model_proto.functions}
    bad = set()
    for node in _model_nodes(model_proto):
        if (node.domain, node.op_type) in local:
            continue
        if node.domain not in STANDARD_ONNX_DOMAINS or not onnx.defs.has(
            node.op_type, ""
        ):
            bad.add(f"{node.domain or 'ai.onnx'}::{node.op_type}")
    return sorted(bad)


def convert_to_onnx(model, filepath, opset_version=None):
    """Export a Keras model to ONNX with standard ops only.

    Runs Keras' `model.export(filepath, format="onnx")` (TensorFlow:
    `tf2onnx`, with the sampler's nested XLA fusion switched off for the
    export; PyTorch: `torch.onnx`; JAX: `jax2onnx`), then checks the graph.

    Args:
        model: a built `keras.Model`.
        filepath: the `.onnx` file to write.
        opset_version: the ONNX opset (default: the exporter's).

    Returns:
        The sorted op types of the graph.

    Raises:
        ValueError: naming the op(s) if the graph needs an op outside the
            standard ONNX operator set (e.g. an unconverted TensorFlow op).
    """
    onnx, _ = _onnx_modules()
    filepath = Path(filepath)
    filepath.parent.mkdir(parents=True, exist_ok=True)
    fusion_off = (
        _without_xla_fusion()
        if keras.backend.backend() == "tensorflow"
        else contextlib.nullcontext()
    )
    if not getattr(model, "_called", True) and model.inputs:
        # Keras exports only a model that has been called once.
        shapes = [tuple(t.shape[1:]) for t in model.inputs]
        if any(d is None for shape in shapes for d in shape):
            raise ValueError(
                "call the model once before the ONNX export (its input shapes "
                f"{shapes} have unknown dims)"
            )
        zeros = [
            np.zeros((1, *s), t.dtype)
            for s, t in zip(shapes, model.inputs, strict=True)
        ]
        model(_keras_inputs(model, dict(enumerate(zeros))))
    with fusion_off, warnings.catch_warnings():
        # Keras' tf2onnx shim probes `np.object` on import (a numpy
        # FutureWarning that is not the user's business)
        warnings.filterwarnings("ignore", message=r"In the future `np\.object`")
        model.export(
            str(filepath), format="onnx", verbose=False, opset_version=opset_version
        )
    model_proto = onnx.load(str(filepath))
    bad = _nonstandard_onnx_ops(model_proto)
    if bad:
        raise ValueError(
            f"the ONNX graph needs op(s) outside the standard ONNX set: {bad}. "
            "Use this package's gather-based layers (e.g. `Resize`) instead of "
            "framework image ops."
        )
    onnx.checker.check_model(model_proto)
    return onnx_ops(model_proto)


_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


def _onnx_session(path):
    _, onnxruntime = _onnx_modules()
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def onnx_input_shapes(path):
    """`{input name: shape}` of an ONNX model, `None` for symbolic dims."""
    return {
        detail.name: tuple(d if isinstance(d, int) else None for d in detail.shape)
        for detail in _onnx_session(path).get_inputs()
    }


def run_onnx(path, inputs):
    """Run an ONNX model in onnxruntime (CPU).

    Args:
        path: the `.onnx` file.
        inputs: a dict `{input name: array}` (keyed by the ONNX input names,
            or by the Keras input names in the model's input order), a list
            of arrays in input order, or one array for a single-input model.

    Returns:
        The outputs as a list, in the graph's output order (the order of
        the Keras model's flattened outputs).
    """
    session = _onnx_session(path)
    details = session.get_inputs()
    names = [detail.name for detail in details]
    if isinstance(inputs, dict):
        if set(inputs) != set(names):
            if len(inputs) != len(names):
                raise ValueError(
                    f"the ONNX model has inputs {names}; got {sorted(inputs)}"
                )
            inputs = list(inputs.values())  # Keras input order
    if not isinstance(inputs, (dict, list, tuple)):
        inputs = [inputs]
    if not isinstance(inputs, dict):
        if len(inputs) != len(names):
            raise ValueError(f"the ONNX model has inputs {names}: got {len(inputs)}")
        inputs = dict(zip(names, inputs, strict=True))
    feed = {
        detail.name: np.asarray(inputs[detail.name]).astype(
            _ONNX_TYPES.get(detail.type, "float32")
        )
        for detail in details
    }
    return [np.asarray(o) for o in session.run(None, feed)]


def _output_index(name):
    match = re.search(r"(\d+)$", name)
    return (int(match.group(1)) if match else 0, name)


def _flat_outputs(outputs):
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs, key=_output_index)]
    return [
        np.asarray(keras.ops.convert_to_numpy(o)) for o in keras.tree.flatten(outputs)
    ]


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
    formats=None,
    quantize=None,
    representative_data=None,
    sample_inputs=None,
    seed=0,
    verbose=True,
):
    """Export a model (any model that holds this package's layers).

    Args:
        model: a built `keras.Model`.
        path: output directory; receives `saved_model/`, `model.tflite`
            and/or `model.onnx`.
        formats: any of `"saved_model"`, `"tflite"` (TensorFlow backend
            only) and `"onnx"` (standard ONNX ops only, checked in
            onnxruntime); default `default_formats()`: SavedModel and TFLite
            on TensorFlow, ONNX on the other backends.
        quantize: `None`, `"float16"` or `"int8"` (TFLite only).
        representative_data: calibration inputs, required for `"int8"` (an
            array, list/dict of arrays or a `tf.data.Dataset` of batches, or
            of `(inputs, labels)`); its first batch is also the default
            sample input.
        sample_inputs: inputs for the comparison of Keras with every export:
            an array, a list in `model.inputs` order, or a dict keyed by
            the input tensors' names (those of the exported signatures) or
            by the names `model({...})` takes (default:
            `representative_data`'s first batch, else uniform
            random values in [0, 1) with a batch of 2, which needs fully
            known non-batch input dims).
        seed: seed of the random sample inputs.
        verbose: print the report.

    Returns:
        An `ExportReport`.

    Raises:
        ValueError: for a non-builtin TFLite op or a non-standard ONNX op
            (naming it), or a TensorFlow-only format on another backend.

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
    in every export made on TensorFlow, other dims as in `model.inputs`.
    """
    start = time.perf_counter()
    if formats is None:
        formats = default_formats()
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(formats)
    if not formats:
        raise ValueError("formats is empty: pass 'saved_model', 'tflite' and/or 'onnx'")
    for fmt in formats:
        check_choice("format", fmt, FORMATS)
    _check_quantize(quantize)
    if quantize is not None and "tflite" not in formats:
        raise ValueError(f"quantize={quantize!r} applies to TFLite only")
    if quantize == "int8" and representative_data is None:
        raise ValueError('quantize="int8" needs `representative_data`')
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    tensorflow_formats = [fmt for fmt in formats if fmt in TENSORFLOW_FORMATS]
    if tensorflow_formats:
        tf = _tensorflow(" and ".join(tensorflow_formats))
    if "onnx" in formats:
        _onnx_modules()  # fail early if onnx / onnxruntime / the exporter is missing
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    samples = _samples(model, sample_inputs, representative_data, seed)
    keras_outputs = _flat_outputs(model(_keras_inputs(model, samples)))
    batch = len(next(iter(samples.values())))

    files, diffs, ops, batches, inputs = {}, {}, [], [], {}
    if tensorflow_formats:
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
                diffs["tflite"] = _max_diff(
                    run_tflite(flatbuffer, samples), keras_outputs
                )
                batches = [batch]
                if batch > 1:  # a second batch size through the same interpreter
                    single = {k: v[:1] for k, v in samples.items()}
                    expected = [o[:1] for o in keras_outputs]
                    diffs["tflite"] = max(
                        diffs["tflite"],
                        _max_diff(run_tflite(flatbuffer, single), expected),
                    )
                    batches.append(1)
    onnx_op_types = []
    if "onnx" in formats:
        onnx_path = path / ONNX_FILE
        onnx_op_types = convert_to_onnx(model, onnx_path)
        files["onnx"] = {"path": str(onnx_path), "bytes": onnx_path.stat().st_size}
        onnx_inputs = onnx_input_shapes(onnx_path)
        fixed_batch = {s[0] for s in onnx_inputs.values() if s and s[0] is not None}
        sizes = [batch] if not fixed_batch else sorted(fixed_batch)
        if not fixed_batch and batch > 1:
            sizes.append(1)  # a second batch size: the batch dim is dynamic
        diffs["onnx"] = 0.0
        for size in sizes:
            if size > batch:
                continue
            feed = {k: v[:size] for k, v in samples.items()}
            expected = [o[:size] for o in keras_outputs]
            diffs["onnx"] = max(
                diffs["onnx"], _max_diff(run_onnx(onnx_path, feed), expected)
            )
        if not inputs:
            inputs = onnx_inputs
        if not batches:
            batches = [size for size in sizes if size <= batch]
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
        onnx_ops=onnx_op_types,
        backend=keras.backend.backend(),
    )
    if verbose:
        print(report)
    return report


__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "ExportReport",
    "convert_to_onnx",
    "convert_to_tflite",
    "default_formats",
    "export",
    "onnx_input_shapes",
    "onnx_ops",
    "run_onnx",
    "run_tflite",
    "tflite_ops",
]
