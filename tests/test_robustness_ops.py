"""Regression tests of issue 14 for the sampler, `resize` and the pyramid ops.

Each test failed before its fix:

1. `nearest` (and `gaussian`) resize with an input size unknown at trace
   time: Grappler re-associated the float32 tap positions (off by one
   pixel against `tf.image.resize`).
2. `sample` with one grid shared by a batch whose size is unknown at trace
   time (reshape error).
3. NaN pixels leaking through zero weights (zero padding, `area` taps).
4. Zero-size images and sizes (silent zeros, NaN, -inf or raw TF errors).
5. Mismatched batch sizes / ranks of paired inputs (raw backend errors).
"""

import keras
import numpy as np
import pytest

from keras_resize.layers.pyramids import (
    AtrousSpatialPyramidPooling,
    GaussianPyramid,
    LaplacianPyramid,
    PyramidPoolingModule,
    SpatialPyramidPooling,
)
from keras_resize.layers.resize import Resize
from keras_resize.ops import (
    combine_taps,
    gather_patches,
    resize,
    sample,
    sample_separable,
)
from keras_resize.ops import pyramids as P

BACKEND = keras.backend.backend()

# (input size, output size) pairs where the graph-mode formula was off:
# nearest read the pixel before TensorFlow's, gaussian kept a tap of
# weight 0.011 (found by an exhaustive sweep of 1..64 x 1..64).
NEAREST_PAIRS = [(6, 41), (62, 7), (26, 11), (52, 11), (54, 19), (52, 22)]
GAUSSIAN_PAIRS = [(14, 1), (26, 1), (28, 1), (30, 1), (52, 1)]


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def ramp_image(height, width):
    """Pixel values that identify the source row (and column)."""
    rows = np.arange(height, dtype="float32")[:, None]
    columns = np.arange(width, dtype="float32")[None, :]
    return (rows * 100.0 + columns)[None, :, :, None]


# -- 1. dynamic input sizes ---------------------------------------------------


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_resize_with_unknown_size_matches_tf_image_resize(jit_compile):
    import tensorflow as tf

    spec = [tf.TensorSpec([None, None, None, 1], tf.float32)]
    for method, pairs in (("nearest", NEAREST_PAIRS), ("gaussian", GAUSSIAN_PAIRS)):
        for in_size, out_size in pairs:
            images = ramp_image(in_size, in_size)
            if method == "gaussian":
                images = np.random.default_rng(in_size).random(images.shape)
                images = images.astype("float32")
            function = tf.function(
                lambda x, m=method, o=out_size: resize(x, (o, o), method=m),
                input_signature=spec,
                jit_compile=jit_compile,
            )
            expected = tf.image.resize(images, (out_size, out_size), method=method)
            np.testing.assert_allclose(
                function(images).numpy(),
                expected.numpy(),
                atol=1e-4,
                err_msg=f"{method} {in_size} -> {out_size}",
            )


@pytest.mark.parametrize("in_size,out_size", [(13, 6), (13, 12), (26, 24), (39, 18)])
def test_antialiased_gaussian_cut_off_matches_tf_image_resize(in_size, out_size):
    """Kernel positions times `1 / kernel_scale`, as TensorFlow: a division
    rounded across the gaussian's cut-off at 1.5 and kept a tap (static
    sizes, every backend; up to 3e-3 off)."""
    import tensorflow as tf

    images = np.random.default_rng(in_size).random((1, in_size, 3, 1))
    images = images.astype("float32")
    expected = tf.image.resize(images, (out_size, 3), "gaussian", antialias=True)
    got = to_numpy(resize(images, (out_size, 3), "gaussian", antialias=True))
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)


@pytest.mark.tensorflow_only
def test_nearest_resize_in_a_saved_model_with_unknown_size(tmp_path):
    import tensorflow as tf

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1])])
        def serve(self, images):
            return {"out": resize(images, (41, 7), method="nearest")}

    module = Model()
    tf.saved_model.save(module, str(tmp_path), signatures=module.serve)
    loaded = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    for height, width in ((6, 62), (62, 6), (13, 9)):
        images = ramp_image(height, width)
        expected = tf.image.resize(images, (41, 7), method="nearest").numpy()
        got = loaded(images=tf.constant(images))["out"].numpy()
        np.testing.assert_array_equal(got, expected, err_msg=f"{height}x{width}")


# -- 2. a grid shared by a batch of unknown size ------------------------------


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_shared_grid_with_unknown_batch_sizes(interpolation):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.random((2, 5, 6, 3)).astype("float32")
    grid = rng.uniform(-1.0, 7.0, (1, 4, 3, 2)).astype("float32")
    expected = to_numpy(sample(images, np.repeat(grid, 2, axis=0), interpolation))
    for grid_batch in (None, 1):
        function = tf.function(
            lambda i, g: sample(i, g, interpolation),
            input_signature=[
                tf.TensorSpec([None, None, None, 3]),
                tf.TensorSpec([grid_batch, None, None, 2]),
            ],
        )
        np.testing.assert_allclose(function(images, grid).numpy(), expected, atol=1e-6)
        # a per-sample grid through the same traced function
        tiled = np.repeat(grid, 2, axis=0)
        if grid_batch is None:
            np.testing.assert_allclose(
                function(images, tiled).numpy(), expected, atol=1e-6
            )


# -- 3. NaN and inf pixels ----------------------------------------------------


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_zero_padding_is_exactly_zero_next_to_nan_pixels(interpolation, value):
    images = np.zeros((1, 4, 5, 1), "float32")
    images[0, 0, 0, 0] = value  # the corner that outside taps clamp to
    images[0, 3, 4, 0] = value
    outside = [[-10.0, -10.0], [-3.0, 0.5], [0.5, -3.0], [30.0, 30.0], [9.0, 3.5]]
    grid = np.array([[outside]], "float32")
    got = to_numpy(sample(images, grid, interpolation, padding_mode="zeros"))
    np.testing.assert_array_equal(got, np.zeros_like(got))
    x = np.array([-10.0, -3.0, 30.0], "float32")
    y = np.array([-10.0, 0.5, 30.0], "float32")
    got = to_numpy(sample_separable(images, x, y, interpolation, "zeros"))
    # every output has its column or its row outside the image
    np.testing.assert_array_equal(got, np.zeros_like(got))
    # the border and reflect paddings do read the pixel (no masking there)
    got = to_numpy(sample(images, grid, interpolation, padding_mode="border"))
    assert not np.isfinite(got[0, 0, 0, 0])


def test_area_resize_spreads_a_nan_pixel_like_tf_image_resize():
    import tensorflow as tf

    for (height, width), size in (((8, 8), (4, 4)), ((8, 8), (3, 3)), ((9, 7), (4, 3))):
        for row in range(height):
            images = np.random.default_rng(row).random((1, height, width, 1))
            images = images.astype("float32")
            images[0, row, row % width, 0] = np.nan
            got = np.isnan(to_numpy(resize(images, size, method="area")))
            expected = np.isnan(tf.image.resize(images, size, method="area").numpy())
            np.testing.assert_array_equal(got, expected, err_msg=f"{row} {size}")


@pytest.mark.parametrize(
    "method,antialias",
    [
        ("area", False),
        ("bilinear", False),
        ("bicubic", False),
        ("lanczos3", False),
        ("bilinear", True),
        ("lanczos5", True),
    ],
)
def test_nan_reaches_only_the_outputs_that_weigh_the_pixel(method, antialias):
    """An output is NaN iff its value depends on the NaN pixel (iff it
    changes when that pixel changes): zero-weight taps do not propagate."""
    rng = np.random.default_rng(1)
    images = rng.random((1, 12, 12, 1)).astype("float32")
    for size in ((4, 4), (3, 5), (24, 18)):
        row, column = 4, 7
        changed = images.copy()
        changed[0, row, column, 0] = 1e30  # lanczos weights of 1e-17 still show
        depends = (
            np.abs(
                to_numpy(resize(changed, size, method, antialias))
                - to_numpy(resize(images, size, method, antialias))
            )
            > 0
        )
        poisoned = images.copy()
        poisoned[0, row, column, 0] = np.nan
        got = np.isnan(to_numpy(resize(poisoned, size, method, antialias)))
        np.testing.assert_array_equal(got, depends, err_msg=str(size))


def test_gather_patches_padding_stays_zero_next_to_nan_pixels():
    images = np.ones((1, 3, 3, 1), "float32")
    images[0, 0, 0, 0] = np.nan
    images[0, 2, 2, 0] = np.inf
    patches, inside = gather_patches(
        images, np.array([0, 2], "int32"), np.array([0, 2], "int32"), radius=1
    )
    patches, inside = to_numpy(patches), to_numpy(inside)
    outside = np.broadcast_to(inside[None, ..., None] == 0, patches.shape)
    np.testing.assert_array_equal(patches[outside], 0.0)


# -- 4. zero-size dimensions --------------------------------------------------

ZERO_SIZED = [(2, 0, 5, 3), (2, 6, 0, 3), (0, 0, 0, 3)]


@pytest.mark.parametrize("shape", ZERO_SIZED, ids=str)
@pytest.mark.parametrize(
    "name,call",
    [
        ("resize", lambda x: resize(x, (3, 4))),
        ("resize_area", lambda x: resize(x, (3, 4), method="area")),
        ("adaptive_pool", lambda x: P.adaptive_pool(x, 2)),
        ("adaptive_pool_average", lambda x: P.adaptive_pool(x, 2, "average")),
        ("pyramid_down", P.pyramid_down),
        ("pyramid_up", lambda x: P.pyramid_up(x, (4, 4))),
        ("bilinear_resize_to", lambda x: P.bilinear_resize_to(x, (4, 4))),
        ("gaussian_pyramid", lambda x: P.gaussian_pyramid(x, 3)),
        ("laplacian_pyramid", lambda x: P.laplacian_pyramid(x, 3)),
        ("reconstruct_laplacian", lambda x: P.reconstruct_laplacian([x])),
        ("sample", lambda x: sample(x, np.zeros((1, 2, 2, 2), "float32"))),
        (
            "sample_separable",
            lambda x: sample_separable(x, np.zeros(2, "float32"), np.zeros(2)),
        ),
        (
            "combine_taps",
            lambda x: combine_taps(x, np.zeros((2, 2, 1), "int32"), np.ones((2, 2, 1))),
        ),
    ],
)
def test_zero_height_or_width_raises(name, call, shape):
    with pytest.raises(ValueError, match="non-zero height and width") as error:
        call(np.zeros(shape, "float32"))
    assert str(shape) in str(error.value), name


@pytest.mark.parametrize(
    "layer",
    [
        lambda: SpatialPyramidPooling(levels=(2, 1)),
        lambda: PyramidPoolingModule(bins=(1, 2), filters=2),
        lambda: AtrousSpatialPyramidPooling(rates=(1,), filters=2),
        lambda: GaussianPyramid(levels=2),
        lambda: LaplacianPyramid(levels=2),
    ],
    ids=["spp", "ppm", "aspp", "gaussian", "laplacian"],
)
@pytest.mark.parametrize("shape", [(2, 0, 5, 3), (2, 6, 0, 3)], ids=str)
def test_pyramid_layers_reject_zero_height_or_width(layer, shape):
    with pytest.raises(ValueError, match="non-zero height and width"):
        layer()(np.zeros(shape, "float32"))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda x: resize(x, (0, 3)), "size=\\(0, 3\\)"),
        (lambda x: P.pyramid_up(x, (0, 4)), "size=\\(0, 4\\)"),
        (lambda x: P.pyramid_up(x, (4, 0)), "size=\\(4, 0\\)"),
        (lambda x: P.pyramid_up(x, (4,)), "size=\\(4,\\)"),
        (lambda x: P.bilinear_resize_to(x, (0, 4)), "size=\\(0, 4\\)"),
        (lambda x: P.adaptive_pool(x, 0), "bins=0"),
        (lambda x: Resize(0, 3)(x), "height=0"),
    ],
)
def test_zero_sizes_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.zeros((1, 4, 4, 1), "float32"))


@pytest.mark.parametrize(
    "name,call,out_shape",
    [
        ("resize", lambda x: resize(x, (3, 4), "area"), (0, 3, 4, 2)),
        ("resize_nearest", lambda x: resize(x, (3, 4), "nearest"), (0, 3, 4, 2)),
        ("adaptive_max", lambda x: P.adaptive_pool(x, 2), (0, 2, 2, 2)),
        ("adaptive_avg", lambda x: P.adaptive_pool(x, 3, "average"), (0, 3, 3, 2)),
        ("pyramid_down", P.pyramid_down, (0, 3, 4, 2)),
        ("pyramid_up", lambda x: P.pyramid_up(x, (11, 13)), (0, 11, 13, 2)),
        ("laplacian", lambda x: P.laplacian_pyramid(x, 3)[-1], (0, 2, 2, 2)),
        (
            "reconstruct",
            lambda x: P.reconstruct_laplacian(P.laplacian_pyramid(x, 3)),
            (0, 6, 7, 2),
        ),
        (
            "sample_shared_grid",
            lambda x: sample(x, np.zeros((1, 2, 3, 2), "float32")),
            (0, 2, 3, 2),
        ),
        (
            "sample_separable",
            lambda x: sample_separable(x, np.zeros(3, "float32"), np.zeros(2)),
            (0, 2, 3, 2),
        ),
        (
            "combine_taps",
            lambda x: combine_taps(x, np.zeros((2, 3, 4), "int32"), np.ones((2, 3, 4))),
            (0, 2, 3, 2),
        ),
        (
            "gather_patches",
            lambda x: gather_patches(x, np.array([1]), np.array([2, 3]), 1)[0],
            (0, 1, 2, 3, 3, 2),
        ),
        ("spp", lambda x: SpatialPyramidPooling(levels=(2, 1))(x), (0, 10)),
        ("ppm", lambda x: PyramidPoolingModule((1, 2), filters=2)(x), (0, 6, 7, 6)),
        (
            "aspp",
            lambda x: AtrousSpatialPyramidPooling((1,), filters=2)(x),
            (0, 6, 7, 2),
        ),
        ("gaussian_layer", lambda x: GaussianPyramid(2)(x)[-1], (0, 3, 4, 2)),
        ("laplacian_layer", lambda x: LaplacianPyramid(2)(x)[0], (0, 6, 7, 2)),
    ],
)
def test_empty_batch_gives_an_empty_batch(name, call, out_shape):
    out = call(np.zeros((0, 6, 7, 2), "float32"))
    assert tuple(out.shape) == out_shape, name


# -- 5. mismatched batch sizes and ranks --------------------------------------


def test_sample_rejects_a_grid_of_another_batch_size():
    images = np.zeros((2, 4, 4, 1), "float32")
    with pytest.raises(ValueError) as error:
        sample(images, np.zeros((3, 2, 2, 2), "float32"))
    message = str(error.value)
    assert "`images`" in message and "`coordinates`" in message
    assert "(2, 4, 4, 1)" in message and "(3, 2, 2, 2)" in message
    # a batch of 1 is shared, the same batch size is per sample
    assert tuple(sample(images, np.zeros((1, 2, 2, 2), "float32")).shape)[0] == 2
    assert tuple(sample(images, np.zeros((2, 2, 2, 2), "float32")).shape)[0] == 2


@pytest.mark.parametrize("argument", ["x", "y"])
def test_sample_separable_rejects_per_sample_coordinates_of_another_batch(argument):
    images = np.zeros((2, 4, 4, 1), "float32")
    coordinates = {"x": np.zeros(3, "float32"), "y": np.zeros(3, "float32")}
    coordinates[argument] = np.zeros((3, 3), "float32")
    with pytest.raises(ValueError) as error:
        sample_separable(images, coordinates["x"], coordinates["y"])
    message = str(error.value)
    assert "`images`" in message and f"`{argument}`" in message
    assert "(2, 4, 4, 1)" in message and "(3, 3)" in message


@pytest.mark.parametrize(
    "index_shape,weights_shape,match",
    [
        ((3, 2, 2, 4), (2, 2, 4), r"`images` and `index`.*\(3, 2, 2, 4\)"),
        ((2, 2, 4), (3, 2, 2, 4), r"`images` and `weights`.*\(3, 2, 2, 4\)"),
        ((2, 4), (2, 4), r"index.shape=\(2, 4\)"),
        ((2, 2, 4), (2, 2, 2, 2, 4), r"weights.shape=\(2, 2, 2, 2, 4\)"),
        ((2, 2, 4), (2, 2, 3), r"index.shape=\(2, 2, 4\) and weights.shape"),
    ],
)
def test_combine_taps_rejects_mismatched_arguments(index_shape, weights_shape, match):
    images = np.zeros((2, 5, 6, 3), "float32")
    with pytest.raises(ValueError, match=match):
        combine_taps(
            images, np.zeros(index_shape, "int32"), np.zeros(weights_shape, "float32")
        )


def test_combine_taps_rejects_images_of_rank_3():
    with pytest.raises(ValueError, match=r"images.shape=\(5, 6, 3\)"):
        combine_taps(
            np.zeros((5, 6, 3), "float32"),
            np.zeros((2, 2, 4), "int32"),
            np.zeros((2, 2, 4), "float32"),
        )


@pytest.mark.parametrize(
    "images_shape,rows,columns,radius,match",
    [
        ((5, 6, 3), [0], [0], 1, r"images.shape=\(5, 6, 3\)"),
        ((1, 5, 6, 3), [[0]], [0], 1, r"rows.shape=\(1, 1\)"),
        ((1, 5, 6, 3), [0], [[0]], 1, r"columns.shape=\(1, 1\)"),
        ((1, 5, 6, 3), [0], [0], -1, "radius=-1"),
    ],
)
def test_gather_patches_rejects_bad_arguments(
    images_shape, rows, columns, radius, match
):
    with pytest.raises(ValueError, match=match):
        gather_patches(
            np.zeros(images_shape, "float32"),
            np.array(rows, "int32"),
            np.array(columns, "int32"),
            radius,
        )
