"""
Title: Replace `keras.layers.Resizing` with a learned resizer
Author: keras-resize developers
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Train the same classifier behind `Resizing` and behind `LearnedResize` and compare.
Accelerator: None (CPU: about 6 minutes; `--smoke`: seconds)
"""

"""
## Introduction

Most vision models shrink every input to a small fixed size with bilinear
interpolation before the network sees it. At 4x downsizing, bilinear looks at
only 4 of every 16 input pixels, so thin strokes and small objects vanish
before the first convolution.

`keras_resize.layers.LearnedResize` (Talebi & Milanfar, ICCV 2021) is a
drop-in replacement: a small CNN that computes a residual on top of a fixed
resize and is trained jointly with the classifier. Here we take a classifier
that uses `keras.layers.Resizing(64, 64)`, swap in `LearnedResize(64, 64)`,
train both with the same budget on offline digit canvases (256x256, one
MNIST digit among clutter) and compare accuracy and what each resizer shows
the network.
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

from keras_resize.callbacks import BatchNormRecalibration
from keras_resize.data import as_dataset, make_classification_canvases
from keras_resize.layers import LearnedResize

parser = argparse.ArgumentParser(description=__doc__.split("\n")[2])
parser.add_argument("--smoke", action="store_true", help="a few steps (CI)")
parser.add_argument("--output-dir", default="tutorial_outputs")
args, _ = parser.parse_known_args()
output_dir = Path(args.output_dir)
output_dir.mkdir(parents=True, exist_ok=True)

TRAIN, VAL, EPOCHS = (64, 32, 1) if args.smoke else (1500, 300, 5)
INPUT_SIZE, SIZE = 256, 64
keras.utils.set_random_seed(0)

"""
## Data: digit canvases at 256x256

`make_classification_canvases` builds seeded canvases from real MNIST digits
(the builder prints a progress line and caches them). Training canvases use
MNIST train digits, validation canvases MNIST test digits.
"""

train = make_classification_canvases(TRAIN, canvas_size=INPUT_SIZE, seed=0)
val = make_classification_canvases(VAL, canvas_size=INPUT_SIZE, seed=1, split="test")
train_ds = as_dataset(train, batch_size=32, seed=0)
val_ds = as_dataset(val, batch_size=32, shuffle=False)

"""
## Two models that differ only in the resizer

The backbone is a small CNN. The only difference between the two models is
the first layer.
"""


def classifier(resizer):
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1))
    x = resizer(inputs)
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10)(x)
    return keras.Model(inputs, outputs)


def train_and_evaluate(resizer):
    model = classifier(resizer)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=EPOCHS,
        verbose=2,
        shuffle=False,  # the dataset shuffles itself (Keras warns otherwise)
        # BatchNormalization statistics re-estimated with the current weights
        # before each validation and at the end: on a short schedule the
        # moving averages lag LearnedResize's fast-changing weights, and the
        # model in inference mode would score far below its training accuracy
        # (53 % instead of 90 % in the benchmark without this).
        callbacks=[BatchNormRecalibration(train_ds, steps=20)],
    )
    return model, history


baseline, baseline_history = train_and_evaluate(keras.layers.Resizing(SIZE, SIZE))
learned, learned_history = train_and_evaluate(LearnedResize(SIZE, SIZE))

"""
## Results

Validation accuracy after the same number of epochs. (The 3-seed benchmark
in `benchmarks/results/learned_resize.md` has the careful figures: 89.3 +-
0.8 % for `LearnedResize` against 83.6 +- 0.7 % for bilinear.)
"""

for name, history in (
    ("Resizing", baseline_history),
    ("LearnedResize", learned_history),
):
    print(f"{name:14s} val accuracy {100 * history.history['val_accuracy'][-1]:.1f} %")

"""
## What each resizer shows the network

The learned resizer keeps strokes that bilinear drops and adds a high-pass
"sharpening" of its own; it is not trying to look natural, only to help the
classifier.
"""

images = val["images"][:4]
resized = {
    "input 256x256": images,
    "Resizing 64x64": keras.layers.Resizing(SIZE, SIZE)(images).numpy(),
    "LearnedResize 64x64": learned.layers[1](images).numpy(),
}
fig, axes = plt.subplots(
    len(images), 3, figsize=(9, 3 * len(images)), layout="constrained"
)
for row in range(len(images)):
    for column, (title, batch) in enumerate(resized.items()):
        axes[row, column].imshow(batch[row, ..., 0], cmap="gray")
        axes[row, column].set_title(title if row == 0 else "")
        axes[row, column].axis("off")
figure = output_dir / "01_quickstart.png"
fig.savefig(figure, dpi=80, bbox_inches="tight")
print(f"saved {figure}")

"""
## Next

- `python -m benchmarks.compare` (in a source checkout) runs this comparison against more fixed resizers.
- `tutorials/05_export_tflite.py` exports a model with `LearnedResize` to
  TFLite with builtin ops only.
"""
