"""The detector: keras-hub's RetinaNet on a ResNet + FPN built from config,
with the LZU backbone of `keras_resize.models` for the `lzu` front end; its
compilation and the predictor used for evaluation."""

import tensorflow as tf

from keras_resize.models import lzu_backbone
from keras_resize.models.front_ends import BOX_FORMAT
from training.optimization import make_optimizer, make_schedule
from training.runtime import jit_compile_value

# name -> (stage filters, blocks per stage, block type, head convolutions).
# `resnet10_narrow` is a ResNet-10 layout (stem + one basic block per stage)
# with narrow stages; it is not classification's `resnet_tiny` (two stages).
DETECTORS = {
    "resnet10_narrow": ([64, 64, 128, 128], [1, 1, 1, 1], "basic_block", 2),
    "resnet50": ([64, 128, 256, 512], [3, 4, 6, 3], "bottleneck_block", 4),
}
DEFAULT_DETECTOR = "resnet10_narrow"
ENCODER_MAX_LEVEL = 5  # ResNet: stem stride 4 (P2), then strides 2, 2, 2
NMS_CANDIDATES = 1000  # anchors kept for NMS per image (detectron2: 1000 per level)


def low_quality_matcher(positive_threshold=0.5, negative_threshold=0.4):
    """keras-hub's `BoxMatcher` plus low-quality matches, done right.

    Rows are anchors, columns ground-truth boxes: IoU >= 0.5 positive, < 0.4
    background, between ignored; then every real ground-truth box (a column
    with some positive IoU; `-1` padding rows have none) also takes its best
    anchor as a positive (mmdetection's `min_pos_iou=0`, detectron2's
    `allow_low_quality_matches`). keras-hub 0.32's own
    `force_match_for_each_col` cannot be used: it takes the argmax over its
    similarity matrix padded with a column of -1, so an anchor can be
    "matched" to that column, one past the ground truth, and the target
    gather fails (`indices[...] = max_boxes is not in [0, max_boxes)`).
    """
    from keras import ops
    from keras_hub.src.layers.modeling.box_matcher import BoxMatcher

    class LowQualityBoxMatcher(BoxMatcher):
        def call(self, similarity_matrix):
            columns, values = super().call(similarity_matrix)
            squeeze = len(similarity_matrix.shape) == 2
            if squeeze:
                similarity_matrix = ops.expand_dims(similarity_matrix, 0)
                columns, values = columns[None], values[None]
            num_rows = ops.shape(similarity_matrix)[1]
            best_rows = ops.argmax(similarity_matrix, axis=1)  # (batch, cols)
            real = ops.max(similarity_matrix, axis=1) > 0  # (batch, cols)
            mapping = ops.one_hot(best_rows, num_rows) * ops.cast(
                ops.expand_dims(real, -1), "float32"
            )  # (batch, cols, rows)
            forced = ops.max(mapping, axis=1) > 0  # (batch, rows)
            forced_columns = ops.cast(ops.argmax(mapping, axis=1), columns.dtype)
            columns = ops.where(forced, forced_columns, columns)
            values = ops.where(
                forced, ops.cast(self.match_values[-1], values.dtype), values
            )
            if squeeze:
                columns, values = columns[0], values[0]
            return columns, values

    return LowQualityBoxMatcher(
        thresholds=[negative_threshold, positive_threshold],
        match_values=[-1, -2, 1],
        force_match_for_each_col=False,
    )


def build_encoder(name, frame, channels):
    """The keras-hub ResNet of `DETECTORS[name]`, for `(frame, frame)` images."""
    import keras_hub

    if name not in DETECTORS:
        raise ValueError(
            f"Unknown detector. Expected one of {sorted(DETECTORS)}. "
            f"Received: detector={name!r}"
        )
    filters, blocks, block_type, _ = DETECTORS[name]
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=list(filters),
        stackwise_num_blocks=list(blocks),
        stackwise_num_strides=[1, 2, 2, 2],
        block_type=block_type,
        use_pre_activation=False,
        image_shape=(frame, frame, channels),
    )


def build_detector(args, front_end, num_classes, channels):
    """keras-hub's `RetinaNetObjectDetector` for the front end, from config."""
    import keras_hub
    from keras_hub.src.models.retinanet.retinanet_label_encoder import (
        RetinaNetLabelEncoder,
    )

    frame = front_end.frame
    encoder = build_encoder(args.detector, frame, channels)
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder,
        min_level=args.min_level,
        max_level=args.max_level,
        use_p5=False,
        image_shape=(frame, frame, channels),
    )
    if front_end.kind == "lzu":
        backbone = lzu_backbone(
            backbone,
            front_end.block,
            None if front_end.adaptive else front_end.prior,
            grid_shape=front_end.grid_shape,
            fwhm=front_end.fwhm,
        )
    anchors = keras_hub.layers.AnchorGenerator(
        BOX_FORMAT,
        min_level=args.min_level,
        max_level=args.max_level,
        num_scales=3,
        aspect_ratios=[0.5, 1.0, 2.0],
        anchor_size=args.anchor_size,
    )
    label_encoder = RetinaNetLabelEncoder(
        anchors, bounding_box_format=BOX_FORMAT, encoding_format="center_xywh"
    )
    if args.force_match:
        label_encoder.box_matcher = low_quality_matcher()
    decoder = keras_hub.layers.NonMaxSuppression(
        bounding_box_format=BOX_FORMAT,
        from_logits=True,
        iou_threshold=args.nms_iou,
        confidence_threshold=args.score_threshold,
        max_detections=args.max_detections,
    )
    head_layers = args.head_conv_layers or DETECTORS[args.detector][3]
    return keras_hub.models.RetinaNetObjectDetector(
        backbone=backbone,
        num_classes=num_classes,
        bounding_box_format=BOX_FORMAT,
        anchor_generator=anchors,
        label_encoder=label_encoder,
        pre_logits_num_conv_layers=head_layers,
        prediction_decoder=decoder,
    )


def compile_detector(detector, args, steps_per_epoch):
    """The detector's own losses (focal + Huber) with the shared schedule and
    optimizer (`training.optimization`)."""
    total = steps_per_epoch * args.epochs
    warmup = min(int(round(args.warmup_epochs * steps_per_epoch)), total - 1)
    schedule = make_schedule(args.schedule, args.learning_rate, total, warmup)
    optimizer = make_optimizer(
        args.optimizer, schedule, args.weight_decay, args.momentum
    )
    detector.compile(
        optimizer=optimizer, jit_compile=jit_compile_value(args.jit_compile)
    )
    return detector


def make_predictor(detector, args):
    """`x -> detections` (`boxes` yxyx in the detector's frame, `confidence`,
    `labels`, `num_detections`), a `tf.function` in inference mode.

    Decoding as in detectron2's and mmdetection's RetinaNet: the box deltas
    of the `NMS_CANDIDATES` best-scoring anchors (sigmoid class scores,
    best class) are decoded with keras-hub's anchors and box coding, then
    per-class NMS (`tf.image.combined_non_max_suppression`) at IoU
    `--nms-iou`, score >= `--score-threshold`, at most `--max-detections`
    per image. keras-hub's own decoder (`detector.predict`) runs
    class-agnostic NMS over every anchor, which takes seconds per image on
    a CPU at 128x128 with P2 (12k anchors); its `predict_on_batch` also
    fails on its one-element data tuple in keras-hub 0.32.
    """
    from keras.utils import bounding_boxes

    anchor_generator = detector.anchor_generator

    @tf.function(autograph=False)
    def predictor(x):
        outputs = detector(x, training=False)
        anchors = tf.concat(list(anchor_generator(x).values()), axis=0)
        shape = tf.shape(x)
        boxes = bounding_boxes.decode_deltas_to_boxes(
            anchors=anchors,
            boxes_delta=tf.cast(outputs["bbox_regression"], tf.float32),
            anchor_format=anchor_generator.bounding_box_format,
            box_format=BOX_FORMAT,
            encoded_format="center_xywh",
            image_shape=(shape[1], shape[2], shape[3]),
        )
        scores = tf.sigmoid(tf.cast(outputs["cls_logits"], tf.float32))
        count = min(NMS_CANDIDATES, int(anchors.shape[0]))
        _, best = tf.math.top_k(tf.reduce_max(scores, axis=-1), k=count)
        boxes = tf.gather(boxes, best, batch_dims=1)
        scores = tf.gather(scores, best, batch_dims=1)
        result = tf.image.combined_non_max_suppression(
            tf.expand_dims(boxes, 2),
            scores,
            max_output_size_per_class=args.max_detections,
            max_total_size=args.max_detections,
            iou_threshold=args.nms_iou,
            score_threshold=args.score_threshold,
            clip_boxes=False,
        )
        return {
            "boxes": result.nmsed_boxes,
            "confidence": result.nmsed_scores,
            "labels": tf.cast(result.nmsed_classes, tf.int32),
            "num_detections": result.valid_detections,
        }

    return predictor
