"""Presets: folders inside the package, hash check, clear errors, shipped files."""

import numpy as np
import pytest

from keras_resize import pretrained
from keras_resize.layers import DownsizeNetResize, LearnedResize

IMAGES = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_RESIZE_PRESETS", str(tmp_path))
    layer = DownsizeNetResize(8, 8, neighborhood="bicubic", name="resizer")
    layer(IMAGES)
    rng = np.random.default_rng(1)
    layer.set_weights(
        [w + rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    )
    path = tmp_path / "dn-test.weights.h5"
    pretrained.save_weights(layer, path, (32, 32, 3))
    pretrained.register(
        "dn-test",
        layer,
        path,
        (32, 32, 3),
        task="unit test",
        data="random",
        command="pytest tests/test_pretrained.py",
        metric={"accuracy": 0.5},
    )
    return tmp_path, layer


def test_round_trip_and_frozen(weights_dir):
    _, original = weights_dir
    assert pretrained.available() == ["dn-test"]
    loaded = DownsizeNetResize.from_pretrained("dn-test")
    assert not loaded.trainable and not loaded.trainable_weights
    for a, b in zip(loaded.get_weights(), original.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(loaded(IMAGES), original(IMAGES), atol=1e-6)
    # learned weights do not depend on the output size
    bigger = pretrained.load("dn-test", height=16, width=12, trainable=True)
    assert bigger(IMAGES).shape == (2, 16, 12, 3) and bigger.trainable


def test_corrupted_file_is_refused(weights_dir):
    directory, _ = weights_dir
    path = directory / "dn-test" / "model.weights.h5"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted.*sha256"):
        pretrained.load("dn-test")


def test_missing_file_names_the_command(weights_dir):
    directory, _ = weights_dir
    (directory / "dn-test" / "model.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match="pytest tests/test_pretrained.py"):
        pretrained.load("dn-test")


def test_unknown_name_and_wrong_class(weights_dir):
    with pytest.raises(ValueError, match="name='nope'"):
        pretrained.load("nope")
    with pytest.raises(ValueError, match="is for DownsizeNetResize, not LearnedResize"):
        LearnedResize.from_pretrained("dn-test")


def test_register_refuses_files_outside_the_folder(weights_dir, tmp_path_factory):
    _, layer = weights_dir
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x.weights.h5"
    pretrained.save_weights(layer, elsewhere, (32, 32, 3))
    with pytest.raises(ValueError, match="weights_path="):
        pretrained.register("x", layer, elsewhere, (32, 32, 3), "t", "d", "c", {})


@pytest.mark.parametrize("name", pretrained.available())
def test_every_shipped_weight_file_loads(name):
    """The presets shipped in keras_resize/presets/ match their metadata."""
    entry = pretrained.info(name)
    layer = pretrained.load(name)
    shape = (1, *entry["input_shape"])
    out = layer(np.random.default_rng(0).random(shape).astype("float32"))
    assert np.all(np.isfinite(out))


def test_preset_folder_layout_and_from_preset_by_folder(weights_dir):
    import json

    directory, original = weights_dir
    folder = directory / "dn-test"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    config = json.loads((folder / "config.json").read_text())
    metadata = json.loads((folder / "metadata.json").read_text())
    assert config["layer"] == "DownsizeNetResize" and config["input_shape"] == [
        32,
        32,
        3,
    ]
    for key in ("task", "data", "command", "metric", "sha256", "package_version"):
        assert key in metadata, key
    # by folder, from anywhere (not only by name)
    loaded = DownsizeNetResize.from_preset(str(folder))
    np.testing.assert_allclose(loaded(IMAGES), original(IMAGES), atol=1e-6)
    assert pretrained.list_presets() == ["dn-test"]


def test_shipped_presets_are_inside_the_package():
    from keras_resize import presets

    names = presets.list_presets()
    assert {
        "learned-resize-digits-4x",
        "downsizenet-digits-4x",
        "zoom-saliency-digits-4x",
        "muller-resnet50-imagenet",
        "bilinear-digits-4x",
    } <= set(names)
    root = pretrained.presets_dir()
    assert root.parent.name == "keras_resize"
    for name in names:
        assert (root / name / "model.weights.h5").is_file()


def _tiny_classifier(size=8):
    import keras

    inputs = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def test_classifier_beside_a_preset_round_trip_and_hash(weights_dir, tmp_path):
    directory, layer = weights_dir
    assert pretrained.load_classifier("dn-test") is None  # none shipped
    classifier = _tiny_classifier()
    source = tmp_path / "source.keras"
    classifier.save(source)
    path = directory / "cls.weights.h5"
    pretrained.save_weights(layer, path, (32, 32, 3))
    pretrained.register(
        "dn-cls", layer, path, (32, 32, 3), "t", "d", "c", {}, classifier_path=source
    )
    folder = directory / "dn-cls"
    assert (folder / pretrained.CLASSIFIER_NAME).is_file()
    loaded = pretrained.load_classifier("dn-cls")
    resized = pretrained.load("dn-cls")(IMAGES)
    np.testing.assert_allclose(loaded(resized), classifier(resized), atol=1e-6)
    # a replaced classifier is refused, naming the command that rebuilds it
    _tiny_classifier().save(folder / pretrained.CLASSIFIER_NAME)
    with pytest.raises(ValueError, match="corrupted classifier.*Reproduce it with: c"):
        pretrained.load_classifier("dn-cls")


@pytest.mark.parametrize(
    "name",
    [n for n in pretrained.available() if pretrained.info(n).get("classifier_sha256")],
)
def test_shipped_classifiers_reproduce_their_metadata_accuracy(name):
    """Each digit preset + its classifier, on 200 of the test canvases the
    metadata's accuracy was measured on: within 6 points of it (200 canvases:
    one standard error is about 2.5 points)."""
    import keras

    from keras_resize import demo

    entry = pretrained.info(name)
    images, labels = demo.preset_canvases(200)
    inputs = keras.Input(tuple(entry["input_shape"]))
    classifier = pretrained.load_classifier(name)
    model = keras.Model(inputs, classifier(pretrained.load(name)(inputs)))
    rgb = np.repeat(images.astype("float32") / 255.0, 3, axis=-1)
    predictions = np.argmax(model.predict_on_batch(rgb[:100]), -1)
    predictions = np.concatenate(
        [predictions, np.argmax(model.predict_on_batch(rgb[100:]), -1)]
    )
    accuracy = float(np.mean(predictions == labels))
    assert abs(accuracy - entry["metric"]["test_accuracy"]) < 0.06, accuracy
