"""DownsizeNet's cost against the backbone it feeds (issue 4's cost figure).

Graph mode on CPU, batch 8, 1024x2048x3 -> 256x512: the forward time of
`DownsizeNetResize` (2 and 3 texture convolutions, bilinear and bicubic
neighbourhoods, the gathered-patch feature path and the full-resolution
path), of the fixed bilinear `Resize`, and of a keras-hub ResNet-50 backbone
(built from config, random weights) on the 8 x 256x512x3 output, all in the
same process with interleaved rounds (one call of everything per round) and
reported as medians and as ratios to the ResNet-50 forward time.

Target (issue 4): DownsizeNet with 2 convolutions costs at most 10% of the
ResNet-50 forward time (the paper reports ~9% of its detection pipeline on a
K80 GPU).

Run with `python -m benchmarks.run --only downsizenet_cost`.
"""

import os
import shlex
import statistics
import time

from benchmarks import common

NAME = "downsizenet_cost"
FULL = {"batch": 8, "in_size": (1024, 2048), "out_size": (256, 512), "rounds": 5}
QUICK = {"batch": 2, "in_size": (128, 256), "out_size": (32, 64), "rounds": 2}
TARGET = 0.10

# (row name, DownsizeNetResize kwargs or None for the fixed bilinear resize)
CASES = [
    ("bilinear (fixed Resize)", None),
    ("downsizenet 2 convs, bilinear, patches", dict(num_conv_layers=2)),
    (
        "downsizenet 2 convs, bicubic, patches",
        dict(num_conv_layers=2, neighborhood="bicubic"),
    ),
    ("downsizenet 3 convs, bilinear, patches", dict(num_conv_layers=3)),
    (
        "downsizenet 2 convs, bilinear, full-res convs",
        dict(num_conv_layers=2, feature_path="full"),
    ),
]
TARGET_ROW = "downsizenet 2 convs, bilinear, patches"
BACKBONE_ROW = "keras-hub ResNet-50 backbone"


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument(
        "--output-dir", help="results folder (default benchmarks/results)"
    )
    parser.add_argument("--rounds", type=int, help="timed rounds (default 5)")
    return parser


def _resnet50(image_shape):
    import keras_hub

    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[3, 4, 6, 3],
        stackwise_num_strides=[1, 2, 2, 2],
        block_type="bottleneck_block",
        image_shape=image_shape,
    )


def measure(batch, in_size, out_size, rounds, log=print):
    import numpy as np
    import tensorflow as tf

    from keras_resize.layers import DownsizeNetResize, Resize

    images = tf.random.uniform((batch, *in_size, 3), seed=0)
    small = tf.random.uniform((batch, *out_size, 3), seed=1)
    functions = {}
    for name, kwargs in CASES:
        layer = (
            Resize(*out_size)
            if kwargs is None
            else DownsizeNetResize(*out_size, **kwargs)
        )
        layer.build(images.shape)
        functions[name] = (tf.function(lambda x, layer=layer: layer(x)), images)
    backbone = _resnet50((*out_size, 3))
    functions[BACKBONE_ROW] = (
        tf.function(lambda x: backbone(x, training=False)),
        small,
    )
    times = {name: [] for name in functions}
    for name, (function, inputs) in functions.items():
        log(f"  warm-up {name}", flush=True)
        np.asarray(function(inputs))
    for r in range(rounds):
        for name, (function, inputs) in functions.items():
            start = time.perf_counter()
            np.asarray(function(inputs))
            times[name].append((time.perf_counter() - start) * 1000)
        log(f"  round {r + 1}/{rounds} done", flush=True)
    backbone_ms = statistics.median(times[BACKBONE_ROW])
    rows = []
    for name in functions:
        median = statistics.median(times[name])
        rows.append(
            {
                "name": name,
                "median_ms": median,
                "min_ms": min(times[name]),
                "runs_ms": times[name],
                "ratio_to_backbone": median / backbone_ms,
            }
        )
    target = next(r for r in rows if r["name"] == TARGET_ROW)
    return {
        "config": {
            "batch": batch,
            "in_size": in_size,
            "out_size": out_size,
            "rounds": rounds,
        },
        "rows": rows,
        "target": {
            "row": TARGET_ROW,
            "limit": TARGET,
            "ratio": target["ratio_to_backbone"],
            "met": target["ratio_to_backbone"] <= TARGET,
        },
    }


def to_markdown(results):
    c = results["config"]
    lines = [
        f"# DownsizeNet cost vs a ResNet-50 backbone ({c['batch']} x "
        f"{c['in_size'][0]}x{c['in_size'][1]}x3 -> {c['out_size'][0]}x{c['out_size'][1]})",
        "",
        "Graph mode (`tf.function`) on CPU, median of interleaved rounds, "
        "same process. The backbone runs on the resized 8 x "
        f"{c['out_size'][0]}x{c['out_size'][1]}x3 batch.",
        "",
        "| forward | median ms | min ms | / ResNet-50 |",
        "|---|---:|---:|---:|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['name']} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | "
            f"{row['ratio_to_backbone']:.3f} |"
        )
    t = results["target"]
    env = results.get("environment", {})
    lines += [
        "",
        f"Target: {t['row']} at most {t['limit']:.0%} of the ResNet-50 forward time: "
        f"**{'MET' if t['met'] else 'NOT MET'}** ({t['ratio']:.1%}).",
        "",
        f"Machine: {env.get('cpu_model')}, {env.get('cpu_usable')} usable cores, "
        f"load average before {env.get('load_average_before')}; TF {env.get('tensorflow')}.",
        "",
        "Command:",
        "",
        "```",
        results.get("command", ""),
        "```",
        "",
    ]
    return "\n".join(lines)


def run(args, command=None, log=print):
    config = dict(QUICK if args.quick else FULL)
    if args.rounds:
        config["rounds"] = args.rounds
    output_dir = common.output_dir(args)
    environment = common.environment()
    results = measure(
        config["batch"],
        config["in_size"],
        config["out_size"],
        config["rounds"],
        log=log,
    )
    environment["load_average_after"] = list(os.getloadavg())
    results["environment"] = environment
    results["quick"] = bool(args.quick)
    results["command"] = command or shlex.join(["python", "-m", f"benchmarks.{NAME}"])
    common.write_outputs(output_dir, NAME, results, to_markdown, log)
    return results


def main(argv=None):
    return common.main(NAME, __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    main()
