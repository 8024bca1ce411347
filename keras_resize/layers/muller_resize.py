"""`MullerResize`: the multilayer Laplacian resizer of Tu, Milanfar & Talebi (2023)."""

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.layers.base import check_image_input
from keras_resize.layers.registry import register_resizer
from keras_resize.ops import kernels, muller
from keras_resize.ops.resize import resize
from keras_resize.ops.sampling import resample_separable
from keras_resize.ops.validation import (
    check_bool,
    check_choice,
    check_image_shape,
    check_positive_int,
)
from keras_resize.pretrained import PretrainedMixin

IMPLEMENTATIONS = ("folded", "direct")
DATA_FORMATS = ("channels_last", "channels_first")

# The preset of the authors' published ResNet-50 / ImageNet values.
PRESET = "muller-resnet50-imagenet"


@keras.saving.register_keras_serializable(package="keras_resize")
class MullerResize(PretrainedMixin, keras.layers.Layer):
    """MULLER, the multilayer Laplacian resizer (Tu, Milanfar & Talebi, ICCV 2023).

    A fixed resize plus the squashed, resized band-pass details of a
    Gaussian stack, with two scalar parameters per layer:

    ```
    x_0 = x
    y = R(x_0)
    for k in 1..num_layers:
        x_k = blur(x_{k-1})
        y = y + tanh(w_k * R(x_k - x_{k-1}) + b_k)
    ```

    `R` is the base resize (`interpolation`, `antialias`, and with
    `avg_pool=True` the authors' integer average pooling before it);
    `blur` is a separable Gaussian (`kernel_size` taps, `stddev`, normalised
    to sum 1) with zero padding ("same" convolution), as in the authors'
    TensorFlow code. The weights `w_k` and biases `b_k` start at 0, so an
    untrained layer is exactly the base resize. With `num_layers=2` the
    layer has 4 parameters; `MullerResize.from_pretrained(
    "muller-resnet50-imagenet")` loads the authors' published ResNet-50 /
    ImageNet values `(w_1, b_1, w_2, b_2) = (1.892, -0.014, -11.295, 0.003)`.

    `implementation="folded"` (default) never blurs at the input
    resolution: `R`, the blur and their compositions are separable linear
    maps, so `R(x_k)` is one separable resample with the taps of
    `R B^k`, computed once per input size in numpy
    (`keras_resize.ops.muller.folded_taps`), and

    ```
    y = R x + sum_k tanh(w_k * (R B^k x - R B^(k-1) x) + b_k)
    ```

    costs `num_layers + 1` resizes at the output resolution.
    `implementation="direct"` runs the formula as written (depthwise blurs
    at the input resolution, then resizes); the folded form falls back to
    it when the input's spatial size is unknown at trace time. Both agree
    to float32 rounding.

    Training: the layer has 4 weights and no BatchNormalization, so `fit`'s
    validation figures already hold in inference mode; with a
    BatchNormalization backbone behind it, on a short schedule, add
    `keras_resize.callbacks.BatchNormRecalibration(train_data)` to
    `model.fit` all the same (the default path of every tutorial).
    Measured on the digit-canvas benchmark (256 -> 64 px, `resnet_tiny`, 6
    epochs; `python -m benchmarks.learned_resize --resizers muller`, seeds
    0 / 1 / 2): validation accuracy at the end of `fit` 86.2 / 86.0 /
    85.2 %, after re-estimating the statistics 86.2 / 86.0 / 86.2 %.

    Args:
        height: output height, a positive int.
        width: output width, a positive int.
        interpolation: the base resize, one of
            `keras_resize.ops.RESIZE_METHODS` (`"bilinear"`, the authors'
            default).
        antialias: widen the base resize kernel by the scale factor when
            downsizing (see `keras_resize.ops.resize`; the authors' default
            is False).
        num_layers: the number of Laplacian layers `L`, a positive int.
        kernel_size: the blur's taps per axis, a positive odd int.
        stddev: the blur's standard deviation in pixels, a positive float.
        avg_pool: the authors' option: before every resize, average-pool by
            the integer strides `(in_height // height, in_width // width)`
            ("valid" pooling), when both exceed 1.
        implementation: `"folded"` or `"direct"` (see above).
        data_format: `"channels_last"` or `"channels_first"` (default
            `keras.config.image_data_format()`).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` (`(batch, channels, height,
        width)` with `channels_first`), or without the batch axis; any
        spatial size. With `implementation="direct"` or an input of unknown
        spatial size the channel count must be known. The batch may be
        empty (size 0); a height or width of 0 raises a `ValueError`.

    Output shape:
        the input's shape with the configured `(height, width)`.

    Example:

    >>> layer = MullerResize(32, 24)
    >>> layer(np.zeros((2, 64, 64, 3), "float32")).shape
    TensorShape([2, 32, 24, 3])
    >>> layer.count_params()
    4
    >>> # With zero weights the layer is its base resize.
    >>> x = np.random.rand(1, 64, 64, 3).astype("float32")
    >>> float(np.abs(layer(x) - layer.fixed_resize(x)).max())
    0.0

    Convention: half-pixel centres, as `keras_resize.ops.resize` (output
    pixel `o` samples the source at `(o + 0.5) * in / out - 0.5` in index
    space); the blur reads zeros outside the image. The output is not
    clipped. Reference: Z. Tu, P. Milanfar, H. Talebi, "MULLER: Multilayer
    Laplacian Resizer for Vision", ICCV 2023; code:
    https://github.com/google-research/google-research/tree/master/muller
    """

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        antialias=False,
        num_layers=2,
        kernel_size=5,
        stddev=1.0,
        avg_pool=False,
        implementation="folded",
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
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        if self.kernel_size % 2 != 1:
            raise ValueError(
                f"Expected `kernel_size` to be odd. Received: kernel_size={kernel_size}"
            )
        if isinstance(stddev, bool) or not float(stddev) > 0:
            raise ValueError(
                f"Expected `stddev` to be a positive float. Received: stddev={stddev!r}"
            )
        self.stddev = float(stddev)
        self.avg_pool = check_bool("avg_pool", avg_pool)
        self.implementation = check_choice(
            "implementation", implementation, IMPLEMENTATIONS
        )
        self.data_format = check_choice(
            "data_format",
            data_format or keras.config.image_data_format(),
            DATA_FORMATS,
        )
        self.supports_masking = False
        self.detail_weights = []
        self.detail_biases = []

    def build(self, input_shape):
        check_image_shape(input_shape)
        self.detail_weights = []
        self.detail_biases = []
        for k in range(1, self.num_layers + 1):
            self.detail_weights.append(
                self.add_weight(name=f"weight_{k}", shape=(), initializer="zeros")
            )
            self.detail_biases.append(
                self.add_weight(name=f"bias_{k}", shape=(), initializer="zeros")
            )

    # -- helpers ------------------------------------------------------------

    def _to_batch(self, inputs):
        """Cast, add a batch axis if needed, move channels last."""
        check_image_input(inputs, self.data_format)
        x = ops.cast(inputs, self.compute_dtype)
        rank = len(x.shape)
        if rank not in (3, 4):
            raise ValueError(
                "Expected an input of rank 3 or 4 (with or without the batch "
                f"axis). Received: input_shape={tuple(x.shape)}"
            )
        squeeze = rank == 3
        if squeeze:
            x = ops.expand_dims(x, 0)
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 2, 3, 1))
        return x, squeeze

    def _from_batch(self, y, squeeze):
        if self.data_format == "channels_first":
            y = ops.transpose(y, (0, 3, 1, 2))
        return y[0] if squeeze else y

    def _strides(self, in_height, in_width):
        if not self.avg_pool:
            return (1, 1)
        if not (isinstance(in_height, int) and isinstance(in_width, int)):
            raise ValueError(
                "`avg_pool=True` needs the input's spatial size at trace time "
                f"(the pooling strides are in // out). Received: spatial size "
                f"({in_height}, {in_width})"
            )
        return muller.pool_strides(in_height, in_width, self.height, self.width)

    def _axis_taps(self, in_size, out_size, stride, dtype):
        taps = muller.folded_taps(
            in_size,
            out_size,
            self.interpolation,
            self.antialias,
            self.num_layers,
            self.kernel_size,
            self.stddev,
            stride,
        )
        return [
            (
                ops.convert_to_tensor(indices, "int32"),
                ops.convert_to_tensor(weights.astype(np.float32), dtype),
            )
            for indices, weights in taps
        ]

    def _folded_terms(self, x, in_height, in_width):
        """`[R x, R B x, ..., R B^L x]`, one separable resample each."""
        strides = self._strides(in_height, in_width)
        dtype = keras.backend.standardize_dtype(x.dtype)
        rows = self._axis_taps(in_height, self.height, strides[0], dtype)
        columns = self._axis_taps(in_width, self.width, strides[1], dtype)
        # R x itself with the base resize's own taps, so that zero weights
        # give exactly `resize` (the folded R taps agree to float rounding).
        terms = [self._base_resize(x, strides)]
        for r, c in zip(rows[1:], columns[1:], strict=True):
            terms.append(resample_separable(x, r, c))
        return terms

    def _base_resize(self, x, strides):
        if strides != (1, 1):
            x = ops.average_pool(
                x,
                strides,
                strides=strides,
                padding="valid",
                data_format="channels_last",
            )
        return resize(
            x,
            (self.height, self.width),
            method=self.interpolation,
            antialias=self.antialias,
        )

    def _blur(self, x):
        channels = x.shape[-1]
        if channels is None:
            raise ValueError(
                "The direct form of MullerResize needs the channel count. "
                f"Received: input_shape={tuple(x.shape)}"
            )
        dtype = keras.backend.standardize_dtype(x.dtype)
        taps = muller.gaussian_taps(self.kernel_size, self.stddev).astype(np.float32)
        size = self.kernel_size
        horizontal = np.tile(taps.reshape(1, size, 1, 1), (1, 1, channels, 1))
        vertical = np.tile(taps.reshape(size, 1, 1, 1), (1, 1, channels, 1))
        x = ops.depthwise_conv(
            x, ops.convert_to_tensor(horizontal, dtype), strides=1, padding="same"
        )
        return ops.depthwise_conv(
            x, ops.convert_to_tensor(vertical, dtype), strides=1, padding="same"
        )

    def _direct_terms(self, x, in_height, in_width):
        """`[R x, R B x, ..., R B^L x]`, blurring at the input resolution."""
        strides = self._strides(in_height, in_width)
        terms = [self._base_resize(x, strides)]
        for _ in range(self.num_layers):
            x = self._blur(x)
            terms.append(self._base_resize(x, strides))
        return terms

    def terms(self, inputs, implementation=None):
        """`[R x, R B x, ..., R B^L x]`: the resized Gaussian stack.

        Args:
            inputs: images, as for calling the layer.
            implementation: `"folded"` or `"direct"` (default: the layer's).

        Returns:
            A list of `num_layers + 1` tensors of the output's shape.
        """
        implementation = check_choice(
            "implementation", implementation or self.implementation, IMPLEMENTATIONS
        )
        x, squeeze = self._to_batch(inputs)
        in_height, in_width = x.shape[1], x.shape[2]
        static = isinstance(in_height, int) and isinstance(in_width, int)
        if implementation == "folded" and static:
            terms = self._folded_terms(x, in_height, in_width)
        else:
            terms = self._direct_terms(x, in_height, in_width)
        return [self._from_batch(t, squeeze) for t in terms]

    def call(self, inputs):
        terms = self.terms(inputs)
        y = terms[0]
        dtype = keras.backend.standardize_dtype(y.dtype)
        for k in range(self.num_layers):
            weight = ops.cast(self.detail_weights[k], dtype)
            bias = ops.cast(self.detail_biases[k], dtype)
            y = y + ops.tanh(weight * (terms[k + 1] - terms[k]) + bias)
        return y

    def fixed_resize(self, inputs):
        """The base resize `R(x)` alone (what the layer is with zero weights).

        Args:
            inputs: images, as for calling the layer.

        Returns:
            `R(inputs)` in the layer's compute dtype.
        """
        x, squeeze = self._to_batch(inputs)
        strides = self._strides(x.shape[1], x.shape[2])
        return self._from_batch(self._base_resize(x, strides), squeeze)

    def compute_output_shape(self, input_shape):
        check_image_input(input_shape, self.data_format)
        input_shape = check_image_shape(input_shape)
        if self.data_format == "channels_first":
            return input_shape[:-2] + (self.height, self.width)
        return input_shape[:-3] + (self.height, self.width, input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "antialias": self.antialias,
            "num_layers": self.num_layers,
            "kernel_size": self.kernel_size,
            "stddev": self.stddev,
            "avg_pool": self.avg_pool,
            "implementation": self.implementation,
            "data_format": self.data_format,
        }


@register_resizer("muller")
def _muller(height, width, **kwargs):
    """MULLER (Tu et al. 2023): 4 scalars on a bilinear resize, from zero (= bilinear)."""
    kwargs.setdefault("name", "resizer")
    return MullerResize(height, width, **kwargs)


@register_resizer("muller_imagenet")
def _muller_imagenet(height, width, **kwargs):
    """MULLER from the authors' ResNet-50 / ImageNet values (trainable)."""
    from keras_resize import pretrained

    kwargs.setdefault("name", "resizer")
    preset = pretrained.load(PRESET)  # Checks the file's sha256.
    config = {**pretrained.info(PRESET)["config"], **kwargs}
    config.update(height=height, width=width)
    layer = MullerResize.from_config(config)
    layer.build((None, None, None, None))
    layer.set_weights(preset.get_weights())
    return layer


# The authors' published values for ResNet-50 on ImageNet, in the order
# (weight_1, bias_1, weight_2, bias_2).
PRESET_VALUES = (1.892, -0.014, -11.295, 0.003)
PRESET_REFERENCE = {
    "paper": (
        "Z. Tu, P. Milanfar, H. Talebi, 'MULLER: Multilayer Laplacian Resizer "
        "for Vision', ICCV 2023"
    ),
    "code": "https://github.com/google-research/google-research/tree/master/muller",
    "values": "(w1, b1, w2, b2) = (1.892, -0.014, -11.295, 0.003), as published "
    "by the authors for ResNet-50 on ImageNet (kernel 5, stddev 1.0, 2 layers, "
    "bilinear, no antialias, 224x224 targets); copied, not re-trained here",
}


def write_preset(directory=None):
    """Write the `muller-resnet50-imagenet` preset (weights, config, metadata).

    Reproduces `keras_resize/presets/muller-resnet50-imagenet/` from the
    published values (no training). Returns the preset's entry.
    """
    from pathlib import Path

    from keras_resize import pretrained

    directory = Path(directory or pretrained.presets_dir())
    layer = MullerResize(224, 224, name="resizer")
    input_shape = (448, 448, 3)
    layer.build((None, *input_shape))
    for variable, value in zip(
        [
            v
            for pair in zip(layer.detail_weights, layer.detail_biases, strict=True)
            for v in pair
        ],
        PRESET_VALUES,
        strict=True,
    ):
        variable.assign(value)
    path = directory / f"{PRESET}.weights.h5"
    pretrained.save_weights(layer, path, input_shape)
    return pretrained.register(
        PRESET,
        layer,
        path,
        input_shape,
        task=(
            "ImageNet classification with ResNet-50 behind the resizer (224x224 "
            "targets), trained by the paper's authors"
        ),
        data="ImageNet-1k (ILSVRC 2012) train, by the authors; values copied "
        "from their paper / code, not trained here. The 4 values do not depend "
        "on the input size; input_shape is only the size the file is built for.",
        command='python -c "from keras_resize.layers.muller_resize import '
        'write_preset; write_preset()"',
        metric={
            "source": "published by the authors (not re-measured here)",
            "weight_1": PRESET_VALUES[0],
            "bias_1": PRESET_VALUES[1],
            "weight_2": PRESET_VALUES[2],
            "bias_2": PRESET_VALUES[3],
        },
        directory=directory,
        extra={"reference": PRESET_REFERENCE},
    )
