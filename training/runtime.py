"""The start of a training run: devices, seeds, precision and strategy.

`setup(args)` (or `start_run(args)`, which also creates the output folder)
is the first thing a training script calls: it configures logical CPUs,
seeds everything, sets the mixed precision policy and returns the
`tf.distribute` strategy. This order matters because logical devices must
be configured before TensorFlow initialises its runtime.

Example:

```python
import argparse
from training import options, runtime

parser = options.add_common_arguments(argparse.ArgumentParser())
args = parser.parse_args(["--epochs", "1", "--output-dir", "runs/example"])
strategy = runtime.setup(args)
assert strategy.num_replicas_in_sync >= 1
```

Importing this module imports Keras (and so TensorFlow) but runs no op, so
`configure_logical_cpus` still works after it.
"""

import os

import keras

from training.options import STRATEGIES, parse_resizer_args


def jit_compile_value(value):
    """Maps the `--jit-compile` string to `Model.compile(jit_compile=...)`."""
    return {"auto": "auto", "true": True, "false": False}[str(value).lower()]


def setup(args, clear_session=False):
    """Applies the common options, in the order TensorFlow needs.

    Configures logical CPUs (`--num-logical-cpus`), optionally clears the
    Keras session (for several runs in one process), seeds everything
    (`--seed`), sets the mixed precision policy and returns the strategy.
    Call it before any TensorFlow op runs.

    Args:
        args: the parsed namespace (with the `add_common_arguments` options).
        clear_session: call `keras.backend.clear_session()` after the
            device setup (frees models of earlier runs in this process).

    Returns:
        A `tf.distribute.Strategy`.
    """
    if getattr(args, "num_logical_cpus", 0):
        configure_logical_cpus(args.num_logical_cpus)
    if clear_session:
        keras.backend.clear_session()
    set_seed(args.seed)
    set_mixed_precision(getattr(args, "mixed_precision", False))
    return get_strategy(args.strategy)


def start_run(args, clear_session=False):
    """The first steps of a run: `setup`, resizer kwargs, the output folder.

    Sets `args.resizer_kwargs` from `args.resizer_arg` when the namespace
    did not come from `check_common_args`, and creates `--output-dir`.

    Returns:
        The `tf.distribute.Strategy` of `setup`.
    """
    strategy = setup(args, clear_session=clear_session)
    if not hasattr(args, "resizer_kwargs"):
        args.resizer_kwargs = parse_resizer_args(getattr(args, "resizer_arg", []))
    os.makedirs(args.output_dir, exist_ok=True)
    return strategy


# ----------------------------------------------------------------------------
# Devices, strategies, seeds, precision.


def configure_logical_cpus(n):
    """Splits the first physical CPU into `n` logical devices.

    Lets `MirroredStrategy` run over `n` replicas on one CPU (for tests).
    Must run before TensorFlow initialises its devices (before the first op),
    which is why tests run it in a subprocess.

    Args:
        n: number of logical CPU devices, >= 1.

    Returns:
        The list of logical CPU devices.

    Raises:
        ValueError: if `n` is not a positive int.
        RuntimeError: if TensorFlow has already initialised its devices with
            a different number of logical CPUs.
    """
    import tensorflow as tf

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(
            f"Expected `num_logical_cpus` to be a positive int. Received: {n!r}"
        )
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as e:
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) == n:
            return logical
        raise RuntimeError(
            f"Cannot split the CPU into {n} logical devices: TensorFlow is "
            f"already initialised with {len(logical)}. Configure logical CPUs "
            "before running any TensorFlow op (e.g. in a fresh process)."
        ) from e
    return tf.config.list_logical_devices("CPU")


def get_strategy(name):
    """Returns the `tf.distribute` strategy named by `--strategy`.

    - `default`: the default (single-device) strategy.
    - `mirrored`: `MirroredStrategy` over all GPUs, or over all logical CPUs
      when there is no GPU (with `ReductionToOneDevice`, as NCCL needs GPUs).
    - `multiworker`: `MultiWorkerMirroredStrategy` (reads `TF_CONFIG`).
    - `tpu`: `TPUStrategy` on the TPU found by `TPUClusterResolver`.

    Raises:
        ValueError: for an unknown name.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(
            devices=devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(
        f"Unknown strategy. Expected one of {list(STRATEGIES)}. "
        f"Received: strategy={name!r}"
    )


def set_seed(seed):
    """Seeds Python's `random`, numpy and TensorFlow (`keras.utils`).

    Op determinism is not enabled (it slows CPU training down); runs with the
    same seed are close but not bit-identical.
    """
    keras.utils.set_random_seed(int(seed))


def set_mixed_precision(enabled):
    """Sets the global Keras dtype policy: `mixed_float16` or `float32`."""
    keras.config.set_dtype_policy("mixed_float16" if enabled else "float32")
