"""The one place limconn imports Keras (and with it TensorFlow), quietly.

TensorFlow's shared libraries print start-up lines to the process's stderr while they load
(`Could not find cuda drivers...`, oneDNN notes), from C++ static initialisers that run before
`TF_CPP_MIN_LOG_LEVEL` or absl's logging can take effect, so no environment variable stops
them. Here the import runs with file descriptor 2 pointed at a temporary file: on success
the captured lines are dropped, on failure they are written to stderr before the error, so
nothing is lost when something is wrong. `TF_CPP_MIN_LOG_LEVEL` defaults to 3, which quiets
TensorFlow's logging after start-up.

Every module of limconn that needs Keras does `from limconn._tf import keras`, inside the
functions that need it where the module itself must stay light (`import limconn` loads no
TensorFlow).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


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
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_captured():
        import keras
        import tensorflow  # noqa: F401  (the backend: load it here, while stderr is captured)
    return keras


keras = _import_keras()
