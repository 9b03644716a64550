"""Data for training masked LSTMs: synthetic tasks and uploaded CSV / NPY / NPZ files.

Every source becomes one `Dataset` (`limconn.data.dataset`): float32 sequences `x` of shape
`(samples, timesteps, features)` and one target per sequence, or one per step with optional
per-step loss weights (`flipflop`, `delayed_match`, an `.npz` with `weights`).

* `tasks`: synthetic tasks, small pure functions registered in `TASKS` and built with
  `make_task`; their keyword parameters become form fields in the app and options in the CLI.
* `neurogym_task`: the `neurogym` task, NeuroGym's environments as per-step datasets
  (optional neurogym package, imported only when the task is built).
* `tables`: CSV time series cut into sliding windows (`csv_columns`, `load_csv`).
* `arrays`: sequences and targets saved with NumPy (`load_npz`, `load_npy`).
* `uploads`: `load_upload`, which picks the loader by the file's extension.

Uploads take a path or a binary file object (such as Streamlit's `UploadedFile`) and are read
through `limconn.npio`: sizes are checked before anything is read or allocated, nothing is
unpickled, and every refusal is a `ValueError` that says what came and what to do.

Nothing here imports Streamlit. Every public name is available from `limconn.data` itself:

>>> from limconn import data
>>> data.make_task("adding", num_samples=8, timesteps=10).x.shape
(8, 10, 2)
"""

from limconn.data._checks import MAX_ARRAY_BYTES, MAX_UPLOAD_BYTES
from limconn.data.arrays import load_npy, load_npz
from limconn.data.dataset import KINDS, Dataset, Normalization
from limconn.data.neurogym_task import neurogym, neurogym_available
from limconn.data.tables import MISSING_POLICIES, csv_columns, example_csv_path, load_csv
from limconn.data.tasks import (
    TASKS,
    adding,
    channels,
    copy,
    delayed_match,
    flipflop,
    largest_sum,
    make_task,
    sine,
)
from limconn.data.uploads import load_upload

__all__ = [
    "KINDS",
    "MAX_ARRAY_BYTES",
    "MAX_UPLOAD_BYTES",
    "MISSING_POLICIES",
    "TASKS",
    "Dataset",
    "Normalization",
    "adding",
    "channels",
    "copy",
    "csv_columns",
    "delayed_match",
    "example_csv_path",
    "flipflop",
    "largest_sum",
    "load_csv",
    "load_npy",
    "load_npz",
    "load_upload",
    "make_task",
    "neurogym",
    "neurogym_available",
    "sine",
]
