"""VCF -> Arrow record batches in the variant-store / VCF annotation-store schema.

Reads plain or BGZF VCF with cyvcf2 (htslib). Coordinates become 0-based half-open:
``start = POS - 1``, ``end = start + len(REF)``. With ``per_sample`` (variant tables) there is one
row per sample per record; otherwise (annotation tables) one row per record with ``sampleid``
NULL. Field mapping (VCF spec 4.2 -> column): CHROM contigname, ID names (split on ``;``), REF
referenceallele, ALT alternatealleles, QUAL qual, FILTER filters, INFO attributes (``key=value``;
flags map to ``"true"``), GT calls + phased (``-1`` for a no-call allele), FORMAT AD
alleledepths, DP depth, GQ conditionalquality, PL phredlikelihoods, GL genotypelikelihoods,
SPL spl, PS ps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from omics_toolkit.tables.schema import (
    ANNOTATION_VCF_COLUMNS,
    VARIANT_COLUMNS,
    Column,
    arrow_schema,
)

_INT_MISSING = -2147483648
_INT_VECTOR_END = -2147483647
_FORMAT_FIELDS = ("AD", "DP", "GQ", "PL", "GL", "SPL", "PS")
#: Rows per Arrow record batch.
BATCH_ROWS = 65_536


class VcfError(Exception):
    """The VCF cannot be read; ``str()`` names the file and the problem."""


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


class _Columns:
    """Column-wise row buffer flushed as Arrow record batches."""

    def __init__(self, columns: list[Column]) -> None:
        self.columns = columns
        self.schema = arrow_schema(columns)
        self.data: dict[str, list[Any]] = {name: [] for name, _, _ in columns}
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        for name, values in self.data.items():
            values.append(row.get(name))
        self.rows += 1

    def flush(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(self.data, schema=self.schema)
        self.data = {name: [] for name in self.data}
        self.rows = 0
        return batch


def read_vcf(
    path: Path,
    *,
    job_id: str,
    per_sample: bool,
    uri: str | None = None,
    known_contigs: set[str] | None = None,
    contig_map: Callable[[str], str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Record batches of one VCF in the store schema.

    Args:
        path: local VCF (plain or bgzip).
        job_id: value of the ``importjobid`` column.
        per_sample: ``True`` for the ``variants`` table (one row per sample per record, schema
            :data:`VARIANT_COLUMNS`), ``False`` for a VCF annotation table
            (:data:`ANNOTATION_VCF_COLUMNS`).
        uri: the name used in error messages (default: ``path``).
        known_contigs: contigs allowed after mapping (the reference's); ``None`` allows any.
        contig_map: renames CHROM before the check (see :mod:`omics_toolkit.tables.contigs`).
        batch_rows: rows per batch.

    Yields:
        ``pyarrow.RecordBatch`` with exactly the schema's columns and types.

    Raises:
        VcfError: unreadable file or header, malformed record, or a contig outside
            ``known_contigs`` (the message names the file and the contig).
    """
    from cyvcf2 import VCF

    name = uri or str(path)
    try:
        vcf = VCF(str(path))
    except Exception as exc:  # cyvcf2 raises plain Exception for bad headers
        raise VcfError(f"{name}: not a readable VCF ({exc})") from exc
    samples = list(vcf.samples)
    out = _Columns(VARIANT_COLUMNS if per_sample else ANNOTATION_VCF_COLUMNS)
    try:
        for v in vcf:
            contig = contig_map(v.CHROM) if contig_map else v.CHROM
            if known_contigs is not None and contig not in known_contigs:
                raise VcfError(
                    f"{name}: contig {v.CHROM} is not in the reference "
                    f"(reference contigs: {', '.join(sorted(known_contigs)[:10])})"
                )
            start = v.POS - 1
            base = {
                "importjobid": job_id,
                "contigname": contig,
                "start": start,
                "end": start + len(v.REF),
                "names": v.ID.split(";") if v.ID else None,
                "referenceallele": v.REF,
                "alternatealleles": list(v.ALT),
                "qual": None if v.QUAL is None else float(v.QUAL),
                "filters": list(v.FILTERS) or None,
                "splitfrommultiallelic": False,
                "attributes": _attributes(str(v).split("\t", 8)[7].rstrip("\r\n")),
            }
            if not per_sample or not samples:
                out.add(base)
            else:
                genotypes = v.genotypes
                fmt = {k: _format(v, k) for k in _FORMAT_FIELDS}
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
                        genotypelikelihoods=_floats(fmt["GL"][i])
                        if fmt["GL"] is not None
                        else None,
                        spl=_ints(fmt["SPL"][i]) if fmt["SPL"] is not None else None,
                        ps=_scalar(fmt["PS"][i]) if fmt["PS"] is not None else None,
                    )
                    out.add(row)
            if out.rows >= batch_rows:
                yield out.flush()
        if out.rows:
            yield out.flush()
    except VcfError:
        raise
    except Exception as exc:
        raise VcfError(f"{name}: malformed VCF record ({exc})") from exc
    finally:
        vcf.close()


def vcf_samples(path: Path) -> list[str]:
    """The sample names of a VCF header (``[]`` for a sites-only VCF).

    Raises:
        VcfError: unreadable file or header.
    """
    from cyvcf2 import VCF

    try:
        vcf = VCF(str(path))
    except Exception as exc:
        raise VcfError(f"{path}: not a readable VCF ({exc})") from exc
    try:
        return list(vcf.samples)
    finally:
        vcf.close()
