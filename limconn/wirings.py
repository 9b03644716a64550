"""Designs from ncps wirings (Neural Circuit Policies), by object or by name.

ncps (Lechner et al., "Neural circuit policies enabling auditable autonomy", 2020) keeps
connectivity as a `Wiring`: adjacency matrices, source × destination, with a polarity per
synapse. Its layout is limconn's, so a built wiring maps one to one onto a `Connectivity`:

* `sensory_adjacency_matrix` `(input_dim, units)`, values -1/0/+1 → `input_mask` (non-zero)
  and the per-connection `input_sign`;
* `adjacency_matrix` `(units, units)` → `recurrent_mask` and `recurrent_sign`;
* the motor neurons → `output_mask`. ncps's cells read their output from the first
  `output_dim` neurons (`state[:, :motor_size]`), and `NCP` numbers its neurons motor first,
  then command, then inter; so units `0 .. output_dim - 1` reach the readout. A wiring whose
  `output_dim` was never set (a bare `Wiring`) lets every unit reach it.

`Connectivity.from_ncps(wiring)` converts any built wiring; `NCPS_WIRINGS` builds ncps's
own wirings by name from `(input_dim, units)` and keyword parameters, for forms:

>>> from limconn.wirings import NCPS_WIRINGS
>>> [p.name for p in NCPS_WIRINGS.get("auto_ncp").parameters]
['output_size', 'sparsity_level', 'seed']
>>> NCPS_WIRINGS.call("auto_ncp", 2, 16, output_size=2).output_mask.sum()  # doctest: +SKIP
2

ncps is optional (`pip install ncps==1.0.1`) and imported only when a wiring is built or
converted; without it those calls raise `ModuleNotFoundError` with the install command, so
`ncps_available()` lets a page offer the import only where it works.
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import numpy as np

from limconn.connectivity import Connectivity
from limconn.registry import Registry

NCPS_REQUIREMENT = "ncps==1.0.1"
"""The ncps release this module was written against (its `Wiring` attributes are read)."""

NCPS_WIRINGS = Registry("ncps wiring", positional=2)


def ncps_available() -> bool:
    """Whether ncps can be imported here, without importing it."""
    return importlib.util.find_spec("ncps") is not None


def _ncps_wirings():
    """`ncps.wirings`, or a `ModuleNotFoundError` that says how to install it."""
    try:
        from ncps import wirings
    except ModuleNotFoundError as error:
        if error.name != "ncps":
            raise
        raise ModuleNotFoundError(
            f"Importing an ncps wiring needs the ncps package: pip install {NCPS_REQUIREMENT}",
            name="ncps",
        ) from error
    return wirings


def from_ncps(wiring, name: str | None = None) -> Connectivity:
    """The design of a built ncps `Wiring`: masks, per-connection signs, motor neurons.

    See the module docstring for the mapping. The metadata records the wiring's class
    (`ncps_wiring`) and its configuration (`ncps_config`, plain JSON values, without the
    adjacency matrices that the masks and signs already hold).

    Args:
        wiring: an `ncps.wirings.Wiring` (any subclass) on which `build(input_dim)` has
            been called.
        name: the design's name; `"ncps <class name>"` when `None`.

    Returns:
        A `Connectivity` with 2-D masks, per-connection signs and the motor output mask.

    Example:

    >>> from ncps.wirings import AutoNCP  # doctest: +SKIP
    >>> wiring = AutoNCP(16, 2)  # doctest: +SKIP
    >>> wiring.build(3)  # doctest: +SKIP
    >>> Connectivity.from_ncps(wiring).input_dim  # doctest: +SKIP
    3

    Raises:
        ModuleNotFoundError: if ncps is not installed (the message gives the command).
        ValueError: if `wiring` is not an ncps `Wiring`, is not built yet, or its matrices
            are not -1/0/+1 of matching shapes; the message names what came.
    """
    wirings = _ncps_wirings()
    if not isinstance(wiring, wirings.Wiring):
        raise ValueError(
            f"Expected an ncps.wirings.Wiring. Received: {type(wiring).__name__}."
        )
    kind = type(wiring).__name__
    if not wiring.is_built():
        raise ValueError(
            f"The ncps {kind} wiring is not built yet: call wiring.build(input_dim) with the "
            "number of input features first (ncps builds it when a layer first sees data)."
        )
    adjacency = np.asarray(wiring.adjacency_matrix)
    sensory = np.asarray(wiring.sensory_adjacency_matrix)
    units = int(wiring.units)
    output_mask = np.ones(units, bool)
    if wiring.output_dim is not None:
        motor = int(wiring.output_dim)
        if not 1 <= motor <= units:
            raise ValueError(
                f"The ncps {kind} wiring's output_dim must be in [1, {units}] (its units). "
                f"Received: output_dim={wiring.output_dim!r}."
            )
        output_mask[motor:] = False
    return Connectivity(
        sensory != 0,
        adjacency != 0,
        output_mask,
        metadata={
            "name": name or f"ncps {kind}",
            "ncps_wiring": kind,
            "ncps_config": _config(wiring, wirings),
        },
        input_sign=sensory,
        recurrent_sign=adjacency,
    )


def _config(wiring, wirings) -> dict:
    """The wiring's configuration as plain JSON values, without its adjacency matrices."""
    if type(wiring).get_config is wirings.NCP.get_config:
        # ncps 1.0.1's NCP.get_config reseeds the wiring's random generator (it returns
        # `self._rng.seed()`, which is None) and lists neuron ids instead of counts, so the
        # constructor's arguments are read back instead. NCP does not keep its seed.
        config = {
            "inter_neurons": wiring._num_inter_neurons,
            "command_neurons": wiring._num_command_neurons,
            "motor_neurons": wiring._num_motor_neurons,
            "sensory_fanout": wiring._sensory_fanout,
            "inter_fanout": wiring._inter_fanout,
            "recurrent_command_synapses": wiring._recurrent_command_synapses,
            "motor_fanin": wiring._motor_fanin,
        }
    else:
        config = dict(wiring.get_config())
    for matrix in ("adjacency_matrix", "sensory_adjacency_matrix"):
        config.pop(matrix, None)
    return json.loads(json.dumps(config, default=_plain))


def _plain(value: Any):
    """NumPy numbers and arrays as Python values; anything else as its text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _built(wiring, input_dim: int, entry: str, params: dict) -> Connectivity:
    """Builds an ncps wiring for `input_dim` features and converts it, recording `params`."""
    if not isinstance(input_dim, (int, np.integer)) or input_dim < 1:
        raise ValueError(
            f"input_dim must be a positive integer. Received: input_dim={input_dim!r}"
        )
    wiring.build(int(input_dim))
    design = from_ncps(wiring, name=f"ncps {entry}")
    return design.replace(metadata={**design.metadata, "ncps_preset": entry, "params": params})


def _check_units(units: int) -> None:
    if not isinstance(units, (int, np.integer)) or units < 1:
        raise ValueError(f"units must be a positive integer. Received: units={units!r}")


def _output_dim(output_dim: int, units: int) -> int | None:
    """ncps's `output_dim`: `None` (every unit) for 0, else checked against `units`."""
    if not 0 <= output_dim <= units:
        raise ValueError(
            f"output_dim must be in [0, {units}] (0: every unit). "
            f"Received: output_dim={output_dim!r}"
        )
    return output_dim or None


@NCPS_WIRINGS.register
def auto_ncp(
    input_dim: int, units: int, output_size: int = 1, sparsity_level: float = 0.5,
    seed: int = 22222,
) -> Connectivity:
    """ncps AutoNCP: an NCP sized from the units, the outputs and one sparsity level.

    ncps splits the units that are not motor neurons 60/40 into inter and command neurons
    and derives every fan-out from the sparsity. Signs are ncps's random polarities.

    Args:
        output_size: motor neurons (the units the readout reads), less than units - 2.
        sparsity_level: from 0.1 (dense) to 1.0 (sparsest; every fan-out 1).
        seed: ncps's random seed; the same seed gives the same wiring.
    """
    _check_units(units)
    wiring = _ncps_wirings().AutoNCP(
        int(units), output_size, sparsity_level=sparsity_level, seed=seed
    )
    params = {"output_size": output_size, "sparsity_level": sparsity_level, "seed": seed}
    return _built(wiring, input_dim, "auto_ncp", params)


@NCPS_WIRINGS.register
def ncp(
    input_dim: int,
    units: int,
    command_neurons: int = 4,
    motor_neurons: int = 1,
    sensory_fanout: int = 2,
    inter_fanout: int = 2,
    recurrent_command_synapses: int = 4,
    motor_fanin: int = 2,
    seed: int = 22222,
) -> Connectivity:
    """ncps NCP: sensory → inter → command → motor neurons, with fan-outs set one by one.

    The units not given to command and motor neurons are inter neurons (at least one).
    Units are numbered motor first, then command, then inter, as ncps does.

    Args:
        command_neurons: command neurons (layer 3).
        motor_neurons: motor neurons (layer 4; the units the readout reads).
        sensory_fanout: inter neurons each input reaches, at most the inter neurons.
        inter_fanout: command neurons each inter neuron reaches, at most the command neurons.
        recurrent_command_synapses: random command → command synapses.
        motor_fanin: command neurons reaching each motor neuron, at most the command neurons.
        seed: ncps's random seed; the same seed gives the same wiring.
    """
    _check_units(units)
    inter_neurons = units - command_neurons - motor_neurons
    if command_neurons < 1 or motor_neurons < 1 or inter_neurons < 1:
        raise ValueError(
            "An NCP needs at least one inter, one command and one motor neuron: units must "
            "exceed command_neurons + motor_neurons. Received: "
            f"units={units}, command_neurons={command_neurons}, motor_neurons={motor_neurons}"
        )
    wiring = _ncps_wirings().NCP(
        inter_neurons, command_neurons, motor_neurons, sensory_fanout, inter_fanout,
        recurrent_command_synapses, motor_fanin, seed=seed,
    )
    params = {
        "command_neurons": command_neurons,
        "motor_neurons": motor_neurons,
        "sensory_fanout": sensory_fanout,
        "inter_fanout": inter_fanout,
        "recurrent_command_synapses": recurrent_command_synapses,
        "motor_fanin": motor_fanin,
        "seed": seed,
    }
    return _built(wiring, input_dim, "ncp", params)


@NCPS_WIRINGS.register
def fully_connected(
    input_dim: int, units: int, output_dim: int = 0, erev_init_seed: int = 1111,
    self_connections: bool = True,
) -> Connectivity:
    """ncps FullyConnected: every input and unit reaches every unit, random polarities.

    Each synapse is excitatory with probability 2/3 and inhibitory otherwise, as ncps draws.

    Args:
        output_dim: units the readout reads (the first ones); 0 for every unit.
        erev_init_seed: ncps's seed for the polarities.
        self_connections: whether each unit feeds its own next step.
    """
    _check_units(units)
    wiring = _ncps_wirings().FullyConnected(
        int(units), _output_dim(output_dim, units), erev_init_seed=erev_init_seed,
        self_connections=self_connections,
    )
    params = {
        "output_dim": output_dim,
        "erev_init_seed": erev_init_seed,
        "self_connections": self_connections,
    }
    return _built(wiring, input_dim, "fully_connected", params)


@NCPS_WIRINGS.register
def random(
    input_dim: int, units: int, output_dim: int = 0, sparsity_level: float = 0.5,
    random_seed: int = 1111,
) -> Connectivity:
    """ncps Random: a random share of all synapses, random polarities.

    Keeps `round((1 - sparsity_level) * n)` of the n possible synapses of each matrix.

    Args:
        output_dim: units the readout reads (the first ones); 0 for every unit.
        sparsity_level: share of synapses left out, in [0, 1).
        random_seed: ncps's random seed; the same seed gives the same wiring.
    """
    _check_units(units)
    wiring = _ncps_wirings().Random(
        int(units), _output_dim(output_dim, units), sparsity_level=sparsity_level,
        random_seed=random_seed,
    )
    params = {
        "output_dim": output_dim,
        "sparsity_level": sparsity_level,
        "random_seed": random_seed,
    }
    return _built(wiring, input_dim, "random", params)
