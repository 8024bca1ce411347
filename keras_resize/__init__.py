"""keras-resize: learned image resizers for Keras 3."""

__version__ = "0.1.0"
