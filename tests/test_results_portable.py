"""Results travel: committed benchmark results hold no path of the machine
that produced them (issue 13, point 9)."""

import re
from pathlib import Path

from benchmarks.common import ROOT, repository_relative

RESULT_FILES = sorted(
    path
    for path in (ROOT / "benchmarks" / "results").rglob("*")
    if path.suffix in (".json", ".md") and "quick" not in path.parts
)
ABSOLUTE = re.compile(r"(?<![\w.])/(?:home|root|work|tmp|Users|mnt|data)/")


def test_there_are_results_to_check():
    assert len(RESULT_FILES) >= 10


def test_no_result_file_holds_an_absolute_path():
    offenders = {}
    root = str(ROOT)
    for path in RESULT_FILES:
        text = path.read_text()
        hits = [line for line in text.splitlines() if root in line]
        hits += [line for line in text.splitlines() if ABSOLUTE.search(line)]
        if hits:
            offenders[path.relative_to(ROOT).as_posix()] = hits[:2]
    assert not offenders, offenders


def test_repository_relative_rewrites_paths_inside_the_root_only(tmp_path):
    root = tmp_path / "repo"
    results = {
        "run_dir": str(root / "runs" / "a"),
        "figure": root / "benchmarks" / "x.png",
        "rows": [{"run_dir": str(root / "runs" / "b")}, 3, None],
        "pair": (str(root / "c"), "/elsewhere/d"),
        "name": "repo",
        "sibling": str(tmp_path / "repository" / "e"),
    }
    got = repository_relative(results, root=root)
    assert got == {
        "run_dir": "runs/a",
        "figure": "benchmarks/x.png",
        "rows": [{"run_dir": "runs/b"}, 3, None],
        "pair": ("c", "/elsewhere/d"),
        "name": "repo",
        "sibling": str(tmp_path / "repository" / "e"),
    }
    assert isinstance(Path(got["run_dir"]), Path)
