"""keras-resize: learned image resizers for Keras 3."""

__version__ = "0.1.0"


def __getattr__(name):
    # `keras_resize.export(...)` without importing TensorFlow on `import keras_resize`.
    if name == "export":
        from keras_resize.exporting import export

        return export
    raise AttributeError(f"module 'keras_resize' has no attribute {name!r}")
