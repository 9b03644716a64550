"""limconn: exact limited connectivity for Keras LSTMs.

`import limconn` registers its Keras layers, so saved `.keras` models load with
`keras.saving.load_model(path)` and Keras's default `safe_mode=True`.
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
from limconn.layers import FixedMask, MaskConstraint, MaskedDense, MaskedLSTM, MaskedLSTMCell
from limconn.strategies import STRATEGIES, Head, build_model

__all__ = [
    "GATES",
    "STRATEGIES",
    "Connectivity",
    "ConnectivityStats",
    "FixedMask",
    "Head",
    "MaskConstraint",
    "MaskedDense",
    "MaskedLSTM",
    "MaskedLSTMCell",
    "build_model",
    "load_mask_npy",
    "mask_npy_bytes",
    "presets",
    "save_mask_npy",
]
__version__ = "0.1.0"
