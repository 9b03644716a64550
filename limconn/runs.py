"""The run store: one folder per finished (or stopped) run, grouped by workspace.

A run folder holds everything needed to look at a run again, or to use its model, without
the process that trained it:

```
<root>/<workspace folder>/<run id>/   the workspace's name locally, a keyed hash of its id
                                    on a server (`RunStore(folder_name=)`)
    run.json       what the run was: id, name, status, timestamps, config, strategy, what
                   the strategy enforces (`enforcement`), dataset, the painted design's
                   summary (`design`) and the trained model's densities and effective
                   parameters (`trained`), metrics, max masked weight, library versions;
                   the visitor's `tags` and `note` once set (`RunStore.edit`)
    history.csv    one row per finished epoch: epoch, loss, val_loss, metrics, seconds
    masks.npz      the design, exactly as `Connectivity.save` writes it
    weights.npz    the weights the model computes with: the LSTM's per gate, kernel
                   (4, D, U), recurrent_kernel (4, U, U), bias (4, U); readout_kernel
                   (U, outputs), readout_bias; projection_kernel (D, U) for
                   sparse_projection, whose LSTM kernel is then (4, U, U)
    model.keras    the trained model; loads with Keras's default safe_mode after
                   `import limconn`
    initial.weights.h5
                   the model's weights before the first step, for `model.load_weights`
                   (a retrain from them: `TrainConfig.init_from`); folders written before
                   limconn kept them lack it, and read all the same
    events.out.tfevents.limconn
                   TensorBoard's events: per epoch the losses and metrics of
                   history.csv, the learning rate, and histograms of the effective
                   weights (`effective/kernel`, ...; masked entries are exactly 0), so
                   `tensorboard --logdir` a store's root or any run folder's parent shows
                   the runs; older folders lack it
    evaluations/   results of `limconn.evaluation` cached by the app, one JSON per dataset
    checkpoint.npz a stopped run's state after its last finished epoch, which `train
                   --resume` continues from (`limconn.checkpoints`); only stopped runs
```

`run.json`'s `dataset.hash` is the `Dataset.content_hash` of the data the run trained on
(`RunInfo.data_hash`; `""` for runs recorded before it was kept): Compare says when runs did
not see the same data.

A job's checkpoint, written while it trains, lies in the workspace's folder under
`.checkpoints/<job id>.npz` (`RunStore.checkpoint_path`), which `list` never reads as a run;
`prune` keeps as many checkpoints as runs (`Limits.max_runs`).

`write_run_folder` and `read_run_folder` work on a run folder anywhere (the CLI's
`train --out DIR`); `RunStore` keeps run folders under a root, `$LIMCONN_HOME/runs`, or
`~/.limconn/runs` when `LIMCONN_HOME` is not set.

Writes are atomic and durable: a run folder is written in full under a temporary name
beginning with `.tmp-` next to its final place, flushed to disk, then renamed, so a reader
(even after a power cut) sees a whole run or none. A process
killed while writing leaves only a `.tmp-*` folder, which `RunStore.list` reports in
`RunStore.problems` (with broken folders of any other kind) and skips: one bad folder never
hides the others.

Example:

>>> from limconn import data, presets, training
>>> dataset = data.make_task("adding", num_samples=200, timesteps=10)
>>> design = presets.random(2, 8, density=0.5, seed=1)
>>> result = training.train(training.TrainConfig(epochs=2), design, dataset)  # doctest: +SKIP
>>> store = RunStore()
>>> info = store.save(result, workspace="demo")  # doctest: +SKIP
>>> store.load(info.id, "demo").history["val_loss"]  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import io
import json
import math
import os
import platform
import re
import secrets
import shutil
import zipfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import limconn
from limconn import settings
from limconn.checkpoints import CHECKPOINT_FILE
from limconn.connectivity import Connectivity, mask_npy_bytes
from limconn.diskio import fsync_folder, fsync_path, locked, private_folder, write_atomically
from limconn.enforcement import trained_summary
from limconn.strategies import enforcement_of
from limconn.trainconfig import TrainConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import pandas as pd

    from limconn.training import RunResult

RUN_FILE = "run.json"
HISTORY_FILE = "history.csv"
MASKS_FILE = "masks.npz"
WEIGHTS_FILE = "weights.npz"
MODEL_FILE = "model.keras"
INITIAL_WEIGHTS_FILE = "initial.weights.h5"
EVENTS_FILE = "events.out.tfevents.limconn"
"""TensorBoard finds event files by the `tfevents` in their name."""
REQUIRED_RUN_FILES = (RUN_FILE, HISTORY_FILE, MASKS_FILE, WEIGHTS_FILE, MODEL_FILE)
"""The files every readable run folder has."""
RUN_FILES = (*REQUIRED_RUN_FILES, INITIAL_WEIGHTS_FILE, EVENTS_FILE)
"""The files `write_run_folder` writes; older folders may lack the ones not required."""
MASK_FILES = {
    "input_mask": "input_mask.npy",
    "recurrent_mask": "recurrent_mask.npy",
    "output_mask": "output_mask.npy",
}
"""The `.npy` file each mask of a design is written to (by `export_zip` and the CLI)."""

TEMP_PREFIX = ".tmp-"
"""Folders being written (or deleted) carry this prefix until they are complete (or gone)."""

FORMAT_VERSION = 1
MAX_TAG_LENGTH = 40
MAX_NOTE_LENGTH = 10_000
HISTORY_LEADING_COLUMNS = ("epoch", "loss", "val_loss")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def default_root() -> Path:
    """`$LIMCONN_HOME/runs`, or `~/.limconn/runs` when `LIMCONN_HOME` is not set."""
    return settings.home() / "runs"


def check_name(value: str, what: str) -> str:
    """Returns `value` if it is a safe folder name for a workspace or run id.

    Safe: 1-100 characters from letters, digits, `.`, `_` and `-`, not starting with `.`,
    `_` or `-`. So a name can never be `..`, hold a path separator or look like a
    temporary folder.

    Raises:
        ValueError: naming `what` and the received value otherwise.
    """
    if not isinstance(value, str) or not _SAFE_NAME.fullmatch(value):
        raise ValueError(
            f"{what} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter "
            f"or digit. Received: {what}={value!r}"
        )
    return value


def new_run_id() -> str:
    """A unique run id that sorts by creation time: UTC timestamp, microseconds, random hex."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return f"{now:%Y%m%d-%H%M%S-%f}-{secrets.token_hex(3)}"


def default_name(result: RunResult) -> str:
    """A run's name when none is given: the config's name, else design, strategy, dataset."""
    design = result.connectivity.name or "design"
    return result.config.name or f"{design}, {result.config.strategy}, {result.dataset_name}"


def write_run_folder(
    result: RunResult, folder: str | os.PathLike, *, run_id: str, name: str, workspace: str
) -> Path:
    """Writes `result` as a run folder at `folder`, atomically.

    Every file is written into a temporary sibling folder `.tmp-<folder name>-<random>`,
    which is then renamed to `folder`. A process killed midway leaves only the temporary
    folder, never a partial `folder`. A stopped run is written like a finished one, with
    its partial history.

    Args:
        result: what `limconn.training.train` returned.
        folder: the run folder to create; it must not exist yet. Its parent is created.
        run_id: the id recorded in `run.json` (a safe folder name).
        name: the run's display name.
        workspace: the workspace recorded in `run.json` (a safe folder name).

    Returns:
        The run folder's path.

    Raises:
        ValueError: if `folder` already exists, or `run_id` or `workspace` is not a safe name.
        OSError: if the files cannot be written; nothing is left behind then.
    """
    check_name(run_id, "run_id")
    check_name(workspace, "workspace")
    folder = Path(folder)
    if folder.exists():
        raise ValueError(f"{folder} already exists; choose a new run folder.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.parent / f"{TEMP_PREFIX}{folder.name}-{secrets.token_hex(4)}"
    temporary.mkdir()
    try:
        result.connectivity.save(temporary / MASKS_FILE)
        np.savez(temporary / WEIGHTS_FILE, **result.weights)
        _write_history(temporary / HISTORY_FILE, result.history)
        result.model.save(temporary / MODEL_FILE)
        _write_initial_weights(result, temporary / INITIAL_WEIGHTS_FILE)
        (temporary / EVENTS_FILE).write_bytes(result.events)
        if result.status == "stopped" and result.checkpoint is not None:
            shutil.copyfile(result.checkpoint, temporary / CHECKPOINT_FILE)
        record = _run_record(result, run_id=run_id, name=name, workspace=workspace)
        (temporary / RUN_FILE).write_text(_json_text(record), encoding="utf-8")
        fsync_folder(temporary)  # on disk before the name says the run is whole
        os.rename(temporary, folder)
        fsync_path(folder.parent)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return folder


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What `run.json` says about a run, plus where the run lies.

    `id` and `workspace` are the names of the run's folder and of the folder above it.

    Attributes:
        id: the run id.
        workspace: the workspace's folder name (the id itself in a local store, its keyed
            hash on a server).
        name: display name.
        status: `"done"` or `"stopped"`.
        stop_reason: why a stopped run stopped, or `""`.
        created: ISO-8601 UTC time training began.
        finished: ISO-8601 UTC time the run was saved.
        strategy: the strategy's name.
        dataset: the dataset's name.
        design: the design's name (the preset's, or `""`).
        metrics: final and best values, epochs run, wall time (`RunResult.metrics`).
        max_masked_weight: largest |weight| at a masked position (0.0), or `None`.
        path: the run folder.
        data_hash: the `Dataset.content_hash` of its data, or `""` if not recorded.
        tags: the labels a visitor gave the run (`RunStore.edit`), sorted; `()` for none.
        note: a free-text note on the run (`RunStore.edit`), or `""`.
    """

    id: str
    workspace: str
    name: str
    status: str
    stop_reason: str
    created: str
    finished: str
    strategy: str
    dataset: str
    design: str
    metrics: dict
    max_masked_weight: float | None
    path: Path
    data_hash: str = ""
    tags: tuple[str, ...] = ()
    note: str = ""

    @property
    def best_val_loss(self) -> float | None:
        """The lowest validation loss, or `None` for a run without validation data."""
        return self.metrics.get("best_val_loss")

    @property
    def epochs(self) -> int:
        """Epochs finished (a stopped run may have fewer than configured)."""
        return int(self.metrics.get("epochs_run", 0))

    @classmethod
    def read(cls, folder: Path) -> RunInfo:
        """Reads and checks a run folder's `run.json` and the presence of its files.

        Raises:
            ValueError: naming what is missing or malformed.
        """
        return cls.from_record(_read_record(folder), folder)

    @classmethod
    def from_record(cls, record: dict, folder: Path) -> RunInfo:
        """The summary of a `run.json` already read from `folder`; checks the files too.

        Raises:
            ValueError: naming what is missing or malformed.
        """
        missing = [name for name in REQUIRED_RUN_FILES if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"the run folder lacks {', '.join(missing)}")
        return cls(
            id=folder.name,
            workspace=folder.parent.name,
            name=_field(record, "name", str),
            status=_field(record, "status", str),
            stop_reason=_field(record, "stop_reason", str),
            created=_field(record, "created", str),
            finished=_field(record, "finished", str),
            strategy=_field(record, "strategy", str),
            dataset=_field(_field(record, "dataset", dict), "name", str),
            design=_field(_field(record, "design", dict), "name", str),
            metrics=_field(record, "metrics", dict),
            max_masked_weight=_field(record, "max_masked_weight", (float, int, type(None))),
            path=folder,
            data_hash=_field({"hash": ""} | record["dataset"], "hash", str),
            tags=tuple(_field({"tags": [], **record}, "tags", list)),
            note=_field({"note": "", **record}, "note", str),
        )


@dataclasses.dataclass(frozen=True, eq=False)
class Run:
    """A run read back from its folder.

    Attributes:
        info: the summary (`RunInfo`).
        record: everything `run.json` says (dataset description, design stats, versions, ...).
        config: the `TrainConfig` it was trained with.
        history: one row per finished epoch; columns `epoch`, `loss`, `val_loss` (empty
            without validation data), then metrics and `seconds`.
        connectivity: the design.
        weights: `kernel` `(4, input_dim, units)`, `recurrent_kernel` `(4, units, units)`,
            `bias` `(4, units)`.
    """

    info: RunInfo
    record: dict
    config: TrainConfig
    history: pd.DataFrame
    connectivity: Connectivity
    weights: dict[str, np.ndarray]

    def load_model(self):
        """The trained `keras.Model`, loaded with Keras's default `safe_mode=True` (see
        `limconn.load_model`, which registers limconn's layers first)."""
        return limconn.load_model(self.info.path / MODEL_FILE)


def read_run_folder(folder: str | os.PathLike) -> Run:
    """Reads a whole run folder back (one written by `write_run_folder`, wherever it lies).

    Raises:
        ValueError: if the folder is not a complete, readable run; the message says what is
            wrong.
    """
    folder = Path(folder)
    try:
        record = _read_record(folder)
        info = RunInfo.from_record(record, folder)
        config = TrainConfig.from_dict(_field(record, "config", dict))
        import pandas as pd  # loaded on first use: listing runs stays light

        history = pd.read_csv(folder / HISTORY_FILE)
        missing = [c for c in HISTORY_LEADING_COLUMNS if c not in history.columns]
        if missing:
            raise ValueError(f"{HISTORY_FILE} lacks column(s) {', '.join(missing)}")
        connectivity = Connectivity.load(folder / MASKS_FILE)
        with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as archive:
            weights = {key: archive[key] for key in archive.files}
    except (ValueError, TypeError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"The run {folder.name} is broken: {_without_path(error)}") from error
    return Run(info, record, config, history, connectivity, weights)


class RunStore:
    """Runs on disk, one folder each, grouped by workspace; see the module docstring.

    A store is a cheap handle on a folder: create one where needed (e.g. per session).
    `problems` describes the folders the last `list` skipped.

    Args:
        root: the folder holding one folder per workspace; `default_root()` when `None`.
        folder_name: maps a workspace id to its folder's name, which `run.json` also
            records; the server's is a keyed hash (`limconn.workspaces.folder_name`), so no
            id lies on disk in clear. `None`: the id itself (the CLI's local store).

    Example:

    >>> store = RunStore("/tmp/limconn-runs")
    >>> [info.name for info in store.list("default")]  # doctest: +SKIP
    ['random, kernel, adding']
    """

    def __init__(self, root: str | os.PathLike | None = None,
                 folder_name: Callable[[str], str] | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.folder_name = folder_name
        self.problems: list[tuple[Path, str]] = []

    def save(
        self, result: RunResult, workspace: str = "default", name: str | None = None,
        keep: int | None = None,
    ) -> RunInfo:
        """Saves a finished or stopped run under a new id.

        Args:
            result: what `limconn.training.train` returned.
            workspace: the workspace id (a safe folder name).
            name: display name; `default_name(result)` when `None` or empty.
            keep: the most runs the workspace keeps (`Limits.max_runs`); the oldest beyond
                it are deleted after this one is saved. `None` keeps every run.

        Raises:
            ValueError: if `workspace` is not a safe folder name, or the disk refused the
                run (nothing of it is left then).
        """
        run_id = new_run_id()
        folder = self._workspace_folder(workspace) / run_id
        try:
            write_run_folder(result, folder, run_id=run_id, name=name or default_name(result),
                             workspace=folder.parent.name)
        except OSError as error:  # e.g. a full disk; write_run_folder left nothing behind
            raise ValueError(f"The run could not be saved: {_without_path(error)}.") from error
        if keep is not None:
            self.prune(workspace, keep)
        return RunInfo.read(folder)

    def prune(self, workspace: str, keep: int) -> list[str]:
        """Deletes the workspace's runs beyond its newest `keep`, and its job checkpoints
        beyond the newest `keep` (`checkpoint_path`); returns the runs' ids.

        Holds the workspace's lock, so two workers saving at the run limit at once delete
        each old run once; a run already gone (deleted by hand meanwhile) is skipped.

        Raises:
            ValueError: if `workspace` is not a safe folder name.
        """
        folder = self._workspace_folder(workspace)
        with locked(folder):
            doomed = self.list(workspace)[keep:]
            for info in doomed:
                _remove_run_folder(info.path)
            for path in _newest_first((folder / ".checkpoints").glob("*.npz"))[keep:]:
                path.unlink(missing_ok=True)
        return [info.id for info in doomed]

    def list(self, workspace: str | None = None) -> list[RunInfo]:
        """The readable runs of one workspace (or of all when `None`), newest first.

        Broken folders (unfinished writes, missing files, unreadable `run.json`) are skipped
        and described in `self.problems` as `(path, message)` pairs.

        Raises:
            ValueError: if `workspace` is not a safe folder name.
        """
        self.problems = []
        if workspace is None:
            workspaces = self._subfolders(self.root, "workspace")
        else:
            workspaces = [self._workspace_folder(workspace)]
        runs = []
        for folder in workspaces:
            for run_folder in self._subfolders(folder, "run id"):
                try:
                    runs.append(RunInfo.read(run_folder))
                except ValueError as error:
                    self.problems.append((run_folder, str(error)))
        return sorted(runs, key=lambda info: (info.created, info.id), reverse=True)

    def load(self, run_id: str, workspace: str = "default") -> Run:
        """Reads a whole run back.

        Raises:
            ValueError: for an unsafe name, a run that does not exist, or a broken run (the
                message says what is wrong).
        """
        return read_run_folder(self._run_folder(run_id, workspace))

    def rename(self, run_id: str, workspace: str, new_name: str) -> RunInfo:
        """Changes a run's display name (`edit` with a name alone)."""
        return self.edit(run_id, workspace, name=new_name)

    def edit(self, run_id: str, workspace: str, *, name: str | None = None,
             tags: Iterable[str] | None = None, note: str | None = None) -> RunInfo:
        """Changes what a visitor says about a run, rewriting `run.json` atomically and under
        the workspace's lock; every value is checked before anything is written. `None`
        leaves a field as it is.

        Args:
            run_id, workspace: the run.
            name: the display name; not empty (surrounding spaces dropped).
            tags: the run's tags, replacing the old ones (empty: none); each 1-40 printable
                characters; duplicates and surrounding spaces dropped. Compare filters runs
                by tag (`limconn.compare.with_tags`).
            note: free text of at most `MAX_NOTE_LENGTH` characters (`""`: none).

        Raises:
            ValueError: naming the bad value, or for an unsafe id or a missing or broken run.
        """
        changes = {}
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"A run's name must be non-empty text. Received: {name!r}")
            changes["name"] = name.strip()
        if tags is not None:
            if isinstance(tags, str):
                raise ValueError(f"Give tags as a list of texts. Received: {tags!r}")
            for tag in tags:
                text = tag.strip() if isinstance(tag, str) else ""
                if not 1 <= len(text) <= MAX_TAG_LENGTH or not text.isprintable():
                    raise ValueError(f"A tag must be 1-{MAX_TAG_LENGTH} printable characters. "
                                     f"Received: {tag!r}")
            changes["tags"] = sorted({tag.strip() for tag in tags})
        if note is not None:
            if not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH:
                shown = f"{len(note):,} characters" if isinstance(note, str) else repr(note)
                raise ValueError(f"A note must be text of at most {MAX_NOTE_LENGTH:,} "
                                 f"characters. Received: {shown}")
            changes["note"] = note.strip()
        folder = self._run_folder(run_id, workspace)
        with locked(folder.parent):
            record = _read_record(folder)
            record.update(changes)
            write_atomically(folder / RUN_FILE, _json_text(record).encode("utf-8"))
        return RunInfo.read(folder)

    def delete(self, run_id: str, workspace: str = "default") -> None:
        """Deletes a run folder.

        The folder is first renamed to a `.tmp-` name, so a process killed while deleting
        leaves a folder that `list` reports as unfinished, not a half-deleted run.

        Raises:
            ValueError: for an unsafe name or a run that does not exist.
        """
        _remove_run_folder(self._run_folder(run_id, workspace))

    def export_zip(self, run_id: str, workspace: str = "default") -> bytes:
        """The run folder as the bytes of a `.zip`, with each mask also as an `.npy` file.

        The archive holds one folder named after the run id: the run's files (those of
        `RUN_FILES` it has) plus `input_mask.npy`, `recurrent_mask.npy` and
        `output_mask.npy`.

        Raises:
            ValueError: for an unsafe name, or a missing or broken run.
        """
        run = self.load(run_id, workspace)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in RUN_FILES:
                if (run.info.path / name).is_file():
                    archive.write(run.info.path / name, f"{run_id}/{name}")
            for field, name in MASK_FILES.items():
                archive.writestr(
                    f"{run_id}/{name}", mask_npy_bytes(getattr(run.connectivity, field))
                )
        return buffer.getvalue()

    def checkpoint_path(self, workspace: str, key: str) -> Path:
        """Where a job's checkpoint lies while it trains and after it stopped:
        `<workspace folder>/.checkpoints/<key>.npz`, the folder created privately.

        Raises:
            ValueError: if `workspace` or `key` is not a safe name.
        """
        folder = private_folder(self._workspace_folder(workspace) / ".checkpoints")
        return folder / f"{check_name(key, 'checkpoint key')}.npz"

    def _workspace_folder(self, workspace: str) -> Path:
        check_name(workspace, "workspace")
        return self.root / (workspace if self.folder_name is None else
                            self.folder_name(workspace))

    def _run_folder(self, run_id: str, workspace: str) -> Path:
        folder = self._workspace_folder(workspace) / check_name(run_id, "run_id")
        if not folder.is_dir():
            raise ValueError(f"No run {run_id!r} in workspace {workspace!r}.")
        return folder

    def _subfolders(self, folder: Path, what: str) -> list[Path]:
        """The folders in `folder` with safe names; reports unfinished and unsafe ones."""
        if not folder.is_dir():
            return []
        found = []
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(TEMP_PREFIX):
                self.problems.append(
                    (entry, "unfinished: a process stopped while writing or deleting this "
                            "folder; it is safe to delete")
                )
            elif entry.is_dir() and not entry.name.startswith("."):
                try:
                    found.append(folder / check_name(entry.name, what))
                except ValueError as error:
                    self.problems.append((entry, str(error)))
        return found


def _newest_first(paths) -> list[Path]:
    """`paths` by modification time, newest first; one deleted meanwhile (a worker's
    finished checkpoint) is left out."""
    dated = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            dated.append((path.stat().st_mtime, path))
    return [path for _, path in sorted(dated, reverse=True)]


def _remove_run_folder(folder: Path) -> None:
    """Renames a run folder to a `.tmp-` name, then deletes it: a process killed meanwhile
    leaves a folder `list` reports as unfinished, not a half-deleted run. One already gone
    is not an error."""
    doomed = folder.parent / f"{TEMP_PREFIX}deleting-{folder.name}-{secrets.token_hex(4)}"
    try:
        os.rename(folder, doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed)


def _run_record(result: RunResult, *, run_id: str, name: str, workspace: str) -> dict:
    """The contents of `run.json`."""
    finished = datetime.datetime.now(datetime.timezone.utc)
    created = finished - datetime.timedelta(seconds=result.wall_time)
    design = result.connectivity
    stats = design.stats()
    enforced = enforcement_of(result.config.strategy)
    return {
        "format": FORMAT_VERSION,
        "id": run_id,
        "name": name,
        "workspace": workspace,
        "status": result.status,
        "stop_reason": result.stop_reason,
        "created": created.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "config": result.config.to_dict(),
        "strategy": result.config.strategy,
        "enforcement": enforced.record(),
        "dataset": {
            "name": result.dataset_name,
            "description": result.dataset_description,
            "kind": result.kind,
            "hash": result.data_hash,
        },
        "design": {
            "name": design.name,
            "input_dim": design.input_dim,
            "units": design.units,
            "per_gate": design.per_gate,
            "metadata": design.metadata,
            "input_density": stats.input_density,
            "recurrent_density": stats.recurrent_density,
            "output_density": stats.output_density,
            "effective_parameters": stats.effective_parameters,
            "dense_parameters": stats.dense_parameters,
            "parameter_ratio": stats.parameter_ratio,
        },
        "trained": trained_summary(enforced, design),
        "metrics": result.metrics,
        "max_masked_weight": result.max_masked_weight,
        "versions": _versions(),
    }


def _write_initial_weights(result: RunResult, path: Path) -> None:
    """Keras's `.weights.h5` of the model as it was before the first step.

    Written through a clone (same layers, masks and shapes) holding the initial weights,
    so the file loads with `load_weights` into any model of the same strategy and sizes.
    """
    from limconn._tf import keras

    model = keras.models.clone_model(result.model)
    model.set_weights(result.initial_weights)
    model.save_weights(path)


def _versions() -> dict[str, str | None]:
    """limconn's, Keras's, the backend's (named under `backend`), NumPy's and Python's."""
    from limconn._tf import keras  # loaded already: the run was trained

    backend = keras.config.backend()
    versions = {"limconn": limconn.__version__, "backend": backend}
    for package in ("keras", backend, "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["python"] = platform.python_version()
    return versions


def _json_text(record: dict) -> str:
    """Strict JSON: NaN and infinities (a diverged loss) are written as null."""
    return json.dumps(_finite(record), indent=2, allow_nan=False) + "\n"


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _write_history(path: Path, history: list[dict]) -> None:
    """`history.csv`: `epoch`, `loss`, `val_loss` first (always present), then the rest."""
    columns = list(HISTORY_LEADING_COLUMNS)
    for row in history:
        columns += [key for key in row if key not in columns]
    if "seconds" in columns:
        columns.append(columns.pop(columns.index("seconds")))
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(history)


def _read_record(folder: Path) -> dict:
    path = folder / RUN_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"the run folder has no {RUN_FILE}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{RUN_FILE} cannot be read: {_without_path(error)}") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{RUN_FILE} is not valid JSON: {error}") from error
    if not isinstance(record, dict):
        raise ValueError(f"{RUN_FILE} must hold a JSON object. Received: {type(record).__name__}")
    return record


def _field(record: dict, key: str, kind: type | tuple[type, ...]):
    if key not in record:
        raise ValueError(f"{RUN_FILE} lacks {key!r}")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{RUN_FILE}: {key!r} has the wrong type. Received: {value!r}")
    return value


def _without_path(error: Exception) -> object:
    """An error to show a visitor: an `OSError`'s reason without the server's path."""
    return error.strerror or type(error).__name__ if isinstance(error, OSError) else error
