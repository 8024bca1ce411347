"""LZU detectors on keras-hub: the packed input and the zoom-unzoom backbone.

Learning to Zoom and Unzoom (LZU, Thavamani et al., CVPR 2023) zooms the
full-resolution image to the detector's size with a saliency-guided warp,
runs the backbone and its feature pyramid on the zoomed image and unzooms
every pyramid level back into the uniformly downsampled frame, so that the
detection head, its anchors and its targets are those of plain downsizing.

keras-hub's detectors (`keras_hub.models.RetinaNetObjectDetector`) take one
image tensor whose size sets the anchors. So an LZU detector's input is the
full-resolution image *packed* into the detector's frame without loss
(`pack_frame`, a space-to-depth by `block_size = 1 / scale`: 256x256x1 ->
64x64x16), optionally with a per-image saliency in one extra channel; the
backbone (`LZUBackbone`, built by `lzu_backbone`) unpacks it (`UnpackFrame`)
and zooms it.

keras-hub is an optional dependency of this module: `UnpackFrame` and
`pack_frame` do not need it, `lzu_backbone` imports it on first use. Importing
this module (which `import keras_resize` does) registers `LZUBackbone` with
Keras' serialization without importing keras-hub, so a saved LZU detector
(`.keras`) loads in a process that only ran `import keras_resize`. Models
saved under the training scripts' former package name
(`"keras_resize_training"`) load too.
"""

import functools

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.layers.zoom import Unzoom, Zoom, ZoomUnzoom
from keras_resize.ops import warp
from keras_resize.ops.validation import check_positive_int

PACKAGE = "keras_resize"
# Registered names of models saved by `training/detection.py` before these
# classes moved into the package.
LEGACY_PACKAGE = "keras_resize_training"
INSTALL_HINT = "pip install keras-resize[train] (or pip install keras-hub)"


def _check_grid_shape(grid_shape):
    try:
        grid_shape = tuple(int(size) for size in grid_shape)
    except (TypeError, ValueError):
        grid_shape = None
    if grid_shape is None or len(grid_shape) != 2 or min(grid_shape) < 2:
        raise ValueError(
            "Expected `grid_shape` to be (grid_height, grid_width), both >= 2. "
            f"Received: grid_shape={grid_shape!r}"
        )
    return grid_shape


def _static_shape(x):
    return tuple(x.shape)


def pack_frame(images, block_size, saliency=None):
    """Full-resolution images -> the detector's frame, without loss.

    A space-to-depth by `block_size` (the same channel order as
    `tf.nn.space_to_depth`: channel `(dy * block_size + dx) * channels + c`
    of output pixel `(i, j)` is channel `c` of input pixel
    `(i * block_size + dy, j * block_size + dx)`). With `saliency`, one more
    channel carries it: its top-left `(grid_height, grid_width)` corner,
    zeros elsewhere. `UnpackFrame` is the inverse.

    Args:
        images: `(batch, height, width, channels)`, height and width
            divisible by `block_size`.
        block_size: the packing factor, a positive int (`1 / scale` of the
            detector's frame).
        saliency: optional `(batch, grid_height, grid_width)` saliency, at
            most the frame size `(height / block_size, width / block_size)`.

    Returns:
        `(batch, height / block_size, width / block_size, channels *
        block_size**2)`, plus one channel with `saliency`.

    Raises:
        ValueError: if `block_size` is not a positive int, the image size is
            not divisible by it, or the saliency does not fit the frame.

    Example:

    >>> images = np.arange(2 * 4 * 4, dtype="float32").reshape(2, 4, 4, 1)
    >>> packed = keras.ops.convert_to_numpy(pack_frame(images, 2))
    >>> packed.shape, packed[0, 0, 0].tolist()
    ((2, 2, 2, 4), [0.0, 1.0, 4.0, 5.0])
    >>> saliency = np.ones((2, 2, 2), "float32")
    >>> tuple(pack_frame(images, 2, saliency).shape)
    (2, 2, 2, 5)

    Convention: channels last; pixel `(i, j)` of the frame covers the
    `block_size x block_size` input pixels from `(i * block_size, j *
    block_size)`.
    """
    block_size = check_positive_int("block_size", block_size)
    images = ops.convert_to_tensor(images)
    shape = _static_shape(images)
    if len(shape) != 4:
        raise ValueError(
            "Expected `images` of rank 4 (batch, height, width, channels). "
            f"Received: images.shape={shape}"
        )
    _, height, width, channels = shape
    for name, size in (("height", height), ("width", width)):
        if size is None:
            raise ValueError(
                f"Expected a known image {name} to pack. Received: images.shape={shape}"
            )
        if size % block_size:
            raise ValueError(
                f"Expected the image {name} to be divisible by `block_size`. "
                f"Received: images.shape={shape}, block_size={block_size}"
            )
    rows, columns = height // block_size, width // block_size
    x = ops.reshape(images, (-1, rows, block_size, columns, block_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    packed = ops.reshape(x, (-1, rows, columns, block_size * block_size * channels))
    if saliency is None:
        return packed
    saliency = ops.convert_to_tensor(saliency)
    saliency_shape = _static_shape(saliency)
    if (
        len(saliency_shape) != 3
        or saliency_shape[1] is None
        or saliency_shape[2] is None
        or not 2 <= saliency_shape[1] <= rows
        or not 2 <= saliency_shape[2] <= columns
    ):
        raise ValueError(
            "Expected `saliency` of shape (batch, grid_height, grid_width) with "
            f"2 <= grid size <= the frame ({rows}, {columns}). Received: "
            f"saliency.shape={saliency_shape}"
        )
    plane = ops.pad(
        ops.cast(saliency, packed.dtype),
        [[0, 0], [0, rows - saliency_shape[1]], [0, columns - saliency_shape[2]]],
    )
    return ops.concatenate([packed, ops.expand_dims(plane, -1)], axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnpackFrame(keras.layers.Layer):
    """Packed detector-frame input -> the full-resolution image (+ saliency).

    The inverse of `pack_frame(images, block_size, saliency)` (a
    depth-to-space, `tf.nn.depth_to_space`'s channel order); with
    `grid_shape` the last channel carries a saliency map in its top-left
    `grid_shape` corner, returned as `(batch, grid_height, grid_width)`
    float32.

    Args:
        block_size: the packing factor, a positive int.
        channels: channels of the full-resolution image, a positive int.
        grid_shape: `(grid_height, grid_width)` of a packed saliency, or
            `None` (no saliency channel).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, rows, columns, channels * block_size**2)`, plus one channel
        with `grid_shape`.

    Output shape:
        `(batch, rows * block_size, columns * block_size, channels)`, and
        `(batch, grid_height, grid_width)` with `grid_shape`.

    Raises:
        ValueError: on a non-positive `block_size` or `channels`, a bad
            `grid_shape`, or an input with the wrong number of channels.

    Example:

    >>> images = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    >>> saliency = np.random.default_rng(1).random((2, 3, 3)).astype("float32")
    >>> image, unpacked = UnpackFrame(2, 3, grid_shape=(3, 3))(
    ...     pack_frame(images, 2, saliency))
    >>> bool(np.array_equal(image, images)), bool(np.array_equal(unpacked, saliency))
    (True, True)

    Convention: channels last (see `pack_frame`).
    """

    def __init__(self, block_size, channels, grid_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.block_size = check_positive_int("block_size", block_size)
        self.channels = check_positive_int("channels", channels)
        self.grid_shape = None if grid_shape is None else _check_grid_shape(grid_shape)

    @property
    def packed_channels(self):
        extra = 0 if self.grid_shape is None else 1
        return self.channels * self.block_size**2 + extra

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] not in (None, self.packed_channels):
            raise ValueError(
                f"Expected an input of shape (batch, rows, columns, "
                f"{self.packed_channels}) for block_size={self.block_size}, "
                f"channels={self.channels}, grid_shape={self.grid_shape}. "
                f"Received: input_shape={input_shape}"
            )

    def call(self, inputs):
        block = self.block_size
        pixels = self.channels * block**2
        shape = ops.shape(inputs)
        rows, columns = shape[1], shape[2]
        x = ops.reshape(
            inputs[..., :pixels], (-1, rows, columns, block, block, self.channels)
        )
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        image = ops.reshape(x, (-1, rows * block, columns * block, self.channels))
        if self.grid_shape is None:
            return image
        grid_height, grid_width = self.grid_shape
        saliency = ops.cast(inputs[:, :grid_height, :grid_width, pixels], "float32")
        return image, saliency

    def compute_output_shape(self, input_shape):
        batch, height, width = tuple(input_shape)[:3]
        block = self.block_size
        image = (
            batch,
            None if height is None else height * block,
            None if width is None else width * block,
            self.channels,
        )
        if self.grid_shape is None:
            return image
        return image, (batch, *self.grid_shape)

    def compute_output_spec(self, inputs):
        shapes = self.compute_output_shape(tuple(inputs.shape))
        if self.grid_shape is None:
            return keras.KerasTensor(shapes, dtype=self.compute_dtype)
        return (
            keras.KerasTensor(shapes[0], dtype=self.compute_dtype),
            keras.KerasTensor(shapes[1], dtype="float32"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "block_size": self.block_size,
            "channels": self.channels,
            "grid_shape": None if self.grid_shape is None else list(self.grid_shape),
        }


def _import_keras_hub():
    try:
        import keras_hub
    except ImportError as error:
        raise ImportError(
            f"LZU backbones subclass a keras-hub class; keras-hub is not "
            f"installed: {INSTALL_HINT}"
        ) from error
    return keras_hub


@functools.cache
def lzu_backbone_class():
    """The `LZUBackbone` class (defined on first use: it subclasses keras-hub).

    Returns:
        The class, registered with Keras' serialization as
        `"keras_resize>LZUBackbone"` (and the legacy
        `"keras_resize_training>LZUBackbone"`).

    Raises:
        ImportError: if keras-hub is not installed.
    """
    keras_hub = _import_keras_hub()

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class LZUBackbone(keras_hub.models.Backbone):
        """Zoom -> backbone + feature pyramid -> unzoom every level.

        Takes the full-resolution image packed into the detector's frame
        (`pack_frame`), unpacks it (`UnpackFrame`), zooms it to the frame
        with a saliency-guided warp, runs `detector_backbone` (e.g. a
        keras-hub `RetinaNetBackbone` built for the frame size) and unzooms
        each of its output maps into the uniformly downsampled frame
        (`keras_resize.layers.ZoomUnzoom` for a fixed saliency, `Zoom` +
        `Unzoom` for a per-image one), so that keras-hub's detection head,
        anchors and targets are those of plain downsizing. Build it with
        `keras_resize.models.lzu_backbone`, which documents the arguments.
        """

        def __init__(
            self,
            detector_backbone,
            block_size,
            saliency=None,
            grid_shape=warp.GRID_SHAPE,
            fwhm=warp.DEFAULT_FWHM,
            dtype=None,
            **kwargs,
        ):
            block_size = check_positive_int("block_size", block_size)
            height, width, channels = detector_backbone.image_shape
            adaptive = saliency is None
            if adaptive:
                grid_shape = _check_grid_shape(grid_shape)
            else:
                saliency = np.asarray(saliency, np.float64)
                if saliency.ndim != 2:
                    raise ValueError(
                        "Expected `saliency` to be None or a (grid_height, "
                        f"grid_width) array. Received: saliency.shape="
                        f"{saliency.shape}"
                    )
                grid_shape = _check_grid_shape(saliency.shape)
            packed = channels * block_size**2 + (1 if adaptive else 0)
            inputs = keras.Input((height, width, packed), name="images")
            unpack = UnpackFrame(
                block_size, channels, grid_shape if adaptive else None, name="unpack"
            )
            if adaptive:
                image, saliency_map = unpack(inputs)
                zoomed, grid = Zoom(
                    height,
                    width,
                    saliency="uniform",
                    grid_shape=grid_shape,
                    fwhm=fwhm,
                    return_grid=True,
                    name="zoom",
                )(image, saliency_map)
                features = detector_backbone(zoomed)
                outputs = Unzoom(fwhm=fwhm, name="unzoom")(features, grid)
            else:
                outputs = ZoomUnzoom(
                    detector_backbone,
                    height,
                    width,
                    saliency=saliency,
                    fwhm=fwhm,
                    name="zoom_unzoom",
                )(unpack(inputs))
            super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
            self.detector_backbone = detector_backbone
            self.block_size = block_size
            self.saliency = None if adaptive else saliency
            self.grid_shape = grid_shape
            self.fwhm = float(fwhm)
            self.min_level = getattr(detector_backbone, "min_level", None)
            self.max_level = getattr(detector_backbone, "max_level", None)
            self.image_shape = (height, width, packed)

        def get_config(self):
            return {
                **super().get_config(),
                "detector_backbone": keras.layers.serialize(self.detector_backbone),
                "block_size": self.block_size,
                "saliency": None if self.saliency is None else self.saliency.tolist(),
                "grid_shape": list(self.grid_shape),
                "fwhm": self.fwhm,
            }

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            config["detector_backbone"] = keras.layers.deserialize(
                config["detector_backbone"]
            )
            return super().from_config(config)

    keras.saving.get_custom_objects()[f"{LEGACY_PACKAGE}>LZUBackbone"] = LZUBackbone
    return LZUBackbone


def lzu_backbone(
    detector_backbone,
    block_size,
    saliency=None,
    grid_shape=warp.GRID_SHAPE,
    fwhm=warp.DEFAULT_FWHM,
    **kwargs,
):
    """An LZU backbone: zoom, `detector_backbone`, unzoom every level.

    A keras-hub `Backbone` (so it plugs into keras-hub's detectors, e.g.
    `keras_hub.models.RetinaNetObjectDetector(backbone=...)`) whose input is
    the full-resolution image packed into the detector's frame
    (`pack_frame`); see `LZUBackbone`.

    Args:
        detector_backbone: a keras-hub backbone built for the detector's
            frame (its `image_shape` is `(height, width, channels)` of the
            frame), e.g. `keras_hub.models.RetinaNetBackbone`; its
            `min_level` / `max_level` are passed on.
        block_size: full resolution / frame size, a positive int (`1 /
            scale`).
        saliency: a fixed `(grid_height, grid_width)` saliency (e.g. the
            dataset prior `keras_resize.ops.warp.dataset_saliency`; the warp
            is computed once), or `None` for a per-image saliency carried by
            the input's last channel (`pack_frame(images, block_size,
            saliency)`).
        grid_shape: the coarse grid of a per-image saliency (ignored with a
            fixed one, whose shape it is).
        fwhm: the attraction kernel's full width at half maximum, in grid
            nodes.
        **kwargs: `keras_hub.models.Backbone` arguments (`name`, `dtype`).

    Returns:
        An `LZUBackbone`, a functional keras-hub backbone from `(batch,
        height, width, channels * block_size**2 [+ 1])` packed images to the
        `detector_backbone`'s outputs in the uniformly downsampled frame.

    Raises:
        ImportError: if keras-hub is not installed.
        ValueError: on a bad `block_size`, `saliency` or `grid_shape`.

    Example:

    >>> import keras_hub
    >>> encoder = keras_hub.models.ResNetBackbone(
    ...     input_conv_filters=[64], input_conv_kernel_sizes=[3],
    ...     stackwise_num_filters=[64, 64, 64, 64], stackwise_num_blocks=[1, 1, 1, 1],
    ...     stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
    ...     use_pre_activation=False, image_shape=(32, 32, 1))
    >>> retina = keras_hub.models.RetinaNetBackbone(
    ...     encoder, min_level=3, max_level=5, use_p5=False,
    ...     image_shape=(32, 32, 1))
    >>> backbone = lzu_backbone(retina, 2, saliency=np.ones((5, 5)))
    >>> backbone.image_shape
    (32, 32, 4)
    >>> images = np.zeros((1, 64, 64, 1), "float32")
    >>> {level: tuple(x.shape) for level, x in backbone(pack_frame(images, 2)).items()}
    {'P3': (1, 4, 4, 256), 'P4': (1, 2, 2, 256), 'P5': (1, 1, 1, 256)}

    Convention: the outputs live in the uniformly downsampled frame (the
    frame of `keras_resize.ops.resize(images, frame size, "bilinear")`);
    with uniform saliency the backbone equals `detector_backbone` on that
    resize.
    """
    return lzu_backbone_class()(
        detector_backbone, block_size, saliency, grid_shape=grid_shape, fwhm=fwhm,
        **kwargs,
    )  # fmt: skip


class _DeferredLZUBackbone:
    """`LZUBackbone` in Keras' registry until keras-hub is imported.

    Loading a saved model calls `from_config` on the registered class; this
    stand-in defines the real class (importing keras-hub) and delegates, so
    `import keras_resize` registers LZU backbones without importing
    keras-hub (a slow import, which also imports TensorFlow).
    """

    @classmethod
    def from_config(cls, config):
        return lzu_backbone_class().from_config(config)


def _register():
    custom_objects = keras.saving.get_custom_objects()
    custom_objects.setdefault(f"{LEGACY_PACKAGE}>UnpackFrame", UnpackFrame)
    for package in (PACKAGE, LEGACY_PACKAGE):
        custom_objects.setdefault(f"{package}>LZUBackbone", _DeferredLZUBackbone)


_register()


def __getattr__(name):
    # `from keras_resize.models.lzu import LZUBackbone` imports keras-hub then.
    if name == "LZUBackbone":
        return lzu_backbone_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
