"""VCF -> Parquet in the HealthOmics variant-store / annotation-store (VCF) schema.

The columns are the HealthOmics facts (:mod:`healthomics_facts.schema`) the toolkit's S3 Tables
back end also uses; the VCF reader is the emulator's own (:mod:`healthomics_emulator.vcf`,
pysam). Coordinates are 0-based half-open.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from healthomics_emulator.vcf import (
    ANNOTATION_COLUMNS,
    VARIANT_COLUMNS,
    Column,
    arrow_schema,
    read_vcf,
)

__all__ = [
    "ANNOTATION_COLUMNS",
    "VARIANT_COLUMNS",
    "arrow_schema",
    "glue_columns",
    "iter_batches",
    "iter_rows",
    "write_batches",
    "write_parquet",
]


def iter_batches(
    path: Path, job_id: str, per_sample: bool, known_contigs: set[str] | None, uri: str
) -> Iterator[pa.RecordBatch]:
    """Record batches of one VCF (see :func:`healthomics_emulator.vcf.read_vcf`).

    Raises ``VcfError`` for an unreadable VCF or a contig absent from ``known_contigs``.
    """
    return read_vcf(
        path, job_id=job_id, per_sample=per_sample, uri=uri, known_contigs=known_contigs
    )


def iter_rows(
    path: Path, job_id: str, per_sample: bool, known_contigs: set[str] | None, uri: str
) -> Iterator[dict[str, Any]]:
    """Rows (dicts) of one VCF in the store schema (small files and tests; see iter_batches)."""
    for batch in iter_batches(path, job_id, per_sample, known_contigs, uri):
        yield from batch.to_pylist()


def glue_columns(columns: list[Column]) -> list[dict[str, str]]:
    """Glue ``StorageDescriptor.Columns`` (``Name``, ``Type``) of a column list."""
    return [{"Name": name, "Type": athena} for name, athena, _ in columns]


def write_batches(
    batches: Iterable[pa.RecordBatch], columns: list[tuple[str, str, pa.DataType]], dest: Path
) -> int:
    """Stream record batches into one Parquet file (atomically renamed); return its size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".parquet.tmp")
    with pq.ParquetWriter(tmp, arrow_schema(columns)) as writer:
        for batch in batches:
            writer.write_batch(batch)
    tmp.replace(dest)
    return dest.stat().st_size


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
