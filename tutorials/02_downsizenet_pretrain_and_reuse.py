"""
Title: DownsizeNet: pretrain a texture-aware resizer on one task, reuse it frozen on another
Author: keras-resize developers
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Train `DownsizeNetResize` with a digit classifier, save it, and put it frozen in front of a Fashion-MNIST classifier.
Accelerator: None (CPU: about 8 minutes; `--smoke`: seconds)
"""

"""
## Introduction

`DownsizeNetResize` (Ma & Li, BMVC 2022) is interpolation with learned
coefficients: every output pixel is a weighted sum of its K nearest input
pixels (K = 4 for a bilinear neighbourhood, 16 for bicubic), and the weights
come from a small CNN on the high-resolution image plus the distance map of
ordinary interpolation. With `initializer="interpolation"` it *is* bilinear
(or bicubic) at the start of training, and a few thousand parameters let it
adapt the kernel to the texture.

The paper claims the learned resizer generalises: trained with one task, it
helps another with its weights frozen. Here we

1. train DownsizeNet jointly with a digit classifier on 128x128 canvases
   (4x downsizing) and save its weights with `keras_resize.pretrained`;
2. put it, frozen (`trainable=False`), in front of a new classifier for a
   different task, Fashion-MNIST items on the same kind of canvas, and
   compare with bilinear;
3. look at the learned coefficients.

The package ships weights trained this way by `make bench`
(`DownsizeNetResize.from_preset("downsizenet-digits-4x")`, see
`keras_resize/presets/`).
"""

"""
## Setup
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from keras_resize import pretrained
from keras_resize.callbacks import BatchNormRecalibration
from keras_resize.data import as_dataset, digits, make_classification_canvases
from keras_resize.layers import DownsizeNetResize, Resize

parser = argparse.ArgumentParser(description=__doc__.split("\n")[2])
parser.add_argument("--smoke", action="store_true", help="a few steps (CI)")
parser.add_argument("--output-dir", default="tutorial_outputs")
args, _ = parser.parse_known_args()
output_dir = Path(args.output_dir)
output_dir.mkdir(parents=True, exist_ok=True)

TRAIN, VAL, EPOCHS = (64, 32, 1) if args.smoke else (1500, 300, 5)
INPUT_SIZE, SIZE = 128, 32
CANVAS = dict(canvas_size=INPUT_SIZE, digit_size=(24, 56))
keras.utils.set_random_seed(0)


def classifier(resizer):
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1))
    x = resizer(inputs)
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def fit(model, train, val):
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    train_ds = as_dataset(train, batch_size=32)
    history = model.fit(
        train_ds,
        validation_data=as_dataset(val, batch_size=32, shuffle=False),
        epochs=EPOCHS,
        verbose=2,
        shuffle=False,  # the dataset shuffles itself (Keras warns otherwise)
        # BatchNormalization statistics that match the final weights (see
        # keras_resize.callbacks): the default path for a learned resizer.
        callbacks=[BatchNormRecalibration(train_ds, steps=20)],
    )
    return history.history["val_accuracy"][-1]


"""
## 1. Pretrain on digits

The resizer starts as exact bilinear interpolation (`initializer=
"interpolation"`) and learns with the classifier.
"""

digit_train = make_classification_canvases(TRAIN, seed=0, **CANVAS)
digit_val = make_classification_canvases(VAL, seed=1, split="test", **CANVAS)
resizer = DownsizeNetResize(
    SIZE, SIZE, neighborhood="bilinear", initializer="interpolation", name="resizer"
)
digits_accuracy = fit(classifier(resizer), digit_train, digit_val)
weights = output_dir / "downsizenet-digits.weights.h5"
pretrained.save_weights(resizer, weights, (INPUT_SIZE, INPUT_SIZE, 1))
print(f"digits: val accuracy {100 * digits_accuracy:.1f} %; saved {weights}")

"""
## 2. Reuse it frozen on a second task

Fashion-MNIST comes from the Debian package `dataset-fashion-mnist` (the
Makefile installs it); without it this step falls back to MNIST digits of
the test split, which is a weaker test of transfer.
"""

source = "fashion_mnist"
if not os.path.exists(
    os.path.join(digits.FASHION_MNIST_DIR, "train-labels-idx1-ubyte.gz")
):
    print("Fashion-MNIST not installed: using MNIST canvases for the second task")
    source = "mnist"
second_train = make_classification_canvases(TRAIN, seed=10, source=source, **CANVAS)
second_val = make_classification_canvases(
    VAL, seed=11, source=source, split="test", **CANVAS
)

frozen = DownsizeNetResize(
    SIZE, SIZE, neighborhood="bilinear", initializer="interpolation", name="resizer"
)
pretrained.load_weights(frozen, weights, (INPUT_SIZE, INPUT_SIZE, 1))
frozen.trainable = False
results = {
    "bilinear": fit(classifier(Resize(SIZE, SIZE)), second_train, second_val),
    "frozen DownsizeNet": fit(classifier(frozen), second_train, second_val),
}
for name, accuracy in results.items():
    print(f"{source}: {name:18s} val accuracy {100 * accuracy:.1f} %")

"""
## 3. What the resizer learned

For every output pixel the layer mixes 4 neighbours; with bilinear
coefficients the weights depend only on the position. The learned ones
also depend on the texture: the plot shows, for one canvas, the weight of
the top-left neighbour: bilinear's, and how far the learned one departs from it.
"""

image = second_val["images"][:1]
learned = np.asarray(frozen.coefficients(image))[0]
bilinear = DownsizeNetResize(
    SIZE, SIZE, neighborhood="bilinear", initializer="interpolation"
)
reference = np.asarray(bilinear.coefficients(image))[0]
fig, axes = plt.subplots(1, 4, figsize=(15, 3.4), layout="constrained")
axes[0].imshow(image[0, ..., 0], cmap="gray")
axes[0].set_title("input (second task)")
axes[1].imshow(np.asarray(frozen(image))[0, ..., 0], cmap="gray")
axes[1].set_title(f"frozen DownsizeNet {SIZE}x{SIZE}")
shown = axes[2].imshow(reference[..., 0], cmap="viridis")
fig.colorbar(shown, ax=axes[2], shrink=0.8)
low, high = reference[..., 0].min(), reference[..., 0].max()
constant = f" ({low:.2f} everywhere)" if high - low < 1e-6 else ""
axes[2].set_title(f"bilinear weight, tap 0{constant}", fontsize=10)
difference = learned[..., 0] - reference[..., 0]
limit = max(float(np.abs(difference).max()), 1e-6)
shown = axes[3].imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
fig.colorbar(shown, ax=axes[3], shrink=0.8)
axes[3].set_title("learned - bilinear, tap 0")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
figure = output_dir / "02_downsizenet.png"
fig.savefig(figure, dpi=80, bbox_inches="tight")
print(f"saved {figure}")
