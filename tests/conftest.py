import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--run-large",
        action="store_true",
        default=False,
        help="also run tests marked `large` (training, long exports)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-large"):
        return
    skip = pytest.mark.skip(reason="large test: run with --run-large (make test-large)")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=[True, False], ids=["fused", "unfused"])
def xla_fusion(request):
    """Run a test with the sampler's nested-XLA fusion on and off."""
    from keras_resize.ops import sampling

    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(request.param)
    yield request.param
    sampling.set_xla_fusion(previous)
