"""`Resize`: a Keras layer over the gather-based `resize` op."""

import numbers

import keras
import numpy as np

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
    as_image_batch,
    check_bool,
    check_choice,
    check_positive_int,
    resized_shape,
    static_or_dynamic_shape,
)

# The fill modes of `keras.layers.Resizing` (Keras 3): only "constant".
FILL_MODES = ("constant",)


@keras.saving.register_keras_serializable(package="keras_resize")
class Resize(TFDataMixin, keras.layers.Layer):
    """Resize images to a fixed size with any of the package's kernels.

    A drop-in replacement for `keras.layers.Resizing` (same arguments, in
    the same order, with the same meaning) whose every method (including
    `area`, `bicubic` and antialiased resizing) compiles under XLA and
    exports to TFLite with builtin ops only. It is also the fixed baseline
    that the learned resizers of this package are compared against. It
    runs on TensorFlow, JAX and PyTorch, and inside `tf.data.Dataset.map`
    under any of them (it has no weights).

    Args:
        height: output height, a positive int.
        width: output width, a positive int.
        interpolation: `"bilinear"`, `"nearest"`, `"bicubic"`, `"area"`,
            `"lanczos3"`, `"lanczos5"`, `"gaussian"` or `"mitchellcubic"`.
        crop_to_aspect_ratio: if True, resize without aspect ratio
            distortion: first crop the largest centred window of the input
            that has the aspect ratio of `(height, width)`, then resize it.
        pad_to_aspect_ratio: if True, resize without aspect ratio
            distortion: first pad the input evenly on its short side with
            `fill_value` to the aspect ratio of `(height, width)`, then
            resize it. At most one of `crop_to_aspect_ratio` and
            `pad_to_aspect_ratio` may be True.
        fill_mode: how the padded area is filled when
            `pad_to_aspect_ratio=True`. Only `"constant"` (fill with
            `fill_value`) is supported, as in `keras.layers.Resizing`.
        fill_value: the value of the padded pixels, a float.
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
        The input's layout with the configured `(height, width)`. Integer
        images (e.g. `uint8`) come back in their own dtype, rounded to the
        nearest integer and clipped to its range, as from
        `keras.layers.Resizing`; float images in the layer's compute dtype.

    Raises:
        ValueError: if an argument is invalid, naming it and the received
            value; in particular if both `crop_to_aspect_ratio` and
            `pad_to_aspect_ratio` are True, or `fill_mode` is not
            `"constant"` (`keras.layers.Resizing` raises when called, this
            layer when constructed).

    Example:

    >>> layer = Resize(64, 64, interpolation="area")
    >>> tuple(layer(np.zeros((2, 256, 256, 3), "float32")).shape)
    (2, 64, 64, 3)
    >>> first = Resize(32, 32, data_format="channels_first")
    >>> tuple(first(np.zeros((1, 3, 128, 96), "float32")).shape)
    (1, 3, 32, 32)
    >>> padded = Resize(4, 4, pad_to_aspect_ratio=True, fill_value=-1.0)
    >>> out = padded(np.ones((1, 2, 4, 1), "float32"))
    >>> keras.ops.convert_to_numpy(out)[0, :, 0, 0].tolist()
    [-1.0, 1.0, 1.0, -1.0]

    Convention: half-pixel centres, as `tf.image.resize` (output pixel `o`
    samples the source at `(o + 0.5) * in / out - 0.5` in index space); see
    `keras_resize.ops.resize`. The crop and the padding follow
    `keras.layers.Resizing` to the pixel: for an input of `(h, w)` and an
    output of `(height, width)`, the crop is `(min(h, w * height // width),
    min(w, h * width // height))` pixels (at least 1) starting at half the
    remaining rows and columns, rounded down; the padding adds
    `(max(h, w * height // width) - h) // 2` rows of `fill_value` above
    *and* below the image (and likewise columns left and right), so an odd
    remainder is dropped, as Keras does.
    """

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
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
        self.crop_to_aspect_ratio = check_bool(
            "crop_to_aspect_ratio", crop_to_aspect_ratio
        )
        self.pad_to_aspect_ratio = check_bool(
            "pad_to_aspect_ratio", pad_to_aspect_ratio
        )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                "Expected at most one of `crop_to_aspect_ratio` and "
                "`pad_to_aspect_ratio` to be True. Received: "
                "crop_to_aspect_ratio=True, pad_to_aspect_ratio=True"
            )
        self.fill_mode = check_choice("fill_mode", fill_mode, FILL_MODES)
        if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
            raise ValueError(
                "Expected `fill_value` to be a float. "
                f"Received: fill_value={fill_value!r}"
            )
        self.fill_value = float(fill_value)
        self.antialias = check_bool("antialias", antialias)
        self.data_format = check_data_format(data_format)
        self.supports_masking = False

    def call(self, inputs):
        images = to_channels_last(inputs, self.data_format)
        input_dtype = keras.backend.standardize_dtype(images.dtype)
        images, squeeze = as_image_batch(images, name="inputs")
        images = ops.cast(images, self.compute_dtype)
        if self.crop_to_aspect_ratio:
            images = self._crop(images)
        elif self.pad_to_aspect_ratio:
            images = self._pad(images)
        out = resize(
            images,
            (self.height, self.width),
            method=self.interpolation,
            antialias=self.antialias,
        )
        if np.issubdtype(np.dtype(input_dtype), np.integer):
            out = _saturate_round(out, input_dtype)
        if squeeze:
            out = out[0]
        return from_channels_last(out, self.data_format)

    def _crop(self, images):
        """The centred window of `keras.layers.Resizing(crop_to_aspect_ratio=True)`."""
        _, height, width, _ = static_or_dynamic_shape(images)
        crop_height = _maximum(_minimum(height, width * self.height // self.width), 1)
        crop_width = _maximum(_minimum(width, height * self.width // self.height), 1)
        top = (height - crop_height) // 2
        left = (width - crop_width) // 2
        return images[:, top : top + crop_height, left : left + crop_width, :]

    def _pad(self, images):
        """The padding of `keras.layers.Resizing(pad_to_aspect_ratio=True)`."""
        _, height, width, _ = static_or_dynamic_shape(images)
        padded_height = _maximum(height, width * self.height // self.width)
        padded_width = _maximum(width, height * self.width // self.height)
        # Keras pads half the difference, rounded down, on *both* sides.
        rows = (padded_height - height) // 2
        columns = (padded_width - width) // 2
        if _is_static(rows) and _is_static(columns) and rows == columns == 0:
            return images
        return ops.pad(
            images,
            ((0, 0), (rows, rows), (columns, columns), (0, 0)),
            constant_values=self.fill_value,
        )

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
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
            "data_format": self.data_format,
        }


def _saturate_round(images, dtype):
    """Round to the nearest integer (half to even), clip to `dtype`'s range
    and cast, as `keras.layers.Resizing` returns integer images."""
    info = np.iinfo(dtype)
    float_dtype = keras.backend.standardize_dtype(images.dtype)
    if float_dtype != "float64":
        # float16 / bfloat16 (mixed precision) round in float32: numpy may
        # not know bfloat16 (PyTorch backend), and float32 holds every value
        float_dtype = "float32"
        images = ops.cast(images, float_dtype)
    bounds = []
    for bound in (info.min, info.max):
        # the float nearest the bound inside the range (int32's max rounds up)
        value = np.asarray(bound).astype(float_dtype)
        if abs(float(value)) > abs(bound):
            value = np.nextafter(value, np.zeros_like(value))
        bounds.append(float(value))
    images = ops.clip(ops.round(images), bounds[0], bounds[1])
    return ops.cast(images, dtype)


def _is_static(value):
    return isinstance(value, numbers.Integral)


def _minimum(a, b):
    """`min` of two sizes, python ints or (in a TensorFlow graph) int tensors."""
    if _is_static(a) and _is_static(b):
        return min(a, b)
    return ops.minimum(a, b)


def _maximum(a, b):
    """`max` of two sizes, python ints or (in a TensorFlow graph) int tensors."""
    if _is_static(a) and _is_static(b):
        return max(a, b)
    return ops.maximum(a, b)
