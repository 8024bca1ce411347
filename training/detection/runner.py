"""One training run: data, front end, detector, fit, evaluation, results."""

import os
import time
import warnings

from keras_resize.models import DetectionFrontEnd
from keras_resize.models.front_ends import BOX_FORMAT
from keras_resize.ops import warp
from training import coco_metrics
from training.callbacks import fit_model, maybe_recalibrate_batch_norm
from training.detection.data import make_datasets, training_dataset
from training.detection.evaluation import evaluate
from training.detection.figures import save_figure
from training.detection.model import build_detector, compile_detector, make_predictor
from training.detection.options import TASK, parse_args
from training.results import finite_or_none, format_metric, training_results, write_run
from training.runtime import start_run


def run(args):
    """Trains and evaluates one front end; writes `results.json`."""
    start = time.perf_counter()
    strategy = start_run(args, clear_session=True)
    splits, info = make_datasets(args)
    num_classes, channels = info["num_classes"], info["channels"]
    steps = info["steps_per_epoch"]
    prior = warp.dataset_saliency(
        info["train_boxes"],
        (args.input_size, args.input_size),
        tuple(args.grid_shape),
        amplitude=args.kde_amplitude,
        bandwidth=args.kde_bandwidth,
        box_format=BOX_FORMAT,
    )
    front_end = DetectionFrontEnd(
        args.front_end,
        args.saliency,
        args.input_size,
        args.scale,
        prior,
        fwhm=args.fwhm,
        kde_amplitude=args.kde_amplitude,
        kde_bandwidth=args.kde_bandwidth,
        jitter=args.jitter,
        first_pass=args.adaptive_first_pass,
        uniform_method=args.uniform_method,
    )
    train = training_dataset(splits["train"], front_end, args, repeat=True)
    val = training_dataset(splits["val"], front_end, args, repeat=False, jitter=0.0)
    with strategy.scope():
        detector = build_detector(args, front_end, num_classes, channels)
        compile_detector(detector, args, steps)
    with warnings.catch_warnings():
        # The user's files are decoded with undecodable ones dropped, so the
        # val pipeline's length is unknown and Keras warns at the end of its
        # first pass; the train pipeline repeats forever and cannot run out.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history, throughput = fit_model(
            detector, args, train, val, steps, monitor="loss", mode="min"
        )
    results = {
        "task": TASK,
        "front_end": args.front_end,
        "saliency": None if args.front_end == "uniform" else args.saliency,
        "scale": args.scale,
        "detector": args.detector,
    }
    results["bn_recalibration_batches"] = maybe_recalibrate_batch_norm(
        detector, args, strategy, train
    )
    predictor = make_predictor(detector, args)
    for name in ("val", "test"):
        metrics, rate = evaluate(
            predictor, front_end, splits[name], args, num_classes, log=print
        )
        per_class = metrics.pop("per_class_AP")
        results.update({f"{name}_{k}": finite_or_none(v) for k, v in metrics.items()})
        results[f"{name}_per_class_AP"] = [finite_or_none(v) for v in per_class]
        results[f"{name}_images_per_sec"] = finite_or_none(rate)
    area_scale = args.area_scale or coco_metrics.area_scale_for(args.input_size)
    results.update(
        {
            "dataset": args.dataset,
            "layout": args.layout if args.dataset == "digits" else None,
            "num_classes": num_classes,
            "class_names": info.get("class_names"),
            "input_size": args.input_size,
            "frame_size": front_end.frame,
            "grid_shape": list(front_end.grid_shape),
            "fwhm": args.fwhm,
            "area_ranges": coco_metrics.area_ranges(area_scale),
            "prior_max_over_min": float(prior.max() / prior.min()),
            "detector_params": int(detector.count_params()),
            "backbone_params": int(detector.backbone.count_params()),
        }
    )
    results.update(
        training_results(
            args, strategy, steps, info["train_examples"], history, throughput
        )
    )
    if not args.no_figure:
        results["figure"] = str(
            save_figure(
                predictor,
                front_end,
                splits["test"],
                os.path.join(args.output_dir, "predictions.png"),
                score_threshold=args.adaptive_score_threshold,
            )
        )
    return write_run(args, results, start, summary_line)


def summary_line(results):
    name = results["front_end"]
    if results.get("saliency"):
        name += f"/{results['saliency']}"
    figures = " ".join(
        f"{key}={format_metric(results, f'test_{key}', '.3f')}"
        for key in ("AP", "AP50", "AP75", "APs", "APm", "APl")
    )
    return (
        f"[{TASK}] front_end={name} scale={results['scale']:g} "
        f"detector={results['detector']} test {figures} "
        f"train_img/s={format_metric(results, 'train_images_per_sec', '.1f')} "
        f"params={results['detector_params']} time={results['wall_time_s']:.0f}s"
    )


def main(argv=None):
    run(parse_args(argv))
    return 0
