"""limconn: exact limited connectivity for Keras LSTMs.

`import limconn` registers its Keras layers, so saved `.keras` models load with
`keras.saving.load_model(path)` and Keras's default `safe_mode=True`.
"""

from limconn.connectivity import Connectivity, ConnectivityStats, load_mask_npy, save_mask_npy

__all__ = ["Connectivity", "ConnectivityStats", "load_mask_npy", "save_mask_npy"]
__version__ = "0.1.0"
