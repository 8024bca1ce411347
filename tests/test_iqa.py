"""Image-quality assessment: the AVA.txt format, the offline fixture, the
correlation metrics and an end-to-end `training.iqa` run on a tiny fixture."""

import json
import os

import numpy as np
import pytest
import scipy.stats

from keras_resize.data import (
    ava_dataset,
    check_image,
    load_ava,
    make_quality_fixture,
    mean_score,
    parse_ava_txt,
    split_ids,
    write_ava_txt,
)
from keras_resize.metrics import (
    pearson_correlation,
    rank_average,
    spearman_correlation,
)

AVA_LINES = """\
1 953619 0 1 5 17 38 36 15 6 5 1 1 22 1396
2 953958 10 7 15 26 26 21 10 8 1 2 1 21 1396

3 954184 0 0 4 8 41 56 10 5 4 0 0 0 1396
"""


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("quality_fixture")
    info = make_quality_fixture(
        str(directory), num_images=16, seed=3, num_missing=2, num_corrupt=2
    )
    return info


# ----------------------------------------------------------------------------
# Parser.


def test_parse_hand_written_rows(tmp_path):
    path = tmp_path / "AVA.txt"
    path.write_text(AVA_LINES)
    table = parse_ava_txt(str(path))
    np.testing.assert_array_equal(table["indices"], [1, 2, 3])
    np.testing.assert_array_equal(table["image_ids"], [953619, 953958, 954184])
    np.testing.assert_array_equal(table["votes"][0], [0, 1, 5, 17, 38, 36, 15, 6, 5, 1])
    np.testing.assert_array_equal(table["tags"], [[1, 22], [1, 21], [0, 0]])
    np.testing.assert_array_equal(table["challenge_ids"], [1396] * 3)
    assert table["votes"].dtype == np.int64 and table["votes"].shape == (3, 10)
    assert table["malformed_lines"] == []


@pytest.mark.parametrize(
    "bad_row",
    [
        "4 954185 0 0 4 8 41 56 10 5 4 0 0 1396",  # 14 columns
        "4 954185 0 0 4 8 41 56 10 5 4 0 0 0 1396 7",  # 16 columns
        "4 954185 0 0 4 8 4x 56 10 5 4 0 0 0 1396",  # not an integer
        "4 954185 0 0 4 8 -1 56 10 5 4 0 0 0 1396",  # negative count
    ],
)
def test_parse_malformed_row(tmp_path, bad_row):
    path = tmp_path / "AVA.txt"
    path.write_text(AVA_LINES + bad_row + "\n")
    with pytest.raises(ValueError, match=r"line 5.*" + bad_row.split()[1]):
        parse_ava_txt(str(path))
    table = parse_ava_txt(str(path), strict=False)
    assert len(table["image_ids"]) == 3
    assert table["malformed_lines"] == [(5, bad_row)]


def test_write_parse_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    votes = rng.integers(0, 30, (5, 10))
    path = write_ava_txt(
        str(tmp_path / "AVA.txt"), np.arange(5) + 10, votes, [[1, 2]] * 5, [9] * 5
    )
    table = parse_ava_txt(path)
    np.testing.assert_array_equal(table["votes"], votes)
    np.testing.assert_array_equal(table["indices"], np.arange(1, 6))


def test_mean_score():
    assert mean_score(np.eye(10)[3]) == pytest.approx(4.0)
    np.testing.assert_allclose(mean_score([[1] * 10, [2] * 10]), [5.5, 5.5])
    with pytest.raises(ValueError, match="10 buckets"):
        mean_score(np.ones(9))


def test_split_ids_deterministic_and_disjoint():
    ids = np.arange(100, 200)
    a = split_ids(ids, seed=1)
    b = split_ids(ids[::-1], seed=1)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(a[name], b[name])
    assert sorted(np.concatenate(list(a.values()))) == list(ids)
    assert [len(a[k]) for k in ("train", "val", "test")] == [80, 10, 10]
    assert not np.array_equal(split_ids(ids, seed=2)["test"], a["test"])
    with pytest.raises(ValueError, match="fractions"):
        split_ids(ids, fractions=(0.5, 0.5, 0.5))


# ----------------------------------------------------------------------------
# Fixture.


def test_fixture_files_follow_the_format(fixture_dir):
    info = fixture_dir
    rows = [line.split() for line in open(info["ava_txt"]).read().splitlines()]
    assert len(rows) == 16 + 2 + 2
    for k, row in enumerate(rows, start=1):
        assert len(row) == 15
        values = [int(v) for v in row]  # all integers
        assert values[0] == k
        assert sum(values[2:12]) > 0
        assert 50 <= sum(values[2:12]) <= 200
    ids = [int(row[1]) for row in rows]
    assert len(set(ids)) == len(ids)
    files = set(os.listdir(info["image_dir"]))
    assert files == {f"{i}.jpg" for i in ids if i not in info["missing_ids"]}
    np.testing.assert_array_equal(info["image_ids"], ids[:16])
    table = parse_ava_txt(info["ava_txt"])
    np.testing.assert_array_equal(table["votes"][:16], info["votes"])


def test_fixture_is_deterministic(tmp_path, fixture_dir):
    again = make_quality_fixture(
        str(tmp_path), num_images=16, seed=3, num_missing=2, num_corrupt=2
    )
    assert open(again["ava_txt"]).read() == open(fixture_dir["ava_txt"]).read()
    name = f"{fixture_dir['image_ids'][0]}.jpg"
    assert (
        open(os.path.join(again["image_dir"], name), "rb").read()
        == open(os.path.join(fixture_dir["image_dir"], name), "rb").read()
    )


def test_fixture_ratings_fall_with_distortion(fixture_dir):
    info = fixture_dir
    scores = mean_score(info["votes"])
    np.testing.assert_allclose(scores, info["mean_scores"])
    assert spearman_correlation(info["strengths"], scores) < -0.8
    assert set(info["distortions"]) <= {"blur", "noise", "jpeg"}


# ----------------------------------------------------------------------------
# Loading: missing and corrupt images are skipped and counted.


def test_missing_and_corrupt_images_are_skipped_and_counted(fixture_dir):
    info = fixture_dir
    data = load_ava(info["ava_txt"], info["image_dir"])
    counts = data["counts"]
    assert counts["rows"] == counts["selected"] == 20
    assert counts["missing"] == 2 and counts["unreadable"] == 2
    assert counts["used"] == 16
    assert sorted(data["skipped"]["missing"]) == sorted(info["missing_ids"])
    assert sorted(data["skipped"]["unreadable"]) == sorted(info["corrupt_ids"])
    np.testing.assert_array_equal(data["image_ids"], info["image_ids"])
    np.testing.assert_allclose(data["distributions"].sum(axis=1), 1.0, rtol=1e-6)
    for corrupt in info["corrupt_ids"]:
        path = os.path.join(info["image_dir"], f"{corrupt}.jpg")
        assert check_image(path, "header") == "unreadable"
        assert check_image(path, "decode") == "unreadable"
        assert check_image(path, "exists") == "ok"
    # Even unchecked, the pipeline drops undecodable files instead of failing.
    unchecked = load_ava(info["ava_txt"], info["image_dir"], check="exists")
    assert unchecked["counts"]["used"] == 18
    ds = ava_dataset(unchecked, (24, 24), batch_size=None)
    assert sum(1 for _ in ds) == 16


def test_splits_and_id_lists(fixture_dir, tmp_path):
    info = fixture_dir
    parts = {
        s: load_ava(info["ava_txt"], info["image_dir"], split=s, seed=5)
        for s in ("train", "val", "test")
    }
    used = np.concatenate([p["image_ids"] for p in parts.values()])
    assert sorted(used) == sorted(info["image_ids"])
    id_list = tmp_path / "test.jpgl"
    id_list.write_text("\n".join(str(i) for i in info["image_ids"][:3]) + "\n")
    listed = load_ava(info["ava_txt"], info["image_dir"], split=str(id_list))
    np.testing.assert_array_equal(listed["image_ids"], info["image_ids"][:3])
    by_ids = load_ava(info["ava_txt"], info["image_dir"], split=info["image_ids"][:2])
    assert by_ids["counts"]["used"] == 2
    with pytest.raises(ValueError, match="split"):
        load_ava(info["ava_txt"], info["image_dir"], split="validation")


def test_rows_without_votes_are_skipped(tmp_path, fixture_dir):
    info = fixture_dir
    table = parse_ava_txt(info["ava_txt"])
    votes = table["votes"].copy()
    votes[0] = 0
    path = write_ava_txt(str(tmp_path / "AVA.txt"), table["image_ids"], votes)
    data = load_ava(path, info["image_dir"])
    assert data["counts"]["no_votes"] == 1 and data["counts"]["used"] == 15


def test_dataset_shapes_and_values(fixture_dir):
    data = load_ava(fixture_dir["ava_txt"], fixture_dir["image_dir"])
    ds = ava_dataset(data, (40, 48), batch_size=8, shuffle=True, augment=True)
    batches = list(ds)
    assert [int(b[0].shape[0]) for b in batches] == [8, 8]
    images, dists = batches[0]
    assert tuple(images.shape) == (8, 40, 48, 3) and images.dtype == "float32"
    assert 0.0 <= float(np.min(images)) and float(np.max(images)) <= 1.0
    np.testing.assert_allclose(np.sum(dists, axis=1), 1.0, rtol=1e-5)


# ----------------------------------------------------------------------------
# Correlation metrics against scipy.


@pytest.mark.parametrize("seed", range(5))
def test_correlations_match_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    x = rng.integers(0, 6, n).astype(float)  # many ties
    y = x + rng.integers(-2, 3, n) + rng.normal(0, 1, n).round(0)
    assert spearman_correlation(x, y) == pytest.approx(
        scipy.stats.spearmanr(x, y)[0], abs=1e-12
    )
    assert pearson_correlation(x, y) == pytest.approx(
        scipy.stats.pearsonr(x, y)[0], abs=1e-12
    )
    u, v = rng.normal(size=n), rng.normal(size=n)
    assert spearman_correlation(u, v) == pytest.approx(
        scipy.stats.spearmanr(u, v)[0], abs=1e-12
    )
    assert pearson_correlation(u, v) == pytest.approx(
        scipy.stats.pearsonr(u, v)[0], abs=1e-12
    )


def test_rank_average_matches_scipy():
    x = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
    np.testing.assert_array_equal(rank_average(x), scipy.stats.rankdata(x))


def test_correlation_edge_cases():
    assert np.isnan(spearman_correlation([1, 1, 1], [1, 2, 3]))
    assert np.isnan(pearson_correlation([1, 2, 3], [2, 2, 2]))
    with pytest.raises(ValueError, match="same number"):
        pearson_correlation([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        spearman_correlation([1], [1])
    with pytest.raises(ValueError, match="finite"):
        spearman_correlation([1, np.nan], [1, 2])


# ----------------------------------------------------------------------------
# End to end.


def test_training_iqa_end_to_end_on_fixture(tmp_path):
    from training import iqa

    output = tmp_path / "run"
    args = iqa.parse_args(
        [
            "--fixture", "24",
            "--fixture-missing", "1",
            "--fixture-corrupt", "1",
            "--fixture-image-size", "64", "96",
            "--input-size", "64",
            "--image-size", "32",
            "--backbone", "simple_cnn",
            "--epochs", "1",
            "--batch-size", "4",
            "--split-fractions", "0.5", "0.25", "0.25",
            "--latency-repeats", "2",
            "--output-dir", str(output),
            "--verbose", "0",
        ]
    )  # fmt: skip
    results = iqa.run(args)
    written = json.loads((output / "results.json").read_text())
    for key in ("test_emd", "test_srcc", "test_plcc"):
        assert written[key] is not None and np.isfinite(written[key]), key
        assert results[key] == pytest.approx(written[key])
    assert 0.0 <= written["test_emd"] <= 1.0
    assert -1.0 <= written["test_srcc"] <= 1.0 and -1.0 <= written["test_plcc"] <= 1.0
    counts = written["data_counts"]
    assert written["skipped_missing"] == 1 and written["skipped_unreadable"] == 1
    assert sum(counts[s]["used"] for s in ("train", "val", "test")) == 24
    assert written["test_images"] == counts["test"]["used"] >= 3
    assert written["test_decode_failures"] == 0
    assert written["train_images_per_sec"] > 0
    assert written["resizer"] == "bilinear" and written["image_size"] == 32
    skipped = json.loads((output / "skipped_images.json").read_text())
    assert sum(len(skipped[s]["missing"]) for s in ("train", "val", "test")) == 1
    with pytest.raises(SystemExit):
        iqa.parse_args(["--output-dir", str(output)])  # no data source


@pytest.mark.large  # ~25 s alone: a subprocess with 2 logical CPUs (classification covers mirrored by default)
def test_training_iqa_mirrored_with_partial_batches(tmp_path):
    """Two logical CPUs (a fresh process): val/test sizes that leave partial
    batches must neither crash nor lose test images."""
    import subprocess
    import sys

    output = tmp_path / "run"
    command = [
        sys.executable, "-m", "training.iqa",
        "--strategy", "mirrored", "--num-logical-cpus", "2",
        "--fixture", "21",
        "--fixture-image-size", "48", "64",
        "--input-size", "48", "--image-size", "24",
        "--backbone", "simple_cnn",
        "--epochs", "1", "--batch-size", "4",
        "--split-fractions", "0.5", "0.25", "0.25",
        "--no-flops", "--latency-repeats", "1",
        "--output-dir", str(output), "--verbose", "0",
    ]  # fmt: skip
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads((output / "results.json").read_text())
    assert written["num_replicas"] == 2
    assert written["test_images"] == written["data_counts"]["test"]["used"]
    assert written["test_images"] % 4 != 0  # a partial last batch was padded
    assert np.isfinite(written["test_emd"]) and np.isfinite(written["test_plcc"])
