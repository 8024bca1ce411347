"""Saliency-guided zoom warps and their exact inverses (LZ, FOVEA, LZU).

A zoom warp resamples an image more densely where a saliency map is high
(Recasens et al., "Learning to Zoom", ECCV 2018; Thavamani et al., FOVEA,
ICCV 2021). LZU (Thavamani et al., CVPR 2023) approximates the warp by a
piecewise bilinear map on a coarse grid so that it can be inverted exactly:
features computed on the zoomed image are resampled back ("unzoomed") into
the original frame. This package holds the ops (functions on tensors), one
module per topic:

- `saliency`: `uniform_saliency`, `kde_saliency` (FOVEA's KDE over
  boxes; `learned_kde_parameter` for a learned KDE), `jitter_boxes`,
  `dataset_saliency`;
- `grid`: saliency -> warp, `coarse_grid` (the attraction kernel,
  separable or not), `upsample_grid`, `saliency_to_grid`,
  `grid_to_coordinates`;
- `inverse`: `invert_separable_grid`, `invert_nonseparable_grid`,
  `folded_tiles`;
- `resampling`: `zoom` (image -> zoomed image), `unzoom` (zoomed feature
  map -> original frame), `resample_inverse`, and `fixed_warp` /
  `fixed_inverse` (float64 numpy grids computed once, for fixed warps);
- `geometry`: `warp_boxes` / `unwarp_boxes`, `warp_keypoints` /
  `unwarp_keypoints`, `warp_masks` / `unwarp_masks`;
- `checks`: constants (`GRID_SHAPE`, `DEFAULT_FWHM`, `UNCOVERED`, ...),
  argument checks and the graph-mode policy for values that cannot be
  checked in traced functions (`sanitize_saliency`, `monotone_nodes`;
  see that module's docstring).

Every op is written with `keras.ops` (through `keras_resize.backend.ops`):
matmuls, comparisons, gathers and arithmetic (no `searchsorted`, no loops
over elements), so it runs on TensorFlow, JAX and PyTorch, compiles under
XLA and `jax.jit`, and converts to TFLite with builtin ops only; image
resampling goes through the package's one sampler
(`keras_resize.ops.sampling`). Constants computed ahead of time (the
attraction matrices, fixed warps, dataset priors) are float64 numpy.

Convention: a warp maps the zoomed image onto the original image. Its
**coarse grid** has shape `(batch, grid_height, grid_width, 2)` and holds,
for node `(i, j)`, the `(x, y)` position in the original image that the
zoomed-image point at `(j / (grid_width - 1), i / (grid_height - 1))` of
the zoomed image's extent comes from. Both positions are **extent
coordinates**: -1 and +1 are the outer borders of the image (the left edge
of the first pixel and the right edge of the last), so that pixel
coordinates (pixel `i` centred at `i + 0.5`, the package's `"pixel"`
convention) are `(g + 1) / 2 * size`. This is PyTorch's
`align_corners=False`; it differs from the sampler's `"normalized"`
(align-corners) convention, and `grid_to_coordinates` converts to either of
the sampler's conventions. Extent coordinates make a warp independent of
resolution: the same grid applies to the image, to every level of a
feature pyramid and to box coordinates, and the identity warp (uniform
saliency) is exactly the half-pixel bilinear resize of `tf.image.resize`
and `keras_resize.ops.resize`. The piecewise-bilinear warp between the
nodes (LZU's approximation) is the warp: dense grids, inverses and box
transforms all use it, so a forward warp followed by its inverse is the
identity up to rounding. A batch of 1 is a grid shared by every image.
"""

from keras_resize.ops.warp.checks import (
    BOX_FORMATS,
    DEFAULT_FWHM,
    GRID_SHAPE,
    INTERPOLATIONS,
    PADDINGS,
    SALIENCY_FLOOR,
    UNCOVERED,
    as_boxes,
    as_grid,
    as_saliency,
    check_fwhm,
    check_grid_shape,
    check_output_fits_grid,
    check_valid_region,
    concrete_value,
    float_dtype,
    monotone_nodes,
    sanitize_saliency,
)
from keras_resize.ops.warp.geometry import (
    forward_points,
    inverse_points,
    unwarp_boxes,
    unwarp_keypoints,
    unwarp_masks,
    warp_boxes,
    warp_keypoints,
    warp_masks,
)
from keras_resize.ops.warp.grid import (
    attraction_grid,
    attraction_matrices,
    coarse_grid,
    from_extent,
    grid_to_coordinates,
    saliency_to_grid,
    separable_axes,
    to_extent,
    upsample_axis,
    upsample_grid,
    upsample_grid_numpy,
)
from keras_resize.ops.warp.inverse import (
    folded_tiles,
    inverse_for_resampling,
    invert_axis,
    invert_grid,
    invert_nonseparable_grid,
    invert_numpy,
    invert_separable_axes,
    invert_separable_grid,
    invert_tiles,
    nonseparable_inverse,
    segment_index,
    separable_inverse_axes,
)
from keras_resize.ops.warp.numpy_ops import numpy_ops
from keras_resize.ops.warp.resampling import (
    as_feature_batch,
    fixed_inverse,
    fixed_warp,
    resample_inverse,
    unzoom,
    zoom,
)
from keras_resize.ops.warp.saliency import (
    dataset_saliency,
    jitter_boxes,
    kde_saliency,
    learned_kde_parameter,
    uniform_saliency,
)

# Deprecated private alias, still used by `keras_resize.layers.zoom`: use
# `check_valid_region`.
_check_valid_region = check_valid_region

__all__ = [
    "BOX_FORMATS",
    "DEFAULT_FWHM",
    "GRID_SHAPE",
    "INTERPOLATIONS",
    "PADDINGS",
    "SALIENCY_FLOOR",
    "UNCOVERED",
    "as_boxes",
    "as_feature_batch",
    "as_grid",
    "as_saliency",
    "attraction_grid",
    "attraction_matrices",
    "check_fwhm",
    "check_grid_shape",
    "check_output_fits_grid",
    "check_valid_region",
    "coarse_grid",
    "concrete_value",
    "dataset_saliency",
    "fixed_inverse",
    "fixed_warp",
    "float_dtype",
    "folded_tiles",
    "forward_points",
    "from_extent",
    "grid_to_coordinates",
    "inverse_for_resampling",
    "inverse_points",
    "invert_axis",
    "invert_grid",
    "invert_nonseparable_grid",
    "invert_numpy",
    "invert_separable_axes",
    "invert_separable_grid",
    "invert_tiles",
    "jitter_boxes",
    "kde_saliency",
    "learned_kde_parameter",
    "monotone_nodes",
    "nonseparable_inverse",
    "numpy_ops",
    "resample_inverse",
    "saliency_to_grid",
    "sanitize_saliency",
    "segment_index",
    "separable_axes",
    "separable_inverse_axes",
    "to_extent",
    "uniform_saliency",
    "unwarp_boxes",
    "unwarp_keypoints",
    "unwarp_masks",
    "unzoom",
    "upsample_axis",
    "upsample_grid",
    "upsample_grid_numpy",
    "warp_boxes",
    "warp_keypoints",
    "warp_masks",
    "zoom",
]
