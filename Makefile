# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv and install the package on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

.PHONY: venv demo test test-backend test-large fuzz bench saved-models lint clean data-debian

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	-$(MAKE) --no-print-directory data-debian
	touch $(STAMP)

# Fashion-MNIST ships in a Debian package; optional (the loaders say how to get it).
data-debian:
	@if [ ! -f $(FASHION) ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "installing Debian dataset-fashion-mnist"; \
		(apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) \
		|| echo "dataset-fashion-mnist not installed (optional)"; \
	fi

# The demo: every fixed resize method on real photos and digit canvases, then
# the learned-resizer comparison on a shortened schedule (1 seed, 3 epochs;
# the full 3-seed figures come from `make bench`), then the best resizer
# exported to SavedModel + TFLite (builtin ops only). Outputs in demo_outputs/.
demo: $(STAMP)
	$(BIN)/python -m keras_resize.demo
	$(BIN)/python -m benchmarks.compare

# The whole suite runs on TensorFlow; the ops, layers, losses and models tests
# run again on JAX and on PyTorch (CPU wheels, installed by the dev extra).
BACKEND_TESTS := tests/test_kernels.py tests/test_sampling.py tests/test_resize.py \
	tests/test_warp.py tests/test_pyramids.py tests/test_dual_sr.py \
	tests/test_losses.py tests/test_layers_resize.py tests/test_learned_resize.py \
	tests/test_downsizenet_resize.py tests/test_zoom.py tests/test_muller_resize.py

# Two pytest workers (pytest-xdist): one per core of the 2-core CI machine.
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(WORKERS)

test: $(STAMP)
	KERAS_BACKEND=tensorflow $(PYTEST)
	KERAS_BACKEND=jax $(PYTEST) $(BACKEND_TESTS)
	KERAS_BACKEND=torch $(PYTEST) $(BACKEND_TESTS)

# One backend at a time: make test-backend BACKEND=jax
test-backend: $(STAMP)
	KERAS_BACKEND=$(BACKEND) $(PYTEST) $(BACKEND_TESTS)

# The property-based tests (hypothesis) with 20x the examples of `make test`.
fuzz: $(STAMP)
	KERAS_RESIZE_FUZZ=1 KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -q -m property -p no:cacheprovider

test-large: $(STAMP)
	KERAS_BACKEND=tensorflow $(PYTEST) --run-large

# saved_models/: the deployable exports of every preset (SavedModel +
# builtins-only TFLite, and the export report), rebuilt from keras_resize/presets/.
saved-models: $(STAMP)
	rm -rf saved_models/*/
	for preset in $$($(BIN)/python -c "from keras_resize.presets import list_presets; print(' '.join(list_presets()))"); do \
		$(BIN)/keras-resize export --preset $$preset --output saved_models/$$preset || exit 1; \
	done

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
