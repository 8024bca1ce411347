"""Which backend our ops run on, and the `ops` namespace they are written in.

Every tensor function of `keras_resize.ops` is written against `ops` below, a
namespace with the names of `keras.ops` (`ops.take`, `ops.where`,
`ops.reshape`, `ops.conv`, `ops.shape`, ...). Normally `ops.X` *is*
`keras.ops.X`, so the ops run on TensorFlow, JAX and PyTorch alike.

Inside a `tf.data` graph the active backend may not be TensorFlow (a user on
JAX or PyTorch who maps `Resize` over a `tf.data.Dataset`), and `keras.ops`
would then hand TensorFlow symbolic tensors to JAX or PyTorch. The stateless
layers run their `call` inside `tensorflow_scope()`, where `ops.X` resolves
to Keras' TensorFlow implementation of the same op and `name()` says
`"tensorflow"`, as keras core's own preprocessing layers do
(`keras.layers.Resizing` in a `tf.data` pipeline under JAX).

`name()` is what the single backend-specific place of the package (the
weighted gather-and-sum of `keras_resize.ops.sampling`) dispatches on.

Importing this module does not import TensorFlow.
"""

import contextlib
import importlib
import sys
import threading

import keras

_STATE = threading.local()


def _tensorflow_depth():
    return getattr(_STATE, "tensorflow_depth", 0)


def name():
    """The backend the ops run on now: `"tensorflow"`, `"jax"` or `"torch"`.

    `"tensorflow"` inside `tensorflow_scope()` whatever Keras' backend is.
    """
    if _tensorflow_depth():
        return "tensorflow"
    return keras.backend.backend()


def is_tensorflow():
    """True when the ops run on TensorFlow (the backend, or a tf.data graph)."""
    return name() == "tensorflow"


def in_tensorflow_graph(value=None):
    """True inside a TensorFlow graph (`tf.data`, `tf.function`) on a non-TF backend.

    `value`, if given, must not be a `keras.KerasTensor` (symbolic model
    construction is not a tf.data graph). Does not import TensorFlow: if it
    was never imported there is no TensorFlow graph.
    """
    if keras.backend.backend() == "tensorflow":
        return False
    if value is not None and isinstance(value, keras.KerasTensor):
        return False
    if "tensorflow" not in sys.modules:
        return False
    tf = sys.modules["tensorflow"]
    if not hasattr(tf, "executing_eagerly"):
        return False
    if tf.executing_eagerly():
        return False
    if value is not None and keras.backend.backend() == "jax":
        # A jax tracer inside a tf graph (jax2tf) is JAX's business.
        import jax

        if isinstance(value, jax.core.Tracer):
            return False
    return True


@contextlib.contextmanager
def tensorflow_scope():
    """Run `keras_resize` ops with TensorFlow inside this block.

    Used by the stateless layers when they are called inside a `tf.data`
    graph under the JAX or PyTorch backend.
    """
    _STATE.tensorflow_depth = _tensorflow_depth() + 1
    try:
        yield
    finally:
        _STATE.tensorflow_depth -= 1


_TENSORFLOW_MODULES = {}


def _tensorflow_function(function_name, function):
    """Keras' TensorFlow implementation of the `keras.ops` function."""
    # keras.ops.X is defined in keras.src.ops.<topic>; its TensorFlow
    # implementation lives in keras.src.backend.tensorflow.<topic>.
    topic = function.__module__.rsplit(".", 1)[-1]
    module = _TENSORFLOW_MODULES.get(topic)
    if module is None:
        module = importlib.import_module(f"keras.src.backend.tensorflow.{topic}")
        _TENSORFLOW_MODULES[topic] = module
    implementation = getattr(module, function_name, None)
    if implementation is None:
        core = importlib.import_module("keras.src.backend.tensorflow.core")
        implementation = getattr(core, function_name, None)
    if implementation is None:
        raise NotImplementedError(
            f"`keras.ops.{function_name}` has no TensorFlow implementation to use "
            "inside a tf.data graph under the "
            f"{keras.backend.backend()} backend."
        )
    return implementation


class _Namespace:
    """`keras.ops`, or its TensorFlow implementation inside `tensorflow_scope`."""

    def __init__(self, source):
        self._source = source

    def __getattr__(self, function_name):
        function = getattr(self._source, function_name)
        if isinstance(function, type(keras)):  # a sub-namespace (ops.image, ops.nn)
            return _Namespace(function)
        if _tensorflow_depth() and keras.backend.backend() != "tensorflow":
            return _tensorflow_function(function_name, function)
        return function

    def __dir__(self):
        return dir(self._source)


ops = _Namespace(keras.ops)


def tensorflow():
    """Import TensorFlow for a TensorFlow-only feature, with a one-line error."""
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError(
            "This feature of keras_resize needs TensorFlow (SavedModel / TFLite "
            "export, tf.data helpers, training scripts): pip install tensorflow"
        ) from None
    return tf
