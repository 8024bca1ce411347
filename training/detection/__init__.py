"""Object detection at reduced scale with a saliency-guided zoom (FOVEA, LZU).

A keras-hub `RetinaNetObjectDetector` (ResNet + FPN backbone built from its
configuration, no preset download) is trained with `model.fit` on images of
`--input-size` pixels that it sees at `--scale` of that size (0.25: 256 ->
64). Three front ends decide how the pixels are spent (`--front-end`):

- `uniform`: plain downsizing with the package's resize (bilinear, no
  antialiasing, so it equals a zoom with uniform saliency exactly); the
  boxes are scaled by `--scale`. The detector's frame is the uniformly
  downsampled image.
- `fovea` (FOVEA, Thavamani et al., ICCV 2021): the image is zoomed with a
  saliency-guided warp (`keras_resize.ops.warp.zoom`) to the same size; the
  detector is trained on the zoomed images with the boxes warped into the
  zoomed frame (`warp_boxes`, the exact inverse warp), and its predicted boxes
  are unwarped back (`unwarp_boxes`) for evaluation.
- `lzu` (Learning to Zoom and Unzoom, Thavamani et al., CVPR 2023): the image
  is zoomed, the backbone and FPN run on the zoomed image, and every FPN level
  is unzoomed (`keras_resize.layers.ZoomUnzoom`, or `Zoom` + `Unzoom` for
  adaptive saliency), so the head predicts in the uniformly downsampled
  frame: head, anchors and targets are those of `uniform`.

```
uniform: image (S) --resize--> (sS) -> ResNet+FPN -> head -> boxes (sS frame) / s
fovea:   image (S) --zoom-->   (sS) -> ResNet+FPN -> head -> boxes (zoomed) -> unwarp
lzu:     image (S) --zoom-->   (sS) -> ResNet+FPN -> unzoom -> head -> boxes (sS) / s
```

The LZU zoom reads the full-resolution image, but keras-hub's detector
takes one image tensor whose size sets its anchors. So the LZU detector's
input is the full-resolution image packed into the detector's frame without
loss (`keras_resize.models.pack_frame`, a space-to-depth by `1 / scale`:
256x256x1 -> 64x64x16); its backbone (`keras_resize.models.lzu_backbone`)
unpacks it (`UnpackFrame`) and zooms. Anchors, targets and predictions then
live in the uniformly downsampled frame, as LZU prescribes. The front ends'
pixel side (inputs, box frames, saliency) is
`keras_resize.models.DetectionFrontEnd`: a detector trained here is saved
and loaded, and run on new images, with the package alone (and keras-hub).

Saliency (`--saliency`, for `fovea` and `lzu`):

- `fixed`: the dataset prior, a KDE over every training box
  (`warp.dataset_saliency`, FOVEA's formula with `--kde-amplitude` and
  `--kde-bandwidth`), computed once; the warp is a constant. FOVEA's
  bandwidth, 64 for 1920-pixel-wide frames, is scaled to the input size by
  default (8.5 at 256 px): the variance per box side grows with the side.
- `adaptive`: in training, a KDE over the ground truth of each image jittered
  by a uniform +-`--jitter` pixels (`warp.jitter_boxes`: object motion between
  frames). At evaluation the saliency is the KDE of the previous frame's
  detections; these are still images, so a first pass provides them: the
  same detector run with the dataset prior (`--adaptive-first-pass fixed`,
  default) or with uniform saliency (`uniform`), keeping its detections
  with a score >= `--adaptive-score-threshold`; the second pass, zoomed by
  the KDE of those detections, gives the reported boxes. Images without such
  a detection get a uniform saliency. For `lzu` the per-image saliency
  reaches the model as one extra input channel (its top-left `grid_height
  x grid_width` values), since keras-hub's detector has one input.

Evaluation: COCO-style AP@[.5:.95], AP50, AP75, AP small / medium / large
and AR (`training.coco_metrics`, equal to pycocotools), at most 100
detections per image, in the original image frame (input size), against the
original boxes. COCO's area ranges (32^2, 96^2) are meant for ~640-pixel
images: they are scaled by `(input_size / 640)^2` (`--area-scale` overrides),
so at 256 px "small" is below 12.8^2 and "large" above 38.4^2 px^2.
Detections are decoded as in detectron2's and mmdetection's RetinaNet: the
1000 best-scoring anchors, per-class NMS at IoU 0.5, scores >= 0.05 (COCO
practice; keras-hub's default of 0.5 would cut the precision-recall curve
short), at most 100 per image (`make_predictor`).

Data (`--dataset`):

- `digits`: the offline digit detection canvases
  (`keras_resize.data.make_detection_canvases`, tight `yxyx` ink boxes, 10
  classes); train canvases from MNIST train digits, val and test from MNIST
  test digits, seeds `--data-seed`, `+1`, `+2`. `--layout full` is the
  canvases as built (digits anywhere: the dataset prior is almost flat, so a
  fixed warp is nearly the identity); `--layout band` pastes two canvases
  of half the side next to each other into the middle half of the rows, so
  objects gather in a horizontal band, as they do near the horizon in
  driving data (Argoverse-HD, LZU's and FOVEA's benchmark) where a fixed
  prior pays off. `--num-digits` then counts per half canvas.
- `coco`: TFDS `coco/2017` (80 classes; val = test = `validation`, the test
  split has no labels); crowd boxes are left out of training and are
  COCO crowd regions in the evaluation, COCO's mask areas are not used.
- `voc`: TFDS `voc/2007` (20 classes; train / validation / test splits);
  "difficult" objects are left out of training and ignored in the evaluation.
- `coco_json`: the user's COCO-format files, `--annotations FILE --images
  DIR` (`keras_resize.data.read_coco_json`; crowd boxes as for `coco`).
- `voc_folder`: the user's Pascal VOC folder (`Annotations/` beside
  `JPEGImages/`, or images with an XML file beside each), `--data-dir DIR`
  (`keras_resize.data.read_voc`, `--train-split` to read one of its
  `ImageSets/Main` lists; "difficult" objects as for `voc`).

  Both index the files once (bad entries are skipped and counted) and decode
  the images with `keras_resize.data.detection_dataset`. Validation and test
  are the same images: those of `--val-annotations FILE` (`--val-images`,
  default `--images`) or `--val-split NAME`, else `--held-out FRACTION`
  (default 0.1) of the training images, by image, seed `--data-seed`.

TFDS images and the user's files are resized (area, aspect ratio not kept)
to `--input-size` squares and their `yxyx` boxes scaled to pixels;
`--data-dir` and `--manual-dir` are passed to TFDS. `--val-size` /
`--test-size` cap the evaluation splits of TFDS and of the user's files.
When a split's size is unknown (e.g. under `tfds.testing.mock_data`)
`--steps-per-epoch` is required.

Detectors (`--detector`): `resnet10_narrow` (basic-block ResNet, filters 64,
64, 128, 128, one block per stage; 2 convolutions per head, fast) and `resnet50`
(ResNet-50 v1, 4 convolutions per head, keras-hub's RetinaNet). Pyramid
levels and anchors default to the digit canvases' small objects (P2-P5,
anchor size 1, i.e. 4-50 px anchors in the detector frame); keras-hub's
RetinaNet defaults for COCO-like data are `--min-level 3 --max-level 7
--anchor-size 4`. Anchors are matched as in mmdetection and detectron2's
RetinaNet: IoU >= 0.5 positive, < 0.4 negative, and every ground-truth box
also takes its best anchor (`--no-force-match` turns that off).

Outputs under `--output-dir`: `checkpoints/{best,last}.weights.h5`,
`backup/` (`--resume`), `log.csv`, `tensorboard/`, `results.json` (AP
figures of val and test, per-class AP, training and evaluation images/s,
parameters, the arguments and the environment) and `predictions.png`
(detector input and detections vs ground truth).

Modules: `options` (`parse_args`), `data` (datasets, training batches),
`model` (`DETECTORS`, `build_detector`, `compile_detector`,
`make_predictor`), `evaluation` (`predict`, `detect`, `evaluate`), `figures`
(`save_figure`) and `runner` (`run`, `summary_line`, `main`); this package
re-exports their public names.

Examples:

```
python -m training.detection --front-end lzu --saliency fixed --scale 0.25 \\
    --layout band --epochs 12
python -m training.detection --dataset coco_json --annotations train.json \\
    --images images/ --held-out 0.1 --input-size 512 --scale 0.5 --front-end lzu
python -m training.detection --dataset coco --data-dir ~/tfds --detector resnet50 \\
    --input-size 640 --scale 0.5 --min-level 3 --max-level 7 --anchor-size 4 \\
    --front-end lzu --grid-shape 31 51 --batch-size 32 --strategy mirrored
```
"""

from keras_resize.models import DetectionFrontEnd, UnpackFrame, lzu_backbone
from keras_resize.models.front_ends import (
    BOX_FORMAT,
    FIRST_PASSES,
    FRONT_ENDS,
    SALIENCY_MODES,
)
from training.detection.data import (
    TFDS_CLASSES,
    TFDS_NAMES,
    TFDS_SPLITS,
    as_float,
    digit_arrays,
    make_datasets,
    training_dataset,
)
from training.detection.evaluation import detect, evaluate, predict
from training.detection.figures import save_figure
from training.detection.model import (
    DEFAULT_DETECTOR,
    DETECTORS,
    ENCODER_MAX_LEVEL,
    NMS_CANDIDATES,
    build_detector,
    build_encoder,
    compile_detector,
    low_quality_matcher,
    make_predictor,
)
from training.detection.options import (
    DATASETS,
    FILE_DATASETS,
    FOVEA_BANDWIDTH,
    FOVEA_WIDTH,
    LAYOUTS,
    TASK,
    parse_args,
)
from training.detection.runner import main, run, summary_line

# The training scripts' former name of the package's front end.
FrontEnd = DetectionFrontEnd

__all__ = [
    "BOX_FORMAT",
    "DATASETS",
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "DetectionFrontEnd",
    "ENCODER_MAX_LEVEL",
    "FILE_DATASETS",
    "FIRST_PASSES",
    "FOVEA_BANDWIDTH",
    "FOVEA_WIDTH",
    "FRONT_ENDS",
    "FrontEnd",
    "LAYOUTS",
    "NMS_CANDIDATES",
    "SALIENCY_MODES",
    "TASK",
    "TFDS_CLASSES",
    "TFDS_NAMES",
    "TFDS_SPLITS",
    "UnpackFrame",
    "as_float",
    "build_detector",
    "build_encoder",
    "compile_detector",
    "detect",
    "digit_arrays",
    "evaluate",
    "low_quality_matcher",
    "lzu_backbone",
    "main",
    "make_datasets",
    "make_predictor",
    "parse_args",
    "predict",
    "run",
    "save_figure",
    "summary_line",
    "training_dataset",
]
