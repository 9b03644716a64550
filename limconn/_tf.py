"""The one place limconn loads Keras and its backend, and decides which backend that is.

Which backend: `KERAS_BACKEND` when it is set (`tensorflow` or `jax`), otherwise limconn's
`DEFAULT_BACKEND`; `backend_name()` is that rule, and it loads nothing, so the CLI and the
app's server can check the setting at start-up without loading a backend. Keras's own
`~/.keras/keras.json` is not consulted: the same environment gives the same backend on every
machine, and the job queue's worker processes, which inherit the environment, train on the
backend the server was started with. A process holds one backend for its lifetime (Keras
reads the setting once, at import).

Loading is quiet. TensorFlow's shared libraries print start-up lines to the process's
stderr while they load (`Could not find cuda drivers...`, oneDNN notes), from C++ static
initialisers that run before `TF_CPP_MIN_LOG_LEVEL` or absl's logging can take effect, so no
environment variable stops them. Here the import runs with file descriptor 2 pointed at a
temporary file: on success the captured lines are dropped, on failure they are written to
stderr before the error, so nothing is lost when something is wrong. `TF_CPP_MIN_LOG_LEVEL`
defaults to 3, which quiets TensorFlow's logging after start-up.

Every module of limconn that needs Keras does `from limconn._tf import keras`, inside the
functions that need it where the module itself must stay light (`import limconn` loads no
backend): the name `keras` is loaded on first access.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Mapping

BACKENDS = ("tensorflow", "jax")
"""The Keras backends limconn runs on (its tests pass on each). Keras's `torch` backend runs
the LSTM as a Python loop per time step (keras#22874), far too slow to train on."""

DEFAULT_BACKEND = "jax"
"""The backend when `KERAS_BACKEND` is unset: the one that trains the app's default run
fastest, JAX (7-9x faster per epoch than TensorFlow on 2 CPU cores; `python -m
benchmarks.backends` compares them, README, Performance). TensorFlow is an optional extra
(`requirements-tensorflow.txt`)."""

_ENVIRONMENT_VARIABLE = "KERAS_BACKEND"


def backend_name(environ: Mapping[str, str] | None = None) -> str:
    """The backend limconn trains on: `KERAS_BACKEND`, or `DEFAULT_BACKEND` when unset.

    Loads nothing. A process that has already loaded Keras keeps the backend it loaded.

    Example:

    >>> backend_name({"KERAS_BACKEND": "jax"})
    'jax'
    >>> backend_name({})
    'jax'

    Raises:
        ValueError: for a backend limconn does not run on, naming the received value.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(_ENVIRONMENT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_BACKEND
    if value not in BACKENDS:
        raise ValueError(
            f"{_ENVIRONMENT_VARIABLE} must be one of {', '.join(BACKENDS)} (or unset: "
            f"{DEFAULT_BACKEND}). Received: {_ENVIRONMENT_VARIABLE}={value!r}"
        )
    return value


@contextlib.contextmanager
def _stderr_captured():
    """Points fd 2 at a temporary file; replays what was written if the body raises."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (e.g. a closed stderr): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _import_keras():
    if "keras" in sys.modules:  # loaded before limconn asked: its backend stays
        return sys.modules["keras"]
    backend = backend_name()
    os.environ[_ENVIRONMENT_VARIABLE] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_captured():
        import keras

        importlib.import_module(backend)  # the backend's own package, loaded while captured
    if backend != "tensorflow":
        _keep_tensorflow_out()
    return keras


def _keep_tensorflow_out() -> None:
    """Tells Keras that TensorFlow is not installed, as in an install without it.

    On every backend Keras imports TensorFlow whenever it is installed: to seed it
    (`keras.utils.set_random_seed`, which every run calls) and to recognise its types when it
    saves a model. limconn uses no TensorFlow on another backend, and loading it there cost a
    JAX process 8-12 s more start-up and 500 MB more memory (841 against 344 MB peak, on the
    2-core development machine). Keras reads TensorFlow's presence from one lazy module; a
    Keras without that attribute gets it added and loads TensorFlow as before, nothing worse
    (`tests/test_backends.py` would notice).
    """
    from keras.src.utils import module_utils

    module_utils.tensorflow._available = False


def __getattr__(name: str):
    if name == "keras":
        keras = _import_keras()
        globals()["keras"] = keras
        return keras
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
