"""Every `>>>` example in the package's docstrings runs and prints what it says."""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_resize
import keras_resize.ops  # noqa: F401 - used by examples

SKIP = {"keras_resize.demo", "keras_resize.cli"}


def modules_with_examples():
    names = []
    for info in pkgutil.walk_packages(keras_resize.__path__, "keras_resize."):
        if info.name in SKIP:
            continue
        module = importlib.import_module(info.name)
        finder = doctest.DocTestFinder()
        if any(test.examples for test in finder.find(module)):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    globs = {
        "np": np,
        "tf": tf,
        "keras": keras,
        "keras_resize": keras_resize,
        **vars(module),
    }
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    for test in finder.find(module, globs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
