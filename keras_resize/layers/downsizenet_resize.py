"""`DownsizeNetResize`: texture-aware interpolation coefficients (BMVC 2022)."""

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.layers.base import (
    check_data_format,
    check_image_input,
    from_channels_last,
    shape_from_channels_last,
    shape_to_channels_last,
    static_batch_size,
    to_channels_last,
)
from keras_resize.layers.registry import register_resizer
from keras_resize.ops import combine_taps, gather_patches, resample_separable
from keras_resize.ops.kernels import resize_weights
from keras_resize.ops.validation import (
    as_image_batch,
    check_choice,
    check_image_shape,
    check_positive_int,
    resized_shape,
    static_or_dynamic_shape,
)
from keras_resize.pretrained import PretrainedMixin

NEIGHBORHOODS = {
    # name -> (taps per axis, index of the top-left neighbour p0 among them)
    "bilinear": (2, 0),
    "bicubic": (4, 1),
}
NORMALIZATIONS = ("sigmoid", "softmax", "none")
FEATURE_PATHS = ("auto", "patches", "full")


@keras.saving.register_keras_serializable(package="keras_resize")
class DownsizeNetResize(PretrainedMixin, keras.layers.Layer):
    """Learned, texture-aware interpolation for arbitrary-scale downsizing.

    DownsizeNet (Ma & Li, BMVC 2022) keeps the structure of bilinear or
    bicubic interpolation (every output pixel is a weighted sum of its `K`
    source neighbours) but predicts the `K` weights per pixel with a small
    CNN, so they can follow the local texture:

    1. texture features: `num_conv_layers` 3x3 convolutions of `filters`
       channels on the high-resolution input;
    2. floating pooling: for each output pixel, the feature vector at the
       top-left neighbour `p0` of its projected point (a gather);
    3. relative distance map: the `K` fixed interpolation weights of the
       neighbourhood (`K = 4` bilinear products, `K = 16` Keys-bicubic
       products), taken from the package's one set of kernels;
    4. `[features, distances]` -> 1x1 convolution to `K` -> sigmoid and
       sum-to-one normalisation (or softmax) -> coefficients;
    5. output = coefficient-weighted sum of the `K` neighbours, per channel.

    Coefficients always sum to one, so the output stays an image and a
    frozen, image-trained backbone can follow it.

    Bilinear and bicubic are special cases: with
    `initializer="interpolation"` the 1x1 convolution selects the distance
    channels (identity on them, zero on the features) and, with
    `normalization="none"` (the default for that initializer), the layer
    equals `keras_resize.ops.resize(..., method=neighborhood)`.

    Features are only needed at the `p0` positions and each depends on a
    `(2L + 1)^2` neighbourhood for `L` conv layers, so they can be computed
    on gathered patches around `p0` (`feature_path="patches"`): the cost
    follows the output size, not the input size. `feature_path="full"` runs
    the convolutions on the whole input instead. Both give the same result;
    the default `"auto"` picks the one with fewer multiply-adds for the
    input and output sizes (patches for 2 convolutions at 4x downsizing, the
    full path for 3 or more, whose patch matrices grow quickly).

    Training: the layer has no BatchNormalization of its own, so `fit`'s
    validation figures already hold in inference mode; with a
    BatchNormalization backbone behind it, on a short schedule, add
    `keras_resize.callbacks.BatchNormRecalibration(train_data)` to
    `model.fit` all the same (the default path of every tutorial).
    Measured on the digit-canvas benchmark (256 -> 64 px, bilinear
    neighbourhood, 2 convolutions, `resnet_tiny`, 6 epochs; `python -m
    benchmarks.run --only downsizenet_accuracy`, seeds 0 / 1 / 2):
    validation accuracy at the end of `fit` 86.8 / 84.4 / 83.6 %, after
    re-estimating the statistics 86.2 / 84.2 / 83.4 %.

    Args:
        height: output height, a positive int.
        width: output width, a positive int.
        neighborhood: `"bilinear"` (2x2 neighbours, K=4) or `"bicubic"`
            (4x4 neighbours, K=16).
        num_conv_layers: number of 3x3 texture convolutions (paper: 2-4).
        filters: channels of the texture convolutions (paper: 16).
        normalization: `"sigmoid"` (sigmoid, then divide by the sum; the
            paper's default), `"softmax"`, or `"none"` (no squashing: the
            coefficients are projected onto sum-to-one by adding
            `(1 - sum) / K` to each; our reading of the paper's "the last
            sigmoid is removed"). Default: `"none"` with
            `initializer="interpolation"`, else `"sigmoid"`.
        initializer: initializer of the 1x1 convolution: `"interpolation"`
            (start as plain bilinear/bicubic) or any Keras initializer name.
        feature_path: `"auto"` (default), `"patches"` or `"full"`, see above.
        activation: activation after each texture convolution (our reading:
            `"relu"`).
        data_format: `"channels_last"` or `"channels_first"` (default
            `keras.config.image_data_format()`). The weights are the same
            in both: channels-first inputs are transposed to channels-last
            for the computation and back.
        **kwargs: base layer arguments.

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels-first: `(batch, channels, height, width)` or `(channels,
        height, width)`). The batch may be empty (size 0: an empty output);
        a height or width of 0 raises a `ValueError`.

    Output shape:
        The input's layout with the configured `(height, width)`.

    Example:

    >>> layer = DownsizeNetResize(16, 24, initializer="interpolation")
    >>> images = np.random.default_rng(0).random((2, 64, 96, 3)).astype("float32")
    >>> bilinear = keras_resize.ops.resize(images, (16, 24))
    >>> bool(np.allclose(layer(images), bilinear, atol=1e-5))
    True

    Convention: half-pixel centres, as `keras_resize.ops.resize`: output
    pixel `o` projects to source index `s = (o + 0.5) * in / out - 0.5` per
    axis, `p0 = floor(s)` (clamped into the image) and `d = s - p0`;
    neighbours outside the image are clamped (bilinear) or dropped and the
    weights renormalised (bicubic), exactly as the fixed kernels do.
    """

    def __init__(
        self,
        height,
        width,
        neighborhood="bilinear",
        num_conv_layers=2,
        filters=16,
        normalization=None,
        initializer="glorot_uniform",
        feature_path="auto",
        activation="relu",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.height = check_positive_int("height", height)
        self.width = check_positive_int("width", width)
        self.neighborhood = check_choice("neighborhood", neighborhood, NEIGHBORHOODS)
        self.num_conv_layers = check_positive_int("num_conv_layers", num_conv_layers)
        self.filters = check_positive_int("filters", filters)
        if normalization is None:
            normalization = "none" if initializer == "interpolation" else "sigmoid"
        self.normalization = check_choice(
            "normalization", normalization, NORMALIZATIONS
        )
        if initializer != "interpolation":
            try:
                keras.initializers.get(initializer)
            except (ValueError, TypeError):
                raise ValueError(
                    "Expected `initializer` to be 'interpolation' or a Keras "
                    f"initializer. Received: initializer={initializer!r}"
                ) from None
        self.initializer = initializer
        self.feature_path = check_choice("feature_path", feature_path, FEATURE_PATHS)
        try:
            self._activation_fn = keras.activations.get(activation)
        except (ValueError, TypeError):
            raise ValueError(
                f"Expected `activation` to be a Keras activation. Received: "
                f"activation={activation!r}"
            ) from None
        self.activation = activation
        taps, self._p0_tap = NEIGHBORHOODS[self.neighborhood]
        self.num_coefficients = taps * taps

    def build(self, input_shape):
        input_shape = shape_to_channels_last(input_shape, self.data_format)
        channels = check_image_shape(input_shape, require_channels=True)[-1]
        self.conv_kernels, self.conv_biases = [], []
        in_channels = channels
        for i in range(self.num_conv_layers):
            self.conv_kernels.append(
                self.add_weight(
                    shape=(3, 3, in_channels, self.filters),
                    initializer="glorot_uniform",
                    name=f"texture_kernel_{i}",
                )
            )
            self.conv_biases.append(
                self.add_weight(
                    shape=(self.filters,), initializer="zeros", name=f"texture_bias_{i}"
                )
            )
            in_channels = self.filters
        k = self.num_coefficients
        if self.initializer == "interpolation":

            def mix_init(shape, dtype=None):
                kernel = np.zeros(shape, "float32")
                kernel[self.filters :, :] = np.eye(k, dtype="float32")
                return ops.cast(kernel, dtype or "float32")

        else:
            mix_init = self.initializer
        self.mix_kernel = self.add_weight(
            shape=(self.filters + k, k), initializer=mix_init, name="mix_kernel"
        )
        self.mix_bias = self.add_weight(
            shape=(k,), initializer="zeros", name="mix_bias"
        )

    # -- the pieces, public for inspection and tests -------------------------

    def taps(self, in_height, in_width, dtype="float32"):
        """Neighbour flat indices `(h, w, K)`, distance map `(h, w, K)` and the
        `p0` row `(h,)` and column `(w,)` indices, for an input size."""
        rows, row_w = resize_weights(
            in_height, self.height, self.neighborhood, False, dtype
        )
        cols, col_w = resize_weights(
            in_width, self.width, self.neighborhood, False, dtype
        )
        k = self.num_coefficients
        index = rows[:, None, :, None] * in_width + cols[None, :, None, :]
        distance = row_w[:, None, :, None] * col_w[None, :, None, :]
        index = ops.reshape(index, (self.height, self.width, k))
        distance = ops.reshape(distance, (self.height, self.width, k))
        return index, distance, rows[:, self._p0_tap], cols[:, self._p0_tap]

    def resolved_feature_path(self, in_height, in_width, channels):
        """`"patches"` or `"full"`: `feature_path`, with `"auto"` resolved by
        comparing multiply-adds (patches when the input size is unknown)."""
        if self.feature_path != "auto":
            return self.feature_path
        if not isinstance(in_height, int) or not isinstance(in_width, int):
            return "patches"
        size, patch_macs, in_channels = 2 * self.num_conv_layers + 1, 0, channels
        for _ in range(self.num_conv_layers):
            patch_macs += size * size * in_channels * (size - 2) ** 2 * self.filters
            size, in_channels = size - 2, self.filters
        patch_macs *= self.height * self.width
        full_macs = (
            in_height
            * in_width
            * 9
            * self.filters
            * (channels + (self.num_conv_layers - 1) * self.filters)
        )
        return "patches" if patch_macs <= full_macs else "full"

    def texture_features(self, images, p0_rows, p0_cols):
        """Texture features at the `p0` positions, `(batch, h, w, filters)`.

        `images` are channels-last `(batch, height, width, channels)`.
        """
        shape = static_or_dynamic_shape(images)
        if self.resolved_feature_path(shape[1], shape[2], shape[3]) == "full":
            features = images
            for kernel, bias in zip(self.conv_kernels, self.conv_biases, strict=True):
                features = ops.conv(
                    features, kernel, padding="same", data_format="channels_last"
                )
                features = self._activation_fn(features + bias)
            dtype = keras.backend.standardize_dtype(features.dtype)
            ones_r = ops.ones_like(p0_rows, dtype=dtype)[:, None]
            ones_c = ops.ones_like(p0_cols, dtype=dtype)[:, None]
            return resample_separable(
                features, (p0_rows[:, None], ones_r), (p0_cols[:, None], ones_c)
            )
        # Patch path: each 3x3 "valid" convolution over a p x p patch is one
        # matmul with a (p*p*c_in, (p-2)*(p-2)*filters) matrix assembled from
        # the kernel (much faster than conv2d over millions of tiny images).
        radius = self.num_conv_layers
        patches, inside = gather_patches(images, p0_rows, p0_cols, radius)
        positions = self.height * self.width
        size = 2 * radius + 1
        features = ops.reshape(patches, (-1, size * size * shape[3]))
        for i, (kernel, bias) in enumerate(
            zip(self.conv_kernels, self.conv_biases, strict=True)
        ):
            in_channels = kernel.shape[2]
            dense = _conv_as_dense(kernel, size, in_channels, self.filters)
            size -= 2
            features = ops.matmul(features, dense) + ops.tile(bias, [size * size])
            features = self._activation_fn(features)
            if size > 1:
                # zero what lies outside the image, as "same" padding would
                crop = inside[:, :, i + 1 : i + 1 + size, i + 1 : i + 1 + size]
                crop = ops.reshape(crop, (1, positions, size * size, 1))
                features = ops.reshape(
                    features, (-1, positions, size * size, self.filters)
                )
                features = ops.reshape(
                    features * crop, (-1, size * size * self.filters)
                )
        return ops.reshape(features, (-1, self.height, self.width, self.filters))

    def coefficients(self, inputs):
        """The per-pixel interpolation coefficients, `(batch, h, w, K)`.

        Channels-first layers return them as `(batch, K, h, w)`.
        """
        images = self._as_batch(inputs)[0]
        if not self.built:
            self.build(shape_from_channels_last(images.shape, self.data_format))
        return from_channels_last(self._coefficients(images)[0], self.data_format)

    def _as_batch(self, inputs):
        """Checked channels-last batch in the compute dtype, and `squeeze`."""
        check_image_input(inputs, self.data_format)
        images, squeeze = as_image_batch(to_channels_last(inputs, self.data_format))
        return ops.cast(images, self.compute_dtype), squeeze

    def _coefficients(self, images):
        shape = static_or_dynamic_shape(images)
        if static_batch_size(images) == 0:
            # an empty batch: nothing to gather (the patch and tap gathers
            # reshape with -1, which is ambiguous for 0 elements)
            empty = (0, self.height, self.width, self.num_coefficients)
            dtype = keras.backend.standardize_dtype(images.dtype)
            return ops.zeros(empty, dtype), None
        index, distance, p0_rows, p0_cols = self.taps(
            shape[1], shape[2], keras.backend.standardize_dtype(images.dtype)
        )
        features = self.texture_features(images, p0_rows, p0_cols)
        # the 1x1 convolution of [features, distances], split in two so the
        # distance part (the same for the whole batch) is computed once
        feature_kernel = self.mix_kernel[: self.filters]
        distance_kernel = self.mix_kernel[self.filters :]
        logits = ops.matmul(features, feature_kernel) + (
            ops.matmul(distance, distance_kernel) + self.mix_bias
        )
        if self.normalization == "sigmoid":
            squashed = ops.sigmoid(logits)
            coefficients = squashed / ops.sum(squashed, axis=-1, keepdims=True)
        elif self.normalization == "softmax":
            coefficients = ops.softmax(logits, axis=-1)
        else:
            excess = 1.0 - ops.sum(logits, axis=-1, keepdims=True)
            coefficients = logits + excess / self.num_coefficients
        return coefficients, index

    def call(self, inputs):
        images, squeeze = self._as_batch(inputs)
        if static_batch_size(images) == 0:
            channels = images.shape[-1]
            dtype = keras.backend.standardize_dtype(images.dtype)
            out = ops.zeros((0, self.height, self.width, channels), dtype)
        else:
            coefficients, index = self._coefficients(images)
            out = combine_taps(images, index, coefficients)
        return from_channels_last(out[0] if squeeze else out, self.data_format)

    def compute_output_shape(self, input_shape):
        check_image_input(input_shape, self.data_format)
        shape = shape_to_channels_last(input_shape, self.data_format)
        shape = resized_shape(shape, self.height, self.width)
        return shape_from_channels_last(shape, self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "neighborhood": self.neighborhood,
            "num_conv_layers": self.num_conv_layers,
            "filters": self.filters,
            "normalization": self.normalization,
            "initializer": self.initializer,
            "feature_path": self.feature_path,
            "activation": self.activation,
            "data_format": self.data_format,
        }


def _conv_as_dense(kernel, size, in_channels, filters):
    """A 3x3 "valid" convolution of a `size x size` patch as a dense matrix.

    Row `(y * size + x) * in_channels + c` and column
    `(v * (size - 2) + u) * filters + f` hold `kernel[y - v, x - u, c, f]`
    when `0 <= y - v, x - u < 3`, else zero. Built with one gather, so the
    gradient flows back to `kernel`.
    """
    index = _dense_conv_index(size, in_channels, filters)
    flat = ops.concatenate(
        [
            ops.reshape(kernel, (-1,)),
            ops.zeros((1,), keras.backend.standardize_dtype(kernel.dtype)),
        ],
        axis=0,
    )
    return ops.take(flat, index)


_DENSE_INDEX_CACHE = {}


def _dense_conv_index(size, in_channels, filters):
    key = (size, in_channels, filters)
    if key not in _DENSE_INDEX_CACHE:
        out = size - 2
        zero = 9 * in_channels * filters  # index of the appended zero
        index = np.full(
            (size * size * in_channels, out * out * filters), zero, np.int32
        )
        c = np.arange(in_channels)[:, None]
        f = np.arange(filters)[None, :]
        for v in range(out):
            for u in range(out):
                for dy in range(3):
                    for dx in range(3):
                        rows = ((v + dy) * size + (u + dx)) * in_channels + c
                        cols = (v * out + u) * filters + f
                        index[rows, cols] = (
                            (dy * 3 + dx) * in_channels + c
                        ) * filters + f
        _DENSE_INDEX_CACHE[key] = index
    return _DENSE_INDEX_CACHE[key]


@register_resizer("downsizenet")
def _downsizenet(height, width, name="resizer", **kwargs):
    """DownsizeNet: texture-aware learned interpolation (BMVC 2022)."""
    return DownsizeNetResize(height, width, name=name, **kwargs)
