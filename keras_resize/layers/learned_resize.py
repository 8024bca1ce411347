"""`LearnedResize`: the learned resizer of Talebi & Milanfar (ICCV 2021)."""

import keras

from keras_resize.backend import ops
from keras_resize.layers.base import (
    check_data_format,
    check_image_input,
    from_channels_last,
    shape_from_channels_last,
    shape_to_channels_last,
    to_channels_last,
)
from keras_resize.layers.registry import register_resizer
from keras_resize.ops import kernels
from keras_resize.ops.resize import resize
from keras_resize.ops.validation import (
    check_bool,
    check_choice,
    check_image_shape,
    check_non_negative_int,
    check_positive_int,
    resized_shape,
)
from keras_resize.pretrained import PretrainedMixin

_LEAKY_SLOPE = 0.2


@keras.saving.register_keras_serializable(package="keras_resize")
class LearnedResize(PretrainedMixin, keras.layers.Layer):
    """The learned image resizer of Talebi & Milanfar (ICCV 2021).

    A small CNN that adds a learned residual to a fixed resize, trained
    end to end with the model that follows it:

    ```
    skip = resize(x, size, interpolation)               # image skip
    f = LeakyReLU(0.2)(Conv2D(n, 7)(x))                 # at input resolution
    f = BN(LeakyReLU(0.2)(Conv2D(n, 1)(f)))
    b = resize(f, size, interpolation)                  # feature bottleneck
    y = b
    repeat r times:                                     # chained blocks
        t = LeakyReLU(0.2)(BN(Conv2D(n, 3, no bias)(y)))
        y = y + BN(Conv2D(n, 3, no bias)(t))
    y = BN(Conv2D(n, 3, no bias)(y)) + b
    out = skip + Conv2D(C, 7)(y)
    ```

    All convolutions use `"same"` padding. The residual blocks are chained
    (block `k` reads the output of block `k - 1`), not all fed from the
    bottleneck as in one public port. The last convolution has as many
    filters as the input has channels, so any number of channels works.
    With the defaults (`n=16`, `r=1`) and RGB input the layer has 12,163
    parameters (12,035 trainable + 128 batch-norm moving statistics); each
    extra residual block adds 4,736. The stem runs at the input resolution,
    everything after the bottleneck at the output resolution. Down-scaling,
    equal size and up-scaling all work, at any aspect ratio.

    Training: add `keras_resize.callbacks.BatchNormRecalibration(train_data)`
    to `model.fit`. The layer's own BatchNormalization layers see weights
    that change fast, and on short schedules their moving averages lag:
    trained with a plain `fit`, the model is much worse in inference mode
    than in training. Measured on the digit-canvas benchmark (256 -> 64 px,
    `resnet_tiny`, 6 epochs; `python -m benchmarks.run --only
    learned_resize`, seeds 0 / 1 / 2): validation accuracy at the end of
    `fit` 65.4 / 19.0 / 57.6 %, after re-estimating the statistics over 50
    training batches 88.0 / 89.2 / 89.8 %. The callback does that before
    every validation and at the end of training. (The fixed resizers of the
    same benchmark move by at most 1 point: bilinear 84.6 / 84.4 / 83.4 %
    in `fit`, 84.6 / 84.8 / 83.8 % re-estimated.)

    Args:
        height: output height, a positive int.
        width: output width, a positive int.
        filters: `n`, the width of every hidden convolution, a positive int.
        num_res_blocks: `r`, the number of residual blocks, a non-negative
            int (0: no blocks).
        interpolation: the fixed resize of the skip and the bottleneck, one
            of `keras_resize.ops.RESIZE_METHODS` (`"bilinear"` in the paper).
        antialias: widen the fixed resize kernel by the scale factor when
            downsizing (see `keras_resize.ops.resize`).
        data_format: `"channels_last"` or `"channels_first"` (default
            `keras.config.image_data_format()`). The weights are the same
            in both: channels-first inputs are transposed to channels-last
            for the computation and back.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels-first: `(batch, channels, height, width)` or `(channels,
        height, width)`); any spatial size, known or not; the channel count
        must be known. The batch may be empty (size 0); a height or width
        of 0 raises a `ValueError`.

    Output shape:
        The input's layout with the configured `(height, width)` and the
        input's channel count.

    Example:

    >>> layer = LearnedResize(32, 24)
    >>> tuple(layer(np.zeros((2, 64, 64, 3), "float32")).shape)
    (2, 32, 24, 3)
    >>> layer.count_params()
    12163
    >>> tuple(layer.fixed_resize(np.zeros((2, 64, 64, 3), "float32")).shape)
    (2, 32, 24, 3)

    Convention: half-pixel centres, as `keras_resize.ops.resize` (output
    pixel `o` samples the source at `(o + 0.5) * in / out - 0.5` in index
    space), for both the image skip and the feature bottleneck. The output
    is not clipped: it may leave the input's value range.
    """

    def __init__(
        self,
        height,
        width,
        filters=16,
        num_res_blocks=1,
        interpolation="bilinear",
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.height = check_positive_int("height", height)
        self.width = check_positive_int("width", width)
        self.filters = check_positive_int("filters", filters)
        self.num_res_blocks = check_non_negative_int("num_res_blocks", num_res_blocks)
        self.interpolation = check_choice(
            "interpolation", interpolation, kernels.RESIZE_METHODS
        )
        self.antialias = check_bool("antialias", antialias)
        self.supports_masking = False

        n = self.filters
        self.stem_conv = self._conv(n, 7, True, "stem_conv")
        self.reduce_conv = self._conv(n, 1, True, "reduce_conv")
        self.reduce_bn = self._bn("reduce_bn")
        self.blocks = [
            (
                self._conv(n, 3, False, f"block_{k}_conv_1"),
                self._bn(f"block_{k}_bn_1"),
                self._conv(n, 3, False, f"block_{k}_conv_2"),
                self._bn(f"block_{k}_bn_2"),
            )
            for k in range(self.num_res_blocks)
        ]
        self.merge_conv = self._conv(n, 3, False, "merge_conv")
        self.merge_bn = self._bn("merge_bn")
        # The output convolution needs the input's channel count: made in build.
        self.output_conv = None

    def _conv(self, filters, kernel_size, use_bias, name):
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            use_bias=use_bias,
            data_format="channels_last",  # the layer computes channels-last
            name=name,
            dtype=self.dtype_policy,
        )

    def _bn(self, name):
        return keras.layers.BatchNormalization(name=name, dtype=self.dtype_policy)

    def build(self, input_shape):
        input_shape = shape_to_channels_last(input_shape, self.data_format)
        input_shape = check_image_shape(input_shape, require_channels=True)
        channels = input_shape[-1]
        image = (None, None, None, channels)
        features = (None, None, None, self.filters)
        self.output_conv = self._conv(channels, 7, True, "output_conv")
        self.stem_conv.build(image)
        self.reduce_conv.build(features)
        self.reduce_bn.build(features)
        for conv_1, bn_1, conv_2, bn_2 in self.blocks:
            conv_1.build(features)
            bn_1.build(features)
            conv_2.build(features)
            bn_2.build(features)
        self.merge_conv.build(features)
        self.merge_bn.build(features)
        self.output_conv.build(features)

    def _resize(self, x):
        return resize(
            x,
            (self.height, self.width),
            method=self.interpolation,
            antialias=self.antialias,
        )

    def _as_batch(self, inputs):
        check_image_input(inputs, self.data_format)
        inputs = to_channels_last(inputs, self.data_format)
        inputs = ops.cast(inputs, self.compute_dtype)
        rank = len(inputs.shape)
        if rank not in (3, 4):
            raise ValueError(
                "Expected an input of rank 3 (height, width, channels) or 4 "
                f"(batch, height, width, channels). Received: "
                f"input_shape={tuple(inputs.shape)}"
            )
        if rank == 3:
            return ops.expand_dims(inputs, 0), True
        return inputs, False

    def _restore(self, out, squeeze):
        return from_channels_last(out[0] if squeeze else out, self.data_format)

    def call(self, inputs, training=None):
        x, squeeze = self._as_batch(inputs)
        skip = self._resize(x)

        f = ops.leaky_relu(self.stem_conv(x), _LEAKY_SLOPE)
        f = ops.leaky_relu(self.reduce_conv(f), _LEAKY_SLOPE)
        f = self.reduce_bn(f, training=training)
        bottleneck = self._resize(f)

        y = bottleneck
        for conv_1, bn_1, conv_2, bn_2 in self.blocks:
            t = ops.leaky_relu(bn_1(conv_1(y), training=training), _LEAKY_SLOPE)
            y = y + bn_2(conv_2(t), training=training)
        y = self.merge_bn(self.merge_conv(y), training=training) + bottleneck
        out = skip + self.output_conv(y)
        return self._restore(out, squeeze)

    def fixed_resize(self, inputs):
        """The image skip path alone: the fixed resize the layer learns on.

        `layer(x) - layer.fixed_resize(x)` is the learned residual, e.g. for
        plotting what the resizer adds to the plain resize.

        Args:
            inputs: images, as for calling the layer.

        Returns:
            `resize(inputs, (height, width), interpolation, antialias)` in
            the layer's compute dtype.
        """
        x, squeeze = self._as_batch(inputs)
        return self._restore(self._resize(x), squeeze)

    def compute_output_shape(self, input_shape):
        check_image_input(input_shape, self.data_format)
        shape = shape_to_channels_last(input_shape, self.data_format)
        check_image_shape(shape, require_channels=True)
        shape = resized_shape(shape, self.height, self.width)
        return shape_from_channels_last(shape, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "filters": self.filters,
            "num_res_blocks": self.num_res_blocks,
            "interpolation": self.interpolation,
            "antialias": self.antialias,
            "data_format": self.data_format,
        }


@register_resizer("learned")
def _learned(height, width, **kwargs):
    """Learned (Talebi & Milanfar 2021): CNN residual on a fixed bilinear resize."""
    kwargs.setdefault("name", "resizer")
    return LearnedResize(height, width, **kwargs)
