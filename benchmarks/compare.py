"""The short resizer comparison of `make demo`, then the best one exported.

Fixed resizers (bilinear, area, antialiased bilinear) against `LearnedResize`
on the offline digit canvases (256 -> 64 px): `benchmarks.learned_resize` on a
shortened schedule (1 seed, 800 training canvases, 3 epochs), labelled as a
short run (no target verdicts on one seed). `--full` runs the benchmark's own
3-seed schedule instead. The resizer with the best mean test accuracy is then
exported to SavedModel + TFLite (builtin ops only) with its report
(`--no-export` to skip).

Run from a source checkout with `python -m benchmarks.compare [--full]`;
other arguments go to `python -m benchmarks.learned_resize` (`--help` shows
them).
"""

import argparse
import sys
from pathlib import Path

# The shortened schedule of `make demo` (the full one is `--full`).
DEMO_ARGS = (
    "--resizers bilinear area antialias learned "
    "--seeds 0 --train-size 800 --val-size 200 --test-size 1000 --epochs 3 "
    "--output-dir demo_outputs --runs-dir demo_outputs/runs"
).split()
OWN = ("--full", "--no-export")


def export_best(results, path):
    """Export the comparison's best resizer (highest mean test accuracy) to
    SavedModel + TFLite (builtin ops only) and print the report."""
    import keras

    import keras_resize
    from benchmarks import learned_resize

    summary = results["summary"]
    best = max(summary, key=lambda name: summary[name]["test_accuracy_mean"] or 0)
    layer = learned_resize._build_resizers(results["config"], results["runs"])[best]
    size = results["config"]["input_size"]
    inputs = keras.Input((size, size, 3), name="images")
    model = keras.Model(inputs, layer(inputs))
    accuracy = 100 * summary[best]["test_accuracy_mean"]
    print(f"Best resizer: {best} ({accuracy:.1f} % test accuracy); exporting to {path}")
    return keras_resize.export(model, path)


def main(argv=None):
    from keras_resize.console import quiet_framework_logs

    quiet_framework_logs()
    argv = list(sys.argv[1:] if argv is None else argv)
    full, no_export = "--full" in argv, "--no-export" in argv
    rest = [a for a in argv if a not in OWN]
    from benchmarks import learned_resize

    argv = rest if full else DEMO_ARGS + rest
    if "--help" in argv or "-h" in argv:
        print(__doc__.strip().split("\n\n")[0] + "\n")
        print(f"Own options: {', '.join(OWN)}. The others:\n", flush=True)
        try:
            learned_resize.main(argv)
        except SystemExit as exit_:  # argparse's --help
            return exit_.code or 0
        return 0
    results = learned_resize.main(argv)
    if no_export:
        return 0
    parsed = learned_resize.add_arguments(argparse.ArgumentParser()).parse_args(argv)
    output_dir = learned_resize.common.output_dir(parsed)
    export_best(results, Path(output_dir) / "best_resizer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
