"""Form fields generated from a registry entry's parameters (presets, tasks, strategies)."""

from __future__ import annotations

import streamlit as st

from limconn.registry import Entry


def parameter_inputs(entry: Entry, key: str, columns: int = 3) -> dict:
    """One input per parameter of `entry`, laid out in columns; returns name → value."""
    values = {}
    if not entry.parameters:
        return values
    cells = st.columns(min(columns, len(entry.parameters)))
    for index, parameter in enumerate(entry.parameters):
        widget_key = f"{key}.{entry.name}.{parameter.name}"
        with cells[index % len(cells)]:
            if parameter.kind is bool:
                values[parameter.name] = st.checkbox(
                    parameter.name, value=parameter.default, key=widget_key, help=parameter.help
                )
            elif parameter.kind is int:
                values[parameter.name] = st.number_input(
                    parameter.name, value=parameter.default, step=1, key=widget_key,
                    help=parameter.help,
                )
            elif parameter.kind is float:
                values[parameter.name] = st.number_input(
                    parameter.name, value=float(parameter.default), key=widget_key,
                    help=parameter.help, format="%g",
                )
            else:
                values[parameter.name] = st.text_input(
                    parameter.name, value=parameter.default, key=widget_key, help=parameter.help
                )
    return values
