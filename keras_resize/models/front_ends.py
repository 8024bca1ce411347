"""Detection front ends: how a detector at reduced scale spends its pixels.

A detector that sees images at `scale` of their full resolution (0.25: 256
-> 64 pixels) can get them three ways (`DetectionFrontEnd`):

- `"uniform"`: plain downsizing (`keras_resize.ops.resize`, bilinear without
  antialiasing by default, which equals a zoom with uniform saliency
  exactly); boxes are scaled by `scale`.
- `"fovea"` (FOVEA, Thavamani et al., ICCV 2021): a saliency-guided zoom
  (`keras_resize.ops.warp.zoom`) to the same size; the detector trains on
  the boxes warped into the zoomed frame (`warp.warp_boxes`, the exact
  inverse warp) and its boxes are unwarped back (`warp.unwarp_boxes`).
- `"lzu"` (Learning to Zoom and Unzoom, Thavamani et al., CVPR 2023): the
  detector's backbone zooms, computes its features and unzooms them
  (`keras_resize.models.lzu_backbone`), so the detector predicts in the
  uniformly downsampled frame; its input is the full-resolution image packed
  into that frame (`keras_resize.models.pack_frame`).

Saliency: `"fixed"` (a dataset prior, e.g. `warp.dataset_saliency` over the
training boxes: one warp computed once) or `"adaptive"` (per image: FOVEA's
KDE of the ground truth jittered by `jitter` pixels in training, of the
previous detections at inference).

The front end is the pixel side of such a detector (its input, the box
frames, the saliency); every tensor method is written with `keras.ops`, and
runs inside `tf.data.Dataset.map` under the TensorFlow backend. All the warp
math is that of `keras_resize.ops.warp`.
"""

import math
import numbers

import numpy as np

from keras_resize.backend import ops
from keras_resize.models.lzu import pack_frame
from keras_resize.ops import RESIZE_METHODS, resize, warp
from keras_resize.ops.validation import check_choice, check_positive_int

FRONT_ENDS = ("uniform", "fovea", "lzu")
SALIENCY_MODES = ("fixed", "adaptive")
FIRST_PASSES = ("fixed", "uniform")
BOX_FORMAT = "yxyx"


def _check_scale(scale):
    try:
        value = float(scale)
    except (TypeError, ValueError):
        value = float("nan")
    block = round(1 / value) if math.isfinite(value) and 0 < value <= 1 else 0
    if not block or abs(block * value - 1) > 1e-6:
        raise ValueError(
            "Expected `scale` to be 1 / k for a positive integer k (e.g. 0.25). "
            f"Received: scale={scale!r}"
        )
    return block


def _check_non_negative(name, value):
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
        raise ValueError(
            f"Expected `{name}` to be a finite number >= 0. Received: {name}={value!r}"
        )
    return float(value)


class DetectionFrontEnd:
    """The pixel side of a detector at reduced scale: input, boxes, saliency.

    Builds the detector's input from full-resolution images (`inputs`),
    moves boxes between the input frame and the detector's frame
    (`to_frame`, `to_input`), makes training batches (`training_batch`) and
    the adaptive saliency (`saliency_from_boxes`). The detector's frame is
    `frame = input_size * scale` pixels square: the resized image
    (`"uniform"`), the zoomed image (`"fovea"`), or the uniformly
    downsampled frame in which an LZU detector predicts (`"lzu"`, whose
    input is the full image packed by `pack_frame`, `block = 1 / scale`).

    Args:
        kind: `"uniform"`, `"fovea"` or `"lzu"`.
        saliency: `"fixed"` (the warp of `prior`) or `"adaptive"` (per-image
            KDE saliency); ignored by `"uniform"`.
        input_size: side of the square full-resolution images, a positive
            int divisible by `1 / scale`.
        scale: detector frame / input size, `1 / k` for a positive int `k`.
        prior: `(grid_height, grid_width)` dataset saliency: the fixed warp,
            and the first pass of adaptive inference (default: uniform on
            `keras_resize.ops.warp.GRID_SHAPE`). Its shape is the coarse
            grid of every warp, at most the frame size.
        fwhm: the attraction kernel's full width at half maximum, in grid
            nodes.
        kde_amplitude, kde_bandwidth: FOVEA's KDE (`warp.kde_saliency`;
            bandwidth is a variance per box side, in input pixels).
        jitter: adaptive training: uniform `+-jitter` pixel shift of the
            ground truth (`warp.jitter_boxes`), >= 0.
        first_pass: `"fixed"` (the prior) or `"uniform"` saliency of the
            first pass of adaptive inference.
        uniform_method: the resize method of `"uniform"` (one of
            `keras_resize.ops.RESIZE_METHODS`).

    Raises:
        ValueError: on an unknown `kind`, `saliency`, `first_pass` or
            `uniform_method`, a `scale` that is not `1 / k`, an
            `input_size` not divisible by `1 / scale`, a negative `jitter`,
            or a `prior` that is not 2-D or does not fit the frame.

    Example:

    >>> prior = np.ones((5, 5)); prior[2, 1] = 30.0
    >>> front_end = DetectionFrontEnd("fovea", "fixed", 64, 0.5, prior)
    >>> front_end.frame_size
    (32, 32)
    >>> images = np.random.default_rng(0).random((1, 64, 64, 3)).astype("float32")
    >>> x, grid = front_end.inputs(images)
    >>> tuple(x.shape), tuple(grid.shape)
    ((1, 32, 32, 3), (1, 5, 5, 2))
    >>> boxes = np.array([[[8.0, 4.0, 40.0, 20.0]]], "float32")
    >>> valid = np.array([[True]])
    >>> framed = front_end.to_frame(boxes, valid, grid)
    >>> back = front_end.to_input(framed, valid, grid)
    >>> bool(np.allclose(keras.ops.convert_to_numpy(back), boxes, atol=1e-3))
    True
    >>> lzu = DetectionFrontEnd("lzu", "adaptive", 64, 0.25, prior)
    >>> saliency = lzu.saliency_from_boxes(boxes, valid)
    >>> tuple(lzu.inputs(images, saliency)[0].shape)  # 3 * 4 * 4 + 1 channels
    (1, 16, 16, 49)

    Convention: boxes are `yxyx` pixel coordinates (`(y1, x1, y2, x2)`, an
    image spans `[0, W] x [0, H]`), of the input frame or of the detector's
    frame; padding rows (`valid` False) pass through unchanged. Images are
    channels last.
    """

    def __init__(
        self,
        kind,
        saliency,
        input_size,
        scale,
        prior=None,
        fwhm=warp.DEFAULT_FWHM,
        kde_amplitude=1.0,
        kde_bandwidth=64.0,
        jitter=8.0,
        first_pass="fixed",
        uniform_method="bilinear",
    ):
        self.kind = check_choice("kind", kind, FRONT_ENDS)
        check_choice("saliency", saliency, SALIENCY_MODES)
        check_choice("first_pass", first_pass, FIRST_PASSES)
        self.uniform_method = check_choice(
            "uniform_method", uniform_method, RESIZE_METHODS
        )
        self.adaptive = kind != "uniform" and saliency == "adaptive"
        self.input_size = check_positive_int("input_size", input_size)
        self.block = _check_scale(scale)
        if self.input_size % self.block:
            raise ValueError(
                "Expected `input_size` to be divisible by 1 / scale = "
                f"{self.block}. Received: input_size={input_size}, scale={scale}"
            )
        self.frame = self.input_size // self.block
        self.scale = 1.0 / self.block
        if prior is None:
            prior = np.asarray(warp.uniform_saliency(warp.GRID_SHAPE), np.float64)
        self.prior = np.asarray(prior, np.float64)
        if self.prior.ndim != 2:
            raise ValueError(
                "Expected `prior` to be a (grid_height, grid_width) array. "
                f"Received: prior.shape={self.prior.shape}"
            )
        self.grid_shape = tuple(self.prior.shape)
        self.fwhm = warp.check_fwhm(fwhm)
        self.kde_amplitude = kde_amplitude
        self.kde_bandwidth = kde_bandwidth
        self.jitter = _check_non_negative("jitter", jitter)
        first = self.prior
        if first_pass == "uniform":
            first = np.full(self.grid_shape, 1.0 / np.prod(self.grid_shape))
        self.first_pass = ops.convert_to_tensor(first, "float32")
        self.fixed_grid = None
        if kind != "uniform":
            if not (2 <= min(self.grid_shape) and max(self.grid_shape) <= self.frame):
                raise ValueError(
                    "Expected the prior's grid to fit the detector frame (2 <= "
                    f"grid size <= {self.frame}). Received: prior.shape="
                    f"{self.prior.shape}"
                )
            grid = warp.fixed_warp(self.prior, self.frame_size, fwhm=self.fwhm)["grid"]
            self.fixed_grid = ops.convert_to_tensor(grid, "float32")

    @property
    def size(self):
        """`(height, width)` of the full-resolution images."""
        return (self.input_size, self.input_size)

    @property
    def frame_size(self):
        """`(height, width)` of the detector's frame."""
        return (self.frame, self.frame)

    def input_channels(self, channels):
        """Channels of the detector's input for `channels`-channel images."""
        if self.kind != "lzu":
            return channels
        return channels * self.block**2 + (1 if self.adaptive else 0)

    def saliency_from_boxes(self, boxes, valid):
        """FOVEA's KDE saliency `(batch, gh, gw)` of `(batch, n, 4)` boxes of
        the input frame (rows where `valid` is False are left out)."""
        return warp.kde_saliency(
            boxes,
            self.size,
            self.grid_shape,
            amplitude=self.kde_amplitude,
            bandwidth=self.kde_bandwidth,
            valid=valid,
            box_format=BOX_FORMAT,
        )

    def first_pass_saliency(self, batch):
        """The saliency of the first pass of adaptive inference, `(batch, gh,
        gw)`: the prior, or uniform (`first_pass`)."""
        return ops.broadcast_to(self.first_pass, (batch, *self.grid_shape))

    def grid(self, saliency=None):
        """The zoom's coarse grid: the fixed one, or that of `saliency`."""
        if saliency is None:
            return self.fixed_grid
        return warp.coarse_grid(saliency, fwhm=self.fwhm)

    def inputs(self, images, saliency=None):
        """Full-resolution images -> `(detector input, zoom grid or None)`.

        Args:
            images: `(batch, input_size, input_size, channels)` floats.
            saliency: `(batch, gh, gw)`: required by adaptive `"lzu"` (it
                becomes the input's last channel), optional for `"fovea"`
                (default: the fixed warp), ignored otherwise.

        Returns:
            The detector's input (`(batch, frame, frame, channels)`, or the
            packed `input_channels(channels)` for `"lzu"`) and the coarse
            grid of the zoom (`"fovea"`; `None` otherwise: LZU's warp lives
            inside its backbone).
        """
        if self.kind == "uniform":
            return resize(images, self.frame_size, self.uniform_method), None
        if self.kind == "fovea":
            grid = self.grid(saliency)
            return warp.zoom(images, grid, self.frame_size), grid
        if not self.adaptive:
            return pack_frame(images, self.block), None
        if saliency is None:
            raise ValueError(
                "Expected a `saliency` for an adaptive LZU front end (the "
                "packed input carries it). Received: saliency=None"
            )
        return pack_frame(images, self.block, saliency), None

    def to_frame(self, boxes, valid, grid=None):
        """Input-frame boxes -> the detector's frame (padding kept).

        `grid` is the zoom of `"fovea"` (from `inputs`); the other front
        ends scale by `scale`.
        """
        if self.kind == "fovea":
            return warp.warp_boxes(
                boxes, grid, self.size, self.frame_size, box_format=BOX_FORMAT,
                valid=valid,
            )  # fmt: skip
        return ops.where(ops.expand_dims(valid, -1), boxes * self.scale, boxes)

    def to_input(self, boxes, valid, grid=None):
        """Detector-frame boxes -> the input frame (padding kept)."""
        if self.kind == "fovea":
            return warp.unwarp_boxes(
                boxes, grid, self.frame_size, self.size, box_format=BOX_FORMAT,
                valid=valid,
            )  # fmt: skip
        return ops.where(ops.expand_dims(valid, -1), boxes / self.scale, boxes)

    def training_batch(self, images, targets, seed, jitter=None):
        """A batch of full-resolution data -> `(detector input, targets)`.

        Adaptive front ends zoom by the KDE of the ground truth jittered by
        `jitter` pixels (default the front end's) with the stateless `seed`
        (a shape-`(2,)` int tensor).

        Args:
            images: `(batch, input_size, input_size, channels)` floats.
            targets: `{"boxes": (batch, n, 4) yxyx input pixels, "labels":
                (batch, n) ints, -1 for padding}`.
            seed: the jitter's stateless seed.
            jitter: overrides the front end's `jitter` (e.g. 0 for
                validation).

        Returns:
            `(x, {"boxes": boxes in the detector's frame, "labels"})`.
        """
        boxes, labels = targets["boxes"], targets["labels"]
        valid = labels >= 0
        saliency = None
        if self.adaptive:
            jitter = self.jitter if jitter is None else jitter
            moved = warp.jitter_boxes(
                ops.where(ops.expand_dims(valid, -1), boxes, ops.zeros_like(boxes)),
                float(jitter),
                seed,
                box_format=BOX_FORMAT,
            )
            saliency = self.saliency_from_boxes(moved, valid)
        x, grid = self.inputs(images, saliency)
        frame_boxes = self.to_frame(boxes, valid, grid)
        return x, {"boxes": frame_boxes, "labels": labels}
