"""A registry of named functions whose keyword parameters become form fields and CLI options.

Presets and synthetic tasks are both "a name, a pure function, and its parameters with
defaults". One `Registry` serves both, so that adding one means writing one function and
decorating it with `@REGISTRY.register`.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from collections.abc import Callable, Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One keyword parameter of a registered function.

    Attributes:
        name: the keyword.
        kind: `int`, `float`, `bool` or `str`, read from the annotation.
        default: the default value.
        help: the line about it in the function's `Args:` docstring section, if any.
    """

    name: str
    kind: type
    default: Any
    help: str = ""

    def coerce(self, value: Any) -> Any:
        """Converts a form or command-line value to this parameter's type.

        Raises:
            ValueError: if the value cannot be read as that type.
        """
        if self.kind is bool and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(f"{self.name} must be true or false. Received: {value!r}")
            return lowered in {"true", "1", "yes"}
        if self.kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{self.name} must be a whole number. Received: {value!r}")
        try:
            return self.kind(value)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{self.name} must be {self.kind.__name__}. Received: {value!r}"
            ) from error


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered function: its name, one-line summary, full docstring and parameters,
    plus whatever the registry's users attach to it (e.g. a strategy's `enforces`)."""

    name: str
    function: Callable
    summary: str
    doc: str
    parameters: tuple[Parameter, ...]
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def description(self) -> str:
        """The docstring's prose after the summary line, up to its `Args:` section."""
        body = self.doc.split("\nArgs:")[0].splitlines()[1:]
        return " ".join(" ".join(body).split())


class Registry:
    """Named functions, listed in registration order.

    Args:
        what: what an entry is, for error messages (e.g. `"preset"`).
        positional: how many leading positional parameters every function takes; they are
            not form fields (e.g. presets take `input_dim, units` first).
    """

    def __init__(self, what: str, positional: int = 0):
        self.what = what
        self.positional = positional
        self._entries: dict[str, Entry] = {}

    def register(self, function: Callable | None = None, /, **attributes) -> Callable:
        """Decorator: adds `function` under its own name.

        Use it bare (`@REGISTRY.register`) or with attributes kept on the entry
        (`@STRATEGIES.register(enforces=...)`).
        """
        if function is None:
            return lambda decorated: self.register(decorated, **attributes)
        doc = inspect.getdoc(function) or ""
        signature = inspect.signature(function)
        keywords = list(signature.parameters.values())[self.positional :]
        parameters = tuple(
            Parameter(
                name=p.name,
                kind=_annotation_type(p.annotation, p.name, function.__name__),
                default=p.default,
                help=_arg_help(doc, p.name),
            )
            for p in keywords
        )
        self._entries[function.__name__] = Entry(
            name=function.__name__,
            function=function,
            summary=doc.splitlines()[0] if doc else "",
            doc=doc,
            parameters=parameters,
            attributes=types.MappingProxyType(dict(attributes)),
        )
        return function

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def get(self, name: str) -> Entry:
        """Raises ValueError naming the known entries if `name` is not one of them."""
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"Unknown {self.what} {name!r}. Choose one of: {', '.join(self._entries)}."
            ) from None

    def call(self, name: str, *args, **params) -> Any:
        """Calls the named function, converting each keyword to its declared type.

        Raises:
            ValueError: for an unknown name, an unknown parameter or a value of the wrong type.
        """
        entry = self.get(name)
        known = {p.name: p for p in entry.parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(
                f"{self.what} {name!r} has no parameter {', '.join(unknown)}. "
                f"Its parameters: {', '.join(known) or 'none'}."
            )
        converted = {key: known[key].coerce(value) for key, value in params.items()}
        return entry.function(*args, **converted)


def _annotation_type(annotation: Any, parameter: str, function: str) -> type:
    names = {"int": int, "float": float, "bool": bool, "str": str}
    resolved = names.get(annotation, annotation) if isinstance(annotation, str) else annotation
    if resolved not in names.values():
        raise TypeError(
            f"{function}({parameter}=...) needs an int, float, bool or str annotation and a "
            f"default to be registered. Received annotation: {annotation!r}"
        )
    return resolved


def _arg_help(doc: str, name: str) -> str:
    """The text after `name:` in a Google-style `Args:` section, joined onto one line."""
    lines = doc.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(f"{name}:"):
            indent = len(line) - len(line.lstrip())
            text = [stripped[len(name) + 1 :].strip()]
            for follow in lines[index + 1 :]:
                if not follow.strip() or len(follow) - len(follow.lstrip()) <= indent:
                    break
                text.append(follow.strip())
            return " ".join(text)
    return ""
