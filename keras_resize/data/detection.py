"""Detection data from the user's own files: COCO JSON and Pascal VOC XML.

Two readers build an index of the images and their boxes without decoding
any image:

- `read_coco_json(annotation_file, image_dir)`: a COCO-format annotation file
  (`instances_*.json`: `images`, `annotations`, `categories`) and the folder
  of its images.
- `read_voc(folder)`: the Pascal VOC layout (`Annotations/*.xml` beside
  `JPEGImages/`), or a flat folder of images with an XML file beside each
  (as written by LabelImg and similar tools).

Both return a `DetectionFiles`: the usable `DetectionRecord`s (one per image:
file path, size, boxes `yxyx` in the image's pixels, contiguous labels
`0..K-1`, crowd and ignore flags), the class names, the dataset's category ids
(so labels map back to COCO ids for evaluation) and what was skipped, with
counts. `detection_dataset(records, size, max_boxes)` turns records into a
`tf.data.Dataset` of `(image, {"boxes", "labels", "crowd", "ignore"})` as the
detection training consumes it, and `split_held_out` sets aside a held-out
split by image when there is only one annotation set.

Bad input never stops a run; it is skipped and counted:

- At index time (the readers): malformed annotation entries and malformed XML
  files (`skipped_annotations`); images whose file is missing or unreadable
  (a cheap header check by default, see `check_image`), whose size is
  unknown, or that have no box left when `keep_empty=False`
  (`skipped_images`); degenerate boxes (`skipped_boxes`).
- At decode time (`detection_dataset`): files that pass the index-time check
  but still fail to decode (a corrupt middle, a file changed since) are
  dropped, and counted by a `DecodeCounter` if one is passed.

TensorFlow is only imported by `detection_dataset`, `DecodeCounter` and the
`"decode"` image check.
"""

import concurrent.futures
import dataclasses
import json
import math
import os
import struct
import xml.etree.ElementTree as ElementTree

import numpy as np

from keras_resize.data.ava import _JPEG_MAGIC, _PNG_MAGIC, CHECK_MODES, check_image

VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
"""The 20 Pascal VOC classes, in their usual (alphabetical) order."""

IMAGE_REASONS = (
    "missing",
    "unreadable",
    "malformed_image",
    "duplicate_image",
    "unknown_size",
    "no_boxes",
)
"""Reasons for which an image is skipped (counted in `skipped_images`)."""

BOX_REASONS = ("degenerate_box",)
"""Reasons for which a box is skipped (counted in `skipped_boxes`)."""

ANNOTATION_REASONS = (
    "malformed_annotation",
    "unknown_category",
    "unknown_image",
    "unknown_class",
    "malformed_xml",
    "missing_xml",
)
"""Reasons for which an annotation entry or file is skipped
(counted in `skipped_annotations`)."""

NOTE_REASONS = ("clipped_box", "size_mismatch")
"""Problems that are noted but keep the entry."""

_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".JPG", ".JPEG", ".PNG")
_VERBOSE_THRESHOLD = 2000


@dataclasses.dataclass(eq=False)
class DetectionRecord:
    """One image and its boxes, as read from the annotation files.

    Convention: `boxes` are `(k, 4)` float32 `[y1, x1, y2, x2]` in continuous
    pixel coordinates of the image as annotated (`height` x `width`): the
    image covers `[0, height] x [0, width]`, pixel `(i, j)` covers `[i, i+1] x
    [j, j+1]`, so a box around pixels `0..9` of a row is `x1=0, x2=10`. This
    is COCO's convention (`x1 = x`, `x2 = x + w`); VOC boxes are converted to
    it. Every box has a positive height and width and lies inside the image.

    Attributes:
        path: the image file.
        height: image height in pixels (from the annotation; from the file
            header where the annotation has none).
        width: image width in pixels.
        boxes: `(k, 4)` float32, `yxyx` as above.
        labels: `(k,)` int32 contiguous class indices `0..K-1`.
        crowd: `(k,)` bool, COCO `iscrowd` (always `False` for VOC).
        ignore: `(k,)` bool, VOC `difficult` (always `False` for COCO).
        image_id: the dataset's id of the image (the COCO image id, or the
            VOC annotation file's name without `.xml`).
    """

    path: str
    height: int
    width: int
    boxes: np.ndarray
    labels: np.ndarray
    crowd: np.ndarray
    ignore: np.ndarray
    image_id: object = None


@dataclasses.dataclass(eq=False)
class DetectionFiles:
    """What `read_coco_json` and `read_voc` found.

    Iterating over it, `len()` and indexing go to `records`, so it can be
    passed wherever records are expected.

    Attributes:
        records: list of `DetectionRecord`, in annotation order.
        class_names: tuple of the `K` class names; label `k` is
            `class_names[k]`.
        category_ids: tuple of the `K` dataset category ids; label `k` is
            the COCO category `category_ids[k]` (for VOC, `k` itself).
        counts: dict of ints: `images` (image entries or XML files
            listed), `used_images` (`len(records)`), `boxes` (kept),
            `skipped_images`, `skipped_boxes`, `skipped_annotations`,
            `clipped_boxes` (kept, clipped to the image), `size_mismatches`
            (kept: the file header's size differs from the annotation's,
            boxes stay in the annotation's frame; not looked for with
            `check="exists"`), and one count per reason of `problems`.
        problems: dict `reason -> list` of identifiers (image file names,
            COCO annotation ids, `"name.xml"` or `"name.xml#k"` for the
            `k`-th object of a VOC file). Reasons are those of
            `IMAGE_REASONS`, `BOX_REASONS`, `ANNOTATION_REASONS` (skipped)
            and `NOTE_REASONS` (kept).
    """

    records: list
    class_names: tuple
    category_ids: tuple
    counts: dict
    problems: dict

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, index):
        return self.records[index]

    @property
    def num_classes(self):
        return len(self.class_names)

    def summary(self):
        """The one-line summary the readers print."""
        return _summary(self.counts)


# ----------------------------------------------------------------------------
# Image headers.


def _jpeg_size(f):
    """(height, width) from a JPEG's frame header; `f` is after the SOI."""
    while True:
        byte = f.read(1)
        while byte and byte != b"\xff":
            byte = f.read(1)
        while byte == b"\xff":  # fill bytes
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length field
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan first
            return None
        length = f.read(2)
        if len(length) < 2:
            return None
        (length,) = struct.unpack(">H", length)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            frame = f.read(5)
            if len(frame) < 5:
                return None
            return struct.unpack(">HH", frame[1:5])
        if length < 2:
            return None
        f.seek(length - 2, os.SEEK_CUR)


def image_size(path):
    """Reads `(height, width)` from an image file's header, without decoding.

    Args:
        path: a JPEG, PNG, GIF or BMP file.

    Returns:
        `(height, width)` as ints, or `None` if the file cannot be read, is
        of another format or its header is malformed.

    Example:

    >>> import tempfile
    >>> import tensorflow as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> tf.io.write_file(path, tf.io.encode_png(np.zeros((20, 30, 3), "uint8")))
    >>> image_size(path)
    (20, 30)
    """
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head.startswith(_JPEG_MAGIC):
                f.seek(2)
                size = _jpeg_size(f)
            elif head.startswith(_PNG_MAGIC) and head[12:16] == b"IHDR":
                width, height = struct.unpack(">II", head[16:24])
                size = (height, width)
            elif head[:6] in (b"GIF87a", b"GIF89a"):
                width, height = struct.unpack("<HH", head[6:10])
                size = (height, width)
            elif head.startswith(b"BM") and struct.unpack("<I", head[14:18])[0] >= 40:
                width, height = struct.unpack("<ii", head[18:26])
                size = (abs(height), width)
            else:
                size = None
    except (OSError, struct.error):
        return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return int(size[0]), int(size[1])


# ----------------------------------------------------------------------------
# Shared index building.


def _positive_int(value):
    """`value` as a positive int, or None (bools and non-integers are None)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= 0 or number != int(number):
        return None
    return int(number)


def _number(value):
    """`value` as a float (NaN and infinities allowed), or None."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _check_boxes(boxes, height, width):
    """`(keep, clipped_boxes, was_clipped)` for `(k, 4)` yxyx float64 boxes.

    A box is kept if its coordinates are finite, it has a positive height
    and width, and it still has one after clipping to the image.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(boxes).all(axis=1)
        ordered = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        limits = np.array([height, width, height, width], np.float64)
        clipped = np.clip(boxes, 0.0, limits)
        positive = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
        keep = finite & ordered & positive
        was_clipped = keep & (clipped != boxes).any(axis=1)
    return keep, clipped, was_clipped


def _check_arguments(check, num_workers):
    if check not in CHECK_MODES:
        raise ValueError(
            f"Expected `check` in {CHECK_MODES}. Received: check={check!r}"
        )
    if (
        isinstance(num_workers, bool)
        or not isinstance(num_workers, int | np.integer)
        or num_workers < 1
    ):
        raise ValueError(
            f"Expected `num_workers` to be a positive int. Received: "
            f"num_workers={num_workers!r}"
        )


def _progress(desc, total, verbose):
    from keras_resize.data.canvases import _Progress

    return _Progress(desc, total, bool(verbose) and total >= _VERBOSE_THRESHOLD)


def _inspect(path, check, need_size):
    state = check_image(path, check)
    size = None
    if state == "ok" and (need_size or check != "exists"):
        size = image_size(path)
    return state, size


def _build(entries, problems, check, keep_empty, verbose, num_workers, desc):
    """Checks the image files of `entries` and makes the records.

    Each entry is a dict: `key` (identifier in `problems`), `path`,
    `height` / `width` (positive ints or None), `image_id`, `boxes`
    (list of yxyx), `labels`, `crowd`, `ignore`, `box_ids`.
    """
    progress = _progress(desc, len(entries), verbose)
    try:
        with concurrent.futures.ThreadPoolExecutor(num_workers) as pool:
            jobs = pool.map(
                lambda e: _inspect(e["path"], check, not (e["height"] and e["width"])),
                entries,
            )
            states = []
            for done, state in enumerate(jobs, start=1):
                states.append(state)
                progress.update(done)
    finally:
        progress.close()
    records = []
    for entry, (state, file_size) in zip(entries, states, strict=True):
        key = entry["key"]
        if state != "ok":
            problems[state].append(key)
            continue
        height, width = entry["height"], entry["width"]
        if height and width:
            if file_size is not None and file_size != (height, width):
                problems["size_mismatch"].append(key)
        elif file_size is not None:
            height, width = file_size
        else:
            problems["unknown_size"].append(key)
            continue
        boxes = np.asarray(entry["boxes"], np.float64).reshape(-1, 4)
        keep, clipped, was_clipped = _check_boxes(boxes, height, width)
        box_ids = entry["box_ids"]
        problems["degenerate_box"].extend(box_ids[i] for i in np.flatnonzero(~keep))
        problems["clipped_box"].extend(box_ids[i] for i in np.flatnonzero(was_clipped))
        if not keep.any() and not keep_empty:
            problems["no_boxes"].append(key)
            continue
        records.append(
            DetectionRecord(
                path=entry["path"],
                height=int(height),
                width=int(width),
                boxes=clipped[keep].astype(np.float32),
                labels=np.asarray(entry["labels"], np.int32).reshape(-1)[keep],
                crowd=np.asarray(entry["crowd"], bool).reshape(-1)[keep],
                ignore=np.asarray(entry["ignore"], bool).reshape(-1)[keep],
                image_id=entry["image_id"],
            )
        )
    return records


def _new_problems():
    return {
        reason: []
        for reason in IMAGE_REASONS + BOX_REASONS + ANNOTATION_REASONS + NOTE_REASONS
    }


def _counts(num_images, records, problems):
    counts = {
        "images": int(num_images),
        "used_images": len(records),
        "boxes": int(sum(len(r.labels) for r in records)),
        "skipped_images": sum(len(problems[r]) for r in IMAGE_REASONS),
        "skipped_boxes": sum(len(problems[r]) for r in BOX_REASONS),
        "skipped_annotations": sum(len(problems[r]) for r in ANNOTATION_REASONS),
        "clipped_boxes": len(problems["clipped_box"]),
        "size_mismatches": len(problems["size_mismatch"]),
    }
    for reason, items in problems.items():
        counts[reason] = len(items)
    return counts


def _summary(counts):
    def details(reasons):
        parts = [f"{counts[r]} {r.replace('_', ' ')}" for r in reasons if counts.get(r)]
        return f" ({', '.join(parts)})" if parts else ""

    line = (
        f"{counts['used_images']} of {counts['images']} images used, "
        f"{counts['boxes']} boxes; skipped: {counts['skipped_images']} images"
        f"{details(IMAGE_REASONS)}, {counts['skipped_boxes']} boxes"
        f"{details(BOX_REASONS)}, {counts['skipped_annotations']} annotations"
        f"{details(ANNOTATION_REASONS)}"
    )
    notes = [
        f"{counts[key]} {text}"
        for key, text in (
            ("clipped_boxes", "boxes clipped to the image"),
            ("size_mismatches", "image sizes differ from the annotation"),
        )
        if counts.get(key)
    ]
    if notes:
        line += "; " + ", ".join(notes)
    return line


def _finish(num_images, records, problems, class_names, category_ids, verbose, name):
    counts = _counts(num_images, records, problems)
    files = DetectionFiles(
        records=records,
        class_names=tuple(class_names),
        category_ids=tuple(category_ids),
        counts=counts,
        problems=problems,
    )
    if verbose:
        print(f"{name}: {files.summary()}")
    return files


# ----------------------------------------------------------------------------
# COCO.


def _coco_categories(categories, annotation_file):
    if not isinstance(categories, list):
        raise ValueError(
            f"Expected a list of categories in {annotation_file}. Received: "
            f"categories={type(categories).__name__}"
        )
    names = {}
    for category in categories:
        if (
            not isinstance(category, dict)
            or isinstance(category.get("id"), bool)
            or not isinstance(category.get("id"), int)
        ):
            raise ValueError(
                f"Expected each category in {annotation_file} to be an object "
                f"with an integer `id` and a `name`. Received: {category!r}"
            )
        if category["id"] in names:
            raise ValueError(
                f"Expected unique category ids in {annotation_file}. "
                f"Received: id={category['id']} twice"
            )
        names[category["id"]] = str(category.get("name", category["id"]))
    ids = sorted(names)
    return ids, [names[i] for i in ids]


def read_coco_json(
    annotation_file,
    image_dir,
    check="header",
    keep_empty=True,
    verbose=True,
    num_workers=8,
):
    """Reads a COCO-format detection annotation file and checks its images.

    The file is COCO's `instances_*.json`: `images` (`id`, `file_name`,
    `height`, `width`), `annotations` (`id`, `image_id`, `category_id`,
    `bbox` = `[x, y, w, h]`, `iscrowd`) and `categories` (`id`, `name`).
    Category ids may be sparse (COCO's 80 classes have ids 1..90): labels
    are the contiguous indices `0..K-1` of the categories sorted by id, and
    `category_ids[label]` maps them back.

    Nothing is fatal but an unreadable annotation file or malformed
    `categories`: image entries without a `file_name` (or a repeated `id`)
    and images whose file is missing or unreadable are skipped; annotations
    without a well-formed `bbox`, with an unknown `category_id` or
    `image_id` are skipped; degenerate boxes are skipped (see Convention).
    Everything skipped is counted in the result's `counts` and listed in its
    `problems`. The annotations of a skipped image are dropped with it
    without being counted. Images without any box are valid negatives and
    kept unless `keep_empty=False`.

    Convention: COCO boxes `[x, y, w, h]` are in continuous pixel
    coordinates (the image covers `[0, width] x [0, height]`); the records'
    boxes are `[y, x, y + h, x + w]` (`yxyx`), clipped to the image. A box
    is degenerate, and skipped, if a coordinate is not finite, `w <= 0` or
    `h <= 0`, or nothing of it is left inside the image after clipping.

    Args:
        annotation_file: path of the COCO JSON file.
        image_dir: folder of the images; `file_name` is relative to it.
        check: how image files are checked at index time: `"header"`
            (default, cheap: magic bytes and end marker, see `check_image`),
            `"decode"` (full decode, slow) or `"exists"`. Images that pass
            but fail to decode later are dropped by `detection_dataset`.
        keep_empty: keep images that have no box left.
        verbose: print a one-line summary (and a progress line while
            checking 2000 or more images).
        num_workers: threads checking the image files.

    Returns:
        A `DetectionFiles`; `image_id` of each record is the COCO image id.

    Raises:
        ValueError: if the file is not JSON, has no `images` list, or its
            `categories` are malformed; or on a bad `check`.

    Example:

    >>> import json, tempfile
    >>> import tensorflow as tf
    >>> folder = tempfile.mkdtemp()
    >>> tf.io.write_file(os.path.join(folder, "a.png"),
    ...                  tf.io.encode_png(np.zeros((20, 30, 3), "uint8")))
    >>> coco = {
    ...     "images": [{"id": 7, "file_name": "a.png", "height": 20, "width": 30}],
    ...     "annotations": [{"id": 1, "image_id": 7, "category_id": 18,
    ...                      "bbox": [2, 4, 10, 5], "iscrowd": 0}],
    ...     "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
    ... }
    >>> with open(os.path.join(folder, "instances.json"), "w") as f:
    ...     json.dump(coco, f)
    >>> files = read_coco_json(os.path.join(folder, "instances.json"), folder)
    read_coco_json: 1 of 1 images used, 1 boxes;
    skipped: 0 images, 0 boxes, 0 annotations
    >>> files.class_names, files.category_ids
    (('person', 'dog'), (1, 18))
    >>> files[0].boxes.tolist(), files[0].labels.tolist()
    ([[4.0, 2.0, 9.0, 12.0]], [1])
    """
    _check_arguments(check, num_workers)
    annotation_file = os.fspath(annotation_file)
    image_dir = os.fspath(image_dir)
    try:
        with open(annotation_file, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"Expected a COCO annotation JSON file. Received: "
            f"annotation_file={annotation_file!r} ({error})"
        ) from error
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(
            f"Expected a COCO annotation file with an `images` list. Received: "
            f"annotation_file={annotation_file!r}"
        )
    category_ids, class_names = _coco_categories(
        data.get("categories", []), annotation_file
    )
    label_of = {cid: label for label, cid in enumerate(category_ids)}
    problems = _new_problems()

    entries = {}
    rejected = set()  # ids of skipped image entries: their annotations go too
    for index, image in enumerate(data["images"]):
        image_id = image.get("id") if isinstance(image, dict) else None
        file_name = image.get("file_name") if isinstance(image, dict) else None
        hashable = isinstance(image_id, int | str) and not isinstance(image_id, bool)
        if not hashable or not isinstance(file_name, str) or not file_name:
            problems["malformed_image"].append(
                file_name if isinstance(file_name, str) and file_name else f"#{index}"
            )
            if hashable:
                rejected.add(image_id)
            continue
        if image_id in entries:
            problems["duplicate_image"].append(file_name)
            continue
        entries[image_id] = {
            "key": file_name,
            "path": os.path.join(image_dir, file_name),
            "height": _positive_int(image.get("height")),
            "width": _positive_int(image.get("width")),
            "image_id": image_id,
            "boxes": [],
            "labels": [],
            "crowd": [],
            "ignore": [],
            "box_ids": [],
        }

    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise ValueError(
            f"Expected a list of annotations in {annotation_file}. Received: "
            f"annotations={type(annotations).__name__}"
        )
    for index, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            problems["malformed_annotation"].append(f"#{index}")
            continue
        annotation_id = annotation.get("id", f"#{index}")
        bbox = annotation.get("bbox")
        values = [_number(v) for v in bbox] if isinstance(bbox, list | tuple) else None
        crowd = annotation.get("iscrowd", 0)
        if (
            values is None
            or len(values) != 4
            or any(v is None for v in values)
            or crowd not in (0, 1, True, False)
        ):
            problems["malformed_annotation"].append(annotation_id)
            continue
        image_id = annotation.get("image_id")
        if not isinstance(image_id, int | str) or isinstance(image_id, bool):
            image_id = None  # unhashable or ill-typed: unknown
        if image_id in rejected:
            continue
        entry = entries.get(image_id)
        if entry is None:
            problems["unknown_image"].append(annotation_id)
            continue
        category = annotation.get("category_id")
        if (
            isinstance(category, bool)
            or not isinstance(category, int | float)
            or category not in label_of
        ):
            problems["unknown_category"].append(annotation_id)
            continue
        x, y, w, h = values
        entry["boxes"].append([y, x, y + h, x + w])
        entry["labels"].append(label_of[category])
        entry["crowd"].append(bool(crowd))
        entry["ignore"].append(False)
        entry["box_ids"].append(annotation_id)

    records = _build(
        list(entries.values()),
        problems,
        check,
        keep_empty,
        verbose,
        num_workers,
        "Checking images",
    )
    return _finish(
        len(data["images"]),
        records,
        problems,
        class_names,
        category_ids,
        verbose,
        "read_coco_json",
    )


# ----------------------------------------------------------------------------
# Pascal VOC.


def _find_image(image_dir, file_name, stem):
    """The image of a VOC annotation: `<filename>`, else `stem.<ext>`."""
    if file_name:
        path = os.path.join(image_dir, file_name)
        if os.path.isfile(path):
            return path
    for extension in _IMAGE_EXTENSIONS:
        path = os.path.join(image_dir, stem + extension)
        if os.path.isfile(path):
            return path
    return os.path.join(image_dir, file_name or stem + ".jpg")


def _parse_voc_xml(path, name, image_dir, problems):
    """One VOC XML file -> an entry with class *names* (or None if malformed)."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError, UnicodeDecodeError):
        problems["malformed_xml"].append(name)
        return None
    if root.tag != "annotation":
        problems["malformed_xml"].append(name)
        return None
    stem = name[: -len(".xml")]
    file_name = (root.findtext("filename") or "").strip()
    size = root.find("size")
    height = width = None
    if size is not None:
        height = _positive_int((size.findtext("height") or "").strip())
        width = _positive_int((size.findtext("width") or "").strip())
    entry = {
        "key": name,
        "path": _find_image(image_dir, file_name, stem),
        "height": height,
        "width": width,
        "image_id": stem,
        "boxes": [],
        "names": [],
        "crowd": [],
        "ignore": [],
        "box_ids": [],
    }
    for k, item in enumerate(root.findall("object")):
        box_id = f"{name}#{k}"
        class_name = (item.findtext("name") or "").strip()
        bndbox = item.find("bndbox")
        coords = None
        if bndbox is not None:
            coords = [
                _number((bndbox.findtext(tag) or "").strip())
                for tag in ("xmin", "ymin", "xmax", "ymax")
            ]
        difficult = _number((item.findtext("difficult") or "0").strip())
        if (
            not class_name
            or coords is None
            or any(c is None for c in coords)
            or difficult is None
        ):
            problems["malformed_annotation"].append(box_id)
            continue
        xmin, ymin, xmax, ymax = coords
        if xmax < xmin or ymax < ymin:  # marked degenerate (NaN) for _build
            box = [math.nan] * 4
        else:  # 1-based inclusive -> 0-based continuous
            box = [ymin - 1.0, xmin - 1.0, ymax, xmax]
        entry["boxes"].append(box)
        entry["names"].append(class_name)
        entry["crowd"].append(False)
        entry["ignore"].append(difficult != 0)
        entry["box_ids"].append(box_id)
    return entry


def _voc_split(folder, split):
    """The ids of a VOC split: a name in `ImageSets/Main`, a file or ids."""
    if isinstance(split, str | os.PathLike):
        path = os.fspath(split)
        if not os.path.isfile(path):
            path = os.path.join(folder, "ImageSets", "Main", f"{split}.txt")
        if not os.path.isfile(path):
            raise ValueError(
                "Expected `split` to be a split name with a file "
                "`ImageSets/Main/<split>.txt`, an id list file or a list of ids. "
                f"Received: split={split!r}"
            )
        with open(path, encoding="utf-8") as f:
            return [line.split()[0] for line in f if line.strip()]
    return [str(i) for i in split]


def read_voc(
    folder,
    class_names=None,
    split=None,
    image_dir=None,
    check="header",
    keep_empty=True,
    verbose=True,
    num_workers=8,
):
    """Reads Pascal VOC XML annotations and checks their images.

    Two layouts: VOC's own, `folder/Annotations/*.xml` with the images in
    `folder/JPEGImages/` (and split lists in `folder/ImageSets/Main/`), or a
    flat folder of images with an XML file beside each. The image of an XML
    file is its `<filename>`, or else the file of the same name as the XML
    with an image extension. The image size is read from `<size>` (from the
    file header where it is missing). Each `<object>` needs a `<name>` and a
    `<bndbox>`; `<difficult>1</difficult>` sets the box's `ignore` flag.

    Nothing is fatal: malformed XML files (counted in `skipped_annotations`,
    reason `malformed_xml`), objects without a name or numeric box
    (`malformed_annotation`) or of a class not in `class_names`
    (`unknown_class`), images whose file is missing or unreadable
    (`skipped_images`) and degenerate boxes (`skipped_boxes`) are skipped,
    counted and listed in the result's `problems`. Images without any box
    are kept unless `keep_empty=False`.

    Convention: VOC boxes are 1-based inclusive pixel indices (`xmin=1,
    xmax=10` is the first ten pixels of a row). They are converted to the
    0-based continuous coordinates of COCO boxes, in which the image covers
    `[0, width] x [0, height]`: `[ymin - 1, xmin - 1, ymax, xmax]`
    (`yxyx`), then clipped to the image. A box is degenerate, and skipped,
    if `xmax < xmin` or `ymax < ymin`, a coordinate is not finite, or
    nothing of it is left inside the image after clipping.

    Args:
        folder: the VOC folder (with `Annotations/`), or a flat folder.
        class_names: the class of each label, a sequence of unique names.
            Default: the 20 VOC classes (`VOC_CLASSES`) if they include
            every name found, else the sorted names found.
        split: `None` (every XML file), a split name (reads
            `folder/ImageSets/Main/<split>.txt`, e.g. `"trainval"`), the
            path of an id list file, or a list of ids (XML names without
            `.xml`). Listed ids without an XML file are skipped
            (`missing_xml`).
        image_dir: the folder of the images, overriding the layout's.
        check: how image files are checked at index time: `"header"`
            (default), `"decode"` or `"exists"`; see `read_coco_json`.
        keep_empty: keep images that have no box left.
        verbose: print a one-line summary (and a progress line while
            checking 2000 or more images).
        num_workers: threads checking the image files.

    Returns:
        A `DetectionFiles`; `category_ids` is `(0, ..., K-1)` and the
        `image_id` of each record its XML file name without `.xml`.

    Raises:
        ValueError: if `folder` is not a folder, or on a bad `class_names`,
            `split` or `check`.

    Example:

    >>> import tempfile
    >>> import tensorflow as tf
    >>> folder = tempfile.mkdtemp()
    >>> tf.io.write_file(os.path.join(folder, "a.jpg"),
    ...                  tf.io.encode_jpeg(np.zeros((20, 30, 3), "uint8")))
    >>> with open(os.path.join(folder, "a.xml"), "w") as f:
    ...     _ = f.write(
    ...         "<annotation><filename>a.jpg</filename><object><name>dog</name>"
    ...         "<difficult>1</difficult><bndbox><xmin>3</xmin><ymin>5</ymin>"
    ...         "<xmax>12</xmax><ymax>9</ymax></bndbox></object></annotation>")
    >>> files = read_voc(folder, verbose=False)
    >>> files[0].boxes.tolist(), files[0].ignore.tolist(), files.num_classes
    ([[4.0, 2.0, 9.0, 12.0]], [True], 20)
    """
    _check_arguments(check, num_workers)
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"Expected a folder. Received: folder={folder!r}")
    annotations_dir = os.path.join(folder, "Annotations")
    if os.path.isdir(annotations_dir):
        default_image_dir = os.path.join(folder, "JPEGImages")
    else:
        annotations_dir = default_image_dir = folder
    image_dir = default_image_dir if image_dir is None else os.fspath(image_dir)
    if class_names is not None:
        class_names = [str(n) for n in class_names]
        if not class_names or len(set(class_names)) != len(class_names):
            raise ValueError(
                "Expected `class_names` to be a non-empty sequence of unique "
                f"names. Received: class_names={class_names!r}"
            )

    problems = _new_problems()
    if split is None:
        names = sorted(
            n for n in os.listdir(annotations_dir) if n.lower().endswith(".xml")
        )
    else:
        names = []
        for image_id in _voc_split(folder, split):
            name = f"{image_id}.xml"
            if os.path.isfile(os.path.join(annotations_dir, name)):
                names.append(name)
            else:
                problems["missing_xml"].append(name)
    parsed = [
        _parse_voc_xml(os.path.join(annotations_dir, n), n, image_dir, problems)
        for n in names
    ]
    entries = [e for e in parsed if e is not None]

    found = sorted({name for e in entries for name in e["names"]})
    if class_names is None:
        class_names = VOC_CLASSES if set(found) <= set(VOC_CLASSES) else found
    label_of = {name: label for label, name in enumerate(class_names)}
    for entry in entries:
        known = [name in label_of for name in entry["names"]]
        problems["unknown_class"].extend(
            box_id for box_id, ok in zip(entry["box_ids"], known, strict=True) if not ok
        )
        for field in ("boxes", "crowd", "ignore", "box_ids"):
            entry[field] = [v for v, ok in zip(entry[field], known, strict=True) if ok]
        entry["labels"] = [label_of[n] for n in entry.pop("names") if n in label_of]

    records = _build(
        entries, problems, check, keep_empty, verbose, num_workers, "Checking images"
    )
    return _finish(
        len(names) + len(problems["missing_xml"]),
        records,
        problems,
        class_names,
        range(len(class_names)),
        verbose,
        "read_voc",
    )


# ----------------------------------------------------------------------------
# Held-out split and tf.data.


def _as_records(records):
    if isinstance(records, DetectionFiles):
        return list(records.records)
    records = list(records)
    for record in records:
        if not isinstance(record, DetectionRecord):
            raise ValueError(
                "Expected a `DetectionFiles` or a sequence of `DetectionRecord`. "
                f"Received an element of type {type(record).__name__}"
            )
    return records


def split_held_out(records, held_out=0.1, seed=0):
    """Splits records by image into `(train, held_out)`, deterministically.

    For a held-out evaluation split when there is only one annotation set.
    The split depends on the set of image paths and the seed only, not on
    the order of `records`; records of the same image file stay together.

    Args:
        records: a `DetectionFiles` or a sequence of `DetectionRecord`.
        held_out: the fraction of the images to hold out (a float in `[0,
            1]`, rounded to a whole number of images) or their number (an
            int in `[0, number of images]`).
        seed: seed of the permutation.

    Returns:
        `(train, held_out)`: two lists of records, disjoint by image, each in
        the order of `records`.

    Raises:
        ValueError: if `held_out` is out of range or not a number.

    Example:

    >>> records = [
    ...     DetectionRecord(f"{i}.jpg", 8, 8, np.zeros((0, 4), "float32"),
    ...                     np.zeros((0,), "int32"), np.zeros((0,), bool),
    ...                     np.zeros((0,), bool))
    ...     for i in range(10)]
    >>> train, held = split_held_out(records, 0.2, seed=1)
    >>> len(train), len(held), {r.path for r in train} & {r.path for r in held}
    (8, 2, set())
    """
    records = _as_records(records)
    paths = sorted({r.path for r in records})
    total = len(paths)
    if isinstance(held_out, bool) or not isinstance(
        held_out, int | float | np.integer | np.floating
    ):
        raise ValueError(
            "Expected `held_out` to be a fraction in [0, 1] or a number of "
            f"images. Received: held_out={held_out!r}"
        )
    if isinstance(held_out, float | np.floating):
        if not 0.0 <= held_out <= 1.0:
            raise ValueError(
                "Expected `held_out` to be a fraction in [0, 1] or a number of "
                f"images. Received: held_out={held_out!r}"
            )
        count = int(round(float(held_out) * total))
    else:
        if not 0 <= held_out <= total:
            raise ValueError(
                f"Expected `held_out` images between 0 and the {total} images. "
                f"Received: held_out={held_out!r}"
            )
        count = int(held_out)
    order = np.random.default_rng(seed).permutation(total)
    chosen = {paths[i] for i in order[:count]}
    train = [r for r in records if r.path not in chosen]
    held = [r for r in records if r.path in chosen]
    return train, held


class DecodeCounter:
    """Counts the images `detection_dataset` tried to decode, and the failures.

    Pass one as `decode_counter=`; it counts over every iteration of the
    dataset (all epochs) until `reset()`. The counts are exact once an
    iteration has finished; during one, images being prefetched may be
    counted as attempted but not yet as decoded.

    Attributes:
        attempted: images read so far.
        decoded: images decoded so far.
        failed: `attempted - decoded`, the images dropped because they
            could not be read or decoded.

    Example:

    >>> counter = DecodeCounter()
    >>> counter.attempted, counter.failed
    (0, 0)
    """

    def __init__(self):
        from keras_resize.backend import tensorflow

        tf = tensorflow()
        self._attempted = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._decoded = tf.Variable(0, dtype=tf.int64, trainable=False)

    @property
    def attempted(self):
        return int(self._attempted.numpy())

    @property
    def decoded(self):
        return int(self._decoded.numpy())

    @property
    def failed(self):
        return self.attempted - self.decoded

    def reset(self):
        self._attempted.assign(0)
        self._decoded.assign(0)

    def __repr__(self):
        return (
            f"DecodeCounter(attempted={self.attempted}, decoded={self.decoded}, "
            f"failed={self.failed})"
        )


def _check_size(size):
    pair = size
    if isinstance(size, int | np.integer) and not isinstance(size, bool):
        pair = (size, size)
    try:
        height, width = pair
    except (TypeError, ValueError):
        height = width = None
    if not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v > 0
        for v in (height, width)
    ):
        raise ValueError(
            "Expected `size` to be a positive int or a pair of them. "
            f"Received: size={size!r}"
        )
    return int(height), int(width)


def detection_dataset(
    records,
    size,
    max_boxes=100,
    shuffle=False,
    seed=0,
    ignore_errors=True,
    decode_counter=None,
    verbose=True,
):
    """An unbatched `tf.data.Dataset` of detection examples from records.

    Each element is `(image, {"boxes", "labels", "crowd", "ignore"})`:

    - `image`: `(height, width, 3)` float32 in `[0, 1]`: the file decoded
      (JPEG, PNG, GIF, BMP; grey images become RGB, alpha is dropped) and
      resized to `size` with `keras_resize.ops.resize(..., "area")`, aspect
      ratio not kept.
    - `"boxes"`: `(max_boxes, 4)` float32 `yxyx` in pixels of the resized
      image, padded with `-1`.
    - `"labels"`: `(max_boxes,)` int32, padded with `-1`.
    - `"crowd"`, `"ignore"`: `(max_boxes,)` bool, padded with `False`.

    Images with more than `max_boxes` boxes keep their first `max_boxes`
    (in annotation order); the number dropped is printed if `verbose`.

    Convention: boxes are in the continuous pixel coordinates of the
    records (see `DetectionRecord`), scaled by `size / (record.height,
    record.width)`: the annotated frame maps onto the resized image, even
    if the file's pixel size differs from the annotation's.

    Args:
        records: a `DetectionFiles` or a sequence of `DetectionRecord`.
        size: side of the square output images, or `(height, width)`.
        max_boxes: padded number of boxes per image.
        shuffle: shuffle the records (the file list, before decoding, so
            the buffer is small), reshuffled every iteration.
        seed: shuffle seed.
        ignore_errors: drop images that fail to read or decode (instead of
            raising at iteration). They are counted by `decode_counter`.
        decode_counter: a `DecodeCounter` to count the images attempted
            and decoded, or `None`.
        verbose: print a line if boxes are dropped by `max_boxes`.

    Returns:
        A `tf.data.Dataset`, in record order unless `shuffle`.

    Raises:
        ValueError: on a bad `size`, `max_boxes` or `records`.

    Example:

    >>> import tempfile
    >>> import tensorflow as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> tf.io.write_file(path, tf.io.encode_png(np.zeros((20, 30, 3), "uint8")))
    >>> record = DetectionRecord(path, 20, 30, np.array([[4, 2, 9, 12]], "float32"),
    ...                          np.array([1], "int32"), np.array([False]),
    ...                          np.array([False]))
    >>> image, targets = next(iter(detection_dataset([record], 10, max_boxes=2)))
    >>> tuple(image.shape), targets["boxes"].numpy().tolist()
    ((10, 10, 3), [[2.0, 0.6666666865348816, 4.5, 4.0], [-1.0, -1.0, -1.0, -1.0]])
    >>> targets["labels"].numpy().tolist()
    [1, -1]
    """
    from keras_resize.backend import tensorflow, tensorflow_scope
    from keras_resize.ops.resize import resize

    tf = tensorflow()

    out_height, out_width = _check_size(size)
    if (
        isinstance(max_boxes, bool)
        or not isinstance(max_boxes, int | np.integer)
        or max_boxes < 1
    ):
        raise ValueError(
            "Expected `max_boxes` to be a positive int. Received: "
            f"max_boxes={max_boxes!r}"
        )
    if decode_counter is not None and not isinstance(decode_counter, DecodeCounter):
        raise ValueError(
            "Expected `decode_counter` to be a `DecodeCounter` or None. "
            f"Received: decode_counter={decode_counter!r}"
        )
    max_boxes = int(max_boxes)
    records = _as_records(records)

    lengths = [min(len(r.labels), max_boxes) for r in records]
    dropped = [len(r.labels) - n for r, n in zip(records, lengths, strict=True)]
    if verbose and sum(dropped):
        print(
            f"detection_dataset: {sum(dropped)} boxes beyond max_boxes={max_boxes} "
            f"dropped in {sum(d > 0 for d in dropped)} images"
        )

    def flat(field, shape, dtype):
        parts = [
            np.asarray(getattr(r, field))[:n]
            for r, n in zip(records, lengths, strict=True)
        ]
        if not parts:
            return np.zeros((0, *shape), dtype)
        return np.concatenate(parts).astype(dtype).reshape(-1, *shape)

    def ragged(values):
        return tf.RaggedTensor.from_row_lengths(
            values, np.asarray(lengths, np.int64).reshape(-1)
        )

    paths = tf.constant([r.path for r in records], tf.string, shape=(len(records),))
    frames = np.asarray([[r.height, r.width] for r in records], np.float32).reshape(
        -1, 2
    )
    ds = tf.data.Dataset.from_tensor_slices(
        (
            paths,
            frames,
            ragged(flat("boxes", (4,), np.float32)),
            ragged(flat("labels", (), np.int32)),
            ragged(flat("crowd", (), bool)),
            ragged(flat("ignore", (), bool)),
        )
    )
    if shuffle:
        ds = ds.shuffle(max(1, len(records)), seed=seed, reshuffle_each_iteration=True)

    def dense(value):
        return value.to_tensor() if isinstance(value, tf.RaggedTensor) else value

    def pad(value, constant):
        value = dense(value)
        paddings = [[0, max_boxes - tf.shape(value)[0]]] + [[0, 0]] * (
            len(value.shape) - 1
        )
        return tf.pad(value, paddings, constant_values=constant)

    def load(path, frame, boxes, labels, crowd, ignore):
        image = tf.io.decode_image(
            tf.io.read_file(path), channels=3, expand_animations=False
        )
        image = tf.image.convert_image_dtype(image, tf.float32)
        # TensorFlow ops inside the tf.data graph whatever Keras' backend is.
        with tensorflow_scope():
            image = resize(image[None], (out_height, out_width), "area")[0]
        image = tf.clip_by_value(image, 0.0, 1.0)
        image = tf.ensure_shape(image, (out_height, out_width, 3))
        scale = tf.constant([out_height, out_width], tf.float32) / frame
        boxes = dense(boxes) * tf.concat([scale, scale], axis=0)
        targets = {
            "boxes": tf.ensure_shape(pad(boxes, -1.0), (max_boxes, 4)),
            "labels": tf.ensure_shape(pad(labels, -1), (max_boxes,)),
            "crowd": tf.ensure_shape(pad(crowd, False), (max_boxes,)),
            "ignore": tf.ensure_shape(pad(ignore, False), (max_boxes,)),
        }
        return image, targets

    if decode_counter is not None:
        attempted = decode_counter._attempted

        def count_attempt(*example):
            with tf.control_dependencies([attempted.assign_add(1)]):
                return tuple(tf.identity(v) for v in example[:2]) + example[2:]

        ds = ds.map(count_attempt)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if ignore_errors:
        ds = ds.ignore_errors(log_warning=decode_counter is None)
    if decode_counter is not None:
        decoded = decode_counter._decoded

        def count_decoded(image, targets):
            with tf.control_dependencies([decoded.assign_add(1)]):
                return tf.identity(image), targets

        ds = ds.map(count_decoded)
    return ds
