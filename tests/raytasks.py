"""Ray tasks that a test can watch and hold, for the tests of stopping them (issue 17).

`watched(task, folder)` wraps a Ray task function whose last argument is its
`limconn.raystop.StopFlag` (`sweep._ray_group`, `jobs._train_task_on_ray`); a test puts the
wrapper in the task function's place with `monkeypatch`, before the driver makes it remote.
In the task, the wrapper leaves files in `folder` (shared with the test, one machine):
`started-<key>` as the task starts and `training-<key>` when its training reports its first
batch. A test waits on those files, with a bound, instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

from limconn.raystop import StopFlag

HOLD_SECONDS = 60.0
"""The longest a held task waits for its stop."""


def file_name(kind: str, key: str) -> str:
    """The file a watched task leaves: `kind` is "started" or "training"."""
    return f"{kind}-{re.sub(r'[^0-9A-Za-z]+', '-', key)}"


def wait_until(condition, timeout: float = 120.0, poll: float = 0.05) -> None:
    """Waits until `condition()` holds; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s"
        time.sleep(poll)


def files(folder: Path, kind: str) -> list[str]:
    return sorted(path.name for path in Path(folder).glob(f"{kind}-*"))


@dataclasses.dataclass
class _TellingFlag(StopFlag):
    """A `StopFlag` that also leaves a file when the task starts training."""

    marker: Path | None = None

    def training(self) -> None:
        if not self._noted and self.marker is not None:
            self.marker.touch()
        super().training()


def watched(task, folder, hold_start: bool = False, ignore_stop: bool = False):
    """Wraps the Ray task function `task` (see the module docstring).

    Args:
        task: the task function; its last argument is its `StopFlag`.
        folder: where the task leaves its files.
        hold_start: the task's start-up lasts until its stop is on the board (at most
            `HOLD_SECONDS`), as a slow start-up (unpickling, importing TensorFlow) would.
        ignore_stop: the task never reads its flag and never returns (for `HOLD_SECONDS`):
            only `ray.cancel(force=True)` can end it.
    """
    folder = Path(folder)

    def watched_task(*args):
        *arguments, flag = args
        (folder / file_name("started", flag.key)).touch()
        deadline = time.monotonic() + HOLD_SECONDS
        if ignore_stop:
            while time.monotonic() < deadline:
                time.sleep(0.1)
        while hold_start and not flag.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        telling = _TellingFlag(flag.board, flag.key,
                               marker=folder / file_name("training", flag.key))
        return task(*arguments, telling)

    return watched_task
