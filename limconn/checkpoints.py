"""Checkpoints: a training job's state after its last finished epoch, so it can be resumed.

`limconn.training.train_group(checkpoint=PATH)` writes one at the end of every epoch it
finishes (never after an epoch a stop cut short), atomically and flushed to disk, so a
checkpoint survives the training process being killed mid-epoch. `train_group(resume_from=
read_checkpoint(PATH))` continues from it to the config's epoch count: the same weights and
optimizer state, the same per-epoch shuffling (drawn from the seed and the epoch), so the
resumed runs end where an uninterrupted group with the same seed would, to float rounding.

One `.npz` file (no pickle) holds:

```
meta              JSON: format, epoch (epochs finished), config, histories (one per design),
                  seconds (training time so far), data_hash (`Dataset.content_hash`)
design_<b>        design b's `.npz` bytes (`Connectivity.to_npz_bytes`), as uint8
initial_<b>_<i>   design b's initial weights (`RunResult.initial_weights`)
model_<i>         the group model's weights, in `model.weights` order
optimizer_<i>     the optimizer's variables, in `optimizer.variables` order
```

Where they live: a job's under the run store (`RunStore.checkpoint_path(workspace, job id)`,
private, in the workspace's folder); a stopped run's copy in its run folder
(`checkpoint.npz`, see `limconn.runs`). No Keras and no Streamlit here: the app's server reads
a checkpoint's config and designs to offer "Resume" without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from limconn.connectivity import Connectivity
from limconn.diskio import write_atomically
from limconn.trainconfig import TrainConfig

CHECKPOINT_FILE = "checkpoint.npz"
FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True, eq=False)
class Checkpoint:
    """A group's training state after `epoch` finished epochs (see the module docstring).

    Attributes:
        epoch: epochs finished; training resumes at the next one.
        config: the group's `TrainConfig` (its `epochs` is where a resume ends).
        designs: the designs, in branch order.
        histories: one list of per-epoch rows per design (as in `RunResult.history`).
        seconds: training time spent so far, which the resumed history continues from.
        data_hash: the `Dataset.content_hash` of the data trained on.
        initial_weights: per design, its weights before the first step.
        model_weights: the group model's weights (`model.weights` order).
        optimizer_variables: the optimizer's variables (`optimizer.variables` order).
    """

    epoch: int
    config: TrainConfig
    designs: tuple[Connectivity, ...]
    histories: tuple[list[dict], ...]
    seconds: float
    data_hash: str
    initial_weights: tuple[list[np.ndarray], ...]
    model_weights: list[np.ndarray]
    optimizer_variables: list[np.ndarray]

    def check_resumable(self, data_hash: str) -> None:
        """Refuses to resume with data other than what the checkpoint trained on, or when
        every epoch already ran.

        Raises:
            ValueError: naming both hashes' beginnings, or the epochs.
        """
        if data_hash != self.data_hash:
            raise ValueError(
                "Resume with the data the run trained on: its hash was "
                f"{self.data_hash[:12]}…. Received: data with hash {data_hash[:12]}…"
            )
        if self.epoch >= self.config.epochs:
            raise ValueError(f"This run already finished all its {self.config.epochs} epochs; "
                             f"there is nothing to resume. Received: a checkpoint at epoch "
                             f"{self.epoch}")


def write_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> None:
    """Writes `checkpoint` to `path` atomically (a whole old or new file after any crash)."""
    meta = {"format": FORMAT_VERSION, "epoch": checkpoint.epoch,
            "config": checkpoint.config.to_dict(), "histories": list(checkpoint.histories),
            "seconds": checkpoint.seconds, "data_hash": checkpoint.data_hash}
    arrays = {"meta": np.array(json.dumps(meta, allow_nan=True))}
    for branch, design in enumerate(checkpoint.designs):
        arrays[f"design_{branch}"] = np.frombuffer(design.to_npz_bytes(), np.uint8)
        arrays.update(_numbered(f"initial_{branch}", checkpoint.initial_weights[branch]))
    arrays.update(_numbered("model", checkpoint.model_weights))
    arrays.update(_numbered("optimizer", checkpoint.optimizer_variables))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomically(Path(path), buffer.getvalue())


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Reads what `write_checkpoint` wrote (never unpickling).

    Raises:
        ValueError: if there is no checkpoint at `path`, or it is not a whole one; the message
            names the file.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(str(arrays["meta"]))
        designs = []
        while f"design_{len(designs)}" in arrays:
            designs.append(Connectivity.load(io.BytesIO(
                arrays[f"design_{len(designs)}"].tobytes())))
        return Checkpoint(
            epoch=int(meta["epoch"]), config=TrainConfig.from_dict(meta["config"]),
            designs=tuple(designs), histories=tuple(meta["histories"]),
            seconds=float(meta["seconds"]), data_hash=str(meta["data_hash"]),
            initial_weights=tuple(_listed(arrays, f"initial_{b}") for b in range(len(designs))),
            model_weights=_listed(arrays, "model"),
            optimizer_variables=_listed(arrays, "optimizer"),
        )
    except FileNotFoundError:
        raise ValueError(f"There is no checkpoint to resume from: {path.name} does not "
                         "exist (only stopped or interrupted runs keep one).") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise ValueError(f"The checkpoint {path.name} is broken: {error}") from error


def _numbered(prefix: str, values: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}_{index}": np.asarray(value) for index, value in enumerate(values)}


def _listed(arrays: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    values = []
    while f"{prefix}_{len(values)}" in arrays:
        values.append(arrays[f"{prefix}_{len(values)}"])
    return values
