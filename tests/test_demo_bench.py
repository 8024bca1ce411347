"""Smoke tests for `make demo` and `make bench` (quick modes, tiny inputs)."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_quick_writes_png(tmp_path, capsys):
    from keras_resize import demo

    out = demo.main(["--quick", "--output-dir", str(tmp_path), "--repeats", "1"])
    png = tmp_path / "resize_methods.png"
    assert out["figure"] == png
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "box average" in printed and str(png.resolve()) in printed
    labels = [row["label"] for row in out["results"]]
    assert labels == list(demo.QUICK_METHODS)


def test_box_downsize_and_psnr():
    import numpy as np

    from keras_resize.demo import PSNR_CAP, box_downsize, psnr

    image = np.arange(4 * 8 * 1, dtype=np.float32).reshape(4, 8, 1)
    down = box_downsize(image, 2)
    assert down.shape == (2, 4, 1)
    assert down[0, 0, 0] == np.mean([0, 1, 8, 9])
    assert psnr(down, down) == PSNR_CAP
    assert abs(psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)) - 20.0) < 1e-9


def test_resize_benchmark_quick_writes_results(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import resize_speed, run

    results = run.main(
        [
            "--only",
            "resize_speed",
            "--quick",
            "--output-dir",
            str(tmp_path),
            "--repeats",
            "1",
            "--batch",
            "1",
        ]
    )
    assert set(results) == {"resize_speed"}
    data = json.loads((tmp_path / "resize_speed.json").read_text())
    assert {"config", "environment", "rows", "targets", "command"} <= set(data)
    assert {"tensorflow", "cpu_count", "date"} <= set(data["environment"])
    assert data["config"]["in_size"] == [256, 512] and data["config"]["batch"] == 1
    assert [row["case"] for row in data["rows"]] == [c[0] for c in resize_speed.CASES]
    for row in data["rows"]:
        for impl in resize_speed.IMPLS:
            entry = row[impl]
            assert {"median_ms", "min_ms", "runs_ms", "ratio_to_tf_bilinear"} <= set(
                entry
            )
            assert len(entry["runs_ms"]) == 1
        assert row["max_abs_diff_vs_tf"]["ours_fused"] < 1e-4
    assert len(data["targets"]) == len(resize_speed.TARGETS)
    assert all(isinstance(t["met"], bool) for t in data["targets"])
    markdown = (tmp_path / "resize_speed.md").read_text()
    assert "| bilinear |" in markdown and "python -m benchmarks.run" in markdown
