"""What did the masked network learn? Trajectories, spectra, fixed points, lesions and
attributions of a trained run, in NumPy.

Every function takes a run (a run folder, a `limconn.runs.Run`, a
`limconn.training.RunResult`, or a `Dynamics`) and data, and returns arrays and small
dataclasses. The run's LSTM is read from its stored effective weights with the layers
around it folded in (`dynamics`), so every strategy is one LSTM step, and nothing here
imports Keras or TensorFlow (`import limconn.analysis` stays light; the app's server reads
saved analyses with `load`).

* `trajectories(run, x)`: hidden and cell states `(samples, steps, units)` and the readout.
* `pca(states, k)`: principal axes (NumPy SVD) to project trajectories and fixed points on.
* `spectrum(run, fixed_points=None)`: eigenvalues of each gate's effective recurrent
  weight, units' E/I signs, and the Jacobian's eigenvalues at fixed points.
* `fixed_points(run, input=None, states=... | x=...)`: Sussillo & Barak's q-minimisation,
  all starts in one batch (Levenberg-Marquardt on an analytic Jacobian), classified stable
  when every |eigenvalue| < 1.
* `lesions(run, x, y, units=None, weights=None)`: the loss change from holding each unit's
  (and each group's) hidden state at 0, every lesion in one vectorised pass.
* `attributions(run, x, target=None)`: integrated gradients from a zero baseline (50
  Gauss-Legendre points, intervals of the path split where they miss the output change
  until the completeness error is under 1 %; backpropagation through time in NumPy), with
  the completeness error and the gradients evaluated.
* `analyze(run, dataset, what=ANALYSES, on_progress=None)` runs them and returns an
  `Analysis(summary, arrays)`; `save(folder, analysis)` writes `analysis.json` and
  `analysis.npz` atomically; `load(folder)` reads them back; `merge(cached, new)` keeps
  what a cached analysis has of the analyses a new one did not run. `analyses_for(strategy)` says
  which analyses mean something for a strategy: `timestep` (which skips constant steps)
  has trajectories and the weights' spectrum only; the others raise a `ValueError` naming it.

`Analysis.summary` (JSON) holds every key below; a key whose analysis did not run is `null`:

* `run_id`, `run_name`, `strategy`, `kind` (`regression` / `classification`), `units`,
  `dataset` (name), `samples` (sequences analysed), `timesteps`, `analyses` (names run).
* `loss_name` (`mse` / `sparse_categorical_crossentropy`); `test_loss`: the run's loss on
  the analysed sequences, weighted per step as in training (`null` for `timestep`).
* `pca_explained_variance_ratio`: `[r1, r2, r3]` of the hidden states' PCA.
* `fixed_points`: `{"found", "stable", "starts", "converged"}` (points after merging
  duplicates, stable ones, initial states, starts that converged).
* `spectral_radius`: `{"i", "f", "c", "o"}`: largest |eigenvalue| of each gate's recurrent
  weight.
* `top_lesions`: the five units whose lesion raises the loss most, `[{"unit", "delta_loss"}]`.
* `lesion_costly_units`: units whose lesion raises the loss by more than 10 % of `test_loss`.
* `attribution_completeness_error`: largest |sum of attributions - output change| over the
  explained sequences, relative to the largest output change; `attribution_evaluations`:
  gradients evaluated for them all (50 per sequence where the first rule sufficed);
  `attribution_step`: the step explained (the last).

`Analysis.arrays` (NPZ; numeric and unicode arrays only; N sequences kept (the first of
the analysed ones, at most `MAX_TRAJECTORY_VALUES` / (T * U) of them), T steps, U units,
D features, O outputs, P fixed points, G lesion groups, S explained sequences):

* `trajectories/hidden`, `trajectories/cell` `(N, T, U)`, `trajectories/outputs`
  `(N, T, O)` (readout at every step), `trajectories/inputs` `(N, T, D)`,
  `trajectories/targets` (the data's `y`: `(N, O)`, `(N, T, O)`, `(N,)` or `(N, T)`
  labels), `trajectories/weights` `(N, T)` when the data has per-step weights.
* `pca/components` `(3, U)`, `pca/mean` `(U,)`, `pca/explained_variance` and
  `pca/explained_variance_ratio` `(3,)`, `pca/trajectories` `(N, T, 3)` (hidden states
  projected). Fewer than 3 axes when U < 3.
* `fixed_points/hidden`, `fixed_points/cell` `(P, U)`, `fixed_points/q` `(P,)`,
  `fixed_points/stable` `(P,)` bool, `fixed_points/eigenvalues` `(P, 2U)` complex (largest
  modulus first), `fixed_points/outputs` `(P, O)` (readout there), `fixed_points/input`
  `(D,)`, `fixed_points/pca` `(P, 3)` (on the trajectories' axes).
* `spectrum/eigenvalues` `(4, U)` complex (gates i, f, c, o), `spectrum/gates` `(4,)` str,
  `spectrum/unit_sign` `(U,)` int8 (+1 excitatory, -1 inhibitory, 0 free).
* `lesions/units` `(U,)`, `lesions/delta_loss` `(U,)`, `lesions/group_names` `(G,)` str,
  `lesions/group_units` `(G, U)` bool, `lesions/group_delta_loss` `(G,)`.
* `attributions/values` `(S, T, D)`, `attributions/inputs` `(S, T, D)`,
  `attributions/target` `(S,)` (output index or class explained), `attributions/output`
  and `attributions/baseline_output` `(S,)`, `attributions/evaluations` `(S,)` int
  (gradients evaluated per sequence).

Example:

>>> from limconn import analysis, data
>>> dataset = data.make_task("flipflop", bits=3, num_samples=200)
>>> found = analysis.analyze("runs/flipflop", dataset)  # doctest: +SKIP
>>> found.summary["fixed_points"]  # doctest: +SKIP
{'found': 27, 'stable': 8, 'starts': 256, 'converged': 256}
>>> analysis.save("runs/flipflop/analysis", found)  # doctest: +SKIP
"""

from limconn.analysis.attributions import Attributions, attributions
from limconn.analysis.dynamics import Dynamics, as_dynamics
from limconn.analysis.fixed_points import FixedPoints, fixed_points
from limconn.analysis.lesions import Lesions, lesions, unit_groups
from limconn.analysis.pca import PCA, pca
from limconn.analysis.report import (
    ANALYSES,
    ARRAYS_FILE,
    MAX_TRAJECTORY_VALUES,
    SUMMARY_FILE,
    Analysis,
    analyses_for,
    analyze,
    load,
    merge,
    save,
)
from limconn.analysis.spectrum import Spectrum, spectrum
from limconn.analysis.trajectories import Trajectories, trajectories

__all__ = [
    "ANALYSES", "ARRAYS_FILE", "MAX_TRAJECTORY_VALUES", "SUMMARY_FILE", "PCA", "Analysis",
    "Attributions", "Dynamics", "FixedPoints", "Lesions", "Spectrum", "Trajectories",
    "analyses_for", "analyze", "as_dynamics", "attributions", "fixed_points", "lesions",
    "load", "merge", "pca", "save", "spectrum", "trajectories", "unit_groups",
]
