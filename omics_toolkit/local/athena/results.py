"""Athena's result shapes: column types, value texts, the result CSV and UNLOAD's Arrow types.

Sources: Athena ``GetQueryResults`` (``ColumnInfo``, ``Datum.VarCharValue``), the result file
format of the Athena User Guide ("Working with query results"), Trino's text forms of values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import re
from typing import Any


def athena_type(duck_type: Any) -> tuple[str, int, int]:
    """Athena type name, precision and scale for a DuckDB column type."""
    text = str(duck_type).upper()
    if text.endswith("[]") or text.startswith("LIST") or re.match(r"^.*\[\d*\]$", text):
        return "array", 0, 0
    if text.startswith("MAP"):
        return "map", 0, 0
    if text.startswith("STRUCT"):
        return "row", 0, 0
    m = re.match(r"DECIMAL\((\d+),\s*(\d+)\)", text)
    if m:
        return "decimal", int(m.group(1)), int(m.group(2))
    simple = {
        "VARCHAR": ("varchar", 2147483647, 0),
        "BOOLEAN": ("boolean", 0, 0),
        "TINYINT": ("tinyint", 3, 0),
        "SMALLINT": ("smallint", 5, 0),
        "INTEGER": ("integer", 10, 0),
        "BIGINT": ("bigint", 19, 0),
        "HUGEINT": ("bigint", 19, 0),
        "UTINYINT": ("smallint", 5, 0),
        "USMALLINT": ("integer", 10, 0),
        "UINTEGER": ("bigint", 19, 0),
        "UBIGINT": ("bigint", 19, 0),
        "FLOAT": ("float", 17, 0),
        "DOUBLE": ("double", 17, 0),
        "DATE": ("date", 0, 0),
        "TIMESTAMP": ("timestamp", 3, 0),
        "TIMESTAMP_NS": ("timestamp", 3, 0),
        "TIMESTAMP_MS": ("timestamp", 3, 0),
        "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3, 0),
        "TIME": ("time", 3, 0),
        "BLOB": ("varbinary", 1073741824, 0),
        "UUID": ("varchar", 2147483647, 0),
        "JSON": ("json", 0, 0),
        "INTERVAL": ("varchar", 2147483647, 0),
    }
    return simple.get(text, ("varchar", 2147483647, 0))


def _format_double(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(float(value))
    mantissa, exponent = f"{value:.16E}".split("E")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}E{int(exponent)}"


def format_value(value: Any, nested: bool = False) -> str | None:
    """Athena's text form of a value (``None`` for SQL NULL at the top level)."""
    if value is None:
        return None if not nested else "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_double(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:
            text += " UTC"
        return text
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return " ".join(f"{b:02x}" for b in bytes(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(format_value(v, True)) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{format_value(k, True)}={format_value(v, True)}" for k, v in value.items()
            )
            + "}"
        )
    return str(value)


def results_csv(column_info: list[dict[str, Any]], rows: list[list[str | None]]) -> bytes:
    """Athena's result CSV: header row, every non-null value double-quoted, NULL empty."""
    buf = io.StringIO()

    def line(values: list[str | None]) -> str:
        return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values)

    if column_info:
        buf.write(line([c["Name"] for c in column_info]) + "\n")
    for row in rows:
        buf.write(line(row) + "\n")
    return buf.getvalue().encode("utf-8")


def athena_arrow(table: Any) -> Any:
    """Large/view Arrow string and list types to the plain ones Athena's Parquet carries."""
    import pyarrow as pa

    if hasattr(table, "read_all"):
        table = table.read_all()

    def plain(t: Any) -> Any:
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return pa.string()
        if pa.types.is_large_binary(t):
            return pa.binary()
        if pa.types.is_large_list(t) or pa.types.is_list(t):
            return pa.list_(plain(t.value_type))
        if pa.types.is_map(t):
            return pa.map_(plain(t.key_type), plain(t.item_type))
        if pa.types.is_struct(t):
            return pa.struct([pa.field(f.name, plain(f.type)) for f in t])
        return t

    schema = pa.schema([pa.field(f.name, plain(f.type)) for f in table.schema])
    return table.cast(schema)
