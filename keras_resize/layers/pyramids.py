"""Pyramid layers: SPP, the PSPNet pyramid pooling module, ASPP, image pyramids.

Thin Keras wrappers over `keras_resize.ops.pyramids` (adaptive pooling,
Gaussian and Laplacian pyramids) and Keras convolutions, on every Keras
backend. Every layer takes `data_format`: it computes in channels-last and
transposes `"channels_first"` inputs and outputs (see
`keras_resize.layers.base`), so the same weights give the same numbers in
both formats. Every layer raises a `ValueError` for inputs with a height
or width of 0 (known at trace time); an empty batch gives an empty batch.
"""

import numbers

import keras

from keras_resize.backend import ops
from keras_resize.layers.base import (
    check_data_format,
    from_channels_last,
    shape_from_channels_last,
    shape_to_channels_last,
    to_channels_last,
)
from keras_resize.ops.pyramids import (
    REDUCTIONS,
    adaptive_pool,
    bilinear_resize_to,
    gaussian_pyramid,
    laplacian_pyramid,
    reconstruct_laplacian,
)
from keras_resize.ops.validation import (
    as_image_batch,
    check_choice,
    check_image_shape,
    check_non_empty_spatial,
    check_positive_int,
)


def _check_positive_ints(name, values):
    """Return `values` as a tuple of positive ints (non-empty), else raise."""
    message = (
        f"Expected `{name}` to be a non-empty sequence of positive ints. "
        f"Received: {name}={values!r}"
    )
    if isinstance(values, (str, bytes)):
        raise ValueError(message)
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(message) from None
    if not values or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) > 0
        for v in values
    ):
        raise ValueError(message)
    return tuple(int(v) for v in values)


def _image_batch(layer, inputs):
    """Channels-last float images of rank 4 in the compute dtype, and
    whether a batch axis was added."""
    images = to_channels_last(inputs, layer.data_format)
    images, squeeze = as_image_batch(images, name="inputs")
    # a height or width of 0 has nothing to pool (NaN means, -inf maxima)
    check_non_empty_spatial("inputs", images)
    return ops.cast(images, layer.compute_dtype), squeeze


def _output(layer, images, squeeze):
    """Undo `_image_batch` on channels-last images of rank 4."""
    return from_channels_last(images[0] if squeeze else images, layer.data_format)


def _image_shape(layer, input_shape, require_channels=False):
    """The input shape in channels-last (rank 3 or 4), checked (also for a
    statically known height or width of 0)."""
    shape = shape_to_channels_last(input_shape, layer.data_format)
    shape = check_image_shape(shape, require_channels=require_channels)
    if 0 in shape[-3:-1]:
        raise ValueError(
            "Expected the input to have a non-zero height and width. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    return shape


@keras.saving.register_keras_serializable(package="keras_resize")
class SpatialPyramidPooling(keras.layers.Layer):
    """Spatial pyramid pooling: a fixed-length vector from any input size.

    SPP (He et al., ECCV 2014) max-pools the feature map into `n x n` bins
    for every level `n`, flattens each level and concatenates them, so a
    classifier head gets `channels * sum(n^2)` features whatever the input
    size. The bins are adaptive (`keras_resize.ops.adaptive_bin_edges`):
    `n x n` bins for every size, also when `n` does not divide it or exceeds
    it (7 pixels into 4 bins), where the usual window/stride formula fails.

    Args:
        levels: bins per axis of each pyramid level, a non-empty sequence of
            positive ints (paper: `(4, 2, 1)`).
        reduction: `"max"` (the paper) or `"average"`.
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`);
            default `keras.config.image_data_format()`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels first: `(batch, channels, height, width)` or `(channels,
        height, width)`); any spatial size, known or not (TensorFlow);
        `channels` must be known.

    Output shape:
        `(batch, channels * sum(n^2 for n in levels))` (no batch axis for
        rank-3 input). Level by level, each level's bins in row-major order
        with the channels last (a reshape of `(batch, n, n, channels)`), in
        both data formats.

    Example:

    >>> layer = SpatialPyramidPooling(levels=(4, 2, 1))
    >>> tuple(layer(np.zeros((2, 7, 13, 8), "float32")).shape)
    (2, 168)
    >>> tuple(layer(np.zeros((2, 30, 20, 8), "float32")).shape)
    (2, 168)

    Convention: index space; bin `i` of an axis of length `size` covers the
    pixels `[floor(i * size / n), ceil((i + 1) * size / n))`, as PyTorch's
    adaptive pooling.
    """

    def __init__(self, levels=(4, 2, 1), reduction="max", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.levels = _check_positive_ints("levels", levels)
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)
        self.data_format = check_data_format(data_format)

    def call(self, inputs):
        images, squeeze = _image_batch(self, inputs)
        channels = ops.shape(images)[-1]
        pooled = [
            ops.reshape(
                adaptive_pool(images, n, self.reduction), (-1, n * n * channels)
            )
            for n in self.levels
        ]
        out = ops.concatenate(pooled, axis=-1)
        return out[0] if squeeze else out

    def compute_output_shape(self, input_shape):
        input_shape = _image_shape(self, input_shape, require_channels=True)
        length = input_shape[-1] * sum(n * n for n in self.levels)
        return input_shape[:-3] + (length,)

    def get_config(self):
        return {
            **super().get_config(),
            "levels": self.levels,
            "reduction": self.reduction,
            "data_format": self.data_format,
        }


def _convolution_block(layer, name, filters, kernel_size=1, dilation_rate=1):
    """A bias-free convolution and its BatchNormalization (ReLU in `call`),
    channels-last whatever the layer's `data_format`."""
    convolution = keras.layers.Conv2D(
        filters,
        kernel_size,
        padding="same",
        dilation_rate=dilation_rate,
        use_bias=False,
        kernel_initializer="he_normal",
        data_format="channels_last",
        dtype=layer.dtype_policy,
        name=f"{name}_convolution",
    )
    normalization = keras.layers.BatchNormalization(
        axis=-1, dtype=layer.dtype_policy, name=f"{name}_normalization"
    )
    return convolution, normalization


def _build_block(block, in_channels):
    convolution, normalization = block
    convolution.build((None, None, None, in_channels))
    normalization.build((None, None, None, convolution.filters))


def _run_block(block, inputs, training):
    convolution, normalization = block
    return ops.relu(normalization(convolution(inputs), training=training))


@keras.saving.register_keras_serializable(package="keras_resize")
class PyramidPoolingModule(keras.layers.Layer):
    """The pyramid pooling module of PSPNet: global context at several scales.

    For every bin count `n` (PSPNet: 1, 2, 3, 6) the feature map is
    average-pooled into `n x n` adaptive bins (the bins of PyTorch's
    `AdaptiveAvgPool2d`, overlapping when `n` does not divide the size),
    reduced by a bias-free 1x1 convolution to `filters` channels,
    batch-normalised, passed through a ReLU and bilinearly upsampled back to
    the input size; the branches are concatenated after the input.

    Args:
        bins: bins per axis of each branch, a non-empty sequence of positive
            ints.
        filters: channels of each branch, a positive int; default
            `channels // len(bins)` (the paper's `C / N`).
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`);
            default `keras.config.image_data_format()`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels first: `(batch, channels, height, width)` or `(channels,
        height, width)`); any spatial size, known or not (TensorFlow);
        `channels` must be known.

    Output shape:
        `(batch, height, width, channels + len(bins) * filters)`: the input,
        then one block of `filters` channels per bin count, in order
        (channels first: `(batch, channels + len(bins) * filters, height,
        width)`).

    Example:

    >>> layer = PyramidPoolingModule(bins=(1, 2, 3, 6))
    >>> tuple(layer(np.zeros((2, 17, 23, 32), "float32")).shape)
    (2, 17, 23, 64)

    Convention: pooling bins in index space (see `SpatialPyramidPooling`);
    the upsampling is bilinear with half-pixel centres, as `tf.image.resize`
    (`keras_resize.ops.bilinear_resize_to`: `keras_resize.ops.resize` for
    static sizes, the same sampling on `sample_separable` for dynamic ones).
    """

    def __init__(self, bins=(1, 2, 3, 6), filters=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.bins = _check_positive_ints("bins", bins)
        self.filters = (
            None if filters is None else check_positive_int("filters", filters)
        )
        self.data_format = check_data_format(data_format)

    def _branch_filters(self, channels):
        filters = self.filters or channels // len(self.bins)
        if filters < 1:
            raise ValueError(
                f"`filters` defaults to channels // len(bins), which is 0 for "
                f"{channels} input channels and bins={self.bins}; pass `filters`. "
                f"Received: filters={self.filters!r}"
            )
        return filters

    def build(self, input_shape):
        channels = _image_shape(self, input_shape, require_channels=True)[-1]
        self.branch_filters = self._branch_filters(channels)
        self.branches = [
            _convolution_block(self, f"bins_{n}", self.branch_filters)
            for n in self.bins
        ]
        for block in self.branches:
            _build_block(block, channels)

    def call(self, inputs, training=None):
        images, squeeze = _image_batch(self, inputs)
        size = ops.shape(images)[1:3]
        outputs = [images]
        for n, block in zip(self.bins, self.branches, strict=True):
            pooled = adaptive_pool(images, n, reduction="average")
            outputs.append(
                bilinear_resize_to(_run_block(block, pooled, training), size)
            )
        return _output(self, ops.concatenate(outputs, axis=-1), squeeze)

    def compute_output_shape(self, input_shape):
        input_shape = _image_shape(self, input_shape, require_channels=True)
        channels = input_shape[-1]
        filters = self._branch_filters(channels)
        output_shape = input_shape[:-1] + (channels + len(self.bins) * filters,)
        return shape_from_channels_last(output_shape, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "bins": self.bins,
            "filters": self.filters,
            "data_format": self.data_format,
        }


@keras.saving.register_keras_serializable(package="keras_resize")
class AtrousSpatialPyramidPooling(keras.layers.Layer):
    """Atrous spatial pyramid pooling (DeepLabv3 / v3+): context at several rates.

    Parallel branches see the feature map at several receptive fields:

    1. a 1x1 convolution;
    2. one 3x3 atrous (dilated) convolution per rate, "same" padding;
    3. image pooling: global average -> 1x1 convolution -> upsampled back
       to the input size (bilinear upsampling of a 1x1 map: a broadcast).

    Every branch convolution is bias-free and followed by BatchNormalization
    and a ReLU. The branches are concatenated and projected by a 1x1
    convolution -> BatchNormalization -> ReLU -> dropout.

    Args:
        rates: dilation rates of the 3x3 branches, a non-empty sequence of
            positive ints; `(6, 12, 18)` at output stride 16, doubled at
            output stride 8.
        filters: channels of every branch and of the output, a positive int.
        dropout: dropout rate after the projection, a float in `[0, 1)`.
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`);
            default `keras.config.image_data_format()`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels first: `(batch, channels, height, width)` or `(channels,
        height, width)`); any spatial size, known or not (TensorFlow);
        `channels` must be known.

    Output shape:
        `(batch, height, width, filters)` (channels first: `(batch, filters,
        height, width)`).

    Example:

    >>> layer = AtrousSpatialPyramidPooling(rates=(2, 4), filters=16)
    >>> tuple(layer(np.zeros((2, 15, 20, 8), "float32")).shape)
    (2, 15, 20, 16)

    Convention: "same" padding (zeros) for the atrous convolutions, so the
    output pixel `(i, j)` is centred on input pixel `(i, j)`; the branches
    are concatenated in the order 1x1, atrous rates (as given), image
    pooling.
    """

    def __init__(
        self,
        rates=(6, 12, 18),
        filters=256,
        dropout=0.1,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rates = _check_positive_ints("rates", rates)
        self.filters = check_positive_int("filters", filters)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, numbers.Real)
            or not 0.0 <= float(dropout) < 1.0
        ):
            raise ValueError(
                "Expected `dropout` to be a float in [0, 1). "
                f"Received: dropout={dropout!r}"
            )
        self.dropout = float(dropout)
        self.data_format = check_data_format(data_format)

    def build(self, input_shape):
        channels = _image_shape(self, input_shape, require_channels=True)[-1]
        self.pointwise_branch = _convolution_block(self, "pointwise", self.filters)
        self.atrous_branches = [
            _convolution_block(self, f"atrous_{rate}", self.filters, 3, rate)
            for rate in self.rates
        ]
        self.pooling_branch = _convolution_block(self, "pooling", self.filters)
        self.projection = _convolution_block(self, "projection", self.filters)
        for block in [
            self.pointwise_branch,
            *self.atrous_branches,
            self.pooling_branch,
        ]:
            _build_block(block, channels)
        _build_block(self.projection, self.filters * (len(self.rates) + 2))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )

    def call(self, inputs, training=None):
        images, squeeze = _image_batch(self, inputs)
        batch, height, width, _ = ops.shape(images)
        outputs = [_run_block(self.pointwise_branch, images, training)]
        for block in self.atrous_branches:
            outputs.append(_run_block(block, images, training))
        pooled = ops.mean(images, axis=(1, 2), keepdims=True)
        pooled = _run_block(self.pooling_branch, pooled, training)
        outputs.append(ops.broadcast_to(pooled, (batch, height, width, self.filters)))
        out = _run_block(self.projection, ops.concatenate(outputs, axis=-1), training)
        out = self.dropout_layer(out, training=training)
        return _output(self, out, squeeze)

    def compute_output_shape(self, input_shape):
        input_shape = _image_shape(self, input_shape, require_channels=True)
        output_shape = input_shape[:-1] + (self.filters,)
        return shape_from_channels_last(output_shape, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "rates": self.rates,
            "filters": self.filters,
            "dropout": self.dropout,
            "data_format": self.data_format,
        }


def _pyramid_shapes(layer, input_shape):
    input_shape = _image_shape(layer, input_shape)
    height, width = input_shape[-3], input_shape[-2]

    def halve(size, k):
        return None if size is None else -(-size // 2**k)

    return [
        shape_from_channels_last(
            input_shape[:-3] + (halve(height, k), halve(width, k), input_shape[-1]),
            layer.data_format,
        )
        for k in range(layer.levels)
    ]


@keras.saving.register_keras_serializable(package="keras_resize")
class GaussianPyramid(keras.layers.Layer):
    """Gaussian image pyramid: the input and successive blurred half-size copies.

    Each level blurs the previous one with the separable 5-tap binomial
    filter `[1, 4, 6, 4, 1] / 16` (mirror padding) and keeps every other
    pixel (`keras_resize.ops.gaussian_pyramid`).

    Args:
        levels: number of levels returned, the input included, a positive
            int.
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`);
            default `keras.config.image_data_format()`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels first: `(batch, channels, height, width)` or `(channels,
        height, width)`); any spatial size, known or not (TensorFlow).

    Output shape:
        A list of `levels` tensors; level `k` is `(batch, ceil(height / 2^k),
        ceil(width / 2^k), channels)` (in the input's data format).

    Example:

    >>> layer = GaussianPyramid(levels=3)
    >>> pyramid = layer(np.zeros((2, 13, 16, 3), "float32"))
    >>> [tuple(level.shape) for level in pyramid]
    [(2, 13, 16, 3), (2, 7, 8, 3), (2, 4, 4, 3)]

    Convention: pixel `j` of level `k + 1` is centred on pixel `2 j` of
    level `k` (index space); see `keras_resize.ops.pyramid_down`.
    """

    def __init__(self, levels=4, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.levels = check_positive_int("levels", levels)
        self.data_format = check_data_format(data_format)

    def call(self, inputs):
        images, squeeze = _image_batch(self, inputs)
        pyramid = gaussian_pyramid(images, self.levels)
        return [_output(self, level, squeeze) for level in pyramid]

    def compute_output_shape(self, input_shape):
        return _pyramid_shapes(self, input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "levels": self.levels,
            "data_format": self.data_format,
        }


@keras.saving.register_keras_serializable(package="keras_resize")
class LaplacianPyramid(keras.layers.Layer):
    """Laplacian image pyramid: band-pass levels plus the coarsest Gaussian level.

    Level `k < levels - 1` is Gaussian level `k` minus the bilinear
    upsampling (`keras_resize.ops.pyramid_up`) of Gaussian level `k + 1`;
    the last level is the last Gaussian level. `LaplacianPyramid.reconstruct`
    inverts it exactly (up to float rounding), for odd and even sizes.

    Args:
        levels: number of levels, a positive int.
        data_format: `"channels_last"` (`(batch, height, width, channels)`)
            or `"channels_first"` (`(batch, channels, height, width)`);
            default `keras.config.image_data_format()`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels first: `(batch, channels, height, width)` or `(channels,
        height, width)`); any spatial size, known or not (TensorFlow).

    Output shape:
        A list of `levels` tensors with the sizes of `GaussianPyramid`.

    Example:

    >>> images = np.random.default_rng(0).random((2, 13, 16, 3)).astype("float32")
    >>> pyramid = LaplacianPyramid(levels=3)(images)
    >>> [tuple(level.shape) for level in pyramid]
    [(2, 13, 16, 3), (2, 7, 8, 3), (2, 4, 4, 3)]
    >>> rebuilt = keras.ops.convert_to_numpy(LaplacianPyramid.reconstruct(pyramid))
    >>> bool(np.allclose(rebuilt, images, atol=1e-5))
    True

    Convention: see `keras_resize.ops.pyramid_down` (level `k + 1` pixel
    `j` at level `k` pixel `2 j`) and `keras_resize.ops.pyramid_up` (level
    `k` pixel `j` reads level `k + 1` at index `j / 2`).
    """

    def __init__(self, levels=4, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.levels = check_positive_int("levels", levels)
        self.data_format = check_data_format(data_format)

    def call(self, inputs):
        images, squeeze = _image_batch(self, inputs)
        pyramid = laplacian_pyramid(images, self.levels)
        return [_output(self, level, squeeze) for level in pyramid]

    @staticmethod
    def reconstruct(pyramid, data_format=None):
        """The images a Laplacian pyramid (list of tensors) was built from.

        `data_format` is that of the levels (default
        `keras.config.image_data_format()`, as the layer's).
        """
        data_format = check_data_format(data_format)
        levels = [to_channels_last(level, data_format) for level in pyramid]
        return from_channels_last(reconstruct_laplacian(levels), data_format)

    def compute_output_shape(self, input_shape):
        return _pyramid_shapes(self, input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "levels": self.levels,
            "data_format": self.data_format,
        }
