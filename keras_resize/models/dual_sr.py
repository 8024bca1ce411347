"""`DualSRModel`: dual super-resolution learning around a segmenter (DSRL).

Written with `keras.ops`: the model trains with `fit` on TensorFlow, JAX and
PyTorch (its loss is a `compute_loss` override, which Keras calls on every
backend).
"""

import numbers

import keras
from keras import ops

from keras_resize.layers.base import (
    check_data_format,
    shape_from_channels_last,
    shape_to_channels_last,
)
from keras_resize.layers.dual_sr import UPSAMPLING_MODES, DualSRHead
from keras_resize.losses import _feature_affinity, _pool_size
from keras_resize.ops.validation import (
    check_bool,
    check_choice,
    check_non_negative_int,
    check_positive_int,
    check_same_batch,
)

# The four settings of the DSRL ablation (paper Table 1), by name.
VARIANTS = {
    # (a) logits upsampled with fixed bilinear weights, cross-entropy only
    "bilinear": {
        "upsampling": "bilinear",
        "super_resolution": False,
        "feature_affinity": False,
    },
    # (b) learned upsampling of the logits (SSSR)
    "sssr": {
        "upsampling": "learned",
        "super_resolution": False,
        "feature_affinity": False,
    },
    # (c) SSSR + the image super-resolution branch (SISR, MSE)
    "sssr_sisr": {
        "upsampling": "learned",
        "super_resolution": True,
        "feature_affinity": False,
    },
    # (d) SSSR + SISR + feature affinity (the full DSRL)
    "dsrl": {
        "upsampling": "learned",
        "super_resolution": True,
        "feature_affinity": True,
    },
}

# DeepLabV3Backbone layers (keras-hub) whose output is the encoder output:
# with a low-level decoder (DeepLabV3+) the concatenation, else the
# upsampled ASPP output.
_DEEPLAB_FEATURE_LAYERS = ("encoder_decoder_concat", "encoder_output_upsampling")


def segmentation_feature_model(segmenter, feature_layer=None):
    """A model from images to `[features, logits]` that shares `segmenter`'s
    layers (and weights), for the SISR branch of DSRL.

    Three kinds of segmenter are understood:

    - a keras-hub `DeepLabV3ImageSegmenter`: the features are the encoder
      output inside its backbone (`"encoder_decoder_concat"` with a
      low-level decoder, else `"encoder_output_upsampling"`, i.e. the
      upsampled ASPP output), the logits its `output_conv` on the backbone
      output; `feature_layer` may name another backbone layer;
    - `keras_resize.models.build_unet`: the layer `"features"`;
    - any functional model with one output (the logits): the top-level
      layer named `feature_layer`.

    The encoder runs once: the returned model is built on the segmenter's
    own graph, not on a second call of it.

    Args:
        segmenter: a functional `keras.Model` from images to logits.
        feature_layer: name of the layer whose output are the shared
            features; `None` (default): the DeepLabV3 encoder output, or
            `"features"`.

    Returns:
        A functional `keras.Model` with outputs `[features, logits]`.

    Raises:
        ValueError: if the feature layer cannot be found.
    """
    if not isinstance(segmenter, keras.Model) or not hasattr(segmenter, "inputs"):
        raise ValueError(
            "Expected `segmenter` to be a functional keras.Model. Received: "
            f"segmenter={segmenter!r}"
        )
    if feature_layer is not None and not isinstance(feature_layer, str):
        raise ValueError(
            "Expected `feature_layer` to be a layer name or None. Received: "
            f"feature_layer={feature_layer!r}"
        )
    backbone = getattr(segmenter, "backbone", None)
    output_conv = getattr(segmenter, "output_conv", None)
    if isinstance(backbone, keras.Model) and output_conv is not None:
        names = [layer.name for layer in backbone.layers]
        if feature_layer is None:
            feature_layer = next(
                (n for n in _DEEPLAB_FEATURE_LAYERS if n in names), None
            )
        if feature_layer in names:
            # keras-hub DeepLabV3ImageSegmenter: logits = output_conv(backbone(x))
            inner = keras.Model(
                backbone.inputs,
                [backbone.get_layer(feature_layer).output, backbone.outputs[0]],
            )
            inputs = keras.Input(batch_shape=segmenter.inputs[0].shape, name="images")
            features, decoded = inner(inputs)
            return keras.Model(
                inputs, [features, output_conv(decoded)], name="feature_model"
            )
    if feature_layer is None:
        feature_layer = "features"
    names = [layer.name for layer in segmenter.layers]
    if feature_layer not in names:
        raise ValueError(
            f"The segmenter {segmenter.name!r} has no layer named {feature_layer!r} "
            "(the shared features for the super-resolution branch). Pass "
            f"`feature_layer`, one of its top-level layers: {names}"
        )
    if len(segmenter.outputs) != 1:
        raise ValueError(
            "Expected a segmenter with one output (the logits). Received "
            f"{len(segmenter.outputs)} outputs."
        )
    return keras.Model(
        segmenter.inputs,
        [segmenter.get_layer(feature_layer).output, segmenter.outputs[0]],
        name="feature_model",
    )


@keras.saving.register_keras_serializable(package="keras_resize")
class DualSRModel(keras.Model):
    """Dual super-resolution learning (DSRL) around a segmentation model.

    The segmenter sees the image downsampled by `factor`; a `DualSRHead`
    upsamples its logits to full resolution (SSSR) and, for training only,
    reconstructs the full-resolution image from its encoder features (SISR)
    and transforms the SSSR output for the feature affinity loss. `fit`
    minimises

        CE(labels, SSSR) + super_resolution_weight * MSE(image, SISR)
            + feature_affinity_weight * L_fa(FTM(SSSR), SISR)

    with CE the pixel cross-entropy against the full-resolution labels
    (averaged over pixels and samples; `sample_weight`, per sample or per
    pixel, weighs this term and the metrics only), MSE against the full-resolution
    image, and `L_fa` the per-sample feature affinity loss
    (`keras_resize.losses.feature_affinity`) averaged over the batch.
    Gradients of `L_fa` flow into both branches (our reading of the paper).
    The loss is built in: `compile` takes the optimizer and metrics (no
    `loss`: a `ValueError` at the first step says so), and the metrics
    see the labels and the `"segmentation"` output (e.g.
    `keras.metrics.MeanIoU(num_classes, sparse_y_pred=False)`). The three
    terms are also reported as the metrics `segmentation_loss`,
    `super_resolution_loss` and `feature_affinity_loss`.

    Data: `x` is the low-resolution image batch; `y` is a dict
    `{"segmentation": labels, "super_resolution": image}` (or a tuple
    `(labels, image)`, or just the labels without the SISR branch) with
    integer `labels` `(batch, H, W)` or `(batch, H, W, 1)` and the float
    `image` `(batch, H, W, image_channels)` at `factor` x the input size
    (`(batch, image_channels, H, W)` with `data_format="channels_first"`).

    `model(x)` returns a dict with `"segmentation"` (full-resolution
    logits) and, when built, `"super_resolution"` and
    `"feature_transform"`. `inference_model()` returns the segmenter and
    the SSSR upsampling only, for evaluation and export.

    Args:
        segmenter: a functional model from images to logits at the input
            resolution, see `segmentation_feature_model`.
        factor: super-resolution factor, >= 1 (paper: 2).
        upsampling: `"learned"` (SSSR) or `"bilinear"` (fixed, baseline).
        super_resolution: build and train the SISR branch.
        feature_affinity: train with the feature affinity loss (needs
            `super_resolution`).
        super_resolution_weight: weight of the MSE term (paper: 0.1).
        feature_affinity_weight: weight of the feature affinity term
            (paper: 1.0).
        feature_affinity_subsample: subsampling of the maps before the
            affinity, `1/n` (paper: 1/8).
        feature_affinity_normalize: L2-normalise each position before the
            affinity (default `False`).
        feature_affinity_max_positions: bound on the positions after
            subsampling (the affinity matrix has their square per sample).
        feature_layer: name of the shared feature layer, see
            `segmentation_feature_model`.
        feature_stride: input pixels per feature pixel; `None`: measured
            on the segmenter.
        decoder_filters: hidden channels of the SISR decoder.
        decoder_layers: hidden convolutions of the SISR decoder.
        ignore_class: label value excluded from the cross-entropy (e.g.
            255 for VOC / Cityscapes), or `None`. Metrics are not masked:
            give them their own `ignore_class`.
        data_format: `"channels_last"` or `"channels_first"`, that of the
            segmenter's images and logits and of the model's image outputs
            and targets; default `keras.config.image_data_format()`.
        **kwargs: `keras.Model` arguments (`name`, `dtype`, ...).

    Example:

    >>> from keras_resize.models import build_unet
    >>> segmenter = build_unet(3, image_shape=(16, 16, 3), filters=(4, 8))
    >>> model = DualSRModel.from_variant("dsrl", segmenter, decoder_filters=4,
    ...                                  feature_affinity_subsample=1 / 4)
    >>> model.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).random((4, 16, 16, 3)).astype("float32")
    >>> y = {"segmentation": np.zeros((4, 32, 32), "int32"),
    ...      "super_resolution": np.zeros((4, 32, 32, 3), "float32")}
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> tuple(model.inference_model()(x).shape)
    (4, 32, 32, 3)

    Convention: the full-resolution labels and image are `factor` x the
    input size, with half-pixel centres: output block `(i, j)` of `factor x
    factor` pixels covers input pixel `(i, j)` (as downsampling with
    `keras_resize.ops.resize` by `1 / factor` assumes).
    """

    def __init__(
        self,
        segmenter,
        factor=2,
        upsampling="learned",
        super_resolution=True,
        feature_affinity=True,
        super_resolution_weight=0.1,
        feature_affinity_weight=1.0,
        feature_affinity_subsample=1 / 8,
        feature_affinity_normalize=False,
        feature_affinity_max_positions=4096,
        feature_layer=None,
        feature_stride=None,
        decoder_filters=64,
        decoder_layers=2,
        ignore_class=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.factor = check_positive_int("factor", factor)
        self.upsampling = check_choice("upsampling", upsampling, UPSAMPLING_MODES)
        self.super_resolution = check_bool("super_resolution", super_resolution)
        self.feature_affinity = check_bool("feature_affinity", feature_affinity)
        if self.feature_affinity and not self.super_resolution:
            raise ValueError(
                "The feature affinity loss compares the segmentation with the "
                "super-resolution branch: `feature_affinity=True` needs "
                "`super_resolution=True`. Received: super_resolution=False"
            )
        self.super_resolution_weight = _check_weight(
            "super_resolution_weight", super_resolution_weight
        )
        self.feature_affinity_weight = _check_weight(
            "feature_affinity_weight", feature_affinity_weight
        )
        _pool_size(feature_affinity_subsample)  # raises for a bad value
        self.feature_affinity_subsample = feature_affinity_subsample
        self.feature_affinity_normalize = check_bool(
            "feature_affinity_normalize", feature_affinity_normalize
        )
        self.feature_affinity_max_positions = check_positive_int(
            "feature_affinity_max_positions", feature_affinity_max_positions
        )
        if ignore_class is not None:
            ignore_class = check_non_negative_int("ignore_class", ignore_class)
        self.ignore_class = ignore_class
        self.feature_layer = feature_layer

        self.segmenter = segmenter
        self.feature_model = segmentation_feature_model(segmenter, feature_layer)
        logits_spec = self.feature_model.outputs[1]
        image_shape = shape_to_channels_last(
            self.feature_model.inputs[0].shape[1:], self.data_format
        )
        if feature_stride is None:
            feature_stride = _measure_stride(
                self.feature_model, image_shape, self.data_format
            )
        self.feature_stride = check_positive_int("feature_stride", feature_stride)
        self.num_classes = shape_to_channels_last(logits_spec.shape, self.data_format)[
            -1
        ]
        self.image_channels = image_shape[-1]
        self.head = DualSRHead(
            self.num_classes,
            factor=self.factor,
            upsampling=self.upsampling,
            super_resolution=self.super_resolution,
            feature_transform=self.feature_affinity,
            image_channels=self.image_channels,
            feature_stride=self.feature_stride,
            decoder_filters=decoder_filters,
            decoder_layers=decoder_layers,
            data_format=self.data_format,
            dtype=self.dtype_policy,
            name="dual_sr_head",
        )
        # the loss terms, reported as metrics (only those that are trained)
        self.segmentation_loss_tracker = keras.metrics.Mean(name="segmentation_loss")
        if self.super_resolution:
            self.super_resolution_loss_tracker = keras.metrics.Mean(
                name="super_resolution_loss"
            )
        if self.feature_affinity:
            self.feature_affinity_loss_tracker = keras.metrics.Mean(
                name="feature_affinity_loss"
            )

    @classmethod
    def from_variant(cls, variant, segmenter, **kwargs):
        """Build one of the `VARIANTS` (`"bilinear"`, `"sssr"`,
        `"sssr_sisr"`, `"dsrl"`); `kwargs` go to the constructor."""
        settings = VARIANTS[check_choice("variant", variant, VARIANTS)]
        return cls(segmenter, **{**settings, **kwargs})

    def call(self, inputs, training=None):
        features, logits = self.feature_model(inputs, training=training)
        return self.head([features, logits], training=training)

    def _targets(self, y):
        """`(labels, image or None)` from the supported target structures."""
        if isinstance(y, dict):
            unknown = set(y) - {"segmentation", "super_resolution"}
            if "segmentation" not in y or unknown:
                raise ValueError(
                    "Expected targets {'segmentation': labels, "
                    "'super_resolution': image}. Received keys: "
                    f"{sorted(y)}"
                )
            return y["segmentation"], y.get("super_resolution")
        if isinstance(y, (list, tuple)):
            if len(y) != 2:
                raise ValueError(
                    "Expected targets (labels, image). Received a sequence of "
                    f"{len(y)} items."
                )
            return y[0], y[1]
        return y, None

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if self._compile_loss is not None:
            raise ValueError(
                "DualSRModel computes its own loss (cross-entropy + weighted MSE "
                "+ feature affinity; set the weights in the constructor): "
                "compile it without `loss`. Received: loss="
                f"{self.loss!r}"
            )
        labels, image = self._targets(y)
        logits = self._channels_last(ops.cast(y_pred["segmentation"], "float32"))
        _check_target_size("labels", labels, logits)
        segmentation_loss = self.segmentation_loss(
            labels, logits, _segmentation_weight(sample_weight)
        )
        self.segmentation_loss_tracker.update_state(segmentation_loss)
        total = segmentation_loss
        if self.super_resolution:
            if image is None:
                raise ValueError(
                    "The super-resolution branch needs the full-resolution image "
                    "as a target: pass y={'segmentation': labels, "
                    "'super_resolution': image}."
                )
            reconstruction = ops.cast(y_pred["super_resolution"], "float32")
            image = ops.cast(image, "float32")
            _check_rank("image", image, (4,))
            check_same_batch("image", image, "super_resolution", reconstruction)
            _check_target_size(
                "image",
                self._channels_last(image),
                self._channels_last(reconstruction),
            )
            super_resolution_loss = ops.mean(ops.square(reconstruction - image))
            self.super_resolution_loss_tracker.update_state(super_resolution_loss)
            total = total + self.super_resolution_weight * super_resolution_loss
        if self.feature_affinity:
            affinity_loss = ops.mean(
                _feature_affinity(
                    self._channels_last(y_pred["feature_transform"]),
                    self._channels_last(y_pred["super_resolution"]),
                    subsample=self.feature_affinity_subsample,
                    normalize=self.feature_affinity_normalize,
                    max_positions=self.feature_affinity_max_positions,
                    names=("feature_transform", "super_resolution"),
                )
            )
            self.feature_affinity_loss_tracker.update_state(affinity_loss)
            total = total + self.feature_affinity_weight * affinity_loss
        for loss in self.losses:
            total = total + ops.cast(loss, "float32")
        return total

    def _channels_last(self, images):
        """Model outputs (rank 4, in the head's data format) in channels-last."""
        if self.head.data_format == "channels_first":
            return ops.transpose(images, (0, 2, 3, 1))
        return images

    def segmentation_loss(self, labels, logits, sample_weight=None):
        """Pixel cross-entropy, averaged over the pixels not labelled
        `ignore_class`; `sample_weight` `(batch,)` or `(batch, H, W)`
        weighs the pixels (sum of weighted terms / number of pixels).

        `logits` are channels-last `(batch, H, W, classes)`; `labels`
        `(batch, H, W)` or `(batch, H, W, 1)`, of the same batch size (a
        `ValueError` names both shapes otherwise)."""
        labels = ops.convert_to_tensor(labels)
        logits = ops.convert_to_tensor(logits)
        _check_rank("labels", labels, (3, 4))
        _check_rank("logits", logits, (4,))
        check_same_batch("labels", labels, "logits", logits)
        if sample_weight is not None:
            sample_weight = ops.convert_to_tensor(sample_weight)
            if len(sample_weight.shape):
                check_same_batch("sample_weight", sample_weight, "labels", labels)
        labels = _labels(labels)
        logits = ops.cast(logits, "float32")
        valid = ops.ones_like(labels, "float32")
        if self.ignore_class is not None:
            ignored = ops.equal(labels, self.ignore_class)
            valid = ops.cast(ops.logical_not(ignored), "float32")
            labels = ops.where(ignored, ops.zeros_like(labels), labels)
        per_pixel = keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True
        )
        weights = valid
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            while len(sample_weight.shape) < 3:
                sample_weight = ops.expand_dims(sample_weight, -1)
            weights = weights * sample_weight
        return ops.sum(per_pixel * weights) / ops.maximum(ops.sum(valid), 1.0)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        labels, _ = self._targets(y)
        sample_weight = _segmentation_weight(sample_weight)
        if sample_weight is not None:
            # per-sample weights apply to every pixel of the sample
            sample_weight = ops.cast(sample_weight, "float32")
            pixels = ops.shape(labels)[:3]
            while len(sample_weight.shape) < 3:
                sample_weight = ops.expand_dims(sample_weight, -1)
            sample_weight = ops.broadcast_to(sample_weight, pixels)
        logits = self._channels_last(y_pred["segmentation"])
        return super().compute_metrics(x, labels, logits, sample_weight=sample_weight)

    def inference_model(self, image_shape=None):
        """The segmenter followed by the SSSR upsampling, nothing else.

        The SISR branch and the feature transform are dropped, so a
        SavedModel / TFLite export of the returned model holds the plain
        segmenter plus the upsampling ops. Layers (and weights) are shared
        with this model.

        Args:
            image_shape: `(height, width, channels)` of the input
                (`(channels, height, width)` for channels first); default:
                the segmenter's.

        Returns:
            A functional `keras.Model` from low-resolution images to logits
            at `factor` x their size.
        """
        if image_shape is None:
            image_shape = tuple(self.segmenter.inputs[0].shape[1:])
        inputs = keras.Input(image_shape, name="images")
        logits = self.segmenter(inputs)
        outputs = self.head.upsampler(logits)
        return keras.Model(inputs, outputs, name=f"{self.name}_inference")

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "segmenter": keras.saving.serialize_keras_object(self.segmenter),
            "factor": self.factor,
            "upsampling": self.upsampling,
            "super_resolution": self.super_resolution,
            "feature_affinity": self.feature_affinity,
            "super_resolution_weight": self.super_resolution_weight,
            "feature_affinity_weight": self.feature_affinity_weight,
            "feature_affinity_subsample": self.feature_affinity_subsample,
            "feature_affinity_normalize": self.feature_affinity_normalize,
            "feature_affinity_max_positions": self.feature_affinity_max_positions,
            "feature_layer": self.feature_layer,
            "feature_stride": self.feature_stride,
            "decoder_filters": self.head.decoder_filters,
            "decoder_layers": self.head.decoder_layers,
            "ignore_class": self.ignore_class,
            "data_format": self.data_format,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["segmenter"] = keras.saving.deserialize_keras_object(config["segmenter"])
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)


def _labels(labels):
    """int32 labels `(batch, H, W)` from `(batch, H, W)` or `(batch, H, W, 1)`."""
    labels = ops.convert_to_tensor(labels)
    if len(labels.shape) == 4:
        labels = ops.squeeze(labels, -1)
    return ops.cast(labels, "int32")


def _segmentation_weight(sample_weight):
    """The labels' part of `sample_weight` (Keras splits one array passed to
    `fit` into the structure of `y`)."""
    if isinstance(sample_weight, dict):
        return sample_weight.get("segmentation")
    if isinstance(sample_weight, (list, tuple)):
        return sample_weight[0] if sample_weight else None
    return sample_weight


def _check_weight(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value >= 0.0
        or value == float("inf")
    ):
        raise ValueError(
            f"Expected `{name}` to be a non-negative number. Received: {name}={value!r}"
        )
    return float(value)


def _check_rank(name, tensor, ranks):
    if len(tensor.shape) not in ranks:
        expected = " or ".join(map(str, ranks))
        raise ValueError(
            f"Expected `{name}` to have rank {expected}. Received: "
            f"{name}.shape={tuple(tensor.shape)}"
        )


def _check_target_size(what, target, prediction):
    """Static check that a full-resolution target matches the prediction."""
    target_shape = getattr(target, "shape", None)
    if target_shape is None or len(target_shape) < 3:
        return
    expected, received = tuple(prediction.shape[1:3]), tuple(target_shape[1:3])
    if any(
        e is not None and r is not None and e != r
        for e, r in zip(expected, received, strict=True)
    ):
        raise ValueError(
            f"Expected the full-resolution {what} to be {expected[0]}x{expected[1]} "
            f"(factor x the input size). Received: {what} of shape "
            f"{tuple(target_shape)}"
        )


def _measure_stride(feature_model, image_shape, data_format):
    """Input pixels per feature pixel, from the static output shapes of the
    feature model (probed at 256 px where the input size is unknown);
    `image_shape` is channels-last `(height, width, channels)`."""
    height, width, channels = image_shape
    probe = shape_from_channels_last(
        (1, height or 256, width or 256, channels), data_format
    )
    features, logits = feature_model.compute_output_spec(keras.KerasTensor(probe))
    features_shape = shape_to_channels_last(features.shape, data_format)
    logits_shape = shape_to_channels_last(logits.shape, data_format)
    strides = set()
    for features_size, logits_size in zip(
        features_shape[1:3], logits_shape[1:3], strict=True
    ):
        if features_size and logits_size and logits_size % features_size == 0:
            strides.add(logits_size // features_size)
        else:
            strides.add(None)
    if len(strides) != 1 or None in strides:
        raise ValueError(
            "Cannot measure the feature stride (logits size / features size) "
            f"from features {features.shape} and logits {logits.shape}. Pass "
            "`feature_stride`."
        )
    return strides.pop()
