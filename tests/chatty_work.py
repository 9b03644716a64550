"""Work on stored runs for the job queue's tests, importable by its worker processes.

`Chatter` reports stages without pause until its worker is killed, so the time limit's kill
lands while the worker is sending; `Nothing` ends at once.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from limconn.run_results import RunsRequest


@dataclasses.dataclass(frozen=True)
class Chatter(RunsRequest):
    KIND: ClassVar[str] = "chatter"

    def compute(self, run_folder, dataset, on_progress) -> None:
        while True:
            on_progress("still going " * 20)


@dataclasses.dataclass(frozen=True)
class Nothing(RunsRequest):
    KIND: ClassVar[str] = "nothing"

    def compute(self, run_folder, dataset, on_progress) -> None:
        return None
