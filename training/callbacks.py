"""Callbacks of the training runs, and `fit_model` that uses them.

`fit_model` trains with `[ThroughputCallback(...)] + standard_callbacks(...)`
(backup for `--resume`, best and last checkpoints, TensorBoard, CSV log);
`maybe_recalibrate_batch_norm` then applies `--bn-recalibration-steps`
(`keras_resize.callbacks.recalibrate_batch_norm`).

Example:

```python
import tempfile
from training import callbacks

folder = tempfile.mkdtemp()
names = [type(c).__name__ for c in callbacks.standard_callbacks(folder, resume=False)]
assert names[0] == "BackupAndRestore" and names[-1] == "CSVLogger"
```
"""

import importlib.util
import os
import shutil
import time

import keras

from keras_resize.callbacks import recalibrate_batch_norm

BACKUP_DIR = "backup"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
CSV_LOG = "log.csv"


class ThroughputCallback(keras.callbacks.Callback):
    """Measures training throughput in images per second.

    Times each epoch from the end of its first batch (which carries
    tracing and warm-up) to the end of its last, and counts
    `batch_size` images per timed batch (the last batch of an epoch may
    be smaller: with `drop_remainder=True` datasets it is not). Each
    batch end waits for the step's outputs, so asynchronous dispatch
    does not inflate the number.

    Attributes:
        epoch_images_per_sec: one value per epoch with >= 2 batches.
        images_per_sec: all timed images over all timed seconds, or
            `nan` when no epoch had 2 batches.
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = int(batch_size)
        self.epoch_images_per_sec = []
        self._images = 0
        self._seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._first_end = None
        self._last_end = None
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        for value in (logs or {}).values():  # Wait for the step.
            try:
                float(value)
            except (TypeError, ValueError):
                pass
            break
        now = time.perf_counter()
        if self._first_end is None:
            self._first_end = now
        else:
            self._batches += 1
            self._last_end = now

    def on_epoch_end(self, epoch, logs=None):
        rate = float("nan")
        if self._batches and self._last_end > self._first_end:
            seconds = self._last_end - self._first_end
            images = self._batches * self.batch_size
            rate = images / seconds
            self.epoch_images_per_sec.append(rate)
            self._images += images
            self._seconds += seconds
        if logs is not None:  # Always set, so the CSV log has a stable header.
            logs["images_per_sec"] = rate

    @property
    def images_per_sec(self):
        if not self._seconds:
            return float("nan")
        return self._images / self._seconds


class EpochScalarsTensorBoard(keras.callbacks.Callback):
    """Writes the epoch logs as TensorBoard scalars, without `tensorboard`.

    Keras' `TensorBoard` callback needs the `tensorboard` package (for
    `tf.summary.scalar`), which TensorFlow 2.21 does not install. This
    fallback writes the same layout with TensorFlow's core summary writer
    (`tf.summary.write` with the `scalars` plugin metadata):
    `log_dir/train` gets `epoch_<name>` for every log `<name>`, and
    `log_dir/validation` gets `epoch_<name>` for every `val_<name>`.
    TensorBoard shows them like Keras' own logs.

    Args:
        log_dir: the TensorBoard log folder.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self._writers = {}

    def _writer(self, kind):
        import tensorflow as tf

        if kind not in self._writers:
            path = os.path.join(self.log_dir, kind)
            self._writers[kind] = tf.summary.create_file_writer(path)
        return self._writers[kind]

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        )
        for key, value in (logs or {}).items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            kind, name = (
                ("validation", key[4:])
                if key.startswith("val_")
                else (
                    "train",
                    key,
                )
            )
            with self._writer(kind).as_default():
                tf.summary.write(
                    f"epoch_{name}",
                    tf.constant(value, tf.float32),
                    step=epoch,
                    metadata=metadata,
                )
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def tensorboard_callback(log_dir):
    """Keras' `TensorBoard` if `tensorboard` is installed, else the fallback.

    Returns:
        `keras.callbacks.TensorBoard(log_dir)` or
        `EpochScalarsTensorBoard(log_dir)` (epoch scalars only).
    """
    if importlib.util.find_spec("tensorboard") is not None:
        return keras.callbacks.TensorBoard(log_dir)
    return EpochScalarsTensorBoard(log_dir)


def standard_callbacks(
    output_dir,
    resume,
    monitor="val_loss",
    mode="min",
    save_format="weights",
    tensorboard=True,
):
    """The callbacks every training run uses, writing under `output_dir`.

    - `BackupAndRestore` in `output_dir/backup`: the training state (weights,
      optimizer, epoch) after every epoch. It is kept after training ends
      (`delete_checkpoint=False`), so `--resume --epochs N+k` extends a
      finished run as well as continuing an interrupted one. Without
      `resume` an existing backup is deleted first, so a new run never
      silently continues an old one.
    - `ModelCheckpoint`: `checkpoints/best.<ext>` (best `monitor`) and
      `checkpoints/last.<ext>` (every epoch); `<ext>` is `weights.h5` for
      `save_format="weights"` or `keras` for a whole-model archive.
    - TensorBoard logs in `output_dir/tensorboard` (if `tensorboard`):
      Keras' callback, or `EpochScalarsTensorBoard` when the `tensorboard`
      package is not installed.
    - `CSVLogger` to `output_dir/log.csv` (appended to when resuming).

    Put other callbacks that read logs (e.g. `ThroughputCallback`) before
    these in the list so their values reach the CSV log.

    Args:
        output_dir: folder (created if missing).
        resume: whether to continue from an existing backup.
        monitor: metric of the "best" checkpoint.
        mode: `"min"` or `"max"` for `monitor`.
        save_format: `"weights"` or `"keras"`.
        tensorboard: whether to add the TensorBoard callback.

    Returns:
        A list of Keras callbacks.
    """
    if save_format not in ("weights", "keras"):
        raise ValueError(
            "Expected `save_format` to be 'weights' or 'keras'. "
            f"Received: save_format={save_format!r}"
        )
    os.makedirs(output_dir, exist_ok=True)
    backup = os.path.join(output_dir, BACKUP_DIR)
    if not resume and os.path.isdir(backup):
        shutil.rmtree(backup)
    checkpoints = os.path.join(output_dir, CHECKPOINT_DIR)
    os.makedirs(checkpoints, exist_ok=True)
    ext = "weights.h5" if save_format == "weights" else "keras"
    weights_only = save_format == "weights"
    callbacks = [
        keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, f"best.{ext}"),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            save_weights_only=weights_only,
        ),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, f"last.{ext}"),
            save_weights_only=weights_only,
        ),
    ]
    if tensorboard:
        callbacks.append(
            tensorboard_callback(os.path.join(output_dir, TENSORBOARD_DIR))
        )
    callbacks.append(
        keras.callbacks.CSVLogger(os.path.join(output_dir, CSV_LOG), append=resume)
    )
    return callbacks


def maybe_recalibrate_batch_norm(model, args, strategy, train, log=print):
    """`recalibrate_batch_norm` with `--bn-recalibration-steps`, on one replica.

    Returns the number of batches used, or 0 when switched off or skipped
    (several replicas: the forward passes would run outside the strategy).
    """
    steps = getattr(args, "bn_recalibration_steps", 0)
    if steps <= 0:
        return 0
    if strategy.num_replicas_in_sync != 1:
        log(
            "[bn] recalibration skipped: it runs on one replica "
            f"({strategy.num_replicas_in_sync} in sync)"
        )
        return 0
    return recalibrate_batch_norm(model, train, steps)


def fit_model(model, args, train, val, steps_per_epoch, monitor, mode):
    """`model.fit` with a `ThroughputCallback` and `standard_callbacks`.

    Args:
        model: the compiled model.
        args: the parsed namespace (`--epochs`, `--batch-size`,
            `--output-dir`, `--resume`, `--verbose`).
        train: the training dataset; it shuffles itself (`fit` does not).
        val: the validation dataset or `None`.
        steps_per_epoch: training steps per epoch.
        monitor: the metric of the "best" checkpoint, e.g. `"accuracy"`:
            its `val_` version when there is a validation dataset.
        mode: `"min"` or `"max"` for `monitor`.

    Returns:
        `(history, throughput)`: the `History` and the `ThroughputCallback`.
    """
    throughput = ThroughputCallback(args.batch_size)
    if val is not None:
        monitor = f"val_{monitor}"
    callbacks = [throughput] + standard_callbacks(
        args.output_dir, args.resume, monitor=monitor, mode=mode
    )
    history = model.fit(
        train,
        validation_data=val,
        epochs=args.epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,  # The tf.data pipeline shuffles.
        verbose=args.verbose,
    )
    return history, throughput
