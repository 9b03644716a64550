"""The NeuroGym task (optional neurogym package): its data mean what the docstring says, a
masked LSTM learns one NeuroGym task end to end, from the library and from the CLI, and
without the package the task says how to install it."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from limconn import data, presets, runs
from limconn.data.neurogym_task import NEUROGYM_REQUIREMENT
from limconn.settings import Limits
from limconn.training import TrainConfig, train
from tests.test_cli import _cli

neurogym = pytest.importorskip(
    "neurogym", reason="neurogym is an optional extra (requirements-extras.txt); "
    "scripts/test.sh installs it"
)

PDM = "PerceptualDecisionMaking-v0"


@pytest.mark.filterwarnings("ignore:.*render_modes")  # gymnasium, about NeuroGym's metadata
def test_neurogym_sequences_are_trials_back_to_back_with_neurogyms_ground_truth():
    dataset = data.make_task("neurogym", env=PDM, num_samples=50, timesteps=44, seed=3)
    assert dataset.kind == "classification" and dataset.per_step
    assert dataset.x.shape == (50, 44, 3) and dataset.y.shape == dataset.weights.shape == (50, 44)
    assert dataset.target_names == ("fixation", "choice 0", "choice 1")
    assert dataset.feature_names == ("fixation", "stimulus 0", "stimulus 1")
    # Each sequence starts at a trial's start: the first trials are NeuroGym's own, in order.
    env = neurogym.make(PDM).unwrapped
    env.seed(3)
    env.new_trial()
    np.testing.assert_array_equal(dataset.x[0, :22], env.ob)
    np.testing.assert_array_equal(dataset.y[0, :22], env.gt)
    # At dt 100 a trial is fixation 1 step, stimulus 20, decision 1: the decision is step 21
    # of each 22; it alone counts, its label the side of the stronger stimulus (1 or 2).
    decision = np.zeros(44, bool)
    decision[[21, 43]] = True
    assert (dataset.weights == decision).all()
    assert set(np.unique(dataset.y[:, decision])) == {1, 2}
    assert (dataset.y[:, ~decision] == 0).all()  # fixate until the response
    assert (dataset.x[:, [0, 22], 0] == 1).all()  # the fixation cue on the fixation step
    balance = (dataset.y[:, decision] == 1).mean()
    assert 0.35 < balance < 0.65  # chance on the counted steps is 50 %


def test_fixation_weight_and_the_decision_period_decide_what_counts():
    every = data.make_task("neurogym", env=PDM, num_samples=20, timesteps=44,
                           fixation_weight=1.0)
    assert (every.weights == 1).all()  # NeuroGym's examples: cross-entropy on every step
    # GoNogo: on a no-go trial the right response is to keep fixating; it counts.
    go_nogo = data.make_task("neurogym", env="GoNogo-v0", num_samples=100, timesteps=60)
    counted = go_nogo.weights > 0
    assert (go_nogo.y[counted] == 0).any() and (go_nogo.y[counted] == 1).any()
    assert (go_nogo.y[~counted] == 0).all()


def test_neurogym_task_is_deterministic_for_a_seed_and_honours_dt():
    first = data.make_task("neurogym", num_samples=20, timesteps=44, seed=1)
    again = data.make_task("neurogym", num_samples=20, timesteps=44, seed=1)
    np.testing.assert_array_equal(first.x, again.x)
    assert not np.array_equal(first.x, data.make_task("neurogym", num_samples=20,
                                                      timesteps=44, seed=2).x)
    fine = data.make_task("neurogym", num_samples=5, timesteps=88, dt=50)
    assert "dt 50 ms" in fine.description
    assert (fine.weights[0].nonzero()[0] == [42, 43, 86, 87]).all()  # 44 steps a trial


def test_unknown_envs_sizes_over_the_limits_and_unsupported_envs_are_refused():
    with pytest.raises(ValueError, match=r"'Nope-v0' is not a native NeuroGym task\. Choose "
                       r"one of: .*GoNogo-v0.*PerceptualDecisionMaking-v0"):
        data.make_task("neurogym", env="Nope-v0")
    with pytest.raises(ValueError, match="neurogym: This server allows at most 100 samples"):
        data.make_task("neurogym", limits=Limits(max_samples=100), num_samples=10**6)
    with pytest.raises(ValueError, match=r"neurogym ProbabilisticReasoning-v0: This server "
                       r"allows at most 8 inputs\. Received: 41 inputs\."):
        data.make_task("neurogym", env="ProbabilisticReasoning-v0", limits=Limits(max_inputs=8))
    with pytest.raises(ValueError, match="no discrete actions"):
        data.make_task("neurogym", env="ReachingDelayResponse-v0", num_samples=2)
    with pytest.raises(ValueError, match="no step would count"):
        data.make_task("neurogym", num_samples=2, timesteps=10)  # before any decision
    with pytest.raises(ValueError, match=r"fixation_weight=2"):
        data.make_task("neurogym", fixation_weight=2)


def test_a_masked_16_unit_lstm_learns_perceptual_decision_making_beyond_chance():
    # 400 sequences of 4 trials: 1,600 decision steps, 320 of them held out.
    dataset = data.make_task("neurogym", env=PDM, num_samples=400, timesteps=88, seed=0)
    design = presets.random(dataset.input_dim, 16, density=0.5, seed=0)
    result = train(TrainConfig(epochs=3, batch_size=16, learning_rate=0.02), design, dataset)
    assert result.max_masked_weight == 0.0
    assert result.model.output_shape == (None, 88, 3)
    # Chance on the counted steps is 50 % (two balanced choices), cross-entropy ln 2.
    assert result.metrics["final_val_accuracy"] > 0.6, result.history
    assert result.metrics["best_val_loss"] < math.log(2), result.history


def test_cli_lists_the_neurogym_task_and_trains_it_with_task_params(tmp_path):
    listed = _cli("tasks", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "neurogym: " in listed.stdout
    run_dir = tmp_path / "RUN"
    trained = _cli(
        "train", "--task", "neurogym", "--task-param", "env=GoNogo-v0",
        "--task-param", "num_samples=64", "--task-param", "timesteps=30", "--epochs", 1,
        "--out", run_dir, home=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    run = runs.read_run_folder(run_dir)
    assert run.load_model().output_shape == (None, 30, 2)


def test_without_neurogym_the_task_says_how_to_install_it():
    code = (
        "import sys; sys.modules['neurogym'] = None\n"
        "from limconn.data import make_task\n"
        "try:\n    make_task('neurogym')\n"
        "except ValueError as error:\n    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == (
        "The neurogym task needs the optional neurogym package, which is not installed here: "
        f"pip install {NEUROGYM_REQUIREMENT}"
    )
