"""Shared training utilities: BatchNormalization recalibration, the module
layout of `training/` (options, runtime, optimization, callbacks,
measurement, results, backbones) and their docstring examples."""

import ast
import importlib
import importlib.util
import pathlib
import re
import tempfile
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resize.callbacks import recalibrate_batch_norm
from training import backbones, callbacks, options

SHARED_MODULES = (
    "options",
    "runtime",
    "optimization",
    "callbacks",
    "measurement",
    "results",
    "backbones",
)
TRAINING_DIR = pathlib.Path(__file__).resolve().parent.parent / "training"


def _batch_norm_model_and_batches():
    rng = np.random.default_rng(0)
    inputs = keras.Input((4,))
    frozen = keras.layers.BatchNormalization(name="frozen")
    model = keras.Model(
        inputs, frozen(keras.layers.BatchNormalization(name="bn")(inputs))
    )
    frozen.trainable = False
    batches = [rng.normal(loc=i, size=(8, 4)).astype("float32") for i in range(3)]
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.concatenate(batches), np.zeros(24))
    )
    return model, batches, dataset.batch(8)


def test_recalibration_gives_the_exact_mean_of_batch_statistics():
    model, batches, dataset = _batch_norm_model_and_batches()
    frozen = model.get_layer("frozen")
    used = recalibrate_batch_norm(model, dataset, steps=3)
    assert used == 3
    bn = model.get_layer("bn")
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), atol=1e-5
    )
    np.testing.assert_allclose(
        bn.moving_variance.numpy(), np.mean([b.var(0) for b in batches], 0), rtol=1e-4
    )
    assert bn.momentum == 0.99  # restored
    np.testing.assert_array_equal(frozen.moving_mean.numpy(), np.zeros(4))  # untouched


def test_recalibration_is_a_no_op_without_batch_norm_or_steps():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 3)), np.zeros(4))).batch(
        2
    )
    assert recalibrate_batch_norm(model, dataset, steps=5) == 0
    bn_model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization()])
    assert recalibrate_batch_norm(bn_model, dataset, steps=0) == 0


def test_maybe_recalibrate_follows_the_option_and_the_replicas():
    model, batches, dataset = _batch_norm_model_and_batches()
    bn = model.get_layer("bn")
    one_replica = tf.distribute.get_strategy()
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)
    logged = []

    off = types.SimpleNamespace(bn_recalibration_steps=0)
    assert callbacks.maybe_recalibrate_batch_norm(model, off, one_replica, dataset) == 0
    on = types.SimpleNamespace(bn_recalibration_steps=2)
    assert (
        callbacks.maybe_recalibrate_batch_norm(
            model, on, two_replicas, dataset, log=logged.append
        )
        == 0
    )
    assert logged and "2 in sync" in logged[0]
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(4))  # skipped

    assert callbacks.maybe_recalibrate_batch_norm(model, on, one_replica, dataset) == 2
    np.testing.assert_allclose(
        bn.moving_mean.numpy(), np.mean([b.mean(0) for b in batches[:2]], 0), atol=1e-5
    )


def test_parse_resizer_args_errors_name_the_argument():
    assert options.parse_resizer_args(["a-b=1", "c=none"]) == {"a_b": 1, "c": None}
    with pytest.raises(ValueError, match=r"Received: --resizer-arg 'oops'"):
        options.parse_resizer_args(["oops"])


def test_one_backbone_registry():
    from training import classification, iqa

    assert classification.BACKBONES is backbones.BACKBONES
    assert iqa.BACKBONES is backbones.BACKBONES
    assert iqa.build_backbone is backbones.build_backbone
    assert classification.build_backbone is backbones.build_backbone
    with pytest.raises(ValueError, match="Received: backbone='resnet7'"):
        backbones.build_backbone("resnet7", 32)


def test_common_module_is_gone():
    assert importlib.util.find_spec("training.common") is None


def _training_imports(name):
    """The `training.X` modules that `training/<name>.py` imports (top level)."""
    tree = ast.parse((TRAINING_DIR / f"{name}.py").read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "training" and len(parts) > 1:
                found.add(parts[1])
            elif node.module == "training":
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "training" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_shared_modules_import_each_other_without_cycles():
    graph = {name: _training_imports(name) for name in SHARED_MODULES}
    for name, imported in graph.items():
        assert imported <= set(SHARED_MODULES), (name, imported)
    # Depth-first search for a cycle.
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"import cycle: {path + [name]}"
        state[name] = "open"
        for other in graph[name]:
            visit(other, path + [name])
        state[name] = "done"

    for name in graph:
        visit(name, [])
    # The scripts' shared layer only: no shared module imports a script.
    assert graph["options"] == set()


@pytest.mark.parametrize("name", SHARED_MODULES)
def test_module_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # mkdtemp in examples
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(f"training.{name}")
    blocks = re.findall(r"```python\n(.*?)```", module.__doc__, re.S)
    assert blocks, f"training.{name} has no ```python example"
    policy = keras.config.dtype_policy()
    try:
        for block in blocks:
            exec(compile(block, f"training.{name} docstring", "exec"), {})
    finally:
        keras.config.set_dtype_policy(policy)
