"""Tests of `training.detection` (RetinaNet with uniform / FOVEA / LZU
front ends on digit detection canvases).

Runs are tiny (16 canvases of 64x64 seen at 32x32, one epoch of 2 steps);
predictions mapped back to the input frame score AP 1, the predictor decodes
as keras-hub does; TFDS loaders run on `tfds.testing.mock_data`. The front
ends and the LZU backbone are the package's (`keras_resize.models`), tested
in `tests/test_detection_front_ends.py`.
"""

import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resize.models import DetectionFrontEnd
from keras_resize.ops import warp
from training import coco_metrics, detection

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [
    "--input-size", "64", "--scale", "0.5", "--train-size", "16",
    "--val-size", "8", "--test-size", "8", "--digit-size", "8", "32",
    "--grid-shape", "9", "9", "--epochs", "1", "--steps-per-epoch", "2",
    "--batch-size", "8", "--verbose", "0", "--bn-recalibration-steps", "1",
    "--head-conv-layers", "1",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _canvas_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(
        "KERAS_RESIZE_CACHE", str(tmp_path_factory.getbasetemp() / "canvas_cache")
    )


def _peaked_prior(shape=(9, 9)):
    prior = np.ones(shape)
    prior[shape[0] // 2, shape[1] // 3] = 40.0
    return prior / prior.sum()


# ----------------------------------------------------------------------------
# Tiny runs.


@pytest.mark.parametrize(
    "front_end,extra",
    [
        # uniform's pipeline is a subset of LZU's; it also draws the figure
        pytest.param("uniform", [], marks=pytest.mark.large),
        # fovea's geometry and pipeline are tested below without training
        pytest.param("fovea", ["--no-figure"], marks=pytest.mark.large),
        ("lzu", ["--no-figure", "--bn-recalibration-steps", "0"]),
    ],
)
def test_a_tiny_run_of_each_front_end_writes_everything(tmp_path, front_end, extra):
    args = detection.parse_args(
        [*TINY, "--front-end", front_end, "--output-dir", str(tmp_path), *extra]
    )
    results = detection.run(args)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["front_end"] == front_end
    assert on_disk["saliency"] == (None if front_end == "uniform" else "fixed")
    for split in ("val", "test"):
        for name in ("AP", "AP50", "AP75", "AR100"):
            value = results[f"{split}_{name}"]
            assert value is not None and 0.0 <= value <= 1.0, (split, name)
        assert len(results[f"{split}_per_class_AP"]) == 10
    assert results["frame_size"] == 32 and results["input_size"] == 64
    assert results["bn_recalibration_batches"] == (0 if front_end == "lzu" else 1)
    assert results["detector_params"] > results["backbone_params"] > 0
    assert (tmp_path / "log.csv").exists()
    assert (tmp_path / "checkpoints" / "last.weights.h5").exists()
    assert (tmp_path / "tensorboard").is_dir()
    assert (tmp_path / "predictions.png").exists() == (front_end == "uniform")
    assert "loss" in results["history"] and "val_loss" in results["history"]


@pytest.mark.large
@pytest.mark.parametrize("front_end", ["fovea", "lzu"])
def test_a_tiny_adaptive_run(tmp_path, front_end):
    args = detection.parse_args(
        [*TINY, "--front-end", front_end, "--saliency", "adaptive",
         "--output-dir", str(tmp_path), "--adaptive-score-threshold", "0.0"]
    )  # fmt: skip
    results = detection.run(args)
    assert results["saliency"] == "adaptive"
    assert 0.0 <= results["test_AP"] <= 1.0
    assert (tmp_path / "predictions.png").exists()


@pytest.mark.large
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    command = [
        sys.executable, "-m", "training.detection", *TINY, "--front-end", "lzu",
        "--output-dir", str(tmp_path), "--strategy", "mirrored",
        "--num-logical-cpus", "2", "--no-figure",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["num_replicas"] == 2
    assert "[detection]" in done.stdout


# ----------------------------------------------------------------------------
# Evaluation (the front ends' geometry: tests/test_detection_front_ends.py).


def _boxes():
    boxes = np.array(
        [[[4.0, 6.0, 20.0, 30.0], [30.0, 10.0, 60.0, 24.0], [-1, -1, -1, -1]]],
        np.float32,
    )
    return tf.constant(boxes), tf.constant([[True, True, False]])


@pytest.mark.parametrize("kind", ["uniform", "fovea", "lzu"])
def test_predictions_return_to_the_input_frame_and_score_ap_one(kind):
    """A predictor that outputs the ground truth in the detector's frame gets
    AP 1 after `predict` maps its boxes back (two passes when adaptive)."""
    saliency = "adaptive" if kind == "lzu" else "fixed"
    front_end = DetectionFrontEnd(kind, saliency, 64, 0.5, _peaked_prior())
    boxes, valid = _boxes()
    calls = []

    def predictor(x):
        calls.append(x.shape)
        grid = front_end.fixed_grid if kind == "fovea" else None
        framed = front_end.to_frame(boxes, valid, grid).numpy()
        return {
            "boxes": tf.constant(framed[:, :2]),
            "confidence": tf.constant([[0.9, 0.8]]),
            "labels": tf.constant([[1, 4]]),
            "num_detections": tf.constant([2]),
        }

    images = tf.zeros((1, 64, 64, 1))
    out, second = detection.detect(predictor, front_end, images)
    assert len(calls) == (2 if kind == "lzu" else 1)
    assert (second is not None) == (kind == "lzu")
    np.testing.assert_allclose(out["boxes"][0], boxes.numpy()[0, :2], atol=1e-3)
    evaluator = coco_metrics.COCOEvaluator(10)
    evaluator.update_image(boxes.numpy()[0, :2], [1, 4], out["boxes"][0],
                           out["scores"][0], out["labels"][0])  # fmt: skip
    assert evaluator.result()["AP"] == pytest.approx(1.0)


def test_predictor_decodes_like_keras_hub():
    """The best detection of `make_predictor` (top-k + per-class NMS) is
    keras-hub's own best detection (its decoder, class-agnostic NMS)."""
    keras.utils.set_random_seed(1)
    args = detection.parse_args([*TINY, "--front-end", "uniform"])
    front_end = DetectionFrontEnd("uniform", "fixed", 64, 0.5, _peaked_prior())
    detector = detection.build_detector(args, front_end, 10, 1)
    # zero box deltas: the boxes are the anchors (a random box head makes
    # degenerate boxes, which keras-hub's NMS handles its own way)
    for weight in detector.box_head.weights:
        weight.assign(tf.zeros_like(weight))
    x = tf.random.stateless_uniform((2, 32, 32, 1), (3, 3))
    ours = detection.make_predictor(detector, args)(x)
    theirs = detector.decode_predictions(detector(x, training=False), x)
    assert ours["boxes"].shape == (2, 100, 4)
    for i in range(2):
        assert int(ours["num_detections"][i]) > 0
        np.testing.assert_allclose(
            ours["confidence"][i, 0], theirs["confidence"][i, 0], rtol=1e-5
        )
        np.testing.assert_allclose(
            ours["boxes"][i, 0], theirs["boxes"][i, 0], rtol=1e-4, atol=1e-3
        )
        assert int(ours["labels"][i, 0]) == int(theirs["labels"][i, 0])
    # detections are sorted and above the score threshold
    count = int(ours["num_detections"][0])
    scores = ours["confidence"][0, :count].numpy()
    assert np.all(np.diff(scores) <= 0) and scores.min() >= args.score_threshold


def test_low_quality_matcher_gives_every_box_a_positive_anchor():
    import keras_hub
    from keras_hub.src.models.retinanet.retinanet_label_encoder import (
        RetinaNetLabelEncoder,
    )

    anchors = keras_hub.layers.AnchorGenerator("yxyx", 2, 5, 3, [0.5, 1.0, 2.0], 1.0)
    boxes = np.full((2, 4, 4), -1.0, np.float32)
    labels = np.full((2, 4), -1, np.int32)
    # tiny boxes off the anchor centres: no anchor reaches IoU 0.5
    boxes[0, :3] = [[1.0, 1.0, 3.0, 2.5], [9.0, 17.0, 11.0, 18.5], [20, 5, 23, 7]]
    labels[0, :3] = [3, 7, 2]
    boxes[1, :1] = [[4.0, 4.0, 20.0, 20.0]]
    labels[1, :1] = [5]
    images = np.zeros((2, 32, 32, 1), np.float32)
    plain = RetinaNetLabelEncoder(anchors, "yxyx", encoding_format="center_xywh")
    _, plain_classes = plain(images, boxes, labels)
    encoder = RetinaNetLabelEncoder(anchors, "yxyx", encoding_format="center_xywh")
    encoder.box_matcher = detection.low_quality_matcher()
    _, classes = encoder(images, boxes, labels)
    classes, plain_classes = classes.numpy(), plain_classes.numpy()
    assert not {3, 7, 2} <= set(plain_classes[0].tolist())  # some are lost ...
    assert {3, 7, 2} <= set(classes[0].tolist())  # ... and found again
    # it only adds positives: every plain positive is kept
    positive = plain_classes >= 0
    np.testing.assert_array_equal(classes[positive], plain_classes[positive])


def test_band_layout_puts_the_digits_in_the_middle_rows():
    args = detection.parse_args(
        ["--input-size", "64", "--scale", "0.5", "--layout", "band", "--digit-size", "8", "24",
         "--num-digits", "1", "2", "--output-dir", "/tmp/unused"]
    )  # fmt: skip
    args.max_boxes = 4
    images, targets = detection.digit_arrays(args, 6, seed=0, split="train")
    assert images.shape == (6, 64, 64, 1) and images.dtype == np.uint8
    assert images[:, :16].max() == 0 and images[:, 48:].max() == 0
    for image, boxes, labels in zip(
        images, targets["boxes"], targets["labels"], strict=True
    ):
        real = boxes[labels >= 0]
        assert 2 <= len(real) <= 4
        assert real[:, 0].min() >= 16 and real[:, 2].max() <= 48
        for y1, x1, y2, x2 in real.astype(int):  # the ink is inside its box
            assert image[y1:y2, x1:x2].max() > 127
    prior = warp.dataset_saliency(targets["boxes"][targets["labels"] >= 0], (64, 64),
                                  (9, 9), bandwidth=4.0, box_format="yxyx")  # fmt: skip
    rows = prior.sum(axis=1)
    assert rows[4] > 2 * rows[0]  # the prior peaks on the band


def test_class_agnostic_makes_one_class_and_keeps_the_padding():
    argv = ["--input-size", "64", "--scale", "0.5", "--digit-size", "8", "24",
            "--num-digits", "1", "3",
            "--train-size", "8", "--val-size", "4", "--test-size", "4",
            "--output-dir", "/tmp/unused"]  # fmt: skip
    splits, info = detection.make_datasets(detection.parse_args(argv))
    agnostic, one = detection.make_datasets(
        detection.parse_args(argv + ["--class-agnostic"])
    )
    assert info["num_classes"] == 10 and one["num_classes"] == 1
    many = np.stack([t["labels"].numpy() for _, t in splits["test"]])
    single = np.stack([t["labels"].numpy() for _, t in agnostic["test"]])
    assert (many > 0).sum() >= 1 and (many < 0).sum() >= 1  # digits and padding
    np.testing.assert_array_equal(single, np.where(many >= 0, 0, many))


# ----------------------------------------------------------------------------
# TFDS loaders.


@pytest.mark.parametrize("dataset,num_classes", [("coco", 80), ("voc", 20)])
def test_tfds_loaders_with_mock_data(tmp_path, dataset, num_classes):
    import tensorflow_datasets as tfds

    argv = ["--dataset", dataset, "--input-size", "64", "--scale", "0.5",
            "--batch-size", "2", "--data-dir", str(tmp_path), "--grid-shape", "9", "9",
            "--output-dir", str(tmp_path / "run"), "--saliency-images", "3"]  # fmt: skip
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(ValueError, match="steps-per-epoch"):
            detection.make_datasets(detection.parse_args(argv))
        args = detection.parse_args([*argv, "--steps-per-epoch", "2"])
        splits, info = detection.make_datasets(args)
        image, targets = next(iter(splits["test"]))
        front_end = DetectionFrontEnd("fovea", "fixed", 64, 0.5, _peaked_prior())
        x, y = next(iter(detection.training_dataset(splits["train"], front_end,
                                                   args, repeat=True)))  # fmt: skip
    assert info["num_classes"] == num_classes and info["channels"] == 3
    assert info["steps_per_epoch"] == 2 and args.max_boxes == 100
    assert image.shape == (64, 64, 3)
    assert 0.0 <= float(tf.reduce_min(image)) <= float(tf.reduce_max(image)) <= 1.0
    labels = targets["labels"].numpy()
    real = labels >= 0
    boxes = targets["boxes"].numpy()[real]
    assert real.any() and labels[real].max() < num_classes
    assert np.all(boxes[:, 2] >= boxes[:, 0]) and np.all(boxes[:, 3] >= boxes[:, 1])
    assert boxes.min() >= 0 and boxes.max() <= 64
    flag = targets["crowd" if dataset == "coco" else "ignore"].numpy()
    other = targets["ignore" if dataset == "coco" else "crowd"].numpy()
    assert not other.any() and not flag[~real].any()
    assert info["train_boxes"].shape[1] == 4 and len(info["train_boxes"]) > 0
    # training batches: the frame, flagged boxes removed
    assert x.shape == (2, 32, 32, 3)
    assert y["boxes"].shape == (2, 100, 4) and y["labels"].shape == (2, 100)


# ----------------------------------------------------------------------------
# Arguments.


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--scale", "0.3"], "1/k"),
        (["--scale", "1.5"], "scale"),
        (["--input-size", "250"], "divisible by 1/--scale"),
        (["--input-size", "96", "--scale", "0.5"], "divisible by 32"),
        (["--grid-shape", "80", "80"], "grid"),
        (["--min-level", "4", "--max-level", "3"], "min-level"),
        (["--digit-size", "16", "300"], "digit-size"),
        (["--layout", "band", "--digit-size", "16", "200"], "half canvas"),
        (["--fwhm", "0"], "fwhm"),
        (["--jitter", "-1"], "jitter"),
        (["--score-threshold", "2"], "score-threshold"),
        (["--front-end", "zoom"], "zoom"),
        (["--dataset", "cityscapes"], "cityscapes"),
        # classification's `resnet_tiny` is another network
        (["--detector", "resnet_tiny"], "resnet_tiny"),
    ],
)
def test_bad_arguments(argv, match, capsys):
    with pytest.raises(SystemExit):
        detection.parse_args(argv)
    assert match in capsys.readouterr().err


def test_default_output_dir_names_the_configuration():
    args = detection.parse_args(["--front-end", "fovea", "--saliency", "adaptive"])
    assert args.output_dir.endswith(
        os.path.join("detection", "fovea_adaptive_scale0.25_seed0")
    )
    args = detection.parse_args(["--front-end", "uniform", "--scale", "0.5"])
    assert args.output_dir.endswith("uniform_scale0.5_seed0")


def test_detector_specs_and_the_package_entry_points():
    # the detection ResNet keeps its spec under its own name
    assert detection.DETECTORS["resnet10_narrow"] == (
        [64, 64, 128, 128], [1, 1, 1, 1], "basic_block", 2,
    )  # fmt: skip
    assert "resnet_tiny" not in detection.DETECTORS
    assert detection.parse_args([]).detector == "resnet10_narrow"
    # the package re-exports its modules' names and the package's pieces
    from keras_resize import models
    from training.detection import data, evaluation, model, runner

    assert detection.main is runner.main and detection.run is runner.run
    assert detection.make_datasets is data.make_datasets
    assert detection.evaluate is evaluation.evaluate
    assert detection.build_detector is model.build_detector
    assert detection.FrontEnd is models.DetectionFrontEnd
    assert detection.lzu_backbone is models.lzu_backbone


def test_python_dash_m_runs_the_package(monkeypatch, capsys):
    import runpy

    monkeypatch.setattr(sys, "argv", ["training.detection", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("training.detection", run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "python -m training.detection" in out and "resnet10_narrow" in out


# ----------------------------------------------------------------------------
# The user's files: COCO JSON and Pascal VOC.

# image -> (height, width, [(class, y1, x1, y2, x2, flag)]); boxes in
# continuous pixels, flag = iscrowd (COCO) / difficult (VOC)
FILE_IMAGES = {
    f"im{i}": (48, 80, [("kite", 4 + i, 6, 30, 40 + i, 0), ("ball", 20, 50, 44, 76, i == 2)])
    for i in range(6)
}  # fmt: skip


def _write_images(folder, names=FILE_IMAGES):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        height, width, objects = FILE_IMAGES[name]
        pixels = np.full((height, width, 3), 40, np.uint8)
        for _, y1, x1, y2, x2, _ in objects:
            pixels[y1:y2, x1:x2] = 220
        tf.io.write_file(str(folder / f"{name}.png"), tf.io.encode_png(pixels))


def _write_coco(path, image_dir, names, categories=((3, "kite"), (7, "ball"))):
    _write_images(image_dir, names)
    ids = {name: cid for cid, name in categories}
    images, annotations = [], []
    for index, name in enumerate(names):
        height, width, objects = FILE_IMAGES[name]
        images.append({"id": index, "file_name": f"{name}.png", "height": height,
                       "width": width})  # fmt: skip
        for cls, y1, x1, y2, x2, crowd in objects:
            annotations.append(
                {"id": len(annotations) + 1, "image_id": index,
                 "category_id": ids[cls], "bbox": [x1, y1, x2 - x1, y2 - y1],
                 "iscrowd": int(crowd)}
            )  # fmt: skip
    categories = [{"id": cid, "name": name} for cid, name in categories]
    path.write_text(
        json.dumps({"images": images, "annotations": annotations,
                    "categories": categories})
    )  # fmt: skip


def _write_voc(folder, splits):
    _write_images(folder / "JPEGImages")
    (folder / "Annotations").mkdir()
    for name, (height, width, objects) in FILE_IMAGES.items():
        xml = [f"<annotation><filename>{name}.png</filename><size><width>{width}"
               f"</width><height>{height}</height><depth>3</depth></size>"]  # fmt: skip
        for cls, y1, x1, y2, x2, difficult in objects:
            # VOC: 1-based inclusive pixel indices
            xml.append(
                f"<object><name>{cls}</name><difficult>{int(difficult)}</difficult>"
                f"<bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin>"
                f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            )
        (folder / "Annotations" / f"{name}.xml").write_text(
            "".join(xml) + "</annotation>"
        )
    (folder / "ImageSets" / "Main").mkdir(parents=True)
    for split, names in splits.items():
        (folder / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(names))


FILE_RUN = [
    "--input-size", "64", "--scale", "0.5", "--grid-shape", "9", "9",
    "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2",
    "--verbose", "0", "--bn-recalibration-steps", "0", "--head-conv-layers", "1",
    "--no-figure", "--data-seed", "1",
]  # fmt: skip


# ~50 s on 2 cores, as the digits LZU run above (the file pipeline up to the
# training batches is checked without training below)
@pytest.mark.large
def test_a_tiny_lzu_run_on_coco_json_files_with_a_held_out_split(tmp_path):
    _write_coco(tmp_path / "train.json", tmp_path / "images", list(FILE_IMAGES))
    args = detection.parse_args(
        [*FILE_RUN, "--dataset", "coco_json", "--annotations",
         str(tmp_path / "train.json"), "--images", str(tmp_path / "images"),
         "--held-out", "0.34", "--front-end", "lzu",
         "--output-dir", str(tmp_path / "run")]
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = detection.run(args)
    # the val files' pipeline has an unknown length: no Keras warning at its end
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    # labels follow the category ids (3: kite, 7: ball); 2 of 6 images held out
    assert results["num_classes"] == 2 and results["class_names"] == ["kite", "ball"]
    assert results["train_examples"] == 4
    assert len(results["test_per_class_AP"]) == 2
    assert 0.0 <= results["test_AP"] <= 1.0
    assert results["prior_max_over_min"] > 1.0  # a prior from the files' boxes
    assert (tmp_path / "run" / "results.json").exists()


def test_voc_folder_splits_boxes_and_flags(tmp_path):
    names = list(FILE_IMAGES)
    _write_voc(tmp_path / "voc", {"train": names[:4], "val": names[4:]})
    base = [*FILE_RUN, "--dataset", "voc_folder", "--data-dir", str(tmp_path / "voc"),
            "--output-dir", str(tmp_path / "run")]  # fmt: skip
    args = detection.parse_args([*base, "--train-split", "train", "--val-split", "val"])
    splits, info = detection.make_datasets(args)
    assert info["num_classes"] == 2 and info["class_names"] == ["ball", "kite"]
    assert info["train_examples"] == 4 and info["channels"] == 3
    val = list(splits["val"])
    assert len(val) == 2 and len(list(splits["test"])) == 2
    # the boxes of im4, scaled from 48x80 to 64x64 (VOC's 1-based pixels undone)
    image, targets = val[0]
    assert image.shape == (64, 64, 3) and image.dtype == tf.float32
    expected = np.array([[8, 6, 30, 40 + 4], [20, 50, 44, 76]], np.float32)
    expected *= np.array([64 / 48, 64 / 80] * 2, np.float32)
    np.testing.assert_allclose(targets["boxes"][:2], expected, rtol=1e-5)
    np.testing.assert_array_equal(targets["labels"][:3], [1, 0, -1])
    assert not targets["ignore"].numpy().any() and not targets["crowd"].numpy().any()
    # the prior's boxes skip the difficult box of im2 (a training image)
    assert info["train_boxes"].shape == (7, 4)
    # without --val-split: --held-out of every image
    splits, info = detection.make_datasets(
        detection.parse_args([*base, "--held-out", "0.5"])
    )
    assert info["train_examples"] == 3 and len(list(splits["val"])) == 3
    flagged = [t["ignore"].numpy().any() for _, t in splits["val"]] + [
        t["ignore"].numpy().any() for _, t in splits["train"]
    ]
    assert sum(flagged) == 1  # im2's difficult box, wherever im2 went
    front_end = DetectionFrontEnd("uniform", "fixed", 64, 0.5, _peaked_prior())
    x, y = next(iter(detection.training_dataset(splits["train"], front_end, args,
                                               repeat=True)))  # fmt: skip
    assert x.shape == (2, 32, 32, 3) and y["boxes"].shape == (2, 100, 4)


def test_coco_json_validation_annotations_must_share_the_categories(tmp_path):
    names = list(FILE_IMAGES)
    _write_coco(tmp_path / "train.json", tmp_path / "images", names[:4])
    _write_coco(tmp_path / "val.json", tmp_path / "images", names[4:])
    base = [*FILE_RUN, "--dataset", "coco_json", "--annotations",
            str(tmp_path / "train.json"), "--images", str(tmp_path / "images"),
            "--output-dir", str(tmp_path / "run"), "--test-size", "1"]  # fmt: skip
    args = detection.parse_args(
        [*base, "--val-annotations", str(tmp_path / "val.json")]
    )
    splits, info = detection.make_datasets(args)
    assert info["train_examples"] == 4
    assert len(list(splits["val"])) == 2 and len(list(splits["test"])) == 1
    _write_coco(tmp_path / "other.json", tmp_path / "images", names[4:],
                categories=((3, "kite"), (8, "ball")))  # fmt: skip
    args = detection.parse_args(
        [*base, "--val-annotations", str(tmp_path / "other.json")]
    )
    with pytest.raises(ValueError, match="categories"):
        detection.make_datasets(args)


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--dataset", "coco_json", "--images", "x"], "--annotations"),
        (["--dataset", "coco_json", "--annotations", "x"], "--images"),
        (["--dataset", "voc_folder"], "--data-dir"),
        (["--dataset", "voc_folder", "--data-dir", "x", "--held-out", "0"], "held-out"),
        (["--dataset", "voc_folder", "--data-dir", "x", "--held-out", "1"], "held-out"),
    ],
)
def test_bad_file_dataset_arguments(argv, match, capsys):
    with pytest.raises(SystemExit):
        detection.parse_args(argv)
    assert match in capsys.readouterr().err
