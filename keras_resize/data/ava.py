"""Quality-assessment data in the AVA file format, and an offline fixture.

The AVA dataset (Murray et al., CVPR 2012) is not downloadable here; this
module reads its real file format for users who have it, and builds small
*fixtures* in exactly that format from real photos (`make_quality_fixture`)
so that the whole path (parsing, skipping bad files, `tf.data`, training with
the EMD loss) is tested offline. A fixture is not AVA.

`AVA.txt` holds one row per image, 15 whitespace-separated integers:

```
index image_id c1 c2 ... c10 tag1 tag2 challenge_id
```

where `c1..c10` are the vote counts for the scores 1..10, the two tags are
semantic tag ids (0 = none) and the last column is the photo challenge id.
Images live in `image_dir/<image_id>.jpg`.

TensorFlow is only imported by `ava_dataset` and by the decode check.
"""

import concurrent.futures
import os

import numpy as np

from keras_resize.data.photos import DEFAULT_PHOTOS, load_photo

NUM_BUCKETS = 10
AVA_NUM_COLUMNS = 3 + NUM_BUCKETS + 2  # index, id, 10 counts, 2 tags, challenge
SPLITS = ("train", "val", "test")
CHECK_MODES = ("header", "decode", "exists")

# Magic bytes of the formats `tf.io.decode_image` reads.
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_OTHER_MAGIC = (b"GIF87a", b"GIF89a", b"BM")


def parse_ava_txt(path, strict=True):
    """Parses an `AVA.txt` file (15 integers per row).

    Each non-blank row is `index image_id c1 ... c10 tag1 tag2
    challenge_id`: the vote counts `c1..c10` are for the scores 1..10.

    Args:
        path: path of the `AVA.txt` file.
        strict: if `True` (default), a malformed row (not 15 integers, or a
            negative vote count) raises a `ValueError` naming its line
            number and content. If `False`, malformed rows are skipped and
            listed in the result's `"malformed_lines"`.

    Returns:
        A dict of numpy arrays, one entry per valid row, in file order:
        `"indices"` `(N,)` int64, `"image_ids"` `(N,)` int64, `"votes"`
        `(N, 10)` int64, `"tags"` `(N, 2)` int64, `"challenge_ids"` `(N,)`
        int64, and `"malformed_lines"`: a list of `(line_number, line)` of
        the skipped rows (always empty when `strict=True`). Line numbers
        start at 1.

    Raises:
        ValueError: on a malformed row when `strict=True`.
        FileNotFoundError: if `path` does not exist.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "AVA.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("1 953619 0 1 5 17 38 36 15 6 5 1 1 22 1396\\n")
    >>> table = parse_ava_txt(path)
    >>> table["image_ids"], table["votes"].sum(), table["challenge_ids"]
    (array([953619]), np.int64(124), array([1396]))
    """
    rows = []
    malformed = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_number, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            fields = text.split()
            problem = None
            if len(fields) != AVA_NUM_COLUMNS:
                problem = f"expected {AVA_NUM_COLUMNS} columns, found {len(fields)}"
            else:
                try:
                    values = [int(v) for v in fields]
                except ValueError:
                    problem = "expected integers"
                else:
                    if min(values[2 : 2 + NUM_BUCKETS]) < 0:
                        problem = "negative vote count"
            if problem is not None:
                if strict:
                    raise ValueError(
                        f"Malformed row in {path} at line {line_number} "
                        f"({problem}; a row is `index image_id c1..c10 tag1 "
                        f"tag2 challenge_id`). Received: {text!r}"
                    )
                malformed.append((line_number, text))
                continue
            rows.append(values)
    table = np.asarray(rows, dtype=np.int64).reshape(-1, AVA_NUM_COLUMNS)
    return {
        "indices": table[:, 0].copy(),
        "image_ids": table[:, 1].copy(),
        "votes": table[:, 2 : 2 + NUM_BUCKETS].copy(),
        "tags": table[:, 2 + NUM_BUCKETS : 4 + NUM_BUCKETS].copy(),
        "challenge_ids": table[:, -1].copy(),
        "malformed_lines": malformed,
    }


def write_ava_txt(path, image_ids, votes, tags=None, challenge_ids=None):
    """Writes rows in the `AVA.txt` format (the inverse of `parse_ava_txt`).

    Args:
        path: the file to write.
        image_ids: `(N,)` integer image ids.
        votes: `(N, 10)` non-negative integer vote counts (scores 1..10).
        tags: `(N, 2)` integer tag ids; zeros by default.
        challenge_ids: `(N,)` integer challenge ids; zeros by default.

    Returns:
        `path`.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "AVA.txt")
    >>> _ = write_ava_txt(path, [7], [[0, 0, 1, 2, 3, 2, 1, 0, 0, 0]])
    >>> open(path).read()
    '1 7 0 0 1 2 3 2 1 0 0 0 0 0 0\\n'
    """
    image_ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
    votes = np.asarray(votes, dtype=np.int64)
    n = len(image_ids)
    if votes.shape != (n, NUM_BUCKETS):
        raise ValueError(
            f"Expected `votes` of shape ({n}, {NUM_BUCKETS}). "
            f"Received: votes.shape={votes.shape}"
        )
    if (votes < 0).any():
        raise ValueError("Expected non-negative vote counts in `votes`.")
    tags = np.zeros((n, 2), np.int64) if tags is None else np.asarray(tags, np.int64)
    if challenge_ids is None:
        challenge_ids = np.zeros((n,), np.int64)
    challenge_ids = np.asarray(challenge_ids, np.int64).reshape(-1)
    if tags.shape != (n, 2) or challenge_ids.shape != (n,):
        raise ValueError(
            f"Expected `tags` of shape ({n}, 2) and `challenge_ids` of shape "
            f"({n},). Received: tags.shape={tags.shape}, "
            f"challenge_ids.shape={challenge_ids.shape}"
        )
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            columns = [i + 1, image_ids[i], *votes[i], *tags[i], challenge_ids[i]]
            f.write(" ".join(str(int(v)) for v in columns) + "\n")
    return path


def mean_score(distribution):
    """Mean score `sum_i i * p_i` (i = 1..10) of rating distributions.

    The input is normalised over the last axis first, so raw vote counts
    work too.

    Args:
        distribution: `(..., 10)` probabilities or vote counts (array-like,
            numpy or eager tensor).

    Returns:
        A float64 numpy array of shape `(...)`. Rows that sum to zero give
        `nan`.

    Example:

    >>> mean_score([0, 0, 0, 0, 1, 1, 0, 0, 0, 0])  # scores 5 and 6
    np.float64(5.5)
    >>> mean_score(np.eye(10)[[0, 9]])
    array([ 1., 10.])
    """
    p = np.asarray(distribution, dtype=np.float64)
    if p.ndim == 0 or p.shape[-1] != NUM_BUCKETS:
        raise ValueError(
            f"Expected a distribution over {NUM_BUCKETS} buckets on the last "
            f"axis. Received: shape={p.shape}"
        )
    total = p.sum(axis=-1)
    scores = np.arange(1, NUM_BUCKETS + 1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (p @ scores) / total


def split_ids(image_ids, fractions=(0.8, 0.1, 0.1), seed=0):
    """Splits ids into train / val / test, deterministically by `seed`.

    Args:
        image_ids: `(N,)` ids (order does not matter: the split depends on
            the sorted set of ids and the seed only).
        fractions: `(train, val, test)` fractions, non-negative, summing to 1.
        seed: seed of the permutation.

    Returns:
        `{"train": ids, "val": ids, "test": ids}` (sorted arrays; every id is
        in exactly one of them).

    Example:

    >>> parts = split_ids(np.arange(10), fractions=(0.6, 0.2, 0.2))
    >>> [len(parts[k]) for k in ("train", "val", "test")]
    [6, 2, 2]
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if (
        fractions.shape != (3,)
        or (fractions < 0).any()
        or abs(fractions.sum() - 1.0) > 1e-6
    ):
        raise ValueError(
            "Expected `fractions` to be 3 non-negative numbers summing to 1. "
            f"Received: fractions={fractions.tolist()}"
        )
    ids = np.unique(np.asarray(image_ids).reshape(-1))
    order = np.random.default_rng(seed).permutation(len(ids))
    n_train = int(round(fractions[0] * len(ids)))
    n_val = int(round(fractions[1] * len(ids)))
    n_val = min(n_val, len(ids) - n_train)
    parts = np.split(ids[order], [n_train, n_train + n_val])
    return {name: np.sort(part) for name, part in zip(SPLITS, parts, strict=True)}


def _read_id_list(path):
    """Reads an id list file (one integer id per line, e.g. AVA's `.jpgl`)."""
    with open(path, encoding="utf-8") as f:
        return np.asarray([int(t) for t in f.read().split()], dtype=np.int64)


def _decodes(path):
    from keras_resize.backend import tensorflow

    tf = tensorflow()

    try:
        tf.io.decode_image(
            tf.io.read_file(path), channels=3, expand_animations=False
        ).numpy()
    except (tf.errors.OpError, ValueError):
        return False
    return True


def check_image(path, mode="header"):
    """Checks that an image file can be used: `"ok"`, `"missing"` or `"unreadable"`.

    Args:
        path: the image file.
        mode: `"exists"`: only that it is a non-empty file. `"header"`
            (default, cheap): also that it starts with the magic bytes of
            JPEG, PNG, GIF or BMP, and that a JPEG ends with its end-of-image
            marker (a PNG with its `IEND` chunk), which catches truncated
            downloads. Files that fail the end check, and GIF / BMP files,
            are fully decoded with TensorFlow to decide. `"decode"`: always
            decode fully with TensorFlow (slow, thorough).

    Returns:
        `"ok"`, `"missing"` (no such file) or `"unreadable"`.

    Example:

    >>> check_image("/nonexistent/1.jpg")
    'missing'
    """
    if mode not in CHECK_MODES:
        raise ValueError(f"Expected `mode` in {CHECK_MODES}. Received: mode={mode!r}")
    if not os.path.isfile(path):
        return "missing"
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "unreadable"
        if mode == "exists":
            return "ok"
        with open(path, "rb") as f:
            head = f.read(16)
            f.seek(max(0, size - 64))
            tail = f.read().rstrip(b"\x00\r\n\t ")
    except OSError:
        return "unreadable"
    if mode == "header":
        if head.startswith(_JPEG_MAGIC):
            if tail.endswith(b"\xff\xd9"):
                return "ok"
        elif head.startswith(_PNG_MAGIC):
            if tail.endswith(_PNG_END):
                return "ok"
        elif not head.startswith(_OTHER_MAGIC):
            return "unreadable"
    return "ok" if _decodes(path) else "unreadable"


def load_ava(
    ava_txt,
    image_dir,
    split=None,
    fractions=(0.8, 0.1, 0.1),
    seed=0,
    check="header",
    strict=True,
    limit=None,
    num_workers=8,
):
    """Reads `AVA.txt`, selects a split and checks its image files.

    Rows whose image is missing or unreadable (see `check_image`), and rows
    without any vote, are skipped and counted, never fatal; malformed rows
    raise (`strict=True`) or are skipped and counted (`strict=False`).

    Args:
        ava_txt: path of an `AVA.txt` file (real AVA or a fixture).
        image_dir: directory with the images `<image_id>.jpg`.
        split: `None` (all rows), `"train"`, `"val"` or `"test"` (a split of
            the ids by `fractions` and `seed`, see `split_ids`), a path to
            an id list (one id per line, e.g. AVA's
            `aesthetics_image_lists/*.jpgl`), or a sequence of ids.
        fractions: `(train, val, test)` fractions for the named splits.
        seed: seed of the named splits.
        check: how image files are checked, `"header"` (default),
            `"decode"` or `"exists"`; see `check_image`.
        strict: passed to `parse_ava_txt`.
        limit: keep at most this many rows of the split (the first in file
            order), before checking files.
        num_workers: threads checking files (I/O bound).

    Returns:
        A dict: `"image_ids"` `(M,)` int64, `"paths"` `(M,)` str,
        `"votes"` `(M, 10)` int64, `"distributions"` `(M, 10)` float32
        (normalised votes), `"mean_scores"` `(M,)` float64, `"counts"` (a
        dict of ints: `rows` in the file, `malformed` rows, `selected` by
        the split, `no_votes`, `missing`, `unreadable`, `used` = M) and
        `"skipped"` (a dict `reason -> list of image ids`).

    Example:

    >>> import tempfile
    >>> info = make_quality_fixture(tempfile.mkdtemp(), 8, num_missing=1)
    >>> data = load_ava(info["ava_txt"], info["image_dir"])
    >>> data["counts"]["used"], data["counts"]["missing"]
    (8, 1)
    """
    if check not in CHECK_MODES:
        raise ValueError(
            f"Expected `check` in {CHECK_MODES}. Received: check={check!r}"
        )
    table = parse_ava_txt(ava_txt, strict=strict)
    ids = table["image_ids"]
    counts = {"rows": len(ids) + len(table["malformed_lines"])}
    counts["malformed"] = len(table["malformed_lines"])

    if split is None:
        keep = np.ones(len(ids), dtype=bool)
    elif isinstance(split, str) and split in SPLITS:
        keep = np.isin(ids, split_ids(ids, fractions, seed)[split])
    elif isinstance(split, str | os.PathLike):
        if not os.path.isfile(split):
            raise ValueError(
                f"Expected `split` to be None, one of {SPLITS}, an id list file "
                f"or a sequence of ids. Received: split={split!r}"
            )
        keep = np.isin(ids, _read_id_list(split))
    else:
        keep = np.isin(ids, np.asarray(list(split), dtype=np.int64))
    index = np.flatnonzero(keep)
    if limit is not None:
        index = index[: int(limit)]
    counts["selected"] = len(index)

    skipped = {"no_votes": [], "missing": [], "unreadable": []}
    totals = table["votes"][index].sum(axis=1)
    skipped["no_votes"] = ids[index[totals == 0]].tolist()
    index = index[totals > 0]
    paths = [os.path.join(image_dir, f"{int(i)}.jpg") for i in ids[index]]
    with concurrent.futures.ThreadPoolExecutor(max(1, num_workers)) as pool:
        states = list(pool.map(lambda p: check_image(p, check), paths))
    good = np.asarray([s == "ok" for s in states], dtype=bool)
    for image_id, state in zip(ids[index], states, strict=True):
        if state != "ok":
            skipped[state].append(int(image_id))
    for reason, skipped_ids in skipped.items():
        counts[reason] = len(skipped_ids)
    index = index[good]
    counts["used"] = len(index)

    votes = table["votes"][index]
    distributions = (votes / votes.sum(axis=1, keepdims=True)).astype(np.float32)
    return {
        "image_ids": ids[index],
        "paths": np.asarray(paths, dtype=str)[good],
        "votes": votes,
        "distributions": distributions,
        "mean_scores": mean_score(votes),
        "counts": counts,
        "skipped": skipped,
    }


def ava_dataset(
    data,
    image_size,
    batch_size=32,
    shuffle=False,
    seed=0,
    augment=False,
    ignore_errors=True,
    drop_remainder=False,
):
    """A `tf.data.Dataset` of `(image, distribution)` from `load_ava`'s output.

    Images are decoded (JPEG, PNG, GIF, BMP; grey images become RGB),
    scaled to `[0, 1]` float32 and resized to `image_size` with antialiased
    bilinear interpolation (`keras_resize.ops.resize`), ignoring the aspect
    ratio (as NIMA does before its crop). The resizer under study comes
    after this, in the model.

    Args:
        data: the dict returned by `load_ava`.
        image_size: `(height, width)` of the decoded images.
        batch_size: batch size, or `None` for unbatched examples.
        shuffle: shuffle the file list (reshuffled every epoch).
        seed: shuffle / augmentation seed.
        augment: random horizontal flips (for training).
        ignore_errors: drop examples that still fail to decode (files that
            changed after `load_ava` checked them) instead of stopping; such
            drops are logged by TensorFlow. Compare the number of examples
            seen with `len(data["paths"])` to count them.
        drop_remainder: drop the last batch if it is smaller (static batch
            shapes, e.g. for training under XLA).

    Returns:
        A dataset of `(images (B, H, W, 3) float32, distributions (B, 10)
        float32)`.

    Example:

    >>> import tempfile
    >>> info = make_quality_fixture(tempfile.mkdtemp(), 4)
    >>> data = load_ava(info["ava_txt"], info["image_dir"])
    >>> images, dists = next(iter(ava_dataset(data, (32, 32), batch_size=4)))
    >>> tuple(images.shape), tuple(dists.shape)
    ((4, 32, 32, 3), (4, 10))
    """
    from keras_resize.backend import tensorflow, tensorflow_scope
    from keras_resize.ops.resize import resize

    tf = tensorflow()

    height, width = (int(v) for v in image_size)
    if height <= 0 or width <= 0:
        raise ValueError(
            f"Expected a positive `image_size`. Received: image_size={image_size}"
        )
    if batch_size is not None and int(batch_size) <= 0:
        raise ValueError(
            f"Expected a positive `batch_size`. Received: batch_size={batch_size}"
        )
    paths = np.asarray(data["paths"], dtype=str)
    dists = np.asarray(data["distributions"], dtype=np.float32)
    ds = tf.data.Dataset.from_tensor_slices((paths, dists))
    if shuffle:
        ds = ds.shuffle(max(1, len(paths)), seed=seed, reshuffle_each_iteration=True)
    # A pair of random ints per example (new each epoch) for stateless ops.
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, randoms.batch(2))

    def load(example, random_seed):
        path, dist = example
        image = tf.io.decode_image(
            tf.io.read_file(path), channels=3, expand_animations=False
        )
        image = tf.image.convert_image_dtype(image, tf.float32)
        # TensorFlow ops inside the tf.data graph whatever Keras' backend is.
        with tensorflow_scope():
            image = resize(image, (height, width), method="bilinear", antialias=True)
        image = tf.clip_by_value(image, 0.0, 1.0)
        if augment:
            image = tf.image.stateless_random_flip_left_right(image, random_seed)
        image.set_shape((height, width, 3))
        return image, dist

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if ignore_errors:
        ds = ds.ignore_errors(log_warning=True)
    if batch_size is not None:
        ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def _distort(image, kind, strength, rng):
    """Applies one distortion of `strength` in [0, 1] to a PIL image."""
    from PIL import Image, ImageFilter

    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur(radius=0.2 + 3.0 * strength)), 95
    if kind == "noise":
        array = np.asarray(image, dtype=np.float32) / 255.0
        array = array + rng.normal(0.0, 0.01 + 0.2 * strength, array.shape)
        array = np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array), 95
    # JPEG: quality 90 (weak) down to 5 (strong).
    return image, int(round(90 - 85 * strength))


def make_quality_fixture(
    directory,
    num_images=24,
    seed=0,
    image_size=(96, 160),
    photos=DEFAULT_PHOTOS,
    votes_per_image=(50, 200),
    num_missing=0,
    num_corrupt=0,
):
    """Writes a small image-quality fixture in the AVA file format.

    A fixture, not AVA: random crops of real photos (bundled with
    scikit-image) get one distortion of random strength `s` in `[0, 1]`
    (Gaussian blur, additive Gaussian noise or JPEG compression), and their
    rating histograms are drawn from a discretised normal distribution over
    the scores 1..10 whose mean falls with the strength (`7.5 - 5 s` plus a
    little noise), with 50-200 votes each. The files are exactly what a
    real AVA download looks like: `directory/AVA.txt` (15 integers per row)
    and `directory/images/<image_id>.jpg`, so `load_ava` reads both.

    Args:
        directory: where to write (created if needed).
        num_images: number of good images, > 0.
        seed: everything is deterministic given the seed.
        image_size: `(min, max)` side lengths in pixels; each image gets a
            random height and width in this range.
        photos: names of the source photos (see `PHOTO_NAMES`).
        votes_per_image: `(min, max)` number of votes per image.
        num_missing: extra rows whose image file is not written.
        num_corrupt: extra rows whose JPEG file is truncated to half.

    Returns:
        A dict: `"ava_txt"`, `"image_dir"` (paths), `"image_ids"` `(N,)`
        int64 of the good images, `"strengths"` `(N,)`, `"distortions"`
        (list of `"blur"`, `"noise"`, `"jpeg"`), `"votes"` `(N, 10)`,
        `"mean_scores"` `(N,)`, `"missing_ids"` and `"corrupt_ids"` (lists;
        their rows come after the good ones in `AVA.txt`).

    Example:

    >>> import tempfile
    >>> info = make_quality_fixture(tempfile.mkdtemp(), num_images=4, seed=1)
    >>> sorted(os.listdir(info["image_dir"])) == sorted(
    ...     f"{i}.jpg" for i in info["image_ids"])
    True
    """
    from PIL import Image

    if int(num_images) <= 0:
        raise ValueError(
            f"Expected `num_images` to be a positive int. Received: "
            f"num_images={num_images}"
        )
    lo, hi = (int(v) for v in image_size)
    if not 8 <= lo <= hi:
        raise ValueError(
            "Expected `image_size` = (min, max) with 8 <= min <= max. "
            f"Received: image_size={image_size}"
        )
    vlo, vhi = (int(v) for v in votes_per_image)
    if not 1 <= vlo <= vhi:
        raise ValueError(
            "Expected `votes_per_image` = (min, max) with 1 <= min <= max. "
            f"Received: votes_per_image={votes_per_image}"
        )
    num_images, num_missing, num_corrupt = (
        int(num_images),
        int(num_missing),
        int(num_corrupt),
    )
    rng = np.random.default_rng(seed)
    image_dir = os.path.join(directory, "images")
    os.makedirs(image_dir, exist_ok=True)
    total = num_images + num_missing + num_corrupt
    image_ids = rng.choice(np.arange(100000, 1000000), size=total, replace=False)
    sources = [load_photo(name) for name in photos]
    strengths = rng.uniform(0.0, 1.0, size=total)
    kinds = [("blur", "noise", "jpeg")[k] for k in rng.integers(0, 3, size=total)]
    scores = np.arange(1, NUM_BUCKETS + 1)
    votes = np.zeros((total, NUM_BUCKETS), np.int64)
    for i in range(total):
        source = sources[rng.integers(len(sources))]
        h, w = source.shape[:2]
        side = int(rng.uniform(0.35, 1.0) * min(h, w))
        crop_h = min(h, int(side * rng.uniform(0.8, 1.25)))
        crop_w = min(w, int(side * rng.uniform(0.8, 1.25)))
        top = rng.integers(0, h - crop_h + 1)
        left = rng.integers(0, w - crop_w + 1)
        crop = source[top : top + crop_h, left : left + crop_w]
        out_h, out_w = (int(v) for v in rng.integers(lo, hi + 1, size=2))
        image = Image.fromarray((crop * 255.0 + 0.5).astype(np.uint8)).resize(
            (out_w, out_h), Image.Resampling.BICUBIC
        )
        image, quality = _distort(image, kinds[i], float(strengths[i]), rng)
        mean = np.clip(7.5 - 5.0 * strengths[i] + rng.normal(0.0, 0.25), 1.5, 9.5)
        spread = rng.uniform(1.0, 1.6)
        p = np.exp(-0.5 * ((scores - mean) / spread) ** 2)
        votes[i] = rng.multinomial(rng.integers(vlo, vhi + 1), p / p.sum())
        if i < num_images + num_missing and i >= num_images:
            continue  # missing: no file
        path = os.path.join(image_dir, f"{int(image_ids[i])}.jpg")
        image.save(path, format="JPEG", quality=quality)
        if i >= num_images + num_missing:  # corrupt: truncate to half
            with open(path, "rb") as f:
                content = f.read()
            with open(path, "wb") as f:
                f.write(content[: len(content) // 2])
    tags = rng.integers(0, 67, size=(total, 2))
    challenge_ids = rng.integers(1, 1400, size=total)
    ava_txt = write_ava_txt(
        os.path.join(directory, "AVA.txt"), image_ids, votes, tags, challenge_ids
    )
    good = slice(0, num_images)
    return {
        "ava_txt": ava_txt,
        "image_dir": image_dir,
        "image_ids": image_ids[good].astype(np.int64),
        "strengths": strengths[good],
        "distortions": kinds[:num_images],
        "votes": votes[good],
        "mean_scores": mean_score(votes[good]),
        "missing_ids": image_ids[num_images : num_images + num_missing].tolist(),
        "corrupt_ids": image_ids[num_images + num_missing :].tolist(),
    }
