"""Evaluation: detections in the input frame (one or two passes) and COCO
figures (`training.coco_metrics`)."""

import time

import numpy as np
import tensorflow as tf

from keras_resize.models.front_ends import BOX_FORMAT
from training import coco_metrics
from training.detection.data import as_float
from training.detection.options import TASK


def predict(predictor, front_end, images, saliency=None):
    """Detections of full-resolution `images`, in the input frame (numpy).

    `predictor` is a `make_predictor(...)`. Boxes are clipped to the
    detector's frame before they are mapped back (keras-hub decodes box
    deltas without bounds: an early, untrained detector can predict boxes
    far outside the image, or non-finite ones, which are dropped).
    """
    x, grid = front_end.inputs(images, saliency)
    out = {key: value.numpy() for key, value in predictor(x).items()}
    labels = out["labels"]
    count = out["num_detections"].reshape(-1, 1)
    valid = (labels >= 0) & (np.arange(labels.shape[1])[None, :] < count)
    valid &= np.all(np.isfinite(out["boxes"]), axis=-1)
    boxes = np.where(
        valid[..., None], np.clip(out["boxes"], 0.0, float(front_end.frame)), -1.0
    )
    boxes = front_end.to_input(tf.constant(boxes, tf.float32), tf.constant(valid), grid)
    return {
        "boxes": np.asarray(boxes),
        "scores": np.asarray(out["confidence"]),
        "labels": labels,
        "valid": valid,
    }


def detect(predictor, front_end, images, score_threshold=0.3):
    """One or two passes: adaptive front ends zoom by the first pass' boxes.

    Returns `(detections, saliency of the second pass or None)`.
    """
    saliency = None
    if front_end.adaptive:
        batch = int(images.shape[0])
        first = predict(
            predictor, front_end, images, front_end.first_pass_saliency(batch)
        )
        keep = first["valid"] & (first["scores"] >= score_threshold)
        saliency = front_end.saliency_from_boxes(
            tf.constant(first["boxes"], tf.float32), tf.constant(keep)
        )
    return predict(predictor, front_end, images, saliency), saliency


def evaluate(predictor, front_end, dataset, args, num_classes, log=None):
    """COCO figures of `dataset` (unbatched full-resolution data).

    `predictor` is a `make_predictor(...)`. Returns `(metrics dict with
    "per_class_AP", images per second)`.
    """
    scale = args.area_scale
    if scale is None:
        scale = coco_metrics.area_scale_for(args.input_size)
    evaluator = coco_metrics.COCOEvaluator(
        num_classes,
        box_format=BOX_FORMAT,
        area_ranges=coco_metrics.area_ranges(scale),
        max_detections=args.max_detections,
    )
    images_seen, seconds = 0, 0.0
    for step, (images, targets) in enumerate(dataset.batch(args.batch_size)):
        images = as_float(images)
        start = time.perf_counter()
        out, _ = detect(predictor, front_end, images, args.adaptive_score_threshold)
        if step:  # the first batch carries tracing
            seconds += time.perf_counter() - start
            images_seen += int(images.shape[0])
        targets = {k: v.numpy() for k, v in targets.items()}
        for i in range(len(out["boxes"])):
            gt = targets["labels"][i] >= 0
            keep = out["valid"][i]
            evaluator.update_image(
                targets["boxes"][i][gt],
                targets["labels"][i][gt],
                out["boxes"][i][keep],
                out["scores"][i][keep],
                out["labels"][i][keep],
                gt_crowd=targets["crowd"][i][gt],
                gt_ignore=targets["ignore"][i][gt],
            )
        if log is not None and args.verbose and (step + 1) % 20 == 0:
            log(f"[{TASK}] evaluated {evaluator.num_images} images")
    rate = images_seen / seconds if seconds else float("nan")
    return evaluator.result(per_class=True), rate
