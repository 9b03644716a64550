"""NeuroGym's tasks as datasets: `make_task("neurogym", env="PerceptualDecisionMaking-v0")`.

NeuroGym (Molano-Mazón et al., the field's Gymnasium suite of cognitive-neuroscience tasks)
builds each trial of a task as two arrays: `env.ob`, the observations `(trial_steps, inputs)`,
and `env.gt`, the ground-truth action per step `(trial_steps,)`, both made by
`TrialEnv.new_trial()` (`neurogym/core.py`). This module turns trials into a per-step
classification `Dataset`.

neurogym is an optional extra (`pip install neurogym==2.3.1`, in `requirements-extras.txt`);
it is imported only when the task is built, and without it the task raises a `ValueError`
that gives the install command.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings

import numpy as np

from limconn.data._checks import check_array_size, check_counts, check_limits
from limconn.data.dataset import Dataset
from limconn.data.tasks import TASKS
from limconn.settings import Limits

NEUROGYM_REQUIREMENT = "neurogym==2.3.1"
"""The neurogym release this module was written against (it reads `ob`, `gt`, `action_space.name`).
It requires numpy 2.2.x, which is why the project's numpy range is `>=2.2,<2.3`."""


def neurogym_available() -> bool:
    """Whether neurogym can be imported here, without importing it."""
    return importlib.util.find_spec("neurogym") is not None


def _import_neurogym():
    """The `neurogym` package, or a `ValueError` that says how to install it."""
    try:
        return importlib.import_module("neurogym")
    except ModuleNotFoundError as error:
        if error.name != "neurogym":
            raise
        raise ValueError(
            "The neurogym task needs the optional neurogym package, which is not installed "
            f"here: pip install {NEUROGYM_REQUIREMENT}"
        ) from None


def _names(space, size: int, unnamed: str) -> tuple[str, ...]:
    """One name per index of a NeuroGym space, from its `name` dict (`{"fixation": 0,
    "choice": [1, 2]}` -> fixation, choice 0, choice 1); `unnamed k` where it has none."""
    names = [f"{unnamed} {k}" for k in range(size)]
    for key, where in (getattr(space, "name", None) or {}).items():
        if isinstance(where, (int, np.integer)):
            names[int(where)] = str(key)
        else:
            for number, index in enumerate(where):
                names[int(index)] = f"{key} {number}"
    return tuple(names)


@TASKS.register
def neurogym(
    limits: Limits | None = None,
    /,
    *,
    env: str = "PerceptualDecisionMaking-v0",
    num_samples: int = 1000,
    timesteps: int = 100,
    dt: int = 0,
    fixation_weight: float = 0.0,
    seed: int = 0,
) -> Dataset:
    """A NeuroGym task (optional neurogym package): the ground-truth action at every step.

    The environment `env` is made with `neurogym.make` and seeded with `seed`; each of the
    `num_samples` sequences is filled with consecutive trials from `env.new_trial()`, each
    trial's observations `env.ob` as the inputs and its ground truth `env.gt` as the labels,
    from step 0 until `timesteps` steps are full (the last trial is cut there). This is the
    layout of `neurogym.Dataset` (trials back to back, cut into fixed-length sequences,
    `neurogym/utils/data.py`), except that every sequence starts at a trial's start.

    Labels: one class per step, `(samples, timesteps)` int32, in NeuroGym's action space,
    whose names become the target names (e.g. fixation, choice 0, choice 1). NeuroGym names
    the "keep fixating" action in `action_space.name["fixation"]` (0 in every native task)
    and its ground truth is that action in every period before the response, set with
    `set_groundtruth(..., period="decision")` only for the response (`neurogym/core.py`;
    e.g. `PerceptualDecisionMaking._new_trial`). NeuroGym itself has no loss mask (its
    `Dataset` returns inputs and ground truth only); its tasks score a trial by the response
    alone (`performance` is set in the decision period). Weights: a step weighs 1 when it
    lies in the trial's "decision" period (`start_ind`/`end_ind["decision"]`, so a no-go
    trial's held fixation counts) or its ground truth is not the fixation action; every
    other step, fixation before the response, weighs `fixation_weight` (0 by default:
    excluded from the loss and the metrics). `fixation_weight=1` is NeuroGym's own
    examples' plain cross-entropy on every step. A task whose action space names no
    fixation action takes action 0 as fixation.

    Args:
        limits: the operator's limits, checked before generating; `None` for none.
        env: a native NeuroGym task id, e.g. PerceptualDecisionMaking-v0 (neurogym.all_envs()).
        num_samples: number of sequences.
        timesteps: steps per sequence (trials of PerceptualDecisionMaking-v0 last 22 at dt 100).
        dt: the task's time step in ms; 0 keeps the task's default (100 ms for most).
        fixation_weight: loss weight of steps whose target is fixation (0: not counted).
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = neurogym(num_samples=4, timesteps=44)  # doctest: +SKIP
    >>> data.x.shape, data.y.shape, data.target_names  # doctest: +SKIP
    ((4, 44, 3), (4, 44), ('fixation', 'choice 0', 'choice 1'))

    Raises:
        ValueError: neurogym is not installed (the message gives the pip command); `env` is
            not a native NeuroGym task (the message lists them), or has no discrete
            per-step ground truth; a parameter out of range or over `limits`; or no step
            would count in the loss (raise `timesteps` or `fixation_weight`).
    """
    check_counts(1, num_samples=num_samples, timesteps=timesteps)
    check_counts(0, dt=dt, seed=seed)
    if not 0 <= fixation_weight <= 1:
        raise ValueError(
            f"fixation_weight must be in [0, 1]. Received: fixation_weight={fixation_weight!r}"
        )
    check_limits(limits, "neurogym", samples=num_samples, timesteps=timesteps)
    library = _import_neurogym()
    known = library.envs.registration.all_envs()
    if env not in known:
        raise ValueError(
            f"{env!r} is not a native NeuroGym task. Choose one of: {', '.join(known)}."
        )
    with warnings.catch_warnings():  # gymnasium warns about NeuroGym's render metadata
        warnings.simplefilter("ignore")
        try:
            task = library.make(env, **({"dt": dt} if dt else {})).unwrapped
        except TypeError as error:
            raise ValueError(f"NeuroGym's {env} refused dt={dt}: {error}") from None
    actions, observations = task.action_space, task.observation_space
    if not hasattr(actions, "n") or observations.shape is None or len(observations.shape) != 1:
        raise ValueError(
            f"NeuroGym's {env} has no discrete actions over flat observations (actions "
            f"{actions}, observations {observations}); choose a task with discrete choices, "
            "such as PerceptualDecisionMaking-v0."
        )
    num_inputs, num_classes = int(observations.shape[0]), int(actions.n)
    where = f"neurogym {env}"
    check_limits(limits, where, samples=num_samples, timesteps=timesteps, inputs=num_inputs,
                 outputs=num_classes)
    check_array_size((num_samples, timesteps, num_inputs), where)
    task.seed(seed)
    x = np.zeros((num_samples, timesteps, num_inputs), np.float32)
    y = np.zeros((num_samples, timesteps), np.int32)
    decision = np.zeros((num_samples, timesteps), bool)
    for row in range(num_samples):
        start = 0
        while start < timesteps:
            task.new_trial()
            if not getattr(task, "_gt_built", False) or len(task.ob) == 0:
                raise ValueError(f"NeuroGym's {env} builds no per-step ground truth (gt).")
            length = min(len(task.ob), timesteps - start)
            x[row, start:start + length] = task.ob[:length]
            y[row, start:start + length] = np.asarray(task.gt[:length]).reshape(length)
            if "decision" in task.start_ind:  # the response period, fixation or not
                first, last = task.start_ind["decision"], task.end_ind["decision"]
                decision[row, start + min(first, length):start + min(last, length)] = True
            start += length
    fixation = (getattr(actions, "name", None) or {}).get("fixation", 0)
    counted = decision | (y != fixation)
    weights = np.where(counted, np.float32(1), np.float32(fixation_weight))
    if not weights.any():
        raise ValueError(
            f"neurogym {env}: every step is fixation before a response, so no step would count "
            f"in the loss. Raise timesteps or fixation_weight. Received: timesteps={timesteps}."
        )
    return Dataset(
        name="neurogym",
        description=f"NeuroGym {env} (dt {task.dt} ms): the action at every step, "
        f"{num_classes} classes; fixation steps weigh {fixation_weight:g}.",
        kind="classification",
        x=x,
        y=y,
        num_classes=num_classes,
        weights=weights.astype(np.float32),
        feature_names=_names(observations, num_inputs, "input"),
        target_names=_names(actions, num_classes, "action"),
    )
