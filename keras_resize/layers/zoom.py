"""`Zoom`, `Unzoom` and `ZoomUnzoom`: saliency-guided zoom and its inverse.

Learning to Zoom (Recasens et al., ECCV 2018) and FOVEA (Thavamani et al.,
ICCV 2021) resample an image more densely where a saliency map is high;
LZU (Thavamani et al., CVPR 2023) inverts that warp exactly, so features
computed on the zoomed image can be resampled back into the original frame
and any spatial head (detection, segmentation) works unchanged. The math
lives in `keras_resize.ops.warp`; these layers are thin wrappers.
"""

import copy
import math
import numbers

import keras
import numpy as np

from keras_resize.backend import ops
from keras_resize.layers.base import (
    TFDataMixin,
    check_data_format,
    from_channels_last,
    shape_from_channels_last,
    shape_to_channels_last,
    to_channels_last,
)
from keras_resize.layers.registry import register_resizer
from keras_resize.ops import warp
from keras_resize.ops.resize import resize
from keras_resize.ops.sampling import sample, sample_separable
from keras_resize.ops.validation import (
    as_image_batch,
    check_bool,
    check_choice,
    check_image_shape,
    check_non_empty_spatial,
    check_positive_int,
    check_same_batch,
    check_size,
    resized_shape,
    static_or_dynamic_shape,
)
from keras_resize.pretrained import PretrainedMixin

SALIENCY_SOURCES = ("uniform", "learned")


def _check_saliency(saliency, grid_shape, allow_learned=True, allow_none=False):
    """Resolve `saliency` and `grid_shape`.

    Returns `(kind, array, grid_shape)` with `kind` one of `"uniform"`,
    `"learned"`, `"fixed"` (a given array) or `None` (grid given per call).
    """
    if saliency is None:
        if not allow_none:
            raise ValueError(
                "Expected `saliency` to be 'uniform', 'learned' or an array of "
                "shape (grid_height, grid_width). Received: saliency=None"
            )
        shape = warp.check_grid_shape(grid_shape or warp.GRID_SHAPE)
        return None, None, shape
    if isinstance(saliency, str):
        choices = SALIENCY_SOURCES if allow_learned else ("uniform",)
        check_choice("saliency", saliency, choices)
        shape = warp.check_grid_shape(grid_shape or warp.GRID_SHAPE)
        array = None
        if saliency == "uniform":
            array = np.full(shape, 1.0 / (shape[0] * shape[1]))
        return saliency, array, shape
    array = np.asarray(saliency, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(
            "Expected a fixed `saliency` of shape (grid_height, grid_width). "
            f"Received: saliency.shape={array.shape}"
        )
    shape = warp.check_grid_shape(array.shape, "saliency grid shape")
    if grid_shape is not None and tuple(grid_shape) != shape:
        raise ValueError(
            "Expected `grid_shape` to match the shape of the given saliency "
            f"{shape}. Received: grid_shape={tuple(grid_shape)!r}"
        )
    warp.as_saliency(array)  # non-negative, finite, positive sum (numpy: eager)
    return "fixed", array, shape


def _fixed_grid(array, fwhm, padding, separable):
    """The float64 numpy coarse grid `(1, gh, gw, 2)` of a fixed saliency."""
    return warp.fixed_warp(
        array, array.shape, fwhm=fwhm, padding=padding, separable=separable
    )["grid"]


def _check_valid_region(valid_size, padded_size):
    check = getattr(warp, "check_valid_region", None)
    if check is None:  # before the warp package made it public
        check = warp._check_valid_region
    return check(valid_size, padded_size)


def _constant(array):
    """A float32 tensor of a (float64) numpy constant."""
    return ops.convert_to_tensor(np.asarray(array, "float32"))


def _saliency_config(kind, array):
    if kind in ("uniform", "learned", None):
        return kind
    return array.tolist()


def _check_optional_size(name, value):
    return None if value is None else check_size(value, name)


def default_grid_shape(height, width):
    """The default coarse grid of a `Zoom` to `(height, width)` pixels.

    FOVEA's `warp.GRID_SHAPE` (31 x 51), capped by the output size:
    `(min(31, height), min(51, width))`, so that the output has at least one
    pixel per grid node (see `warp.check_output_fits_grid`). Outputs of at
    least 31 x 51 keep the 31 x 51 grid. The attraction kernel follows the
    grid: its reflect / replicate padding is `min(grid_height, grid_width) -
    1` nodes (see `warp.coarse_grid`), valid for any grid of at least 2 x 2;
    `fwhm` stays in grid nodes.

    Args:
        height: output height, an int >= 2.
        width: output width, an int >= 2.

    Returns:
        `(grid_height, grid_width)`.

    Raises:
        ValueError: if `height` or `width` is below 2: a warp needs two grid
            nodes per axis, and the output one pixel per node (an explicit
            `grid_shape` cannot help either; `Resize` makes one-pixel
            outputs).

    Example:

    >>> default_grid_shape(224, 224), default_grid_shape(8, 32)
    ((31, 51), (8, 32))
    """
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    if height < 2 or width < 2:
        raise ValueError(
            "Expected a zoom output of at least 2 x 2 pixels: the coarse grid "
            "needs two nodes per axis and the output one pixel per node. "
            f"Received: height={height}, width={width}"
        )
    return min(warp.GRID_SHAPE[0], height), min(warp.GRID_SHAPE[1], width)


@keras.saving.register_keras_serializable(package="keras_resize")
class Zoom(TFDataMixin, PretrainedMixin, keras.layers.Layer):
    """Saliency-guided zoom: resample an image densely where it matters.

    The attraction-kernel warp of Learning to Zoom with FOVEA's separable
    and anti-crop variants (`keras_resize.ops.warp.coarse_grid`): every
    node of a `grid_shape` coarse grid is pulled towards salient regions,
    the grid is evaluated at the output pixels, and the image is sampled
    there (bilinear). Salient regions get more output pixels.

    Saliency sources:

    - `"uniform"`: the identity warp; the layer then equals the bilinear
      `Resize` exactly.
    - a `(grid_height, grid_width)` array (a fixed prior, e.g.
      `warp.dataset_saliency` over the training boxes): the forward grid is
      computed once in float64 and kept as constants, so a call costs only
      the resampling (the same as a resize for separable warps).
    - `"learned"`: a small CNN on a low-resolution copy of the image (two
      3x3 convolutions with ReLU, a 1x1 convolution to one channel, area
      resized to the grid, softmax over all cells). The 1x1 convolution
      starts at zero, so training starts from the identity warp.
    - adaptive: call the layer as `layer(images, saliency)` with a
      `(batch, grid_height, grid_width)` saliency (e.g. `warp.kde_saliency`
      of the previous frame's detections); it overrides the configured one.

    With `return_grid=True` the layer also returns the coarse grid, for
    `Unzoom` and for unwarping boxes (`warp.unwarp_boxes`).

    Bad saliency values (NaN, inf, negative, all zero) raise a `ValueError`
    in eager calls; inside `predict`, `tf.function`, `jax.jit`, XLA or
    TFLite they cannot be checked and follow the graph-mode policy of
    `keras_resize.ops.warp.coarse_grid` instead (rescaled by the maximum,
    raised to a small floor, NaN and negative values count as 0, a map of
    zeros is the identity warp), so the output is never NaN. Images of
    zero height or width, and a saliency whose batch is neither the
    images' nor 1, raise a `ValueError`; an empty batch gives an empty
    batch.

    Training: the layer (and its learned saliency network) has no
    BatchNormalization, so `fit`'s validation figures already hold in
    inference mode; with a BatchNormalization backbone behind it, on a
    short schedule, add `keras_resize.callbacks.BatchNormRecalibration(
    train_data)` to `model.fit` all the same (the default path of every
    tutorial). Measured with the learned saliency on the digit canvases
    (256 -> 64 px, `resnet_tiny`, 6 epochs, seed 0; `python -m
    benchmarks.pretrained_weights --only zoom-saliency-digits-4x`):
    validation accuracy at the end of `fit` 84.0 %, after re-estimating
    the statistics 84.6 %.

    Args:
        height: output height, a positive int.
        width: output width, a positive int.
        saliency: `"uniform"`, `"learned"` or a non-negative array of shape
            `(grid_height, grid_width)`.
        grid_shape: coarse grid `(grid_height, grid_width)`, both >= 2 and
            at most the output size. Default: the shape of a given saliency
            array, else FOVEA's `(31, 51)` capped by the output size,
            `(min(31, height), min(51, width))` (see `default_grid_shape`),
            so `Zoom(height, width)` works for any output of at least 2 x 2
            pixels and outputs of at least 31 x 51 keep the 31 x 51 grid.
        fwhm: full width at half maximum of the attraction Gaussian, in grid
            nodes (LZU: 10; larger is a stronger warp).
        padding: `"reflect"` (anti-crop: nothing is cropped) or
            `"replicate"` (may crop, or show the replicated border: its
            nodes are not clipped to the image, so the warp stays
            invertible; see `keras_resize.ops.warp.coarse_grid`).
        separable: separable warp (keeps boxes axis-aligned; the fast path).
        interpolation: `"bilinear"` or `"nearest"`.
        return_grid: also return the `(batch, grid_height, grid_width, 2)`
            coarse grid (float32 even under mixed precision).
        saliency_input_size: `(height, width)` of the low-resolution copy
            the learned saliency network sees; default twice the grid.
        saliency_filters: width of the learned saliency network.
        data_format: `"channels_last"` or `"channels_first"` (default
            `keras.config.image_data_format()`), the layout of the images
            (the saliency and the grid have no channel axis).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape:
        `(batch, height, width, channels)` or `(height, width, channels)`
        (channels-first: `(batch, channels, height, width)` or `(channels,
        height, width)`); any spatial size. Optionally a second input, a
        saliency of shape `(batch, grid_height, grid_width)`.

    Output shape:
        The input's layout with the configured `(height, width)`, and the
        coarse grid if `return_grid`. With a fixed saliency the layer has
        no weights and runs inside `tf.data.Dataset.map` under any backend.

    Example:

    >>> images = np.random.default_rng(0).random((2, 96, 128, 3)).astype("float32")
    >>> layer = Zoom(32, 48, saliency="uniform", grid_shape=(5, 7))
    >>> bool(np.allclose(layer(images), keras_resize.ops.resize(images, (32, 48)), atol=1e-5))
    True
    >>> saliency = np.ones((5, 7)); saliency[2, 3] = 50.0
    >>> zoomed, grid = Zoom(32, 48, saliency=saliency, return_grid=True)(images)
    >>> tuple(zoomed.shape), tuple(grid.shape)
    ((2, 32, 48, 3), (2, 5, 7, 2))

    Convention: the grid holds extent coordinates (-1 and +1 are the outer
    borders of the image, pixel coordinates are `(g + 1) / 2 * size`); see
    `keras_resize.ops.warp`. Output pixel `(r, c)` samples the original
    image at the grid's bilinear value at extent fraction `((c + 0.5) / W,
    (r + 0.5) / H)`, so uniform saliency is the half-pixel bilinear resize
    of `tf.image.resize`. Coordinates are clamped to the image.
    """

    def __init__(
        self,
        height,
        width,
        saliency="uniform",
        grid_shape=None,
        fwhm=warp.DEFAULT_FWHM,
        padding="reflect",
        separable=True,
        interpolation="bilinear",
        return_grid=False,
        saliency_input_size=None,
        saliency_filters=16,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.height = check_positive_int("height", height)
        self.width = check_positive_int("width", width)
        self.data_format = check_data_format(data_format)
        if grid_shape is None and isinstance(saliency, str):
            if saliency in SALIENCY_SOURCES:
                grid_shape = default_grid_shape(self.height, self.width)
        kind, array, shape = _check_saliency(saliency, grid_shape)
        self.saliency_kind, self._saliency_array = kind, array
        self.grid_shape = shape
        warp.check_output_fits_grid((self.height, self.width), self.grid_shape)
        self.fwhm = warp.check_fwhm(fwhm)
        self.padding = check_choice("padding", padding, warp.PADDINGS)
        self.separable = check_bool("separable", separable)
        self.interpolation = check_choice(
            "interpolation", interpolation, warp.INTERPOLATIONS
        )
        self.return_grid = check_bool("return_grid", return_grid)
        if saliency_input_size is None:
            saliency_input_size = (2 * shape[0], 2 * shape[1])
        self.saliency_input_size = check_size(
            saliency_input_size, "saliency_input_size"
        )
        self.saliency_filters = check_positive_int("saliency_filters", saliency_filters)
        self.supports_masking = False
        self._fixed = None
        if kind != "learned":
            self._fixed = warp.fixed_warp(
                array,
                (self.height, self.width),
                fwhm=self.fwhm,
                padding=self.padding,
                separable=self.separable,
            )
        else:
            self.saliency_convs = [
                keras.layers.Conv2D(
                    self.saliency_filters,
                    3,
                    padding="same",
                    activation="relu",
                    data_format="channels_last",
                    name=f"saliency_conv_{i}",
                    dtype=self.dtype_policy,
                )
                for i in range(2)
            ]
            self.saliency_head = keras.layers.Conv2D(
                1,
                1,
                kernel_initializer="zeros",
                data_format="channels_last",
                name="saliency_head",
                dtype=self.dtype_policy,
            )

    def build(self, inputs_shape, saliency_shape=None):
        inputs_shape = shape_to_channels_last(inputs_shape, self.data_format)
        inputs_shape = check_image_shape(inputs_shape, require_channels=True)
        if self.saliency_kind == "learned":
            channels = inputs_shape[-1]
            self.saliency_convs[0].build((None, None, None, channels))
            self.saliency_convs[1].build((None, None, None, self.saliency_filters))
            self.saliency_head.build((None, None, None, self.saliency_filters))

    # -- the pieces, public for inspection and later stages -------------------

    def saliency_map(self, images):
        """The learned saliency `(batch, grid_height, grid_width)` (float32)."""
        if self.saliency_kind != "learned":
            raise ValueError(
                "Expected a layer with saliency='learned'. Received: "
                f"saliency={self.saliency_kind!r}"
            )
        images, _ = as_image_batch(to_channels_last(images, self.data_format))
        return self._saliency_map(images)

    def _saliency_map(self, images):
        # images: channels-last (batch, height, width, channels)
        features = resize(
            ops.cast(images, self.compute_dtype), self.saliency_input_size, "area"
        )
        for conv in self.saliency_convs:
            features = conv(features)
        logits = resize(self.saliency_head(features), self.grid_shape, "area")
        logits = ops.cast(logits, "float32")
        cells = self.grid_shape[0] * self.grid_shape[1]
        flat = ops.softmax(ops.reshape(logits, (-1, cells)), axis=-1)
        return ops.reshape(flat, (-1, self.grid_shape[0], self.grid_shape[1]))

    def compute_grid(self, images=None, saliency=None):
        """The coarse grid `(batch, gh, gw, 2)` (batch 1 for fixed warps)."""
        if saliency is not None:
            saliency = ops.cast(saliency, "float32")
        elif self.saliency_kind == "learned":
            if images is None:
                raise ValueError(
                    "Expected `images` to compute a learned saliency grid. "
                    "Received: images=None"
                )
            saliency = self.saliency_map(images)
        else:
            return _constant(self._fixed["grid"])
        return warp.coarse_grid(
            saliency, fwhm=self.fwhm, padding=self.padding, separable=self.separable
        )

    def call(self, inputs, saliency=None):
        images, squeeze = as_image_batch(to_channels_last(inputs, self.data_format))
        check_non_empty_spatial("images", images)
        if saliency is not None:
            saliency = ops.convert_to_tensor(saliency)
            if len(saliency.shape) == 3:
                check_same_batch(
                    "images", images, "saliency", saliency, allow_broadcast=True
                )
        images = ops.cast(images, self.compute_dtype)
        shape = static_or_dynamic_shape(images)
        size = (self.height, self.width)
        if saliency is None and self._fixed is not None:
            # fixed warp: only the resampling runs
            if self.separable:
                x = _extent_to_pixels(self._fixed["x"], shape[2])
                y = _extent_to_pixels(self._fixed["y"], shape[1])
                zoomed = sample_separable(
                    images, x, y, self.interpolation, "border", "pixel"
                )
            else:
                coordinates = warp.grid_to_coordinates(
                    _constant(self._fixed["dense"]), (shape[1], shape[2])
                )
                zoomed = sample(
                    images, coordinates, self.interpolation, "border", "pixel"
                )
            grid = _constant(self._fixed["grid"])
        else:
            if saliency is not None:
                saliency = ops.cast(saliency, "float32")
            elif self.saliency_kind == "learned":
                saliency = self._saliency_map(images)
            grid = warp.coarse_grid(
                saliency, fwhm=self.fwhm, padding=self.padding, separable=self.separable
            )
            zoomed = warp.zoom(images, grid, size, self.separable, self.interpolation)
        if squeeze:
            zoomed = zoomed[0]
        zoomed = from_channels_last(zoomed, self.data_format)
        if not self.return_grid:
            return zoomed
        batch = shape[0]
        grid = ops.broadcast_to(
            grid, (batch, self.grid_shape[0], self.grid_shape[1], 2)
        )
        return [zoomed, grid[0] if squeeze else grid]

    def compute_output_shape(self, inputs_shape, saliency_shape=None):
        shape = shape_to_channels_last(inputs_shape, self.data_format)
        zoomed = resized_shape(shape, self.height, self.width)
        grid = zoomed[:-3] + (*self.grid_shape, 2)
        zoomed = shape_from_channels_last(zoomed, self.data_format)
        if not self.return_grid:
            return zoomed
        return [zoomed, grid]

    def compute_output_spec(self, inputs, saliency=None):
        shapes = self.compute_output_shape(tuple(inputs.shape))
        if not self.return_grid:
            return keras.KerasTensor(shapes, dtype=self.compute_dtype)
        return [
            keras.KerasTensor(shapes[0], dtype=self.compute_dtype),
            keras.KerasTensor(shapes[1], dtype="float32"),
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "saliency": _saliency_config(self.saliency_kind, self._saliency_array),
            "grid_shape": self.grid_shape,
            "fwhm": self.fwhm,
            "padding": self.padding,
            "separable": self.separable,
            "interpolation": self.interpolation,
            "return_grid": self.return_grid,
            "saliency_input_size": self.saliency_input_size,
            "saliency_filters": self.saliency_filters,
            "data_format": self.data_format,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("grid_shape", "saliency_input_size"):
            if isinstance(config.get(key), list):
                config[key] = tuple(config[key])
        return cls(**config)


def _extent_to_pixels(extent, size):
    """Constant extent coordinates -> pixel coordinates of an axis of `size`."""
    return (_constant(extent) + 1.0) * 0.5 * ops.cast(size, "float32")


def _map_structure(function, structure):
    if isinstance(structure, dict):
        return {key: function(value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [function(value) for value in structure]
    return function(structure)


def _is_single_shape(shape):
    return isinstance(shape, (tuple, list)) and all(
        d is None or isinstance(d, numbers.Integral) for d in shape
    )


@keras.saving.register_keras_serializable(package="keras_resize")
class Unzoom(TFDataMixin, keras.layers.Layer):
    """Resample zoomed feature maps back into the original frame (LZU).

    For every output pixel the inverse of the zoom's piecewise-bilinear
    warp gives the position to read in the zoomed map (bilinear sampling);
    pixels the warp does not cover (a cropping warp) are zero. Each map is
    unzoomed at its own size, so a list or dict of feature-pyramid levels
    works level by level; the output has the structure and shapes of the
    input.

    The warp is either fixed (`saliency` given: the inverse of every level
    size is computed once in float64 and kept as a constant) or given per
    call as the coarse grid of a `Zoom(..., return_grid=True)`:
    `Unzoom()(features, grid)`.

    A grid given per call is inverted through its monotone envelope (the
    running maximum of every node row in x and column in y): the grid of
    any `Zoom` is monotone, and a folded grid (which cannot be checked in
    graph mode) gives a finite result instead of NaN. Maps of zero height
    or width, and a grid whose batch is neither the maps' nor 1, raise a
    `ValueError`; an empty batch gives an empty batch.

    Args:
        saliency: `None` (the grid is passed to every call), `"uniform"`,
            or the fixed `(grid_height, grid_width)` saliency of the zoom.
        grid_shape: coarse grid shape of `"uniform"` (default `(31, 51)`).
        fwhm, padding, separable: the zoom's warp parameters (see `Zoom`).
        interpolation: `"bilinear"` or `"nearest"` (label maps).
        valid_size, padded_size: if the zoomed image was padded (e.g. to a
            multiple of 32) from `valid_size` to `padded_size` pixels before
            the feature extractor, invert against the valid region: the
            output maps are padded frames too, with the original image in
            their valid part and zeros in the padding. Give both or neither.
        data_format: `"channels_last"` or `"channels_first"` (default
            `keras.config.image_data_format()`), the layout of the maps (the
            grid is always `(batch, gh, gw, 2)`).
        **kwargs: base layer arguments.

    Input shape:
        A `(batch, h, w, channels)` map (channels-first: `(batch, channels,
        h, w)`), or a list / dict of them; and, if `saliency` is None, the
        `(batch, gh, gw, 2)` grid as second input.

    Output shape:
        The same as the input maps. With a fixed saliency the layer has no
        weights and runs inside `tf.data.Dataset.map` under any backend.

    Example:

    >>> saliency = np.ones((5, 7)); saliency[2, 3] = 50.0
    >>> zoom = Zoom(32, 48, saliency=saliency, return_grid=True)
    >>> images = np.random.default_rng(0).random((2, 96, 128, 3)).astype("float32")
    >>> zoomed, grid = zoom(images)
    >>> levels = [zoomed, zoomed[:, ::2, ::2]]
    >>> [tuple(level.shape) for level in Unzoom()(levels, grid)]
    [(2, 32, 48, 3), (2, 16, 24, 3)]
    >>> fixed = Unzoom(saliency=saliency)(levels)
    >>> bool(np.allclose(fixed[0], Unzoom()(zoomed, grid), atol=1e-5))
    True

    Convention: extent coordinates, see `keras_resize.ops.warp`: output
    pixel `(r, c)` of an `h x w` map reads the zoomed map at the inverse
    warp of the extent point `((c + 0.5) / w, (r + 0.5) / h)`, clamped to
    the map's (valid) pixel centres.
    """

    def __init__(
        self,
        saliency=None,
        grid_shape=None,
        fwhm=warp.DEFAULT_FWHM,
        padding="reflect",
        separable=True,
        interpolation="bilinear",
        valid_size=None,
        padded_size=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        kind, array, shape = _check_saliency(
            saliency, grid_shape, allow_learned=False, allow_none=True
        )
        self.saliency_kind, self._saliency_array = kind, array
        self.grid_shape = shape
        self.fwhm = warp.check_fwhm(fwhm)
        self.padding = check_choice("padding", padding, warp.PADDINGS)
        self.separable = check_bool("separable", separable)
        self.interpolation = check_choice(
            "interpolation", interpolation, warp.INTERPOLATIONS
        )
        self.valid_size = _check_optional_size("valid_size", valid_size)
        self.padded_size = _check_optional_size("padded_size", padded_size)
        self._valid_fraction = _check_valid_region(self.valid_size, self.padded_size)
        self.supports_masking = False
        self._grid = None
        self._inverse_cache = {}
        if kind is not None:
            self._grid = _fixed_grid(array, self.fwhm, self.padding, self.separable)

    @classmethod
    def from_zoom(cls, zoom, **kwargs):
        """The `Unzoom` of a `Zoom` layer: fixed if the zoom is, else one
        that takes the zoom's grid per call."""
        saliency, grid_shape = None, None
        if zoom.saliency_kind == "uniform":
            saliency, grid_shape = "uniform", zoom.grid_shape
        elif zoom.saliency_kind == "fixed":
            saliency = zoom._saliency_array
        kwargs.setdefault("data_format", zoom.data_format)
        return cls(
            saliency=saliency,
            grid_shape=grid_shape,
            fwhm=zoom.fwhm,
            padding=zoom.padding,
            separable=zoom.separable,
            **kwargs,
        )

    def _fixed_inverse(self, height, width):
        key = (height, width)
        if key not in self._inverse_cache:
            self._inverse_cache[key] = warp.fixed_inverse(
                self._grid,
                key,
                separable=self.separable,
                valid_size=self.valid_size,
                padded_size=self.padded_size,
            )
        return self._inverse_cache[key]

    def _unzoom_one(self, features, grid):
        features = to_channels_last(features, self.data_format, "features")
        features, squeeze = as_image_batch(features, "features")
        check_non_empty_spatial("features", features)
        if grid is not None and len(grid.shape) == 4:
            check_same_batch("features", features, "grid", grid, allow_broadcast=True)
        features = ops.cast(features, self.compute_dtype)
        shape = static_or_dynamic_shape(features)
        static = isinstance(shape[1], int) and isinstance(shape[2], int)
        if grid is None and static:
            # fixed warp, known size: the float64 inverse, computed once
            inverse = self._fixed_inverse(shape[1], shape[2])
            if self.separable:
                inverse = tuple(_constant(v) for v in inverse)
            else:
                inverse = _constant(inverse)
        else:
            if grid is None:
                grid = _constant(self._grid)
            inverse = warp.inverse_for_resampling(
                grid, shape[1], shape[2], self.separable, self._valid_fraction
            )
        out = warp.resample_inverse(
            features, inverse, self.interpolation, self._valid_fraction
        )
        return from_channels_last(out[0] if squeeze else out, self.data_format)

    def call(self, inputs, grid=None):
        if grid is None and self._grid is None:
            raise ValueError(
                "This Unzoom has no fixed saliency: pass the zoom's coarse grid "
                "as second input, `Unzoom()(features, grid)`. Received: grid=None"
            )
        if grid is not None:
            grid = ops.cast(grid, "float32")
        return _map_structure(lambda f: self._unzoom_one(f, grid), inputs)

    def compute_output_shape(self, inputs_shape, grid_shape=None):
        if isinstance(inputs_shape, dict):
            return {k: tuple(v) for k, v in inputs_shape.items()}
        if _is_single_shape(inputs_shape):
            check_image_shape(inputs_shape)
            return tuple(inputs_shape)
        return [tuple(s) for s in inputs_shape]

    def get_config(self):
        return {
            **super().get_config(),
            "saliency": _saliency_config(self.saliency_kind, self._saliency_array),
            "grid_shape": self.grid_shape,
            "fwhm": self.fwhm,
            "padding": self.padding,
            "separable": self.separable,
            "interpolation": self.interpolation,
            "valid_size": self.valid_size,
            "padded_size": self.padded_size,
            "data_format": self.data_format,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("grid_shape", "valid_size", "padded_size"):
            if isinstance(config.get(key), list):
                config[key] = tuple(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_resize")
class ZoomUnzoom(keras.layers.Layer):
    """Zoom the image, extract features, unzoom every level (LZU).

    Wraps any feature extractor (a Keras layer or model, e.g. a keras-hub
    backbone's pyramid-output model): `zoom -> extractor -> unzoom` of every
    output map, so the features live in the original image's frame and a
    detection or segmentation head works unchanged, while the extractor
    spent its pixels on the salient regions. With uniform saliency the
    zoom is the plain bilinear resize and the layer is `extractor(resize(x))`.

    Args:
        feature_extractor: a Keras layer or model taking `(batch, height,
            width, channels)` images (the zoomed size, padded if
            `pad_to_multiple`) and returning a map or a list / dict of maps.
        height: zoomed height, a positive int.
        width: zoomed width, a positive int.
        saliency, grid_shape, fwhm, padding, separable, saliency_input_size,
            saliency_filters: the zoom (see `Zoom`).
        pad_to_multiple: pad the zoomed image with zeros at the bottom and
            right to a multiple of this many pixels (e.g. 32 for a
            stride-32 backbone) and invert against the valid region (see
            `Unzoom`). Default: no padding.
        data_format: `"channels_last"` or `"channels_first"` (default
            `keras.config.image_data_format()`): the layout of the images,
            of what the feature extractor takes and returns, and of the
            output maps.
        **kwargs: base layer arguments.

    Input shape:
        `(batch, height, width, channels)` images of any size
        (channels-first: `(batch, channels, height, width)`).

    Output shape:
        The feature extractor's output structure and shapes (for the zoomed,
        padded input size), in the original frame.

    Example:

    >>> extractor = keras.Sequential([keras.layers.Conv2D(4, 3, strides=2, padding="same")])
    >>> saliency = np.ones((5, 7)); saliency[2, 3] = 50.0
    >>> layer = ZoomUnzoom(extractor, 32, 48, saliency=saliency, pad_to_multiple=32)
    >>> tuple(layer(np.zeros((2, 96, 128, 3), "float32")).shape)
    (2, 16, 32, 4)

    Convention: see `Zoom` and `Unzoom` (extent coordinates; uniform
    saliency is the half-pixel bilinear resize).
    """

    def __init__(
        self,
        feature_extractor,
        height,
        width,
        saliency="uniform",
        grid_shape=None,
        fwhm=warp.DEFAULT_FWHM,
        padding="reflect",
        separable=True,
        pad_to_multiple=None,
        saliency_input_size=None,
        saliency_filters=16,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        if isinstance(feature_extractor, dict):
            # deserialisation consumes the dict: keep the caller's config intact
            feature_extractor = keras.saving.deserialize_keras_object(
                copy.deepcopy(feature_extractor)
            )
        if not isinstance(feature_extractor, keras.layers.Layer):
            raise ValueError(
                "Expected `feature_extractor` to be a Keras layer or model. "
                f"Received: feature_extractor={feature_extractor!r}"
            )
        self.feature_extractor = feature_extractor
        self.pad_to_multiple = (
            None
            if pad_to_multiple is None
            else check_positive_int("pad_to_multiple", pad_to_multiple)
        )
        self.zoom = Zoom(
            height,
            width,
            saliency=saliency,
            grid_shape=grid_shape,
            fwhm=fwhm,
            padding=padding,
            separable=separable,
            return_grid=True,
            saliency_input_size=saliency_input_size,
            saliency_filters=saliency_filters,
            data_format=self.data_format,
            dtype=self.dtype_policy,
            name="zoom",
        )
        self.height, self.width = self.zoom.height, self.zoom.width
        self.padded_size = (self._padded(self.height), self._padded(self.width))
        valid = None
        if self.padded_size != (self.height, self.width):
            valid = (self.height, self.width)
        self.unzoom = Unzoom.from_zoom(
            self.zoom,
            valid_size=valid,
            padded_size=self.padded_size if valid else None,
            data_format=self.data_format,
            dtype=self.dtype_policy,
            name="unzoom",
        )

    def _padded(self, size):
        if self.pad_to_multiple is None:
            return size
        return int(math.ceil(size / self.pad_to_multiple) * self.pad_to_multiple)

    def build(self, input_shape):
        self.zoom.build(input_shape)
        input_shape = shape_to_channels_last(input_shape, self.data_format)
        input_shape = check_image_shape(input_shape, require_channels=True)
        if not self.feature_extractor.built:
            zoomed = (None, *self.padded_size, input_shape[-1])
            self.feature_extractor.build(
                shape_from_channels_last(zoomed, self.data_format)
            )

    def call(self, inputs, training=None):
        zoomed, grid = self.zoom(inputs)
        squeeze = len(zoomed.shape) == 3
        if squeeze:
            zoomed, grid = ops.expand_dims(zoomed, 0), ops.expand_dims(grid, 0)
        extra_h = self.padded_size[0] - self.height
        extra_w = self.padded_size[1] - self.width
        if extra_h or extra_w:
            spatial = [[0, extra_h], [0, extra_w]]
            if self.data_format == "channels_first":
                zoomed = ops.pad(zoomed, [[0, 0], [0, 0], *spatial])
            else:
                zoomed = ops.pad(zoomed, [[0, 0], *spatial, [0, 0]])
        features = self.feature_extractor(zoomed, training=training)
        features = _map_structure(lambda f: ops.cast(f, self.compute_dtype), features)
        if self.zoom.saliency_kind == "learned":
            out = self.unzoom(features, grid)
        else:
            out = self.unzoom(features)
        if squeeze:
            out = _map_structure(lambda f: f[0], out)
        return out

    def compute_output_shape(self, input_shape):
        input_shape = shape_to_channels_last(input_shape, self.data_format)
        input_shape = check_image_shape(input_shape)
        zoomed = input_shape[:-3] + (*self.padded_size, input_shape[-1])
        zoomed = shape_from_channels_last(zoomed, self.data_format)
        if len(zoomed) == 3:
            zoomed = (None,) + zoomed
        out = self.feature_extractor.compute_output_shape(zoomed)
        if len(input_shape) == 4:
            return out
        return _map_structure(lambda s: tuple(s)[1:], out)

    def get_config(self):
        zoom = self.zoom
        return {
            **super().get_config(),
            "feature_extractor": keras.saving.serialize_keras_object(
                self.feature_extractor
            ),
            "height": self.height,
            "width": self.width,
            "saliency": _saliency_config(zoom.saliency_kind, zoom._saliency_array),
            "grid_shape": zoom.grid_shape,
            "fwhm": zoom.fwhm,
            "padding": zoom.padding,
            "separable": zoom.separable,
            "pad_to_multiple": self.pad_to_multiple,
            "saliency_input_size": zoom.saliency_input_size,
            "saliency_filters": zoom.saliency_filters,
            "data_format": self.data_format,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("grid_shape", "saliency_input_size"):
            if isinstance(config.get(key), list):
                config[key] = tuple(config[key])
        return cls(**config)


@register_resizer("zoom")
def _zoom(height, width, name="resizer", saliency="learned", **kwargs):
    """Saliency-guided zoom (Learning to Zoom / FOVEA); learned saliency by
    default, `saliency="uniform"` or a fixed array via kwargs (default grid:
    `default_grid_shape`)."""
    return Zoom(height, width, saliency=saliency, name=name, **kwargs)
