"""The wheel a user installs stands alone (issue 13, point 1).

Builds the wheel, installs it (without dependencies: they are this venv's)
into a temporary folder, and from outside the checkout loads every preset
and runs `keras-resize list`, `export` and `visualize`.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(folder / "dist"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (folder / "dist").glob("keras_resize-*.whl")
    target = folder / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    outside = folder / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "MPLBACKEND": "Agg"}
    env.pop("KERAS_RESIZE_PRESETS", None)
    env.pop("KERAS_RESIZE_SAVED_MODELS", None)
    return wheel, target, outside, env


def _python(code, installed_wheel):
    _, _, outside, env = installed_wheel
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _run_cli(args, installed_wheel):
    _, _, outside, env = installed_wheel
    code = "import sys; from keras_resize.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_wheel_holds_the_presets_and_no_repository_code(installed):
    wheel, _, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    for preset in (
        "learned-resize-digits-4x",
        "downsizenet-digits-4x",
        "zoom-saliency-digits-4x",
        "muller-resnet50-imagenet",
        "bilinear-digits-4x",
    ):
        for part in ("config.json", "metadata.json", "model.weights.h5"):
            assert f"keras_resize/presets/{preset}/{part}" in names, (preset, part)
    # the classifiers shipped beside the digit presets (for `make demo`)
    assert "keras_resize/presets/bilinear-digits-4x/classifier.keras" in names
    assert not [
        n for n in names if n.startswith(("training/", "benchmarks/", "tests/"))
    ]


def test_every_preset_loads_from_the_installed_package(installed):
    _, target, _, _ = installed
    done = _python(
        "import json, numpy as np, keras_resize\n"
        "from keras_resize import presets\n"
        "rows = {}\n"
        "for name in presets.list_presets():\n"
        "    entry = presets.info(name)\n"
        "    layer = presets.load(name)\n"
        "    x = np.random.default_rng(0).random((1, *entry['input_shape']), 'float32')\n"
        "    y = layer(x)\n"
        "    classifier = presets.load_classifier(name)\n"
        "    if classifier is not None:\n"
        "        y = classifier(y)\n"
        "    rows[name] = [type(layer).__name__, bool(np.isfinite(y).all())]\n"
        "print(json.dumps({'file': keras_resize.__file__, 'rows': rows}))\n",
        installed,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(target)), result["file"]
    assert len(result["rows"]) >= 4
    assert all(finite for _, finite in result["rows"].values()), result


def test_the_cli_works_from_the_wheel(installed):
    _, _, outside, _ = installed
    listed = _run_cli(["list"], installed)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "learned-resize-digits-4x" in listed.stdout
    exported = _run_cli(
        ["export", "--preset", "muller-resnet50-imagenet", "--output", "exported"],
        installed,
    )
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert (outside / "exported" / "model.tflite").is_file()
    assert (outside / "exported" / "saved_model" / "saved_model.pb").is_file()
    shown = _run_cli(
        [
            "visualize",
            "--image",
            "coins",
            "--preset",
            "learned-resize-digits-4x",
            "--output",
            "figure.png",
        ],
        installed,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert (outside / "figure.png").stat().st_size > 10_000
