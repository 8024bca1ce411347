"""COCO-style box detection metrics in numpy (AP@[.5:.95], AP50, AP75, AP S/M/L).

A re-implementation of `pycocotools.cocoeval.COCOeval` for boxes
(`iouType="bbox"`), step by step, so that the numbers are the ones
`pycocotools` reports (tested against it on random and perturbed detections,
equal within 1e-6):

- IoU: intersection over union of `(x, y, w, h)` boxes; against a *crowd*
  ground-truth box it is the intersection over the detection's area.
- Per image and class, detections sorted by score (stable sort: ties keep
  their input order) and cut to the `max_detections` best; ground truth sorted
  with the ignored boxes last.
- Greedy matching per IoU threshold `t` in `0.50:0.05:0.95`: each detection,
  in score order, takes the unmatched ground-truth box with the highest IoU
  `>= t` (ties: the later one), preferring boxes that are not ignored; crowd
  boxes can be matched again. A detection matched to an ignored box, and an
  unmatched detection whose area is outside the area range, are ignored.
- Ground truth is ignored for an area range when it is crowd, flagged
  `ignore`, or its area is outside the range (both ends inclusive, as in
  pycocotools: an area of exactly 32^2 is both small and medium).
- Precision at the 101 recall points `0:0.01:1` after making the precision
  envelope monotone, per class; AP is the mean over the classes (and IoU
  thresholds) that have ground truth in the range; classes without any are
  left out (-1 in pycocotools). A metric with no class at all is `nan`
  (pycocotools prints -1).

Area ranges are COCO's: small `< 32^2`, medium `32^2 .. 96^2`, large `> 96^2`
pixels of area, for COCO images of about 640 px. For other image sizes
`area_ranges(scale)` multiplies the thresholds by `scale` (e.g.
`(side / 640) ** 2` to treat a `side`-pixel image like a COCO image); the
training script documents the scale it uses.

The one extension over pycocotools: an `ignore` flag per ground-truth box that
is not a crowd (e.g. PASCAL VOC "difficult" objects): it is matched like any
box (normal IoU, once), but neither it nor its match counts. (pycocotools
reads the `ignore` field of its annotations but then overwrites it with
`iscrowd`, so it cannot express this.)

Example:

```python
evaluator = COCOEvaluator(num_classes=2, box_format="xyxy")
evaluator.update_image(
    gt_boxes=[[0, 0, 10, 10]], gt_labels=[1],
    boxes=[[0, 0, 10, 10], [20, 20, 30, 30]], scores=[0.9, 0.8], labels=[1, 0],
)
evaluator.result()["AP"]  # 1.0 (to rounding): the only class with truth is perfect
```
"""

import math

import numpy as np

COCO_AREA_RANGES = {
    "all": (0.0, 1e5**2),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
"""COCO's area ranges in pixels^2, as in `pycocotools` (`areaRng`)."""

COCO_REFERENCE_SIDE = 640
"""The image side COCO's area ranges are meant for (COCO images are about
640 x 480); `area_scale_for(side)` scales the ranges to another side."""

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
"""`0.50:0.05:0.95`, computed as pycocotools does."""

RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
"""The 101 recall points of COCO's interpolated precision."""

MAX_DETECTIONS = (1, 10, 100)
"""Detections per image (and class) of COCO's recall figures; AP uses 100."""

BOX_FORMATS = ("xyxy", "yxyx", "xywh")

METRIC_NAMES = (
    "AP", "AP50", "AP75", "APs", "APm", "APl",
    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)  # fmt: skip
"""The twelve figures of `COCOeval.summarize`, in its order."""


def area_ranges(scale=1.0):
    """COCO's area ranges with the small/medium/large thresholds times `scale`.

    The "all" range stays `(0, 1e10)`.

    Example:

    >>> area_ranges(0.25)["small"]
    (0.0, 256.0)
    """
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(
            f"Expected `scale` to be a positive number. Received: scale={scale!r}"
        )
    return {
        name: (low, high) if name == "all" else (low * scale, high * scale)
        for name, (low, high) in COCO_AREA_RANGES.items()
    }


def area_scale_for(side, reference_side=COCO_REFERENCE_SIDE):
    """`(side / reference_side) ** 2`: COCO's ranges for images of `side` px."""
    return (float(side) / float(reference_side)) ** 2


def to_xywh(boxes, box_format):
    """`(n, 4)` boxes in `box_format` -> float64 `(x, y, w, h)`."""
    if box_format not in BOX_FORMATS:
        raise ValueError(
            f"Expected `box_format` to be one of {BOX_FORMATS}. "
            f"Received: box_format={box_format!r}"
        )
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if box_format == "xywh":
        return boxes.copy()
    if box_format == "yxyx":
        boxes = boxes[:, [1, 0, 3, 2]]
    return np.stack(
        [
            boxes[:, 0],
            boxes[:, 1],
            boxes[:, 2] - boxes[:, 0],
            boxes[:, 3] - boxes[:, 1],
        ],
        axis=1,
    )


def box_iou(detections, ground_truth, crowd=None):
    """IoU matrix `(n_detections, n_ground_truth)` of `(x, y, w, h)` boxes.

    Against a crowd ground-truth box the union is the detection's area
    (pycocotools' `maskUtils.iou` for boxes).

    Example:

    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 2, 2]]).round(4).tolist()
    [[0.3333]]
    """
    d = np.asarray(detections, np.float64).reshape(-1, 4)
    g = np.asarray(ground_truth, np.float64).reshape(-1, 4)
    if crowd is None:
        crowd = np.zeros(len(g), bool)
    crowd = np.asarray(crowd, bool).reshape(-1)
    width = np.minimum(d[:, None, 0] + d[:, None, 2], g[None, :, 0] + g[None, :, 2])
    width = width - np.maximum(d[:, None, 0], g[None, :, 0])
    height = np.minimum(d[:, None, 1] + d[:, None, 3], g[None, :, 1] + g[None, :, 3])
    height = height - np.maximum(d[:, None, 1], g[None, :, 1])
    intersection = np.where((width > 0) & (height > 0), width * height, 0.0)
    area_d = d[:, 2] * d[:, 3]
    area_g = g[:, 2] * g[:, 3]
    union = np.where(
        crowd[None, :],
        area_d[:, None],
        area_d[:, None] + area_g[None, :] - intersection,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(intersection > 0, intersection / union, 0.0)
    return iou


def _match(iou, gt_ignore, gt_crowd, thresholds):
    """Greedy COCO matching of one image and class, one area range.

    Args:
        iou: `(n_det, n_gt)` IoU, detections in score order, ground truth
            with the ignored boxes last.
        gt_ignore: `(n_gt,)` ignore flags (in the same order).
        gt_crowd: `(n_gt,)` crowd flags.
        thresholds: `(T,)` IoU thresholds.

    Returns:
        `(det_matched (T, n_det) bool, det_ignored (T, n_det) bool,
        gt_matched (T, n_gt) bool)`.
    """
    num_thresholds = len(thresholds)
    num_det, num_gt = iou.shape
    det_matched = np.zeros((num_thresholds, num_det), bool)
    det_ignored = np.zeros((num_thresholds, num_det), bool)
    gt_matched = np.zeros((num_thresholds, num_gt), bool)
    if num_gt == 0 or num_det == 0:
        return det_matched, det_ignored, gt_matched
    limits = np.minimum(thresholds, 1 - 1e-10)[:, None]  # (T, 1)
    regular = ~gt_ignore[None, :]
    last = np.arange(num_gt)[None, :]
    for d in range(num_det):
        available = (~gt_matched | gt_crowd[None, :]) & (iou[d][None, :] >= limits)
        chosen = np.full(num_thresholds, -1)
        for group in (regular, ~regular):
            candidates = available & group
            best = np.where(candidates, iou[d][None, :], -np.inf).max(axis=1)
            # the last of the ties (pycocotools replaces on `>=`)
            pick = np.where(
                candidates & (iou[d][None, :] == best[:, None]), last, -1
            ).max(axis=1)
            chosen = np.where(chosen >= 0, chosen, pick)
        hit = chosen >= 0
        rows = np.nonzero(hit)[0]
        det_matched[rows, d] = True
        det_ignored[rows, d] = gt_ignore[chosen[rows]]
        gt_matched[rows, chosen[rows]] = True
    return det_matched, det_ignored, gt_matched


class COCOEvaluator:
    """Accumulates detections image by image; `result()` gives COCO's figures.

    Args:
        num_classes: classes are `0 .. num_classes - 1` (every class is a
            COCO category, present or not).
        box_format: `"xyxy"`, `"yxyx"` (keras-hub's default) or `"xywh"`
            (COCO's), for every box given.
        area_ranges: dict with `"all"`, `"small"`, `"medium"`, `"large"`
            `(low, high)` areas; default COCO's (`area_ranges(1.0)`).
        max_detections: the detections per image and class kept for AP
            (COCO: 100); recall is also reported at 1 and 10.
        iou_thresholds: default `0.50:0.05:0.95`; AP50 and AP75 need 0.5 and
            0.75 among them.
    """

    def __init__(
        self,
        num_classes,
        box_format="yxyx",
        area_ranges=None,
        max_detections=100,
        iou_thresholds=IOU_THRESHOLDS,
    ):
        if isinstance(num_classes, bool) or not isinstance(num_classes, int):
            raise ValueError(
                "Expected `num_classes` to be a positive int. Received: "
                f"num_classes={num_classes!r}"
            )
        if num_classes < 1:
            raise ValueError(
                "Expected `num_classes` to be a positive int. Received: "
                f"num_classes={num_classes!r}"
            )
        if box_format not in BOX_FORMATS:
            raise ValueError(
                f"Expected `box_format` to be one of {BOX_FORMATS}. "
                f"Received: box_format={box_format!r}"
            )
        if isinstance(max_detections, bool) or not isinstance(max_detections, int):
            raise ValueError(
                "Expected `max_detections` to be a positive int. Received: "
                f"max_detections={max_detections!r}"
            )
        if max_detections < 1:
            raise ValueError(
                "Expected `max_detections` to be a positive int. Received: "
                f"max_detections={max_detections!r}"
            )
        self.num_classes = num_classes
        self.box_format = box_format
        self.area_ranges = dict(area_ranges or COCO_AREA_RANGES)
        missing = {"all", "small", "medium", "large"} - set(self.area_ranges)
        if missing:
            raise ValueError(
                "Expected `area_ranges` with the keys 'all', 'small', 'medium' "
                f"and 'large'. Received: area_ranges={area_ranges!r}"
            )
        self.max_detections = max_detections
        self.recall_limits = tuple(
            sorted({m for m in MAX_DETECTIONS if m < max_detections} | {max_detections})
        )
        self.iou_thresholds = np.asarray(iou_thresholds, np.float64)
        self.reset()

    def reset(self):
        """Forget every image."""
        # per (class, area range): list over images of per-image records
        self._records = {}
        self.num_images = 0

    # -- input -----------------------------------------------------------------

    def update_image(
        self,
        gt_boxes,
        gt_labels,
        boxes,
        scores,
        labels,
        gt_crowd=None,
        gt_ignore=None,
        gt_areas=None,
    ):
        """Add one image: its ground truth and its detections.

        Args:
            gt_boxes: `(k, 4)` ground-truth boxes in `box_format`.
            gt_labels: `(k,)` classes in `[0, num_classes)`.
            boxes: `(n, 4)` detected boxes in `box_format`.
            scores: `(n,)` detection scores.
            labels: `(n,)` detected classes (others are dropped, as
                pycocotools drops unknown categories).
            gt_crowd: optional `(k,)` crowd flags (COCO `iscrowd`).
            gt_ignore: optional `(k,)` flags of ground truth that neither
                counts nor penalises (e.g. VOC difficult).
            gt_areas: optional `(k,)` areas for the area ranges (COCO uses
                the mask area); default the box area `w * h`.
        """
        gt_xywh = to_xywh(gt_boxes, self.box_format)
        det_xywh = to_xywh(boxes, self.box_format)
        gt_labels = np.asarray(gt_labels, np.int64).reshape(-1)
        labels = np.asarray(labels, np.int64).reshape(-1)
        scores = np.asarray(scores, np.float64).reshape(-1)
        count = len(gt_xywh)
        if len(gt_labels) != count:
            raise ValueError(
                "Expected as many ground-truth labels as boxes. Received: "
                f"{count} boxes and {len(gt_labels)} labels"
            )
        if not (len(det_xywh) == len(scores) == len(labels)):
            raise ValueError(
                "Expected as many scores and labels as detected boxes. "
                f"Received: {len(det_xywh)} boxes, {len(scores)} scores, "
                f"{len(labels)} labels"
            )
        if count and (gt_labels.min() < 0 or gt_labels.max() >= self.num_classes):
            raise ValueError(
                f"Expected ground-truth labels in [0, {self.num_classes}). "
                f"Received: labels {sorted(set(gt_labels.tolist()))}"
            )
        crowd = (
            np.zeros(count, bool) if gt_crowd is None else np.asarray(gt_crowd, bool)
        )
        ignore = (
            np.zeros(count, bool) if gt_ignore is None else np.asarray(gt_ignore, bool)
        )
        areas = (
            gt_xywh[:, 2] * gt_xywh[:, 3]
            if gt_areas is None
            else np.asarray(gt_areas, np.float64).reshape(-1)
        )
        if not (len(crowd) == len(ignore) == len(areas) == count):
            raise ValueError(
                "Expected `gt_crowd`, `gt_ignore` and `gt_areas` to have one "
                f"entry per ground-truth box ({count})."
            )
        det_areas = det_xywh[:, 2] * det_xywh[:, 3]
        for c in np.union1d(np.unique(gt_labels), np.unique(labels)):
            c = int(c)
            if c < 0 or c >= self.num_classes:
                continue
            g = np.nonzero(gt_labels == c)[0]
            d = np.nonzero(labels == c)[0]
            # detections: best first (stable), at most max_detections
            d = d[np.argsort(-scores[d], kind="mergesort")][: self.max_detections]
            for name, (low, high) in self.area_ranges.items():
                outside = (areas[g] < low) | (areas[g] > high)
                g_ignore = crowd[g] | ignore[g] | outside
                order = np.argsort(g_ignore, kind="mergesort")
                gi = g[order]
                iou = box_iou(det_xywh[d], gt_xywh[gi], crowd[gi])
                det_matched, det_ignored, _ = _match(
                    iou, g_ignore[order], crowd[gi], self.iou_thresholds
                )
                det_out = (det_areas[d] < low) | (det_areas[d] > high)
                det_ignored = det_ignored | (~det_matched & det_out[None, :])
                self._records.setdefault((c, name), []).append(
                    (
                        scores[d],
                        det_matched,
                        det_ignored,
                        int(np.count_nonzero(~g_ignore)),
                    )
                )
        self.num_images += 1

    def update(self, gt_boxes, gt_labels, boxes, scores, labels, num_detections=None):
        """Add a batch in keras-hub's padded form.

        Args:
            gt_boxes: `(batch, max_boxes, 4)`; rows whose label is `-1` are
                padding.
            gt_labels: `(batch, max_boxes)`.
            boxes: `(batch, max_detections, 4)` detections.
            scores: `(batch, max_detections)` (keras-hub: `"confidence"`).
            labels: `(batch, max_detections)`; `-1` marks padding.
            num_detections: optional `(batch,)` valid detections per image
                (keras-hub's `"num_detections"`).
        """
        gt_boxes, gt_labels = np.asarray(gt_boxes), np.asarray(gt_labels)
        boxes, scores, labels = (
            np.asarray(boxes),
            np.asarray(scores),
            np.asarray(labels),
        )
        for i in range(len(gt_boxes)):
            keep_gt = gt_labels[i] >= 0
            keep = labels[i] >= 0
            if num_detections is not None:
                keep &= np.arange(len(keep)) < int(np.asarray(num_detections)[i])
            self.update_image(
                gt_boxes[i][keep_gt],
                gt_labels[i][keep_gt],
                boxes[i][keep],
                scores[i][keep],
                labels[i][keep],
            )

    # -- output ----------------------------------------------------------------

    def _precision_recall(self, class_index, area, max_detections):
        """`(precision (T, R), recall (T,))` of one class, or `None` (no
        ground truth and no detection, or no ground truth to count)."""
        records = self._records.get((class_index, area))
        if not records:
            return None
        scores = np.concatenate([r[0][:max_detections] for r in records])
        matched = np.concatenate([r[1][:, :max_detections] for r in records], axis=1)
        ignored = np.concatenate([r[2][:, :max_detections] for r in records], axis=1)
        num_positives = sum(r[3] for r in records)
        if num_positives == 0:
            return None
        order = np.argsort(-scores, kind="mergesort")
        matched, ignored = matched[:, order], ignored[:, order]
        true_positives = np.cumsum(matched & ~ignored, axis=1, dtype=np.float64)
        false_positives = np.cumsum(~matched & ~ignored, axis=1, dtype=np.float64)
        num_thresholds = len(self.iou_thresholds)
        precision = np.zeros((num_thresholds, len(RECALL_THRESHOLDS)))
        recall = np.zeros(num_thresholds)
        for t in range(num_thresholds):
            tp, fp = true_positives[t], false_positives[t]
            if len(tp) == 0:
                continue
            rc = tp / num_positives
            pr = tp / (fp + tp + np.spacing(1))
            recall[t] = rc[-1]
            # precision envelope: running maximum from the right
            pr = np.maximum.accumulate(pr[::-1])[::-1]
            index = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
            inside = index < len(pr)
            precision[t, inside] = pr[index[inside]]
        return precision, recall

    def result(self, per_class=False):
        """COCO's twelve figures (`METRIC_NAMES`), as floats in [0, 1].

        `nan` where no class has ground truth in the range (pycocotools:
        -1). With `per_class=True` also `"per_class_AP"`: a list of
        AP@[.5:.95] per class (`nan` for classes without ground truth).
        """
        thresholds = self.iou_thresholds

        def threshold_index(value):
            hits = np.nonzero(np.isclose(thresholds, value))[0]
            return int(hits[0]) if len(hits) else None

        def average_precision(area, iou=None, classes=None):
            values = []
            for c in range(self.num_classes) if classes is None else classes:
                pr = self._precision_recall(c, area, self.max_detections)
                if pr is None:
                    continue
                precision = pr[0]
                if iou is not None:
                    index = threshold_index(iou)
                    if index is None:
                        return float("nan")
                    precision = precision[index : index + 1]
                values.append(precision)
            if not values:
                return float("nan")
            return float(np.mean(np.stack(values)))

        def average_recall(area, max_detections):
            values = []
            for c in range(self.num_classes):
                pr = self._precision_recall(c, area, max_detections)
                if pr is not None:
                    values.append(pr[1])
            return float(np.mean(np.stack(values))) if values else float("nan")

        out = {
            "AP": average_precision("all"),
            "AP50": average_precision("all", 0.5),
            "AP75": average_precision("all", 0.75),
            "APs": average_precision("small"),
            "APm": average_precision("medium"),
            "APl": average_precision("large"),
        }
        for m in self.recall_limits:
            out[f"AR{m}"] = average_recall("all", m)
        for name, key in (("small", "ARs"), ("medium", "ARm"), ("large", "ARl")):
            out[key] = average_recall(name, self.max_detections)
        if per_class:
            out["per_class_AP"] = [
                average_precision("all", classes=[c]) for c in range(self.num_classes)
            ]
        return out


def evaluate(ground_truth, detections, num_classes, box_format="yxyx", **kwargs):
    """COCO figures of lists of per-image ground truth and detections.

    Args:
        ground_truth: a list of dicts `{"boxes": (k, 4), "labels": (k,)}`,
            optionally with `"crowd"`, `"ignore"`, `"areas"`.
        detections: a list (same length) of dicts `{"boxes", "scores",
            "labels"}`.
        num_classes, box_format, **kwargs: see `COCOEvaluator`.

    Returns:
        The dict of `COCOEvaluator.result()`.
    """
    if len(ground_truth) != len(detections):
        raise ValueError(
            "Expected one detection entry per ground-truth image. Received: "
            f"{len(ground_truth)} images and {len(detections)} detection entries"
        )
    evaluator = COCOEvaluator(num_classes, box_format=box_format, **kwargs)
    for gt, det in zip(ground_truth, detections, strict=True):
        evaluator.update_image(
            gt["boxes"],
            gt["labels"],
            det["boxes"],
            det["scores"],
            det["labels"],
            gt_crowd=gt.get("crowd"),
            gt_ignore=gt.get("ignore"),
            gt_areas=gt.get("areas"),
        )
    return evaluator.result()
