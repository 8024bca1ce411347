"""Argument checks shared by every op and layer.

Every check raises a `ValueError` that names the argument and the received
value, in the Keras style: "Expected `height` to be a positive int. Received:
height=-3".
"""

import numbers

import keras

from keras_resize.backend import ops


def check_choice(name, value, choices):
    """Return `value` if it is one of `choices`, else raise a `ValueError`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {sorted(choices)}. "
            f"Received: {name}={value!r}"
        )
    return value


def check_positive_int(name, value):
    """Return `value` as an int if it is a positive integer, else raise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or int(value) <= 0
    ):
        raise ValueError(
            f"Expected `{name}` to be a positive int. Received: {name}={value!r}"
        )
    return int(value)


def check_non_negative_int(name, value):
    """Return `value` as an int if it is an integer >= 0, else raise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or int(value) < 0
    ):
        raise ValueError(
            f"Expected `{name}` to be a non-negative int. Received: {name}={value!r}"
        )
    return int(value)


def check_bool(name, value):
    """Return `value` if it is a bool, else raise a `ValueError`."""
    if not isinstance(value, bool):
        raise ValueError(f"Expected `{name}` to be a bool. Received: {name}={value!r}")
    return value


def check_image_shape(input_shape, require_channels=False):
    """Return `input_shape` as a tuple of rank 3 (HWC) or 4 (NHWC), else raise.

    With `require_channels`, the channel dimension must be known (layers
    that create weights per input channel).
    """
    input_shape = tuple(input_shape)
    if len(input_shape) not in (3, 4):
        raise ValueError(
            "Expected an input of rank 3 (height, width, channels) or 4 "
            f"(batch, height, width, channels). Received: input_shape={input_shape}"
        )
    if require_channels and input_shape[-1] is None:
        raise ValueError(
            "Expected the channel dimension of the input to be known. "
            f"Received: input_shape={input_shape}"
        )
    return input_shape


def resized_shape(input_shape, height, width):
    """Output shape of a resizing layer: the spatial dims become `(height, width)`."""
    input_shape = check_image_shape(input_shape)
    return input_shape[:-3] + (height, width, input_shape[-1])


def check_size(size, name="size"):
    """Return `size` as a tuple `(height, width)` of positive ints."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        raise ValueError(
            f"Expected `{name}` to be a pair (height, width) of positive ints. "
            f"Received: {name}={size!r}"
        )
    try:
        values = tuple(size)
    except TypeError:
        raise ValueError(
            f"Expected `{name}` to be a pair (height, width) of positive ints. "
            f"Received: {name}={size!r}"
        ) from None
    if len(values) != 2 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) > 0
        for v in values
    ):
        raise ValueError(
            f"Expected `{name}` to be a pair (height, width) of positive ints. "
            f"Received: {name}={size!r}"
        )
    return int(values[0]), int(values[1])


def as_image_batch(images, name="images"):
    """Convert to a float tensor of rank 4 (NHWC) of the active backend.

    Rank-3 input (HWC) gets a batch axis; the second return value says so,
    so that callers can remove it again. Integer (and bool) images are cast
    to float32 (as `tf.image.resize` does); float images keep their dtype.
    """
    images = ops.convert_to_tensor(images)
    rank = tensor_rank(images)
    if rank not in (3, 4):
        shape = images.shape if rank is None else tuple(images.shape)
        raise ValueError(
            f"Expected `{name}` to have rank 3 (height, width, channels) or "
            f"4 (batch, height, width, channels). Received: {name}.shape="
            f"{shape}"
        )
    dtype = keras.backend.standardize_dtype(images.dtype)
    if "float" not in dtype:
        if "int" in dtype or dtype == "bool":
            images = ops.cast(images, "float32")
        else:
            raise ValueError(
                f"Expected `{name}` to have a float or integer dtype. "
                f"Received: {name}.dtype={dtype}"
            )
    if rank == 3:
        return ops.expand_dims(images, 0), True
    return images, False


def tensor_rank(tensor):
    """Static rank of a tensor (None for a TensorFlow tensor of unknown rank)."""
    try:
        return len(tensor.shape)
    except (TypeError, ValueError):
        return None


def static_or_dynamic_shape(tensor):
    """List of dims: python ints where static, scalar tensors elsewhere.

    Dims are only dynamic (scalar tensors) in a TensorFlow graph with
    unknown (`None`) dims; on JAX and PyTorch every dim is a python int.
    """
    return list(ops.shape(tensor))


def _static_dim(tensor, axis):
    """The static size of `tensor` along `axis`, or None when unknown."""
    try:
        dim = tensor.shape[axis]
    except (TypeError, ValueError, IndexError):
        return None
    return None if dim is None else int(dim)


def check_same_batch(name_a, a, name_b, b, allow_broadcast=False):
    """Raise a `ValueError` naming both arguments when their batch sizes differ.

    A static check: it runs when both batch sizes are known at trace time
    (always on JAX and PyTorch, and in eager TensorFlow). With
    `allow_broadcast`, a batch of 1 in `b` is shared by every sample of `a`.
    """
    batch_a, batch_b = _static_dim(a, 0), _static_dim(b, 0)
    if batch_a is None or batch_b is None or batch_a == batch_b:
        return
    if allow_broadcast and batch_b == 1:
        return
    shared = " (or 1, shared by the batch)" if allow_broadcast else ""
    raise ValueError(
        f"Expected `{name_a}` and `{name_b}` to have the same batch size{shared}. "
        f"Received: {name_a}.shape={tuple(a.shape)} and "
        f"{name_b}.shape={tuple(b.shape)}"
    )


def check_non_empty_spatial(name, tensor, axes=(1, 2)):
    """Raise a `ValueError` when a statically known spatial size is 0.

    The batch axis may be 0 (an empty batch is valid input); a height or
    width of 0 has nothing to resample.
    """
    for axis in axes:
        if _static_dim(tensor, axis) == 0:
            raise ValueError(
                f"Expected `{name}` to have a non-zero height and width. "
                f"Received: {name}.shape={tuple(tensor.shape)}"
            )
