"""Cost measurements of a model's resizer: parameters, FLOPs, latency.

`measure_resizer` reports the parameters of the `resizer` and `backbone`
layers of a training model, their forward FLOPs per image (`count_flops`,
TensorFlow profiler) and the resizer's median latency (`measure_latency`,
graph mode), following the options of
`training.options.add_measurement_arguments`.

Example:

```python
import keras
from training import measurement

layer = keras.layers.Dense(4)
assert measurement.count_flops(layer, (3,)) == 2 * 3 * 4 + 4
assert measurement.measure_latency(layer, (2, 3), repeats=2) > 0
```
"""

import statistics
import time

import numpy as np


def _as_callable(layer_or_model):
    def forward(x):
        return layer_or_model(x, training=False)

    return forward


def count_flops(layer_or_model, input_shape):
    """Forward FLOPs per image, counted by the TensorFlow profiler.

    Traces `layer(x, training=False)` for one image (`x` of shape
    `(1, *input_shape)`) as a concrete function, freezes its variables to
    constants and sums `ProfileOptionBuilder.float_operation()` over the
    graph (`tensorflow.python.profiler.model_analyzer`).

    Conventions of the TF profiler: a multiply-add counts 2 FLOPs (convs,
    matmuls), elementwise ops count one per output element, and ops without
    a registered FLOP count (gathers, casts, reshapes, TF's own resize
    kernels) count 0. So for gather-based resizers this is the arithmetic
    of the interpolation (weights times samples, sums), not memory traffic.

    Args:
        layer_or_model: a built or unbuilt Keras layer or model.
        input_shape: the shape of one image, without the batch dimension,
            e.g. `(256, 256, 3)`.

    Returns:
        An int, the forward FLOPs per image.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2_as_graph,
    )
    from tensorflow.python.profiler import model_analyzer, option_builder

    from keras_resize.ops import sampling

    spec = tf.TensorSpec((1, *input_shape), tf.float32)
    # The fused sampler core is a nested XLA function, opaque to the profiler:
    # trace the plain kernels instead (the same arithmetic).
    fused = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(False)
    try:
        concrete = tf.function(_as_callable(layer_or_model)).get_concrete_function(spec)
    finally:
        sampling.set_xla_fusion(fused)
    _, graph_def = convert_variables_to_constants_v2_as_graph(concrete)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    options = (
        option_builder.ProfileOptionBuilder(
            option_builder.ProfileOptionBuilder.float_operation()
        )
        .with_empty_output()
        .build()
    )
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # The profiler logs a TF1 deprecation notice.
    try:
        profile = model_analyzer.profile(graph, options=options)
    finally:
        logger.setLevel(level)
    return int(profile.total_float_ops)


def measure_latency(layer, input_shape, repeats=10, warmup=2, seed=0):
    """Median forward time in ms per batch, in graph mode (`tf.function`).

    The call is traced and run `warmup` times first; then each of `repeats`
    calls is timed (waiting for the result) and the median is returned. No
    XLA (`jit_compile` off on the outer function), as on CPU graph mode is
    faster (see STACK.md). Divide by the batch size for ms per image.

    Args:
        layer: a Keras layer or model (called with `training=False`).
        input_shape: the full input shape including the batch, e.g.
            `(8, 256, 256, 3)`.
        repeats: number of timed calls, >= 1.
        warmup: untimed calls before timing.
        seed: seed of the uniform random input in [0, 1).

    Returns:
        A float, the median ms per call.
    """
    import numpy as np
    import tensorflow as tf

    if repeats < 1:
        raise ValueError(f"Expected `repeats >= 1`. Received: repeats={repeats}")
    x = tf.constant(
        np.random.default_rng(seed).random(tuple(input_shape), dtype=np.float32)
    )
    forward = tf.function(_as_callable(layer))
    for _ in range(max(1, warmup)):
        _ = forward(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _ = forward(x).numpy()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


def measure_resizer(model, args):
    """Parameters, FLOPs per image and latency of the model's resizer.

    Also the backbone's FLOPs per image (at `--image-size`). The model has
    layers named `resizer` and `backbone`; the options used are
    `--input-size`, `--image-size`, `--no-flops`, `--latency-batch` and
    `--latency-repeats`. See `count_flops` for the FLOP conventions (TF
    profiler).
    """
    resizer = model.get_layer("resizer")
    backbone = model.get_layer("backbone")
    out = {
        "resizer_params": int(resizer.count_params()),
        "resizer_trainable_params": int(
            sum(np.prod(v.shape) for v in resizer.trainable_weights)
        ),
        "backbone_params": int(backbone.count_params()),
        "model_params": int(model.count_params()),
    }
    if not args.no_flops:
        out["resizer_flops_per_image"] = count_flops(
            resizer, (args.input_size, args.input_size, 3)
        )
        out["backbone_flops_per_image"] = count_flops(
            backbone, (args.image_size, args.image_size, 3)
        )
    batch = args.latency_batch
    ms = measure_latency(
        resizer, (batch, args.input_size, args.input_size, 3), args.latency_repeats
    )
    out["resizer_latency_ms_per_batch"] = ms
    out["resizer_latency_ms_per_image"] = ms / batch
    out["latency_batch"] = batch
    return out
