"""The same weights give the same outputs on TensorFlow, JAX and PyTorch.

Issue 12, point 3: every layer is built with a fixed seed, its weights are
randomised (batch-norm statistics included) and saved to a `.weights.h5`
file under `KERAS_BACKEND=tensorflow`; then one subprocess per backend
loads them into freshly built layers and computes the outputs on the same
fixed inputs. All outputs must agree within 1e-5 (float32) of the output's
scale (`max(1, max|output|)`).

Runs from the TensorFlow test session only (the subprocesses cover the
three backends): three interpreters, all layers each, about a minute.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="runs once, from the TensorFlow session (it starts all three backends)",
)

BACKENDS = ("tensorflow", "jax", "torch")
ATOL = 1e-5

# Our layers (strict) and the other modules' layers and losses.
OWN = (
    "resize_bicubic_antialias",
    "resize_area_channels_first",
    "learned_resize",
    "learned_resize_channels_first",
    "downsizenet_patches",
    "downsizenet_full_bicubic",
    "zoom_fixed",
    "zoom_learned",
    "zoom_nonseparable_channels_first",
    "unzoom_fixed",
    "zoom_unzoom",
)
OTHERS = (
    "dual_sr_head",
    "spatial_pyramid_pooling",
    "pyramid_pooling_module",
    "atrous_spatial_pyramid_pooling",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "earth_movers_distance",
    "feature_affinity_loss",
)

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, traceback
    import numpy as np
    import keras

    mode, directory = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    IMAGES = rng.random((2, 24, 30, 3)).astype("float32")
    FIRST = np.transpose(IMAGES, (0, 3, 1, 2)).copy()
    FEATURES = rng.random((2, 13, 17, 8)).astype("float32")

    def peaked():
        s = np.ones((4, 5)); s[1, 3] += 30.0
        return s

    def extractor():
        inputs = keras.Input((None, None, 3))
        x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
        return keras.Model(inputs, keras.layers.Conv2D(5, 3, padding="same")(x))

    def cases():
        from keras_resize import layers as L
        yield "resize_bicubic_antialias", lambda: L.Resize(
            10, 13, "bicubic", True), IMAGES
        yield "resize_area_channels_first", lambda: L.Resize(
            10, 13, "area", data_format="channels_first"), FIRST
        yield "learned_resize", lambda: L.LearnedResize(
            12, 10, filters=8, num_res_blocks=2), IMAGES
        yield "learned_resize_channels_first", lambda: L.LearnedResize(
            12, 10, filters=8, data_format="channels_first"), FIRST
        yield "downsizenet_patches", lambda: L.DownsizeNetResize(
            8, 10, feature_path="patches"), IMAGES
        yield "downsizenet_full_bicubic", lambda: L.DownsizeNetResize(
            8, 10, neighborhood="bicubic", feature_path="full"), IMAGES
        yield "zoom_fixed", lambda: L.Zoom(
            12, 16, saliency=peaked(), fwhm=3.0, return_grid=True), IMAGES
        yield "zoom_learned", lambda: L.Zoom(
            12, 16, saliency="learned", grid_shape=(4, 5)), IMAGES
        yield "zoom_nonseparable_channels_first", lambda: L.Zoom(
            12, 16, saliency=peaked(), fwhm=3.0, separable=False,
            data_format="channels_first"), FIRST
        yield "unzoom_fixed", lambda: L.Unzoom(
            saliency=peaked(), fwhm=3.0), FEATURES
        yield "zoom_unzoom", lambda: L.ZoomUnzoom(
            extractor(), 16, 20, saliency=peaked(), fwhm=3.0,
            pad_to_multiple=8), IMAGES
        yield "dual_sr_head", lambda: L.DualSRHead(
            num_classes=3, factor=2, decoder_filters=8), [
                rng.random((2, 6, 6, 8)).astype("float32"),
                rng.random((2, 24, 24, 3)).astype("float32")]
        yield "spatial_pyramid_pooling", lambda: L.SpatialPyramidPooling(
            levels=(3, 2, 1)), FEATURES
        yield "pyramid_pooling_module", lambda: L.PyramidPoolingModule(
            bins=(1, 2, 3), filters=4), FEATURES
        yield "atrous_spatial_pyramid_pooling", lambda: (
            L.AtrousSpatialPyramidPooling(rates=(2, 3), filters=4)), FEATURES
        yield "gaussian_pyramid", lambda: L.GaussianPyramid(levels=3), IMAGES
        yield "laplacian_pyramid", lambda: L.LaplacianPyramid(levels=3), IMAGES

    def losses():
        from keras_resize import losses as K
        a = rng.random((4, 10)).astype("float32")
        b = rng.random((4, 10)).astype("float32")
        a, b = a / a.sum(-1, keepdims=True), b / b.sum(-1, keepdims=True)
        yield "earth_movers_distance", K.EarthMoversDistance(), (a, b)
        f = rng.random((2, 16, 16, 4)).astype("float32")
        g = rng.random((2, 16, 16, 4)).astype("float32")
        yield "feature_affinity_loss", K.FeatureAffinityLoss(subsample=1 / 4), (f, g)

    def flat(x):
        if isinstance(x, dict):
            return [v for k in sorted(x) for v in flat(x[k])]
        if isinstance(x, (list, tuple)):
            return [v for item in x for v in flat(item)]
        return [np.asarray(keras.ops.convert_to_numpy(x))]

    class Holder(keras.Model):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer
            self.built = True

    def randomise(layer, seed):
        r = np.random.default_rng(seed)
        for w in layer.weights:
            shape = tuple(w.shape)
            if w.path.endswith("moving_variance"):
                value = r.uniform(0.5, 2.0, shape)
            elif w.path.endswith("gamma"):
                value = r.uniform(0.5, 1.5, shape)
            else:
                value = r.normal(0.0, 0.2, shape)
            w.assign(value.astype("float32"))

    outputs, errors = {}, {}
    try:
        all_cases = list(cases())
    except Exception:
        all_cases, errors["import layers"] = [], traceback.format_exc()
    for seed, (name, build, inputs) in enumerate(all_cases):
        try:
            keras.utils.set_random_seed(seed)
            layer = build()
            layer(inputs)
            path = os.path.join(directory, name + ".weights.h5")
            holder = Holder(layer)  # a model owning the layer, for .weights.h5
            if mode == "save":
                randomise(layer, seed)
                if layer.weights:
                    holder.save_weights(path)
            elif layer.weights:
                holder.load_weights(path)
            outputs[name] = flat(layer(inputs))
        except Exception:
            errors[name] = traceback.format_exc()
    try:
        for name, loss, (y_true, y_pred) in losses():
            try:
                outputs[name] = flat(loss(y_true, y_pred))
            except Exception:
                errors[name] = traceback.format_exc()
    except Exception:
        errors["import losses"] = traceback.format_exc()
    backend = keras.backend.backend()
    np.savez(os.path.join(directory, backend + ".npz"), **{
        f"{name}:{i}": value
        for name, values in outputs.items() for i, value in enumerate(values)})
    with open(os.path.join(directory, backend + ".json"), "w") as f:
        json.dump({"errors": errors, "counts": {
            k: len(v) for k, v in outputs.items()}}, f)
    """
)


def _run(backend, mode, directory):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{backend} subprocess failed:\n{result.stderr}"
    with open(directory / f"{backend}.json") as f:
        meta = json.load(f)
    values = dict(np.load(directory / f"{backend}.npz"))
    outputs = {}
    for name, count in meta["counts"].items():
        outputs[name] = [values[f"{name}:{i}"] for i in range(count)]
    return outputs, meta["errors"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cross_backend")
    # TensorFlow randomises and saves the weights; JAX and PyTorch load them.
    runs = {"tensorflow": _run("tensorflow", "save", directory)}
    for backend in BACKENDS[1:]:
        runs[backend] = _run(backend, "load", directory)
    return runs


def _check(results, names):
    problems = []
    for name in names:
        errors = {b: results[b][1].get(name) for b in BACKENDS if name in results[b][1]}
        if errors:
            first = next(iter(errors))
            problems.append(f"{name}: fails on {sorted(errors)}:\n{errors[first]}")
            continue
        reference = results["tensorflow"][0][name]
        for backend in BACKENDS[1:]:
            outputs = results[backend][0][name]
            if len(outputs) != len(reference):
                problems.append(f"{name}: {backend} gives {len(outputs)} outputs")
                continue
            for i, (out, ref) in enumerate(zip(outputs, reference, strict=True)):
                if out.shape != ref.shape:
                    problems.append(
                        f"{name}[{i}]: {backend} shape {out.shape} != {ref.shape}"
                    )
                    continue
                difference = float(np.max(np.abs(out.astype("float64") - ref)))
                # 1e-5 of the output's scale: randomised deep conv stacks give
                # outputs of magnitude ~10-100, where float32 rounding of
                # different conv algorithms alone exceeds 1e-5 absolute.
                scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
                if not difference <= ATOL * scale:
                    problems.append(
                        f"{name}[{i}]: {backend} differs from TF by {difference:.2e} "
                        f"(output scale {scale:.3g})"
                    )
    assert not problems, "\n".join(problems)


def test_our_layers_agree_across_backends(results):
    for backend in BACKENDS:
        assert "import layers" not in results[backend][1], results[backend][1]
    _check(results, OWN)


def test_other_layers_and_losses_agree_across_backends(results):
    _check(results, OTHERS)
