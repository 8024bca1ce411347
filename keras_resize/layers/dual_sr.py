"""Dual super-resolution learning (DSRL, Wang et al., CVPR 2020): the head.

A segmentation network that sees the image downsampled by `factor` gets
three extra pieces, all in `DualSRHead`:

- **SSSR** (semantic segmentation super-resolution): its logits are
  upsampled to `factor` x the input size by a learned `SubPixelUpsampling`
  (initialised as exact bilinear upsampling) and trained against the
  full-resolution labels;
- **SISR** (single image super-resolution): a `SuperResolutionDecoder` on the
  shared encoder features reconstructs the full-resolution image with
  sub-pixel convolution (`depth_to_space`);
- **feature transform** (FTM): a 1x1 convolution (classes -> image
  channels) + BatchNormalization + ReLU on the SSSR output, whose affinity
  structure the feature affinity loss (`keras_resize.losses`) pulls towards
  that of the SISR output.

Only the SSSR upsampling is needed at inference; the training model and the
export path are in `keras_resize.models.DualSRModel`.

Every layer runs on TensorFlow, JAX and PyTorch (`keras.ops` only) and takes
`data_format`: it computes in channels-last and transposes
`"channels_first"` inputs and outputs, so the same weights give the same
numbers in both formats.
"""

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.layers.base import (
    check_data_format,
    from_channels_last,
    shape_from_channels_last,
    shape_to_channels_last,
    to_channels_last,
)
from keras_resize.ops.validation import (
    check_bool,
    check_choice,
    check_image_shape,
    check_non_negative_int,
    check_positive_int,
    check_same_batch,
)

UPSAMPLING_MODES = ("learned", "bilinear")


def bilinear_subpixel_weights(factor):
    """Bilinear upsampling by `factor` as a 3x3 sub-pixel kernel.

    Sub-pixel `(row, column)` of an output block (index
    `row * factor + column`, the `depth_to_space` order) samples the input
    at offset `(r + 0.5) / factor - 0.5` in index space per axis, which lies
    within one pixel of the block's source pixel, so the 3 x 3 neighbourhood
    holds every bilinear tap.

    Args:
        factor: the integer upsampling factor.

    Returns:
        A float32 numpy array `(3, 3, factor * factor)`: the weights of the
        neighbours (offsets -1, 0, +1 per axis) for every sub-pixel.
    """
    factor = check_positive_int("factor", factor)
    offsets = (np.arange(factor) + 0.5) / factor - 0.5
    taps = np.stack(
        [np.maximum(-offsets, 0.0), 1.0 - np.abs(offsets), np.maximum(offsets, 0.0)],
        axis=1,
    )  # (factor, 3): weights of the taps -1, 0, +1
    weights = taps[:, None, :, None] * taps[None, :, None, :]  # (ry, rx, ty, tx)
    weights = weights.reshape(factor * factor, 3, 3).transpose(1, 2, 0)
    return weights.astype("float32")


def _subpixel_kernel(channels, factor, channel_mixing):
    """The bilinear sub-pixel kernel for `channels` channels (numpy)."""
    blocks = factor * factor
    weights = bilinear_subpixel_weights(factor)  # (3, 3, blocks)
    if channel_mixing:
        # output channel (sub-pixel m, channel c) reads input channel c only
        kernel = (
            weights[:, :, None, :, None]
            * np.eye(channels, dtype="float32")[None, None, :, None, :]
        )
        return kernel.reshape(3, 3, channels, blocks * channels)
    return np.ascontiguousarray(
        np.broadcast_to(weights[:, :, None, :], (3, 3, channels, blocks))
    )


def depth_to_space(images, block_size):
    """Rearrange channel blocks into spatial blocks (PixelShuffle).

    The order of `tf.nn.depth_to_space`: channel `(r * block_size + c) *
    channels + k` of input pixel `(i, j)` becomes channel `k` of output pixel
    `(i * block_size + r, j * block_size + c)`. Written with a reshape and a
    transpose (`keras.ops`), so it runs on every backend.

    Args:
        images: `(batch, height, width, block_size^2 * channels)`,
            channels-last; the channels must be known.
        block_size: a positive int.

    Returns:
        `(batch, block_size * height, block_size * width, channels)`.
    """
    if block_size == 1:
        return images
    _, height, width, depth = ops.shape(images)
    channels = depth // (block_size * block_size)
    x = ops.reshape(images, (-1, height, width, block_size, block_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height * block_size, width * block_size, channels))


def _edge_pad(images):
    """Repeat the border pixels once (channels-last): `tf.pad(...,
    "SYMMETRIC")` by one pixel, written with slices and concatenation."""
    x = ops.concatenate([images[:, :1], images, images[:, -1:]], axis=1)
    return ops.concatenate([x[:, :, :1], x, x[:, :, -1:]], axis=2)


def _subpixel_upsample(images, kernel, factor, channel_mixing, bias=None):
    """Edge-pad by one pixel, 3x3 "valid" convolution, `depth_to_space`.

    `kernel` is `(3, 3, C, factor^2 * C)` (channel mixing; output channel
    `m * C + c` is sub-pixel `m` of channel `c`) or `(3, 3, C, factor^2)`
    (depthwise; output channel `c * factor^2 + m`, reordered here).
    """
    # padding by one repeated border pixel: the bilinear kernel clamps at
    # the borders as `resize` does
    x = _edge_pad(images)
    if channel_mixing:
        x = ops.conv(x, kernel, padding="valid", data_format="channels_last")
    else:
        x = ops.depthwise_conv(x, kernel, padding="valid", data_format="channels_last")
        channels, blocks = kernel.shape[2], kernel.shape[3]
        order = np.arange(channels)[None, :] * blocks + np.arange(blocks)[:, None]
        x = ops.take(
            x, ops.convert_to_tensor(order.reshape(-1).astype("int32")), axis=3
        )
    if bias is not None:
        x = x + bias
    return depth_to_space(x, factor)


@keras.saving.register_keras_serializable(package="keras_resize")
class SubPixelUpsampling(keras.layers.Layer):
    """Upsampling by an integer factor with sub-pixel convolution, bilinear
    at initialisation (learned) or always (fixed).

    A 3x3 convolution predicts the `factor^2` sub-pixels of every output
    block from each input pixel's neighbourhood, and `depth_to_space`
    (PixelShuffle) arranges them. The input is edge-padded by one pixel
    first, so the bilinear kernel equals bilinear upsampling exactly
    (`keras_resize.ops.resize(..., method="bilinear")`, i.e.
    `tf.image.resize`), borders included.

    With `learned=True` the kernel (and a bias) are weights, initialised as
    bilinear by default; training moves them away from it. This is the SSSR
    upsampling of DSRL (`DualSRHead`), where it upsamples segmentation
    logits to the label resolution. With `learned=False` the layer has no
    weights: a depthwise bilinear upsampler with any (unknown) input size,
    which compiles under XLA and exports to TFLite builtins
    (StridedSlice and Concatenation for the edge padding, DepthwiseConv2D,
    Gather, Reshape and Transpose for `depth_to_space`); the DSRL baseline.

    Args:
        factor: integer upsampling factor, >= 1.
        learned: `True` (default): trainable kernel and bias; `False`: the
            fixed bilinear kernel, no weights.
        channel_mixing: `True`: a full convolution, every output channel may
            use every input channel (`9 * C * C * factor^2` weights);
            `False`: a depthwise convolution, each channel upsampled on its
            own (`9 * C * factor^2` weights). Default: `learned`.
        initializer: `"bilinear"` (default) or, with `learned=True`, a Keras
            initializer for the kernel.
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`);
            default `keras.config.image_data_format()`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` (channels first: `(batch,
        channels, height, width)`); any spatial size.

    Output shape:
        `(batch, factor * height, factor * width, channels)` (channels
        first: `(batch, channels, factor * height, factor * width)`).

    Example:

    >>> layer = SubPixelUpsampling(2)
    >>> logits = np.random.default_rng(0).random((1, 8, 12, 5)).astype("float32")
    >>> tuple(layer(logits).shape)
    (1, 16, 24, 5)
    >>> bilinear = keras_resize.ops.resize(logits, (16, 24), method="bilinear")
    >>> out = keras.ops.convert_to_numpy(layer(logits))
    >>> bool(np.allclose(out, keras.ops.convert_to_numpy(bilinear), atol=1e-5))
    True

    Convention: half-pixel centres, as `keras_resize.ops.resize`: output
    pixel `o` of an axis lies at source index `(o + 0.5) / factor - 0.5`;
    output block `(i, j)` of `factor x factor` pixels belongs to input pixel
    `(i, j)`.
    """

    def __init__(
        self,
        factor,
        learned=True,
        channel_mixing=None,
        initializer="bilinear",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.factor = check_positive_int("factor", factor)
        self.learned = check_bool("learned", learned)
        if channel_mixing is None:
            channel_mixing = self.learned
        self.channel_mixing = check_bool("channel_mixing", channel_mixing)
        if initializer != "bilinear":
            try:
                keras.initializers.get(initializer)
            except (ValueError, TypeError):
                raise ValueError(
                    "Expected `initializer` to be 'bilinear' or a Keras "
                    f"initializer. Received: initializer={initializer!r}"
                ) from None
            if not self.learned:
                raise ValueError(
                    "A fixed (learned=False) `SubPixelUpsampling` is bilinear. "
                    f"Received: initializer={initializer!r}"
                )
        self.initializer = initializer

    def build(self, input_shape):
        input_shape = _image_shape(self, input_shape)
        channels = input_shape[-1]
        bilinear = _subpixel_kernel(channels, self.factor, self.channel_mixing)
        if not self.learned:
            self._fixed_kernel = bilinear
            return
        if self.initializer == "bilinear":

            def initializer(shape, dtype=None):
                return keras.ops.cast(bilinear, dtype or "float32")

        else:
            initializer = self.initializer
        self.kernel = self.add_weight(
            shape=bilinear.shape, initializer=initializer, name="kernel"
        )
        self.bias = self.add_weight(
            shape=(self.factor * self.factor * channels,),
            initializer="zeros",
            name="bias",
        )

    def call(self, inputs):
        x = to_channels_last(ops.cast(inputs, self.compute_dtype), self.data_format)
        if not self.learned:
            kernel = ops.cast(self._fixed_kernel, self.compute_dtype)
            x = _subpixel_upsample(x, kernel, self.factor, self.channel_mixing)
        else:
            x = _subpixel_upsample(
                x, self.kernel, self.factor, self.channel_mixing, self.bias
            )
        return from_channels_last(x, self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = _image_shape(self, input_shape)
        return shape_from_channels_last(
            _scaled_shape(input_shape, self.factor, input_shape[-1]),
            self.data_format,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "learned": self.learned,
            "channel_mixing": self.channel_mixing,
            "initializer": self.initializer,
            "data_format": self.data_format,
        }


@keras.saving.register_keras_serializable(package="keras_resize")
class SuperResolutionDecoder(keras.layers.Layer):
    """Sub-pixel convolution decoder from features to an upscaled image.

    The SISR branch of DSRL: `num_layers` 3x3 convolutions with `filters`
    channels and ReLU, then a 3x3 convolution to `image_channels * scale^2`
    channels and `depth_to_space(scale)` (PixelShuffle, as ESPCN). With
    features at stride `s` of the network input and the image wanted at
    `factor` x the input, `scale = s * factor`.

    Args:
        scale: integer upscaling from the features to the image, >= 1.
        image_channels: channels of the reconstructed image (default 3).
        filters: channels of the hidden convolutions (default 64).
        num_layers: number of hidden convolutions, >= 0 (default 2).
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`);
            default `keras.config.image_data_format()`.
        **kwargs: base layer arguments.

    Input shape:
        `(batch, height, width, channels)` features (channels first:
        `(batch, channels, height, width)`).

    Output shape:
        `(batch, scale * height, scale * width, image_channels)` (channels
        first: `(batch, image_channels, scale * height, scale * width)`).

    Example:

    >>> decoder = SuperResolutionDecoder(scale=4, filters=8)
    >>> features = np.zeros((2, 16, 16, 32), "float32")
    >>> tuple(decoder(features).shape)
    (2, 64, 64, 3)

    Convention: output block `(i, j)` of `scale x scale` pixels belongs to
    feature pixel `(i, j)`; sub-pixel `(r, c)` of a block is channel
    `(r * scale + c) * image_channels + k` of the last convolution
    (`tf.nn.depth_to_space` order, see `depth_to_space`).
    """

    def __init__(
        self,
        scale,
        image_channels=3,
        filters=64,
        num_layers=2,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.scale = check_positive_int("scale", scale)
        self.image_channels = check_positive_int("image_channels", image_channels)
        self.filters = check_positive_int("filters", filters)
        self.num_layers = check_non_negative_int("num_layers", num_layers)
        self.hidden = [
            keras.layers.Conv2D(
                self.filters,
                3,
                padding="same",
                activation="relu",
                data_format="channels_last",
                dtype=self.dtype_policy,
                name=f"hidden_{i}",
            )
            for i in range(self.num_layers)
        ]
        self.to_subpixels = keras.layers.Conv2D(
            self.image_channels * self.scale * self.scale,
            3,
            padding="same",
            data_format="channels_last",
            dtype=self.dtype_policy,
            name="to_subpixels",
        )

    def build(self, input_shape):
        shape = _image_shape(self, input_shape)
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (self.filters,)
        self.to_subpixels.build(shape)

    def call(self, inputs):
        x = to_channels_last(ops.cast(inputs, self.compute_dtype), self.data_format)
        for layer in self.hidden:
            x = layer(x)
        x = depth_to_space(self.to_subpixels(x), self.scale)
        return from_channels_last(x, self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = _image_shape(self, input_shape)
        return shape_from_channels_last(
            _scaled_shape(input_shape, self.scale, self.image_channels),
            self.data_format,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "image_channels": self.image_channels,
            "filters": self.filters,
            "num_layers": self.num_layers,
            "data_format": self.data_format,
        }


@keras.saving.register_keras_serializable(package="keras_resize")
class DualSRHead(keras.layers.Layer):
    """Dual super-resolution head: SSSR, SISR and feature transform (DSRL).

    Attaches to a segmentation network that sees the image downsampled by
    `factor`. Called on `[features, logits]` (shared encoder features and
    the network's logits at its input resolution), it returns a dict:

    - `"segmentation"`: the logits upsampled to `factor` x the input size by
      `SubPixelUpsampling` (SSSR), to be trained against full-resolution
      labels; with `upsampling="bilinear"` it is fixed bilinear
      upsampling without weights (the baseline);
    - `"super_resolution"` (if `super_resolution`): the image at `factor` x
      the input size, decoded from the features by `SuperResolutionDecoder`
      (SISR), to be trained against the full-resolution image;
    - `"feature_transform"` (if `feature_transform`): 1x1 convolution
      (classes -> `image_channels`) + BatchNormalization + ReLU of the SSSR
      output, the map whose affinity the feature affinity loss compares
      with that of the SISR output.

    At inference only the `upsampler` sublayer (the SSSR path) is needed:
    `keras_resize.models.DualSRModel.inference_model()` drops the rest.

    Args:
        num_classes: number of segmentation classes (channels of `logits`).
        factor: the super-resolution factor, >= 1 (paper: 2).
        upsampling: `"learned"` (SSSR: a trainable `SubPixelUpsampling`
            that mixes classes, initialised as bilinear) or `"bilinear"`
            (fixed bilinear upsampling, no weights: the baseline).
        super_resolution: build the SISR branch.
        feature_transform: build the feature transform module.
        image_channels: channels of the SISR image and of the transformed
            features (default 3).
        feature_stride: how many input pixels one feature pixel spans
            (`logits` size / `features` size). `None` (default): inferred
            from the static input shapes at build time.
        decoder_filters: hidden channels of the SISR decoder (default 64).
        decoder_layers: hidden convolutions of the SISR decoder (default 2).
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`) for
            the inputs and every output; default
            `keras.config.image_data_format()`.
        **kwargs: base layer arguments.

    Input shape:
        A list `[features, logits]`: `(batch, height / feature_stride,
        width / feature_stride, feature_channels)` and `(batch, height,
        width, num_classes)` (channels first: channels on axis 1), of the
        same batch size (a `ValueError` names both shapes otherwise; an
        empty batch gives empty outputs).

    Output shape:
        A dict: `"segmentation"` `(batch, factor * height, factor * width,
        num_classes)`, `"super_resolution"` and `"feature_transform"`
        `(batch, factor * height, factor * width, image_channels)`
        (channels first: channels on axis 1).

    Example:

    >>> head = DualSRHead(num_classes=5, factor=2, decoder_filters=8)
    >>> features = np.zeros((2, 8, 8, 16), "float32")  # stride 4
    >>> logits = np.zeros((2, 32, 32, 5), "float32")
    >>> {k: tuple(v.shape) for k, v in head([features, logits]).items()}
    {'segmentation': (2, 64, 64, 5), 'super_resolution': (2, 64, 64, 3), 'feature_transform': (2, 64, 64, 3)}

    Convention: half-pixel centres; output block `(i, j)` of `factor x
    factor` pixels belongs to input pixel `(i, j)` (see
    `SubPixelUpsampling`); the SISR output is aligned with it.
    """

    def __init__(
        self,
        num_classes,
        factor=2,
        upsampling="learned",
        super_resolution=True,
        feature_transform=True,
        image_channels=3,
        feature_stride=None,
        decoder_filters=64,
        decoder_layers=2,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.factor = check_positive_int("factor", factor)
        self.upsampling = check_choice("upsampling", upsampling, UPSAMPLING_MODES)
        self.super_resolution = check_bool("super_resolution", super_resolution)
        self.feature_transform = check_bool("feature_transform", feature_transform)
        self.image_channels = check_positive_int("image_channels", image_channels)
        if feature_stride is not None:
            feature_stride = check_positive_int("feature_stride", feature_stride)
        self.feature_stride = feature_stride
        self.decoder_filters = check_positive_int("decoder_filters", decoder_filters)
        self.decoder_layers = check_non_negative_int("decoder_layers", decoder_layers)
        self.upsampler = SubPixelUpsampling(
            self.factor,
            learned=self.upsampling == "learned",
            data_format=self.data_format,
            dtype=self.dtype_policy,
            name="upsampling",
        )
        # the SISR decoder's scale depends on the feature stride: built in build()
        self.decoder = None
        if self.feature_transform:
            self.transform_conv = keras.layers.Conv2D(
                self.image_channels,
                1,
                data_format="channels_last",
                dtype=self.dtype_policy,
                name="feature_transform_conv",
            )
            self.transform_norm = keras.layers.BatchNormalization(
                axis=-1,
                dtype=self.dtype_policy,
                name="feature_transform_norm",
            )

    def _split_inputs(self, inputs):
        """`features, logits` of a call, checked: rank 4, the same batch size."""
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            if hasattr(inputs, "shape"):
                received = f"inputs.shape={tuple(inputs.shape)}"
            elif isinstance(inputs, (list, tuple)):
                received = f"a list of {len(inputs)} inputs"
            else:
                received = f"inputs={inputs!r}"
            raise ValueError(
                "Expected `DualSRHead` to be called on a list [features, logits]. "
                f"Received: {received}"
            )
        features, logits = inputs
        for name, tensor in (("features", features), ("logits", logits)):
            _check_rank_4(name, tuple(tensor.shape))
        # a different batch would give outputs of different batch sizes
        check_same_batch("features", features, "logits", logits)
        return features, logits

    def _split_shapes(self, input_shape):
        """The `[features, logits]` shapes, checked, in channels-last."""
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "Expected `DualSRHead` to be called on a list [features, logits]. "
                f"Received: input_shape={input_shape}"
            )
        if any(not isinstance(shape, (list, tuple)) for shape in input_shape):
            raise ValueError(
                "Expected `features` and `logits` of rank 4. Received: "
                f"input_shape={input_shape}"
            )
        for name, shape in zip(("features", "logits"), input_shape, strict=True):
            _check_rank_4(name, tuple(shape))
        batches = [shape[0] for shape in input_shape]
        if None not in batches and batches[0] != batches[1]:
            raise ValueError(
                "Expected `features` and `logits` to have the same batch size. "
                f"Received: features.shape={tuple(input_shape[0])} and "
                f"logits.shape={tuple(input_shape[1])}"
            )
        features_shape, logits_shape = (
            check_image_shape(
                shape_to_channels_last(shape, self.data_format), require_channels=True
            )
            for shape in input_shape
        )
        return features_shape, logits_shape

    def resolved_feature_stride(self, features_shape, logits_shape):
        """`feature_stride`, or the ratio of the static sizes if it is `None`."""
        if self.feature_stride is not None:
            return self.feature_stride
        ratios = set()
        for logits_size, features_size in zip(
            logits_shape[1:3], features_shape[1:3], strict=True
        ):
            if logits_size is None or features_size is None:
                ratios.add(None)
            elif logits_size % features_size:
                ratios.add(logits_size / features_size)
            else:
                ratios.add(logits_size // features_size)
        if len(ratios) != 1 or not isinstance(next(iter(ratios)), int):
            raise ValueError(
                "Cannot infer `feature_stride` (logits size / features size, the "
                "same integer for both axes) from features of shape "
                f"{features_shape} and logits of shape {logits_shape}. Pass "
                "`feature_stride`."
            )
        return ratios.pop()

    def build(self, input_shape):
        features_shape, logits_shape = self._split_shapes(input_shape)
        if logits_shape[-1] != self.num_classes:
            raise ValueError(
                f"Expected logits with num_classes={self.num_classes} channels. "
                f"Received: logits shape {logits_shape}"
            )
        self.upsampler.build(shape_from_channels_last(logits_shape, self.data_format))
        if self.super_resolution:
            stride = self.resolved_feature_stride(features_shape, logits_shape)
            self.decoder = SuperResolutionDecoder(
                stride * self.factor,
                self.image_channels,
                self.decoder_filters,
                self.decoder_layers,
                data_format=self.data_format,
                dtype=self.dtype_policy,
                name="super_resolution_decoder",
            )
            self.decoder.build(
                shape_from_channels_last(features_shape, self.data_format)
            )
        if self.feature_transform:
            upsampled = _scaled_shape(logits_shape, self.factor, self.num_classes)
            transformed = upsampled[:-1] + (self.image_channels,)
            self.transform_conv.build(upsampled)
            self.transform_norm.build(transformed)

    def call(self, inputs, training=None):
        features, logits = self._split_inputs(inputs)
        segmentation = self.upsampler(logits)
        outputs = {"segmentation": segmentation}
        if self.super_resolution:
            outputs["super_resolution"] = self.decoder(features)
        if self.feature_transform:
            # in channels-last, as the sublayers compute
            transformed = to_channels_last(segmentation, self.data_format)
            transformed = self.transform_conv(transformed)
            transformed = self.transform_norm(transformed, training=training)
            outputs["feature_transform"] = from_channels_last(
                ops.relu(transformed), self.data_format
            )
        return outputs

    def compute_output_shape(self, input_shape):
        features_shape, logits_shape = self._split_shapes(input_shape)
        shapes = {
            "segmentation": _scaled_shape(logits_shape, self.factor, self.num_classes)
        }
        image = _scaled_shape(logits_shape, self.factor, self.image_channels)
        if self.super_resolution:
            shapes["super_resolution"] = image
        if self.feature_transform:
            shapes["feature_transform"] = image
        return {
            key: shape_from_channels_last(shape, self.data_format)
            for key, shape in shapes.items()
        }

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "factor": self.factor,
            "upsampling": self.upsampling,
            "super_resolution": self.super_resolution,
            "feature_transform": self.feature_transform,
            "image_channels": self.image_channels,
            "feature_stride": self.feature_stride,
            "decoder_filters": self.decoder_filters,
            "decoder_layers": self.decoder_layers,
            "data_format": self.data_format,
        }


def _check_rank_4(name, shape):
    if len(shape) != 4:
        raise ValueError(
            f"Expected `{name}` to have rank 4 (batch, height, width, channels; "
            f"channels first: batch, channels, height, width). Received: "
            f"{name}.shape={shape}"
        )


def _image_shape(layer, input_shape):
    """A rank-4 input shape in `layer.data_format`, checked, in channels-last."""
    input_shape = tuple(input_shape)
    if len(input_shape) != 4:
        raise ValueError(
            "Expected an input of rank 4 (batch, height, width, channels; "
            "channels first: batch, channels, height, width). "
            f"Received: input_shape={input_shape}"
        )
    shape = shape_to_channels_last(input_shape, layer.data_format)
    return check_image_shape(shape, require_channels=True)


def _scaled_shape(input_shape, factor, channels):
    input_shape = tuple(input_shape)
    spatial = tuple(None if d is None else d * factor for d in input_shape[-3:-1])
    return input_shape[:-3] + spatial + (channels,)
