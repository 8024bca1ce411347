"""Real high-resolution photos shipped inside the scikit-image wheel.

Only images whose file is bundled with `scikit-image` are offered, so loading
never triggers a download (images such as `brain`, `cells3d`, `eagle` or
`lily` are fetched from the network by scikit-image and are not available).
"""

import functools
import importlib
import os

import numpy as np

DEFAULT_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "retina")

# skimage.data function name -> file bundled in `skimage/data/` (checked
# before loading, so scikit-image never falls back to a download).
_BUNDLED = {
    "astronaut": "astronaut.png",
    "brick": "brick.png",
    "camera": "camera.png",
    "cat": "chelsea.png",
    "chelsea": "chelsea.png",
    "clock": "clock_motion.png",
    "coffee": "coffee.png",
    "coins": "coins.png",
    "colorwheel": "color.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "horse": "horse.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
    "logo": "logo.png",
    "microaneurysms": "microaneurysms.png",
    "moon": "moon.png",
    "page": "page.png",
    "retina": "retina.jpg",
    "rocket": "rocket.jpg",
    "text": "text.png",
}
PHOTO_NAMES = tuple(sorted(_BUNDLED))

_SKIMAGE_HINT = (
    "Photos are read from the PyPI package `scikit-image`; install it with "
    "`pip install scikit-image` (or `pip install keras-resize[data]`)."
)


def _skimage_data():
    try:
        return importlib.import_module("skimage.data")
    except ImportError as e:
        raise ImportError(f"Cannot load photos: {e}. {_SKIMAGE_HINT}") from e


def _to_rgb_float(image):
    image = np.asarray(image)
    if image.dtype == np.bool_:
        image = image.astype(np.float32)
    elif np.issubdtype(image.dtype, np.integer):
        image = image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
    else:
        image = image.astype(np.float32)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    elif image.shape[-1] == 4:  # RGBA: composite onto white.
        alpha = image[..., 3:]
        image = image[..., :3] * alpha + (1.0 - alpha)
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)


@functools.lru_cache(maxsize=32)
def _load_cached(name):
    data = _skimage_data()
    path = os.path.join(os.path.dirname(data.__file__), _BUNDLED[name])
    if not os.path.isfile(path):
        raise RuntimeError(
            f"The photo {name!r} is not bundled with the installed scikit-image "
            f"(no file {path}); refusing to download it."
        )
    image = _to_rgb_float(getattr(data, name)())
    image.setflags(write=False)
    return image


def load_photo(name):
    """Loads one real photo bundled with scikit-image as RGB floats.

    Never downloads: only names in `PHOTO_NAMES` (images whose file ships in
    the scikit-image wheel) are accepted. Grey images are repeated to three
    channels, RGBA images composited onto white.

    Args:
        name: a `skimage.data` image name in `PHOTO_NAMES`, e.g.
            `"astronaut"` (512x512), `"coffee"` (400x600), `"chelsea"`
            (300x451), `"rocket"` (427x640), `"retina"` (1411x1411),
            `"hubble_deep_field"` (872x1000) or `"camera"` (512x512, grey).

    Returns:
        A new float32 array of shape `(H, W, 3)` with values in `[0, 1]`.

    Raises:
        ValueError: if `name` is not a bundled photo.
        ImportError: if scikit-image is not installed.

    Example:

    >>> image = load_photo("astronaut")
    >>> image.shape, image.dtype
    ((512, 512, 3), dtype('float32'))
    """
    if name not in _BUNDLED:
        raise ValueError(
            f"Unknown photo name={name!r}. Available (bundled with "
            f"scikit-image, no download): {PHOTO_NAMES}"
        )
    return _load_cached(name).copy()


def load_photos(names=DEFAULT_PHOTOS):
    """Loads several real photos bundled with scikit-image as RGB floats.

    Args:
        names: an iterable of names from `PHOTO_NAMES`. Defaults to
            `("astronaut", "coffee", "chelsea", "rocket", "retina")`.

    Returns:
        A list of float32 `(H, W, 3)` arrays with values in `[0, 1]`, in the
        order of `names` (sizes differ).

    Raises:
        ValueError: if a name is not a bundled photo.
        ImportError: if scikit-image is not installed.

    Example:

    >>> photos = load_photos(("coffee", "camera"))
    >>> [p.shape for p in photos]
    [(400, 600, 3), (512, 512, 3)]
    """
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    for name in names:  # Validate all before loading any.
        if name not in _BUNDLED:
            raise ValueError(
                f"Unknown photo name={name!r}. Available (bundled with "
                f"scikit-image, no download): {PHOTO_NAMES}"
            )
    return [load_photo(name) for name in names]
