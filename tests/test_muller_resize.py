"""`MullerResize` (MULLER, Tu, Milanfar & Talebi 2023) and its folded taps."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_resize import pretrained
from keras_resize.layers import MullerResize, get_resizer
from keras_resize.layers.muller_resize import PRESET, PRESET_VALUES
from keras_resize.ops import muller
from keras_resize.ops.resize import resize

ROOT = Path(__file__).resolve().parents[1]


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _images(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _with_values(layer, values, input_shape):
    if not layer.built:
        layer.build(input_shape)
    for (weight, bias), (w, b) in zip(
        zip(layer.detail_weights, layer.detail_biases, strict=True),
        zip(values[::2], values[1::2], strict=True),
        strict=True,
    ):
        weight.assign(w)
        bias.assign(b)
    return layer


def _numpy_blur(x, kernel_size=5, stddev=1.0):
    """Separable Gaussian blur with zero padding ("same"), NHWC, numpy."""
    taps = muller.gaussian_taps(kernel_size, stddev)
    radius = kernel_size // 2
    out = x.astype(np.float64)
    for axis in (1, 2):
        padded = np.pad(
            out, [(radius, radius) if a == axis else (0, 0) for a in range(4)]
        )
        size = out.shape[axis]
        out = sum(
            taps[t] * np.take(padded, np.arange(t, t + size), axis=axis)
            for t in range(kernel_size)
        )
    return out


def _numpy_pool(x, strides):
    sy, sx = strides
    b, h, w, c = x.shape
    h, w = h // sy, w // sx
    x = x[:, : h * sy, : w * sx]
    return x.reshape(b, h, sy, w, sx, c).mean(axis=(2, 4))


def _reference(x, size, values, method="bilinear", antialias=False, avg_pool=False):
    """The formula as written: blurs at input resolution, then resizes."""
    strides = muller.pool_strides(x.shape[1], x.shape[2], *size) if avg_pool else (1, 1)

    def base(v):
        if strides != (1, 1):
            v = _numpy_pool(v, strides)
        out = resize(v.astype(np.float32), size, method=method, antialias=antialias)
        return _np(out).astype(np.float64)

    y = base(x)
    current = x.astype(np.float64)
    for w, b in zip(values[::2], values[1::2], strict=True):
        blurred = _numpy_blur(current)
        y = y + np.tanh(w * base(blurred - current) + b)
        current = blurred
    return y


CASES = [
    ((2, 24, 20, 3), (8, 10), {}),
    ((1, 17, 23, 2), (7, 5), {"interpolation": "bicubic", "antialias": True}),
    ((1, 32, 32, 1), (8, 8), {"interpolation": "area"}),
    ((1, 33, 40, 3), (8, 10), {"avg_pool": True}),
    ((1, 9, 12, 3), (14, 20), {}),  # Upsizing.
    ((1, 16, 16, 3), (16, 16), {"interpolation": "lanczos3", "antialias": True}),
]


@pytest.mark.parametrize("implementation", ["folded", "direct"])
@pytest.mark.parametrize("shape,size,kwargs", CASES)
def test_matches_numpy_reference(shape, size, kwargs, implementation):
    x = _images(shape)
    values = PRESET_VALUES
    layer = MullerResize(*size, implementation=implementation, **kwargs)
    _with_values(layer, values, shape)
    expected = _reference(
        x,
        size,
        values,
        method=kwargs.get("interpolation", "bilinear"),
        antialias=kwargs.get("antialias", False),
        avg_pool=kwargs.get("avg_pool", False),
    )
    np.testing.assert_allclose(_np(layer(x)), expected, atol=2e-5, rtol=0)


@pytest.mark.parametrize("shape,size,kwargs", CASES)
def test_folded_equals_direct(shape, size, kwargs):
    x = _images(shape, seed=1)
    layer = MullerResize(*size, num_layers=3, **kwargs)
    _with_values(layer, (0.7, 0.1, -3.0, 0.02, 5.0, -0.1), shape)
    folded = [_np(t) for t in layer.terms(x, "folded")]
    direct = [_np(t) for t in layer.terms(x, "direct")]
    for a, b in zip(folded, direct, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    out_folded = _np(layer(x))
    direct_layer = MullerResize(*size, num_layers=3, implementation="direct", **kwargs)
    _with_values(direct_layer, (0.7, 0.1, -3.0, 0.02, 5.0, -0.1), shape)
    np.testing.assert_allclose(out_folded, _np(direct_layer(x)), atol=1e-5, rtol=0)


def test_zero_weights_are_exactly_the_base_resize():
    x = _images((2, 40, 30, 3))
    for kwargs in ({}, {"interpolation": "bicubic", "antialias": True}):
        layer = MullerResize(10, 12, **kwargs)
        out = _np(layer(x))
        assert layer.count_params() == 4
        expected = _np(
            resize(
                x,
                (10, 12),
                method=kwargs.get("interpolation", "bilinear"),
                antialias=kwargs.get("antialias", False),
            )
        )
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(out, _np(layer.fixed_resize(x)))


@pytest.mark.parametrize(
    "method", ["nearest", "bilinear", "bicubic", "area", "lanczos3", "gaussian"]
)
@pytest.mark.parametrize("antialias", [False, True])
def test_resize_matrix_matches_resize(method, antialias):
    for n, m in ((37, 11), (11, 37), (20, 20), (64, 16)):
        basis = np.eye(n, dtype=np.float32)[None, :, None, :]  # rows resized
        out = _np(resize(basis, (m, 1), method=method, antialias=antialias))
        np.testing.assert_allclose(
            out[0, :, 0, :],
            muller.resize_matrix(n, m, method, antialias),
            atol=1e-6,
            rtol=0,
        )


def test_folded_taps_are_the_matrices():
    matrices = muller.term_matrices(448, 224, num_layers=2)
    taps = muller.folded_taps(448, 224)
    assert [indices.shape[1] for indices, _ in taps] == [2, 6, 10]
    for matrix, (indices, weights) in zip(matrices, taps, strict=True):
        rebuilt = np.zeros_like(matrix)
        np.add.at(
            rebuilt,
            (np.arange(224)[:, None].repeat(indices.shape[1], 1), indices),
            weights,
        )
        np.testing.assert_allclose(rebuilt, matrix, atol=1e-12)
    # With pooling (stride 2), the base is resize (o) pool.
    pooled = muller.term_matrices(64, 8, stride=2)[0]
    np.testing.assert_allclose(
        pooled, muller.resize_matrix(32, 8) @ muller.pool_matrix(64, 2)
    )


def test_channels_first_and_rank_3():
    x = _images((2, 24, 20, 3))
    last = _with_values(MullerResize(8, 10), PRESET_VALUES, x.shape)
    first = _with_values(
        MullerResize(8, 10, data_format="channels_first"),
        PRESET_VALUES,
        (2, 3, 24, 20),
    )
    expected = _np(last(x))
    out = _np(first(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_allclose(np.transpose(out, (0, 2, 3, 1)), expected, atol=1e-6)
    assert first.compute_output_shape((2, 3, 24, 20)) == (2, 3, 8, 10)
    assert last.compute_output_shape((None, 24, 20, 3)) == (None, 8, 10, 3)
    np.testing.assert_allclose(_np(last(x[0])), expected[0], atol=1e-6)


def test_fit_step_trains_the_four_weights():
    x = _images((4, 24, 24, 3))
    y = _images((4, 8, 8, 3), seed=3)
    inputs = keras.Input((24, 24, 3))
    layer = MullerResize(8, 8)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    values = [float(_np(v)) for v in layer.weights]
    assert len(values) == 4
    assert all(v != 0.0 for v in values), values


def test_config_and_keras_round_trip(tmp_path):
    layer = MullerResize(
        8, 10, interpolation="bicubic", avg_pool=True, num_layers=3, stddev=1.5
    )
    config = layer.get_config()
    clone = MullerResize.from_config(config)
    assert clone.get_config() == config
    x = _images((2, 32, 40, 3))
    inputs = keras.Input((32, 40, 3))
    model = keras.Model(inputs, layer(inputs))
    _with_values(layer, (0.5, 0.1, -2.0, 0.01, 1.0, 0.0), x.shape)
    path = tmp_path / "muller.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), atol=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        MullerResize(8, 8, kernel_size=4)
    with pytest.raises(ValueError, match="stddev"):
        MullerResize(8, 8, stddev=0.0)
    with pytest.raises(ValueError, match="implementation"):
        MullerResize(8, 8, implementation="fast")
    with pytest.raises(ValueError, match="data_format"):
        MullerResize(8, 8, data_format="nhwc")


def test_preset_and_registry():
    entry = pretrained.info(PRESET)
    assert entry["layer"] == "MullerResize"
    assert "ICCV 2023" in entry["reference"]["paper"]
    assert "google-research" in entry["reference"]["code"]
    layer = MullerResize.from_pretrained(PRESET, height=16, width=16)
    values = [float(_np(v)) for v in layer.weights]
    np.testing.assert_allclose(values, PRESET_VALUES, atol=1e-6)
    assert not layer.trainable
    from_zero = get_resizer("muller", 16, 16)
    from_zero.build((None, 32, 32, 3))
    assert all(float(_np(v)) == 0.0 for v in from_zero.weights)
    preset = get_resizer("muller_imagenet", 16, 16)
    assert preset.trainable and preset.name == "resizer"
    np.testing.assert_allclose(
        [float(_np(v)) for v in preset.weights], PRESET_VALUES, atol=1e-6
    )
    x = _images((1, 64, 64, 3))
    np.testing.assert_allclose(_np(preset(x)), _np(layer(x)), atol=1e-6)


@pytest.mark.tensorflow_only
def test_unknown_spatial_size_falls_back_to_direct():
    import tensorflow as tf

    layer = _with_values(MullerResize(8, 10), PRESET_VALUES, (None, None, None, 3))
    function = tf.function(
        layer, input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)]
    )
    for shape in ((1, 24, 20, 3), (2, 33, 41, 3)):
        x = _images(shape)
        np.testing.assert_allclose(
            function(x).numpy(), _np(layer(x)), atol=1e-5, rtol=0
        )


@pytest.mark.tensorflow_only
def test_run_layer_test():
    from keras_resize.testing import run_layer_test

    run_layer_test(
        MullerResize,
        {"height": 8, "width": 10},
        (2, 24, 20, 3),
        expected_output_shape=(2, 8, 10, 3),
    )


@pytest.mark.large
def test_gpu_runner_smoke_without_tensorflow(tmp_path):
    """`benchmarks/gpu/run.py --smoke` on JAX with TensorFlow import blocked."""
    code = (
        "import sys, runpy; sys.modules['tensorflow'] = None; "
        "sys.argv = ['benchmarks/gpu/run.py', '--smoke', '--output-dir', "
        f"{str(tmp_path)!r}, '--parts', 'muller_speed', 'resize_speed']; "
        "runpy.run_path('benchmarks/gpu/run.py', run_name='__main__')"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "gpu_benchmarks.json").read_text())
    assert results["backend"] == "jax"
    assert results["parts"]["muller_speed"]["status"] == "ok"
    assert (tmp_path / "gpu_benchmarks.md").exists()
