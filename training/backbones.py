"""The backbone registry of the training scripts, and the shared trunk.

`BACKBONES` maps a name to `(factory(image_size) -> keras Model, description)`:
keras-hub backbones built from their configuration (no preset download) and
a small plain CNN, each a model named `backbone`. `build_backbone` builds
one; `resizer_features` puts a resizer, the ImageNet normalisation, a
backbone, global average pooling and dropout together, the trunk the
classification and quality-assessment heads share.

Example:

```python
import keras
from training import backbones

backbone = backbones.build_backbone("simple_cnn", 32)
resizer = keras.layers.Resizing(32, 32, name="resizer")
inputs, features = backbones.resizer_features(resizer, backbone, 64, dropout=0.1)
assert tuple(features.shape) == (None, 128)
```
"""

import keras

# ImageNet statistics, the input normalisation of keras-hub's ImageNet
# presets (applied inside the models to images in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ----------------------------------------------------------------------------
# Backbones: name -> (factory(image_size) -> keras Model, description).


def _resnet(filters, blocks, block_type):
    def factory(image_size):
        import keras_hub

        return keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=list(filters),
            stackwise_num_blocks=list(blocks),
            stackwise_num_strides=[1] + [2] * (len(filters) - 1),
            block_type=block_type,
            use_pre_activation=False,
            image_shape=(image_size, image_size, 3),
            name="backbone",
        )

    return factory


def _mobilenetv3small(image_size):
    """MobileNetV3-Small 1.0 (Howard et al. 2019, Table 2)."""
    import keras_hub

    hs = "hard_swish"
    return keras_hub.models.MobileNetBackbone(
        stackwise_expansion=[[72, 88], [96, 240, 240], [120, 144], [288, 576, 576]],
        stackwise_num_blocks=[2, 3, 2, 3],
        stackwise_num_filters=[[24, 24], [40, 40, 40], [48, 48], [96, 96, 96]],
        stackwise_kernel_size=[[3, 3], [5, 5, 5], [5, 5], [5, 5, 5]],
        stackwise_num_strides=[[2, 1], [2, 1, 1], [1, 1], [2, 1, 1]],
        stackwise_se_ratio=[[None, None], [0.25] * 3, [0.25] * 2, [0.25] * 3],
        stackwise_activation=[["relu", "relu"], [hs] * 3, [hs] * 2, [hs] * 3],
        stackwise_padding=[[1, 1], [2, 2, 2], [2, 2], [2, 2, 2]],
        output_num_filters=1024,
        depthwise_filters=16,
        depthwise_stride=2,
        depthwise_residual=False,
        last_layer_filter=576,
        squeeze_and_excite=0.5,
        image_shape=(image_size, image_size, 3),
        input_activation=hs,
        output_activation=hs,
        input_num_filters=16,
        name="backbone",
    )


def _efficientnetb0(image_size):
    """EfficientNet-B0 (Tan & Le 2019), the `v1` blocks."""
    import keras_hub

    return keras_hub.models.EfficientNetBackbone(
        stackwise_width_coefficients=[1.0] * 7,
        stackwise_depth_coefficients=[1.0] * 7,
        stackwise_kernel_sizes=[3, 3, 5, 3, 5, 5, 3],
        stackwise_num_repeats=[1, 2, 2, 3, 3, 4, 1],
        stackwise_input_filters=[32, 16, 24, 40, 80, 112, 192],
        stackwise_output_filters=[16, 24, 40, 80, 112, 192, 320],
        stackwise_expansion_ratios=[1, 6, 6, 6, 6, 6, 6],
        stackwise_squeeze_and_excite_ratios=[0.25] * 7,
        stackwise_strides=[1, 2, 2, 2, 1, 2, 1],
        stackwise_block_types=["v1"] * 7,
        include_stem_padding=True,
        use_depth_divisor_as_min_depth=True,
        cap_round_filter_decrease=True,
        stem_conv_padding="valid",
        input_shape=(image_size, image_size, 3),
        name="backbone",
    )


def _simple_cnn(image_size):
    """A plain 5-conv CNN (32-64-64-128-128, three stride-2), ~0.3 M params."""
    inputs = keras.Input((image_size, image_size, 3))
    x = inputs
    for filters, stride in ((32, 2), (64, 1), (64, 2), (128, 1), (128, 2)):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    return keras.Model(inputs, x, name="backbone")


BACKBONES = {
    "resnet_tiny": (
        _resnet([64, 128], [1, 1], "basic_block"),
        "keras-hub ResNet, basic blocks, filters [64, 128], 1 block each (fast)",
    ),
    "simple_cnn": (_simple_cnn, _simple_cnn.__doc__),
    "resnet18": (
        _resnet([64, 128, 256, 512], [2, 2, 2, 2], "basic_block"),
        "keras-hub ResNet-18 (v1)",
    ),
    "resnet50": (
        _resnet([64, 128, 256, 512], [3, 4, 6, 3], "bottleneck_block"),
        "keras-hub ResNet-50 (v1)",
    ),
    "mobilenetv3small": (_mobilenetv3small, _mobilenetv3small.__doc__),
    "efficientnetb0": (_efficientnetb0, _efficientnetb0.__doc__),
}


def build_backbone(name, image_size):
    """Builds the backbone registered in `BACKBONES` as `name`.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in BACKBONES:
        raise ValueError(
            f"Unknown backbone. Expected one of {sorted(BACKBONES)}. "
            f"Received: backbone={name!r}"
        )
    return BACKBONES[name][0](image_size)


# ----------------------------------------------------------------------------
# The shared trunk.


def resizer_features(resizer_layer, backbone_model, input_size, dropout):
    """The trunk the task heads share, on square images in [0, 1]:

    ```
    images (N, S_in, S_in, 3) -> resizer_layer -> normalise (ImageNet mean
        and std) -> backbone_model -> global average pooling -> dropout
    ```

    Args:
        resizer_layer: the resizer (its name should be `resizer`, which
            `training.measurement.measure_resizer` looks up).
        backbone_model: the backbone (named `backbone`).
        input_size: side of the input images.
        dropout: dropout rate after the pooling.

    Returns:
        `(inputs, features)`: the `keras.Input` named `images` and the
        pooled, dropped-out features, to put a head on.
    """
    inputs = keras.Input((input_size, input_size, 3), name="images")
    x = resizer_layer(inputs)
    x = keras.layers.Normalization(
        mean=list(IMAGENET_MEAN),
        variance=[s * s for s in IMAGENET_STD],
        name="normalize",
    )(x)
    x = backbone_model(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return inputs, x
