"""keras-resize: learned image resizers for Keras 3.

`import keras_resize` registers every layer, loss and model of the package
with Keras' serialization, so `keras.saving.load_model` reads a `.keras` file
that holds them. TensorFlow is imported only when it is the Keras backend
(`keras_resize.export` and the tf.data helpers import it on first use).
"""

__version__ = "0.1.0"

from keras_resize.console import import_keras_quietly as _import_keras_quietly

_import_keras_quietly()

from keras_resize import callbacks, layers, losses, models, ops  # noqa: E402

__all__ = ["callbacks", "export", "layers", "losses", "models", "ops"]


def __getattr__(name):
    # `keras_resize.export(...)` without importing TensorFlow on `import keras_resize`.
    if name == "export":
        from keras_resize.exporting import export

        return export
    raise AttributeError(f"module 'keras_resize' has no attribute {name!r}")
