"""Runs the benchmarks: `python -m benchmarks.run` (what `make bench` calls).

Options:
    --only NAME      run one benchmark (repeatable); `--list` shows the names.
    --quick          smoke-test sizes (seconds, not minutes); quick results go
                     to `benchmarks/results/quick/` so committed results stay.
    --output-dir D   write results to D instead of `benchmarks/results/`.

Any other option is passed to the selected benchmark(s), e.g.
`python -m benchmarks.run --only resize_speed --repeats 11`; see
`python -m benchmarks.resize_speed --help` for a benchmark's own options.
"""

import argparse
import importlib
import shlex
import sys
import time

# Module names under `benchmarks/`, run in this order. Each module defines
# `NAME`, `add_arguments(parser)` (accepting --quick and --output-dir) and
# `run(args, command=None)`. Add training benchmarks here.
BENCHMARKS = (
    "resize_speed",
    "downsizenet_cost",
    "zoom_speed",
    "learned_resize",
    "downsizenet_accuracy",
    "segmentation_dsrl",
    "detection_lzu",
)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Run the keras_resize benchmarks.",
        epilog="Other options are passed to the selected benchmark(s).",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable); one of {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--list", action="store_true", help="list benchmarks and exit")
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument(
        "--output-dir", help="results folder (default benchmarks/results)"
    )
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args, rest = _parser().parse_known_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return {}
    names = args.only or list(BENCHMARKS)
    command = shlex.join(["python", "-m", "benchmarks.run", *argv])
    results = {}
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        module_argv = list(rest)
        if args.quick:
            module_argv.append("--quick")
        if args.output_dir is not None:
            module_argv += ["--output-dir", args.output_dir]
        parser = module.add_arguments(
            argparse.ArgumentParser(prog=f"python -m benchmarks.run --only {name}")
        )
        module_args = parser.parse_args(module_argv)
        print(f"=== {name} ===", flush=True)
        start = time.perf_counter()
        results[name] = module.run(module_args, command=command)
        print(f"=== {name}: {time.perf_counter() - start:.1f} s ===", flush=True)
    return results


if __name__ == "__main__":
    main()
