"""limconn: exact limited connectivity for Keras LSTMs.

`import limconn` is light: it loads neither TensorFlow nor Keras, so designs, presets and
the command line start at once. The Keras layers (`limconn.MaskedLSTM`, `MaskedLSTMCell`,
`MaskedDense`, `FixedMask`) load on first use, which registers them for Keras
serialization; `limconn.load_model(path)` does that and loads a saved `.keras` model with
Keras's default `safe_mode=True`.
"""

from limconn import presets
from limconn.connectivity import (
    GATES,
    Connectivity,
    ConnectivityStats,
    load_mask_npy,
    mask_npy_bytes,
    save_mask_npy,
)
from limconn.strategies import STRATEGIES, Head, build_model, enforcement_of

_LAYERS = ("FixedMask", "MaskedDense", "MaskedLSTM", "MaskedLSTMCell", "WeightRule")

__all__ = [
    "GATES",
    "STRATEGIES",
    "Connectivity",
    "ConnectivityStats",
    "Head",
    "build_model",
    "enforcement_of",
    "load_mask_npy",
    "load_model",
    "mask_npy_bytes",
    "presets",
    "save_mask_npy",
    *_LAYERS,
]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAYERS:
        from limconn import layers

        return getattr(layers, name)
    raise AttributeError(f"module 'limconn' has no attribute {name!r}")


def load_model(path):
    """Loads a `.keras` model saved by limconn, with Keras's default `safe_mode=True`.

    Importing `limconn.layers` first registers the custom layers the model refers to.
    """
    import limconn.layers  # noqa: F401  (registers the layers with Keras)
    from limconn._tf import keras

    return keras.saving.load_model(path, safe_mode=True)
