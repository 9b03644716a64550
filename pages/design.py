"""Design: paint which inputs reach which units and which units feed which."""

import numpy as np
import streamlit as st

from limconn import adjacency, presets, share, wirings
from limconn.connectivity import Connectivity, load_mask_npy, mask_npy_bytes
from limconn.gate_views import (
    ALL_GATES,
    GATE_CHOICES,
    connection_view,
    gate_view,
    strip_signs,
    with_painted,
    with_strip,
)
from limconn.plots import connectivity_graph, fan_bars_html
from limconn.ui import resources, state
from limconn.ui.forms import confirmed, parameter_inputs
from limconn.ui.frame import page_frame
from limconn.ui.painter import paint_mask
from limconn.ui.text import plain, reported

MATRICES = {"input → unit": "input_mask", "unit → unit": "recurrent_mask"}
SIGNS = {"input_mask": "input_sign", "recurrent_mask": "recurrent_sign"}
LABELS = {"input_mask": ("input", "unit"), "recurrent_mask": ("unit", "unit")}


def seeded(key: str, value) -> str:
    """Shows `value` in the widget `key` on this run: the design, not the widget, holds it.

    Widgets whose shown value follows the design take their changes in `on_change`
    callbacks, which run before the page, so no edit is lost when the design moves on.
    """
    st.session_state[key] = value
    return key


def pick_design() -> None:
    with reported():
        state.select(st.session_state["design.picker"])


def resize_design(name: str) -> None:
    inputs, units = st.session_state["design.inputs"], st.session_state["design.units"]
    with reported():
        state.put(name, state.designs()[name].resized(int(inputs), int(units)))


def set_readout(name: str) -> None:
    design = state.designs()[name]
    output_mask = np.ones(design.units, bool)
    output_mask[st.session_state["design.blocked"]] = False
    with reported():
        state.put(name, design.edited(output_mask=output_mask))


def import_file(upload, into: str | None, name: str, design: Connectivity) -> None:
    """A design (.npz), a mask (.npy) or an adjacency table (.csv) into the workspace."""
    limits = resources.settings().limits
    if into is None:
        imported = Connectivity.load(upload, max_bytes=limits.max_upload_bytes, limits=limits)
        state.put(state.new_name(upload.name.rsplit(".", 1)[0]), imported)
        return
    field = MATRICES[into]
    sign = None
    if upload.name.lower().endswith(".csv"):
        sources = "inputs" if field == "input_mask" else "units"
        mask, values, _, _ = adjacency.adjacency_from_csv(upload, limits=limits, sources=sources)
        sign = adjacency.signs_for(values, "auto")
    else:
        mask = load_mask_npy(upload, name=upload.name, max_bytes=limits.max_upload_bytes,
                             limits=limits)
    new_inputs = mask.shape[-2] if field == "input_mask" else design.input_dim
    limits.check_design(new_inputs, mask.shape[-1])
    resized = design.resized(new_inputs, mask.shape[-1])
    state.put(name, resized.edited(**{field: mask, SIGNS[field]: sign}))


page_frame("Design")
limits = resources.settings().limits
st.title("Design")
st.caption("Rows are sources, columns are targets. Click toggles a cell; drag paints; a click "
           "on a row or column number sets the whole row or column.")

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
# Compared stripped, as stored: "name " would otherwise rename to "name" on every rerun.
if new_name.strip() != name:
    try:
        state.rename(name, new_name)
    except ValueError as error:
        st.error(plain(error))
    else:
        st.rerun()
try:
    if create.button("New", help="A new dense design of the same size"):
        state.put(state.new_name(), Connectivity.dense(design.input_dim, design.units))
        st.rerun()
    if duplicate.button("Duplicate"):
        state.put(state.new_name(f"{name} copy"), design)
        st.rerun()
except ValueError as error:
    st.error(plain(error))
if confirmed("Delete", f"Delete the design **{plain(name)}**? This cannot be undone.",
             key=f"design.delete.{name}", container=delete, disabled=len(kept) == 1):
    with reported():
        state.remove(name)
        st.rerun()

inputs_column, units_column, gate_column, signs_column = st.columns([1, 1, 2, 1],
                                                                   vertical_alignment="bottom")
data_inputs = st.session_state.get(state.DATA_INPUTS)
inputs_column.number_input(
    "Inputs", 1, limits.max_inputs, key=seeded("design.inputs", design.input_dim),
    on_change=resize_design, args=(name,),
    help="Input features. The Train page sets this from the chosen data.",
)
units_column.number_input(
    "Units", 1, limits.max_units, key=seeded("design.units", design.units),
    on_change=resize_design, args=(name,),
)
gate = gate_column.segmented_control(
    "Gate", GATE_CHOICES, default=ALL_GATES, key="design.gate",
    help="Paint one gate's mask (i, f, c, o) or all four at once.",
) or ALL_GATES
show_signs = signs_column.toggle(
    "Signs", value=design.signed, key=f"design.signs.{name}",
    help="Dale's law: mark sources excitatory (+, outgoing weights >= 0 in every gate) or "
         "inhibitory (−, <= 0) with the strip left of each matrix; click cycles +, −, free.",
)
if data_inputs and data_inputs != design.input_dim:
    note, action = st.columns([4, 1], vertical_alignment="center")
    note.info(f"The data chosen on Train has {data_inputs} features; this design has "
              f"{design.input_dim} inputs.")
    if action.button(f"Use {data_inputs} inputs"):
        with reported():
            state.put(name, design.resized(data_inputs, design.units))
            st.rerun()
if gate == ALL_GATES and design.per_gate:
    st.caption("This design has per-gate masks; the view shows where any gate connects, "
               "and painting here sets all four gates alike.")

painters = st.columns(2)
for column, (title, field) in zip(painters, MATRICES.items(), strict=True):
    with column:
        st.subheader(title)
        mask = getattr(design, field)
        sign = getattr(design, SIGNS[field])
        shown = gate_view(mask, gate)
        strip = strip_signs(sign, mask, gate) if show_signs else None
        source, target = LABELS[field]
        painted = paint_mask(
            shown, key=f"painter.{field}.{name}.{gate}", source_label=source,
            target_label=target, row_signs=strip,
            connection_signs=connection_view(sign, gate) if show_signs else None,
        )
        changes = {}
        if not np.array_equal(painted.mask, shown):
            changes[field] = with_painted(mask, painted.mask, gate)
        if strip is not None and not np.array_equal(painted.row_signs, strip):
            changes[SIGNS[field]] = with_strip(sign, painted.row_signs, mask, gate)
        if changes:
            design = design.edited(**changes)
            with reported():
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
    dale_column, dale_seed_column = st.columns(2)
    dale = dale_column.number_input(
        "Dale's law: excitatory fraction", 0.0, 1.0, 0.0, step=0.1, key="design.dale",
        help="0 leaves signs free. Above 0, that fraction of units is excitatory and the "
             "rest inhibitory (recurrent signs per unit); inputs stay free.",
    )
    dale_seed = dale_seed_column.number_input("Dale seed", 0, 2**31 - 1, 0,
                                              key="design.dale_seed")
    if st.button("Apply preset", type="primary"):
        try:
            generated = presets.get(preset_name, design.input_dim, design.units,
                                    dale=dale, dale_seed=int(dale_seed), **params)
        except ValueError as error:
            st.error(plain(error))
        else:
            if apply_to == "both":
                design = generated.replace(metadata={**design.metadata, **generated.metadata})
            else:
                field = MATRICES[apply_to]
                design = design.edited(**{field: getattr(generated, field),
                                          SIGNS[field]: getattr(generated, SIGNS[field])})
            with reported():
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
    "LSTM of the same size (biases included). Strategies that do not enforce the masks train "
    "more: Compare shows each trained model's own count.",
)
fan_column.metric("Mean fan-in", f"{stats.fan_in.mean():.1f}")
for what, counts in (("inputs", stats.input_signs), ("units", stats.recurrent_signs)):
    if counts is not None:
        per = what if counts.per == "source" else f"{what[:-1]} connections"
        st.caption(f"Signs of {per}: {counts.excitatory} excitatory, {counts.inhibitory} "
                   f"inhibitory, {counts.free} free.")
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
st.html(fan_bars_html(stats.fan_in, stats.fan_out))

# A toggle, not an expander: a closed expander's figure would still be built on every rerun.
if st.toggle("Show the connectivity graph", key="design.graph"):
    st.plotly_chart(connectivity_graph(design), width="stretch")

st.subheader("Files and links")
download_columns = st.columns(3)
download_columns[0].download_button(
    "input_mask.npy", mask_npy_bytes(design.input_mask), "input_mask.npy", key="download.input"
)
download_columns[1].download_button(
    "recurrent_mask.npy", mask_npy_bytes(design.recurrent_mask), "recurrent_mask.npy",
    key="download.recurrent",
)
download_columns[2].download_button(
    "design.npz", design.to_npz_bytes(), state.file_name(name, ".npz"), key="download.design"
)
if st.button("Copy link", help="A link that adds this design to whoever opens it, on any "
                               "server running limconn. Your workspace stays private."):
    base = (st.context.url or "/").split("?")[0]
    st.code(share.share_url(base, share.design_token(design)), language=None, wrap_lines=True)
    st.caption("Copy it with the button at the right of the box.")

upload = st.file_uploader(
    "Import a design (.npz), a mask (.npy) or an adjacency table (.csv: rows are sources, "
    "columns are targets, non-zero connects, the sign of the value is the connection's sign)",
    type=["npy", "npz", "csv"], key="design.upload",
)
if upload is not None:
    into = None
    if not upload.name.lower().endswith(".npz"):
        into = st.radio("Load the matrix into", list(MATRICES), horizontal=True,
                        key="design.upload_into")
    if st.button("Import"):
        try:
            import_file(upload, into, name, design)
        except ValueError as error:
            st.error(f"Could not import {plain(upload.name)}: {plain(error)}")
        else:
            st.rerun()

with st.expander("Import an ncps wiring"):
    if not wirings.ncps_available():
        st.caption("Install the optional ncps package (`pip install -r "
                   "requirements-extras.txt`) to import its wirings.")
    else:
        wiring_name = st.selectbox("Wiring", wirings.NCPS_WIRINGS.names(), key="design.ncps")
        wiring_entry = wirings.NCPS_WIRINGS.get(wiring_name)
        st.caption(wiring_entry.summary)
        wiring_params = parameter_inputs(wiring_entry, key="design.ncps")
        if st.button("Import wiring"):
            try:
                limits.check_design(design.input_dim, design.units)
                wired = wirings.NCPS_WIRINGS.call(wiring_name, design.input_dim, design.units,
                                                 **wiring_params)
                state.put(state.new_name(wiring_name), wired)
            except (ValueError, ImportError) as error:
                st.error(plain(error))
            else:
                st.rerun()
