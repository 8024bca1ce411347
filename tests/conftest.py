import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests compile hundreds of small XLA programs (JAX compiles every eager op):
# skip LLVM's expensive optimisations, which cut compile time 2-4x and leave
# the numerics unchanged (no fast-math).
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
)

import keras  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()


def pytest_addoption(parser):
    parser.addoption(
        "--run-large",
        action="store_true",
        default=False,
        help="also run tests marked `large` (training, long exports)",
    )


def pytest_collection_modifyitems(config, items):
    skip_tf = pytest.mark.skip(
        reason=f"TensorFlow-only feature (SavedModel, TFLite, tf.function); "
        f"backend is {BACKEND}"
    )
    for item in items:
        if "tensorflow_only" in item.keywords and BACKEND != "tensorflow":
            item.add_marker(skip_tf)
    if config.getoption("--run-large"):
        return
    if BACKEND == "jax":
        skip_jax = pytest.mark.skip(
            reason="compile-heavy on JAX's CPU backend: run with --run-large"
        )
        for item in items:
            if "slow_on_jax" in item.keywords:
                item.add_marker(skip_jax)
    skip = pytest.mark.skip(reason="large test: run with --run-large (make test-large)")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(
    params=[True, False] if BACKEND == "tensorflow" else [True],
    ids=["fused", "unfused"] if BACKEND == "tensorflow" else ["default"],
)
def xla_fusion(request):
    """Run a test with the sampler's nested-XLA fusion on and off.

    The fusion is TensorFlow's: on JAX and PyTorch the test runs once.
    """
    from keras_resize.ops import sampling

    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(request.param)
    yield request.param
    sampling.set_xla_fusion(previous)
