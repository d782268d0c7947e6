"""TSV annotation-store imports -> Parquet (the emulator's reading of ``storeFormat: TSV``).

What the emulator does (HealthOmics documents the request shapes, not the resulting table; these
are its decisions, chosen to match the VCF stores):

- the store's table has ``importjobid string`` first, then the ``tsvStoreOptions.schema``
  columns in the order given, typed LONG bigint, INT int, STRING string, FLOAT float, DOUBLE
  double, BOOLEAN boolean;
- for the ``CHR_*`` annotation types, the columns ``formatToHeader`` names for CHR, POS, START,
  END, REF, ALT are renamed ``contigname``, ``pos``, ``start``, ``end``, ``referenceallele``,
  ``alternateallele`` (the variant-store names, so joins read alike) and ``*_ONE_BASE`` starts
  become 0-based (``start - 1``; ``end`` already is the half-open end); ``GENERIC`` keeps every
  name and value;
- the file is read with ``formatOptions.tsvOptions.readOptions`` (``sep`` default tab,
  ``header`` default true, ``quote``, ``escape``, ``comment``); without a header the columns are
  the schema's, in order; an empty field is NULL; a header must name exactly the schema's
  columns (any order), and a value that does not parse as its type fails the job naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from healthomics_emulator.errors import ImportFailure

TYPES: dict[str, tuple[str, pa.DataType]] = {
    "LONG": ("bigint", pa.int64()),
    "INT": ("int", pa.int32()),
    "STRING": ("string", pa.string()),
    "FLOAT": ("float", pa.float32()),
    "DOUBLE": ("double", pa.float64()),
    "BOOLEAN": ("boolean", pa.bool_()),
}
RENAMES = {
    "CHR": "contigname",
    "POS": "pos",
    "START": "start",
    "END": "end",
    "REF": "referenceallele",
    "ALT": "alternateallele",
}
#: formatToHeader keys each annotation type needs.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "GENERIC": (),
    "CHR_POS": ("CHR", "POS"),
    "CHR_POS_REF_ALT": ("CHR", "POS", "REF", "ALT"),
    "CHR_START_END_ONE_BASE": ("CHR", "START", "END"),
    "CHR_START_END_REF_ALT_ONE_BASE": ("CHR", "START", "END", "REF", "ALT"),
    "CHR_START_END_ZERO_BASE": ("CHR", "START", "END"),
    "CHR_START_END_REF_ALT_ZERO_BASE": ("CHR", "START", "END", "REF", "ALT"),
}


def _schema(options: dict[str, Any]) -> list[tuple[str, str]]:
    return [next(iter(item.items())) for item in options.get("schema") or []]


def check_store_options(options: dict[str, Any] | None) -> str | None:
    """Why ``storeOptions.tsvStoreOptions`` cannot make a TSV store, or ``None``."""
    tsv = (options or {}).get("tsvStoreOptions")
    if not tsv:
        return "storeOptions.tsvStoreOptions is required for storeFormat TSV"
    schema = _schema(tsv)
    if not schema:
        return "tsvStoreOptions.schema must list the TSV columns"
    names = [n for n, _ in schema]
    if len(set(names)) != len(names):
        return f"tsvStoreOptions.schema repeats a column: {names}"
    kind = tsv.get("annotationType") or "GENERIC"
    mapping = tsv.get("formatToHeader") or {}
    missing = [k for k in REQUIRED_KEYS[kind] if k not in mapping]
    if missing:
        return f"annotationType {kind} needs formatToHeader {', '.join(missing)}"
    unknown = [v for v in mapping.values() if v not in names]
    if unknown:
        return f"formatToHeader names columns absent from the schema: {', '.join(unknown)}"
    return None


def store_columns(options: dict[str, Any]) -> list[tuple[str, str, pa.DataType]]:
    """The table columns of a TSV store (see the module docstring)."""
    tsv = options["tsvStoreOptions"]
    kind = tsv.get("annotationType") or "GENERIC"
    rename = (
        {}
        if kind == "GENERIC"
        else {v: RENAMES[k] for k, v in (tsv.get("formatToHeader") or {}).items()}
    )
    cols = [("importjobid", "string", pa.string())]
    for name, kind_name in _schema(tsv):
        athena, arrow = TYPES[kind_name]
        cols.append((rename.get(name, name), athena, arrow))
    return cols


def read_tsv(
    path: Path,
    job_id: str,
    store_options: dict[str, Any],
    format_options: dict[str, Any] | None,
    uri: str,
) -> pa.Table:
    """The rows of one TSV in the store's columns.

    Raises:
        ImportFailure: (the emulator's import-failure error) header/schema mismatch, a value of the
            wrong type, an unreadable file; the message names ``uri``.
    """
    tsv = store_options["tsvStoreOptions"]
    schema = _schema(tsv)
    read = ((format_options or {}).get("tsvOptions") or {}).get("readOptions") or {}
    header = read.get("header", True)
    names = [n for n, _ in schema]
    quote = read.get("quote")
    parse = pcsv.ParseOptions(
        delimiter=read.get("sep", "\t"),
        quote_char=quote if quote else False,
        escape_char=read.get("escape") or False,
    )
    convert = pcsv.ConvertOptions(
        column_types={n: TYPES[t][1] for n, t in schema},
        strings_can_be_null=True,
        null_values=[""],
        true_values=["true", "TRUE", "True", "1"],
        false_values=["false", "FALSE", "False", "0"],
    )
    opts = pcsv.ReadOptions(
        column_names=None if header else names, block_size=16 << 20, encoding="utf8"
    )
    if len(parse.delimiter) != 1:
        raise ImportFailure(f"{uri}: readOptions.sep {parse.delimiter!r}: one character expected")
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            if read.get("comment"):
                lines = [
                    line
                    for line in stream.read().splitlines(keepends=True)
                    if not line.startswith(read["comment"].encode())
                ]
                source: Any = pa.BufferReader(b"".join(lines))
            else:
                source = pa.BufferReader(stream.read())
            table = pcsv.read_csv(
                source, read_options=opts, parse_options=parse, convert_options=convert
            )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise ImportFailure(
            f"{uri}: cannot be read as TSV with the store's schema ({exc})"
        ) from exc
    if sorted(table.column_names) != sorted(names):
        raise ImportFailure(
            f"{uri}: TSV columns {table.column_names} differ from the store schema {names}"
        )
    kind = tsv.get("annotationType") or "GENERIC"
    columns = store_columns(store_options)
    arrays: list[Any] = [pa.array([job_id] * table.num_rows, pa.string())]
    start_col = (tsv.get("formatToHeader") or {}).get("START") or (
        tsv.get("formatToHeader") or {}
    ).get("POS")
    for name in names:
        col = table.column(name)
        if kind.endswith("_ONE_BASE") and name == start_col:
            col = pc.subtract(col, pa.scalar(1, col.type))
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=pa.schema([pa.field(n, t) for n, _, t in columns]))
