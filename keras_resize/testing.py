"""The shared layer test harness: one call checks everything a layer must do.

Every public layer of `keras_resize` is tested with `run_layer_test`, which
checks, for the given constructor arguments and input shape:

1. output shape with static and dynamic (None) batch and spatial dims, and
   `compute_output_shape`;
2. `get_config` / `from_config` round trip (same config, same outputs once
   the weights are copied);
3. `.keras` save and load with equal outputs;
4. `model.export` SavedModel reload with equal outputs;
5. TFLite conversion with `TFLITE_BUILTINS` only (no Flex ops), run in
   `ai_edge_litert` with a dynamic batch, equal outputs;
6. use inside `tf.data.Dataset.map`;
7. equal outputs under `jit_compile=True`;
8. finite, non-None gradients to the inputs and to every trainable weight;
9. the `mixed_float16` policy (float16 outputs, close to float32).

Each check can be switched off with an argument, for layers where it does not
apply; a switched-off check should say why at the call site.
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_resize.exporting import convert_to_tflite, run_tflite, tflite_ops


def _as_numpy(x):
    if isinstance(x, (list, tuple)):
        return [_as_numpy(v) for v in x]
    if isinstance(x, dict):
        return {k: _as_numpy(v) for k, v in x.items()}
    return np.asarray(keras.ops.convert_to_numpy(x))


def _assert_close(actual, expected, atol, rtol, what):
    actual, expected = _as_numpy(actual), _as_numpy(expected)
    if isinstance(expected, list):
        assert len(actual) == len(expected), f"{what}: different number of outputs"
        for a, e in zip(actual, expected, strict=True):
            _assert_close(a, e, atol, rtol, what)
        return
    np.testing.assert_allclose(
        actual.astype(np.float64),
        expected.astype(np.float64),
        atol=atol,
        rtol=rtol,
        err_msg=f"{what}: outputs differ",
    )


def _first(x):
    return x[0] if isinstance(x, (list, tuple)) else x


def tflite_convert(saved_model_dir):
    """Convert a SavedModel with builtin ops only; returns the flatbuffer.

    Raises `ValueError` naming the op when a non-builtin op is needed.
    """
    return convert_to_tflite(saved_model_dir)


def tflite_run(flatbuffer, inputs):
    """Run a TFLite flatbuffer in `ai_edge_litert` on one input array.

    The input tensor is resized to `inputs.shape` first (dynamic batch).
    Returns `(outputs, op_names)`.
    """
    return run_tflite(flatbuffer, inputs), tflite_ops(flatbuffer)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    *,
    expected_output_shape=None,
    input_data=None,
    atol=1e-4,
    rtol=1e-4,
    dynamic_spatial=True,
    check_config=True,
    check_keras_save=True,
    check_saved_model=True,
    check_tflite=True,
    check_tf_data=True,
    check_xla=True,
    check_gradients=True,
    check_input_gradient=True,
    check_mixed_precision=True,
    mixed_precision_atol=5e-2,
    seed=0,
):
    """Check a layer against everything the package promises.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments (dict).
        input_shape: full input shape with a concrete batch, e.g.
            `(2, 32, 48, 3)`.
        expected_output_shape: if given, the concrete output shape.
        input_data: optional input array (default: uniform random in [0, 1)).
        atol, rtol: tolerance of every equality check (float32).
        dynamic_spatial: also build with None spatial dims and run two sizes.
        check_*: switch single checks off.
        mixed_precision_atol: tolerance of float16 against float32 outputs.
        seed: seed of the random input.

    Returns:
        A dict with what was measured (e.g. the TFLite op list).
    """
    report = {}
    rng = np.random.default_rng(seed)
    if input_data is None:
        input_data = rng.random(input_shape).astype("float32")
    input_data = np.asarray(input_data)
    input_shape = tuple(input_data.shape)
    keras.utils.set_random_seed(seed)

    # -- 1. eager call, compute_output_shape, static and dynamic shapes ----
    layer = layer_cls(**init_kwargs)
    output = layer(input_data)
    out_np = _as_numpy(output)
    out_shape = tuple(_first(out_np).shape)
    if expected_output_shape is not None:
        assert out_shape == tuple(expected_output_shape), (
            f"output shape {out_shape} != expected {expected_output_shape}"
        )
    computed = layer.compute_output_shape(input_shape)
    computed = _first(computed) if isinstance(computed, list) else computed
    assert tuple(computed) == out_shape, (
        f"compute_output_shape {tuple(computed)} != actual {out_shape}"
    )
    assert np.all(np.isfinite(_first(out_np))), "non-finite outputs"

    static_input = keras.Input(shape=input_shape[1:], batch_size=input_shape[0])
    symbolic = _first(layer(static_input))
    assert tuple(symbolic.shape) == out_shape, (
        f"symbolic output {symbolic.shape} != actual {out_shape}"
    )
    dynamic_input = keras.Input(shape=input_shape[1:])
    symbolic = _first(layer(dynamic_input))
    assert tuple(symbolic.shape)[1:] == out_shape[1:], (
        f"dynamic-batch symbolic shape {symbolic.shape}"
    )
    model = keras.Model(dynamic_input, layer(dynamic_input))
    _assert_close(model(input_data), out_np, atol, rtol, "functional model")
    _assert_close(
        model(input_data[:1]),
        _first(out_np)[:1] if not isinstance(out_np, list) else [o[:1] for o in out_np],
        atol,
        rtol,
        "batch of one",
    )
    if dynamic_spatial:
        spatial_input = keras.Input(shape=(None, None, input_shape[-1]))
        symbolic = _first(layer(spatial_input))
        dyn_computed = layer.compute_output_shape((None, None, None, input_shape[-1]))
        dyn_computed = (
            _first(dyn_computed) if isinstance(dyn_computed, list) else dyn_computed
        )
        assert tuple(symbolic.shape) == tuple(dyn_computed), (
            f"dynamic spatial: symbolic {symbolic.shape} != computed {dyn_computed}"
        )
        spatial_model = keras.Model(spatial_input, layer(spatial_input))
        _assert_close(spatial_model(input_data), out_np, atol, rtol, "dynamic spatial")
        graph_fn = tf.function(
            spatial_model.call,
            input_signature=[tf.TensorSpec((None, None, None, input_shape[-1]))],
        )
        _assert_close(graph_fn(input_data), out_np, atol, rtol, "unknown-shape graph")
        bigger = rng.random(
            (1, input_shape[1] + 3, input_shape[2] + 5, input_shape[3])
        ).astype("float32")
        _assert_close(
            graph_fn(bigger), layer(bigger), atol, rtol, "second spatial size"
        )

    # -- 2. config round trip ----------------------------------------------
    if check_config:
        config = layer.get_config()
        clone = layer_cls.from_config(config)
        assert clone.get_config() == config, "get_config/from_config round trip"
        clone(input_data)
        clone.set_weights(layer.get_weights())
        _assert_close(clone(input_data), out_np, atol, rtol, "from_config clone")

    with tempfile.TemporaryDirectory() as tmp:
        # -- 3. .keras save / load ------------------------------------------
        if check_keras_save:
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
            _assert_close(loaded(input_data), out_np, atol, rtol, ".keras reload")

        # -- 4. SavedModel export -------------------------------------------
        if check_saved_model or check_tflite:
            fixed_input = keras.Input(shape=input_shape[1:])
            fixed_model = keras.Model(fixed_input, layer(fixed_input))
            export_dir = os.path.join(tmp, "saved_model")
            fixed_model.export(export_dir, format="tf_saved_model", verbose=False)
            if check_saved_model:
                reloaded = tf.saved_model.load(export_dir)
                _assert_close(
                    reloaded.serve(tf.constant(input_data)),
                    out_np,
                    atol,
                    rtol,
                    "SavedModel reload",
                )
            # -- 5. TFLite, builtin ops only -------------------------------
            if check_tflite:
                flatbuffer = tflite_convert(export_dir)
                tfl_out, ops = tflite_run(flatbuffer, input_data.astype("float32"))
                flex = [op for op in ops if "Flex" in op or "Custom" in op.title()]
                assert not flex, f"TFLite model needs non-builtin ops: {flex}"
                expected = out_np if isinstance(out_np, list) else [out_np]
                _assert_close(tfl_out, expected, atol, rtol, "TFLite (ai_edge_litert)")
                report["tflite_ops"] = ops
                report["tflite_bytes"] = len(flatbuffer)

    # -- 6. tf.data ----------------------------------------------------------
    if check_tf_data:
        dataset = tf.data.Dataset.from_tensor_slices(input_data).batch(input_shape[0])
        dataset = dataset.map(lambda x: layer(x), num_parallel_calls=2)
        batch = next(iter(dataset))
        _assert_close(batch, out_np, atol, rtol, "inside tf.data.Dataset.map")

    # -- 7. XLA ----------------------------------------------------------------
    if check_xla:
        xla_fn = tf.function(lambda x: layer(x), jit_compile=True)
        _assert_close(
            xla_fn(tf.constant(input_data)), out_np, atol, rtol, "jit_compile"
        )

    # -- 8. gradients ----------------------------------------------------------
    if check_gradients:
        x = tf.constant(input_data)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True) if _accepts_training(layer) else layer(x)
            loss = tf.add_n(
                [
                    tf.reduce_sum(tf.square(tf.cast(o, tf.float32)))
                    for o in tf.nest.flatten(y)
                ]
            )
        sources = list(layer.trainable_weights)
        if check_input_gradient:
            sources = [x] + sources
        grads = tape.gradient(loss, [getattr(v, "value", v) for v in sources])
        for variable, grad in zip(sources, grads, strict=True):
            name = getattr(variable, "path", "inputs")
            assert grad is not None, f"no gradient for {name}"
            grad = tf.convert_to_tensor(grad)
            assert np.all(np.isfinite(grad.numpy())), f"non-finite gradient for {name}"
        report["num_gradients"] = len(grads)

    # -- 9. mixed precision ------------------------------------------------------
    if check_mixed_precision:
        mp_layer = layer_cls(**{**init_kwargs, "dtype": "mixed_float16"})
        mp_layer(input_data)
        if layer.weights:
            mp_layer.set_weights(layer.get_weights())
        mp_out = mp_layer(input_data)
        for tensor in tf.nest.flatten(mp_out):
            assert tensor.dtype == tf.float16, f"mixed_float16 output is {tensor.dtype}"
        _assert_close(
            [tf.cast(t, tf.float32) for t in tf.nest.flatten(mp_out)],
            tf.nest.flatten(out_np),
            mixed_precision_atol,
            mixed_precision_atol,
            "mixed_float16",
        )
    return report


def _accepts_training(layer):
    import inspect

    return "training" in inspect.signature(layer.call).parameters


def assert_value_error(callable_, match, *args, **kwargs):
    """Assert that `callable_(*args, **kwargs)` raises a ValueError whose
    message contains `match` (for example the offending value)."""
    try:
        callable_(*args, **kwargs)
    except ValueError as error:
        assert match in str(error), f"ValueError {error!s} does not mention {match!r}"
        return error
    raise AssertionError(f"no ValueError raised (expected one mentioning {match!r})")
