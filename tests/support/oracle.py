"""Test oracle: a VCF's rows in the ``variants`` table layout, read with ``bcftools query``.

Independent of the toolkit's reader (``omics_toolkit.tables.vcf.read_vcf``, cyvcf2): one
``bcftools query`` subprocess prints every record's site fields and every sample's FORMAT
fields as text, and this module turns that text into rows with the conventions of the
HealthOmics variant-store schema (column names, order and FORMAT fields from
``healthomics_facts.schema``) written out here:

- one row per sample per VCF record, in file order then header sample order; a record is never
  split per ALT allele (``alternatealleles`` is the record's whole ALT list,
  ``splitfrommultiallelic`` False);
- ``start = POS - 1`` and ``end = start + len(REF)`` (0-based half-open);
- ``names``: ID split on ``;``, ``None`` for ``.``; ``alternatealleles``: ALT split on ``,``,
  ``[]`` for ``.``; ``filters``: FILTER split on ``;`` (``["PASS"]`` for PASS), ``None`` for
  ``.``;
- ``qual``: QUAL as the VCF wrote it, to the precision it keeps in htslib and BCF (an IEEE
  single): the shortest decimal giving the same single, as a double (``110.415``, not
  ``110.41500091552734``); ``None`` for ``.``. FORMAT ``Float`` values (GL) likewise;
- ``attributes``: INFO text as bcftools prints it, items split on ``;``, each split on its first
  ``=``; a flag maps to ``"true"``; ``.`` gives ``{}``;
- ``calls``: GT allele indexes split on ``/`` or ``|``, ``-1`` for a missing allele ``.``;
  ``phased``: the GT has a ``|`` separator (VCF 4.2; a haploid GT such as ``1`` or ``.`` has
  none, so it is unphased whatever the other samples' ploidy); without a GT in the header ``calls`` and ``phased`` are
  ``None`` (bcftools prints a GT absent from one record as ``.``: ``[-1]``);
- FORMAT AD ``alleledepths``, PL ``phredlikelihoods``, SPL ``spl`` (lists of ints), GL
  ``genotypelikelihoods`` (list of doubles), DP ``depth``, GQ ``conditionalquality``, PS ``ps``
  (first value): a missing value ``.`` inside a list is ``None``; a field absent from the header
  or the record, or with no value at all, is ``None``;
- ``importjobid`` is not the VCF's: it is not produced.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from healthomics_facts import schema

#: FORMAT field -> (variants column, shape) of the store schema: ``ints``/``floats`` a list,
#: ``int`` the first value.
FORMAT_COLUMNS = schema.FORMAT_COLUMNS
#: Columns the oracle gives, in the schema's order (every ``variants`` column but importjobid).
COLUMNS = [name for name, _ in schema.VARIANT_COLUMNS if name != "importjobid"]
SITE_COLUMNS = COLUMNS[:10]

_SEP = "\x1f"  # between a sample's fields (no VCF field holds it)
_HEADER_FORMAT = re.compile(r"^##FORMAT=<ID=([^,>]+)", re.MULTILINE)


def available() -> bool:
    """True when ``bcftools`` is on PATH."""
    return shutil.which("bcftools") is not None


def _run(args: list[str]) -> str:
    proc = subprocess.run(["bcftools", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bcftools {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _single(text: str) -> float:
    return float(str(np.float32(text)))


def _int(text: str) -> int | None:
    return None if text == "." else int(text)


def _list(text: str, convert: Any) -> list[Any] | None:
    if text == ".":
        return None
    values = [None if x == "." else convert(x) for x in text.split(",")]
    return values if any(v is not None for v in values) else None


def _format_value(text: str | None, shape: str) -> Any:
    if text is None:
        return None
    if shape == "int":
        first = _list(text, int)
        return first[0] if first else None
    return _list(text, int if shape == "ints" else _single)


def attributes(info: str) -> dict[str, str]:
    """INFO text -> attributes map (flags ``"true"``; ``.`` or empty -> ``{}``)."""
    out: dict[str, str] = {}
    if info in ("", "."):
        return out
    for item in info.split(";"):
        key, sep, value = item.partition("=")
        out[key] = value if sep else "true"
    return out


def genotype(gt: str | None) -> tuple[list[int] | None, bool | None]:
    """GT text -> (calls, phased) as the store holds them (see the module docstring)."""
    if gt is None:
        return None, None
    calls = [-1 if a == "." else int(a) for a in re.split(r"[/|]", gt)]
    return calls, "|" in gt


@dataclass(frozen=True)
class OracleVcf:
    """A VCF read with bcftools: its samples and its ``variants`` rows (dicts of COLUMNS)."""

    samples: list[str]
    rows: list[dict[str, Any]]

    def sites(self) -> list[dict[str, Any]]:
        """One dict of SITE_COLUMNS per record (the first sample row of each record; for a
        sites-only VCF, the rows themselves)."""
        if not self.samples:
            return self.rows
        return self.rows[:: len(self.samples)]

    def records(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Per record: (site dict, the record's sample rows in header order)."""
        n = len(self.samples)
        if not n:
            return [(row, []) for row in self.rows]
        return [(self.rows[i], self.rows[i : i + n]) for i in range(0, len(self.rows), n)]


def read(vcf: Path | str) -> OracleVcf:
    """Every record of ``vcf`` (plain or bgzipped) as ``variants`` rows (one per sample per
    record; one per record with ``sampleid`` None for a sites-only VCF).

    Raises:
        RuntimeError: bcftools failed (the message carries its stderr).
    """
    samples = [s for s in _run(["query", "-l", str(vcf)]).splitlines() if s]
    header = _run(["view", "-h", str(vcf)])
    defined = set(_HEADER_FORMAT.findall(header))
    fields = ["GT", *FORMAT_COLUMNS]
    present = [f for f in fields if f in defined]
    per_sample = _SEP.join(["%SAMPLE", *(f"%{f}" for f in present)])
    fmt = "%CHROM\t%POS\t%ID\t%REF\t%ALT\t%QUAL\t%FILTER\t%INFO"
    if samples:
        fmt += f"[\t{per_sample}]"
    text = _run(["query", "-f", fmt + "\n", str(vcf)])
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        parts = line.split("\t")
        chrom, pos, ident, ref, alt, qual, filt, info = parts[:8]
        start = int(pos) - 1
        site = {
            "contigname": chrom,
            "start": start,
            "end": start + len(ref),
            "names": None if ident == "." else ident.split(";"),
            "referenceallele": ref,
            "alternatealleles": [] if alt == "." else alt.split(","),
            "qual": None if qual == "." else _single(qual),
            "filters": None if filt == "." else filt.split(";"),
            "splitfrommultiallelic": False,
            "attributes": attributes(info),
        }
        if not samples:
            rows.append({**site, **dict.fromkeys(COLUMNS[10:])})
            continue
        if len(parts) != 8 + len(samples):
            raise RuntimeError(f"{vcf}: bcftools printed {len(parts)} fields for {chrom}:{pos}")
        for cell in parts[8:]:
            values = dict(zip(["SAMPLE", *present], cell.split(_SEP), strict=True))
            calls, phased = genotype(values.get("GT"))
            row = {**site, "phased": phased, "calls": calls}
            for field, (column, shape) in FORMAT_COLUMNS.items():
                row[column] = _format_value(values.get(field), shape)
            row["sampleid"] = values["SAMPLE"]
            rows.append({c: row[c] for c in COLUMNS})
    return OracleVcf(samples, rows)


#: Types whose values :func:`normalise` returns unchanged (exact types: numpy scalars, which
#: subclass some of them, take the general path).
_PLAIN = frozenset({str, int, bool, type(None)})


@functools.cache
def _pandas_missing() -> tuple[Any, ...]:
    """pandas' missing-value singletons (``pd.NA``, ``pd.NaT``); ``()`` without pandas."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return ()
    return (pd.NA, pd.NaT)


def _inner(value: Any) -> Any:
    """:func:`normalise` of an element of a list or map (most are plain: no call needed)."""
    return value if type(value) in _PLAIN else normalise(value)


def normalise(value: Any) -> Any:
    """A hashable plain-Python form of one cell (of a DataFrame or of an oracle row): NULL/NaN/NA
    -> ``None``; lists and arrays -> tuples; maps (dicts or lists of key/value pairs) -> sorted
    tuples of pairs; numpy scalars -> Python scalars."""
    kind = type(value)
    if kind in _PLAIN:  # most cells: answered before any isinstance check
        return value
    if kind is float:
        return None if value != value else value
    if isinstance(value, dict):
        return tuple(sorted((k, _inner(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | np.ndarray):
        items = list(value)
        if items and all(isinstance(x, tuple) and len(x) == 2 for x in items):
            return tuple(sorted((k, _inner(v)) for k, v in items))
        return tuple(_inner(x) for x in items)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if any(value is missing for missing in _pandas_missing()):
        return None
    return value


#: Columns identifying a row for the per-column comparison (a record's sample row).
KEY = ("contigname", "start", "referenceallele", "alternatealleles", "sampleid")


def mismatches(
    frame: Any, rows: list[dict[str, Any]], columns: list[str] | None = None, examples: int = 3
) -> dict[str, str]:
    """Per column, how ``frame`` (a DataFrame of ``variants`` rows, any order) differs from the
    oracle's ``rows``: the multisets of (KEY, value) are compared, so row order is free and
    duplicate records stay duplicates. ``{}`` when every column agrees; otherwise column ->
    the number of differing (key, value) pairs and examples of each side.
    """
    from collections import Counter

    columns = columns or COLUMNS
    # Each distinct KEY becomes a small int once (same key, same int on both sides), so the
    # per-column counts hash ints, not nested key tuples; messages show the keys again.
    ids: dict[Any, int] = {}
    keys_frame = [
        ids.setdefault(key, len(ids))
        for key in zip(*(map(normalise, frame[k]) for k in KEY), strict=True)
    ]
    keys_rows = [ids.setdefault(tuple(normalise(r[k]) for k in KEY), len(ids)) for r in rows]
    key_of = list(ids)

    def shown(pairs: Counter[Any]) -> list[Any]:
        return [(key_of[i], value) for i, value in list(pairs)[:examples]]

    out = {}
    for column in columns:
        got = Counter(zip(keys_frame, map(normalise, frame[column]), strict=True))
        want = Counter(zip(keys_rows, (normalise(r[column]) for r in rows), strict=True))
        # counts from zip are never zero, so plain dict equality (in C) is Counter equality
        if not dict.__eq__(got, want):
            extra, missing = got - want, want - got
            out[column] = (
                f"{sum(missing.values())} oracle (key, value) pairs missing, "
                f"{sum(extra.values())} unexpected; oracle: {shown(missing)}; "
                f"table: {shown(extra)}"
            )
    return out
