"""Tests of the detection pieces of the package (`keras_resize.models`):
the uniform / FOVEA / LZU front ends, the packed LZU input and the LZU
backbone for keras-hub detectors, and saving / loading an LZU detector with
nothing but `import keras_resize`.

References are independent: boxes mapped to the detector's frame and back,
the packing against an explicit index formula (and `tf.nn.space_to_depth`),
an LZU backbone with a uniform warp against the plain backbone on the
bilinear resize.
"""

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

from keras_resize.models import (
    DetectionFrontEnd,
    UnpackFrame,
    lzu_backbone,
    pack_frame,
)
from keras_resize.ops import resize, warp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _peaked_prior(shape=(9, 9)):
    prior = np.ones(shape)
    prior[shape[0] // 2, shape[1] // 3] = 40.0
    return prior / prior.sum()


def _boxes():
    boxes = np.array(
        [[[4.0, 6.0, 20.0, 30.0], [30.0, 10.0, 60.0, 24.0], [-1, -1, -1, -1]]],
        np.float32,
    )
    return boxes, np.array([[True, True, False]])


def _random(shape, seed):
    return np.random.default_rng(seed).random(shape).astype("float32")


# ----------------------------------------------------------------------------
# Packing.


def _space_to_depth_reference(images, block):
    """Element by element: out[n, i, j, (dy * b + dx) * C + c] =
    images[n, i * b + dy, j * b + dx, c]."""
    n, height, width, channels = images.shape
    out = np.zeros((n, height // block, width // block, block * block * channels))
    for i in range(height // block):
        for j in range(width // block):
            for dy in range(block):
                for dx in range(block):
                    for c in range(channels):
                        out[:, i, j, (dy * block + dx) * channels + c] = images[
                            :, i * block + dy, j * block + dx, c
                        ]
    return out


def test_pack_frame_is_space_to_depth_and_unpack_frame_inverts_it():
    images = _random((2, 8, 12, 3), 0)
    packed = _numpy(pack_frame(images, 2))
    np.testing.assert_array_equal(packed, _space_to_depth_reference(images, 2))
    np.testing.assert_array_equal(_numpy(UnpackFrame(2, 3)(packed)), images)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        np.testing.assert_array_equal(packed, tf.nn.space_to_depth(images, 2))


def test_packed_saliency_round_trips_through_unpack_frame():
    images = _random((2, 64, 64, 3), 3)
    saliency = _random((2, 9, 5), 5)
    packed = pack_frame(images, 4, saliency)
    assert tuple(packed.shape) == (2, 16, 16, 3 * 16 + 1)
    plane = _numpy(packed)[..., -1]
    np.testing.assert_array_equal(plane[:, :9, :5], saliency)
    assert not plane[:, 9:].any() and not plane[:, :, 5:].any()
    image, unpacked = UnpackFrame(4, 3, (9, 5))(packed)
    np.testing.assert_array_equal(_numpy(image), images)
    np.testing.assert_array_equal(_numpy(unpacked), saliency)
    # symbolic shapes and the config
    inputs = keras.Input((16, 16, 49))
    image, unpacked = UnpackFrame(4, 3, (9, 5))(inputs)
    assert tuple(image.shape) == (None, 64, 64, 3)
    assert tuple(unpacked.shape) == (None, 9, 5)
    layer = UnpackFrame(4, 3, (9, 5))
    assert UnpackFrame.from_config(layer.get_config()).grid_shape == (9, 5)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: pack_frame(np.zeros((1, 6, 8, 1)), 4), "divisible"),
        (lambda: pack_frame(np.zeros((1, 8, 8, 1)), 0), "block_size=0"),
        (lambda: pack_frame(np.zeros((8, 8, 1)), 2), "rank 4"),
        (lambda: pack_frame(np.zeros((1, 8, 8, 1)), 2, np.ones((1, 5, 4))), "saliency"),
        (lambda: UnpackFrame(2, 0), "channels=0"),
        (lambda: UnpackFrame(2, 1, grid_shape=(1, 4)), "grid_shape"),
        (lambda: UnpackFrame(2, 3)(np.zeros((1, 4, 4, 5), "float32")), "12"),
    ],
)
def test_packing_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------
# Front-end geometry.


@pytest.mark.parametrize("kind", ["uniform", "fovea", "lzu"])
def test_boxes_to_the_detector_frame_and_back(kind):
    front_end = DetectionFrontEnd(kind, "fixed", 64, 0.5, _peaked_prior())
    boxes, valid = _boxes()
    grid = front_end.fixed_grid
    framed = _numpy(front_end.to_frame(boxes, valid, grid))
    back = _numpy(front_end.to_input(framed, valid, grid))
    np.testing.assert_allclose(back, boxes, atol=1e-3)
    np.testing.assert_array_equal(framed[0, 2], [-1, -1, -1, -1])  # padding
    if kind == "fovea":
        # the peaked prior magnifies: the warped boxes are not just halved
        assert not np.allclose(framed[0, :2], boxes[0, :2] / 2, atol=0.5)
    else:
        np.testing.assert_allclose(framed[0, :2], boxes[0, :2] / 2)


def test_uniform_front_end_is_a_zoom_with_uniform_saliency():
    images = _random((2, 64, 64, 1), 1)
    front_end = DetectionFrontEnd("uniform", "fixed", 64, 0.25, _peaked_prior())
    x, grid = front_end.inputs(images)
    assert grid is None and front_end.frame_size == (16, 16)
    zoomed = warp.zoom(
        images, warp.coarse_grid(warp.uniform_saliency((9, 9))), (16, 16)
    )
    np.testing.assert_allclose(_numpy(x), _numpy(zoomed), atol=1e-5)


def test_fovea_input_is_the_zoom_of_the_prior_or_of_a_given_saliency():
    images = _random((2, 64, 64, 3), 2)
    front_end = DetectionFrontEnd("fovea", "adaptive", 64, 0.5, _peaked_prior())
    x, grid = front_end.inputs(images)
    reference = warp.fixed_warp(_peaked_prior(), (32, 32))["grid"]
    np.testing.assert_allclose(_numpy(grid), reference, atol=1e-6)
    np.testing.assert_allclose(
        _numpy(x), _numpy(warp.zoom(images, reference.astype("float32"), (32, 32))),
        atol=1e-5,
    )  # fmt: skip
    saliency = np.stack([_peaked_prior(), np.ones((9, 9)) / 81]).astype("float32")
    x, grid = front_end.inputs(images, saliency)
    np.testing.assert_allclose(
        _numpy(x), _numpy(warp.zoom(images, warp.coarse_grid(saliency), (32, 32))),
        atol=1e-5,
    )  # fmt: skip


def test_lzu_input_packs_the_full_image_and_the_saliency():
    images = _random((2, 64, 64, 3), 3)
    fixed = DetectionFrontEnd("lzu", "fixed", 64, 0.25, _peaked_prior())
    x, grid = fixed.inputs(images)
    assert grid is None and fixed.input_channels(3) == 48
    np.testing.assert_array_equal(_numpy(x), _space_to_depth_reference(images, 4))
    adaptive = DetectionFrontEnd("lzu", "adaptive", 64, 0.25, _peaked_prior())
    saliency = _random((2, 9, 9), 4)
    x, _ = adaptive.inputs(images, saliency)
    assert tuple(x.shape) == (2, 16, 16, 49) and adaptive.input_channels(3) == 49
    image, unpacked = UnpackFrame(4, 3, (9, 9))(x)
    np.testing.assert_array_equal(_numpy(image), images)
    np.testing.assert_array_equal(_numpy(unpacked), saliency)
    with pytest.raises(ValueError, match="saliency=None"):
        adaptive.inputs(images)


def test_adaptive_training_batch_zooms_by_jittered_truth():
    front_end = DetectionFrontEnd(
        "fovea", "adaptive", 64, 0.5, _peaked_prior(), jitter=3.0
    )
    images = _random((1, 64, 64, 1), 5)
    boxes, valid = _boxes()
    labels = np.where(valid, 3, -1).astype("int32")
    seed = np.array([0, 1], "int64")
    x, targets = front_end.training_batch(
        images, {"boxes": boxes, "labels": labels}, seed
    )
    assert tuple(x.shape) == (1, 32, 32, 1)
    np.testing.assert_array_equal(_numpy(targets["labels"]), labels)
    # the same zoom, rebuilt from the same jitter
    moved = warp.jitter_boxes(np.where(valid[..., None], boxes, 0.0), 3.0, seed,
                              box_format="yxyx")  # fmt: skip
    grid = warp.coarse_grid(front_end.saliency_from_boxes(moved, valid))
    np.testing.assert_allclose(
        _numpy(x), _numpy(warp.zoom(images, grid, (32, 32))), atol=1e-6
    )
    np.testing.assert_allclose(
        _numpy(targets["boxes"]),
        _numpy(warp.warp_boxes(boxes, grid, (64, 64), (32, 32), box_format="yxyx",
                               valid=valid)),
        atol=1e-5,
    )  # fmt: skip
    # no jitter and fixed saliency: the fixed zoom
    plain = DetectionFrontEnd("fovea", "fixed", 64, 0.5, _peaked_prior())
    x, _ = plain.training_batch(images, {"boxes": boxes, "labels": labels}, seed)
    np.testing.assert_allclose(
        _numpy(x), _numpy(warp.zoom(images, plain.fixed_grid, (32, 32))), atol=1e-6
    )


def test_first_pass_saliency_is_the_prior_or_uniform():
    prior = _peaked_prior()
    fixed = DetectionFrontEnd("lzu", "adaptive", 64, 0.5, prior)
    np.testing.assert_allclose(
        _numpy(fixed.first_pass_saliency(3)), np.stack([prior] * 3), rtol=1e-6
    )
    uniform = DetectionFrontEnd("lzu", "adaptive", 64, 0.5, prior, first_pass="uniform")
    np.testing.assert_allclose(
        _numpy(uniform.first_pass_saliency(2)), np.full((2, 9, 9), 1 / 81), rtol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"kind": "zoom"}, "kind='zoom'"),
        ({"saliency": "learned"}, "saliency='learned'"),
        ({"scale": 0.3}, "scale=0.3"),
        ({"scale": 1.5}, "scale=1.5"),
        ({"input_size": 66, "scale": 0.25}, "input_size=66"),
        ({"prior": np.ones((40, 40))}, r"prior.shape=\(40, 40\)"),
        ({"prior": np.ones(9)}, r"prior.shape=\(9,\)"),
        ({"jitter": -1.0}, "jitter=-1.0"),
        ({"first_pass": "none"}, "first_pass='none'"),
        ({"uniform_method": "foo"}, "uniform_method='foo'"),
    ],
)
def test_front_end_errors_name_the_argument(kwargs, match):
    arguments = {
        "kind": "fovea", "saliency": "fixed", "input_size": 64, "scale": 0.5,
        "prior": _peaked_prior(),
    }  # fmt: skip
    with pytest.raises(ValueError, match=match):
        DetectionFrontEnd(**{**arguments, **kwargs})


# ----------------------------------------------------------------------------
# The LZU backbone (keras-hub).


def _small_retina_backbone(frame, channels):
    keras_hub = pytest.importorskip("keras_hub")
    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 64, 64, 64], stackwise_num_blocks=[1, 1, 1, 1],
        stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(frame, frame, channels),
    )  # fmt: skip
    return keras_hub.models.RetinaNetBackbone(
        encoder, min_level=2, max_level=5, use_p5=False,
        image_shape=(frame, frame, channels),
    )  # fmt: skip


@pytest.mark.slow_on_jax
def test_lzu_backbone_with_a_uniform_warp_is_plain_downsizing():
    """LZU with uniform saliency: zoom = bilinear resize, unzoom = identity,
    so every FPN level equals the backbone on the downsized image."""
    keras.utils.set_random_seed(0)
    retina = _small_retina_backbone(32, 1)
    lzu = lzu_backbone(retina, 2, np.full((9, 9), 1 / 81))
    assert lzu.image_shape == (32, 32, 4)
    assert (lzu.min_level, lzu.max_level) == (2, 5)
    images = _random((2, 64, 64, 1), 7)
    ours = lzu(pack_frame(images, 2))
    reference = retina(resize(images, (32, 32), "bilinear"))
    assert list(ours) == ["P2", "P3", "P4", "P5"]
    for level in ours:
        np.testing.assert_allclose(
            _numpy(ours[level]), _numpy(reference[level]), atol=2e-4, err_msg=level
        )
    # a peaked warp changes the features, and the config round-trips
    peaked = lzu_backbone(retina, 2, _peaked_prior())
    assert not np.allclose(
        _numpy(peaked(pack_frame(images, 2))["P2"]), _numpy(reference["P2"]), atol=1e-3
    )
    config = peaked.get_config()
    assert config["block_size"] == 2 and len(config["saliency"]) == 9
    json.dumps(config)  # serialisable
    # an adaptive backbone takes the same saliency from the input
    adaptive = lzu_backbone(retina, 2, None, grid_shape=(9, 9))
    assert adaptive.image_shape == (32, 32, 5)
    saliency = np.stack([_peaked_prior()] * 2).astype("float32")
    ours = adaptive(pack_frame(images, 2, saliency))
    reference = peaked(pack_frame(images, 2))
    for level in ours:
        np.testing.assert_allclose(
            _numpy(ours[level]), _numpy(reference[level]), atol=2e-4, err_msg=level
        )
    with pytest.raises(ValueError, match="saliency"):
        lzu_backbone(retina, 2, np.ones(9))


# ----------------------------------------------------------------------------
# Save, and load with the package alone.


def _tiny_lzu_detector(saliency, grid_shape=(5, 5)):
    """A keras-hub RetinaNet on an LZU backbone, as a user builds it."""
    import keras_hub

    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 64, 64, 64], stackwise_num_blocks=[1, 1, 1, 1],
        stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(32, 32, 1),
    )  # fmt: skip
    retina = keras_hub.models.RetinaNetBackbone(
        encoder, min_level=3, max_level=5, use_p5=False, image_shape=(32, 32, 1)
    )
    anchors = keras_hub.layers.AnchorGenerator(
        "yxyx", min_level=3, max_level=5, num_scales=1, aspect_ratios=[1.0],
        anchor_size=2.0,
    )  # fmt: skip
    return keras_hub.models.RetinaNetObjectDetector(
        backbone=lzu_backbone(retina, 2, saliency, grid_shape=grid_shape),
        num_classes=3, bounding_box_format="yxyx", anchor_generator=anchors,
        pre_logits_num_conv_layers=1,
    )  # fmt: skip


LOAD = """
import sys

import keras
import numpy as np

import keras_resize  # noqa: F401  (only the package: registers its classes)

assert "keras_hub" not in sys.modules, "import keras_resize imported keras_hub"
folder = FOLDER
for name in ("fixed", "adaptive", "legacy"):
    model = keras.saving.load_model(f"{folder}/{name}.keras")
    data = np.load(f"{folder}/{'fixed' if name == 'legacy' else name}.npz")
    out = model(data["x"], training=False)
    for key in ("bbox_regression", "cls_logits"):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(out[key]), data[key], rtol=1e-5, atol=1e-5)
    layers = {type(layer).__name__ for layer in model.backbone.layers}
    print(name, type(model).__name__, type(model.backbone).__name__,
          "UnpackFrame" in layers)
"""


def _python(code, folder, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join([ROOT, *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code).replace("FOLDER", repr(str(folder)))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def _as_legacy(source, target):
    """A copy of a saved model as the training scripts wrote it before the LZU
    classes moved into the package (other registered names and module)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "config.json":
                text = data.decode()
                # the backbone's config holds its arguments, not its layers
                assert '"keras_resize>LZUBackbone"' in text
                text = text.replace(
                    '"keras_resize>LZUBackbone"', '"keras_resize_training>LZUBackbone"'
                )
                text = text.replace('"keras_resize.models.lzu"', '"training.detection"')
                data = text.encode()
            new.writestr(item, data)


@pytest.mark.slow_on_jax
def test_a_saved_lzu_detector_loads_with_only_import_keras_resize(tmp_path):
    pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    for name, saliency in (("fixed", _peaked_prior((5, 5))), ("adaptive", None)):
        model = _tiny_lzu_detector(saliency)
        x = rng.random((2, 32, 32, model.backbone.image_shape[-1])).astype("float32")
        out = model(x, training=False)
        model.save(tmp_path / f"{name}.keras")
        np.savez(
            tmp_path / f"{name}.npz", x=x, **{k: _numpy(v) for k, v in out.items()}
        )
    _as_legacy(tmp_path / "fixed.keras", tmp_path / "legacy.keras")
    lines = _python(LOAD, tmp_path).strip().splitlines()
    assert lines == [
        f"{name} RetinaNetObjectDetector LZUBackbone True"
        for name in ("fixed", "adaptive", "legacy")
    ]
