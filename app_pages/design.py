"""Design: paint which inputs reach which units and which units feed which."""

import numpy as np
import pandas as pd
import streamlit as st

from limconn import presets
from limconn.connectivity import GATES, Connectivity, any_gate, load_mask_npy, mask_npy_bytes
from limconn.plots import connectivity_graph
from limconn.ui import state
from limconn.ui.forms import parameter_inputs
from limconn.ui.painter import paint_mask

MAX_SIZE = 256
GATE_CHOICES = ("all gates", *GATES)
MATRICES = {"input → unit": "input_mask", "unit → unit": "recurrent_mask"}


def gate_view(mask: np.ndarray, gate: str) -> np.ndarray:
    """The 2-D matrix the painter shows for `gate` ("all gates": any gate connects)."""
    if gate == "all gates":
        return any_gate(mask)
    return (mask if mask.ndim == 3 else np.broadcast_to(mask, (4, *mask.shape)))[
        GATES.index(gate)
    ]


def with_painted(mask: np.ndarray, painted: np.ndarray, gate: str) -> np.ndarray:
    """`mask` after painting `painted` on `gate`; painting "all gates" sets every gate."""
    if gate == "all gates":
        return painted
    per_gate = mask.copy() if mask.ndim == 3 else np.repeat(mask[None], 4, axis=0)
    per_gate[GATES.index(gate)] = painted
    return per_gate


def seeded(key: str, value) -> str:
    """Shows `value` in the widget `key` on this run: the design, not the widget, holds it.

    Widgets whose shown value follows the design take their changes in `on_change`
    callbacks, which run before the page, so no edit is lost when the design moves on.
    """
    st.session_state[key] = value
    return key


def pick_design() -> None:
    st.session_state[state.CURRENT] = st.session_state["design.picker"]


def resize_design(name: str) -> None:
    inputs, units = st.session_state["design.inputs"], st.session_state["design.units"]
    state.put(name, state.designs()[name].resized(int(inputs), int(units)))


def set_readout(name: str) -> None:
    design = state.designs()[name]
    output_mask = np.ones(design.units, bool)
    output_mask[st.session_state["design.blocked"]] = False
    state.put(name, design.replace(output_mask=output_mask))


st.title("Design")
st.caption("Rows are sources, columns are targets. Click toggles a cell; drag paints.")

kept = state.designs()
names = list(kept)
picker, renamer, create, duplicate, delete = st.columns(
    [3, 2, 1, 1, 1], vertical_alignment="bottom"
)
name = picker.selectbox(
    "Design", names, key=seeded("design.picker", state.current_name()), on_change=pick_design
)
design = kept[name]
new_name = renamer.text_input("Name", value=name, key=f"design.rename.{name}")
if new_name != name:
    try:
        state.rename(name, new_name)
    except ValueError as error:
        st.error(str(error))
    else:
        st.rerun()
if create.button("New", help="A new dense design of the same size"):
    state.put(state.new_name(), Connectivity.dense(design.input_dim, design.units))
    st.rerun()
if duplicate.button("Duplicate"):
    state.put(state.new_name(f"{name} copy"), design)
    st.rerun()
if delete.button("Delete", disabled=len(kept) == 1):
    state.remove(name)
    st.rerun()

inputs_column, units_column, gate_column = st.columns([1, 1, 2])
data_inputs = st.session_state.get(state.DATA_INPUTS)
inputs_column.number_input(
    "Inputs", 1, MAX_SIZE, key=seeded("design.inputs", design.input_dim),
    on_change=resize_design, args=(name,),
    help="Input features. The Train page sets this from the chosen data.",
)
units_column.number_input(
    "Units", 1, MAX_SIZE, key=seeded("design.units", design.units),
    on_change=resize_design, args=(name,),
)
if data_inputs and data_inputs != design.input_dim:
    note, action = st.columns([4, 1], vertical_alignment="center")
    note.info(f"The data chosen on Train has {data_inputs} features; this design has "
              f"{design.input_dim} inputs.")
    if action.button(f"Use {data_inputs} inputs"):
        state.put(name, design.resized(data_inputs, design.units))
        st.rerun()
gate = gate_column.segmented_control(
    "Gate", GATE_CHOICES, default="all gates", key="design.gate",
    help="Paint one gate's mask (i, f, c, o) or all four at once.",
) or "all gates"
if gate == "all gates" and design.per_gate:
    st.caption("This design has per-gate masks; the view shows where any gate connects, "
               "and painting here sets all four gates alike.")

painters = st.columns(2)
labels = {"input_mask": ("input", "unit"), "recurrent_mask": ("unit", "unit")}
for column, (title, field) in zip(painters, MATRICES.items(), strict=True):
    with column:
        st.subheader(title)
        mask = getattr(design, field)
        shown = gate_view(mask, gate)
        source, target = labels[field]
        painted = paint_mask(shown, key=f"painter.{field}.{name}.{gate}",
                             source_label=source, target_label=target).mask
        if not np.array_equal(painted, shown):
            design = design.replace(**{field: with_painted(mask, painted, gate)})
            state.put(name, design)

with st.expander("Readout: units that reach the output", expanded=False):
    st.multiselect(
        "Units cut off from the readout",
        list(range(design.units)),
        key=seeded("design.blocked", np.flatnonzero(~design.output_mask).tolist()),
        on_change=set_readout, args=(name,),
    )

with st.expander("Presets", expanded=True):
    preset_column, target_column = st.columns([2, 2])
    preset_name = preset_column.selectbox("Preset", presets.PRESETS.names(), key="design.preset")
    entry = presets.PRESETS.get(preset_name)
    apply_to = target_column.radio("Apply to", ("both", *MATRICES), horizontal=True,
                                   key="design.apply_to")
    st.caption(entry.summary)
    params = parameter_inputs(entry, key="design.preset")
    if st.button("Apply preset", type="primary"):
        try:
            generated = presets.get(preset_name, design.input_dim, design.units, **params)
        except ValueError as error:
            st.error(str(error))
        else:
            if apply_to == "both":
                design = generated.replace(metadata={**design.metadata, **generated.metadata})
            else:
                field = MATRICES[apply_to]
                design = design.replace(**{field: getattr(generated, field)})
            state.put(name, design)
            st.rerun()

stats = design.stats()
st.subheader("Stats")
density_column, recurrent_column, params_column, fan_column = st.columns(4)
density_column.metric("Input density", f"{stats.input_density:.0%}")
recurrent_column.metric("Recurrent density", f"{stats.recurrent_density:.0%}")
params_column.metric(
    "Effective parameters", f"{stats.effective_parameters:,} ({stats.parameter_ratio:.0%})",
    help=f"Trainable LSTM weights the masks leave, of {stats.dense_parameters:,} in the dense "
    "LSTM of the same size (biases included).",
)
fan_column.metric("Mean fan-in", f"{stats.fan_in.mean():.1f}")
for problem, units_list in (
    ("no input reaches", stats.unreachable_units),
    ("cannot reach the output", stats.dead_end_units),
    ("are isolated", stats.isolated_units),
):
    if units_list:
        shown_units = ", ".join(map(str, units_list[:20])) + (" …" if len(units_list) > 20 else "")
        st.warning(f"{len(units_list)} unit(s) {problem}: {shown_units}")
for title, field in MATRICES.items():
    if not getattr(design, field).any():
        st.warning(f"The {title} matrix is all zero: nothing flows through it.")
st.bar_chart(pd.DataFrame({"fan-in": stats.fan_in, "fan-out": stats.fan_out}), height=180,
             x_label="unit", stack=False)

with st.expander("Connectivity graph"):
    st.plotly_chart(connectivity_graph(design), width="stretch")

st.subheader("Files")
download_columns = st.columns(3)
download_columns[0].download_button(
    "input_mask.npy", mask_npy_bytes(design.input_mask), "input_mask.npy", key="download.input"
)
download_columns[1].download_button(
    "recurrent_mask.npy", mask_npy_bytes(design.recurrent_mask), "recurrent_mask.npy",
    key="download.recurrent",
)
download_columns[2].download_button(
    "design.npz", design.to_npz_bytes(), f"{name}.npz", key="download.design"
)
upload = st.file_uploader("Import a mask (.npy) or a design (.npz)", type=["npy", "npz"],
                          key="design.upload")
if upload is not None:
    into = None
    if upload.name.lower().endswith(".npy"):
        into = st.radio("Load the matrix into", list(MATRICES), horizontal=True,
                        key="design.upload_into")
    if st.button("Import"):
        try:
            if into is None:
                imported = Connectivity.load(upload)
                state.put(state.new_name(upload.name.rsplit(".", 1)[0]), imported)
            else:
                mask = load_mask_npy(upload, name=upload.name)
                field = MATRICES[into]
                new_inputs = mask.shape[-2] if field == "input_mask" else design.input_dim
                resized = design.resized(new_inputs, mask.shape[-1])
                state.put(name, resized.replace(**{field: mask}))
        except ValueError as error:
            st.error(f"Could not import {upload.name}: {error}")
        else:
            st.rerun()
