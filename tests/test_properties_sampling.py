"""Property-based tests of `resize`, the grid sampler and the pyramid ops.

References, all independent of the package's tap code:

- `resize`: `tf.image.resize` (TensorFlow is in the dev venv on every
  backend), for every method with and without antialiasing, sizes 1-64,
  static shapes on every backend and, on TensorFlow, sizes unknown until
  run time (`tf.function` with `None` dims).
- `sample` / `sample_separable`: `scipy.ndimage.map_coordinates` (order 1
  for bilinear, 0 for nearest; padding `zeros` -> `grid-constant`, `border`
  -> `nearest`, `reflect` -> `mirror`, the mapping of `tests/test_sampling.py`),
  both conventions, points up to 3 pixels outside and far outside the image,
  per-sample and shared grids.
- the pyramid ops: numpy loops (adaptive bins as PyTorch's
  `AdaptiveAvgPool2d` / `AdaptiveMaxPool2d`, `np.pad(mode="reflect")` for
  the binomial blur, explicit bilinear interpolation for `pyramid_up`).

On JAX, which compiles every eager op once per shape, each property runs a
fifth of its examples. The sampler's nested XLA fusion is switched off (a new XLA program per
random shape would dominate the run time); the fused path runs the same
taps and is tested in `tests/test_sampling.py` and `tests/test_resize.py`.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from property_settings import property_settings
from scipy import ndimage

from keras_resize.ops import RESIZE_METHODS, resize, sample, sample_separable, sampling
from keras_resize.ops import pyramids as P

BACKEND = keras.backend.backend()
# JAX compiles every eager op once per new shape: a fifth of the examples
SCALE = 5 if BACKEND == "jax" else 1
SCIPY_MODE = {"zeros": "grid-constant", "border": "nearest", "reflect": "mirror"}
sizes = st.integers(1, 64)

pytestmark = pytest.mark.property


@pytest.fixture(autouse=True)
def plain_kernels():
    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(False)
    yield
    sampling.set_xla_fusion(previous)


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def random_images(seed, shape):
    return np.random.default_rng(seed).random(shape).astype("float32")


# -- resize against tf.image.resize ------------------------------------------


@st.composite
def resize_cases(draw):
    return dict(
        in_size=(draw(sizes), draw(sizes)),
        out_size=(draw(sizes), draw(sizes)),
        method=draw(st.sampled_from(RESIZE_METHODS)),
        antialias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def tf_reference(images, case):
    return tf.image.resize(
        images, case["out_size"], method=case["method"], antialias=case["antialias"]
    ).numpy()


@property_settings(100 // SCALE)
@given(resize_cases())
def test_resize_matches_tf_image_resize(case):
    images = random_images(case["seed"], (1, *case["in_size"], 2))
    got = to_numpy(resize(images, case["out_size"], case["method"], case["antialias"]))
    np.testing.assert_allclose(got, tf_reference(images, case), atol=1e-4)


_DYNAMIC = {}


def dynamic_resize(out_size, method, antialias):
    """A `tf.function` with unknown batch and spatial dims (cached)."""
    key = (out_size, method, antialias)
    if key not in _DYNAMIC:
        _DYNAMIC[key] = tf.function(
            lambda x: resize(x, out_size, method=method, antialias=antialias),
            input_signature=[tf.TensorSpec([None, None, None, 2], tf.float32)],
        )
    return _DYNAMIC[key]


@pytest.mark.tensorflow_only
@property_settings(40 // SCALE)
@given(resize_cases(), st.lists(st.tuples(sizes, sizes), min_size=1, max_size=3))
def test_resize_with_unknown_sizes_matches_tf_image_resize(case, more_sizes):
    """One traced function (the taps computed in graph ops at run time)
    against several input sizes."""
    function = dynamic_resize(case["out_size"], case["method"], case["antialias"])
    for index, in_size in enumerate([case["in_size"], *more_sizes]):
        images = random_images(case["seed"] + index, (1, *in_size, 2))
        np.testing.assert_allclose(
            function(images).numpy(),
            tf_reference(images, case),
            atol=1e-4,
            err_msg=str(in_size),
        )


# -- the grid sampler against scipy.ndimage ----------------------------------


def to_convention(u, size, convention):
    if convention == "pixel":
        return u + 0.5
    return u / max(size - 1, 1) * 2.0 - 1.0


def to_index(coordinates, size, convention):
    if convention == "pixel":
        return coordinates - 0.5
    return (coordinates + 1.0) / 2.0 * (size - 1)


def avoid_ties(u):
    """Move index-space coordinates off the `k + 0.5` rounding ties of
    nearest sampling (scipy and the sampler may break them differently)."""
    frac = u - np.floor(u)
    return np.where(np.abs(frac - 0.5) < 1e-3, u + 0.01, u)


def index_space_points(rng, shape, size):
    """Mostly within 3 pixels of the image, some far outside."""
    u = rng.uniform(-3.0, size + 2.0, shape)
    far = rng.random(shape) < 0.1
    return np.where(far, rng.uniform(-50.0, 50.0 + size, shape), u)


def scipy_sample(images, u, v, order, padding_mode):
    """`images` (b, h, w, c) at index-space `u` (columns), `v` (rows)."""
    out = np.zeros((images.shape[0],) + u.shape[1:] + images.shape[-1:])
    for b in range(images.shape[0]):
        g = min(b, u.shape[0] - 1)
        for c in range(images.shape[-1]):
            out[b, ..., c] = ndimage.map_coordinates(
                images[b, ..., c].astype("float64"),
                [v[g], u[g]],
                order=order,
                mode=SCIPY_MODE[padding_mode],
                cval=0.0,
            )
    return out


@st.composite
def sampler_cases(draw):
    return dict(
        batch=draw(st.integers(1, 3)),
        height=draw(st.integers(1, 12)),
        width=draw(st.integers(1, 12)),
        out=(draw(st.integers(1, 6)), draw(st.integers(1, 6))),
        shared=draw(st.booleans()),
        interpolation=draw(st.sampled_from(["bilinear", "nearest"])),
        padding_mode=draw(st.sampled_from(["zeros", "border", "reflect"])),
        convention=draw(st.sampled_from(["pixel", "normalized"])),
        seed=draw(st.integers(0, 2**16)),
    )


@property_settings(80 // SCALE)
@given(sampler_cases())
def test_sample_matches_scipy_map_coordinates(case):
    rng = np.random.default_rng(case["seed"])
    batch, height, width = case["batch"], case["height"], case["width"]
    images = rng.random((batch, height, width, 2)).astype("float32")
    grid_batch = 1 if case["shared"] else batch
    u = avoid_ties(index_space_points(rng, (grid_batch, *case["out"]), width))
    v = avoid_ties(index_space_points(rng, (grid_batch, *case["out"]), height))
    convention = case["convention"]
    grid = np.stack(
        [to_convention(u, width, convention), to_convention(v, height, convention)],
        axis=-1,
    ).astype("float32")
    # the reference reads the float32 grid, mapped back in float64
    u = to_index(grid[..., 0].astype("float64"), width, convention)
    v = to_index(grid[..., 1].astype("float64"), height, convention)
    order = 1 if case["interpolation"] == "bilinear" else 0
    expected = scipy_sample(images, u, v, order, case["padding_mode"])
    got = to_numpy(
        sample(images, grid, case["interpolation"], case["padding_mode"], convention)
    )
    np.testing.assert_allclose(got, expected, atol=1e-4)


@property_settings(50 // SCALE)
@given(sampler_cases())
def test_sample_separable_matches_scipy_map_coordinates(case):
    rng = np.random.default_rng(case["seed"])
    batch, height, width = case["batch"], case["height"], case["width"]
    convention = case["convention"]
    images = rng.random((batch, height, width, 2)).astype("float32")
    out_h, out_w = case["out"]
    lead = () if case["shared"] else (batch,)
    u = avoid_ties(index_space_points(rng, lead + (out_w,), width))
    v = avoid_ties(index_space_points(rng, lead + (out_h,), height))
    x = to_convention(u, width, convention).astype("float32")
    y = to_convention(v, height, convention).astype("float32")
    u = to_index(x.astype("float64"), width, convention).reshape(-1, 1, out_w)
    v = to_index(y.astype("float64"), height, convention).reshape(-1, out_h, 1)
    u, v = np.broadcast_arrays(u, v)
    order = 1 if case["interpolation"] == "bilinear" else 0
    expected = scipy_sample(images, u, v, order, case["padding_mode"])
    got = to_numpy(
        sample_separable(
            images, x, y, case["interpolation"], case["padding_mode"], convention
        )
    )
    np.testing.assert_allclose(got, expected, atol=1e-4)


# -- pyramid ops against numpy loops -----------------------------------------


def numpy_adaptive_pool(images, bins, reduction):
    batch, height, width, channels = images.shape
    out = np.zeros((batch, bins, bins, channels))
    reduce = np.max if reduction == "max" else np.mean
    for i in range(bins):
        r0, r1 = (i * height) // bins, -((-(i + 1) * height) // bins)
        for j in range(bins):
            c0, c1 = (j * width) // bins, -((-(j + 1) * width) // bins)
            out[:, i, j] = reduce(images[:, r0:r1, c0:c1], axis=(1, 2))
    return out


def numpy_pyramid_down(images):
    kernel = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    out = images.astype("float64")
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (2, 2)
        # reflect about the edge pixel, not repeating it (np.pad "reflect")
        padded = np.pad(out, pad, mode="reflect")
        size = out.shape[axis]
        blurred = sum(
            k * np.take(padded, np.arange(size) + t, axis=axis)
            for t, k in enumerate(kernel)
        )
        out = np.take(blurred, np.arange(0, size, 2), axis=axis)
    return out


def numpy_pyramid_up(images, size):
    out = images.astype("float64")
    for axis, out_size in zip((1, 2), size, strict=True):
        in_size = out.shape[axis]
        position = np.arange(out_size) / 2.0  # output j at input index j / 2
        position = np.clip(position, 0, in_size - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, in_size - 1)
        frac = position - low
        shape = [1, 1, 1, 1]
        shape[axis] = out_size
        frac = frac.reshape(shape)
        out = (
            np.take(out, low, axis=axis) * (1 - frac)
            + np.take(out, high, axis=axis) * frac
        )
    return out


@property_settings(40 // SCALE)
@given(
    height=sizes,
    width=sizes,
    bins=st.integers(1, 8),
    reduction=st.sampled_from(["max", "average"]),
    seed=st.integers(0, 2**16),
)
def test_adaptive_pool_matches_numpy(height, width, bins, reduction, seed):
    images = random_images(seed, (2, height, width, 2))
    got = to_numpy(P.adaptive_pool(images, bins, reduction))
    expected = numpy_adaptive_pool(images, bins, reduction)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@property_settings(30 // SCALE)
@given(height=sizes, width=sizes, levels=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_gaussian_and_laplacian_pyramids_match_numpy(height, width, levels, seed):
    images = random_images(seed, (1, height, width, 2))
    gaussian = [images.astype("float64")]
    for _ in range(levels - 1):
        gaussian.append(numpy_pyramid_down(gaussian[-1]))
    got = [to_numpy(level) for level in P.gaussian_pyramid(images, levels)]
    assert [g.shape for g in got] == [g.shape for g in gaussian]
    for k, (g, e) in enumerate(zip(got, gaussian, strict=True)):
        np.testing.assert_allclose(g, e, atol=1e-5, err_msg=f"gaussian level {k}")
    # one pyramid_down step
    if levels > 1:
        np.testing.assert_allclose(
            to_numpy(P.pyramid_down(images)), gaussian[1], atol=1e-5
        )
    laplacian = P.laplacian_pyramid(images, levels)
    for k in range(levels - 1):
        expected = gaussian[k] - numpy_pyramid_up(
            gaussian[k + 1], gaussian[k].shape[1:3]
        )
        np.testing.assert_allclose(
            to_numpy(laplacian[k]), expected, atol=1e-5, err_msg=f"laplacian {k}"
        )
    np.testing.assert_allclose(to_numpy(laplacian[-1]), gaussian[-1], atol=1e-5)
    rebuilt = to_numpy(P.reconstruct_laplacian(laplacian))
    np.testing.assert_allclose(rebuilt, images, atol=1e-5)


@property_settings(30 // SCALE)
@given(
    height=st.integers(1, 32),
    width=st.integers(1, 32),
    out_height=sizes,
    out_width=sizes,
    seed=st.integers(0, 2**16),
)
def test_pyramid_up_matches_numpy(height, width, out_height, out_width, seed):
    images = random_images(seed, (2, height, width, 1))
    got = to_numpy(P.pyramid_up(images, (out_height, out_width)))
    expected = numpy_pyramid_up(images, (out_height, out_width))
    np.testing.assert_allclose(got, expected, atol=1e-5)
