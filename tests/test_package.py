"""`import keras_resize` alone registers every layer (issue 13, point 2)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SAVE = """
import keras
from keras_resize.layers import LearnedResize, MullerResize, Resize, Zoom, Unzoom
from keras_resize.losses import EarthMoversDistance
inputs = keras.Input((32, 32, 3))
x = Resize(24, 24, interpolation="area")(inputs)
x = LearnedResize(16, 16, filters=4, num_res_blocks=1)(x)
x = MullerResize(16, 16)(x)
zoomed = Zoom(16, 16, grid_shape=(8, 8))(inputs)
x = keras.layers.Concatenate()([x, zoomed])
outputs = keras.layers.Dense(5, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
model = keras.Model(inputs, outputs)
model.compile("sgd", EarthMoversDistance())
model.save(PATH)
"""

LOAD = """
import keras
import keras_resize  # noqa: F401  (only the package: registers its layers)
model = keras.saving.load_model(PATH)
names = sorted({type(layer).__name__ for layer in model.layers})
print(",".join(names))
print(type(model.loss).__name__)
"""


def _run(code, path):
    done = subprocess.run(
        [sys.executable, "-c", code.replace("PATH", repr(str(path)))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_import_keras_resize_registers_every_layer_for_load_model(tmp_path):
    path = tmp_path / "model.keras"
    _run(SAVE, path)
    out = _run(LOAD, path).split()
    for name in ("Resize", "LearnedResize", "MullerResize", "Zoom"):
        assert name in out[0].split(","), out
    assert out[1] == "EarthMoversDistance"


def test_the_package_exposes_its_floors():
    import keras_resize

    for name in ("layers", "losses", "models", "ops", "callbacks"):
        assert hasattr(keras_resize, name), name
    assert callable(keras_resize.export)
