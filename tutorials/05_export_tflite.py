"""
Title: Export a model with a learned resizer to TFLite and run it with LiteRT
Author: keras-resize developers
Date created: 2026/11/22
Last modified: 2026/11/22
Description: Train briefly, export to SavedModel and builtins-only TFLite (float32, float16, int8), and run the flatbuffer in `ai_edge_litert`.
Accelerator: None (CPU: about 2 minutes; `--smoke`: seconds)
"""

"""
## Introduction

TensorFlow's own `tf.image.resize` with `area` or `antialias=True` does not
convert to TFLite at all, and `bicubic` needs Flex ops that the LiteRT
interpreter cannot run. Every layer of keras-resize is written with gathers,
arithmetic and convolutions, so a model that contains them converts with
**builtin ops only**.

`keras_resize.export(model, path)` writes a SavedModel and a TFLite file and
returns a report: files and sizes, the TFLite op list, and the largest
difference between the Keras, SavedModel and TFLite outputs on sample
inputs. Here we train a small classifier with `LearnedResize` in front, then
export it in float32, float16 and int8 and run the result with
`ai_edge_litert`.
"""

"""
## Setup
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from ai_edge_litert.interpreter import Interpreter

import keras_resize
from keras_resize.callbacks import BatchNormRecalibration
from keras_resize.data import as_dataset, make_classification_canvases
from keras_resize.layers import LearnedResize

parser = argparse.ArgumentParser(description=__doc__.split("\n")[2])
parser.add_argument("--smoke", action="store_true", help="a few steps (CI)")
parser.add_argument("--output-dir", default="tutorial_outputs")
args, _ = parser.parse_known_args()
output_dir = Path(args.output_dir)
output_dir.mkdir(parents=True, exist_ok=True)

TRAIN, VAL, EPOCHS = (64, 32, 1) if args.smoke else (800, 200, 3)
INPUT_SIZE, SIZE = 128, 32
keras.utils.set_random_seed(0)

"""
## A model with a learned resizer
"""

train = make_classification_canvases(
    TRAIN, canvas_size=INPUT_SIZE, digit_size=(24, 56), seed=0
)
val = make_classification_canvases(
    VAL, canvas_size=INPUT_SIZE, digit_size=(24, 56), seed=1, split="test"
)

inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="images")
x = LearnedResize(SIZE, SIZE, num_res_blocks=1, name="resizer")(inputs)
for filters in (32, 64):
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
x = keras.layers.GlobalAveragePooling2D()(x)
outputs = keras.layers.Dense(10)(x)
model = keras.Model(inputs, outputs)
model.compile(
    optimizer=keras.optimizers.Adam(2e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
train_ds = as_dataset(train, batch_size=32)
model.fit(
    train_ds,
    validation_data=as_dataset(val, batch_size=32, shuffle=False),
    epochs=EPOCHS,
    verbose=2,
    shuffle=False,  # the dataset shuffles itself (Keras warns otherwise)
    # BatchNormalization statistics that match the final weights, so the
    # exported model (inference mode) is as accurate as the trained one.
    callbacks=[BatchNormRecalibration(train_ds, steps=20)],
)

"""
## Export: float32, float16 and int8

int8 quantization calibrates activation ranges on representative inputs;
inputs and outputs stay float32. Each report prints the largest absolute
difference between the Keras logits and the exported model's.
"""

samples = val["images"][:8]
reports = {}
for quantize in (None, "float16", "int8"):
    name = quantize or "float32"
    print(f"--- {name}")
    reports[name] = keras_resize.export(
        model,
        output_dir / f"export_{name}",
        formats=("saved_model", "tflite") if quantize is None else ("tflite",),
        quantize=quantize,
        representative_data=train["images"][:64],
        sample_inputs=samples,
    )

"""
## Run the flatbuffer with LiteRT, with any batch size

The batch dimension is dynamic: resize the input tensor, then invoke.
"""

flatbuffer = (output_dir / "export_float32" / "model.tflite").read_bytes()
interpreter = Interpreter(model_content=flatbuffer)
runner = interpreter.get_signature_runner("serving_default")
for batch in (1, 5):
    logits = runner(images=val["images"][:batch])["output_0"]
    print(
        f"batch {batch}: TFLite logits {logits.shape}, predictions {logits.argmax(-1)}"
    )
print("labels        ", val["labels"][:5])

"""
## Differences against Keras, and file sizes
"""

names = list(reports)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
axes[0].bar(names, [reports[n].max_abs_diff["tflite"] for n in names])
axes[0].set_yscale("log")
axes[0].set_title("max |Keras - TFLite| (logits)")
axes[1].bar(names, [reports[n].files["tflite"]["bytes"] / 1e3 for n in names])
axes[1].set_title("TFLite file size (kB)")
figure = output_dir / "05_export.png"
fig.savefig(figure, dpi=80, bbox_inches="tight")
print(f"saved {figure}")
for name in names:
    diff = reports[name].max_abs_diff["tflite"]
    size = reports[name].files["tflite"]["bytes"] / 1e3
    print(f"{name:8s} max diff {diff:.2e}  size {size:.0f} kB")
assert not [op for op in reports["float32"].tflite_ops if "FLEX" in op.upper()]
