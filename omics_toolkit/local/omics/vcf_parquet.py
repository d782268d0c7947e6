"""VCF -> Parquet rows in the HealthOmics variant-store / annotation-store (VCF) schema.

Coordinates are 0-based half-open: ``start = POS - 1``, ``end = start + len(REF)``. A variant
store gets one row per sample per variant; an annotation store one row per variant.
Column names are lowercase; Athena types are given for the Glue table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_INT_MISSING = -2147483648
_INT_VECTOR_END = -2147483647

#: (column, Athena type, Arrow type) of the variant-store table.
VARIANT_COLUMNS: list[tuple[str, str, pa.DataType]] = [
    ("importjobid", "string", pa.string()),
    ("contigname", "string", pa.string()),
    ("start", "int", pa.int32()),
    ("end", "int", pa.int32()),
    ("names", "array<string>", pa.list_(pa.string())),
    ("referenceallele", "string", pa.string()),
    ("alternatealleles", "array<string>", pa.list_(pa.string())),
    ("qual", "double", pa.float64()),
    ("filters", "array<string>", pa.list_(pa.string())),
    ("splitfrommultiallelic", "boolean", pa.bool_()),
    ("attributes", "map<string,string>", pa.map_(pa.string(), pa.string())),
    ("phased", "boolean", pa.bool_()),
    ("calls", "array<int>", pa.list_(pa.int32())),
    ("genotypelikelihoods", "array<double>", pa.list_(pa.float64())),
    ("phredlikelihoods", "array<int>", pa.list_(pa.int32())),
    ("alleledepths", "array<int>", pa.list_(pa.int32())),
    ("conditionalquality", "int", pa.int32()),
    ("spl", "array<int>", pa.list_(pa.int32())),
    ("depth", "int", pa.int32()),
    ("ps", "int", pa.int32()),
    ("sampleid", "string", pa.string()),
]

#: Columns of a VCF-format annotation store (plus ``importjobid`` kept for provenance).
ANNOTATION_COLUMNS: list[tuple[str, str, pa.DataType]] = [
    c
    for c in VARIANT_COLUMNS
    if c[0]
    in {
        "importjobid",
        "contigname",
        "start",
        "end",
        "names",
        "referenceallele",
        "alternatealleles",
        "qual",
        "filters",
        "splitfrommultiallelic",
        "attributes",
        "sampleid",
    }
]


class VcfError(Exception):
    """The VCF cannot be imported; ``str()`` is the status message."""


def arrow_schema(columns: list[tuple[str, str, pa.DataType]]) -> pa.Schema:
    """The Arrow schema of a column list."""
    return pa.schema([pa.field(name, kind) for name, _, kind in columns])


def glue_columns(columns: list[tuple[str, str, pa.DataType]]) -> list[dict[str, str]]:
    """Glue ``StorageDescriptor.Columns`` (Name, Type) of a column list."""
    return [{"Name": name, "Type": athena} for name, athena, _ in columns]


def _ints(values: Any) -> list[int | None] | None:
    if values is None:
        return None
    out = [None if int(x) == _INT_MISSING else int(x) for x in values if int(x) != _INT_VECTOR_END]
    return out if any(x is not None for x in out) else None


def _floats(values: Any) -> list[float | None] | None:
    if values is None:
        return None
    out = [None if math.isnan(float(x)) else float(x) for x in values]
    return out if any(x is not None for x in out) else None


def _scalar(values: Any) -> int | None:
    vals = _ints(values)
    return vals[0] if vals else None


def _attributes(info_text: str) -> list[tuple[str, str]]:
    if info_text in ("", "."):
        return []
    pairs = []
    for item in info_text.split(";"):
        key, sep, value = item.partition("=")
        pairs.append((key, value if sep else "true"))
    return pairs


def _format(variant: Any, name: str) -> Any:
    try:
        return variant.format(name)
    except KeyError:
        return None


def iter_rows(
    path: Path, job_id: str, per_sample: bool, known_contigs: set[str] | None, uri: str
) -> Iterator[dict[str, Any]]:
    """Rows of one VCF (plain or bgzip) in the store schema.

    Raises ``VcfError`` for an unreadable VCF or a contig absent from ``known_contigs``.
    """
    from cyvcf2 import VCF

    try:
        vcf = VCF(str(path))
    except (OSError, Exception) as exc:  # cyvcf2 raises plain Exception for bad headers
        raise VcfError(f"{uri}: not a readable VCF ({exc})") from exc
    samples = list(vcf.samples)
    try:
        for v in vcf:
            if known_contigs is not None and v.CHROM not in known_contigs:
                raise VcfError(f"{uri}: contig {v.CHROM} is not in the store's reference")
            start = v.POS - 1
            base = {
                "importjobid": job_id,
                "contigname": v.CHROM,
                "start": start,
                "end": start + len(v.REF),
                "names": v.ID.split(";") if v.ID else None,
                "referenceallele": v.REF,
                "alternatealleles": list(v.ALT),
                "qual": None if v.QUAL is None else float(v.QUAL),
                "filters": list(v.FILTERS) or None,
                "splitfrommultiallelic": False,
                "attributes": _attributes(str(v).split("\t")[7]),
            }
            if not per_sample or not samples:
                yield dict(base, sampleid=None)
                continue
            genotypes = v.genotypes
            fmt = {k: _format(v, k) for k in ("AD", "DP", "GQ", "PL", "GL", "SPL", "PS")}
            for i, sample in enumerate(samples):
                gt = genotypes[i] if genotypes else None
                row = dict(base)
                row.update(
                    sampleid=sample,
                    calls=[int(a) for a in gt[:-1]] if gt else None,
                    phased=bool(gt[-1]) if gt else None,
                    alleledepths=_ints(fmt["AD"][i]) if fmt["AD"] is not None else None,
                    depth=_scalar(fmt["DP"][i]) if fmt["DP"] is not None else None,
                    conditionalquality=_scalar(fmt["GQ"][i]) if fmt["GQ"] is not None else None,
                    phredlikelihoods=_ints(fmt["PL"][i]) if fmt["PL"] is not None else None,
                    genotypelikelihoods=_floats(fmt["GL"][i]) if fmt["GL"] is not None else None,
                    spl=_ints(fmt["SPL"][i]) if fmt["SPL"] is not None else None,
                    ps=_scalar(fmt["PS"][i]) if fmt["PS"] is not None else None,
                )
                yield row
    except VcfError:
        raise
    except Exception as exc:
        raise VcfError(f"{uri}: malformed VCF record ({exc})") from exc
    finally:
        vcf.close()


def write_parquet(
    rows: list[dict[str, Any]], columns: list[tuple[str, str, pa.DataType]], dest: Path
) -> int:
    """Write rows with the exact column types; return the file size in bytes."""
    schema = arrow_schema(columns)
    table = pa.Table.from_pylist(
        [{c: r.get(c) for c, _, _ in columns} for r in rows], schema=schema
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(dest)
    return dest.stat().st_size
