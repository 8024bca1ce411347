"""COCO JSON and Pascal VOC XML readers, held-out split and detection tf.data.

The fixtures are written in the real file formats in `tmp_path` (tiny
images encoded with TensorFlow): every expected box below is computed by
hand from the annotation and the stated convention.
"""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_resize.data.detection import (
    VOC_CLASSES,
    DecodeCounter,
    DetectionRecord,
    detection_dataset,
    image_size,
    read_coco_json,
    read_voc,
    split_held_out,
)

RNG = np.random.default_rng(0)
RGB_20x30 = RNG.integers(0, 256, (20, 30, 3)).astype(np.uint8)
RGB_24x16 = RNG.integers(0, 256, (24, 16, 3)).astype(np.uint8)
GRAY_20x30 = RNG.integers(0, 256, (20, 30, 1)).astype(np.uint8)
RGB_12x14 = RNG.integers(0, 256, (12, 14, 3)).astype(np.uint8)
RGB_16x24 = RNG.integers(0, 256, (16, 24, 3)).astype(np.uint8)


def _write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)


def _jpeg(array):
    return tf.io.encode_jpeg(array).numpy()


def _png(array):
    return tf.io.encode_png(array).numpy()


def _truncated_jpeg(array):
    content = _jpeg(array)
    return content[: len(content) // 2]


def _make_coco(root):
    """A COCO fixture; returns `(annotation_file, image_dir)`."""
    image_dir = os.path.join(root, "images")
    _write(os.path.join(image_dir, "a.jpg"), _jpeg(RGB_20x30))
    _write(os.path.join(image_dir, "b.png"), _png(RGB_24x16))
    _write(os.path.join(image_dir, "c.jpg"), _jpeg(GRAY_20x30))
    _write(os.path.join(image_dir, "d.jpg"), _truncated_jpeg(RGB_20x30))
    _write(os.path.join(image_dir, "f.png"), _png(RGB_12x14))
    images = [
        {"id": 1, "file_name": "a.jpg", "height": 20, "width": 30},
        {"id": 2, "file_name": "b.png", "height": 24, "width": 16},
        {"id": 3, "file_name": "c.jpg", "height": 20, "width": 30},
        {"id": 4, "file_name": "d.jpg", "height": 20, "width": 30},  # corrupt
        {"id": 6, "file_name": "missing.jpg", "height": 20, "width": 30},
        {"id": 7, "file_name": "f.png"},  # no size: read from the header
    ]

    def annotation(annotation_id, image_id, category_id, bbox, crowd=0):
        return {
            "id": annotation_id,
            "image_id": image_id,
            "category_id": category_id,
            "bbox": bbox,
            "iscrowd": crowd,
            "area": 1.0,
        }

    annotations = [
        annotation(101, 1, 18, [2, 3, 10, 5]),
        annotation(102, 1, 1, [0, 0, 30, 20], crowd=1),
        annotation(103, 1, 90, [5, 5, 0, 4]),  # w = 0: degenerate
        annotation(104, 2, 1, [10, 20, 10, 8]),  # partly outside: clipped
        annotation(105, 2, 90, [-5, -5, 3, 3]),  # outside: degenerate
        annotation(106, 3, 18, [1.5, 2.5, 4, 6]),
        annotation(107, 6, 1, [1, 1, 2, 2]),  # its image is missing
        annotation(108, 4, 1, [1, 1, 2, 2]),  # its image is corrupt
        annotation(109, 99, 1, [1, 1, 2, 2]),  # unknown image
        annotation(110, 1, 5, [1, 1, 2, 2]),  # unknown category
        annotation(111, 1, 1, [1, 2, "x", 4]),  # malformed
        annotation(112, 1, 1, [math.nan, 1, 2, 2]),  # NaN: degenerate
    ]
    categories = [
        {"id": 90, "name": "toothbrush"},
        {"id": 1, "name": "person"},
        {"id": 18, "name": "dog"},
    ]
    annotation_file = os.path.join(root, "instances.json")
    with open(annotation_file, "w") as f:
        json.dump(
            {"images": images, "annotations": annotations, "categories": categories},
            f,
        )
    return annotation_file, image_dir


def _voc_xml(file_name, objects, size=None):
    parts = ["<annotation>", "<folder>VOC</folder>"]
    if file_name is not None:
        parts.append(f"<filename>{file_name}</filename>")
    if size is not None:
        height, width = size
        parts.append(
            f"<size><width>{width}</width><height>{height}</height>"
            "<depth>3</depth></size>"
        )
    for name, box, difficult in objects:
        parts.append(f"<object><name>{name}</name><pose>Unspecified</pose>")
        parts.append(f"<truncated>0</truncated><difficult>{difficult}</difficult>")
        if box is not None:
            xmin, ymin, xmax, ymax = box
            parts.append(
                f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
                f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>"
            )
        parts.append("</object>")
    parts.append("</annotation>")
    return "\n".join(parts).encode()


def _make_voc(root):
    annotations = os.path.join(root, "Annotations")
    images = os.path.join(root, "JPEGImages")
    _write(os.path.join(images, "000001.jpg"), _jpeg(RGB_20x30))
    _write(os.path.join(images, "000003.png"), _png(RGB_16x24))
    _write(os.path.join(images, "000004.jpg"), _jpeg(RGB_20x30))
    _write(
        os.path.join(annotations, "000001.xml"),
        _voc_xml(
            "000001.jpg",
            [
                ("dog", (1, 1, 10, 5), 0),
                ("person", (5, 3, 30, 20), 1),  # difficult
                ("cat", (10, 2, 5, 6), 0),  # xmax < xmin
            ],
            size=(20, 30),
        ),
    )
    _write(
        os.path.join(annotations, "000002.xml"),
        b"<annotation><filename>000002.jpg</filename><object><name>dog",
    )
    _write(  # no <size>: read from the PNG header; x clipped to 24
        os.path.join(annotations, "000003.xml"),
        _voc_xml("000003.png", [("car", (2, 2, 30, 10), 0)]),
    )
    _write(  # object without a box: malformed, the image is kept (no box)
        os.path.join(annotations, "000004.xml"),
        _voc_xml("000004.jpg", [("dog", None, 0)], size=(20, 30)),
    )
    _write(
        os.path.join(annotations, "000005.xml"),
        _voc_xml("000005.jpg", [("dog", (1, 1, 4, 4), 0)], size=(20, 30)),
    )


@pytest.fixture
def coco(tmp_path):
    return _make_coco(str(tmp_path))


@pytest.fixture
def voc(tmp_path):
    root = str(tmp_path / "VOC")
    _make_voc(root)
    return root


def _by_name(files):
    return {os.path.basename(r.path): r for r in files}


# ----------------------------------------------------------------------------
# COCO


def test_coco_records_boxes_labels_flags(coco, capsys):
    files = read_coco_json(*coco)
    line = capsys.readouterr().out.strip()
    assert line.startswith("read_coco_json: 4 of 6 images used, 4 boxes;")
    assert "1 missing" in line and "1 unreadable" in line
    assert files.class_names == ("person", "dog", "toothbrush")
    assert files.category_ids == (1, 18, 90)
    assert files.num_classes == 3
    records = _by_name(files)
    assert list(records) == ["a.jpg", "b.png", "c.jpg", "f.png"]

    a = records["a.jpg"]
    assert (a.height, a.width, a.image_id) == (20, 30, 1)
    np.testing.assert_array_equal(a.boxes, [[3, 2, 8, 12], [0, 0, 20, 30]])
    assert a.boxes.dtype == np.float32
    assert a.labels.tolist() == [1, 0] and a.labels.dtype == np.int32
    assert a.crowd.tolist() == [False, True]
    assert a.ignore.tolist() == [False, False]

    b = records["b.png"]  # [10, 20, 10, 8] in a 24 x 16 image: clipped
    np.testing.assert_array_equal(b.boxes, [[20, 10, 24, 16]])
    assert b.labels.tolist() == [0]

    c = records["c.jpg"]
    np.testing.assert_array_equal(c.boxes, [[2.5, 1.5, 8.5, 5.5]])
    assert c.labels.tolist() == [1]

    f = records["f.png"]  # a negative, its size from the PNG header
    assert (f.height, f.width) == (12, 14)
    assert f.boxes.shape == (0, 4) and f.labels.shape == (0,)

    counts = files.counts
    assert counts["images"] == 6
    assert counts["used_images"] == 4
    assert counts["boxes"] == 4
    assert counts["skipped_images"] == 2
    assert counts["skipped_boxes"] == 3
    assert counts["skipped_annotations"] == 3
    assert counts["clipped_boxes"] == 1
    assert counts["size_mismatches"] == 0
    problems = files.problems
    assert problems["missing"] == ["missing.jpg"]
    assert problems["unreadable"] == ["d.jpg"]
    assert sorted(problems["degenerate_box"]) == [103, 105, 112]
    assert problems["clipped_box"] == [104]
    assert problems["unknown_image"] == [109]
    assert problems["unknown_category"] == [110]
    assert problems["malformed_annotation"] == [111]


def test_coco_keep_empty_and_checks(coco):
    files = read_coco_json(*coco, keep_empty=False, verbose=False)
    assert [os.path.basename(r.path) for r in files] == ["a.jpg", "b.png", "c.jpg"]
    assert files.problems["no_boxes"] == ["f.png"]
    assert files.counts["skipped_images"] == 3
    # "exists" does not look inside the files: the corrupt one is kept.
    files = read_coco_json(*coco, check="exists", verbose=False)
    assert len(files) == 5 and files.counts["unreadable"] == 0
    # "decode" agrees with the header check on this fixture.
    files = read_coco_json(*coco, check="decode", verbose=False)
    assert files.problems["unreadable"] == ["d.jpg"]


def test_coco_size_mismatch_and_malformed_entries(tmp_path):
    _write(str(tmp_path / "a.png"), _png(RGB_20x30))
    coco = {
        "images": [
            {"id": 1, "file_name": "a.png", "height": 40, "width": 60},
            {"id": 1, "file_name": "again.png"},
            {"id": 2},
            "not an image",
        ],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 3, "bbox": [30, 20, 30, 30]},
            {"id": 6, "image_id": 2, "category_id": 3, "bbox": [1, 1, 1, 1]},
            {"id": 7, "image_id": [1], "category_id": 3, "bbox": [1, 1, 1, 1]},
            {"id": 8, "image_id": 1, "category_id": [3], "bbox": [1, 1, 1, 1]},
            [1, 2],
        ],
        "categories": [{"id": 3, "name": "thing"}],
    }
    path = str(tmp_path / "coco.json")
    with open(path, "w") as f:
        json.dump(coco, f)
    files = read_coco_json(path, str(tmp_path), verbose=False)
    (record,) = files.records
    # The annotation's frame (40 x 60) is kept, and the mismatch noted.
    assert (record.height, record.width) == (40, 60)
    np.testing.assert_array_equal(record.boxes, [[20, 30, 40, 60]])
    assert files.problems["size_mismatch"] == ["a.png"]
    assert files.problems["duplicate_image"] == ["again.png"]
    assert files.problems["malformed_image"] == ["#2", "#3"]
    # annotation 6 belongs to the malformed image entry: dropped with it
    assert files.problems["malformed_annotation"] == ["#4"]
    assert files.problems["unknown_image"] == [7]
    assert files.problems["unknown_category"] == [8]
    assert files.counts["skipped_images"] == 3


def test_coco_fatal_errors(tmp_path, coco):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        read_coco_json(str(bad), str(tmp_path))
    bad.write_text(json.dumps({"annotations": []}))
    with pytest.raises(ValueError, match="`images` list"):
        read_coco_json(str(bad), str(tmp_path))
    bad.write_text(json.dumps({"images": [], "categories": [{"name": "x"}]}))
    with pytest.raises(ValueError, match="integer `id`"):
        read_coco_json(str(bad), str(tmp_path))
    with pytest.raises(ValueError, match="check='foo'"):
        read_coco_json(*coco, check="foo")
    with pytest.raises(ValueError, match="num_workers=0"):
        read_coco_json(*coco, num_workers=0)


# ----------------------------------------------------------------------------
# VOC


def test_voc_records_boxes_labels_flags(voc, capsys):
    files = read_voc(voc)
    assert capsys.readouterr().out.startswith("read_voc: 3 of 5 images used, 3 boxes;")
    assert files.class_names == VOC_CLASSES  # every name found is a VOC class
    assert files.category_ids == tuple(range(20))
    records = _by_name(files)
    assert list(records) == ["000001.jpg", "000003.png", "000004.jpg"]

    first = records["000001.jpg"]
    assert (first.height, first.width, first.image_id) == (20, 30, "000001")
    # 1-based inclusive -> [ymin - 1, xmin - 1, ymax, xmax]
    np.testing.assert_array_equal(first.boxes, [[0, 0, 5, 10], [2, 4, 20, 30]])
    assert first.labels.tolist() == [
        VOC_CLASSES.index("dog"),
        VOC_CLASSES.index("person"),
    ]
    assert first.ignore.tolist() == [False, True]  # difficult
    assert first.crowd.tolist() == [False, False]

    third = records["000003.png"]  # size from the header; x2 clipped to 24
    assert (third.height, third.width) == (16, 24)
    np.testing.assert_array_equal(third.boxes, [[1, 1, 10, 24]])
    assert third.labels.tolist() == [VOC_CLASSES.index("car")]
    assert records["000004.jpg"].boxes.shape == (0, 4)

    counts = files.counts
    assert counts["images"] == 5
    assert counts["skipped_images"] == 1 and files.problems["missing"] == ["000005.xml"]
    assert counts["skipped_boxes"] == 1
    assert files.problems["degenerate_box"] == ["000001.xml#2"]
    assert counts["skipped_annotations"] == 2
    assert files.problems["malformed_xml"] == ["000002.xml"]
    assert files.problems["malformed_annotation"] == ["000004.xml#0"]
    assert files.problems["clipped_box"] == ["000003.xml#0"]


def test_voc_class_names_and_split(voc):
    files = read_voc(voc, class_names=["person", "dog"], verbose=False)
    first = _by_name(files)["000001.jpg"]
    assert first.labels.tolist() == [1, 0]
    # car and the degenerate cat are not in the list
    assert files.problems["unknown_class"] == ["000001.xml#2", "000003.xml#0"]
    assert files.counts["skipped_boxes"] == 0

    split_dir = os.path.join(voc, "ImageSets", "Main")
    os.makedirs(split_dir)
    with open(os.path.join(split_dir, "val.txt"), "w") as f:
        f.write("000001\n000003\n000009\n")
    files = read_voc(voc, split="val", verbose=False)
    assert [r.image_id for r in files] == ["000001", "000003"]
    assert files.problems["missing_xml"] == ["000009.xml"]
    assert files.counts["images"] == 3
    files = read_voc(voc, split=["000004"], verbose=False)
    assert [r.image_id for r in files] == ["000004"]
    with pytest.raises(ValueError, match="split='nope'"):
        read_voc(voc, split="nope")
    with pytest.raises(ValueError, match="class_names"):
        read_voc(voc, class_names=["dog", "dog"])


def test_voc_flat_folder_other_classes(tmp_path):
    # LabelImg-style: images and XML side by side; no <filename>: the image
    # of the same name is found; names outside VOC: sorted names found.
    _write(str(tmp_path / "x.png"), _png(RGB_12x14))
    _write(
        str(tmp_path / "x.xml"),
        _voc_xml(
            None,
            [("widget", (2.5, 1, 4, 3), 0), ("bolt", (1, 1, 14, 12), 0)],
            size=(12, 14),
        ),
    )
    files = read_voc(str(tmp_path), verbose=False)
    assert files.class_names == ("bolt", "widget")
    (record,) = files.records
    assert os.path.basename(record.path) == "x.png"
    np.testing.assert_array_equal(record.boxes, [[0, 1.5, 3, 4], [0, 0, 12, 14]])
    assert record.labels.tolist() == [1, 0]


# ----------------------------------------------------------------------------
# Headers, split


def test_image_size(tmp_path, coco):
    _, image_dir = coco
    assert image_size(os.path.join(image_dir, "a.jpg")) == (20, 30)
    assert image_size(os.path.join(image_dir, "b.png")) == (24, 16)
    assert image_size(os.path.join(image_dir, "c.jpg")) == (20, 30)
    assert image_size(os.path.join(image_dir, "nothing.jpg")) is None
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    assert image_size(str(garbage)) is None
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a\x0e\x00\x0c\x00")
    assert image_size(str(gif)) == (12, 14)


def _records(paths):
    empty = np.zeros((0, 4), np.float32)
    return [
        DetectionRecord(
            p, 8, 8, empty, np.zeros(0, np.int32), np.zeros(0, bool), np.zeros(0, bool)
        )
        for p in paths
    ]


def test_split_held_out():
    records = _records([f"{i}.jpg" for i in range(20)])
    train, held = split_held_out(records, 0.25, seed=3)
    assert (len(train), len(held)) == (15, 5)
    assert {r.path for r in train}.isdisjoint(r.path for r in held)
    assert {r.path for r in train} | {r.path for r in held} == {r.path for r in records}
    # deterministic, independent of the input order, in input order
    again = split_held_out(records[::-1], 0.25, seed=3)
    assert [r.path for r in again[1]] == [r.path for r in held][::-1]
    assert [r.path for r in train] == sorted(
        (r.path for r in train), key=lambda p: int(p.split(".")[0])
    )
    other = split_held_out(records, 0.25, seed=4)[1]
    assert {r.path for r in other} != {r.path for r in held}
    assert len(split_held_out(records, 7)[1]) == 7
    assert split_held_out(records, 0)[1] == []
    assert len(split_held_out(records, 1.0)[1]) == 20
    # records of the same image stay together
    twice = records + _records(["0.jpg"])
    train, held = split_held_out(twice, 10, seed=0)
    assert {r.path for r in train}.isdisjoint(r.path for r in held)
    assert len(held) + len(train) == 21 and len(held) in (10, 11)
    for bad in (1.5, -0.1, -1, 21, True, "a"):
        with pytest.raises(ValueError, match="held_out"):
            split_held_out(records, bad)
    with pytest.raises(ValueError, match="DetectionRecord"):
        split_held_out(["a.jpg"], 0.5)


# ----------------------------------------------------------------------------
# tf.data


def _block_mean(array, factor_y, factor_x):
    height, width, channels = array.shape
    return array.reshape(
        height // factor_y, factor_y, width // factor_x, factor_x, channels
    ).mean(axis=(1, 3))


def test_detection_dataset_values(coco):
    files = read_coco_json(*coco, verbose=False)
    examples = list(detection_dataset(files, 10, max_boxes=3))
    assert len(examples) == 4
    for image, targets in examples:
        assert image.shape == (10, 10, 3) and image.dtype == tf.float32
        assert targets["boxes"].shape == (3, 4)
        assert targets["labels"].dtype == tf.int32
        assert targets["crowd"].dtype == tf.bool
    image, targets = examples[0]  # a.jpg, 20 x 30 -> 10 x 10
    path = files[0].path
    decoded = tf.io.decode_jpeg(tf.io.read_file(path)).numpy() / 255.0
    np.testing.assert_allclose(image.numpy(), _block_mean(decoded, 2, 3), atol=1e-5)
    np.testing.assert_allclose(
        targets["boxes"].numpy(),
        [[1.5, 2 / 3, 4, 4], [0, 0, 10, 10], [-1, -1, -1, -1]],
        atol=1e-6,
    )
    assert targets["labels"].numpy().tolist() == [1, 0, -1]
    assert targets["crowd"].numpy().tolist() == [False, True, False]
    assert targets["ignore"].numpy().tolist() == [False, False, False]

    _, targets = examples[1]  # b.png, 24 x 16: [20, 10, 24, 16]
    np.testing.assert_allclose(
        targets["boxes"].numpy()[0], [20 * 10 / 24, 10 * 10 / 16, 10, 10], atol=1e-5
    )
    image, _ = examples[2]  # c.jpg, grey -> 3 equal channels
    gray = tf.io.decode_jpeg(tf.io.read_file(files[2].path)).numpy() / 255.0
    expected = _block_mean(gray, 2, 3)
    for channel in range(3):
        np.testing.assert_allclose(
            image.numpy()[..., channel : channel + 1], expected, atol=1e-5
        )
    _, targets = examples[3]  # f.png: no box
    assert targets["labels"].numpy().tolist() == [-1, -1, -1]


def test_detection_dataset_truncation_size_and_shuffle(coco, capsys):
    files = read_coco_json(*coco, verbose=False)
    dataset = detection_dataset(files.records[:1], (4, 6), max_boxes=1)
    assert "1 boxes beyond max_boxes=1 dropped in 1 images" in capsys.readouterr().out
    ((image, targets),) = list(dataset)
    assert image.shape == (4, 6, 3)
    np.testing.assert_allclose(
        targets["boxes"].numpy(), [[3 * 4 / 20, 2 * 6 / 30, 8 * 4 / 20, 12 * 6 / 30]]
    )
    assert targets["labels"].numpy().tolist() == [1]
    shuffled = detection_dataset(files, 4, max_boxes=3, shuffle=True, seed=1)
    labels = sorted(int(t["labels"][0]) for _, t in shuffled)
    assert labels == sorted(
        int(t["labels"][0]) for _, t in detection_dataset(files, 4, 3)
    )
    assert len(list(detection_dataset([], 4, 3))) == 0
    for kwargs, match in (
        ({"size": 0}, "size=0"),
        ({"size": (4, 4, 4)}, "size"),
        ({"size": 4, "max_boxes": 0}, "max_boxes=0"),
        ({"size": 4, "decode_counter": 3}, "decode_counter=3"),
    ):
        with pytest.raises(ValueError, match=match):
            detection_dataset(files, **kwargs)


def test_detection_dataset_counts_decode_failures(coco):
    # "exists" lets the truncated JPEG through: the pipeline drops and counts it.
    files = read_coco_json(*coco, check="exists", verbose=False)
    assert "d.jpg" in [os.path.basename(r.path) for r in files]
    counter = DecodeCounter()
    dataset = detection_dataset(files, 8, max_boxes=2, decode_counter=counter)
    assert len(list(dataset)) == 4
    assert (counter.attempted, counter.decoded, counter.failed) == (5, 4, 1)
    assert len(list(dataset.batch(2))) == 2  # a second epoch counts on
    assert (counter.attempted, counter.failed) == (10, 2)
    counter.reset()
    assert counter.attempted == 0
    with pytest.raises(tf.errors.InvalidArgumentError):
        list(detection_dataset(files, 8, max_boxes=2, ignore_errors=False))
