"""Speed of the zoom and unzoom warps (issue 5), graph mode on CPU, one run.

Rows (median of interleaved rounds, same process):

- `tf.image.resize` bilinear, 8 x 1024x2048x3 -> 256x512: the reference;
- `Resize` (ours, bilinear) on the same batch;
- fixed separable `Zoom` (a peaked saliency, grids precomputed as constants:
  only the resampling runs). Target: within 1.2x of `tf.image.resize`;
- separable zoom with the grid computed in the graph from a per-sample
  saliency (adaptive / learned warps pay this);
- nonseparable zoom (shared grid computed in the graph);
- separable inverse of a 27x48 grid to a 128x256 map (LZU's grid). Target:
  under 2 ms;
- nonseparable inverse of the same grid;
- fixed `Unzoom` of 8 x 128x256x64 features.

Run with `python -m benchmarks.run --only zoom_speed`.
"""

import statistics
import time

from benchmarks import common

NAME = "zoom_speed"
FULL = {"batch": 8, "in_size": (1024, 2048), "out_size": (256, 512), "rounds": 7}
QUICK = {"batch": 2, "in_size": (256, 512), "out_size": (64, 128), "rounds": 2}
INVERSE_GRID, INVERSE_SIZE = (27, 48), (128, 256)
ZOOM_TARGET, INVERSE_TARGET_MS = 1.2, 2.0
REFERENCE = "tf.image.resize bilinear"


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("--output-dir", help="results folder")
    parser.add_argument("--rounds", type=int, help="timed rounds")
    return parser


def _peaked_saliency(grid_shape, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    gh, gw = grid_shape
    y, x = np.mgrid[0:gh, 0:gw]
    saliency = np.full(grid_shape, 1.0)
    for _ in range(3):
        cy, cx = rng.uniform(0.2, 0.8) * gh, rng.uniform(0.2, 0.8) * gw
        saliency += 20 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 8.0)
    return saliency / saliency.sum()


def _functions(batch, in_size, out_size):
    import tensorflow as tf

    from keras_resize.layers import Resize, Unzoom, Zoom
    from keras_resize.ops import warp

    grid_shape = (min(31, out_size[0]), min(51, out_size[1]))
    saliency = _peaked_saliency(grid_shape)
    images = tf.random.uniform((batch, *in_size, 3), seed=0)
    fixed_zoom = Zoom(*out_size, saliency=saliency)
    ours = Resize(*out_size)
    batch_saliency = tf.constant([saliency] * batch, tf.float32)

    def adaptive(x):
        grid = warp.coarse_grid(batch_saliency)
        return warp.zoom(x, grid, out_size)

    def nonseparable(x):
        grid = warp.coarse_grid(batch_saliency[:1], separable=False)
        return warp.zoom(x, grid, out_size, separable=False)

    inverse_saliency = tf.constant(_peaked_saliency(INVERSE_GRID)[None], tf.float32)
    inverse_grid = warp.coarse_grid(inverse_saliency)
    nonseparable_grid = warp.coarse_grid(inverse_saliency, separable=False)
    features = tf.random.uniform((batch, *INVERSE_SIZE, 64), seed=2)
    unzoom = Unzoom(saliency=_peaked_saliency(INVERSE_GRID))
    unzoom(features)  # builds the fixed inverse for this size
    graph = tf.function
    return {
        REFERENCE: (
            graph(lambda x: tf.image.resize(x, out_size, method="bilinear")),
            images,
        ),
        "Resize (ours) bilinear": (graph(lambda x: ours(x)), images),
        "Zoom fixed separable": (graph(lambda x: fixed_zoom(x)), images),
        "zoom separable, per-sample grid in the graph": (graph(adaptive), images),
        "zoom nonseparable, grid in the graph": (graph(nonseparable), images),
        "separable inverse 27x48 -> 128x256": (
            graph(lambda g: warp.invert_separable_grid(g, INVERSE_SIZE)),
            inverse_grid,
        ),
        "nonseparable inverse 27x48 -> 128x256": (
            graph(lambda g: warp.invert_nonseparable_grid(g, INVERSE_SIZE)),
            nonseparable_grid,
        ),
        f"Unzoom fixed, {batch} x 128x256x64": (graph(lambda f: unzoom(f)), features),
    }


def measure(batch, in_size, out_size, rounds, log=print):
    import numpy as np
    import tensorflow as tf

    functions = _functions(batch, in_size, out_size)
    for name, (function, inputs) in functions.items():
        log(f"  warm-up {name}", flush=True)
        tf.nest.map_structure(np.asarray, function(inputs))
    times = {name: [] for name in functions}
    for r in range(rounds):
        for name, (function, inputs) in functions.items():
            start = time.perf_counter()
            tf.nest.map_structure(np.asarray, function(inputs))
            times[name].append((time.perf_counter() - start) * 1000)
        log(f"  round {r + 1}/{rounds} done", flush=True)
    reference = statistics.median(times[REFERENCE])
    rows = [
        {
            "name": name,
            "median_ms": statistics.median(values),
            "min_ms": min(values),
            "ratio_to_tf_resize": statistics.median(values) / reference,
            "runs_ms": values,
        }
        for name, values in times.items()
    ]
    by_name = {row["name"]: row for row in rows}
    zoom_ratio = by_name["Zoom fixed separable"]["ratio_to_tf_resize"]
    inverse_ms = by_name["separable inverse 27x48 -> 128x256"]["median_ms"]
    targets = [
        {
            "target": f"fixed separable zoom within {ZOOM_TARGET}x of tf.image.resize",
            "value": zoom_ratio,
            "met": zoom_ratio <= ZOOM_TARGET,
        },
        {
            "target": f"separable inverse 27x48 -> 128x256 under {INVERSE_TARGET_MS} ms",
            "value": inverse_ms,
            "met": inverse_ms < INVERSE_TARGET_MS,
        },
    ]
    config = {
        "batch": batch,
        "in_size": in_size,
        "out_size": out_size,
        "rounds": rounds,
    }
    return {"config": config, "rows": rows, "targets": targets}


def to_markdown(results):
    config, env = results["config"], results["environment"]
    lines = [
        "# Zoom / unzoom speed (graph mode, CPU)",
        "",
        f"Zoom rows: {config['batch']} x {config['in_size'][0]}x{config['in_size'][1]}x3 "
        f"-> {config['out_size'][0]}x{config['out_size'][1]}; median of "
        f"{config['rounds']} interleaved rounds in one process. Saliency: three "
        "Gaussian peaks on a flat floor (a strong warp).",
        "",
        "| forward | median ms | min ms | / tf.image.resize |",
        "|---|---:|---:|---:|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['name']} | {row['median_ms']:.2f} | {row['min_ms']:.2f} | "
            f"{row['ratio_to_tf_resize']:.3f} |"
        )
    lines += ["", "Targets:", ""]
    for target in results["targets"]:
        status = "MET" if target["met"] else "NOT MET"
        lines.append(f"- {status}: {target['target']} ({target['value']:.3g})")
    lines += [
        "",
        f"Machine: {env.get('cpu_model')}, {env.get('cpu_usable')} usable cores, load average "
        f"before {env.get('load_average_before')}; TF {env.get('tensorflow')}.",
        "",
        "Command:",
        "",
        "```",
        results["command"],
        "```",
        "",
    ]
    return "\n".join(lines)


def run(args, command=None, log=print):
    import shlex

    config = dict(QUICK if args.quick else FULL)
    if getattr(args, "rounds", None):
        config["rounds"] = args.rounds
    environment = common.environment()
    results = measure(log=log, **config)
    results["environment"] = environment
    results["command"] = command or shlex.join(["python", "-m", f"benchmarks.{NAME}"])
    common.write_outputs(common.output_dir(args), NAME, results, to_markdown, log)
    return results


def main(argv=None):
    return common.main(NAME, __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    main()
