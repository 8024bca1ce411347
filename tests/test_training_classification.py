"""Tests of `training/classification.py`, its backbones and its schedules.

Every run is tiny (16 train canvases of 64x64 -> 16x16, one epoch) and
offline: digits canvases, `tfds.testing.mock_data` for ImageNet and a small
image folder written to `tmp_path`.
"""

import csv
import json
import math
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from keras_resize.layers import available_resizers
from training import backbones, classification, optimization, options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = [
    "--dataset",
    "digits",
    "--train-size",
    "16",
    "--val-size",
    "8",
    "--test-size",
    "8",
    "--input-size",
    "64",
    "--image-size",
    "16",
    "--epochs",
    "1",
    "--batch-size",
    "8",
    "--backbone",
    "resnet_tiny",
    "--verbose",
    "0",
]
FAST = ["--no-flops", "--latency-batch", "2", "--latency-repeats", "1"]

REQUIRED_NUMBERS = (
    "test_accuracy",
    "test_loss",
    "val_accuracy",
    "val_loss",
    "train_images_per_sec",
    "resizer_params",
    "resizer_flops_per_image",
    "backbone_flops_per_image",
    "resizer_latency_ms_per_image",
    "num_replicas",
    "seed",
)


@pytest.fixture(autouse=True)
def _canvas_cache(tmp_path_factory, monkeypatch):
    """Canvases cached in a per-session temp folder, not in ~/.cache."""
    cache = tmp_path_factory.getbasetemp() / "canvas_cache"
    monkeypatch.setenv("KERAS_RESIZE_CACHE", str(cache))


def _run(output_dir, *extra):
    args = classification.parse_args([*TINY, "--output-dir", str(output_dir), *extra])
    return classification.run(args)


def _require_learned():
    if "learned" not in available_resizers():
        pytest.skip(
            "the `learned` resizer is not registered yet "
            "(keras_resize.layers.learned_resize is being written)"
        )


def _csv_epochs(path):
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _h5_arrays(path):
    arrays = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            arrays[name] = np.array(obj)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return arrays


@pytest.mark.parametrize("resizer", ["bilinear", "learned"])
def test_run_digits_end_to_end(tmp_path, resizer):
    if resizer == "learned":
        _require_learned()
    results = _run(tmp_path, "--resizer", resizer)

    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["resizer"] == resizer
    for key in REQUIRED_NUMBERS:
        assert isinstance(on_disk[key], (int, float)), key
        assert math.isfinite(on_disk[key]), key
    assert 0.0 <= on_disk["test_accuracy"] <= 1.0
    assert on_disk["resizer_flops_per_image"] > 0
    assert on_disk["backbone_flops_per_image"] > 0
    assert on_disk["num_replicas"] == 1
    assert on_disk["args"]["resizer"] == resizer
    assert on_disk["environment"]["tensorflow"]
    assert results["test_accuracy"] == on_disk["test_accuracy"]
    if resizer == "bilinear":
        assert on_disk["resizer_params"] == 0
    else:
        assert on_disk["resizer_params"] > 0

    assert (tmp_path / "checkpoints" / "best.weights.h5").is_file()
    assert (tmp_path / "checkpoints" / "last.weights.h5").is_file()
    assert _csv_epochs(tmp_path / "log.csv") == [0]
    assert os.listdir(tmp_path / "tensorboard" / "train")
    assert os.listdir(tmp_path / "tensorboard" / "validation")


def test_resume_continues_from_the_backup(tmp_path):
    first = _run(tmp_path, *FAST)
    assert first["epochs_run"] == 1
    second = _run(tmp_path, *FAST, "--resume", "--epochs", "2")
    assert second["epochs_run"] == 1  # Only epoch 1 was left to run.
    assert _csv_epochs(tmp_path / "log.csv") == [0, 1]
    metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2

    # Without --resume the old backup is dropped and training starts afresh.
    third = _run(tmp_path, *FAST)
    assert third["epochs_run"] == 1
    assert _csv_epochs(tmp_path / "log.csv") == [0]


@pytest.mark.large  # two training runs; make test-large
def test_transfer_frozen_resizer_between_backbones(tmp_path):
    _require_learned()
    saved = tmp_path / "a" / "resizer.weights.h5"
    _run(tmp_path / "a", *FAST, "--resizer", "learned", "--save-resizer", str(saved))
    reference = _h5_arrays(saved)
    assert reference

    # Loading gives exactly the saved weights.
    model = classification.build_model(
        "learned", "simple_cnn", 64, 16, 10, resizer_weights=str(saved)
    )
    loaded = model.get_layer("resizer").get_weights()
    assert sorted(float(np.sum(w)) for w in loaded) == pytest.approx(
        sorted(float(np.sum(w)) for w in reference.values())
    )

    # Fine-tuning another backbone with the frozen resizer leaves it fixed.
    after = tmp_path / "b" / "resizer.weights.h5"
    results = _run(
        tmp_path / "b",
        *FAST,
        "--resizer",
        "learned",
        "--backbone",
        "simple_cnn",
        "--resizer-weights",
        str(saved),
        "--freeze-resizer",
        "--save-resizer",
        str(after),
    )
    assert results["resizer_trainable_params"] == 0
    trained = _h5_arrays(after)
    assert trained.keys() == reference.keys()
    for name, value in reference.items():
        np.testing.assert_array_equal(trained[name], value, err_msg=name)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    command = [
        sys.executable,
        "-m",
        "training.classification",
        *TINY,
        *FAST,
        "--output-dir",
        str(tmp_path),
        "--strategy",
        "mirrored",
        "--num-logical-cpus",
        "2",
        "--steps-per-epoch",
        "2",
    ]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["num_replicas"] == 2
    assert results["steps_per_epoch"] == 2
    assert results["strategy"] == "mirrored"
    assert "[classification]" in done.stdout


def test_imagenet_path_with_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(
        num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        results = _run(
            tmp_path / "run",
            *FAST,
            "--dataset",
            "imagenet2012",
            "--data-dir",
            str(tmp_path / "tfds"),
            "--manual-dir",
            str(tmp_path / "manual"),
            "--input-size",
            "32",
            "--batch-size",
            "4",
            "--steps-per-epoch",
            "2",
            "--eval-steps",
            "1",
        )
    assert results["num_classes"] == 1000
    assert results["steps_per_epoch"] == 2
    assert math.isfinite(results["test_loss"])
    assert "val_top5" in results


def _write_folder(root):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in ("cat", "dog"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                h, w = int(rng.integers(20, 48)), int(rng.integers(20, 48))
                pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                ext = "png" if i % 2 else "jpg"
                Image.fromarray(pixels).save(folder / f"{i}.{ext}")


def test_image_folder_path(tmp_path):
    _write_folder(tmp_path / "images")
    results = _run(
        tmp_path / "run",
        *FAST,
        "--dataset",
        f"folder:{tmp_path / 'images'}",
        "--input-size",
        "32",
        "--batch-size",
        "4",
    )
    assert results["num_classes"] == 2
    assert results["train_examples"] == 6
    assert results["steps_per_epoch"] == 1
    assert "test_top5" not in results  # Top-5 only for more than 5 classes.
    assert 0.0 <= results["test_accuracy"] <= 1.0


@pytest.mark.parametrize("backbone", sorted(backbones.BACKBONES))
def test_every_backbone_constructs(backbone):
    model = classification.build_model("bilinear", backbone, 64, 32, 7)
    logits = model(np.zeros((2, 64, 64, 3), "float32"))
    assert tuple(logits.shape) == (2, 7)
    assert model.get_layer("backbone").count_params() > 0


def test_bad_names_give_clear_errors(capsys):
    with pytest.raises(SystemExit):
        classification.parse_args(["--resizer", "not_a_resizer"])
    assert "not_a_resizer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        classification.parse_args(["--backbone", "resnet7"])
    assert "resnet7" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        classification.parse_args(["--resizer-arg", "no_equals_sign"])
    assert "no_equals_sign" in capsys.readouterr().err
    with pytest.raises(ValueError, match="resnet7"):
        classification.build_model("bilinear", "resnet7", 64, 16, 10)
    with pytest.raises(ValueError, match="not_a_resizer"):
        classification.build_model("not_a_resizer", "simple_cnn", 64, 16, 10)


def test_resizer_args_are_parsed():
    args = classification.parse_args(
        ["--resizer-arg", "filters=8", "--resizer-arg", "antialias=true"]
    )
    assert args.resizer_kwargs == {"filters": 8, "antialias": True}
    assert options.parse_value("0.5") == 0.5
    assert options.parse_value("bicubic") == "bicubic"


@pytest.mark.parametrize("name", options.SCHEDULES)
def test_schedules_warm_up_then_decay(name):
    schedule = optimization.make_schedule(name, 0.1, total_steps=100, warmup_steps=10)
    lr = [float(schedule(step)) for step in (0, 9, 10, 50, 99)]
    assert lr[0] == pytest.approx(0.01)
    assert lr[1] == pytest.approx(0.1)
    if name == "constant":
        assert lr[2:] == pytest.approx([0.1] * 3)
    else:
        assert lr[2] == pytest.approx(0.1)
        assert lr[2] > lr[3] > lr[4]
    config = schedule.get_config()
    assert optimization.WarmupSchedule(**config).get_config() == config


@pytest.mark.large
def test_learned_resize_benchmark_quick(tmp_path, monkeypatch):
    _require_learned()
    monkeypatch.syspath_prepend(REPO)
    from benchmarks import run

    results = run.main(
        ["--only", "learned_resize", "--quick", "--output-dir", str(tmp_path)]
    )["learned_resize"]
    data = json.loads((tmp_path / "learned_resize.json").read_text())
    assert set(data["summary"]) == {"bilinear", "area", "antialias", "learned"}
    assert len(data["runs"]) == 4
    assert len(data["targets"]) == 2
    assert results["latency"]["learned"]["median_ms_per_image"] > 0
    assert (tmp_path / "learned_resize.png").stat().st_size > 0
    assert "| learned |" in (tmp_path / "learned_resize.md").read_text()
