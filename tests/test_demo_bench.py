"""Smoke tests for `make demo` and `make bench` (quick modes, tiny inputs)."""

import argparse
import json
from pathlib import Path

import pytest

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
    # part 1: the presets with their classifiers, bilinear first
    presets = out["presets"]
    assert next(iter(presets)) == demo.PRESET_BASELINE
    assert "vs bilinear" in printed
    for row in presets.values():
        assert 0.0 <= row["accuracy"] <= 1.0


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
    # The TensorFlow process only, two methods: the JAX process is exercised
    # by tests/test_no_tensorflow.py, and the merge by the markdown test below.
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import resize_speed, run

    results = run.main(
        ["--only", "resize_speed", "--quick", "--output-dir", str(tmp_path),
         "--repeats", "1", "--batch", "1", "--backends", "tensorflow",
         "--cases", "bilinear", "area"]
    )  # fmt: skip
    assert set(results) == {"resize_speed"}
    data = json.loads((tmp_path / "resize_speed.json").read_text())
    assert {"config", "environment", "backends", "targets", "command"} <= set(data)
    assert {"cpu_count", "date", "load_average_after"} <= set(data["environment"])
    assert data["config"]["in_size"] == [256, 512] and data["config"]["batch"] == 1
    assert list(data["backends"]) == ["tensorflow"]
    result = data["backends"]["tensorflow"]
    assert result["status"] == "ok", result
    assert result["info"]["framework"].startswith("TensorFlow")
    assert [row["case"] for row in result["rows"]] == ["bilinear", "area"]
    for row in result["rows"]:
        for impl in resize_speed.IMPLS["tensorflow"]:
            entry = row[impl]
            assert {"median_ms", "min_ms", "runs_ms", "ratio_to"} <= set(entry)
            assert len(entry["runs_ms"]) == 1
        assert row["max_abs_diff"]["ours_fused_vs_tf"] < 1e-4
    assert [(t["backend"], t["case"]) for t in data["targets"]] == [
        ("tensorflow", "bilinear"),
        ("tensorflow", "area"),
    ]
    assert all(isinstance(t["met"], bool) for t in data["targets"])
    markdown = (tmp_path / "resize_speed.md").read_text()
    assert "| bilinear |" in markdown and "python -m benchmarks.run" in markdown
    assert str(ROOT) not in markdown and str(ROOT) not in json.dumps(data)


def _fake_backend_result(backend, cases):
    from benchmarks import resize_speed

    def entry(ms, references):
        return {"median_ms": ms, "min_ms": ms, "runs_ms": [ms], "warmup_s": 0.1,
                "ratio_to_reference_bilinear": ms / 10.0,
                "ratio_to": {r: ms / 10.0 for r in references},
                "paired_ratio_to": {r: ms / 10.0 for r in references}}  # fmt: skip

    impls = resize_speed.IMPLS[backend]
    references = resize_speed.REFERENCES[backend]
    rows = []
    for case in cases:
        row = {"case": case, "method": case, "antialias": False, "note": "",
               "max_abs_diff": {f"{impls[-1]}_vs_{impls[0]}": 1e-7},
               "tf_limits": ""}  # fmt: skip
        for impl in impls:
            row[impl] = entry(5.0 if impl.startswith("ours") else 10.0, references)
        rows.append(row)
    return {"status": "ok", "reference": impls[0],
            "reference_bilinear_median_ms": 10.0, "impls": list(impls),
            "info": {"framework": backend, "keras": "3", "device": "CPU"},
            "rows": rows, "errors": {}, "load_average_after": [1.0, 1.0, 1.0]}  # fmt: skip


def test_resize_benchmark_merges_backends_into_one_markdown(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import resize_speed

    cases = ("bilinear", "area", "bilinear+antialias")
    backends = {b: _fake_backend_result(b, cases) for b in ("tensorflow", "jax")}
    backends["torch"] = {"status": "unavailable", "reason": "no torch here"}
    targets = resize_speed._targets(backends)
    # TF: bilinear, area, antialias; JAX: bilinear, antialias vs both references.
    assert len(targets) == 3 + 4 and all(t["met"] for t in targets)
    results = {
        "config": {"batch": 1, "in_size": [8, 8], "out_size": [4, 4], "repeats": 1},
        "environment": {"cpu_usable": 2, "cpu_model": "cpu", "date": "today",
                        "load_average_before": [1.0], "load_average_after": [2.0]},
        "backends": backends,
        "targets": targets,
        "command": "python -m benchmarks.run --only resize_speed",
    }  # fmt: skip
    markdown = resize_speed.to_markdown(results)
    assert "## TensorFlow" in markdown and "## JAX" in markdown
    assert "## PyTorch" in markdown and "no torch here" in markdown
    assert markdown.count("MET: ") == 7 and "NOT MET" not in markdown


@pytest.mark.large  # compiles eight XLA-fused functions: ~40 s alone
def test_zoom_speed_quick_writes_results(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import run

    run.main(["--only", "zoom_speed", "--quick", "--output-dir", str(tmp_path),
              "--rounds", "1"])  # fmt: skip
    data = json.loads((tmp_path / "zoom_speed.json").read_text())
    names = [row["name"] for row in data["rows"]]
    assert names[0] == "tf.image.resize bilinear" and len(names) == 8
    assert data["rows"][0]["ratio_to_tf_resize"] == 1.0
    assert len(data["targets"]) == 2
    assert "Zoom fixed separable" in (tmp_path / "zoom_speed.md").read_text()


def test_segmentation_benchmark_summary_and_markdown(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import segmentation_dsrl as bench

    runs = [
        {"variant": v, "seed": s, "test_mean_iou": m + 0.01 * s,
         "test_per_class_iou": [m] * 11, "test_pixel_accuracy": 0.9,
         "train_images_per_sec": 10.0, "training_params": 5, "inference_params": 4}
        for v, m in (("bilinear", 0.5), ("dsrl", 0.52)) for s in range(3)
    ]  # fmt: skip
    summary = bench._summarise(runs, ("bilinear", "dsrl"))
    assert summary["dsrl"]["test_mean_iou_mean"] == pytest.approx(0.53)
    assert summary["bilinear"]["test_mean_iou_std"] == pytest.approx(0.01)
    (target,) = bench._targets(summary)
    assert target["met"] and target["margin"] == pytest.approx(0.02)
    summary["dsrl"]["test_mean_iou_mean"] = 0.515
    assert not bench._targets(summary)[0]["met"]
    results = {
        "config": bench.FULL, "environment": {}, "summary": summary,
        "targets": bench._targets(summary), "total_time_s": 60.0,
        "command": "python -m benchmarks.segmentation_dsrl", "figure": None,
    }  # fmt: skip
    markdown = bench.to_markdown(results)
    assert "(d) SSSR + SISR + FA" in markdown and "NOT MET" in markdown


def test_detection_benchmark_summary_targets_markdown_and_plot(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import detection_lzu as bench

    aps = {"uniform": 0.20, "fovea": 0.23, "lzu": 0.22}
    runs = [
        {"front_end": f, "scale": scale, "seed": s,
         "train_images_per_sec": 10.0, "wall_time_s": 60.0, "detector_params": 7}
        | {f"test_{m}": aps[f] * scale + 0.01 * s for m in bench.METRICS}
        for scale in (0.25, 0.5) for f in bench.FRONT_ENDS for s in range(2)
    ]  # fmt: skip
    config = dict(bench.FULL, front_ends=bench.FRONT_ENDS)
    summary = bench._summarise(runs, config)
    assert len(summary) == 6
    lzu = next(r for r in summary if r["front_end"] == "lzu" and r["scale"] == 0.5)
    assert lzu["AP_mean"] == pytest.approx(0.115) and lzu["seeds"] == 2
    assert lzu["AP_per_seed"] == pytest.approx([0.11, 0.12])
    targets = {t["target"]: t for t in bench._targets(summary)}
    assert targets["LZU beats uniform AP at 0.5x"]["met"]
    assert targets["LZU beats uniform AP at 0.5x"]["margin"] == pytest.approx(0.01)
    assert not targets["LZU AP >= FOVEA AP at 0.25x"]["met"]
    results = {
        "config": config, "environment": {"cpu_usable": 2, "tensorflow": "x"},
        "summary": summary, "targets": bench._targets(summary),
        "total_time_s": 60.0, "command": "python -m benchmarks.detection_lzu",
    }  # fmt: skip
    results["figure"] = str(bench.plot(results, tmp_path / "detection_lzu.png"))
    assert (tmp_path / "detection_lzu.png").read_bytes()[:4] == b"\x89PNG"
    markdown = bench.to_markdown(results)
    assert "one class: digit" in markdown and "NOT MET" in markdown
    assert "| 0.5x | LZU (zoom, unzoom features) | 11.5 +- 0.7 |" in markdown
    assert "![AP per front end](detection_lzu.png)" in markdown


def test_detection_benchmark_finished_only_summarises_what_exists(
    tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import detection_lzu as bench

    runs_dir = tmp_path / "runs"
    finished = [
        ("uniform", 0.25, 0),
        ("lzu", 0.25, 0),
        ("lzu", 0.25, 1),
        ("lzu", 0.5, 0),
    ]
    for front_end, scale, seed in finished:
        run_dir = runs_dir / f"{front_end}_scale{scale:g}_seed{seed}"
        run_dir.mkdir(parents=True)
        result = {f"test_{m}": 0.1 + seed / 10 for m in bench.METRICS} | {
            "train_images_per_sec": 5.0,
            "wall_time_s": 9.0,
            "detector_params": 3,
        }
        (run_dir / "results.json").write_text(json.dumps(result))
    logged = []
    parser = bench.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(
        ["--finished-only", "--runs-dir", str(runs_dir), "--output-dir",
         str(tmp_path / "out"), "--seeds", "0", "1"]
    )  # fmt: skip
    results = bench.run(args, command="cmd", log=logged.append)
    assert len(results["runs"]) == 4  # nothing was trained
    assert sum(line.startswith("[detection_lzu] not run") for line in logged) == 8
    rows = {(r["front_end"], r["scale"]): r for r in results["summary"]}
    assert rows[("lzu", 0.25)]["seeds"] == 2
    assert rows[("lzu", 0.25)]["AP_mean"] == pytest.approx(0.15)
    assert ("fovea", 0.25) not in rows
    assert (tmp_path / "out" / "detection_lzu.png").exists()


def test_runs_dir_and_reuse(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import common

    parser = common.add_runs_arguments(argparse.ArgumentParser(), "name")
    args = parser.parse_args([])
    assert common.runs_dir(args, tmp_path, "name") == common.RUNS_DIR / "name"
    args.quick = True
    assert common.runs_dir(args, tmp_path, "name") == tmp_path / "name_runs"
    args = parser.parse_args(["--runs-dir", str(tmp_path / "mine"), "--reuse-runs"])
    assert common.runs_dir(args, tmp_path, "name") == tmp_path / "mine"

    class Script:
        calls = []

        @staticmethod
        def parse_args(argv):
            return list(argv)

        @staticmethod
        def run(parsed):
            Script.calls.append(parsed)
            return {"trained": parsed}

    logged = []
    run_dir = tmp_path / "run"
    # No finished run yet: trains, even with --reuse-runs.
    assert common.train_or_reuse(run_dir, Script, ["a"], args, logged.append, "x") == {
        "trained": ["a"]
    }
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps({"reused": 1}))
    assert common.train_or_reuse(run_dir, Script, ["b"], args, logged.append, "x") == {
        "reused": 1
    }
    assert Script.calls == [["a"]]
    assert logged[0].startswith("training x") and logged[1].startswith("reusing x")
    # Without --reuse-runs a finished run is trained again.
    args.reuse_runs = False
    common.train_or_reuse(run_dir, Script, ["c"], args, logged.append, "x")
    assert Script.calls == [["a"], ["c"]]


def test_learned_resize_short_run_has_no_verdicts():
    """One seed is a quick look: margins, never MET / NOT MET (issue 13)."""
    import copy
    import json
    from pathlib import Path

    from benchmarks import learned_resize

    path = Path(learned_resize.__file__).parent / "results" / "learned_resize.json"
    full = json.loads(path.read_text())
    assert len(full["config"]["seeds"]) == 3
    assert "MET: " in learned_resize.to_markdown(full)
    short = copy.deepcopy(full)
    short["config"]["seeds"] = [0]
    markdown = learned_resize.to_markdown(short)
    assert "a short run" in markdown and "no verdict on one seed" in markdown
    verdicts = [
        line
        for line in markdown.splitlines()
        if "MET" in line and "within 5x bilinear" not in line  # speed, not accuracy
    ]
    assert not verdicts, verdicts
