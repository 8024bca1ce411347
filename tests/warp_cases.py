"""Saliency maps that `make fuzz` found, shared by the warp tests.

Each breaks a nonseparable warp with `padding="replicate"` (its border is
free): `tests/test_properties_warp.py` pins them as `@example`s and
`tests/test_robustness_warp.py` tests the mechanism behind each.
"""

import numpy as np


def ones_except(shape, values):
    """Saliency of ones with `{(row, col): value}` peaks."""
    saliency = np.ones(shape)
    for index, value in values.items():
        saliency[index] = value
    return saliency


# folds (a tile turns inside out) at fwhm 4
FOLDED_4X8 = ones_except(
    (4, 8),
    {(0, 4): 3819.65571, (1, 3): 5740.82367, (2, 0): 5069.30243, (2, 1): 1678.76688},
)
# at fwhm 2, pixels past its right border were counted as covered
PAST_THE_BORDER_3X4 = ones_except((3, 4), {(0, 1): 3162.27766, (2, 3): 1000.0})
# at fwhm 2, not folded, but row 4's end segment continued straight crosses
# the image (the tile search counted it)
ROTATED_BORDER_6X6 = ones_except(
    (6, 6), {(1, 5): 1000.0, (2, 3): 1000.0, (2, 4): 1000.0, (5, 3): 1000.0}
)
