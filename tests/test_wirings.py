"""ncps wirings as designs: masks, signs and motor neurons read exactly from ncps's matrices."""

import io
import sys

import numpy as np
import pytest

from limconn import wirings
from limconn.connectivity import Connectivity

ncps_wirings = pytest.importorskip("ncps.wirings")


def _built(wiring, input_dim):
    wiring.build(input_dim)
    return wiring


WIRINGS = {
    "NCP": lambda: _built(ncps_wirings.NCP(6, 4, 2, 3, 2, 5, 3, seed=7), 5),
    "AutoNCP": lambda: _built(ncps_wirings.AutoNCP(20, 3, sparsity_level=0.6, seed=3), 4),
    "FullyConnected": lambda: _built(
        ncps_wirings.FullyConnected(7, output_dim=2, self_connections=False), 3
    ),
    "Random": lambda: _built(ncps_wirings.Random(9, output_dim=4, sparsity_level=0.7), 6),
}


@pytest.mark.parametrize("kind", WIRINGS)
def test_masks_signs_and_motor_neurons_are_the_wirings_matrices(kind):
    wiring = WIRINGS[kind]()
    design = Connectivity.from_ncps(wiring)
    sensory, adjacency = wiring.sensory_adjacency_matrix, wiring.adjacency_matrix
    assert (design.input_dim, design.units) == sensory.shape == (wiring.input_dim, wiring.units)
    np.testing.assert_array_equal(design.input_mask, sensory != 0)
    np.testing.assert_array_equal(design.input_sign, sensory)
    np.testing.assert_array_equal(design.recurrent_mask, adjacency != 0)
    np.testing.assert_array_equal(design.recurrent_sign, adjacency)
    motor = [i for i in range(wiring.units) if wiring.get_type_of_neuron(i) == "motor"]
    assert np.flatnonzero(design.output_mask).tolist() == motor == list(range(wiring.output_dim))
    stats = design.stats()
    assert stats.recurrent_signs.excitatory == (adjacency == 1).sum()
    assert stats.recurrent_signs.inhibitory == (adjacency == -1).sum()
    assert stats.recurrent_signs.free == 0
    assert design.metadata["ncps_wiring"] == kind
    assert "adjacency_matrix" not in design.metadata["ncps_config"]


def test_a_bare_wiring_with_hand_made_synapses_and_no_output_dim():
    wiring = ncps_wirings.Wiring(3)
    wiring.build(2)
    wiring.add_synapse(0, 2, -1)
    wiring.add_synapse(2, 2, 1)
    wiring.add_sensory_synapse(1, 0, 1)
    design = Connectivity.from_ncps(wiring, name="hand-made")
    assert design.name == "hand-made"
    assert np.argwhere(design.recurrent_mask).tolist() == [[0, 2], [2, 2]]
    assert design.recurrent_sign[0, 2] == -1 and design.recurrent_sign[2, 2] == 1
    assert np.argwhere(design.input_mask).tolist() == [[1, 0]]
    assert design.output_mask.all()  # no output_dim: ncps's cells read every unit


def test_ncp_config_is_read_back_without_touching_the_wirings_random_state():
    wiring = WIRINGS["NCP"]()
    state = wiring._rng.get_state()[1].copy()
    design = Connectivity.from_ncps(wiring)
    np.testing.assert_array_equal(wiring._rng.get_state()[1], state)
    assert design.metadata["ncps_config"] == {
        "inter_neurons": 6, "command_neurons": 4, "motor_neurons": 2, "sensory_fanout": 3,
        "inter_fanout": 2, "recurrent_command_synapses": 5, "motor_fanin": 3,
    }


@pytest.mark.parametrize("kind", WIRINGS)
def test_round_trip_through_npz_keeps_masks_signs_and_metadata(kind):
    design = Connectivity.from_ncps(WIRINGS[kind]())
    loaded = Connectivity.load(io.BytesIO(design.to_npz_bytes()))
    assert loaded == design
    assert loaded.input_sign.dtype == np.int8 and loaded.input_sign.shape == design.input_mask.shape


def test_unbuilt_wiring_and_other_objects_are_refused():
    with pytest.raises(ValueError, match=r"not built yet: call wiring.build\(input_dim\)"):
        Connectivity.from_ncps(ncps_wirings.AutoNCP(10, 2))
    with pytest.raises(ValueError, match="Received: ndarray"):
        Connectivity.from_ncps(np.ones((3, 3)))


def test_without_ncps_the_message_gives_the_install_command(monkeypatch):
    for module in [name for name in sys.modules if name == "ncps" or name.startswith("ncps.")]:
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, "ncps", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install ncps==1\.0\.1"):
        wirings.NCPS_WIRINGS.call("auto_ncp", 2, 10)


def test_the_registry_names_ncps_wirings_and_their_parameters():
    assert wirings.NCPS_WIRINGS.names() == ["auto_ncp", "ncp", "fully_connected", "random"]
    for entry in wirings.NCPS_WIRINGS.entries():
        assert entry.summary.startswith("ncps ")
        assert all(parameter.help for parameter in entry.parameters), entry.name


@pytest.mark.parametrize(
    ("entry", "params", "direct"),
    [
        ("auto_ncp", {"output_size": "3", "sparsity_level": "0.6", "seed": "3"},
         lambda: ncps_wirings.AutoNCP(20, 3, sparsity_level=0.6, seed=3)),
        ("ncp", {"command_neurons": 5, "motor_neurons": 2, "sensory_fanout": 3,
                 "inter_fanout": 2, "recurrent_command_synapses": 6, "motor_fanin": 4,
                 "seed": 9},
         lambda: ncps_wirings.NCP(13, 5, 2, 3, 2, 6, 4, seed=9)),
        ("fully_connected", {"output_dim": 4, "self_connections": "false"},
         lambda: ncps_wirings.FullyConnected(20, 4, self_connections=False)),
        ("random", {"sparsity_level": 0.8, "random_seed": 5},
         lambda: ncps_wirings.Random(20, None, sparsity_level=0.8, random_seed=5)),
    ],
)
def test_registry_entries_build_the_same_wiring_as_ncps(entry, params, direct):
    design = wirings.NCPS_WIRINGS.call(entry, 4, 20, **params)
    expected = Connectivity.from_ncps(_built(direct(), 4))
    for field in ("input_mask", "recurrent_mask", "output_mask", "input_sign", "recurrent_sign"):
        np.testing.assert_array_equal(getattr(design, field), getattr(expected, field))
    assert design.metadata["ncps_preset"] == entry
    typed = {p.name: p.coerce(params[p.name])
             for p in wirings.NCPS_WIRINGS.get(entry).parameters if p.name in params}
    assert typed.items() <= design.metadata["params"].items()
    assert design == wirings.NCPS_WIRINGS.call(entry, 4, 20, **params)


@pytest.mark.parametrize(
    ("entry", "params", "message"),
    [
        ("ncp", {"command_neurons": 8, "motor_neurons": 2}, "units=10, command_neurons=8"),
        ("auto_ncp", {"output_size": 9}, "Output size must be less than"),
        ("fully_connected", {"output_dim": 11}, "output_dim=11"),
        ("random", {"sparsity_level": "lots"}, "Received: 'lots'"),
    ],
)
def test_registry_refuses_bad_parameters_naming_them(entry, params, message):
    with pytest.raises(ValueError, match=message):
        wirings.NCPS_WIRINGS.call(entry, 2, 10, **params)


def test_ncps_designs_train_with_their_signs_enforced():
    from limconn import data, training

    design = wirings.NCPS_WIRINGS.call("auto_ncp", 2, 8, output_size=2)
    dataset = data.make_task("adding", num_samples=64, timesteps=5)
    result = training.train(training.TrainConfig(epochs=1, batch_size=32), design, dataset)
    kernel, recurrent = result.weights["kernel"], result.weights["recurrent_kernel"]
    for weight, mask, sign in ((kernel, design.input_mask, design.input_sign),
                               (recurrent, design.recurrent_mask, design.recurrent_sign)):
        assert np.all(weight[:, ~mask] == 0)
        assert np.all(weight * sign[None] >= 0)
        assert np.all(weight[:, mask] != 0)
