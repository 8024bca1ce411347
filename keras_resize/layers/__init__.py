"""Keras layers (thin, serializable wrappers over `keras_resize.ops`)."""

from keras_resize.layers.resize import Resize

__all__ = ["Resize"]
