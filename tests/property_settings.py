"""Shared hypothesis settings for the property-based tests.

`make test` runs every property with a bounded, seeded example count
(`derandomize=True`: the same examples on every run). `make fuzz` sets
`KERAS_RESIZE_FUZZ=1` and runs the same properties with 20x the examples.

Use it as::

    from property_settings import property_settings

    @property_settings(30)
    @given(...)
    def test_something(...): ...
"""

import os

from hypothesis import HealthCheck, settings

FUZZ = os.environ.get("KERAS_RESIZE_FUZZ", "") == "1"
FACTOR = 20 if FUZZ else 1


def examples(count):
    """`count` examples under `make test`, 20x that under `make fuzz`."""
    return int(count) * FACTOR


def property_settings(count):
    """hypothesis `settings` with `examples(count)`, seeded, no deadline."""
    return settings(
        max_examples=examples(count),
        derandomize=True,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
