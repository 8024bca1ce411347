"""Detection data: full-resolution images in [0, 1] and padded yxyx pixel
boxes (digit canvases, TFDS COCO / VOC, the user's COCO JSON or VOC files),
and the batches a front end makes of them for training."""

import numpy as np
import tensorflow as tf

from keras_resize.ops import resize

TFDS_NAMES = {"coco": "coco/2017", "voc": "voc/2007"}
TFDS_SPLITS = {
    "coco": {"train": "train", "val": "validation", "test": "validation"},
    "voc": {"train": "train", "val": "validation", "test": "test"},
}
TFDS_CLASSES = {"coco": 80, "voc": 20}
TFDS_SHUFFLE_BUFFER = 256


def _targets(boxes, labels, crowd=None, ignore=None):
    crowd = np.zeros(labels.shape, bool) if crowd is None else crowd
    ignore = np.zeros(labels.shape, bool) if ignore is None else ignore
    return {"boxes": boxes, "labels": labels, "crowd": crowd, "ignore": ignore}


def _band_layout(images, boxes, labels, side):
    """Pairs of half-side canvases side by side in the middle rows."""
    half, top = side // 2, side // 4
    count = len(images) // 2
    pairs = images.reshape(count, 2, half, half, images.shape[-1])
    band = np.concatenate([pairs[:, 0], pairs[:, 1]], axis=2)  # (n, half, side, c)
    out = np.zeros((count, side, side, images.shape[-1]), images.dtype)
    out[:, top : top + half] = band
    offsets = (
        np.array([top, 0, top, 0], np.float32),
        np.array([top, half, top, half], np.float32),
    )
    out_boxes = [
        np.concatenate([boxes[2 * i] + offsets[0], boxes[2 * i + 1] + offsets[1]])
        for i in range(count)
    ]
    out_labels = [
        np.concatenate([labels[2 * i], labels[2 * i + 1]]) for i in range(count)
    ]
    return out, out_boxes, out_labels


def digit_arrays(args, count, seed, split):
    """Digit detection canvases as `(uint8 images, padded targets)`."""
    from keras_resize.data import make_detection_canvases, pad_boxes

    side = args.input_size
    band = args.layout == "band"
    data = make_detection_canvases(
        2 * count if band else count,
        canvas_size=side // 2 if band else side,
        num_digits=tuple(args.num_digits),
        digit_size=tuple(args.digit_size),
        seed=seed,
        split=split,
        channels=1,
    )
    images = np.round(data.pop("images") * 255.0).astype(np.uint8)
    boxes, labels = data["boxes"], data["labels"]
    if band:
        images, boxes, labels = _band_layout(images, boxes, labels, side)
    boxes, labels = pad_boxes(boxes, labels, args.max_boxes)
    return images, _targets(boxes, labels)


def _digits(args):
    val_size = args.val_size or 250
    test_size = args.test_size or 1000
    out = {}
    for offset, (name, count, split) in enumerate(
        (
            ("train", args.train_size, "train"),
            ("val", val_size, "test"),
            ("test", test_size, "test"),
        )
    ):
        images, targets = digit_arrays(args, count, args.data_seed + offset, split)
        dataset = tf.data.Dataset.from_tensor_slices((images, targets))
        if name == "train":
            train_boxes = targets["boxes"][targets["labels"] >= 0]
            # uint8 in the buffer: a quarter of the float32 memory
            dataset = dataset.shuffle(
                count, seed=args.seed, reshuffle_each_iteration=True
            )
        out[name] = dataset
    info = {
        "num_classes": 10,
        "channels": 1,
        "train_examples": args.train_size,
        "train_boxes": train_boxes,
    }
    return out, info


def _tfds_targets(objects, dataset, size, max_boxes):
    """TFDS objects -> padded `{"boxes" (pixels, yxyx), "labels", "crowd",
    "ignore"}` for an image resized to `size` squares."""
    flag = objects["is_crowd"] if dataset == "coco" else objects["is_difficult"]
    # real data has one entry per object in every field; mock data draws
    # each field's length independently: use the common length
    count = tf.reduce_min(
        tf.stack(
            [tf.shape(objects["bbox"])[0], tf.shape(objects["label"])[0],
             tf.shape(flag)[0]]
        )
    )  # fmt: skip
    count = tf.minimum(count, max_boxes)
    bbox = objects["bbox"][:count] * float(size)  # normalised yxyx -> pixels
    y1 = tf.minimum(bbox[:, 0], bbox[:, 2])
    y2 = tf.maximum(bbox[:, 0], bbox[:, 2])
    x1 = tf.minimum(bbox[:, 1], bbox[:, 3])
    x2 = tf.maximum(bbox[:, 1], bbox[:, 3])
    boxes = tf.stack([y1, x1, y2, x2], axis=-1)
    labels = tf.cast(objects["label"][:count], tf.int32)
    flag = tf.cast(flag[:count], tf.bool)
    pad = max_boxes - count
    boxes = tf.ensure_shape(
        tf.pad(boxes, [[0, pad], [0, 0]], constant_values=-1.0), (max_boxes, 4)
    )
    labels = tf.ensure_shape(
        tf.pad(labels, [[0, pad]], constant_values=-1), (max_boxes,)
    )
    flag = tf.ensure_shape(tf.pad(flag, [[0, pad]]), (max_boxes,))
    no = tf.zeros_like(flag)
    crowd, ignore = (flag, no) if dataset == "coco" else (no, flag)
    return {"boxes": boxes, "labels": labels, "crowd": crowd, "ignore": ignore}


def _tfds_example(example, dataset, size, max_boxes):
    """One TFDS example -> (image (size, size, 3) in [0, 1], padded targets)."""
    image = tf.image.convert_image_dtype(example["image"], tf.float32)
    image = resize(tf.expand_dims(image, 0), (size, size), "area")[0]
    return image, _tfds_targets(example["objects"], dataset, size, max_boxes)


def _tfds_prior_boxes(builder, split, args):
    """Boxes (input pixels) of the first `--saliency-images` training images.

    Read without decoding the images (the boxes are normalised). Under
    `tfds.testing.mock_data` that path fails (the mock re-encodes random
    examples whose fields have unequal lengths); it then reads decoded ones.
    """
    import tensorflow_datasets as tfds

    def read(decoders):
        source = builder.as_dataset(split=split, decoders=decoders)
        targets = source.take(args.saliency_images).map(
            lambda e: _tfds_targets(
                e["objects"], args.dataset, args.input_size, args.max_boxes
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        boxes = []
        for example in targets.as_numpy_iterator():
            keep = (example["labels"] >= 0) & ~example["crowd"] & ~example["ignore"]
            boxes.append(example["boxes"][keep])
        return np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)

    try:
        return read({"image": tfds.decode.SkipDecoding()})
    except tf.errors.InvalidArgumentError:
        return read(None)


def _tfds(args):
    import tensorflow_datasets as tfds

    name = TFDS_NAMES[args.dataset]
    builder = tfds.builder(name, data_dir=args.data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir)
    )
    splits = TFDS_SPLITS[args.dataset]
    caps = {"train": None, "val": args.val_size, "test": args.test_size}
    out = {}
    for key, split in splits.items():
        dataset = builder.as_dataset(split=split, shuffle_files=key == "train")
        if caps[key]:
            dataset = dataset.take(caps[key])
        if key == "train":  # decoded uint8 images of any size: a small buffer
            dataset = dataset.shuffle(
                TFDS_SHUFFLE_BUFFER, seed=args.seed, reshuffle_each_iteration=True
            )
        out[key] = dataset.map(
            lambda example: _tfds_example(
                example, args.dataset, args.input_size, args.max_boxes
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    try:
        examples = builder.info.splits[splits["train"]].num_examples
    except KeyError:  # split sizes unknown (e.g. tfds.testing.mock_data)
        examples = None
    info = {
        "num_classes": TFDS_CLASSES[args.dataset],
        "channels": 3,
        "train_examples": examples,
        "train_boxes": _tfds_prior_boxes(builder, splits["train"], args),
    }
    return out, info


def _record_boxes(records, size):
    """The boxes of `records` in pixels of `size` squares (crowd and ignored
    boxes left out): the dataset prior's input."""
    boxes = [
        record.boxes[~(record.crowd | record.ignore)]
        * np.array([size / record.height, size / record.width] * 2, np.float32)
        for record in records
    ]
    return np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)


def _read_files(args):
    """`(class_names, training records, validation records)` of the user's
    COCO JSON or VOC files; without validation annotations, `--held-out` of
    the training images (by image, seed `--data-seed`)."""
    from keras_resize.data import read_coco_json, read_voc, split_held_out

    verbose = bool(args.verbose)
    validation = None
    if args.dataset == "coco_json":
        train = read_coco_json(args.annotations, args.images, verbose=verbose)
        if args.val_annotations:
            validation = read_coco_json(
                args.val_annotations, args.val_images or args.images, verbose=verbose
            )
            if tuple(validation.category_ids) != tuple(train.category_ids):
                raise ValueError(
                    "Expected the validation annotations to have the training "
                    f"categories {list(train.category_ids)}. Received: "
                    f"{list(validation.category_ids)} in {args.val_annotations}"
                )
    else:
        train = read_voc(args.data_dir, split=args.train_split, verbose=verbose)
        if args.val_split:
            validation = read_voc(
                args.data_dir,
                class_names=train.class_names,
                split=args.val_split,
                verbose=verbose,
            )
    if validation is None:
        records, held = split_held_out(train, args.held_out, seed=args.data_seed)
    else:
        records, held = list(train.records), list(validation.records)
    for name, split in (("training", records), ("validation", held)):
        if not split:
            raise ValueError(f"No usable {name} images in the {args.dataset} data.")
    return train.class_names, records, held


def _files(args):
    from keras_resize.data import detection_dataset

    class_names, records, held = _read_files(args)
    verbose = bool(args.verbose)
    out = {
        "train": detection_dataset(
            records, args.input_size, args.max_boxes, shuffle=True, seed=args.seed,
            verbose=verbose,
        )
    }  # fmt: skip
    for name, cap in (("val", args.val_size), ("test", args.test_size)):
        out[name] = detection_dataset(
            held[:cap] if cap else held, args.input_size, args.max_boxes,
            verbose=verbose,
        )  # fmt: skip
    info = {
        "num_classes": len(class_names),
        "class_names": list(class_names),
        "channels": 3,
        "train_examples": len(records),
        "train_boxes": _record_boxes(records, args.input_size),
    }
    return out, info


def _one_class(image, targets):
    """Every object's label becomes 0 (padding stays -1)."""
    labels = targets["labels"]
    labels = tf.where(labels >= 0, tf.zeros_like(labels), labels)
    return image, {**targets, "labels": labels}


def make_datasets(args):
    """`(splits, info)`: unbatched `{"train", "val", "test"}` datasets of
    `(image, {"boxes", "labels", "crowd", "ignore"})` at full resolution
    (images uint8 for the digits, float32 in [0, 1] for TFDS and the user's
    files; `as_float` makes both float), the training split shuffled, and
    `{"num_classes", "channels", "train_examples", "train_boxes",
    "steps_per_epoch"}` (and `"class_names"` for the user's files).

    `coco_json` / `voc_folder` read the user's files
    (`keras_resize.data.read_coco_json` / `read_voc`, decoded by
    `detection_dataset`); their validation and test splits are the same
    images: the validation annotations, or `--held-out` of the training
    images (`split_held_out`), capped by `--val-size` / `--test-size`."""
    if args.max_boxes is None:
        if args.dataset == "digits":
            per_canvas = args.num_digits[1]
            args.max_boxes = 2 * per_canvas if args.layout == "band" else per_canvas
        else:
            args.max_boxes = 100
    if args.dataset == "digits":
        splits, info = _digits(args)
    elif args.dataset in TFDS_NAMES:
        splits, info = _tfds(args)
    else:
        splits, info = _files(args)
    if args.class_agnostic:
        splits = {name: split.map(_one_class) for name, split in splits.items()}
        info["num_classes"] = 1
        info.pop("class_names", None)
    steps = args.steps_per_epoch
    if steps is None:
        if not info["train_examples"]:
            raise ValueError(
                "The training split has an unknown size: pass --steps-per-epoch."
            )
        steps = -(-info["train_examples"] // args.batch_size)
    info["steps_per_epoch"] = steps
    return splits, info


def _training_only(targets):
    """Crowd and ignored boxes are not training targets: make them padding."""
    drop = targets["crowd"] | targets["ignore"]
    labels = tf.where(drop, -1, targets["labels"])
    boxes = tf.where(tf.expand_dims(drop, -1), -1.0, targets["boxes"])
    return {"boxes": boxes, "labels": labels}


def as_float(images):
    """uint8 images -> float32 in [0, 1]; float images pass through."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def training_dataset(dataset, front_end, args, repeat, jitter=None):
    """Unbatched full-resolution data -> batched detector training data.

    With `repeat` the data repeats and partial batches are dropped (the
    training split); `jitter` overrides the front end's (e.g. 0 for
    validation).
    """
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(args.batch_size, drop_remainder=repeat).enumerate()

    def prepare(index, batch):
        images, targets = batch
        seed = tf.stack([tf.cast(args.seed, tf.int64), index])
        return front_end.training_batch(
            as_float(images), _training_only(targets), seed, jitter
        )

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
