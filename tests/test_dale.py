"""Dale's law on any preset: one sign per unit, the asked share excitatory, enforced in training."""

import numpy as np
import pytest

from limconn import Connectivity, data, presets, training
from tests.test_cli import _cli

NAMES = presets.PRESETS.names()


@pytest.mark.parametrize(("units", "excitatory", "expected"),
                         [(10, 0.8, 8), (7, 0.5, 4), (5, 0.5, 2), (16, 1.0, 16), (16, 0.0, 0),
                          (3, 0.1, 0)])
def test_the_excitatory_share_is_the_rounded_fraction_of_units(units, excitatory, expected):
    signed = presets.with_dale(presets.dense(2, units), excitatory=excitatory, seed=3)
    assert signed.recurrent_sign.shape == (units,)
    assert int((signed.recurrent_sign == 1).sum()) == expected == round(excitatory * units)
    assert int((signed.recurrent_sign == -1).sum()) == units - expected
    assert signed.input_sign is None
    counts = signed.stats().recurrent_signs
    assert (counts.per, counts.excitatory, counts.free) == ("source", expected, 0)
    assert signed.metadata["dale"] == {
        "excitatory": excitatory, "seed": 3, "excitatory_units": expected,
    }


def test_the_same_seed_gives_the_same_units_and_another_seed_others():
    design = presets.random(2, 40, seed=0)
    first = presets.with_dale(design, 0.5, seed=1)
    assert first == presets.with_dale(design, 0.5, seed=1)
    assert not np.array_equal(first.recurrent_sign, presets.with_dale(design, 0.5, seed=2)
                              .recurrent_sign)


@pytest.mark.parametrize("name", NAMES)
def test_dale_combines_with_every_preset_through_get(name):
    plain = presets.get(name, 3, 12)
    signed = presets.get(name, 3, 12, dale="0.75", dale_seed="4")
    assert signed == presets.with_dale(plain, 0.75, 4)
    for field in ("input_mask", "recurrent_mask", "output_mask"):
        np.testing.assert_array_equal(getattr(signed, field), getattr(plain, field))
    assert signed.name == f"{name} · Dale 75%"
    assert signed.metadata["preset"] == name
    assert presets.get(name, 3, 12, dale=0) == plain  # 0: no signs


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: presets.with_dale(presets.dense(2, 4), excitatory=1.5), "excitatory=1.5"),
        (lambda: presets.get("dense", 2, 4, dale="most"), "Received: 'most'"),
        (lambda: presets.with_dale(presets.with_dale(presets.dense(2, 4))), "already has"),
    ],
)
def test_bad_dale_values_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_trained_weights_keep_each_units_sign_in_every_gate():
    design = presets.get("random", 2, 10, density=0.6, seed=1, dale=0.6, dale_seed=2)
    dataset = data.make_task("adding", num_samples=64, timesteps=5)
    result = training.train(
        training.TrainConfig(epochs=2, batch_size=16, learning_rate=0.05), design, dataset
    )
    recurrent = result.weights["recurrent_kernel"]  # (4 gates, source unit, target unit)
    live = np.broadcast_to(design.recurrent_mask, recurrent.shape)
    for unit, sign in enumerate(design.recurrent_sign):
        outgoing = recurrent[:, unit, :][live[:, unit, :]]
        assert outgoing.size and np.all(outgoing * sign > 0), (unit, sign, outgoing)
    assert np.all(recurrent[~live] == 0)
    # The input weights stayed free: both signs occur.
    kernel = result.weights["kernel"]
    kernel = kernel[np.broadcast_to(design.input_mask, kernel.shape)]
    assert (kernel > 0).any() and (kernel < 0).any()


def test_cli_mask_dale(tmp_path):
    out = tmp_path / "design.npz"
    made = _cli("mask", "block_diagonal", "--inputs", 2, "--units", 10, "--groups", 2,
                "--dale", 0.8, "--dale-seed", 5, "--out", out, home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "recurrent signs 8 E / 2 I / 0 free per source" in made.stdout
    assert Connectivity.load(out) == presets.get("block_diagonal", 2, 10, groups=2, dale=0.8,
                                                 dale_seed=5)
