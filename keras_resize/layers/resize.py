"""`Resize`: a Keras layer over the gather-based `resize` op."""

import keras

from keras_resize.ops import kernels
from keras_resize.ops.resize import resize
from keras_resize.ops.validation import (
    check_bool,
    check_choice,
    check_positive_int,
    resized_shape,
)


@keras.saving.register_keras_serializable(package="keras_resize")
class Resize(keras.layers.Layer):
    """Resize images to a fixed size with any of the package's kernels.

    A drop-in replacement for `keras.layers.Resizing` whose every method
    (including `area`, `bicubic` and antialiased resizing) compiles under XLA
    and exports to TFLite with builtin ops only. It is also the fixed
    baseline that the learned resizers of this package are compared against.

    Args:
        height: output height, a positive int.
        width: output width, a positive int.
        interpolation: `"bilinear"`, `"nearest"`, `"bicubic"`, `"area"`,
            `"lanczos3"`, `"lanczos5"`, `"gaussian"` or `"mitchellcubic"`.
        antialias: widen the kernel by the scale factor when downsizing.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`;
        any spatial size, known or not.

    Output shape:
        `(batch, height, width, channels)` with the configured size.

    Example:

    >>> layer = Resize(64, 64, interpolation="area")
    >>> layer(np.zeros((2, 256, 256, 3), "float32")).shape
    TensorShape([2, 64, 64, 3])

    Convention: half-pixel centres, as `tf.image.resize` (output pixel `o`
    samples the source at `(o + 0.5) * in / out - 0.5` in index space); see
    `keras_resize.ops.resize`.
    """

    def __init__(
        self, height, width, interpolation="bilinear", antialias=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.height = check_positive_int("height", height)
        self.width = check_positive_int("width", width)
        self.interpolation = check_choice(
            "interpolation", interpolation, kernels.RESIZE_METHODS
        )
        self.antialias = check_bool("antialias", antialias)
        self.supports_masking = False

    def call(self, inputs):
        return resize(
            keras.ops.cast(inputs, self.compute_dtype),
            (self.height, self.width),
            method=self.interpolation,
            antialias=self.antialias,
        )

    def compute_output_shape(self, input_shape):
        return resized_shape(input_shape, self.height, self.width)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "antialias": self.antialias,
        }
