"""A registry of resizers: name -> factory of a Keras layer.

Training scripts, the demo and the CLI pick the resizer in front of a model
by name (`--resizer bilinear|area|antialias|learned|...`). Each layer module
registers its own factory, so adding a resizer never touches an if-chain.
"""

from keras_resize.layers.resize import Resize

_RESIZERS = {}


def register_resizer(name, description=""):
    """Decorator: register `factory(height, width, **kwargs) -> keras Layer`."""

    def decorate(factory):
        if name in _RESIZERS:
            raise ValueError(f"A resizer named {name!r} is already registered.")
        _RESIZERS[name] = (factory, description or (factory.__doc__ or "").strip())
        return factory

    return decorate


def available_resizers():
    """Sorted names of the registered resizers."""
    return sorted(_RESIZERS)


def describe_resizers():
    """`{name: one-line description}` of the registered resizers."""
    return {
        name: desc.splitlines()[0] if desc else ""
        for name, (_, desc) in sorted(_RESIZERS.items())
    }


def get_resizer(name, height, width, /, **kwargs):
    """Build the resizer layer registered as `name` for a `height x width` output.

    Example:

    >>> layer = get_resizer("area", 64, 64)
    >>> tuple(layer(np.zeros((1, 256, 256, 3), "float32")).shape)
    (1, 64, 64, 3)
    """
    if name not in _RESIZERS:
        raise ValueError(
            f"Unknown resizer. Expected one of {available_resizers()}. "
            f"Received: resizer={name!r}"
        )
    factory, _ = _RESIZERS[name]
    return factory(height, width, **kwargs)


def _fixed(interpolation, antialias=False, description=""):
    def factory(height, width, **kwargs):
        kwargs.setdefault("name", "resizer")
        return Resize(
            height, width, interpolation=interpolation, antialias=antialias, **kwargs
        )

    factory.__doc__ = description
    return factory


for _name, _interp, _aa, _desc in [
    ("nearest", "nearest", False, "Nearest neighbour (fixed)."),
    (
        "bilinear",
        "bilinear",
        False,
        "Bilinear, half-pixel centres (fixed; the usual default).",
    ),
    ("bicubic", "bicubic", False, "Keys bicubic, a=-0.5 (fixed)."),
    ("area", "area", False, "Area / box average (fixed)."),
    (
        "antialias",
        "bilinear",
        True,
        "Antialiased bilinear: tent widened by the scale (fixed).",
    ),
    ("antialias_bicubic", "bicubic", True, "Antialiased bicubic (fixed)."),
    ("lanczos3", "lanczos3", True, "Antialiased Lanczos-3 (fixed)."),
]:
    register_resizer(_name)(_fixed(_interp, _aa, _desc))
