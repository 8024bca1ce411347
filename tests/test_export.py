"""`keras_resize.export`: SavedModel + TFLite (builtin ops only) with a report."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resize
from keras_resize import exporting
from keras_resize.data.photos import load_photo
from keras_resize.layers import DownsizeNetResize, LearnedResize, Resize

# Every public layer inside a small model: (name, layer factory, input shape).
LAYERS = [
    ("resize-area", lambda: Resize(16, 24, interpolation="area"), (48, 64, 3)),
    (
        "resize-antialias-bicubic",
        lambda: Resize(16, 24, "bicubic", antialias=True),
        (48, 64, 3),
    ),
    ("learned", lambda: LearnedResize(16, 16, num_res_blocks=1), (48, 48, 3)),
    (
        "downsizenet-patches",
        lambda: DownsizeNetResize(12, 20, feature_path="patches"),
        (40, 52, 3),
    ),
    (
        "downsizenet-full",
        lambda: DownsizeNetResize(
            24,
            24,
            neighborhood="bicubic",
            feature_path="full",
            initializer="glorot_uniform",
        ),
        (32, 40, 3),
    ),
]


def _model(factory, shape, head=True):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape, name="images")
    x = factory()(inputs)
    if head:  # a tiny classifier on top, as a user would build
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(3)(x)
    return keras.Model(inputs, x)


def _photos(shape, count=4):
    """Real photographs, centre crops resized to `shape` (values in [0, 1])."""
    names = ("astronaut", "chelsea", "coffee", "rocket")[:count]
    batch = []
    for name in names:
        image = load_photo(name)
        h, w = image.shape[:2]
        side = min(h, w)
        crop = image[(h - side) // 2 : (h + side) // 2, (w - side) // 2 :][:, :side]
        batch.append(tf.image.resize(crop, shape[:2], antialias=True).numpy())
    return np.clip(np.stack(batch), 0.0, 1.0).astype("float32")


@pytest.mark.parametrize("name,factory,shape", LAYERS, ids=[x[0] for x in LAYERS])
def test_every_layer_exports_float32(tmp_path, name, factory, shape):
    model = _model(factory, shape)
    report = keras_resize.export(model, tmp_path, verbose=False)
    assert report.max_abs_diff["saved_model"] < 1e-4
    assert report.max_abs_diff["tflite"] < 1e-4
    assert (tmp_path / "model.tflite").stat().st_size == report.files["tflite"]["bytes"]
    assert (tmp_path / "saved_model" / "saved_model.pb").exists()
    assert not [op for op in report.tflite_ops if "FLEX" in op.upper()]
    assert report.dynamic_batch_checked == [2, 1]
    assert report.inputs == {"images": (None,) + shape}
    assert report.fixed_sizes == {"images": list(shape)}
    assert "TFLite ops" in str(report)


def test_the_report_is_not_blind_to_a_wrong_export(tmp_path, monkeypatch):
    """If the TFLite outputs were off, the reported difference shows it."""
    model = _model(LAYERS[0][1], LAYERS[0][2], head=False)
    real = exporting.run_tflite
    monkeypatch.setattr(
        exporting, "run_tflite", lambda fb, x: [o + 0.5 for o in real(fb, x)]
    )
    report = keras_resize.export(model, tmp_path, verbose=False)
    assert report.max_abs_diff["tflite"] == pytest.approx(0.5, abs=1e-5)
    assert report.max_abs_diff["saved_model"] < 1e-5


def test_float16_on_real_images(tmp_path):
    shape = (64, 64, 3)
    photos = _photos(shape)
    model = _model(lambda: LearnedResize(32, 32, num_res_blocks=1), shape, head=False)
    full = keras_resize.export(
        model, tmp_path / "f32", sample_inputs=photos, verbose=False
    )
    half = keras_resize.export(
        model, tmp_path / "f16", quantize="float16", sample_inputs=photos, verbose=False
    )
    # Stated tolerance: float16 weights, float32 compute: 1e-2 on [0, 1]
    # images (measured 4e-4).
    assert half.max_abs_diff["tflite"] < 1e-2
    assert half.max_abs_diff["tflite"] > full.max_abs_diff["tflite"]
    assert half.files["tflite"]["bytes"] < 0.7 * full.files["tflite"]["bytes"]


@pytest.mark.parametrize(
    "factory,tolerance",
    [
        (lambda: Resize(32, 32, interpolation="area"), 0.03),  # measured 0.006
        (lambda: LearnedResize(32, 32, num_res_blocks=1), 0.05),  # measured 0.024
    ],
    ids=["area", "learned"],
)
def test_int8_on_real_images(tmp_path, factory, tolerance):
    shape = (64, 64, 3)
    photos = _photos(shape)
    model = _model(factory, shape, head=False)
    report = keras_resize.export(
        model,
        tmp_path,
        formats="tflite",
        quantize="int8",
        representative_data=photos,
        verbose=False,
    )
    # Stated tolerance: 8-bit weights and activations on [0, 1] images.
    assert report.max_abs_diff["tflite"] < tolerance
    assert report.files == {"tflite": report.files["tflite"]}
    assert "QUANTIZE" in report.tflite_ops or "DEQUANTIZE" in report.tflite_ops


def test_representative_data_as_a_dataset_of_pairs(tmp_path):
    shape = (32, 32, 3)
    photos = _photos(shape)
    dataset = tf.data.Dataset.from_tensor_slices((photos, np.arange(4))).batch(2)
    model = _model(lambda: Resize(16, 16), shape, head=False)
    report = keras_resize.export(
        model,
        tmp_path,
        formats=["tflite"],
        quantize="int8",
        representative_data=dataset,
        verbose=False,
    )
    assert report.dynamic_batch_checked == [2, 1]  # first batch of the dataset
    assert report.max_abs_diff["tflite"] < 0.03


def test_multi_input_multi_output_model(tmp_path):
    images = keras.Input((32, 32, 3), name="images")
    extra = keras.Input((4,), name="extra")
    small = Resize(8, 8, "area")(images)
    model = keras.Model([images, extra], [small, keras.layers.Dense(2)(extra)])
    samples = {
        "images": np.random.default_rng(0).random((3, 32, 32, 3)).astype("float32"),
        "extra": np.ones((3, 4), "float32"),
    }
    report = keras_resize.export(model, tmp_path, sample_inputs=samples, verbose=False)
    assert report.max_abs_diff["tflite"] < 1e-5
    assert set(report.inputs) == {"images", "extra"}
    assert report.dynamic_batch_checked == [3, 1]


def test_dynamic_spatial_inputs_need_sample_inputs(tmp_path):
    inputs = keras.Input((None, None, 3), name="images")
    model = keras.Model(inputs, Resize(8, 8)(inputs))
    with pytest.raises(ValueError, match="sample_inputs"):
        keras_resize.export(model, tmp_path, verbose=False)
    sample = np.random.default_rng(0).random((2, 20, 30, 3)).astype("float32")
    report = keras_resize.export(model, tmp_path, sample_inputs=sample, verbose=False)
    assert report.inputs == {"images": (None, None, None, 3)}
    assert report.fixed_sizes == {"images": [3]}
    assert report.max_abs_diff["tflite"] < 1e-5


def test_tf_area_resize_fails_with_the_op_named(tmp_path):
    class TfArea(keras.layers.Layer):
        def call(self, x):
            return tf.image.resize(x, (8, 8), method="area")

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, TfArea()(inputs))
    with pytest.raises(ValueError, match="ResizeArea"):
        keras_resize.export(model, tmp_path, verbose=False)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(formats=("coreml",)), "coreml"),
        (dict(formats=()), "formats"),
        (dict(quantize="int4"), "int4"),
        (dict(quantize="int8"), "representative_data"),
        (dict(formats="saved_model", quantize="float16"), "TFLite only"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    model = _model(LAYERS[0][1], LAYERS[0][2], head=False)
    with pytest.raises(ValueError, match=match):
        keras_resize.export(model, tmp_path, verbose=False, **kwargs)


def test_not_a_model(tmp_path):
    with pytest.raises(ValueError, match="keras.Model"):
        keras_resize.export(Resize(4, 4), tmp_path, verbose=False)
