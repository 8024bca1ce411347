"""
Title: Dual super-resolution learning: segment at twice the input resolution
Author: keras-resize developers
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Wrap a small U-Net in `DualSRModel` (SSSR + SISR + feature affinity) and compare with bilinear upsampling of the logits.
Accelerator: None (CPU: about 5 minutes; `--smoke`: seconds)
"""

"""
## Introduction

Segmentation networks are often run on a downsampled image, and their logits
upsampled bilinearly to the label size. DSRL (Wang et al., CVPR 2020) keeps
the small input but learns the way back up:

- **SSSR**: the logits are upsampled with a learned sub-pixel convolution
  and trained against the full-resolution labels;
- **SISR**: a second decoder reconstructs the full-resolution *image* from
  the same encoder features (MSE), which forces the features to keep
  detail;
- **feature affinity**: the pairwise similarity structure of the SSSR
  output (after a 1x1 "feature transform") is pulled towards that of the
  SISR output.

At inference SISR and the transform are dropped: `inference_model()` is the
segmenter plus the upsampling, nothing else. Here the network sees 64x64
canvases of handwritten digits and must label every pixel of the 128x128
original with its digit.
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
import tensorflow as tf

from keras_resize.callbacks import BatchNormRecalibration
from keras_resize.data import make_segmentation_canvases
from keras_resize.models import DualSRModel, build_unet
from keras_resize.ops import resize

parser = argparse.ArgumentParser(description=__doc__.split("\n")[2])
parser.add_argument("--smoke", action="store_true", help="a few steps (CI)")
parser.add_argument("--output-dir", default="tutorial_outputs")
args, _ = parser.parse_known_args()
output_dir = Path(args.output_dir)
output_dir.mkdir(parents=True, exist_ok=True)

TRAIN, VAL, EPOCHS = (32, 16, 1) if args.smoke else (1000, 200, 6)
SIZE, FACTOR = 128, 2
keras.utils.set_random_seed(0)

"""
## Data: images downsampled, labels at full resolution

The targets are a dict: the full-resolution labels for SSSR and the
full-resolution image for SISR.
"""


def dataset(count, seed, split):
    data = make_segmentation_canvases(
        count, canvas_size=SIZE, seed=seed, split=split, channels=3
    )
    low = resize(data["images"], (SIZE // FACTOR, SIZE // FACTOR), method="area")
    targets = {"segmentation": data["masks"], "super_resolution": data["images"]}
    return tf.data.Dataset.from_tensor_slices((low, targets)), data


train_ds, _ = dataset(TRAIN, 0, "train")
val_ds, val_data = dataset(VAL, 1, "test")
train_ds = train_ds.shuffle(TRAIN, seed=0).batch(16)
val_ds = val_ds.batch(16)

"""
## Two models around the same U-Net design

`DualSRModel.from_variant` builds the four settings of the paper's ablation;
here the baseline `"bilinear"` and the full `"dsrl"`. The loss is built in
(cross-entropy + 0.1 MSE + 1.0 feature affinity), so `compile` takes only
the optimizer and metrics.
"""


def train(variant):
    segmenter = build_unet(11, image_shape=(SIZE // FACTOR, SIZE // FACTOR, 3))
    model = DualSRModel.from_variant(
        variant, segmenter, factor=FACTOR, decoder_filters=32
    )
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        metrics=[keras.metrics.MeanIoU(11, sparse_y_pred=False, name="mean_iou")],
    )
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=EPOCHS,
        verbose=2,
        shuffle=False,  # the dataset shuffles itself (Keras warns otherwise)
        # BatchNormalization statistics that match the final weights.
        callbacks=[BatchNormRecalibration(train_ds, steps=20)],
    )
    return model, history.history["val_mean_iou"][-1]


baseline, baseline_iou = train("bilinear")
dsrl, dsrl_iou = train("dsrl")
print(f"bilinear upsampling val mIoU {100 * baseline_iou:.1f} %")
print(f"DSRL                val mIoU {100 * dsrl_iou:.1f} %")

"""
## Predictions and the SISR reconstruction

`benchmarks/results/segmentation_dsrl.md` has the 3-seed ablation.
"""

x, y = next(iter(val_ds))
outputs = dsrl(x[:3], training=False)
inference = dsrl.inference_model()
print(
    "inference model parameters:", inference.count_params(), "of", dsrl.count_params()
)
base = np.argmax(baseline.inference_model()(x[:3]), -1)
columns = ["input 64x64", "SISR 128x128", "bilinear", "DSRL", "labels"]
fig, axes = plt.subplots(3, 5, figsize=(13, 8), layout="constrained")
for row in range(3):
    panels = [
        np.asarray(x[row]),
        np.clip(np.asarray(outputs["super_resolution"][row]), 0, 1),
        base[row],
        np.argmax(outputs["segmentation"][row], -1),
        np.asarray(y["segmentation"][row]),
    ]
    for column, panel in enumerate(panels):
        kwargs = {} if panel.ndim == 3 else dict(cmap="tab20", vmin=0, vmax=10)
        axes[row, column].imshow(panel, **kwargs)
        axes[row, column].set_xticks([])
        axes[row, column].set_yticks([])
        if row == 0:
            axes[row, column].set_title(columns[column])
figure = output_dir / "04_dsrl.png"
fig.savefig(figure, dpi=80, bbox_inches="tight")
print(f"saved {figure}")
