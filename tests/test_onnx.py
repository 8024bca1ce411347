"""ONNX export (`keras_resize.export(..., formats="onnx")`, issue 12 point 7).

Exported through Keras' `model.export(path, format="onnx")` on the TensorFlow
backend (`tf2onnx`), run in onnxruntime and compared with Keras. Every layer
exports to standard ONNX ops only (Gather, Mul, Add, Concat, Conv, ...).
"""

import keras
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import keras_resize  # noqa: E402
from keras_resize import exporting  # noqa: E402
from keras_resize.layers import LearnedResize, Resize, Unzoom, Zoom  # noqa: E402
from keras_resize.ops import RESIZE_METHODS  # noqa: E402

# The backend whose ONNX export this package documents and tests.
pytestmark = pytest.mark.tensorflow_only

METHODS = RESIZE_METHODS  # the package's one list of methods
TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def _tf2onnx():
    pytest.importorskip("tf2onnx")


def _images(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((batch, 24, 32, 3)).astype("float32")


def _assert_standard(op_types):
    assert op_types
    for op_type in op_types:
        assert "::" not in op_type, op_type
        assert onnx.defs.has(op_type, ""), op_type


def test_resize_every_method(tmp_path):
    inputs = keras.Input((24, 32, 3), name="images")
    outputs = [Resize(12, 16, interpolation=method)(inputs) for method in METHODS]
    outputs.append(Resize(12, 16, interpolation="bilinear", antialias=True)(inputs))
    model = keras.Model(inputs, keras.layers.Concatenate()(outputs))
    report = keras_resize.export(
        model, tmp_path, formats="onnx", sample_inputs=_images(), verbose=False
    )
    assert sorted(report.files) == ["onnx"]
    assert report.max_abs_diff["onnx"] < TOLERANCE
    _assert_standard(report.onnx_ops)
    # the whole resize is one weighted gather-and-sum per axis
    assert set(report.onnx_ops) <= {"Add", "Concat", "Gather", "Mul"}
    assert report.inputs == {"images": (None, 24, 32, 3)}
    assert report.dynamic_batch_checked == [2, 1]
    assert report.backend == "tensorflow"
    assert "ONNX ops: " in str(report)


def test_learned_resize(tmp_path):
    inputs = keras.Input((24, 32, 3))
    model = keras.Model(inputs, LearnedResize(12, 16, filters=8)(inputs))
    rng = np.random.default_rng(1)
    for weight in model.weights:  # non-trivial weights and batch-norm statistics
        value = rng.normal(size=weight.shape) * 0.1
        if "variance" in weight.path:
            value = np.abs(value) + 1.0
        weight.assign(value.astype("float32"))
    path = tmp_path / "learned.onnx"
    op_types = exporting.convert_to_onnx(model, path)
    _assert_standard(op_types)
    assert "Conv" in op_types and "Gather" in op_types
    images = _images(batch=1, seed=2)
    expected = np.asarray(keras.ops.convert_to_numpy(model(images)))
    (actual,) = exporting.run_onnx(path, images)
    np.testing.assert_allclose(actual, expected, atol=TOLERANCE)


def test_zoom_unzoom(tmp_path):
    saliency = np.ones((5, 7))
    saliency[2, 3] = 50.0
    inputs = keras.Input((24, 32, 3))
    zoomed = Zoom(12, 16, saliency=saliency, grid_shape=(5, 7))(inputs)
    unzoomed = Unzoom(saliency=saliency)(zoomed)
    model = keras.Model(inputs, [zoomed, unzoomed])
    report = keras_resize.export(
        model, tmp_path, formats=("onnx",), sample_inputs=_images(), verbose=False
    )
    assert report.max_abs_diff["onnx"] < TOLERANCE
    _assert_standard(report.onnx_ops)
    assert "Gather" in report.onnx_ops
    outputs = exporting.run_onnx(tmp_path / exporting.ONNX_FILE, _images())
    assert [o.shape for o in outputs] == [(2, 12, 16, 3), (2, 12, 16, 3)]


def test_export_restores_xla_fusion(tmp_path):
    from keras_resize.ops import sampling

    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, Resize(4, 4, "area")(inputs))
    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(True)
    try:
        exporting.convert_to_onnx(model, tmp_path / "m.onnx")
        assert sampling.xla_fusion_enabled()
    finally:
        sampling.set_xla_fusion(previous)


def test_nonstandard_op_is_named():
    helper = onnx.helper
    node = helper.make_node("Foo", ["x"], ["y"], domain="com.example")
    graph = helper.make_graph(
        [helper.make_node("Relu", ["in"], ["x"]), node],
        "g",
        [helper.make_tensor_value_info("in", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph)
    assert exporting.onnx_ops(model) == ["Relu", "com.example::Foo"]
    assert exporting._nonstandard_onnx_ops(model) == ["com.example::Foo"]


def test_tensorflow_formats_need_tensorflow(tmp_path, monkeypatch):
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, Resize(4, 4)(inputs))
    monkeypatch.setattr(exporting.keras.backend, "backend", lambda: "jax")
    assert exporting.default_formats() == ("onnx",)
    with pytest.raises(ValueError, match="TensorFlow backend"):
        exporting.export(model, tmp_path, formats="tflite", verbose=False)
