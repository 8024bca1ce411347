"""A quiet console for the command-line entry points (`keras-resize`, the demo).

TensorFlow prints C++ log lines at import and at its first op (`Could not find
cuda drivers`, `failed call to cuInit`, grappler notes), some of them before
its own log level applies. `quiet_framework_logs()` sets the log levels and
imports Keras (and with it the backend) with the process's stderr briefly
pointed at `/dev/null`, so a user sees only the command's own output. Python
exceptions are unaffected: they are raised after stderr is restored.

Importing this module imports neither Keras nor TensorFlow.
"""

import contextlib
import logging
import os
import sys
import warnings


@contextlib.contextmanager
def _stderr_to_devnull():
    """Point file descriptor 2 at /dev/null (C and C++ writes included)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (notebooks)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_framework_logs():
    """Silence framework log noise for a command-line run; import Keras.

    Environment variables the user has set win (`TF_CPP_MIN_LOG_LEVEL=0`
    brings TensorFlow's logs back).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if "keras" not in sys.modules:
        with _stderr_to_devnull():
            import keras  # noqa: F401  (imports the backend, TensorFlow by default)
    if "tensorflow" in sys.modules:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        try:
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
        except ImportError:  # pragma: no cover - absl comes with TensorFlow
            pass


# The package's own command-line entry points: their console is quiet from the
# first import on (the package imports Keras, hence TensorFlow, on import).
_ENTRY_POINTS = ("keras-resize", "keras_resize.cli", "keras_resize.demo")


def _is_entry_point():
    argv = list(getattr(sys, "orig_argv", sys.argv))
    program = os.path.basename(argv[0]) if argv else ""
    if program in _ENTRY_POINTS or sys.argv[0].endswith("keras-resize"):
        return True
    return "-m" in argv and argv[argv.index("-m") + 1 :][:1] in (
        ["keras_resize.cli"],
        ["keras_resize.demo"],
    )


def import_keras_quietly():
    """Import Keras for `import keras_resize`, without TensorFlow's startup lines.

    TensorFlow writes C++ log lines while it is imported (`Could not find
    cuda drivers`, ...), before any log level applies. Unless the user asks
    for them with `TF_CPP_MIN_LOG_LEVEL=0`, stderr is pointed at /dev/null
    during that import only. For the
    package's own command-line entry points the log levels are also lowered
    (`quiet_framework_logs`).
    """
    if _is_entry_point():
        quiet_framework_logs()
        return
    if "keras" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        import keras  # noqa: F401

        return
    with _stderr_to_devnull():
        import keras  # noqa: F401
