"""The predictions figure: the detector's view and the input with boxes."""

import numpy as np
import tensorflow as tf

from keras_resize.models.front_ends import BOX_FORMAT
from keras_resize.ops import resize, warp
from training.detection.data import as_float
from training.detection.evaluation import detect


def save_figure(predictor, front_end, dataset, path, count=4, score_threshold=0.3):
    """Per row: the detector's view (zoomed or resized) with the predicted
    boxes in its frame, and the input with ground truth (green) and
    detections (red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, targets = next(iter(dataset.batch(count)))
    images = as_float(images)
    out, saliency = detect(predictor, front_end, images, score_threshold)
    if front_end.kind == "uniform":
        view = resize(images, front_end.frame_size, front_end.uniform_method)
        grid = None
    else:
        grid = front_end.grid(saliency)
        view = warp.zoom(images, grid, front_end.frame_size)
    boxes = tf.constant(out["boxes"], tf.float32)
    if grid is None:
        view_boxes = boxes * front_end.scale
    else:  # lzu predicts in the uniform frame: show its boxes zoomed too
        view_boxes = warp.warp_boxes(
            boxes, grid, front_end.size, front_end.frame_size, box_format=BOX_FORMAT,
            valid=tf.constant(out["valid"]),
        )  # fmt: skip
    view_boxes = view_boxes.numpy()
    images, view = images.numpy(), view.numpy()
    fig, axes = plt.subplots(
        len(images), 2, figsize=(7, 3.4 * len(images)), squeeze=False
    )

    def draw(ax, boxes, color):
        for y1, x1, y2, x2 in boxes:
            ax.add_patch(
                plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=color, lw=1)
            )

    for row in range(len(images)):
        keep = out["valid"][row] & (out["scores"][row] >= score_threshold)
        gt = targets["labels"][row].numpy() >= 0
        for ax, picture in zip(axes[row], (view[row], images[row]), strict=True):
            picture = np.clip(picture, 0, 1)
            ax.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture,
                      cmap="gray", vmin=0, vmax=1)  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
        draw(axes[row, 0], view_boxes[row][keep], "red")
        draw(axes[row, 1], targets["boxes"][row].numpy()[gt], "lime")
        draw(axes[row, 1], out["boxes"][row][keep], "red")
        if row == 0:
            axes[row, 0].set_title(f"detector input ({front_end.kind})")
            axes[row, 1].set_title("input: ground truth / detections")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
