"""What the image layers share: `data_format` handling and `tf.data` support.

Every layer of `keras_resize.layers` computes in channels-last
(`(batch, height, width, channels)`). A layer built with
`data_format="channels_first"` transposes its image inputs to channels-last
on the way in and its image outputs back on the way out, so the same
weights give the same numbers in both formats (a convolution kernel is
`(kh, kw, in, out)` either way).

`TFDataMixin` lets a stateless layer (no weights, no random state) run
inside `tf.data.Dataset.map` whatever the Keras backend is, as keras core's
preprocessing layers do: inside a TensorFlow graph under JAX or PyTorch the
layer's `call` runs in `keras_resize.backend.tensorflow_scope()`, where the
package's ops resolve to Keras' TensorFlow implementations.
"""

import types

import keras

from keras_resize import backend
from keras_resize.backend import ops
from keras_resize.ops.validation import check_non_empty_spatial

DATA_FORMATS = ("channels_last", "channels_first")


def check_data_format(data_format):
    """`data_format`, or `keras.config.image_data_format()` if it is None.

    Raises a `ValueError` naming the value if it is neither
    `"channels_last"` nor `"channels_first"`.
    """
    if data_format is None:
        data_format = keras.config.image_data_format()
    if not isinstance(data_format, str) or data_format not in DATA_FORMATS:
        raise ValueError(
            f"Expected `data_format` to be one of {list(DATA_FORMATS)}. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def _rank_error(shape, data_format, name="inputs"):
    if data_format == "channels_first":
        layout = (
            "rank 3 (channels, height, width) or 4 (batch, channels, height, width)"
        )
    else:
        layout = (
            "rank 3 (height, width, channels) or 4 (batch, height, width, channels)"
        )
    return ValueError(
        f"Expected `{name}` of {layout}. Received: input_shape={tuple(shape)}"
    )


def to_channels_last(images, data_format, name="inputs"):
    """Images in `data_format` -> channels-last (rank 3 or 4 kept)."""
    if data_format != "channels_first":
        return images
    rank = len(images.shape)
    if rank == 4:
        return ops.transpose(images, (0, 2, 3, 1))
    if rank == 3:
        return ops.transpose(images, (1, 2, 0))
    raise _rank_error(images.shape, data_format, name)


def from_channels_last(images, data_format):
    """Channels-last images (rank 3 or 4) -> `data_format`."""
    if data_format != "channels_first":
        return images
    if len(images.shape) == 4:
        return ops.transpose(images, (0, 3, 1, 2))
    return ops.transpose(images, (2, 0, 1))


def shape_to_channels_last(shape, data_format, name="inputs"):
    """A rank-3/4 image shape in `data_format` as a channels-last tuple."""
    shape = tuple(shape)
    if data_format != "channels_first":
        return shape
    if len(shape) not in (3, 4):
        raise _rank_error(shape, data_format, name)
    return shape[:-3] + (shape[-2], shape[-1], shape[-3])


def shape_from_channels_last(shape, data_format):
    """A channels-last rank-3/4 image shape as a tuple in `data_format`."""
    shape = tuple(shape)
    if data_format != "channels_first":
        return shape
    return shape[:-3] + (shape[-1], shape[-3], shape[-2])


def spatial_axes(rank, data_format):
    """The height and width axes of a rank-3 or rank-4 image in `data_format`."""
    offset = 1 if rank == 4 else 0
    if data_format == "channels_first":
        return (offset + 1, offset + 2)
    return (offset, offset + 1)


def check_image_input(images, data_format, name="inputs"):
    """Static checks of an image input (a tensor or a shape) in `data_format`.

    Raises a `ValueError` naming `name` and the received shape when the
    height or the width is 0 (there is nothing to resample). The batch
    may be 0: an empty batch is valid input. Other ranks than 3 and 4 are
    left to the caller's rank check.
    """
    if not hasattr(images, "shape"):
        images = types.SimpleNamespace(shape=tuple(images))
    try:
        rank = len(images.shape)
    except (TypeError, ValueError):
        return  # unknown rank
    if rank in (3, 4):
        check_non_empty_spatial(name, images, spatial_axes(rank, data_format))


def static_batch_size(images):
    """The batch size of a rank-4 tensor when static, else None."""
    try:
        batch = images.shape[0]
    except (TypeError, ValueError, IndexError):
        return None
    return None if batch is None else int(batch)


def _flatten(structure):
    if isinstance(structure, dict):
        return [v for value in structure.values() for v in _flatten(value)]
    if isinstance(structure, (list, tuple)):
        return [v for value in structure for v in _flatten(value)]
    return [structure]


def _map_tensors(function, structure):
    if isinstance(structure, dict):
        return {key: _map_tensors(function, value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_tensors(function, value) for value in structure)
    if structure is None:
        return None
    return function(structure)


class TFDataMixin:
    """Run a stateless layer inside `tf.data` under any Keras backend.

    Put it before `keras.layers.Layer` in the bases of a layer whose `call`
    uses only `keras_resize.backend.ops` (and `keras_resize.ops`) and has no
    weights when used this way. Inside a TensorFlow graph under the JAX or
    PyTorch backend (a `tf.data.Dataset.map`), the call runs with
    TensorFlow: the inputs are converted to TensorFlow tensors, Keras' own
    conversion of the call arguments to the backend is switched off for
    the call, and the ops resolve to TensorFlow's implementations. Anywhere
    else (eager, `jax.jit`, `torch.compile`, symbolic `keras.Input`) the
    layer is an ordinary Keras layer.
    """

    def __call__(self, *args, **kwargs):
        sample = _flatten(args[0])[0] if args else None
        if sample is None or not backend.in_tensorflow_graph(sample):
            return super().__call__(*args, **kwargs)
        tf = backend.tensorflow()

        def convert(value):
            return tf.convert_to_tensor(value)

        args = tuple(_map_tensors(convert, arg) for arg in args)
        kwargs = {
            key: _map_tensors(convert, value)
            if key not in ("training", "mask")
            else value
            for key, value in kwargs.items()
        }
        # Keras would convert TensorFlow tensors to the backend's arrays, and
        # refuses positional arguments that are not backend tensors.
        saved = (self._convert_input_args, self._allow_non_tensor_positional_args)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        try:
            with backend.tensorflow_scope():
                return super().__call__(*args, **kwargs)
        finally:
            self._convert_input_args, self._allow_non_tensor_positional_args = saved
