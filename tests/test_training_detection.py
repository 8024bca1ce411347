"""Tests of `training/detection.py` (RetinaNet with uniform / FOVEA / LZU
front ends on digit detection canvases).

Runs are tiny (16 canvases of 64x64 seen at 32x32, one epoch of 2 steps);
the front-end geometry is checked against exact references (boxes mapped to
the detector's frame and back, the packed LZU input, LZU with a uniform
warp == plain downsizing); TFDS loaders run on `tfds.testing.mock_data`.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resize.ops import resize, warp
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
# Front-end geometry.


def _boxes():
    boxes = np.array(
        [[[4.0, 6.0, 20.0, 30.0], [30.0, 10.0, 60.0, 24.0], [-1, -1, -1, -1]]],
        np.float32,
    )
    return tf.constant(boxes), tf.constant([[True, True, False]])


@pytest.mark.parametrize("kind", ["uniform", "fovea", "lzu"])
def test_boxes_to_the_detector_frame_and_back(kind):
    front_end = detection.FrontEnd(kind, "fixed", 64, 0.5, _peaked_prior())
    boxes, valid = _boxes()
    grid = front_end.fixed_grid
    framed = front_end.to_frame(boxes, valid, grid)
    back = front_end.to_input(framed, valid, grid)
    np.testing.assert_allclose(back.numpy(), boxes.numpy(), atol=1e-3)
    np.testing.assert_array_equal(framed.numpy()[0, 2], [-1, -1, -1, -1])  # padding
    if kind == "fovea":
        # the peaked prior magnifies: the warped boxes are not just halved
        assert not np.allclose(
            framed.numpy()[0, :2], boxes.numpy()[0, :2] / 2, atol=0.5
        )
    else:
        np.testing.assert_allclose(framed.numpy()[0, :2], boxes.numpy()[0, :2] / 2)


def test_uniform_front_end_is_a_zoom_with_uniform_saliency():
    images = tf.random.stateless_uniform((2, 64, 64, 1), (1, 2))
    front_end = detection.FrontEnd("uniform", "fixed", 64, 0.25, _peaked_prior())
    x, grid = front_end.inputs(images)
    assert grid is None
    zoomed = warp.zoom(
        images, warp.coarse_grid(warp.uniform_saliency((9, 9))), (16, 16)
    )
    np.testing.assert_allclose(x.numpy(), zoomed.numpy(), atol=1e-5)


def test_lzu_input_packs_the_full_image_and_the_saliency_without_loss():
    images = tf.random.stateless_uniform((2, 64, 64, 3), (3, 4))
    front_end = detection.FrontEnd("lzu", "adaptive", 64, 0.25, _peaked_prior())
    saliency = tf.random.stateless_uniform((2, 9, 9), (5, 6))
    x, _ = front_end.inputs(images, saliency)
    assert x.shape == (2, 16, 16, 3 * 16 + 1)
    image, unpacked = detection.UnpackFrame(4, 3, (9, 9))(x)
    np.testing.assert_array_equal(image.numpy(), images.numpy())
    np.testing.assert_array_equal(unpacked.numpy(), saliency.numpy())


def _small_retina_backbone(frame, channels):
    import keras_hub

    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 64, 64, 64], stackwise_num_blocks=[1, 1, 1, 1],
        stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(frame, frame, channels),
    )  # fmt: skip
    return keras_hub.models.RetinaNetBackbone(
        encoder, min_level=2, max_level=5, use_p5=False,
        image_shape=(frame, frame, channels),
    )  # fmt: skip


def test_lzu_backbone_with_a_uniform_warp_is_plain_downsizing():
    """LZU with uniform saliency: zoom = bilinear resize, unzoom = identity,
    so every FPN level equals the backbone on the downsized image."""
    keras.utils.set_random_seed(0)
    retina = _small_retina_backbone(32, 1)
    uniform = np.full((9, 9), 1 / 81)
    lzu = detection.lzu_backbone(retina, 2, uniform)
    assert lzu.image_shape == (32, 32, 4)
    assert (lzu.min_level, lzu.max_level) == (2, 5)
    images = tf.random.stateless_uniform((2, 64, 64, 1), (7, 8))
    packed = tf.nn.space_to_depth(images, 2)
    ours = lzu(packed)
    reference = retina(resize(images, (32, 32), "bilinear"))
    assert list(ours) == ["P2", "P3", "P4", "P5"]
    for level in ours:
        np.testing.assert_allclose(
            ours[level].numpy(), reference[level].numpy(), atol=2e-4, err_msg=level
        )
    # a peaked warp changes the features, and the config round-trips
    peaked = detection.lzu_backbone(retina, 2, _peaked_prior())
    assert not np.allclose(peaked(packed)["P2"], reference["P2"], atol=1e-3)
    config = peaked.get_config()
    assert config["block_size"] == 2 and len(config["saliency"]) == 9
    json.dumps(config)  # serialisable


def test_adaptive_lzu_backbone_takes_its_saliency_from_the_input():
    keras.utils.set_random_seed(0)
    retina = _small_retina_backbone(32, 1)
    adaptive = detection.lzu_backbone(retina, 2, None, grid_shape=(9, 9))
    fixed = detection.lzu_backbone(retina, 2, _peaked_prior())
    images = tf.random.stateless_uniform((2, 64, 64, 1), (9, 10))
    front_end = detection.FrontEnd("lzu", "adaptive", 64, 0.5, _peaked_prior())
    saliency = tf.constant(np.stack([_peaked_prior()] * 2), tf.float32)
    x, _ = front_end.inputs(images, saliency)
    ours, reference = adaptive(x), fixed(tf.nn.space_to_depth(images, 2))
    for level in ours:
        np.testing.assert_allclose(ours[level], reference[level], atol=2e-4)


def test_adaptive_training_batch_zooms_by_jittered_truth():
    front_end = detection.FrontEnd(
        "fovea", "adaptive", 64, 0.5, _peaked_prior(), jitter=3.0
    )
    images = tf.random.stateless_uniform((1, 64, 64, 1), (1, 1))
    boxes, valid = _boxes()
    labels = tf.where(valid, 3, -1)
    seed = tf.constant([0, 1], tf.int64)
    x, targets = front_end.training_batch(
        images, {"boxes": boxes, "labels": labels}, seed
    )
    assert x.shape == (1, 32, 32, 1)
    np.testing.assert_array_equal(targets["labels"], labels)
    # the same zoom, rebuilt from the same jitter
    moved = warp.jitter_boxes(tf.where(valid[..., None], boxes, 0.0), 3.0, seed,
                              box_format="yxyx")  # fmt: skip
    grid = warp.coarse_grid(front_end.saliency_from_boxes(moved, valid))
    np.testing.assert_allclose(x, warp.zoom(images, grid, (32, 32)), atol=1e-6)
    np.testing.assert_allclose(
        targets["boxes"],
        warp.warp_boxes(
            boxes, grid, (64, 64), (32, 32), box_format="yxyx", valid=valid
        ),
        atol=1e-5,
    )


@pytest.mark.parametrize("kind", ["uniform", "fovea", "lzu"])
def test_predictions_return_to_the_input_frame_and_score_ap_one(kind):
    """A predictor that outputs the ground truth in the detector's frame gets
    AP 1 after `predict` maps its boxes back (two passes when adaptive)."""
    saliency = "adaptive" if kind == "lzu" else "fixed"
    front_end = detection.FrontEnd(kind, saliency, 64, 0.5, _peaked_prior())
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
    front_end = detection.FrontEnd("uniform", "fixed", 64, 0.5, _peaked_prior())
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
    encoder.box_matcher = detection._low_quality_matcher()
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
        front_end = detection.FrontEnd("fovea", "fixed", 64, 0.5, _peaked_prior())
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
