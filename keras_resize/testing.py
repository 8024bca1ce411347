"""The shared layer test harness: one call checks everything a layer must do.

Every public layer of `keras_resize` is tested with `run_layer_test`, which
checks, on the active Keras backend, for the given constructor arguments
and input shape:

1. output shape with static and dynamic (None) batch and spatial dims, and
   `compute_output_shape`; the output dtype and the number of trainable and
   non-trainable weights, when expected values are given;
2. `get_config` / `from_config` round trip (same config, same outputs once
   the weights are copied);
3. `.keras` save and load with equal outputs;
4. `model.export` SavedModel reload with equal outputs (TensorFlow only);
5. TFLite conversion with `TFLITE_BUILTINS` only (no Flex ops), run in
   `ai_edge_litert` with a dynamic batch, equal outputs (TensorFlow only);
6. use inside `tf.data.Dataset.map`: on TensorFlow for every layer, on JAX
   and PyTorch for the layers declared `stateless` (they switch to
   TensorFlow ops inside a tf.data graph);
7. equal outputs when compiled: `tf.function(jit_compile=True)` on
   TensorFlow, `jax.jit` (XLA) on JAX; skipped on PyTorch, where it would
   mean `torch.compile` (tens of seconds per layer on a small CPU, more
   than the rest of the harness together);
8. finite, non-None gradients to the inputs and to every trainable weight
   (`tf.GradientTape`, `jax.grad` or torch autograd);
9. the `mixed_float16` policy (float16 outputs, close to float32);
10. one `fit` step of `Input -> layer -> GlobalAveragePooling2D -> Dense`:
    the loss is finite and every trainable weight of the layer changes.

Each check can be switched off with an argument, for layers where it does not
apply; a switched-off check should say why at the call site. The returned
report lists what was measured and which checks were skipped on this
backend and why.

TensorFlow is imported only by the checks that need it (graph mode with
unknown shapes, SavedModel, TFLite, tf.data).
"""

import os
import tempfile

import keras
import numpy as np

from keras_resize import backend


def _tf():
    return backend.tensorflow()


def _flatten(x):
    if isinstance(x, dict):
        return [v for key in x for v in _flatten(x[key])]
    if isinstance(x, (list, tuple)):
        return [v for value in x for v in _flatten(value)]
    return [x]


def _to_numpy(x):
    if hasattr(x, "numpy") and type(x).__module__.startswith("tensorflow"):
        return np.asarray(x.numpy())  # a tf tensor under another backend
    return np.asarray(keras.ops.convert_to_numpy(x))


def _as_numpy(x):
    if isinstance(x, (list, tuple)):
        return [_as_numpy(v) for v in x]
    if isinstance(x, dict):
        return {k: _as_numpy(v) for k, v in x.items()}
    return _to_numpy(x)


def _assert_close(actual, expected, atol, rtol, what):
    actual, expected = _as_numpy(actual), _as_numpy(expected)
    if isinstance(expected, dict):
        actual = [actual[k] for k in expected] if isinstance(actual, dict) else actual
        expected = list(expected.values())
    if isinstance(expected, list):
        actual = actual if isinstance(actual, list) else [actual]
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
    return _flatten(x)[0]


def tflite_convert(saved_model_dir):
    """Convert a SavedModel with builtin ops only; returns the flatbuffer.

    Raises `ValueError` naming the op when a non-builtin op is needed.
    TensorFlow only.
    """
    from keras_resize.exporting import convert_to_tflite

    return convert_to_tflite(saved_model_dir)


def tflite_ops(flatbuffer):
    """The op names of a TFLite flatbuffer (see `keras_resize.exporting`)."""
    from keras_resize.exporting import tflite_ops as ops_of

    return ops_of(flatbuffer)


def tflite_run(flatbuffer, inputs):
    """Run a TFLite flatbuffer in `ai_edge_litert` on one input array.

    The input tensor is resized to `inputs.shape` first (dynamic batch).
    Returns `(outputs, op_names)`.
    """
    from keras_resize.exporting import run_tflite

    return run_tflite(flatbuffer, inputs), tflite_ops(flatbuffer)


def _spatial_shape(input_shape, data_format):
    """The input shape of one sample with unknown spatial dims."""
    if data_format == "channels_first":
        return (input_shape[1], None, None)
    return (None, None, input_shape[-1])


def _bigger(rng, input_shape, data_format):
    if data_format == "channels_first":
        shape = (1, input_shape[1], input_shape[2] + 3, input_shape[3] + 5)
    else:
        shape = (1, input_shape[1] + 3, input_shape[2] + 5, input_shape[3])
    return rng.random(shape).astype("float32")


def _loss_terms(outputs):
    return [
        keras.ops.sum(keras.ops.square(keras.ops.cast(o, "float32")))
        for o in _flatten(outputs)
    ]


def _gradients(layer, input_data, with_input):
    """Gradients of `sum(output^2)` to the inputs (optionally) and weights.

    Returns `(names, gradients as numpy arrays or None)`.
    """
    name = keras.backend.backend()
    trainable = list(layer.trainable_variables)
    names = (["inputs"] if with_input else []) + [v.path for v in trainable]
    kwargs = {"training": True} if _accepts_training(layer) else {}
    if name == "tensorflow":
        tf = _tf()
        x = tf.constant(input_data)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = keras.ops.sum(keras.ops.stack(_loss_terms(layer(x, **kwargs))))
        sources = ([x] if with_input else []) + [v.value for v in trainable]
        grads = tape.gradient(loss, sources)
        return names, [
            None if g is None else _to_numpy(tf.convert_to_tensor(g)) for g in grads
        ]
    if name == "jax":
        import jax
        import jax.numpy as jnp

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_fn(x, values):
            outputs, _ = layer.stateless_call(values, non_trainable, x, **kwargs)
            return sum(_loss_terms(outputs))

        # one jitted program: op-by-op eager differentiation is much slower
        x_grad, w_grads = jax.jit(jax.grad(loss_fn, argnums=(0, 1)))(
            jnp.asarray(input_data), [v.value for v in trainable]
        )
        grads = ([x_grad] if with_input else []) + list(w_grads)
        return names, [np.asarray(g) for g in grads]
    if name == "torch":
        import torch

        x = keras.ops.convert_to_tensor(input_data).detach().requires_grad_(True)
        for v in trainable:
            v.value.grad = None
        loss = sum(_loss_terms(layer(x, **kwargs)))
        loss.backward()
        grads = ([x.grad] if with_input else []) + [v.value.grad for v in trainable]
        with torch.no_grad():
            return names, [None if g is None else g.cpu().numpy() for g in grads]
    raise NotImplementedError(f"No gradient check for the {name} backend.")


def _fit_one_step(layer_cls, init_kwargs, input_data, seed):
    """One `fit` step of a tiny model around a new layer.

    Returns `(loss, names of trainable weights that did not change)`.
    """
    keras.utils.set_random_seed(seed)
    layer = layer_cls(**init_kwargs)
    data_format = getattr(layer, "data_format", "channels_last")
    inputs = keras.Input(shape=input_data.shape[1:])
    features = _first(layer(inputs))
    if len(features.shape) == 4:
        pooled = keras.layers.GlobalAveragePooling2D(data_format=data_format)(features)
    else:
        pooled = keras.layers.Flatten()(features)
    outputs = keras.layers.Dense(2, dtype="float32")(pooled)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    before = [_to_numpy(v.value).copy() for v in layer.trainable_variables]
    targets = np.random.default_rng(seed).random((input_data.shape[0], 2))
    history = model.fit(
        input_data,
        targets.astype("float32"),
        batch_size=input_data.shape[0],
        epochs=1,
        verbose=0,
    )
    unchanged = [
        v.path
        for v, old in zip(layer.trainable_variables, before, strict=True)
        if np.array_equal(_to_numpy(v.value), old)
    ]
    return float(history.history["loss"][-1]), unchanged


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    *,
    expected_output_shape=None,
    expected_output_dtype=None,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    input_data=None,
    atol=1e-4,
    rtol=1e-4,
    dynamic_spatial=True,
    stateless=False,
    check_config=True,
    check_keras_save=True,
    check_saved_model=True,
    check_tflite=True,
    check_tf_data=True,
    check_xla=True,
    check_gradients=True,
    check_input_gradient=True,
    check_mixed_precision=True,
    check_fit=True,
    fit_may_not_change=(),
    mixed_precision_atol=5e-2,
    seed=0,
):
    """Check a layer against everything the package promises, on this backend.

    Args:
        layer_cls: the layer class (or a factory taking `init_kwargs`).
        init_kwargs: constructor arguments (dict).
        input_shape: full input shape with a concrete batch, in the layer's
            `data_format`, e.g. `(2, 32, 48, 3)`.
        expected_output_shape: if given, the concrete output shape.
        expected_output_dtype: if given, the dtype of every output (a
            string, or a list with one per output).
        expected_num_trainable_weights: if given, `len(layer.trainable_weights)`
            once built.
        expected_num_non_trainable_weights: if given,
            `len(layer.non_trainable_weights)` once built.
        input_data: optional input array (default: uniform random in [0, 1)).
        atol, rtol: tolerance of every equality check (float32).
        dynamic_spatial: also build with None spatial dims and run two sizes.
        stateless: the layer has no weights nor random state, so it must also
            run inside `tf.data.Dataset.map` under JAX and PyTorch.
        check_*: switch single checks off (`check_fit`: the one-step `fit`).
        fit_may_not_change: endings of weight paths that the `fit` check
            lets stay unchanged, because their gradient is exactly zero by
            construction (e.g. a bias before a shift-invariant softmax);
            say why at the call site.
        mixed_precision_atol: tolerance of float16 against float32 outputs.
        seed: seed of the random input and of the weights.

    Returns:
        A dict with what was measured: `backend`, `skipped` (`{check:
        reason}` for the checks that cannot run on this backend),
        `tflite_ops` and `tflite_bytes` (TensorFlow), `num_gradients`,
        `fit_loss`.
    """
    backend_name = keras.backend.backend()
    is_tf = backend_name == "tensorflow"
    report = {"backend": backend_name, "skipped": {}}
    rng = np.random.default_rng(seed)
    if input_data is None:
        input_data = rng.random(input_shape).astype("float32")
    input_data = np.asarray(input_data)
    input_shape = tuple(input_data.shape)
    keras.utils.set_random_seed(seed)

    # -- 1. eager call, compute_output_shape, static and dynamic shapes ----
    layer = layer_cls(**init_kwargs)
    data_format = getattr(layer, "data_format", "channels_last")
    output = layer(input_data)
    out_np = _as_numpy(output)
    out_shape = tuple(_first(out_np).shape)
    if expected_output_shape is not None:
        assert out_shape == tuple(expected_output_shape), (
            f"output shape {out_shape} != expected {expected_output_shape}"
        )
    computed = layer.compute_output_shape(input_shape)
    computed = _first(computed) if isinstance(computed, (list, dict)) else computed
    assert tuple(computed) == out_shape, (
        f"compute_output_shape {tuple(computed)} != actual {out_shape}"
    )
    assert np.all(np.isfinite(_first(out_np))), "non-finite outputs"
    if expected_output_dtype is not None:
        outputs = _flatten(output)
        expected = expected_output_dtype
        if isinstance(expected, str):
            expected = [expected] * len(outputs)
        actual = [keras.backend.standardize_dtype(o.dtype) for o in outputs]
        assert actual == list(expected), (
            f"output dtype {actual} != expected {list(expected)}"
        )
    if expected_num_trainable_weights is not None:
        count = len(layer.trainable_weights)
        assert count == expected_num_trainable_weights, (
            f"{count} trainable weights != expected {expected_num_trainable_weights}"
        )
    if expected_num_non_trainable_weights is not None:
        count = len(layer.non_trainable_weights)
        assert count == expected_num_non_trainable_weights, (
            f"{count} non-trainable weights != expected "
            f"{expected_num_non_trainable_weights}"
        )

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
    first_of = [o[:1] for o in _flatten(out_np)]
    _assert_close(_flatten(model(input_data[:1])), first_of, atol, rtol, "batch of one")
    if dynamic_spatial:
        spatial_shape = _spatial_shape(input_shape, data_format)
        spatial_input = keras.Input(shape=spatial_shape)
        symbolic = _first(layer(spatial_input))
        dyn_computed = layer.compute_output_shape((None, *spatial_shape))
        dyn_computed = (
            _first(dyn_computed)
            if isinstance(dyn_computed, (list, dict))
            else dyn_computed
        )
        assert tuple(symbolic.shape) == tuple(dyn_computed), (
            f"dynamic spatial: symbolic {symbolic.shape} != computed {dyn_computed}"
        )
        spatial_model = keras.Model(spatial_input, layer(spatial_input))
        _assert_close(spatial_model(input_data), out_np, atol, rtol, "dynamic spatial")
        bigger = _bigger(rng, input_shape, data_format)
        _assert_close(
            spatial_model(bigger), layer(bigger), atol, rtol, "second spatial size"
        )
        if is_tf:
            tf = _tf()
            graph_fn = tf.function(
                spatial_model.call,
                input_signature=[tf.TensorSpec((None, *spatial_shape))],
            )
            _assert_close(
                graph_fn(input_data), out_np, atol, rtol, "unknown-shape graph"
            )
            _assert_close(
                graph_fn(bigger),
                layer(bigger),
                atol,
                rtol,
                "unknown-shape graph, size 2",
            )
        else:
            report["skipped"]["unknown-shape graph"] = (
                "tf.function with None dims exists on TensorFlow only"
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

        # -- 4. SavedModel export (TensorFlow) ----------------------------------
        if (check_saved_model or check_tflite) and not is_tf:
            reason = f"SavedModel / TFLite export is TensorFlow-only ({backend_name})"
            if check_saved_model:
                report["skipped"]["saved_model"] = reason
            if check_tflite:
                report["skipped"]["tflite"] = reason
        elif check_saved_model or check_tflite:
            tf = _tf()
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
    if check_tf_data and (is_tf or stateless):
        tf = _tf()
        dataset = tf.data.Dataset.from_tensor_slices(input_data).batch(input_shape[0])
        dataset = dataset.map(lambda x: layer(x), num_parallel_calls=2)
        batch = next(iter(dataset))
        _assert_close(
            tf.nest.map_structure(lambda t: t.numpy(), batch),
            out_np,
            atol,
            rtol,
            "inside tf.data.Dataset.map",
        )
    elif check_tf_data:
        report["skipped"]["tf_data"] = (
            f"a layer with weights runs in tf.data on TensorFlow only ({backend_name}); "
            "declare stateless=True for weightless layers"
        )

    # -- 7. XLA ----------------------------------------------------------------
    if check_xla:
        if is_tf:
            tf = _tf()
            xla_fn = tf.function(lambda x: layer(x), jit_compile=True)
            compiled = xla_fn(tf.constant(input_data))
        elif backend_name == "jax":
            import jax

            trainable = [v.value for v in layer.trainable_variables]
            non_trainable = [v.value for v in layer.non_trainable_variables]
            jit_fn = jax.jit(lambda t, n, x: layer.stateless_call(t, n, x)[0])
            compiled = jit_fn(trainable, non_trainable, input_data)
        else:
            compiled = None
            report["skipped"]["xla"] = (
                "jit_compile on PyTorch is torch.compile: tens of seconds per layer "
                "on a small CPU; compiled execution is checked on TF and JAX"
            )
        if compiled is not None:
            _assert_close(compiled, out_np, atol, rtol, "jit_compile")

    # -- 8. gradients ----------------------------------------------------------
    if check_gradients:
        names, grads = _gradients(layer, input_data, check_input_gradient)
        for name, grad in zip(names, grads, strict=True):
            assert grad is not None, f"no gradient for {name}"
            assert np.all(np.isfinite(grad)), f"non-finite gradient for {name}"
        report["num_gradients"] = len(grads)

    # -- 9. mixed precision ------------------------------------------------------
    if check_mixed_precision:
        mp_layer = layer_cls(**{**init_kwargs, "dtype": "mixed_float16"})
        mp_layer(input_data)
        if layer.weights:
            mp_layer.set_weights(layer.get_weights())
        mp_out = _flatten(mp_layer(input_data))
        for tensor in mp_out:
            dtype = keras.backend.standardize_dtype(tensor.dtype)
            assert dtype == "float16", f"mixed_float16 output is {dtype}"
        _assert_close(
            [_to_numpy(t).astype("float32") for t in mp_out],
            _flatten(out_np),
            mixed_precision_atol,
            mixed_precision_atol,
            "mixed_float16",
        )

    # -- 10. one fit step --------------------------------------------------------
    if check_fit:
        loss, unchanged = _fit_one_step(layer_cls, init_kwargs, input_data, seed)
        assert np.isfinite(loss), f"fit: the loss is not finite ({loss})"
        unchanged = [
            path
            for path in unchanged
            if not any(path.endswith(end) for end in fit_may_not_change)
        ]
        assert not unchanged, f"fit: these weights did not change: {unchanged}"
        report["fit_loss"] = loss
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
