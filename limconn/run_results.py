"""Work a job does on stored runs (evaluate them, analyze them), its results cached in each
run's folder so that the app shows them again without computing them again.

A job of this kind carries a request (`EvaluationRequest`, `AnalysisRequest`): which runs of
the job's workspace, the `dataset_key` of the data the job brings, and what to compute. A
worker process calls `compute` for each run (`limconn.jobs.JobQueue.submit_evaluation`,
`submit_analysis`); the server reads the cache back with NumPy and JSON alone
(`limconn.evaluation.cached`, `cached_analysis`), so it never imports TensorFlow:

```
<run folder>/evaluations/<key>.json          limconn.evaluation.save
<run folder>/analyses/<key>/analysis.json    limconn.analysis.save
                           /analysis.npz
```

Importing this module loads no Keras: `limconn.analysis` is NumPy alone, and
`limconn.evaluation` imports Keras only inside `evaluate`, which only a worker calls.

Example:

>>> from limconn import data
>>> test = data.make_task("flipflop", num_samples=64, timesteps=50)
>>> request = AnalysisRequest(("20261202-...",), dataset_key(test))
>>> request.what
('trajectories', 'spectrum', 'fixed-points', 'lesions', 'attributions')
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from limconn.data import Dataset
from limconn.evaluation import SEQUENCES

EVALUATE, ANALYZE = "evaluate", "analyze"
"""The kinds of job that work on stored runs (`limconn.jobs.Job.kind`)."""
ANALYSES_FOLDER = "analyses"
"""Where a run folder caches its analyses, one folder per dataset."""


def dataset_key(dataset: Dataset) -> str:
    """A short name for a dataset, to cache results on it: its name and
    `Dataset.content_hash` (no TensorFlow).

    Example:

    >>> from limconn import data
    >>> dataset_key(data.make_task("adding", num_samples=8)) == dataset_key(
    ...     data.make_task("adding", num_samples=8))
    True
    """
    named = f"{dataset.name}|{dataset.content_hash()}"  # the name is shown with the result
    return hashlib.sha256(named.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class RunsRequest(abc.ABC):
    """What a job computes for stored runs of its workspace on its data; see the subclasses.

    Attributes:
        run_ids: the runs.
        key: `dataset_key` of the job's data, under which each result is cached.
    """

    KIND: ClassVar[str]
    run_ids: tuple[str, ...]
    key: str

    @abc.abstractmethod
    def compute(self, run_folder: Path, dataset: Dataset,
                on_progress: Callable[[str], None]) -> None:
        """Computes one run's result on `dataset` and caches it in `run_folder`, saying
        what it is doing through `on_progress` (in a worker process: an evaluation imports
        Keras)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class EvaluationRequest(RunsRequest):
    """Evaluate the runs on the job's data (`limconn.evaluation.evaluate`), keeping the
    outputs of the first `sequences`; cached as `evaluations/<key>.json`."""

    KIND: ClassVar[str] = EVALUATE
    sequences: int = SEQUENCES

    def compute(self, run_folder, dataset, on_progress) -> None:
        from limconn import evaluation

        evaluation.save(run_folder, self.key, evaluation.evaluate(
            run_folder, dataset, sequences=self.sequences))


def _all_analyses() -> tuple[str, ...]:
    from limconn.analysis import ANALYSES

    return ANALYSES


@dataclasses.dataclass(frozen=True)
class AnalysisRequest(RunsRequest):
    """Analyze the runs on the job's data (`limconn.analysis.analyze`: `what`, every
    analysis by default); cached in `analysis_folder(run folder, key)`, merged into what is
    cached there (`limconn.analysis.merge`): the analyses run replace theirs, the others
    are kept.

    Raises:
        ValueError: naming an analysis `limconn.analysis.ANALYSES` does not know.
    """

    KIND: ClassVar[str] = ANALYZE
    what: tuple[str, ...] = dataclasses.field(default_factory=_all_analyses)

    def __post_init__(self):
        known = _all_analyses()
        unknown = [name for name in self.what if name not in known]
        if unknown or not self.what:
            raise ValueError(f"Choose analyses among {', '.join(known)}. "
                             f"Received: what={list(self.what)!r}")

    def compute(self, run_folder, dataset, on_progress) -> None:
        from limconn import analysis

        def stage(done: int, total: int, label: str) -> None:
            on_progress(f"{label} ({done}/{total})")

        folder = analysis_folder(run_folder, self.key)
        found = analysis.analyze(run_folder, dataset, what=self.what, on_progress=stage)
        try:
            cached = cached_analysis(run_folder, self.key)
        except ValueError:  # a broken cache is replaced
            cached = None
        analysis.save(folder, found if cached is None else analysis.merge(cached, found))


def analysis_folder(run_folder: str | os.PathLike, key: str) -> Path:
    """Where a run's analysis on the data of `key` is cached."""
    return Path(run_folder) / ANALYSES_FOLDER / key


def cached_analysis(run_folder: str | os.PathLike, key: str):
    """The `limconn.analysis.Analysis` cached for the data of `key`, or `None` if there is
    none (yet). NumPy and JSON only.

    Raises:
        ValueError: if the cached analysis is broken (the message says how).
    """
    from limconn import analysis

    folder = analysis_folder(run_folder, key)
    return analysis.load(folder) if (folder / analysis.SUMMARY_FILE).is_file() else None


def cached_summary(run_folder: str | os.PathLike, key: str) -> dict | None:
    """Only the summary of `cached_analysis` (a table row needs no arrays), or `None`.

    Raises:
        ValueError: if the summary is not readable JSON.
    """
    from limconn.analysis import SUMMARY_FILE

    path = analysis_folder(run_folder, key) / SUMMARY_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ValueError(f"The analysis summary of run {Path(run_folder).name} is broken: "
                         f"{error}") from error


def held_out_part(run, dataset: Dataset) -> tuple[Dataset, str]:
    """The part of `dataset` to analyze a run on, and one line that says which it is.

    When `dataset` is the very data the run trained on (its `content_hash` is the run's
    `data_hash`), that is the run's held-out test set (`TrainConfig.test_split`), which
    training never saw; without one, the whole data. Any other data is taken whole.

    Args:
        run: a `limconn.runs.Run` (its `info.data_hash` and `config.test_split`).
        dataset: data of the run's kind, features and outputs.

    Example:

    >>> from types import SimpleNamespace
    >>> from limconn import data
    >>> flips = data.make_task("flipflop", num_samples=100, timesteps=20)
    >>> run = SimpleNamespace(info=SimpleNamespace(data_hash=flips.content_hash()),
    ...                       config=SimpleNamespace(test_split=0.1))
    >>> part, note = held_out_part(run, flips)
    >>> part.num_samples, note
    (10, "the run's held-out test set: 10 sequences training never saw")
    """
    if not run.info.data_hash or dataset.content_hash() != run.info.data_hash:
        return dataset, (f"{dataset.num_samples} sequences of this task, not the data the run "
                         "trained on (other parameters, or a run trained elsewhere)")
    _, test = dataset.hold_out(run.config.test_split)
    if test is None:
        return dataset, (f"the run's own data, {dataset.num_samples} sequences: it held out "
                         "no test set, so these include what it trained on")
    return test, (f"the run's held-out test set: {test.num_samples} sequences training "
                  "never saw")
