"""`build_unet`: a small U-Net-like segmenter (tests, DSRL examples)."""

import keras

from keras_resize.layers.base import check_data_format, shape_to_channels_last
from keras_resize.ops.validation import check_positive_int

FEATURES_LAYER = "features"


def build_unet(
    num_classes,
    image_shape=None,
    filters=(16, 32, 64),
    name="unet",
    data_format=None,
):
    """A small U-Net-like segmentation model (Ronneberger et al., 2015).

    Each level is two 3x3 convolutions + BatchNormalization + ReLU; the
    encoder halves the size with 2x2 max pooling after every level but the
    last, the decoder doubles it with a 2x2 stride-2 transposed convolution
    and concatenates the encoder level of the same size. A 1x1 convolution
    gives the logits at the input resolution. The last decoder activation
    is the layer named `"features"` (the shared features that
    `keras_resize.models.DualSRModel` feeds to its super-resolution
    branch; stride 1).

    Args:
        num_classes: number of classes (channels of the logits).
        image_shape: `(height, width, channels)` (`(channels, height,
            width)` for channels first); height and width may be `None`,
            and must be divisible by `2 ** (len(filters) - 1)`. Default:
            RGB images of any size.
        filters: channels per level, from the full-resolution level down
            to the bottleneck (at least 1 level).
        name: the model name.
        data_format: `"channels_last"` or `"channels_first"`, of the images,
            the logits and every layer; default
            `keras.config.image_data_format()`.

    Returns:
        A functional `keras.Model` from images `(batch, height, width,
        channels)` to logits `(batch, height, width, num_classes)` (channels
        first: `(batch, channels, height, width)` to `(batch, num_classes,
        height, width)`).

    Example:

    >>> model = build_unet(4, image_shape=(32, 32, 3), filters=(8, 16))
    >>> tuple(model(np.zeros((2, 32, 32, 3), "float32")).shape)
    (2, 32, 32, 4)
    >>> model.get_layer("features").output.shape
    (None, 32, 32, 8)

    Convention: the logits are aligned with the input pixels (same size,
    "same" padding everywhere).
    """
    num_classes = check_positive_int("num_classes", num_classes)
    data_format = check_data_format(data_format)
    if image_shape is None:
        image_shape = (None, None, 3)
        if data_format == "channels_first":
            image_shape = (3, None, None)
    try:
        filters = tuple(check_positive_int("filters", f) for f in filters)
    except TypeError:
        raise ValueError(
            f"Expected `filters` to be a sequence of positive ints. Received: "
            f"filters={filters!r}"
        ) from None
    if not filters:
        raise ValueError(
            f"Expected at least one level in `filters`. Received: filters={filters!r}"
        )
    image_shape = tuple(image_shape)
    if len(image_shape) != 3:
        raise ValueError(
            "Expected `image_shape` to be (height, width, channels) "
            "((channels, height, width) for channels first). "
            f"Received: image_shape={image_shape}"
        )
    levels = len(filters) - 1
    for size in shape_to_channels_last(image_shape, data_format)[:2]:
        if size is not None and size % (2**levels):
            raise ValueError(
                f"Expected height and width divisible by 2 ** {levels} = "
                f"{2**levels} for filters={filters}. Received: "
                f"image_shape={image_shape}"
            )

    axis = 1 if data_format == "channels_first" else -1
    inputs = keras.Input(image_shape, name="images")
    x = inputs
    skips = []
    for level, width in enumerate(filters[:-1]):
        x = _conv_block(x, width, f"encoder_{level}", data_format)
        skips.append(x)
        x = keras.layers.MaxPooling2D(
            2, data_format=data_format, name=f"encoder_{level}_pool"
        )(x)
    x = _conv_block(
        x,
        filters[-1],
        "bottleneck",
        data_format,
        last_name=FEATURES_LAYER if not levels else None,
    )
    for level in reversed(range(levels)):
        width = filters[level]
        x = keras.layers.Conv2DTranspose(
            width,
            2,
            strides=2,
            data_format=data_format,
            name=f"decoder_{level}_upsample",
        )(x)
        x = keras.layers.Concatenate(axis=axis, name=f"decoder_{level}_concat")(
            [x, skips[level]]
        )
        x = _conv_block(
            x,
            width,
            f"decoder_{level}",
            data_format,
            last_name=FEATURES_LAYER if not level else None,
        )
    logits = keras.layers.Conv2D(
        num_classes, 1, data_format=data_format, name="logits"
    )(x)
    return keras.Model(inputs, logits, name=name)


def _conv_block(x, filters, name, data_format, last_name=None):
    axis = 1 if data_format == "channels_first" else -1
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            use_bias=False,
            data_format=data_format,
            name=f"{name}_conv{i}",
        )(x)
        x = keras.layers.BatchNormalization(axis=axis, name=f"{name}_norm{i}")(x)
        relu_name = last_name if (i == 2 and last_name) else f"{name}_relu{i}"
        x = keras.layers.ReLU(name=relu_name)(x)
    return x
