"""The `keras-resize` command line: help, errors as one line, each subcommand."""

import numpy as np
import pytest

from keras_resize import cli


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["export", "--help"],
        ["visualize", "--help"],
        ["list", "--help"],
    ],
)
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    assert "usage: keras-resize" in capsys.readouterr().out


def test_checkout_only_commands_are_not_in_the_cli(capsys):
    """`train` and `compare` need `training/` and `benchmarks/` (a source
    checkout): they run as modules there, not from the installed CLI."""
    for command in ("train", "compare"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command])
        assert exit_info.value.code == 2
        assert "invalid choice" in capsys.readouterr().err


def test_compare_help_reaches_the_benchmark(capsys):
    from benchmarks import compare

    assert compare.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--no-export" in out and "python -m benchmarks.learned_resize" in out


@pytest.mark.parametrize(
    "argv,match",
    [
        (
            [
                "export",
                "--resizer",
                "bogus",
                "--size",
                "4",
                "4",
                "--input-size",
                "8",
                "8",
                "--output",
                "x",
            ],
            "bogus",
        ),
        (
            ["export", "--resizer", "bilinear", "--size", "4", "4", "--output", "x"],
            "--input-size",
        ),
        (
            [
                "export",
                "--pretrained",
                "no-such-weights",
                "--input-size",
                "8",
                "8",
                "--output",
                "x",
            ],
            "no-such-weights",
        ),
        (["visualize", "--image", "no_such_photo.png"], "no_such_photo.png"),
        (["visualize", "--image", "not_an_image.png"], "not a readable image"),
        (["visualize", "--image", "a_folder"], "not a readable image"),
        (["export", "--model", "missing.keras", "--output", "x"], "missing.keras"),
    ],
)
def test_errors_are_one_line(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not_an_image.png").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "a_folder").mkdir()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("keras-resize: error:"), err
    assert match in err[0]


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", "--resizer", "area", "--size", "0", "4", "--output", "x"])
    assert exit_info.value.code == 2
    assert "expected a positive int, got 0" in capsys.readouterr().err


def test_export_a_resizer(tmp_path, capsys):
    argv = [
        "export",
        "--resizer",
        "area",
        "--size",
        "8",
        "12",
        "--input-size",
        "32",
        "48",
    ]
    assert cli.main(argv + ["--output", str(tmp_path)]) == 0
    assert (tmp_path / "model.tflite").exists()
    assert (tmp_path / "saved_model" / "saved_model.pb").exists()
    assert "max |keras - tflite|" in capsys.readouterr().out


def test_export_a_keras_model_int8(tmp_path):
    import keras

    from keras_resize.layers import LearnedResize

    inputs = keras.Input((32, 32, 3))
    keras.Model(inputs, LearnedResize(16, 16, num_res_blocks=0)(inputs)).save(
        tmp_path / "m.keras"
    )
    argv = [
        "export",
        "--model",
        str(tmp_path / "m.keras"),
        "--output",
        str(tmp_path / "out"),
    ]
    assert cli.main(argv + ["--quantize", "int8", "--formats", "tflite"]) == 0
    assert (tmp_path / "out" / "model.tflite").exists()
    assert not (tmp_path / "out" / "saved_model").exists()


def test_visualize_writes_a_png(tmp_path):
    import matplotlib.image

    output = tmp_path / "vis.png"
    argv = [
        "visualize",
        "--image",
        "coffee",
        "--resizers",
        "bilinear",
        "area",
        "learned",
    ]
    assert cli.main(argv + ["--size", "50", "75", "--output", str(output)]) == 0
    image = matplotlib.image.imread(output)
    assert image.shape[0] > 300 and image.shape[1] > 600


def test_visualize_residuals_are_right(tmp_path):
    from keras_resize.layers import Resize

    image = np.random.default_rng(0).random((40, 40, 3)).astype("float32")
    outputs = cli.visualize(
        image,
        {"bilinear": Resize(10, 10), "area": Resize(10, 10, "area")},
        tmp_path / "v.png",
    )
    assert set(outputs) == {"bilinear", "area"}
    assert outputs["area"].shape == (10, 10, 3)
    reference = Resize(10, 10)(image[None])[0].numpy()
    np.testing.assert_allclose(outputs["bilinear"], reference, atol=1e-6)


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "learned" in out and "downsizenet" in out and "presets" in out
    assert "learned-resize-digits-4x" in out


def test_the_console_is_quiet(tmp_path):
    """No TensorFlow, absl or CUDA log lines in what a user runs (issue 13)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "ABSL"))}
    (tmp_path / "bad.png").write_text("not an image")
    for argv in (["list"], ["visualize", "--image", "bad.png"]):
        done = subprocess.run(
            [sys.executable, "-m", "keras_resize.cli", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        noise = [
            line
            for line in (done.stdout + done.stderr).splitlines()
            if any(
                word in line
                for word in ("cuda", "absl", "cuInit", "I0000", "E0000", "W0000")
            )
        ]
        assert not noise, noise
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        done.stderr.strip().splitlines()[0]
    ] and done.stderr.startswith("keras-resize: error:")
