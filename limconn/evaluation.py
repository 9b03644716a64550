"""A trained run on other data: its loss, its metric, and its outputs on a few sequences.

`evaluate(run_folder, dataset)` rebuilds the run's model for the data's length and computes
the loss and the metric the run was trained with (`limconn.training.LOSS_AND_METRIC`) over
every sample, per step with the data's weights where targets are per step: a model trained
on 100 steps is judged on 200. The numbers are those training reports (`val_loss` is the
same computation on the validation part).

Why rebuild: a saved model's `Input` keeps the number of steps it was built with, so it
cannot take longer sequences; the strategy's builder makes the same layers for any length,
and the saved weights load into them unchanged (LSTM weights do not depend on the length).

The app runs evaluations in the job queue's workers (`limconn.run_results.EvaluationRequest`,
one job for several runs on one dataset) and caches each result in the run folder, under
`evaluations/<dataset_key>.json` (`save`, `cached`): the server reads the results without
TensorFlow. This module imports Keras only inside `evaluate`.

Example:

>>> from limconn import data
>>> longer = data.make_task("flipflop", num_samples=64, timesteps=200)
>>> evaluate("runs/flipflop-100", longer)  # doctest: +SKIP
{'run': '...', 'dataset': 'flipflop', 'samples': 64, 'timesteps': 200, 'loss': 0.0021, ...}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from limconn.data import Dataset
from limconn.diskio import write_atomically

SEQUENCES = 3
"""Sequences whose outputs an evaluation keeps for Compare's plots."""
EVALUATIONS_FOLDER = "evaluations"
"""Where a run folder caches its evaluations, one JSON file per dataset."""
_EPSILON = 1e-7
"""Keras's `epsilon()`: probabilities are clipped to it before the log, as Keras's
cross-entropy does."""


def evaluate(run_folder: str | os.PathLike, dataset: Dataset, sequences: int = 0) -> dict:
    """The run's loss and metric on `dataset`, and its outputs on the first sequences.

    Args:
        run_folder: a run folder (`limconn.runs`).
        dataset: data of the run's kind, features and outputs (many-to-one or per step, as
            the run was trained); any number of steps.
        sequences: keep the outputs of this many of the first sequences, with their inputs,
            targets and weights (`outputs` etc. in the result); 0 keeps none.

    Returns:
        Plain JSON values: `run` (id), `name`, `dataset`, `description`, `samples`,
        `timesteps`, `loss` and the metric (`mae` or `accuracy`, weighted per step as in
        training), `loss_name`, `metric_name`; with `sequences`, also `x`, `y`, `weights`
        (or `None`) and `outputs` of those sequences (outputs as the targets are: values,
        or a class label per sample or step).

    Raises:
        ValueError: if the folder is not a readable run, or the data does not fit the run
            (the message names both).
    """
    from limconn.runs import read_run_folder
    from limconn.strategies import Head, build_model
    from limconn.training import LOSS_AND_METRIC

    run = read_run_folder(run_folder)
    saved = run.load_model()
    trained = run.record.get("dataset", {})
    dataset.check_fits(run.info.name, trained.get("kind"), run.connectivity.input_dim,
                       saved.output_shape[-1], len(saved.output_shape) == 3,
                       trained_on=trained.get("name"))
    head = Head(dataset.kind, dataset.output_dim, per_step=dataset.per_step)
    model = build_model(run.config.strategy, run.connectivity,
                        (dataset.timesteps, dataset.input_dim), head,
                        **run.config.strategy_options)
    model.set_weights(saved.get_weights())
    predictions = model.predict(dataset.x, batch_size=256, verbose=0)
    loss_name, metric_name = LOSS_AND_METRIC[dataset.kind]
    loss, metric = loss_and_metric(dataset.kind, dataset.y, predictions, dataset.weights)
    result = {
        "run": run.info.id, "name": run.info.name, "dataset": dataset.name,
        "description": dataset.description, "samples": dataset.num_samples,
        "timesteps": dataset.timesteps, "loss_name": loss_name, "metric_name": metric_name,
        "loss": loss, metric_name: metric,
    }
    if sequences:
        shown = slice(0, sequences)
        outputs = predictions[shown]
        if dataset.kind == "classification":
            outputs = outputs.argmax(axis=-1)
        result.update(
            x=dataset.x[shown].tolist(), y=dataset.y[shown].tolist(), outputs=outputs.tolist(),
            weights=None if dataset.weights is None else dataset.weights[shown].tolist(),
        )
    return result


def loss_and_metric(kind: str, targets: np.ndarray, predictions: np.ndarray,
           weights: np.ndarray | None = None) -> tuple[float, float]:
    """The loss and the metric of `LOSS_AND_METRIC[kind]`, as weighted means.

    Regression: mean squared and mean absolute error over the outputs, then the weighted
    mean over samples (and steps). Classification: cross-entropy of the true class's
    probability (clipped to 1e-7, as Keras does) and accuracy, weighted the same way.

    Args:
        kind: `"regression"` or `"classification"`.
        targets: as `Dataset.y`.
        predictions: the model's outputs: values, or class probabilities on the last axis.
        weights: per-step weights `(samples, timesteps)`, or `None` for all 1.

    Example:

    >>> loss_and_metric("regression", np.zeros((2, 1), "float32"), np.ones((2, 1), "float32"))
    (1.0, 1.0)
    """
    if kind == "classification":
        chosen = np.take_along_axis(predictions, targets[..., None], axis=-1)[..., 0]
        loss = -np.log(np.clip(chosen, _EPSILON, 1.0))
        metric = (predictions.argmax(axis=-1) == targets).astype(np.float64)
    else:
        error = predictions.astype(np.float64) - targets
        loss, metric = np.mean(error**2, axis=-1), np.mean(np.abs(error), axis=-1)
    weights = np.ones(loss.shape) if weights is None else weights
    return (float(np.sum(loss * weights) / np.sum(weights)),
            float(np.sum(metric * weights) / np.sum(weights)))


def save(run_folder: str | os.PathLike, key: str, result: dict) -> Path:
    """Caches `result` in the run folder as `evaluations/<key>.json`, atomically."""
    folder = Path(run_folder) / EVALUATIONS_FOLDER
    folder.mkdir(exist_ok=True)
    path = folder / f"{key}.json"
    write_atomically(path, json.dumps(result, allow_nan=True).encode())
    return path


def cached(run_folder: str | os.PathLike, key: str) -> dict | None:
    """The evaluation `save` cached under `key`, or `None` if there is none (yet)."""
    try:
        return json.loads((Path(run_folder) / EVALUATIONS_FOLDER / f"{key}.json").read_text())
    except FileNotFoundError:
        return None
