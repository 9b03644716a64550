"""How a design is enforced: a registry from strategy name to a Keras model builder.

Every strategy is `NAME(connectivity, input_shape, head, **options) -> keras.Model`,
registered in `STRATEGIES` with the `Enforcement` that states what it enforces (see
`limconn.enforcement`); its docstring's summary and prose are what the app shows, and the
tests check each statement. An LSTM (layer `lstm`) reads the sequence; its last hidden
state (many-to-one) or, for a per-step head (`Head.per_step`), its hidden state at every
step goes through the design's output mask (`output_mask`) to a `Dense` readout
(`readout`), which a Keras `Dense` applies to each step of a sequence alike. The masks act
on the same weights either way, so every statement holds for both heads.
`build_model` is the entry point:

>>> from limconn import presets
>>> design = presets.random(2, 16, density=0.5, seed=0)
>>> model = build_model("kernel", design, (50, 2), Head("regression", 1))  # doctest: +SKIP

To add a strategy, write one function and decorate it with
`@STRATEGIES.register(enforces=Enforcement(...))`. Keras is imported inside the builders, so
listing strategies never loads TensorFlow.
"""

from __future__ import annotations

import dataclasses

from limconn.connectivity import Connectivity, any_gate
from limconn.enforcement import Enforcement
from limconn.registry import Registry

STRATEGIES = Registry("strategy", positional=3)
HEAD_KINDS = ("regression", "classification")


def enforcement_of(strategy: str) -> Enforcement:
    """What the named strategy enforces.

    Raises:
        ValueError: for an unknown strategy, naming the known ones.
    """
    return STRATEGIES.get(strategy).attributes["enforces"]


@dataclasses.dataclass(frozen=True)
class Head:
    """What the model predicts from the LSTM's hidden state.

    Args:
        kind: `"regression"` (linear outputs, MSE) or `"classification"` (softmax over classes).
        outputs: number of regression targets, or of classes.
        per_step: `False` reads the last hidden state (outputs `(samples, outputs)`);
            `True` reads every step's (`return_sequences=True`; outputs
            `(samples, timesteps, outputs)`), for data with one target per step.

    Example:

    >>> Head("regression", 3, per_step=True)
    Head(kind='regression', outputs=3, per_step=True)
    """

    kind: str
    outputs: int
    per_step: bool = False

    def __post_init__(self):
        if self.kind not in HEAD_KINDS:
            raise ValueError(f"Head kind must be one of {HEAD_KINDS}. Received: kind={self.kind!r}")
        minimum = 2 if self.kind == "classification" else 1
        if not isinstance(self.outputs, int) or self.outputs < minimum:
            raise ValueError(
                f"A {self.kind} head needs outputs >= {minimum}. Received: outputs={self.outputs!r}"
            )
        if not isinstance(self.per_step, bool):
            raise ValueError(f"per_step must be True or False. Received: {self.per_step!r}")


def build_model(
    strategy: str,
    connectivity: Connectivity,
    input_shape: tuple[int | None, int],
    head: Head,
    **options,
):
    """Builds an uncompiled model that enforces `connectivity` the strategy's way.

    Many-to-one, or one prediction per step when `head.per_step`.

    Args:
        strategy: a name in `STRATEGIES`.
        connectivity: the design; its `input_dim` must equal `input_shape[-1]`.
        input_shape: `(timesteps, features)`; `timesteps` may be `None` (variable length).
        head: the readout.
        **options: the strategy's own parameters (e.g. `rate` for `random_dynamic`).

    Raises:
        ValueError: for an unknown strategy or option, or features that disagree with the design.
    """
    if len(input_shape) != 2 or input_shape[-1] != connectivity.input_dim:
        raise ValueError(
            f"input_shape must be (timesteps, {connectivity.input_dim}) for a design with "
            f"{connectivity.input_dim} inputs. Received: input_shape={tuple(input_shape)}"
        )
    return STRATEGIES.call(strategy, connectivity, tuple(input_shape), head, **options)


def _model(name: str, inputs, hidden, connectivity: Connectivity, head: Head):
    """Output mask, readout, and the `keras.Model` around them."""
    from limconn._tf import keras
    from limconn.layers import FixedMask

    hidden = FixedMask(connectivity.output_mask, name="output_mask")(hidden)
    activation = "softmax" if head.kind == "classification" else None
    outputs = keras.layers.Dense(head.outputs, activation=activation, name="readout")(hidden)
    return keras.Model(inputs, outputs, name=name)


def _masked_lstm(connectivity: Connectivity, head: Head, execution: str = "auto"):
    from limconn.layers import MaskedLSTM

    return MaskedLSTM(
        connectivity.units,
        input_mask=connectivity.input_mask,
        recurrent_mask=connectivity.recurrent_mask,
        input_sign=connectivity.input_sign,
        recurrent_sign=connectivity.recurrent_sign,
        return_sequences=head.per_step,
        execution=execution,
        name="lstm",
    )


def _dense_lstm(connectivity: Connectivity, head: Head):
    from limconn._tf import keras

    return keras.layers.LSTM(connectivity.units, return_sequences=head.per_step, name="lstm")


@STRATEGIES.register(enforces=Enforcement(input="connections", recurrent="connections", signs=True))
def kernel(connectivity, input_shape, head):
    """Masked weights: input→unit and unit→unit, per gate, exactly 0 in the LSTM's own kernels.

    The default. A `MaskedLSTM` computes with its kernels times the masks (and the signs,
    if the design has them), so a 0 in the mask is a 0 in every weight the model uses, from
    the first step on, and its gradient is 0, so the stored weight stays 0 too. The loop is
    Keras's own LSTM, so it keeps the fused cuDNN kernel on GPU. Honours the input,
    recurrent and output masks and the signs.
    """
    from limconn._tf import keras

    inputs = keras.Input(input_shape)
    return _model("kernel", inputs, _masked_lstm(connectivity, head)(inputs), connectivity, head)


@STRATEGIES.register(enforces=Enforcement(input="connections", recurrent="connections", signs=True))
def custom_cell(connectivity, input_shape, head):
    """Masks applied in every step of a custom LSTM cell: same limits, computed in the step.

    A `MaskedLSTMCell` under `keras.layers.RNN`: the masks (and signs) act on the
    computation itself at every step, which is the most flexible place for experiments, at
    the price of the step loop (no fused cuDNN kernel; slower). Honours the input,
    recurrent and output masks and the signs.
    """
    from limconn._tf import keras
    from limconn.layers import MaskedLSTMCell

    cell = MaskedLSTMCell(
        connectivity.units,
        input_mask=connectivity.input_mask,
        recurrent_mask=connectivity.recurrent_mask,
        input_sign=connectivity.input_sign,
        recurrent_sign=connectivity.recurrent_sign,
    )
    inputs = keras.Input(input_shape)
    hidden = keras.layers.RNN(cell, return_sequences=head.per_step, name="lstm")(inputs)
    return _model("custom_cell", inputs, hidden, connectivity, head)


@STRATEGIES.register(enforces=Enforcement(input="features", recurrent="none", signs=False))
def input_features(connectivity, input_shape, head):
    """Whole input features on or off for every unit, before a dense LSTM.

    Coarser than connectivity: a feature is kept if the input mask connects it to any unit,
    and then it reaches all units; a feature whose row is empty is multiplied by 0. The
    recurrent mask and the signs are not used: the LSTM is dense. This is the everyday
    "mask some features" answer, offered for comparison. Honours the output mask.
    """
    from limconn._tf import keras
    from limconn.layers import FixedMask

    kept = any_gate(connectivity.input_mask).any(axis=1)
    inputs = keras.Input(input_shape)
    features = FixedMask(kept, name="input_features")(inputs)
    hidden = _dense_lstm(connectivity, head)(features)
    return _model("input_features", inputs, hidden, connectivity, head)


@STRATEGIES.register(enforces=Enforcement(input="none", recurrent="none", signs=False))
def output(connectivity, input_shape, head):
    """Only the readout is limited: a dense LSTM, then a fixed mask on which units it reads.

    Input and recurrent masks and signs are not used. A unit outside the output mask is not
    read by the readout, but it still computes and, through the dense recurrent weights,
    still acts on the units that are read: it influences the prediction indirectly.
    """
    from limconn._tf import keras

    inputs = keras.Input(input_shape)
    hidden = _dense_lstm(connectivity, head)(inputs)
    return _model("output", inputs, hidden, connectivity, head)


@STRATEGIES.register(enforces=Enforcement(input="projection", recurrent="none", signs=False))
def sparse_projection(connectivity, input_shape, head):
    """Inputs pass through a sparse linear map (the input mask) into a dense LSTM.

    A `MaskedDense` without bias maps each step's features to `units` embedding channels,
    input `i` reaching channel `j` only where the input mask (any gate) allows; a dense
    LSTM then reads every channel, so an input reaches every unit through any channel it
    has. The masked weights are the projection's; the LSTM's kernels are dense. The
    recurrent mask and the signs are not used. Honours the output mask.
    """
    from limconn._tf import keras
    from limconn.layers import MaskedDense

    inputs = keras.Input(input_shape)
    embedded = MaskedDense(
        connectivity.units,
        kernel_mask=any_gate(connectivity.input_mask),
        use_bias=False,
        name="projection",
    )(inputs)
    hidden = _dense_lstm(connectivity, head)(embedded)
    return _model("sparse_projection", inputs, hidden, connectivity, head)


@STRATEGIES.register(enforces=Enforcement(
    input="connections", recurrent="connections", signs=True,
    note="In training, each sequence also loses a random subset of its input features "
         "(every step of it); inference uses every feature.",
))
def random_dynamic(connectivity, input_shape, head, rate: float = 0.5):
    """The design's masks plus random whole-feature dropping per sequence, in training only.

    Regularisation on top of the painted design (it is not DropConnect: whole features are
    dropped, not single weights): during training each sequence sees a random subset of its
    input features, each dropped with probability `rate` for all its steps, the rest scaled
    by 1 / (1 - rate); at inference every feature is used. The random mask is drawn per
    batch for whatever batch size comes. Honours all three masks and the signs exactly, as
    `kernel` does.

    Args:
        rate: probability of dropping each input feature of a sequence, in [0, 1).
    """
    from limconn._tf import keras

    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1). Received: rate={rate!r}")
    inputs = keras.Input(input_shape)
    dropped = keras.layers.Dropout(
        rate, noise_shape=(None, 1, connectivity.input_dim), name="random_inputs"
    )(inputs)
    hidden = _masked_lstm(connectivity, head)(dropped)
    return _model("random_dynamic", inputs, hidden, connectivity, head)


@STRATEGIES.register(enforces=Enforcement(
    input="none", recurrent="none", signs=False, skips_steps=True,
    note="Not connectivity: a step whose features all equal mask_value is skipped, whatever "
         "task it comes from (a synthetic task's all-zero steps included).",
))
def timestep(connectivity, input_shape, head, mask_value: float = 0.0):
    """Not connectivity: skips padded time steps of variable-length sequences.

    A `Masking` layer makes the LSTM skip every time step whose features all equal
    `mask_value`, as for sequences padded to a common length. It limits *which steps* are
    read, not which inputs reach which units: the input and recurrent masks and the signs
    are not used. Beware: it skips *every* such step, not only padding; on the `copy` task
    the delay steps are all zero and get skipped, which removes the delay the task is about.
    With a per-step head, the skipped steps also drop out of the loss and the metrics, as
    Keras does with a mask. Offered because it is the answer most often given, and
    explained as what it is. Honours the output mask.

    Args:
        mask_value: the padding value; a step whose features all equal it is skipped.
    """
    from limconn._tf import keras

    inputs = keras.Input(input_shape)
    masked = keras.layers.Masking(mask_value, name="skip_padding")(inputs)
    hidden = _dense_lstm(connectivity, head)(masked)
    return _model("timestep", inputs, hidden, connectivity, head)
