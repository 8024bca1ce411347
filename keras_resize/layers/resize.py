"""`Resize`: a Keras layer over the gather-based `resize` op."""

import keras

from keras_resize.backend import ops
from keras_resize.layers.base import (
    TFDataMixin,
    check_data_format,
    from_channels_last,
    shape_from_channels_last,
    shape_to_channels_last,
    to_channels_last,
)
from keras_resize.ops import kernels
from keras_resize.ops.resize import resize
from keras_resize.ops.validation import (
    check_bool,
    check_choice,
    check_positive_int,
    resized_shape,
)


@keras.saving.register_keras_serializable(package="keras_resize")
class Resize(TFDataMixin, keras.layers.Layer):
    """Resize images to a fixed size with any of the package's kernels.

    A drop-in replacement for `keras.layers.Resizing` whose every method
    (including `area`, `bicubic` and antialiased resizing) compiles under XLA
    and exports to TFLite with builtin ops only. It is also the fixed
    baseline that the learned resizers of this package are compared against.
    It runs on TensorFlow, JAX and PyTorch, and inside `tf.data.Dataset.map`
    under any of them (it has no weights).

    Args:
        height: output height, a positive int.
        width: output width, a positive int.
        interpolation: `"bilinear"`, `"nearest"`, `"bicubic"`, `"area"`,
            `"lanczos3"`, `"lanczos5"`, `"gaussian"` or `"mitchellcubic"`.
        antialias: widen the kernel by the scale factor when downsizing.
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`).
            Default: `keras.config.image_data_format()`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels-first: `(batch, channels, height, width)` or `(channels,
        height, width)`); any spatial size, known or not.

    Output shape:
        The input's layout with the configured `(height, width)`.

    Example:

    >>> layer = Resize(64, 64, interpolation="area")
    >>> tuple(layer(np.zeros((2, 256, 256, 3), "float32")).shape)
    (2, 64, 64, 3)
    >>> first = Resize(32, 32, data_format="channels_first")
    >>> tuple(first(np.zeros((1, 3, 128, 96), "float32")).shape)
    (1, 3, 32, 32)

    Convention: half-pixel centres, as `tf.image.resize` (output pixel `o`
    samples the source at `(o + 0.5) * in / out - 0.5` in index space); see
    `keras_resize.ops.resize`.
    """

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.height = check_positive_int("height", height)
        self.width = check_positive_int("width", width)
        self.interpolation = check_choice(
            "interpolation", interpolation, kernels.RESIZE_METHODS
        )
        self.antialias = check_bool("antialias", antialias)
        self.data_format = check_data_format(data_format)
        self.supports_masking = False

    def call(self, inputs):
        images = to_channels_last(inputs, self.data_format)
        out = resize(
            ops.cast(images, self.compute_dtype),
            (self.height, self.width),
            method=self.interpolation,
            antialias=self.antialias,
        )
        return from_channels_last(out, self.data_format)

    def compute_output_shape(self, input_shape):
        shape = shape_to_channels_last(input_shape, self.data_format)
        shape = resized_shape(shape, self.height, self.width)
        return shape_from_channels_last(shape, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "antialias": self.antialias,
            "data_format": self.data_format,
        }
