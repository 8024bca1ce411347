"""
Title: Zoom and unzoom: spend the pixels where the objects are
Author: keras-resize developers
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Saliency-guided zoom of detection canvases, the exact unzoom of features and boxes, and a small LZU model trained with `fit`.
Accelerator: None (CPU: about 3 minutes; `--smoke`: seconds)
"""

"""
## Introduction

A detector that sees a 256x256 image at 64x64 loses its small objects. *Learning
to Zoom* (Recasens et al. 2018) and FOVEA (Thavamani et al. 2021) resample the
image non-uniformly: a saliency map on a coarse grid pulls sampling points
towards likely objects, so they get more output pixels. *Learning to Zoom and
Unzoom* (LZU, Thavamani et al. 2023) adds the inverse warp: features computed
on the zoomed image are resampled back ("unzoomed") to the original frame, so
any head, loss and box format work unchanged.

This tutorial:

1. builds a fixed saliency prior from the training boxes (FOVEA's KDE);
2. zooms canvases with `keras_resize.layers.Zoom` and draws the sampling
   grid over the image;
3. checks that boxes warped into the zoomed frame and back return to
   themselves;
4. wraps a small fully convolutional network in `ZoomUnzoom` and trains a
   per-pixel "digit or not" head with `fit`, in the original frame.
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

from keras_resize.data import make_detection_canvases
from keras_resize.layers import Resize, Zoom, ZoomUnzoom
from keras_resize.ops import warp

parser = argparse.ArgumentParser(description=__doc__.split("\n")[2])
parser.add_argument("--smoke", action="store_true", help="a few steps (CI)")
parser.add_argument("--output-dir", default="tutorial_outputs")
args, _ = parser.parse_known_args()
output_dir = Path(args.output_dir)
output_dir.mkdir(parents=True, exist_ok=True)

CANVAS, SIZE, GRID = 256, 64, (17, 17)
TRAIN, EPOCHS = (32, 1) if args.smoke else (600, 4)
keras.utils.set_random_seed(0)

"""
## Data and a saliency prior from the training boxes

Detection canvases hold 1-3 real MNIST digits of very different sizes.
`dataset_saliency` pools every training box into one kernel density
estimate on the coarse grid (FOVEA's formula): a fixed prior, computed once.
"""

data = make_detection_canvases(TRAIN, canvas_size=CANVAS, seed=0)
prior = warp.dataset_saliency(
    data["boxes"], (CANVAS, CANVAS), grid_shape=GRID, box_format="yxyx"
)
print("saliency grid", prior.shape, "max/min ratio", prior.max() / prior.min())

"""
The canvases place digits uniformly, so a dataset-wide prior is nearly flat.
The per-image saliency of the first canvas's own boxes (what an adaptive
zoom uses, from the previous frame's detections) is much sharper:
"""

image = data["images"][:1]
boxes = data["boxes"][0]
saliency = warp.kde_saliency(
    boxes[None], (CANVAS, CANVAS), GRID, bandwidth=16.0, box_format="yxyx"
)[0]
zoom = Zoom(SIZE, SIZE, saliency=np.asarray(saliency), return_grid=True)
zoomed, grid = zoom(image)
uniform = Resize(SIZE, SIZE)(image)

"""
## The grid drawn over the image

Each grid line is where a row or column of the coarse output grid samples
the input: lines crowd around the digits, which therefore fill more of the
64x64 output.
"""

pixels = (np.asarray(grid[0]) + 1.0) / 2.0 * CANVAS  # extent -> pixels
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
axes[0].imshow(image[0, ..., 0], cmap="gray")
for row in range(GRID[0]):
    axes[0].plot(pixels[row, :, 0], pixels[row, :, 1], color="tab:orange", lw=0.8)
for column in range(GRID[1]):
    axes[0].plot(pixels[:, column, 0], pixels[:, column, 1], color="tab:orange", lw=0.8)
for y1, x1, y2, x2 in boxes:  # the canvases give "yxyx" boxes
    axes[0].add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="c"))
axes[0].set_xlim(0, CANVAS)
axes[0].set_ylim(CANVAS, 0)
axes[0].set_title(f"input {CANVAS}x{CANVAS} and the sampling grid")
axes[1].imshow(np.asarray(uniform[0, ..., 0]), cmap="gray")
axes[1].set_title(f"uniform resize {SIZE}x{SIZE}")
axes[2].imshow(np.asarray(zoomed[0, ..., 0]), cmap="gray")
axes[2].set_title(f"saliency-guided zoom {SIZE}x{SIZE}")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
figure = output_dir / "03_zoom_grid.png"
fig.savefig(figure, dpi=80, bbox_inches="tight")
print(f"saved {figure}")

"""
## Boxes: warp into the zoomed frame and back

`warp_boxes` maps original boxes into the zoomed image (through the inverse
warp, which LZU makes exact); `unwarp_boxes` maps boxes predicted on the
zoomed image back (FOVEA's trick). The round trip is exact up to float32
rounding for separable warps.
"""

in_zoomed = warp.warp_boxes(
    boxes[None], grid, (CANVAS, CANVAS), (SIZE, SIZE), box_format="yxyx"
)
back = warp.unwarp_boxes(
    in_zoomed, grid, (SIZE, SIZE), (CANVAS, CANVAS), box_format="yxyx"
)
print("box round trip error (px):", float(np.max(np.abs(np.asarray(back)[0] - boxes))))

"""
## LZU: zoom, compute features, unzoom, train in the original frame

`ZoomUnzoom` wraps any feature extractor. Here a tiny fully convolutional
network predicts, per pixel of the 64x64 *uniform* frame, whether a digit is
there. The zoom uses the fixed dataset prior, so the warp costs only the
resampling; the unzoomed features line up with the uniform frame, so the
targets are simply the downsized masks.
"""

extractor = keras.Sequential(
    [
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
    ]
)
inputs = keras.Input((CANVAS, CANVAS, 1))
features = ZoomUnzoom(extractor, SIZE, SIZE, saliency=prior)(inputs)
outputs = keras.layers.Conv2D(1, 1)(features)
model = keras.Model(inputs, outputs)
model.compile(
    optimizer="adam",
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
)
targets = (Resize(SIZE, SIZE, "area")(data["images"]).numpy() > 0.1).astype("float32")
split = int(0.8 * TRAIN)
model.fit(
    data["images"][:split],
    targets[:split],
    validation_data=(data["images"][split:], targets[split:]),
    epochs=EPOCHS,
    batch_size=16,
    verbose=2,
)

"""
## Next

- `python -m training.detection --front-end lzu` trains a keras-hub RetinaNet
  with uniform, FOVEA-style and LZU front ends and reports COCO-style AP.
- `Zoom(saliency="learned")` learns the saliency jointly with the task.
"""
