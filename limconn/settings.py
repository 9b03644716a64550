"""Operator settings, read from the environment in one place and checked at start-up.

Every size a visitor of a shared server can choose is bounded by one field of `Limits`;
`Limits.from_env()` reads them all from `LIMCONN_MAX_*` variables and refuses a bad value
with the variable's name and what it held. The app's widgets take their bounds and
defaults from the same object, and every path that allocates (design import, upload,
synthetic task, training) asks it *before* allocating.

Example:

>>> limits = Limits.from_env({"LIMCONN_MAX_UNITS": "64"})
>>> limits.max_units
64
>>> limits.check_design(input_dim=2, units=100)
Traceback (most recent call last):
...
ValueError: This server allows at most 64 units. Received: 100 units.

No TensorFlow and no Streamlit here: the CLI and the app read settings before either loads.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from limconn._tf import DEFAULT_BACKEND, backend_name
from limconn.capacity import MB, training_memory_bytes

PAINTER_MAX_SIDE = 256
"""The most rows or columns the app's painter shows; designs on the server stay within it."""

_PREFIX = "LIMCONN_"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds on everything a visitor can choose; one operator-set value each.

    Args:
        max_units: LSTM units per design (painter columns; `from_env` allows at most 256).
        max_inputs: input features per design and per dataset (`from_env`: at most 256).
        max_timesteps: steps per sequence (synthetic, CSV window, uploaded arrays).
        max_samples: sequences per dataset.
        max_outputs: regression targets or classes.
        max_epochs: epochs per run.
        max_seconds: wall-clock seconds a run may train; the run is ended past it.
        max_jobs: runs training at once on the server (one worker process each).
        max_queued_jobs: jobs one workspace may have queued or training at once.
        max_runs: runs kept per workspace; saving one more deletes the oldest.
        max_designs: designs kept per workspace.
        max_upload_mb: the largest uploaded file, in MB (designs, masks, data).
        max_batch_size: sequences per training step.
        max_designs_per_job: designs trained together in one job ("Train all designs").
        max_job_memory_mb: the training memory one job may need, in MB, as
            `limconn.capacity.training_memory_bytes` estimates it before the job is queued.
        max_server_jobs: jobs queued or training on the whole server, all workspaces
            together (each fresh browser tab is a fresh workspace).
        max_spool_mb: MB of queued jobs' datasets waiting on disk, all jobs together.
        max_new_workspaces_per_hour: anonymous workspaces the server opens per hour.
        max_cached_data_mb: MB of datasets (tasks, parsed uploads) the server process keeps
            in memory between reruns, all visitors together.
        max_kept_uploads: uploaded data files (or X/y pairs) kept per workspace, so a reload
            does not ask for them again; each is at most `max_upload_mb`.

    Raises:
        ValueError: if a value is not a positive number (or over the painter's 256 for
            units and inputs); the message names the field and the value.
    """

    max_units: int = 256
    max_inputs: int = 256
    max_timesteps: int = 1000
    max_samples: int = 200_000
    max_outputs: int = 100
    max_epochs: int = 200
    max_seconds: float = 600.0
    max_jobs: int = 2
    max_queued_jobs: int = 8
    max_runs: int = 200
    max_designs: int = 50
    max_upload_mb: int = 50
    # Server-wide caps; the defaults fit a 2-core, 24 GiB server running 2 workers.
    max_batch_size: int = 4096
    max_designs_per_job: int = 16
    max_job_memory_mb: int = 6144
    max_server_jobs: int = 40
    max_spool_mb: int = 4096
    max_new_workspaces_per_hour: int = 120
    max_cached_data_mb: int = 512
    max_kept_uploads: int = 10

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind = float if field.type in ("float", float) else int
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(
                    f"{field.name} must be a positive number. Received: {field.name}={value!r}"
                )
            if kind is int and not float(value).is_integer():
                raise ValueError(
                    f"{field.name} must be a whole number. Received: {field.name}={value!r}"
                )
            object.__setattr__(self, field.name, kind(value))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Reads `LIMCONN_MAX_UNITS`, `LIMCONN_MAX_INPUTS`, ... (one per field, upper case).

        Unset or empty variables keep the defaults.

        Raises:
            ValueError: naming the variable and the value it held, if one is not a number
                or out of range.
        """
        environ = os.environ if environ is None else environ
        values = {}
        for field in dataclasses.fields(cls):
            variable = _PREFIX + field.name.upper()
            text = environ.get(variable, "").strip()
            if not text:
                continue
            is_float = field.type in ("float", float)
            try:
                values[field.name] = float(text) if is_float else int(text)
            except ValueError:
                raise ValueError(
                    f"{variable} must be a {'number' if is_float else 'whole number'}. "
                    f"Received: {variable}={text!r}"
                ) from None
        for name in ("max_units", "max_inputs"):
            if values.get(name, 0) > PAINTER_MAX_SIDE:
                raise ValueError(
                    f"{_PREFIX}{name.upper()} can be at most {PAINTER_MAX_SIDE}, the painter's "
                    f"largest side. Received: {_PREFIX}{name.upper()}={values[name]}"
                )
        try:
            return cls(**values)
        except ValueError as error:
            raise ValueError(f"Bad limit in the environment: {error}") from None

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def check(self, **sizes: int | float) -> None:
        """Refuses any size over its limit: `check(units=300)` compares with `max_units`.

        Raises:
            ValueError: "This server allows at most 256 units. Received: 300 units."
        """
        for name, value in sizes.items():
            limit = getattr(self, f"max_{name}")
            if value > limit:
                raise ValueError(
                    f"This server allows at most {_number(limit)} {name.replace('_', ' ')}. "
                    f"Received: {_number(value)} {name.replace('_', ' ')}."
                )

    def check_design(self, input_dim: int, units: int) -> None:
        """Refuses a design over `max_inputs` or `max_units`, before its masks exist."""
        self.check(inputs=input_dim, units=units)

    def check_data(self, samples: int, timesteps: int, features: int, outputs: int) -> None:
        """Refuses a dataset over any limit, before its arrays are built."""
        self.check(samples=samples, timesteps=timesteps, inputs=features, outputs=outputs)

    def check_job(self, *, batch_size: int, units: Sequence[int], samples: int, timesteps: int,
                  features: int, step_targets: int = 0) -> None:
        """Refuses a job over the batch size, the designs per job or the training memory
        (`limconn.capacity.training_memory_bytes`, `step_targets` as there), before it is
        queued.

        Raises:
            ValueError: "This job would need about 9,000 MB of memory to train; ...".
        """
        self.check(batch_size=batch_size, designs_per_job=len(units))
        need = training_memory_bytes(samples, timesteps, features, batch_size, units,
                                     step_targets)
        if need > self.max_job_memory_mb * MB:
            raise ValueError(
                f"This job would need about {need / MB:,.0f} MB of memory to train; this server "
                f"allows {self.max_job_memory_mb:,} MB per job. Received: {samples:,} samples × "
                f"{timesteps:,} steps × {features:,} features, batch size {batch_size:,}, "
                f"{len(units)} design(s) of {', '.join(map(str, units))} units. Use fewer "
                "samples, steps or designs, or a smaller batch."
            )


def _number(value: int | float) -> str:
    """`"1,000,000"` for whole numbers (where `:g` would print `1e+06`), else `:g`."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """Everything an operator sets for the app, read once from the environment.

    Args:
        home: where runs, workspaces and the signing secret live (`LIMCONN_HOME`, default
            `~/.limconn`).
        limits: `Limits.from_env()`.
        allow_anonymous: whether visitors who are not signed in get a workspace
            (`LIMCONN_ANONYMOUS`, default `1`; `0` requires `st.login`, with `[auth]` in
            `.streamlit/secrets.toml`).
        ray_address: a Ray cluster for training jobs (`LIMCONN_RAY_ADDRESS`), or `None` to
            train in local worker processes.
        backend: the Keras backend the job queue's workers train on (`KERAS_BACKEND`, or
            limconn's default: `limconn._tf.backend_name`); the workers inherit the variable.

    Raises:
        ValueError: from `from_env`, naming a bad variable and its value.
    """

    home: Path
    limits: Limits
    allow_anonymous: bool = True
    ray_address: str | None = None
    backend: str = DEFAULT_BACKEND

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        environ = os.environ if environ is None else environ
        anonymous = environ.get("LIMCONN_ANONYMOUS", "1").strip().lower()
        if anonymous not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(
                f"LIMCONN_ANONYMOUS must be 1 or 0. Received: LIMCONN_ANONYMOUS={anonymous!r}"
            )
        return cls(
            home=home(environ),
            limits=Limits.from_env(environ),
            allow_anonymous=anonymous in ("1", "true", "yes"),
            ray_address=environ.get("LIMCONN_RAY_ADDRESS", "").strip() or None,
            backend=backend_name(environ),
        )


def home(environ: Mapping[str, str] | None = None) -> Path:
    """`$LIMCONN_HOME`, or `~/.limconn`: the root of runs, workspaces and the secret."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("LIMCONN_HOME") or Path.home() / ".limconn")
