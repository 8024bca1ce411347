"""Every tutorial runs end to end in its `--smoke` mode and saves its figure.

The tutorials are keras-io style scripts (prose between code cells); they
run in this process with `runpy` (saves a TensorFlow import per script).
"""

import runpy
import sys
from pathlib import Path

import keras
import pytest

TUTORIALS = sorted(
    (Path(__file__).resolve().parents[1] / "tutorials").glob("[0-9]*.py")
)
FIGURES = {
    "01_quickstart_learned_resize.py": "01_quickstart.png",
    "02_downsizenet_pretrain_and_reuse.py": "02_downsizenet.png",
    "03_zoom_unzoom_detection.py": "03_zoom_grid.png",
    "04_dsrl_segmentation.py": "04_dsrl.png",
    "05_export_tflite.py": "05_export.png",
}


def test_every_tutorial_is_listed():
    assert [p.name for p in TUTORIALS] == sorted(FIGURES)
    readme = (TUTORIALS[0].parent / "README.md").read_text()
    missing = [p.name for p in TUTORIALS if f"]({p.name})" not in readme]
    assert not missing, f"tutorials/README.md does not list {missing}"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_smoke(path, tmp_path, monkeypatch, tmp_path_factory):
    monkeypatch.setenv(
        "KERAS_RESIZE_CACHE", str(tmp_path_factory.getbasetemp() / "canvas_cache")
    )
    monkeypatch.setattr(
        sys, "argv", [str(path), "--smoke", "--output-dir", str(tmp_path)]
    )
    keras.backend.clear_session()
    runpy.run_path(str(path), run_name="__main__")
    assert (tmp_path / FIGURES[path.name]).stat().st_size > 10_000


def test_tutorials_have_the_keras_io_header():
    for path in TUTORIALS:
        head = path.read_text().split('"""')[1]
        for field in ("Title:", "Author:", "Date created:", "Description:"):
            assert field in head, f"{path.name} lacks {field}"
        assert "--smoke" in path.read_text()
        assert "validation_data" in path.read_text(), path.name
