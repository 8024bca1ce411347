"""Tests of `training/segmentation.py` (DSRL variants on digit canvases).

Runs are tiny (32 train canvases of 32x32 -> 16x16, one epoch of 2 steps);
TFDS loaders run on `tfds.testing.mock_data`, the VOC loader on a small
folder in the VOC layout written to `tmp_path`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from training import segmentation

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [
    "--train-size", "32", "--val-size", "8", "--test-size", "8",
    "--label-size", "32", "32", "--factor", "2", "--epochs", "1",
    "--steps-per-epoch", "2", "--batch-size", "8", "--verbose", "0",
    "--unet-filters", "8", "16", "--decoder-filters", "8",
    "--fa-subsample", "0.25", "--bn-recalibration-steps", "2",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _canvas_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(
        "KERAS_RESIZE_CACHE", str(tmp_path_factory.getbasetemp() / "canvas_cache")
    )


@pytest.mark.parametrize("variant", ["bilinear", "dsrl"])
def test_a_tiny_run_writes_everything(tmp_path, variant):
    args = segmentation.parse_args(
        [*TINY, "--variant", variant, "--output-dir", str(tmp_path)]
    )
    results = segmentation.run(args)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["variant"] == variant
    for key in ("test_mean_iou", "val_mean_iou", "test_pixel_accuracy"):
        assert 0.0 <= results[key] <= 1.0, key
    assert len(results["test_per_class_iou"]) == 11
    assert results["bn_recalibration_batches"] == 2
    assert (tmp_path / "predictions.png").exists()
    assert (tmp_path / "log.csv").exists()
    assert (tmp_path / "checkpoints" / "last.weights.h5").exists()
    history = results["history"]
    if variant == "dsrl":
        assert "feature_affinity_loss" in history
        assert "super_resolution_loss" in history
        assert results["inference_params"] < results["training_params"]
    else:
        assert "super_resolution_loss" not in history
        # the bilinear baseline adds no weights to the segmenter
        assert results["inference_params"] == results["training_params"]


def test_iou_from_confusion_against_a_brute_force_count():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 5000)
    predictions = np.where(rng.random(5000) < 0.6, labels, rng.integers(0, 4, 5000))
    labels[labels == 3] = 2  # class 3 never in the labels, only predicted
    matrix = np.zeros((4, 4), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    mean, per_class, accuracy = segmentation.iou_from_confusion(matrix)
    expected = []
    for c in range(4):
        intersection = np.sum((labels == c) & (predictions == c))
        union = np.sum((labels == c) | (predictions == c))
        expected.append(intersection / union if union else np.nan)
    np.testing.assert_allclose(per_class, expected)
    assert mean == pytest.approx(np.mean(expected[:3]))  # class 3 absent
    assert accuracy == pytest.approx(np.mean(labels == predictions))


def test_confusion_matrix_ignores_the_ignore_class():
    class Fixed:
        def __call__(self, x, training=False):
            logits = np.zeros((1, 2, 2, 3), "float32")
            logits[..., 1] = 1.0  # predicts class 1 everywhere
            return logits

    labels = np.array([[[1, 255], [0, 1]]], "int32")
    dataset = [(np.zeros((1, 1, 1, 3)), {"segmentation": tf.constant(labels)})]
    matrix = segmentation.confusion_matrix(Fixed(), dataset, 3, ignore_class=255)
    np.testing.assert_array_equal(matrix, [[0, 1, 0], [0, 2, 0], [0, 0, 0]])


def test_voc_colormap_known_entries():
    colormap = segmentation.voc_colormap()
    assert tuple(colormap[0]) == (0, 0, 0)
    assert tuple(colormap[1]) == (128, 0, 0)  # aeroplane
    assert tuple(colormap[15]) == (192, 128, 128)  # person
    assert tuple(colormap[255]) == (224, 224, 192)  # boundary


def _write_voc(root, count=3, size=(40, 50)):
    colormap = segmentation.voc_colormap()
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        os.makedirs(root / sub, exist_ok=True)
    rng = np.random.default_rng(0)
    ids, masks = [], []
    for i in range(count):
        name = f"2007_{i:06d}"
        image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        mask = np.zeros(size, np.int64)
        mask[5:25, 10:40] = 1 + i  # a class per image
        mask[4, :] = 255  # boundary
        jpeg = tf.io.encode_jpeg(image).numpy()
        png = tf.io.encode_png(colormap[mask].astype(np.uint8)).numpy()
        (root / "JPEGImages" / f"{name}.jpg").write_bytes(jpeg)
        (root / "SegmentationClass" / f"{name}.png").write_bytes(png)
        ids.append(name)
        masks.append(mask)
    for split in ("train", "val"):
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(
            "\n".join(ids)
        )
    return masks


def test_voc_folder_loader(tmp_path):
    masks = _write_voc(tmp_path / "VOC2012")
    args = segmentation.parse_args(
        ["--dataset", f"voc:{tmp_path / 'VOC2012'}", "--label-size", "40", "50",
         "--batch-size", "3", "--output-dir", str(tmp_path / "run")]
    )  # fmt: skip
    splits, info = segmentation.make_datasets(args)
    assert info["num_classes"] == 21 and info["ignore_class"] == 255
    x, y = next(iter(splits["val"]))
    assert x.shape == (3, 20, 25, 3)
    assert y["super_resolution"].shape == (3, 40, 50, 3)
    np.testing.assert_array_equal(y["segmentation"].numpy(), np.stack(masks))


def test_voc_missing_folder_is_a_clear_error(tmp_path):
    args = segmentation.parse_args(["--dataset", f"voc:{tmp_path}"])
    with pytest.raises(FileNotFoundError, match="ImageSets/Segmentation"):
        segmentation.make_datasets(args)


@pytest.mark.parametrize(
    "dataset,num_classes", [("cityscapes", 19), ("oxford_iiit_pet", 3)]
)
def test_tfds_loaders_with_mock_data(tmp_path, dataset, num_classes):
    import tensorflow_datasets as tfds

    args = segmentation.parse_args(
        ["--dataset", dataset, "--label-size", "32", "64", "--batch-size", "2",
         "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "run"),
         "--steps-per-epoch", "2"]
    )  # fmt: skip
    with tfds.testing.mock_data(num_examples=4):
        splits, info = segmentation.make_datasets(args)
        x, y = next(iter(splits["test"]))
    assert info["num_classes"] == num_classes
    assert x.shape == (2, 16, 32, 3)
    labels = y["segmentation"].numpy()
    assert labels.shape == (2, 32, 64)
    valid = labels[labels != 255]
    assert valid.min() >= 0 and valid.max() < num_classes


def test_cityscapes_train_ids_are_the_official_19():
    ids = segmentation.CITYSCAPES_TRAIN_IDS
    assert sorted(ids.values()) == list(range(19))
    assert ids[7] == 0 and ids[26] == 13 and ids[33] == 18  # road, car, bicycle


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--label-size", "33", "32"], "divisible"),
        (["--factor", "0"], "factor"),
        (["--fa-subsample", "2"], "fa-subsample"),
        (["--dataset", "coco"], "coco"),
        (["--variant", "best"], "best"),
    ],
)
def test_bad_arguments(argv, match, capsys):
    with pytest.raises(SystemExit):
        segmentation.parse_args(argv)
    assert match in capsys.readouterr().err


@pytest.mark.large
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    command = [
        sys.executable, "-m", "training.segmentation", *TINY,
        "--output-dir", str(tmp_path), "--strategy", "mirrored",
        "--num-logical-cpus", "2", "--no-figure",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["num_replicas"] == 2
    assert "[segmentation]" in done.stdout


@pytest.mark.large
def test_deeplabv3_tiny_segmenter_runs(tmp_path):
    args = segmentation.parse_args(
        [*TINY, "--segmenter", "deeplabv3_tiny", "--output-dir", str(tmp_path)]
    )
    results = segmentation.run(args)
    assert 0.0 <= results["test_mean_iou"] <= 1.0
