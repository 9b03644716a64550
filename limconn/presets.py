"""Named connectivity generators: small pure functions that return a `Connectivity`.

Every preset is `NAME(input_dim, units, **params) -> Connectivity`, deterministic for its
`seed`, and registered in `PRESETS`, which the app and the CLI read to build their forms:

>>> from limconn import presets
>>> [p.name for p in presets.PRESETS.get("random").parameters]
['density', 'seed']
>>> presets.random(2, 32, density=0.5, seed=1).units
32

To add one, write a function with annotated keyword defaults and an `Args:` docstring, and
decorate it with `@PRESETS.register`.
"""

from __future__ import annotations

import numpy as np

from limconn.connectivity import Connectivity
from limconn.registry import Parameter, Registry

PRESETS = Registry("preset", positional=2)


def _check_sizes(input_dim: int, units: int) -> None:
    for name, value in (("input_dim", input_dim), ("units", units)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}]. Received: {name}={value!r}")


def _design(preset: str, params: dict, input_mask, recurrent_mask, output_mask=None):
    return Connectivity(
        input_mask,
        recurrent_mask,
        output_mask,
        metadata={"name": preset, "preset": preset, "params": params},
    )


def _groups_of(size: int, groups: int) -> np.ndarray:
    """Group index of each of `size` positions split into `groups` contiguous, even parts."""
    return np.arange(size) * groups // size


def get(
    name: str, input_dim: int, units: int, dale: float = 0.0, dale_seed: int = 0, **params
) -> Connectivity:
    """Builds the named preset, converting form or command-line values to their types.

    Args:
        name: a name in `PRESETS`.
        input_dim, units: the design's size.
        dale: the excitatory share of units for Dale's law (`with_dale`); 0 (the default)
            gives no signs at all, so a design of only inhibitory units is not made here.
        dale_seed: which units are excitatory, with `dale`.
        **params: the preset's own parameters.

    Example:

    >>> get("random", 2, 10, dale=0.8, density="0.5").stats().recurrent_signs.excitatory
    8

    Raises:
        ValueError: for an unknown preset, an unknown parameter or a bad value.
    """
    design = PRESETS.call(name, input_dim, units, **params)
    dale = Parameter("dale", float, 0.0).coerce(dale)
    if dale == 0:
        return design
    return with_dale(design, dale, Parameter("dale_seed", int, 0).coerce(dale_seed))


def with_dale(design: Connectivity, excitatory: float = 0.8, seed: int = 0) -> Connectivity:
    """Gives each unit one sign for all its outgoing recurrent weights (Dale's law).

    A neuron is excitatory or inhibitory in all its synapses (Dale's principle); in an LSTM
    this makes a unit's previous state push every gate of every unit it feeds one way only
    (the layers compute with `|w| * sign`). A random `excitatory` share of the units,
    rounded to a whole number as Python's `round` does, gets +1, the rest -1; the
    input signs are left as they are (free, unless the design has some). Combine it with
    any preset, or use `get(..., dale=0.8)`.

    Args:
        design: the design to sign; it must not carry recurrent signs yet.
        excitatory: share of excitatory units, in [0, 1] (0.8: cortex's usual 80/20).
        seed: which units are excitatory; the same seed gives the same units.

    Returns:
        A copy with `recurrent_sign` of shape `(units,)`, named "<name> · Dale 80%", its
        metadata's `dale` holding the share, the seed and the number of excitatory units.

    Example:

    >>> signed = with_dale(random(2, 10, seed=0), excitatory=0.8, seed=1)
    >>> int((signed.recurrent_sign > 0).sum()), signed.name
    (8, 'random · Dale 80%')

    Raises:
        ValueError: for a share outside [0, 1] or a design that already has recurrent
            signs; the message names the value.
    """
    _check_range("excitatory", excitatory, 0.0, 1.0)
    if design.recurrent_sign is not None:
        raise ValueError(
            f"The design {design.name!r} already has recurrent signs "
            f"({design.stats().recurrent_signs}); Dale's law would replace them. "
            "Apply it to a design without recurrent signs."
        )
    count = round(excitatory * design.units)
    sign = np.full(design.units, -1, np.int8)
    sign[np.random.default_rng(seed).permutation(design.units)[:count]] = 1
    dale = {"excitatory": excitatory, "seed": seed, "excitatory_units": count}
    return design.replace(
        recurrent_sign=sign,
        metadata={
            **design.metadata,
            "name": f"{design.name or 'design'} · Dale {excitatory * 100:g}%",
            "dale": dale,
        },
    )


@PRESETS.register
def dense(input_dim: int, units: int) -> Connectivity:
    """Fully connected: the ordinary LSTM."""
    _check_sizes(input_dim, units)
    return _design("dense", {}, np.ones((input_dim, units)), np.ones((units, units)))


@PRESETS.register
def random(input_dim: int, units: int, density: float = 0.5, seed: int = 0) -> Connectivity:
    """Each connection kept independently with probability `density` (Erdős–Rényi).

    Args:
        density: probability that a connection exists, in [0, 1].
        seed: random seed; the same seed gives the same masks.
    """
    _check_sizes(input_dim, units)
    _check_range("density", density, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    return _design(
        "random",
        {"density": density, "seed": seed},
        rng.random((input_dim, units)) < density,
        rng.random((units, units)) < density,
    )


@PRESETS.register
def banded(input_dim: int, units: int, width: int = 2) -> Connectivity:
    """Local receptive fields: inputs reach nearby units, units their neighbours.

    Inputs and units are laid out on the same line; input `i` sits over unit
    `round((i + 0.5) * units / input_dim - 0.5)`. A band as in locally connected layers.

    Args:
        width: how many units on each side a connection reaches (0 = only the nearest).
    """
    _check_sizes(input_dim, units)
    _check_range("width", width, 0, max(units, 1))
    centres = np.round((np.arange(input_dim) + 0.5) * units / input_dim - 0.5)
    unit_positions = np.arange(units)
    input_mask = np.abs(unit_positions[None, :] - centres[:, None]) <= width
    recurrent_mask = np.abs(unit_positions[None, :] - unit_positions[:, None]) <= width
    return _design("banded", {"width": width}, input_mask, recurrent_mask)


@PRESETS.register
def block_diagonal(input_dim: int, units: int, groups: int = 2) -> Connectivity:
    """Independent groups: input group g reaches only unit group g, units stay in their group.

    The Group LSTM of Kuchaiev & Ginsburg, "Factorization tricks for LSTM networks" (2017).

    Args:
        groups: number of groups, at most min(input_dim, units); sizes differ by at most one.
    """
    _check_sizes(input_dim, units)
    _check_range("groups", groups, 1, min(input_dim, units))
    input_groups = _groups_of(input_dim, groups)
    unit_groups = _groups_of(units, groups)
    return _design(
        "block_diagonal",
        {"groups": groups},
        input_groups[:, None] == unit_groups[None, :],
        unit_groups[:, None] == unit_groups[None, :],
    )


@PRESETS.register
def diagonal(input_dim: int, units: int) -> Connectivity:
    """Every input reaches every unit; each unit sees only its own previous state.

    The independent recurrence of IndRNN (Li et al. 2018) and IndyLSTM (Gonnet & Deselaers 2019).
    """
    _check_sizes(input_dim, units)
    return _design("diagonal", {}, np.ones((input_dim, units)), np.eye(units))


@PRESETS.register
def clockwork(input_dim: int, units: int, modules: int = 4) -> Connectivity:
    """Units in modules ordered from fast to slow; slower modules feed faster ones, not back.

    The connectivity of the Clockwork RNN (Koutník et al. 2014): module `k` (period `2**k`)
    receives from modules `k' >= k`. Only the connectivity is reproduced: the modules' clock
    rates are not (every unit updates every step). Inputs reach every unit.

    Args:
        modules: number of modules, at most units; sizes differ by at most one.
    """
    _check_sizes(input_dim, units)
    _check_range("modules", modules, 1, units)
    module = _groups_of(units, modules)
    return _design(
        "clockwork",
        {"modules": modules},
        np.ones((input_dim, units)),
        module[:, None] >= module[None, :],
    )


@PRESETS.register
def ncp(
    input_dim: int,
    units: int,
    motor: int = 1,
    inter_fraction: float = 0.6,
    sensory_fanout: float = 0.5,
    inter_fanout: float = 0.5,
    recurrent_command: float = 1.0,
    motor_fanin: float = 0.5,
    seed: int = 0,
) -> Connectivity:
    """Neural circuit policy: sensory → inter → command → motor layers, sparse and random.

    After Lechner et al., "Neural circuit policies enabling auditable autonomy" (2020) and
    the `ncps` wiring: inputs are the sensory neurons; units are laid out as inter, then
    command, then motor neurons; only the motor neurons reach the readout. Random fan-outs
    are topped up so that no inter, command or motor unit is left out of the chain.

    Args:
        motor: number of motor units (those that reach the output), at least 1.
        inter_fraction: share of the remaining units that are inter neurons (rest: command).
        sensory_fanout: share of inter units each input reaches.
        inter_fanout: share of command units each inter unit reaches.
        recurrent_command: command→command synapses, as a multiple of the command units.
        motor_fanin: share of command units that reach each motor unit.
        seed: random seed; the same seed gives the same masks.
    """
    _check_sizes(input_dim, units)
    _check_range("motor", motor, 1, units - 2)
    _check_range("inter_fraction", inter_fraction, 0.0, 1.0)
    for name, value in (
        ("sensory_fanout", sensory_fanout),
        ("inter_fanout", inter_fanout),
        ("motor_fanin", motor_fanin),
    ):
        _check_range(name, value, 0.0, 1.0)
    _check_range("recurrent_command", recurrent_command, 0.0, float(units))
    rng = np.random.default_rng(seed)
    rest = units - motor
    inter = min(max(1, round(rest * inter_fraction)), rest - 1)
    inter_units = np.arange(inter)
    command_units = np.arange(inter, rest)
    motor_units = np.arange(rest, units)

    input_mask = np.zeros((input_dim, units), bool)
    recurrent_mask = np.zeros((units, units), bool)
    _wire_fanout(rng, input_mask, np.arange(input_dim), inter_units, sensory_fanout)
    _wire_fanout(rng, recurrent_mask, inter_units, command_units, inter_fanout)
    for _ in range(round(recurrent_command * len(command_units))):
        recurrent_mask[rng.choice(command_units), rng.choice(command_units)] = True
    _wire_fanout(rng, recurrent_mask.T, motor_units, command_units, motor_fanin)
    output_mask = np.zeros(units, bool)
    output_mask[motor_units] = True
    params = {
        "motor": motor,
        "inter_fraction": inter_fraction,
        "sensory_fanout": sensory_fanout,
        "inter_fanout": inter_fanout,
        "recurrent_command": recurrent_command,
        "motor_fanin": motor_fanin,
        "seed": seed,
    }
    return _design("ncp", params, input_mask, recurrent_mask, output_mask)


def _wire_fanout(rng, mask, sources, targets, share: float) -> None:
    """Connects each source to a random `share` of targets (at least one), in place; then
    gives every target still without a source one random source."""
    count = max(1, round(share * len(targets)))
    for source in sources:
        mask[source, rng.choice(targets, size=count, replace=False)] = True
    for target in targets:
        if not mask[sources, target].any():
            mask[rng.choice(sources), target] = True


@PRESETS.register
def small_world(
    input_dim: int, units: int, k: int = 4, p: float = 0.1, seed: int = 0
) -> Connectivity:
    """Watts–Strogatz small world: a ring of k nearest neighbours, each link rewired with prob. p.

    Watts & Strogatz, "Collective dynamics of 'small-world' networks" (1998). Each unit also
    keeps its own previous state; inputs reach every unit.

    Args:
        k: ring neighbours per unit (k // 2 on each side), even, less than units.
        p: probability of rewiring each ring link to a random target.
        seed: random seed; the same seed gives the same masks.
    """
    _check_sizes(input_dim, units)
    _check_range("k", k, 0, max(units - 1, 0))
    _check_range("p", p, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    recurrent_mask = np.eye(units, dtype=bool)
    for offset in range(1, k // 2 + 1):
        for source in range(units):
            for target in ((source + offset) % units, (source - offset) % units):
                if rng.random() < p:
                    free = np.flatnonzero(~recurrent_mask[source])
                    if free.size:
                        target = rng.choice(free)
                recurrent_mask[source, target] = True
    return _design(
        "small_world",
        {"k": k, "p": p, "seed": seed},
        np.ones((input_dim, units)),
        recurrent_mask,
    )


@PRESETS.register
def feedforward(input_dim: int, units: int) -> Connectivity:
    """No recurrence between units: every input reaches every unit, no hidden state is fed back.

    Each unit's cell state still carries over time (the LSTM's own memory), but no unit's
    output `h` reaches any gate at the next step.
    """
    _check_sizes(input_dim, units)
    return _design("feedforward", {}, np.ones((input_dim, units)), np.zeros((units, units)))
