"""Validate request parameters against a botocore service model, for any service.

botocore's own client-side validation checks types, required members and minimum lengths and
values; the services also enforce ``enum``, ``pattern``, maximum lengths and values, list and map
sizes and ``union`` structures (exactly one member set). :class:`ShapeValidator` checks all of
these on a raw ``service-2`` model (``botocore/data/<service>/<version>/service-2.json``), with
messages in the wording of the services' ``ValidationException``. The HealthOmics emulator uses it
on parsed requests; the tests use it on every request the toolkit makes.

Model patterns are Java regular expressions, matched against the whole value. The Java-only syntax
they use (``\\p{L}`` Unicode categories and POSIX classes, UTF-16 surrogate pairs such as
``\\uD800\\uDC00-\\uDBFF\\uDFFF``, ``-`` after ``\\w`` in a class, ``\\z``) is translated to Python
``re``; a pattern that still cannot be compiled is not checked, and is listed in
:attr:`ShapeValidator.unchecked_patterns`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from collections.abc import Iterator
from typing import Any

from botocore.loaders import Loader

# POSIX classes of java.util.regex.Pattern (US-ASCII only), as Python class bodies.
_POSIX = {
    "ASCII": r"\x00-\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Upper": "A-Z",
    "Lower": "a-z",
    "Punct": r"!-/:-@\[-`{-~",
    "Graph": r"\x21-\x7e",
    "Print": r"\x20-\x7e",
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1f\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0b\x0c\r",
}


@functools.cache
def load_service_model(service: str) -> dict[str, Any]:
    """Return botocore's raw ``service-2`` model of ``service`` (``operations``, ``shapes``)."""
    return Loader().load_service_model(service, "service-2")


@functools.cache
def _category_table() -> dict[str, list[tuple[int, int]]]:
    """Unicode general category (``Lu``) -> ranges of code points, from one pass over Unicode."""
    table: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    previous, start = category("\0"), 0
    for cp in range(1, 0x110000):
        current = category(chr(cp))
        if current != previous:
            table.setdefault(previous, []).append((start, cp - 1))
            previous, start = current, cp
    table.setdefault(previous, []).append((start, 0x10FFFF))
    return table


def _ranges_body(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


@functools.cache
def _property_body(name: str, negated: bool = False) -> str | None:
    """Python class body for Java ``\\p{name}`` (``\\P{name}`` if negated).

    ``None`` for names not translated (scripts, blocks, ``java*`` properties).
    """
    name = name.removeprefix("Is") if len(name) > 2 else name
    if name in _POSIX and not negated:
        return _POSIX[name]
    if name in _POSIX:
        return None  # a negated POSIX class inside a class has no short Python form
    table = _category_table()
    if name == "all":
        ranges = [(0, 0x10FFFF)]
    elif name == "LD":  # letters and digits (Character.isLetterOrDigit)
        ranges = sorted(r for cat, rs in table.items() if cat[0] == "L" or cat == "Nd" for r in rs)
    elif len(name) == 1:
        ranges = sorted(r for cat, rs in table.items() if cat[0] == name for r in rs)
    elif name in table:
        ranges = list(table[name])
    else:
        return None
    if not ranges:
        return None
    merged: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    if negated:
        complement, start = [], 0
        for lo, hi in merged:
            if lo > start:
                complement.append((start, lo - 1))
            start = hi + 1
        if start <= 0x10FFFF:
            complement.append((start, 0x10FFFF))
        merged = complement
    return _ranges_body(merged) if merged else None


class _Untranslatable(ValueError):
    """Java regex syntax with no translation here (nested classes, ``&&``, scripts)."""


def translate_pattern(pattern: str) -> str:
    """Rewrite a Java regular expression into Python ``re`` syntax.

    Raises:
        ValueError: the pattern uses Java syntax that is not translated.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    after_set = False  # the previous class item was a set escape (\\w, \\p{..}): "-" is literal
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP":
                if pattern.startswith("{", i + 2):
                    close = pattern.find("}", i + 3)
                    if close < 0:
                        raise _Untranslatable(pattern)
                    name, end = pattern[i + 3 : close], close + 1
                else:
                    name, end = pattern[i + 2 : i + 3], i + 3
                body = _property_body(name, negated=nxt == "P")
                if body is None:
                    raise _Untranslatable(pattern)
                out.append(body if in_class else f"[{body}]")
                i, after_set = end, True
                continue
            if nxt == "u" and re.fullmatch(r"[dD][89abAB][0-9a-fA-F]{2}", pattern[i + 2 : i + 6]):
                low = pattern[i + 6 : i + 12]
                if re.fullmatch(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}", low):
                    hi, lo = int(pattern[i + 2 : i + 6], 16), int(low[2:], 16)
                    out.append(f"\\U{0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00):08x}")
                    i, after_set = i + 12, False
                    continue
            if nxt == "z":
                out.append(r"\Z")
            elif nxt == "Q":
                end = pattern.find(r"\E", i + 2)
                end = n if end < 0 else end
                out.append(re.escape(pattern[i + 2 : end]))
                i, after_set = end + 2, False
                continue
            else:
                out.append(pattern[i : i + 2])
            i, after_set = i + 2, nxt in "wdsWDShHvV"
            continue
        if in_class:
            if c == "[" or pattern.startswith("&&", i):
                raise _Untranslatable(pattern)
            if c == "]":
                in_class = False
                out.append(c)
            elif c == "-" and after_set and not pattern.startswith("]", i + 1):
                out.append(r"\-")
            elif c in "|&~":  # literal in Java classes; doubled, Python warns of set operations
                out.append("\\" + c)
            else:
                out.append(c)
            i, after_set = i + 1, False
            continue
        if c == "[":
            in_class = True
            start = i + 1
            if pattern.startswith("^", start):
                start += 1
            if pattern.startswith("]", start):  # a leading "]" is a literal
                start += 1
            out.append(pattern[i:start].replace("]", r"\]"))
            i, after_set = start, False
            continue
        out.append(c)
        i += 1
    return "".join(out)


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a model (Java) pattern for full matching; ``None`` if it cannot be translated."""
    candidates = [pattern]
    try:
        candidates.insert(0, translate_pattern(pattern))
    except ValueError:
        pass
    for candidate in candidates:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return re.compile(candidate, re.DOTALL)
        except re.error:
            continue
    return None


def _type_error(value: Any, path: str, kind: str) -> str:
    return (
        f"Value '{value}' at '{path}' failed to satisfy constraint: Member must be of type {kind}"
    )


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "list": (list, tuple),
    "map": (dict,),
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
}


class ShapeValidator:
    """Check values against the input shapes of one service model.

    Args:
        model: a raw ``service-2`` model (``operations`` and ``shapes``).
        unknown_members: also report structure members the model does not have (the services
            ignore them; the HealthOmics emulator does too).

    Attributes:
        unchecked_patterns: patterns met while validating that could not be compiled.
    """

    def __init__(self, model: dict[str, Any], *, unknown_members: bool = False) -> None:
        self.operations: dict[str, Any] = model["operations"]
        self.shapes: dict[str, Any] = model["shapes"]
        self.service = model.get("metadata", {}).get("serviceId", "")
        self.unknown_members = unknown_members
        self.unchecked_patterns: set[str] = set()

    def validate_operation(self, operation: str, params: dict[str, Any]) -> list[str]:
        """Problems of ``params`` as the input of ``operation``; ``[]`` when valid.

        Checks that the operation exists, then every constraint of its input shape: required
        members (``Value null at 'x' failed to satisfy constraint: Member must not be null``),
        types, enums, patterns (full match), string and blob lengths, number ranges, list and map
        sizes, union structures, recursively.
        """
        if operation not in self.operations:
            return [f"Operation {operation} does not exist in the {self.service} model"]
        shape_name = self.operations[operation].get("input", {}).get("shape")
        if shape_name is None:
            return [] if not params else [f"Operation {operation} takes no input"]
        return self.validate_shape(shape_name, params)

    def validate_shape(self, shape_name: str, value: Any, path: str = "") -> list[str]:
        """Problems of ``value`` as an instance of the shape ``shape_name`` (top level: no path)."""
        errors: list[str] = []
        if path:
            self._check_value(value, shape_name, path, errors)
        elif not isinstance(value, dict):
            errors.append(_type_error(value, "", "structure"))
        else:
            self._check_structure(value, shape_name, "", errors)
        return errors

    def _check_structure(
        self, value: dict[str, Any], shape_name: str, prefix: str, errors: list[str]
    ) -> None:
        shape = self.shapes[shape_name]
        if shape.get("document"):
            return
        for req in shape.get("required", []):
            if value.get(req) is None:
                errors.append(
                    f"Value null at '{prefix}{req}' failed to satisfy constraint: Member must not be null"
                )
        members = shape["members"]
        for name, member in members.items():
            if value.get(name) is not None:
                self._check_value(value[name], member["shape"], f"{prefix}{name}", errors)
        if self.unknown_members:
            for name in value.keys() - members.keys():
                errors.append(
                    f"Member '{prefix}{name}' failed to satisfy constraint: Member must be one of "
                    f"the members of {shape_name}"
                )
        if shape.get("union"):
            given = [name for name in members if value.get(name) is not None]
            if len(given) != 1:
                where = prefix.rstrip(".") or shape_name
                errors.append(
                    f"Value at '{where}' failed to satisfy constraint: Member must have exactly one "
                    f"member set, found {len(given)}"
                )

    def _check_value(self, value: Any, shape_name: str, path: str, errors: list[str]) -> None:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        expected = _PYTHON_TYPES.get(kind)
        if expected is not None and (
            not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))
        ):
            if not (kind == "structure" and shape.get("document")):
                errors.append(_type_error(value, path, kind))
                return
        if kind == "structure":
            self._check_structure(value, shape_name, f"{path}.", errors)
            return
        if kind == "list":
            self._check_size(len(value), shape, value, path, errors)
            for i, item in enumerate(value):
                if item is None:
                    errors.append(
                        f"Value null at '{path}.{i + 1}.member' failed to satisfy constraint: Member must not be null"
                    )
                else:
                    self._check_value(
                        item, shape["member"]["shape"], f"{path}.{i + 1}.member", errors
                    )
            return
        if kind == "map":
            self._check_size(len(value), shape, value, path, errors)
            for key, item in value.items():
                self._check_value(key, shape["key"]["shape"], f"{path}.key", errors)
                if item is not None:
                    self._check_value(item, shape["value"]["shape"], f"{path}.{key}.member", errors)
            return
        if kind == "string":
            if "enum" in shape and value not in shape["enum"]:
                errors.append(
                    f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy "
                    f"enum value set: [{', '.join(shape['enum'])}]"
                )
            self._check_size(len(value), shape, value, path, errors)
            pattern = shape.get("pattern")
            if pattern:
                compiled = compile_pattern(pattern)
                if compiled is None:
                    self.unchecked_patterns.add(pattern)
                elif not compiled.fullmatch(value):
                    errors.append(
                        f"Value '{value}' at '{path}' failed to satisfy constraint: Member must "
                        f"satisfy regular expression pattern: {pattern}"
                    )
            return
        if kind == "blob":
            if isinstance(value, bytes | bytearray | memoryview | str):  # not file objects
                self._check_size(len(value), shape, "<blob>", path, errors)
            return
        if kind in ("integer", "long", "float", "double"):
            if "min" in shape and value < shape["min"]:
                errors.append(
                    f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
                    f"value greater than or equal to {shape['min']}"
                )
            if "max" in shape and value > shape["max"]:
                errors.append(
                    f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have "
                    f"value less than or equal to {shape['max']}"
                )

    @staticmethod
    def _check_size(
        size: int, shape: dict[str, Any], value: Any, path: str, errors: list[str]
    ) -> None:
        shown = value if isinstance(value, str) else "[...]" if isinstance(value, list) else value
        if isinstance(value, dict):
            shown = "{...}"
        if "min" in shape and size < shape["min"]:
            errors.append(
                f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must have "
                f"length greater than or equal to {shape['min']}"
            )
        if "max" in shape and size > shape["max"]:
            errors.append(
                f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must have "
                f"length less than or equal to {shape['max']}"
            )

    def patterns(self) -> Iterator[str]:
        """Every pattern of the model's shapes (to count what :func:`compile_pattern` handles)."""
        for shape in self.shapes.values():
            if "pattern" in shape:
                yield shape["pattern"]


@functools.cache
def validator_for(service: str) -> ShapeValidator:
    """A strict (unknown members reported) :class:`ShapeValidator` for botocore's ``service``."""
    return ShapeValidator(load_service_model(service), unknown_members=True)
