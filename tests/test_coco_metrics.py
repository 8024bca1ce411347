"""Tests of `training/coco_metrics.py` (COCO box AP in numpy).

The reference is `pycocotools` itself, on random ground truth (with crowd
regions) and perturbed / random detections (with tied scores), plus
hand-made cases whose AP is worked out by hand.
"""

import contextlib
import io

import numpy as np
import pytest

from training import coco_metrics
from training.coco_metrics import COCOEvaluator, evaluate


def _random_case(rng, num_images=25, num_classes=4, crowd_fraction=0.1, size=200):
    ground_truth, detections = [], []
    for _ in range(num_images):
        k = int(rng.integers(0, 8))
        corner = rng.uniform(0, size, (k, 2))
        side = rng.uniform(2, 120, (k, 2))
        boxes = np.concatenate([corner, corner + side], axis=1)
        labels = rng.integers(0, num_classes, k)
        crowd = rng.random(k) < crowd_fraction
        m = int(rng.integers(0, 3 * k + 3))
        source = rng.integers(0, max(k, 1), m)
        found = []
        for j in range(m):
            if k and rng.random() < 0.7:  # a perturbed ground-truth box
                b = boxes[source[j]] + rng.normal(0, 6, 4)
                b = np.concatenate([np.minimum(b[:2], b[2:]), np.maximum(b[:2], b[2:])])
            else:  # a random box
                p = rng.uniform(0, size, 2)
                b = np.concatenate([p, p + rng.uniform(2, 100, 2)])
            found.append(b)
        found = np.asarray(found).reshape(-1, 4)
        right = labels[source] if k else rng.integers(0, num_classes, m)
        found_labels = np.where(
            rng.random(m) < 0.8, right, rng.integers(0, num_classes, m)
        )
        scores = rng.random(m)
        if rng.random() < 0.3:
            scores = np.round(scores, 1)  # ties: the stable order must match
        ground_truth.append({"boxes": boxes, "labels": labels, "crowd": crowd})
        detections.append({"boxes": found, "scores": scores, "labels": found_labels})
    return ground_truth, detections


def _pycocotools(
    ground_truth, detections, num_classes, area_ranges=None, max_dets=None
):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for i, (gt, det) in enumerate(zip(ground_truth, detections, strict=True)):
        images.append({"id": i + 1, "width": 400, "height": 400})
        for box, label, crowd in zip(
            gt["boxes"], gt["labels"], gt["crowd"], strict=True
        ):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i + 1,
                 "category_id": int(label) + 1, "bbox": [box[0], box[1], w, h],
                 "area": w * h, "iscrowd": int(crowd)}
            )  # fmt: skip
        for box, score, label in zip(
            det["boxes"], det["scores"], det["labels"], strict=True
        ):
            results.append(
                {"image_id": i + 1, "category_id": int(label) + 1, "score": float(score),
                 "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]}
            )  # fmt: skip
    coco = COCO()
    coco.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c + 1, "name": str(c)} for c in range(num_classes)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
        if area_ranges is not None:
            evaluator.params.areaRng = [list(area_ranges[k]) for k in
                                        ("all", "small", "medium", "large")]  # fmt: skip
        if max_dets is not None:
            evaluator.params.maxDets = list(max_dets)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def _as_stats(result):
    values = np.array([result[name] for name in coco_metrics.METRIC_NAMES])
    return np.where(np.isnan(values), -1.0, values)  # pycocotools: -1


@pytest.mark.parametrize("seed", range(6))
def test_equals_pycocotools_on_random_detections(seed):
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(seed)
    ground_truth, detections = _random_case(rng)
    ours = _as_stats(evaluate(ground_truth, detections, 4, box_format="xyxy"))
    reference = _pycocotools(ground_truth, detections, 4)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)
    assert np.any(reference > 0)  # the case is not degenerate


def test_equals_pycocotools_with_scaled_area_ranges():
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(10)
    ground_truth, detections = _random_case(rng, num_images=30)
    ranges = coco_metrics.area_ranges(0.25)
    ours = _as_stats(
        evaluate(ground_truth, detections, 4, box_format="xyxy", area_ranges=ranges)
    )
    reference = _pycocotools(ground_truth, detections, 4, area_ranges=ranges)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)
    # the scaled ranges change the small / medium / large figures
    unscaled = _as_stats(evaluate(ground_truth, detections, 4, box_format="xyxy"))
    assert not np.allclose(ours[3:6], unscaled[3:6])


def test_equals_pycocotools_beyond_100_detections_per_image():
    """Only the 100 best detections per image and class count (pycocotools'
    `maxDets`), and AR1 / AR10 cut at 1 and 10."""
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(3)
    gt_boxes = np.array([[10.0, 10.0, 60.0, 60.0], [100.0, 100.0, 130.0, 150.0]])
    found = np.concatenate(
        [gt_boxes[rng.integers(0, 2, 150)] + rng.normal(0, 4, (150, 4))]
    )
    found[:, 2:] = np.maximum(found[:, 2:], found[:, :2] + 1)
    ground_truth = [{"boxes": gt_boxes, "labels": np.array([0, 0]),
                     "crowd": np.zeros(2, bool)}]  # fmt: skip
    detections = [{"boxes": found, "scores": rng.random(150), "labels": np.zeros(150)}]
    ours = _as_stats(evaluate(ground_truth, detections, 1, box_format="xyxy"))
    reference = _pycocotools(ground_truth, detections, 1)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)


def _one(gt_boxes, gt_labels, boxes, scores, labels, num_classes=2, **kwargs):
    evaluator = COCOEvaluator(num_classes, box_format="xyxy", **kwargs)
    evaluator.update_image(gt_boxes, gt_labels, boxes, scores, labels)
    return evaluator.result(per_class=True)


def test_perfect_detections_give_one_and_none_give_zero():
    boxes = [[0, 0, 10, 10], [20, 20, 60, 70]]
    perfect = _one(boxes, [0, 1], boxes, [0.9, 0.8], [0, 1])
    for name in ("AP", "AP50", "AP75", "AR100"):
        assert perfect[name] == pytest.approx(1.0)
    nothing = _one(boxes, [0, 1], np.zeros((0, 4)), [], [])
    assert nothing["AP"] == 0.0 and nothing["AR100"] == 0.0


def test_a_higher_scored_false_positive_halves_precision():
    # FP (score 0.9) before the TP (0.8): precision 0.5 at every recall point
    out = _one([[0, 0, 10, 10]], [0], [[50, 50, 60, 60], [0, 0, 10, 10]],
               [0.9, 0.8], [0, 0], num_classes=1)  # fmt: skip
    assert out["AP"] == pytest.approx(0.5)
    # ... and after it, precision is 1 up to recall 1: AP 1
    out = _one([[0, 0, 10, 10]], [0], [[50, 50, 60, 60], [0, 0, 10, 10]],
               [0.7, 0.8], [0, 0], num_classes=1)  # fmt: skip
    assert out["AP"] == pytest.approx(1.0)


def test_iou_thresholds_count_from_point_five_by_point_oh_five():
    # IoU 0.62: a hit at 0.50, 0.55, 0.60; a miss from 0.65 on -> AP 3/10
    box = [0.0, 0.0, 100.0, 62.0]  # inside the ground truth: IoU = 0.62
    out = _one([[0, 0, 100, 100]], [0], [box], [0.9], [0], num_classes=1)
    assert coco_metrics.box_iou([[0, 0, 100, 62]], [[0, 0, 100, 100]])[0, 0] == (
        pytest.approx(0.62)
    )
    assert out["AP50"] == pytest.approx(1.0) and out["AP75"] == 0.0
    assert out["AP"] == pytest.approx(0.3)


def test_wrong_class_is_a_false_positive_and_classes_without_truth_are_skipped():
    out = _one([[0, 0, 10, 10]], [0], [[0, 0, 10, 10]], [0.9], [1], num_classes=3)
    assert out["AP"] == 0.0  # class 0 missed; class 1 has no truth: skipped
    assert np.isnan(out["per_class_AP"][1]) and np.isnan(out["per_class_AP"][2])


def test_crowd_and_ignored_truth_neither_count_nor_penalise():
    evaluator = COCOEvaluator(1, box_format="xyxy")
    # one regular box (found), one crowd region holding two detections, one
    # ignored (VOC difficult) box that is found too
    evaluator.update_image(
        [[0, 0, 10, 10], [100, 100, 200, 200], [50, 0, 60, 10]],
        [0, 0, 0],
        [[0, 0, 10, 10], [110, 110, 150, 150], [150, 150, 190, 190], [50, 0, 60, 10]],
        [0.5, 0.9, 0.8, 0.95],
        [0, 0, 0, 0],
        gt_crowd=[False, True, False],
        gt_ignore=[False, False, True],
    )
    out = evaluator.result()
    assert out["AP"] == pytest.approx(1.0)
    assert out["AR100"] == pytest.approx(1.0)
    # the same detections with the crowd / ignore flags off: two false
    # positives score above the only true positive of the regular box
    evaluator.reset()
    evaluator.update_image(
        [[0, 0, 10, 10]], [0],
        [[0, 0, 10, 10], [110, 110, 150, 150], [150, 150, 190, 190], [50, 0, 60, 10]],
        [0.5, 0.9, 0.8, 0.95], [0, 0, 0, 0],
    )  # fmt: skip
    assert evaluator.result()["AP"] == pytest.approx(0.25)


def test_crowd_iou_is_over_the_detection_area():
    iou = coco_metrics.box_iou([[0, 0, 10, 10]], [[0, 0, 100, 100]], crowd=[True])
    assert iou[0, 0] == pytest.approx(1.0)  # the detection lies inside


def test_area_ranges_sort_truth_by_area():
    boxes = [[0, 0, 10, 10], [0, 50, 50, 100]]  # areas 100 and 2500
    out = _one(boxes, [0, 0], boxes[:1], [0.9], [0], num_classes=1)
    assert out["APs"] == pytest.approx(1.0)  # the small box was found
    assert out["APm"] == 0.0  # the medium one was not
    assert np.isnan(out["APl"])  # no large truth at all
    scaled = _one(boxes, [0, 0], boxes[:1], [0.9], [0], num_classes=1,
                  area_ranges=coco_metrics.area_ranges(1 / 16))  # fmt: skip
    # with ranges / 16 (8^2, 24^2), 100 is medium and 2500 large
    assert np.isnan(scaled["APs"])
    assert scaled["APm"] == pytest.approx(1.0) and scaled["APl"] == 0.0


def test_box_formats_agree_and_box_iou_matches_a_brute_force_count():
    xyxy = np.array([[3.0, 4.0, 20.0, 30.0]])
    yxyx = xyxy[:, [1, 0, 3, 2]]
    xywh = np.array([[3.0, 4.0, 17.0, 26.0]])
    for boxes, box_format in ((xyxy, "xyxy"), (yxyx, "yxyx"), (xywh, "xywh")):
        np.testing.assert_allclose(coco_metrics.to_xywh(boxes, box_format), xywh)
    # integer boxes: IoU from counting unit cells
    rng = np.random.default_rng(0)
    a = rng.integers(0, 20, (6, 2))
    a = np.concatenate([a, a + rng.integers(1, 15, (6, 2))], 1)
    b = rng.integers(0, 20, (5, 2))
    b = np.concatenate([b, b + rng.integers(1, 15, (5, 2))], 1)

    def mask(box):
        grid = np.zeros((40, 40), bool)
        grid[box[1] : box[3], box[0] : box[2]] = True
        return grid

    expected = np.array(
        [[(mask(p) & mask(q)).sum() / (mask(p) | mask(q)).sum() for q in b] for p in a]
    )
    got = coco_metrics.box_iou(
        coco_metrics.to_xywh(a, "xyxy"), coco_metrics.to_xywh(b, "xyxy")
    )
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_padded_batch_update_equals_per_image_updates():
    rng = np.random.default_rng(5)
    ground_truth, detections = _random_case(rng, num_images=6, crowd_fraction=0.0)
    direct = evaluate(ground_truth, detections, 4, box_format="xyxy")
    evaluator = COCOEvaluator(4, box_format="yxyx")

    def pad(array, length, value):
        filler = np.full((length - len(array), *array.shape[1:]), value, array.dtype)
        return np.concatenate([array, filler])

    gt_boxes = np.stack(
        [pad(g["boxes"][:, [1, 0, 3, 2]], 8, -1.0) for g in ground_truth]
    )
    gt_labels = np.stack([pad(g["labels"], 8, -1) for g in ground_truth])
    boxes = np.stack([pad(d["boxes"][:, [1, 0, 3, 2]], 30, -1.0) for d in detections])
    scores = np.stack([pad(d["scores"], 30, 0.0) for d in detections])
    labels = np.stack([pad(d["labels"], 30, -1) for d in detections])
    evaluator.update(gt_boxes, gt_labels, boxes, scores, labels)
    batched = evaluator.result()
    for name in coco_metrics.METRIC_NAMES:
        np.testing.assert_equal(batched[name], direct[name])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 2, "box_format": "cxcywh"}, "box_format"),
        ({"num_classes": 2, "max_detections": 0}, "max_detections"),
        ({"num_classes": 2, "area_ranges": {"all": (0, 1)}}, "area_ranges"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        COCOEvaluator(**kwargs)


def test_bad_inputs():
    evaluator = COCOEvaluator(2, box_format="xyxy")
    with pytest.raises(ValueError, match="labels in"):
        evaluator.update_image([[0, 0, 1, 1]], [2], np.zeros((0, 4)), [], [])
    with pytest.raises(ValueError, match="as many"):
        evaluator.update_image([[0, 0, 1, 1]], [0, 1], np.zeros((0, 4)), [], [])
    with pytest.raises(ValueError, match="scores"):
        evaluator.update_image([[0, 0, 1, 1]], [0], [[0, 0, 1, 1]], [0.5, 0.2], [0])
    with pytest.raises(ValueError, match="scale"):
        coco_metrics.area_ranges(0)
    with pytest.raises(ValueError, match="one detection entry"):
        evaluate([{"boxes": np.zeros((0, 4)), "labels": []}], [], 2)
