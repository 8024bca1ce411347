# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv and install the package on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: venv demo test test-large bench lint clean data-debian

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
	$(BIN)/keras-resize compare

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-large: $(STAMP)
	$(BIN)/python -m pytest -q --run-large

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
