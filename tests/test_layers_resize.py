"""The `Resize` layer through the shared harness, and the harness itself."""

import itertools

import keras
import numpy as np
import pytest

from keras_resize.layers import Resize
from keras_resize.ops import RESIZE_METHODS
from keras_resize.testing import assert_value_error, run_layer_test

BACKEND = keras.backend.backend()


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.fixture
def channels_first_default():
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format(previous)


@pytest.mark.parametrize(
    "kwargs,input_shape",
    [
        (dict(height=16, width=24), (2, 37, 53, 3)),
        (dict(height=16, width=24, interpolation="area"), (2, 64, 96, 1)),
        (
            dict(height=40, width=13, interpolation="bicubic", antialias=True),
            (2, 20, 50, 3),
        ),
        (dict(height=8, width=8, interpolation="nearest"), (3, 32, 32, 2)),
        (
            dict(
                height=8, width=12, interpolation="area", data_format="channels_first"
            ),
            (2, 3, 20, 30),
        ),
        (dict(height=16, width=24, crop_to_aspect_ratio=True), (2, 37, 53, 3)),
        (
            dict(
                height=12,
                width=8,
                interpolation="area",
                pad_to_aspect_ratio=True,
                fill_value=0.5,
                data_format="channels_first",
            ),
            (2, 3, 20, 30),
        ),
    ],
    ids=[
        "bilinear",
        "area",
        "bicubic-antialias",
        "nearest",
        "channels-first",
        "crop",
        "pad-channels-first",
    ],
)
def test_resize_layer_passes_the_harness(kwargs, input_shape):
    if kwargs.get("data_format") == "channels_first":
        expected = (*input_shape[:2], kwargs["height"], kwargs["width"])
    else:
        expected = (input_shape[0], kwargs["height"], kwargs["width"], input_shape[-1])
    report = run_layer_test(
        Resize,
        kwargs,
        input_shape,
        expected_output_shape=expected,
        expected_output_dtype="float32",
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        stateless=True,
    )
    assert report["backend"] == BACKEND
    if BACKEND == "tensorflow":
        allowed = {"GATHER", "MUL", "ADD", "RESHAPE", "SUM", "TRANSPOSE"}
        if kwargs.get("crop_to_aspect_ratio"):
            allowed.add("STRIDED_SLICE")  # the crop window
        if kwargs.get("pad_to_aspect_ratio"):
            allowed.add("PADV2")  # the padding with fill_value
        assert set(report["tflite_ops"]) <= allowed
        assert not report["skipped"]
    else:
        assert "tf_data" not in report["skipped"]  # stateless: runs everywhere
        assert "saved_model" in report["skipped"]


# -- against keras.layers.Resizing and tf.image.resize ---------------------------

# (input height, input width) -> (output height, output width): downsizing,
# upsizing, and both at once; the crop takes rows off (and the padding adds
# columns) in three of them, the other way round in one, with even and odd
# remainders (Keras drops the odd pixel of the padding).
SIZE_PAIRS = [
    ((30, 40), (12, 17)),
    ((13, 28), (20, 20)),
    ((29, 14), (20, 20)),
    ((16, 16), (9, 31)),
]
# crop_to_aspect_ratio, pad_to_aspect_ratio (both True is an error, below).
CROP_PAD = [(False, False), (True, False), (False, True)]

# The methods whose `keras.layers.Resizing` output we match on this backend,
# with the antialias settings: Keras resizes with `tf.image.resize` on
# TensorFlow, with `jax.image.resize` on JAX (whose plain bicubic does not
# quantise the cubic offset as TensorFlow does, which we follow) and with
# `torch.nn.functional.interpolate` on PyTorch (plain bicubic: a=-0.75, no
# lanczos, no area). On JAX, `jax.image.resize` compiles for every new shape
# (about a second each on CPU), so the sweep there is shorter: lanczos, and
# antialiased nearest (the same as plain), are left to the comparison with
# `tf.image.resize` below, and the sweep takes two size pairs only (one
# cropping rows, one cropping columns), calling Keras on channels-last
# batches only.
KERAS_METHODS = {
    "tensorflow": {
        "bilinear": (False, True),
        "nearest": (False, True),
        "bicubic": (False, True),
        "area": (False, True),
        "lanczos3": (False, True),
        "lanczos5": (False, True),
    },
    "jax": {
        "bilinear": (False, True),
        "nearest": (False,),
        "bicubic": (True,),
    },
    "torch": {
        "bilinear": (False, True),
        "nearest": (False, True),
        "bicubic": (True,),
    },
}[BACKEND]
KERAS_SIZE_PAIRS = SIZE_PAIRS[:2] if BACKEND == "jax" else SIZE_PAIRS
ALL_METHODS = list(RESIZE_METHODS)  # the one list of the package's methods


def _to_first(images):
    """Channels-last (rank 3 or 4) -> channels-first."""
    return np.moveaxis(images, -1, -3)


def _keras_crop_pad_reference(image, size, crop, pad, fill_value):
    """Keras' crop / pad of one channels-last `(h, w, c)` image, in numpy.

    Written from `keras.src.backend.tensorflow.image.resize`: the crop box is
    `int(w * height / width)` rows (clipped to `[1, h]`) starting at
    `int((h - rows) / 2)`; the padding puts `int((padded - h) / 2)` rows of
    `fill_value` above and below.
    """
    h, w = image.shape[:2]
    target_h, target_w = size
    if crop:
        crop_h = max(min(h, int(float(w * target_h) / target_w)), 1)
        crop_w = max(min(w, int(float(h * target_w) / target_h)), 1)
        top, left = int((h - crop_h) / 2), int((w - crop_w) / 2)
        return image[top : top + crop_h, left : left + crop_w]
    if pad:
        rows = int((max(h, int(float(w * target_h) / target_w)) - h) / 2)
        columns = int((max(w, int(float(h * target_w) / target_h)) - w) / 2)
        return np.pad(
            image,
            ((rows, rows), (columns, columns), (0, 0)),
            constant_values=fill_value,
        )
    return image


@pytest.fixture
def unfused_sampler():
    """The sampler without its nested XLA cluster: the sweeps below call the
    layer on ~50 shapes each, and compiling one cluster per shape would take
    most of their time. The numbers are the same (see tests/test_resize.py,
    which runs both)."""
    from keras_resize.ops import sampling

    previous = sampling.xla_fusion_enabled()
    sampling.set_xla_fusion(False)
    yield
    sampling.set_xla_fusion(previous)


@pytest.mark.parametrize("interpolation", sorted(KERAS_METHODS))
def test_resize_layer_matches_keras_resizing(interpolation, unfused_sampler):
    """Every crop x pad x antialias x data_format, batched and unbatched."""
    rng = np.random.default_rng(0)
    compared = 0
    pairs = itertools.product(KERAS_SIZE_PAIRS, CROP_PAD)
    for (in_size, size), (crop, pad) in pairs:
        images = rng.random((2, *in_size, 3)).astype("float32")
        for antialias in KERAS_METHODS[interpolation]:
            arguments = dict(
                interpolation=interpolation,
                crop_to_aspect_ratio=crop,
                pad_to_aspect_ratio=pad,
                fill_value=0.25,
                antialias=antialias,
            )
            keras_last = _numpy(
                keras.layers.Resizing(*size, **arguments, data_format="channels_last")(
                    images
                )
            )
            for data_format in ("channels_last", "channels_first"):
                kwargs = dict(arguments, data_format=data_format)
                ours = Resize(*size, **kwargs)
                theirs = keras.layers.Resizing(*size, **kwargs)
                inputs = images if data_format == "channels_last" else _to_first(images)
                # the batch, and (for the first size pair) an unbatched image
                batches = (
                    [inputs, inputs[1]] if in_size == SIZE_PAIRS[0][0] else [inputs]
                )
                for x in batches:
                    if (data_format, x.ndim) == ("channels_last", 4):
                        expected = keras_last
                    elif BACKEND == "jax":
                        # Keras transposes (or batches) and runs the same
                        # jax.image.resize: reuse its channels-last output
                        # rather than compile it for one more shape.
                        expected = keras_last if x.ndim == 4 else keras_last[1]
                        if data_format == "channels_first":
                            expected = _to_first(expected)
                    else:
                        expected = _numpy(theirs(x))
                    out = _numpy(ours(x))
                    assert out.shape == expected.shape
                    np.testing.assert_allclose(
                        out,
                        expected,
                        atol=1e-5,
                        rtol=0,
                        err_msg=f"{in_size} -> {size}, {kwargs}, rank {x.ndim}",
                    )
                    compared += 1
    cases = (len(KERAS_SIZE_PAIRS) + 1) * len(CROP_PAD) * 2  # + 1: unbatched
    assert compared == cases * len(KERAS_METHODS[interpolation])


@pytest.mark.parametrize(
    "interpolation",
    # the methods not already swept against Keras with and without antialias
    [m for m in ALL_METHODS if KERAS_METHODS.get(m) != (False, True)],
)
def test_resize_layer_matches_tf_image_resize_after_crop_or_pad(
    interpolation, unfused_sampler
):
    """Every method: numpy crop / pad, then `tf.image.resize`, on any backend."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    pairs = itertools.product(KERAS_SIZE_PAIRS, CROP_PAD)  # the shorter list on JAX
    for (in_size, size), (crop, pad) in pairs:
        images = rng.random((2, *in_size, 3)).astype("float32")
        for antialias in (False, True):
            expected = np.stack(
                [
                    tf.image.resize(
                        _keras_crop_pad_reference(image, size, crop, pad, -0.5),
                        size,
                        method=interpolation,
                        antialias=antialias,
                    ).numpy()
                    for image in images
                ]
            )
            kwargs = dict(
                interpolation=interpolation,
                crop_to_aspect_ratio=crop,
                pad_to_aspect_ratio=pad,
                fill_value=-0.5,
                antialias=antialias,
            )
            what = f"{in_size} -> {size}, {kwargs}"
            out = Resize(*size, data_format="channels_last", **kwargs)(images)
            np.testing.assert_allclose(
                _numpy(out), expected, atol=1e-5, rtol=0, err_msg=what
            )
            first = Resize(*size, data_format="channels_first", **kwargs)
            out = first(_to_first(images[1]))  # unbatched, channels-first
            np.testing.assert_allclose(
                _numpy(out), _to_first(expected[1]), atol=1e-5, rtol=0, err_msg=what
            )


def test_pad_and_crop_geometry():
    """Hand-checked cases: the fill value lands where Keras puts it."""
    ones = np.ones((1, 2, 6, 1), "float32")
    # 2x6 to a square: padded to 6x6 with 2 rows above and below.
    out = _numpy(
        Resize(6, 6, "nearest", pad_to_aspect_ratio=True, fill_value=7.0)(ones)
    )
    np.testing.assert_array_equal(out[0, :, 0, 0], [7, 7, 1, 1, 7, 7])
    np.testing.assert_array_equal(out[0, 2, :, 0], np.ones(6))
    # 3x6 to a square: 3 rows to add, Keras adds 1 above and 1 below (5x6),
    # then resizes 5x6 -> 6x6 (rows 0, 1, 2, 2, 3, 4).
    ones = np.ones((1, 3, 6, 1), "float32")
    out = _numpy(
        Resize(6, 6, "nearest", pad_to_aspect_ratio=True, fill_value=7.0)(ones)
    )
    np.testing.assert_array_equal(out[0, :, 0, 0], [7, 1, 1, 1, 1, 7])
    out = _numpy(
        Resize(5, 6, "nearest", pad_to_aspect_ratio=True, fill_value=7.0)(ones)
    )
    np.testing.assert_array_equal(out[0, :, 0, 0], [7, 1, 1, 1, 7])
    # crop: a 4x8 ramp to 4x4 keeps the middle columns 2..5.
    ramp = np.tile(np.arange(8, dtype="float32"), (1, 4, 1))[..., None]
    out = _numpy(Resize(4, 4, "nearest", crop_to_aspect_ratio=True)(ramp))
    np.testing.assert_array_equal(out[0, 0, :, 0], [2, 3, 4, 5])


def test_crop_and_pad_both_true_raise_as_in_keras():
    images = np.zeros((1, 8, 8, 3), "float32")
    with pytest.raises(ValueError):
        keras.layers.Resizing(
            4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True
        )(images)
    assert_value_error(
        Resize,
        "crop_to_aspect_ratio=True, pad_to_aspect_ratio=True",
        4,
        4,
        crop_to_aspect_ratio=True,
        pad_to_aspect_ratio=True,
    )


def test_fill_mode_other_than_constant_raises_as_in_keras():
    images = np.zeros((1, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match="fill_mode"):
        keras.layers.Resizing(4, 4, fill_mode="reflect")(images)
    assert_value_error(Resize, "fill_mode='reflect'", 4, 4, fill_mode="reflect")
    # "constant" is accepted whether or not there is padding
    assert Resize(4, 4, fill_mode="constant").fill_mode == "constant"


def test_signature_and_config_match_keras_resizing():
    """Same arguments in the same order (positional calls mean the same)."""
    import inspect

    ours = list(inspect.signature(Resize.__init__).parameters)
    theirs = list(inspect.signature(keras.layers.Resizing.__init__).parameters)
    assert ours == theirs
    kwargs = dict(
        interpolation="bicubic",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=True,
        fill_mode="constant",
        fill_value=0.5,
        antialias=True,
        data_format="channels_first",
    )
    config = Resize(5, 7, **kwargs).get_config()
    keras_config = keras.layers.Resizing(5, 7, **kwargs).get_config()
    for key in ["height", "width", *kwargs]:
        assert config[key] == keras_config[key], key
    clone = Resize.from_config(config)
    assert clone.get_config() == config
    images = np.random.default_rng(2).random((1, 3, 6, 11)).astype("float32")
    np.testing.assert_allclose(
        _numpy(clone(images)), _numpy(Resize(5, 7, **kwargs)(images)), atol=0
    )
    # a positional call reads as Keras reads it
    layer = Resize(5, 7, "nearest", True, False, "constant", 1.0, True, "channels_last")
    assert (layer.crop_to_aspect_ratio, layer.antialias, layer.fill_value) == (
        True,
        True,
        1.0,
    )


def test_resize_layer_rank3_input():
    out = Resize(4, 5)(np.zeros((8, 10, 3), "float32"))
    assert tuple(out.shape) == (4, 5, 3)
    assert Resize(4, 5).compute_output_shape((8, 10, 3)) == (4, 5, 3)
    first = Resize(4, 5, data_format="channels_first")
    assert tuple(first(np.zeros((3, 8, 10), "float32")).shape) == (3, 4, 5)
    assert first.compute_output_shape((3, 8, 10)) == (3, 4, 5)


# -- data_format ----------------------------------------------------------------


def test_channels_first_is_never_silently_wrong(channels_first_default):
    """Issue 12: under channels_first, `Resize(32, 32)` gave (1, 32, 32, 96)."""
    layer = Resize(32, 32)
    assert layer.data_format == "channels_first"
    assert layer.get_config()["data_format"] == "channels_first"
    images = np.random.default_rng(0).random((1, 3, 128, 96)).astype("float32")
    out = layer(images)
    assert tuple(out.shape) == (1, 3, 32, 32)
    assert layer.compute_output_shape((1, 3, 128, 96)) == (1, 3, 32, 32)
    symbolic = layer(keras.Input((3, None, None)))
    assert tuple(symbolic.shape) == (None, 3, 32, 32)


@pytest.mark.parametrize(
    "interpolation,antialias",
    [("bilinear", False), ("area", False), ("bicubic", True), ("nearest", False)],
)
def test_channels_first_equals_transposed_channels_last(interpolation, antialias):
    images = np.random.default_rng(1).random((2, 23, 31, 3)).astype("float32")
    last = Resize(
        9, 14, interpolation, antialias=antialias, data_format="channels_last"
    )
    first = Resize(
        9, 14, interpolation, antialias=antialias, data_format="channels_first"
    )
    expected = np.transpose(_numpy(last(images)), (0, 3, 1, 2))
    out = first(np.transpose(images, (0, 3, 1, 2)))
    np.testing.assert_allclose(_numpy(out), expected, atol=1e-6)


def test_bad_data_format():
    assert_value_error(Resize, "data_format='NHWC'", 4, 4, data_format="NHWC")


# -- tf.data under every backend (issue 12, point 5) -----------------------------


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_resize_inside_tf_data_on_every_backend(data_format):
    """Images of different sizes, unbatched: unknown spatial dims in the graph."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = [rng.random((h, w, 3)).astype("float32") for h, w in [(20, 30), (17, 9)]]
    if data_format == "channels_first":
        images = [np.transpose(image, (2, 0, 1)) for image in images]
    layer = Resize(8, 6, interpolation="area", data_format=data_format)
    spec = tf.TensorSpec(
        (3, None, None) if data_format == "channels_first" else (None, None, 3)
    )
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=spec
    )
    outputs = [x.numpy() for x in dataset.map(layer).batch(1)]
    for image, out in zip(images, outputs, strict=True):
        np.testing.assert_allclose(out[0], _numpy(layer(image)), atol=1e-5)
    expected = (3, 8, 6) if data_format == "channels_first" else (8, 6, 3)
    assert outputs[0].shape[1:] == expected
    # the layer still works eagerly on the backend afterwards
    assert tuple(layer(images[0]).shape) == expected


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(height=-3, width=4), "height=-3"),
        (dict(height=4, width=0), "width=0"),
        (dict(height=4.5, width=4), "height=4.5"),
        (dict(height=4, width=4, interpolation="cubic"), "interpolation='cubic'"),
        (dict(height=4, width=4, antialias=1), "antialias=1"),
        (
            dict(height=4, width=4, crop_to_aspect_ratio="yes"),
            "crop_to_aspect_ratio='yes'",
        ),
        (dict(height=4, width=4, pad_to_aspect_ratio=1), "pad_to_aspect_ratio=1"),
        (dict(height=4, width=4, fill_mode="nearest"), "fill_mode='nearest'"),
        (dict(height=4, width=4, fill_value="0"), "fill_value='0'"),
        (dict(height=4, width=4, fill_value=True), "fill_value=True"),
    ],
)
def test_resize_layer_bad_arguments(kwargs, match):
    assert_value_error(Resize, match, **kwargs)


def test_resize_layer_bad_input_rank():
    with pytest.raises(ValueError, match="rank 3"):
        Resize(4, 4)(np.zeros((2, 8, 8, 3, 1), "float32"))
    with pytest.raises(ValueError, match="rank 3"):
        Resize(4, 4, data_format="channels_first")(np.zeros((2, 3, 8, 8, 1), "float32"))


# -- the harness must catch broken layers -------------------------------------


class DropsAnArgumentFromItsConfig(keras.layers.Layer):
    """A classic bug: get_config forgets `interpolation`, so a reloaded layer
    silently falls back to the default."""

    def __init__(self, height, width, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.interpolation = height, width, interpolation

    def call(self, x):
        return keras.ops.image.resize(
            x,
            (self.height, self.width),
            interpolation=self.interpolation,
            data_format="channels_last",
        )

    def compute_output_shape(self, shape):
        return (shape[0], self.height, self.width, shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class UsesTfArea(DropsAnArgumentFromItsConfig):
    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}

    def call(self, x):
        return keras.ops.image.resize(
            x,
            (self.height, self.width),
            interpolation="area",
            data_format="channels_last",
        )


class WrongOutputShape(UsesTfArea):
    def call(self, x):
        return keras.ops.image.resize(
            x, (self.height, self.width), data_format="channels_last"
        )

    def compute_output_shape(self, shape):
        return (shape[0], self.width, self.height, shape[-1])


class HasAFrozenScale(WrongOutputShape):
    """A weight that never trains: its gradient is cut."""

    def build(self, shape):
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, x):
        return super().call(x) * keras.ops.stop_gradient(self.scale)

    def compute_output_shape(self, shape):
        return (shape[0], self.height, self.width, shape[-1])


_QUIET = dict(
    check_tf_data=False,
    check_xla=False,
    check_gradients=False,
    check_mixed_precision=False,
    check_fit=False,
)


@pytest.mark.parametrize(
    "layer_cls,kwargs,reason",
    [
        (
            DropsAnArgumentFromItsConfig,
            dict(interpolation="nearest", check_saved_model=False, check_tflite=False),
            "from_config clone",
        ),
        pytest.param(
            UsesTfArea,
            dict(check_config=False, check_keras_save=False, check_tflite=True),
            "ResizeArea",
            marks=pytest.mark.tensorflow_only,
        ),
        (WrongOutputShape, {}, "compute_output_shape"),
        (
            DropsAnArgumentFromItsConfig,
            dict(expected_output_dtype="float16"),
            "output dtype",
        ),
        (
            HasAFrozenScale,
            dict(expected_num_trainable_weights=0),
            "1 trainable weights != expected 0",
        ),
        (
            HasAFrozenScale,
            dict(expected_num_non_trainable_weights=1),
            "0 non-trainable weights",
        ),
        (
            HasAFrozenScale,
            dict(check_fit=True, check_keras_save=False),
            "did not change",
        ),
    ],
    ids=[
        "config",
        "tflite",
        "output-shape",
        "dtype",
        "trainable",
        "non-trainable",
        "fit",
    ],
)
def test_harness_fails_on_broken_layers(layer_cls, kwargs, reason):
    init_kwargs = dict(height=4, width=6)
    if "interpolation" in kwargs:
        init_kwargs["interpolation"] = kwargs.pop("interpolation")
    with pytest.raises(Exception, match=reason):
        run_layer_test(
            layer_cls,
            init_kwargs,
            (2, 8, 8, 1),
            **{**_QUIET, "check_saved_model": False, "check_tflite": False, **kwargs},
        )


def test_integer_images_keep_their_dtype_as_in_keras_resizing(unfused_sampler):
    """`keras.layers.Resizing` returns uint8 for uint8 input (rounded, half to
    even, and clipped); so does `Resize`. Rounding may differ only at exact
    half-integers, where Keras' float result and ours are 1 ulp apart."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (2, 9, 13, 3)).astype("uint8")
    compared = 0
    for interpolation, antialiases in KERAS_METHODS.items():
        for antialias in antialiases:
            layer = Resize(5, 7, interpolation=interpolation, antialias=antialias)
            ours = _numpy(layer(images))
            assert ours.dtype == np.uint8
            exact = _numpy(layer(images.astype("float32")))
            rounded = np.clip(np.round(exact), 0, 255)
            off = ours != rounded
            assert not off.any()
            theirs = _numpy(
                keras.layers.Resizing(
                    5, 7, interpolation=interpolation, antialias=antialias
                )(images)
            )
            assert theirs.dtype == np.uint8
            differ = ours.astype(int) != theirs.astype(int)
            assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
            near_half = np.abs(exact - np.floor(exact) - 0.5) < 1e-3
            assert np.all(near_half[differ])
            compared += 1
    assert compared == sum(len(a) for a in KERAS_METHODS.values())
    # wide integer types saturate instead of wrapping round
    wide = np.array([[[[2**31 - 1], [2**31 - 1]], [[-(2**31)], [0]]]], "int32")
    out = _numpy(Resize(3, 3, interpolation="bicubic")(wide))
    assert out.dtype == np.int32
    assert out[0, 0, :, 0].min() > 2**31 - 2**8  # the top row stays at the max
    # float images: the compute dtype, as before
    assert _numpy(Resize(5, 7)(images.astype("float64"))).dtype == np.float32
