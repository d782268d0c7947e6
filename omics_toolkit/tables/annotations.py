"""Annotation sources -> Arrow record batches in the annotation-table schemas.

Three source formats, each read into the columns both variant back ends share
(:mod:`omics_toolkit.tables.schema`):

- ``vcf`` (a ClinVar-format VCF): :data:`ANNOTATION_VCF_COLUMNS`, one row per record, INFO in
  ``attributes`` (read with :func:`omics_toolkit.tables.vcf.read_vcf`);
- ``tsv`` (a gene table with a header row, e.g. subread's ``hg19_RefSeq_exon.txt.gz`` with
  ``GeneID Chr Start End Strand``): :data:`GENE_COLUMNS`; headers matched case-insensitively
  (:data:`TSV_HEADERS`); coordinates 1-based inclusive; other columns go to ``attributes``;
  ``feature`` is ``exon`` when the file has no feature column;
- ``gff3`` (GFF3 spec 1.26, 9 tab-separated columns, 1-based inclusive): :data:`GENE_COLUMNS`;
  every column-9 attribute URL-decoded into ``attributes``; ``gene_id`` from ``gene_id``, then
  ``Dbxref`` ``GeneID:`` (so NCBI GFF3 gives the Entrez ids the RefSeq TSV has), then ``ID``;
  ``gene_name`` from ``gene_name``, then ``gene``, then ``Name`` (an NCBI exon has ``gene=SOX10``
  and no ``Name``); the ``##FASTA`` section ends the features.

Coordinates become 0-based half-open (``start = first base - 1``, ``end = last base``).
Contig names pass through a mapper (:func:`omics_toolkit.tables.contigs.contig_mapper`) so they
match the ``variants`` table; :class:`ContigStats` counts what it renamed and what matches
nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa

from omics_toolkit.errors import UserError
from omics_toolkit.tables.schema import ANNOTATION_VCF_COLUMNS, GENE_COLUMNS, Column
from omics_toolkit.tables.vcf import BATCH_ROWS, VcfError, _Columns, read_vcf

FORMATS = ("vcf", "gff3", "tsv")
#: Gene TSV header aliases (lowercase) for each column the reader fills.
TSV_HEADERS: dict[str, tuple[str, ...]] = {
    "gene_id": ("gene_id", "geneid"),
    "contigname": ("chr", "chrom", "contig", "chromosome", "contigname", "seqid"),
    "start": ("start",),
    "end": ("end",),
    "strand": ("strand",),
    "gene_name": ("gene_name", "genename", "name", "symbol"),
    "feature": ("feature", "type"),
}
_REQUIRED = ("gene_id", "contigname", "start", "end", "strand")
_STRANDS = {"+", "-", "."}


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The source format: ``fmt`` when given, else from the file name.

    ``.vcf[.gz|.bgz]`` -> ``vcf``; ``.gff3``/``.gff`` (optionally ``.gz``) -> ``gff3``;
    ``.tsv``/``.txt`` (optionally ``.gz``) -> ``tsv``.

    Raises:
        UserError: unknown ``fmt`` or a name that says nothing (pass ``--format``).
    """
    if fmt is not None:
        fmt = fmt.lower()
        if fmt == "gff":
            fmt = "gff3"
        if fmt not in FORMATS:
            raise UserError(f"unknown annotation format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    name = path.name.lower()
    for suffix in (".gz", ".bgz"):
        name = name.removesuffix(suffix)
    if name.endswith(".vcf"):
        return "vcf"
    if name.endswith((".gff3", ".gff")):
        return "gff3"
    if name.endswith((".tsv", ".txt")):
        return "tsv"
    raise UserError(f"{path}: cannot tell the format from the name; pass --format vcf, gff3 or tsv")


def columns_of(fmt: str) -> list[Column]:
    """The table columns a source format gives."""
    return ANNOTATION_VCF_COLUMNS if fmt == "vcf" else GENE_COLUMNS


@dataclass
class ContigStats:
    """A contig mapper that remembers what it did.

    Attributes:
        target: the contig names to match (empty: no naming to match, names kept).
        renamed: ``{source name: target name}`` for every source contig that was renamed.
        unmatched: source contigs with no counterpart in ``target`` (kept as they are).
        seen: every source contig met.
    """

    target: set[str]
    renamed: dict[str, str] = field(default_factory=dict)
    unmatched: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        from omics_toolkit.tables.contigs import contig_mapper

        self._map = contig_mapper(self.target)

    def __call__(self, name: str) -> str:
        mapped = self._map(name)
        if name not in self.seen:
            self.seen.add(name)
            if mapped != name:
                self.renamed[name] = mapped
            elif self.target and mapped not in self.target:
                self.unmatched.add(name)
        return mapped


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def _coords(name: str, line: int, start_text: str, end_text: str) -> tuple[int, int]:
    """1-based inclusive text -> 0-based half-open ints."""
    try:
        first, last = int(start_text), int(end_text)
    except ValueError:
        raise UserError(
            f"{name}: line {line}: start {start_text!r} / end {end_text!r} are not integers"
        ) from None
    if first < 1 or last < first:
        raise UserError(
            f"{name}: line {line}: start {first} and end {last} are not 1-based inclusive "
            "coordinates (need 1 <= start <= end)"
        )
    if last > 2**31 - 1:
        raise UserError(f"{name}: line {line}: end {last} does not fit a 32-bit int")
    return first - 1, last


def read_gene_tsv(
    path: Path,
    *,
    job_id: str,
    contig_map: Callable[[str], str] | None = None,
    uri: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Record batches (:data:`GENE_COLUMNS`) of a gene TSV with a header row.

    Raises:
        UserError: no header, a required column missing, a short row, bad coordinates or strand
            (naming the file and the line).
    """
    name = uri or str(path)
    out = _Columns(GENE_COLUMNS)
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if not header:
            raise UserError(f"{name}: empty file; expected a header row ({' '.join(_REQUIRED)})")
        lower = [h.strip().lower() for h in header]
        index: dict[str, int] = {}
        for column, aliases in TSV_HEADERS.items():
            for alias in aliases:
                if alias in lower:
                    index[column] = lower.index(alias)
                    break
        missing = [c for c in _REQUIRED if c not in index]
        if missing:
            raise UserError(
                f"{name}: line 1: header {header} lacks {', '.join(missing)} "
                "(expected e.g. GeneID Chr Start End Strand)"
            )
        extra = [(i, header[i].strip()) for i in range(len(header)) if i not in index.values()]
        width = len(header)
        for line, row in enumerate(reader, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < width:
                raise UserError(f"{name}: line {line}: {len(row)} columns, the header has {width}")
            start, end = _coords(name, line, row[index["start"]], row[index["end"]])
            strand = row[index["strand"]].strip()
            if strand not in _STRANDS:
                raise UserError(f"{name}: line {line}: strand {strand!r} is not +, - or .")
            contig = row[index["contigname"]].strip()
            gene_id = row[index["gene_id"]].strip()
            if not contig or not gene_id:
                raise UserError(f"{name}: line {line}: empty contig or gene id")
            gene_name = row[index["gene_name"]].strip() if "gene_name" in index else ""
            feature = row[index["feature"]].strip() if "feature" in index else "exon"
            out.add(
                {
                    "importjobid": job_id,
                    "contigname": contig_map(contig) if contig_map else contig,
                    "start": start,
                    "end": end,
                    "strand": strand,
                    "gene_id": gene_id,
                    "gene_name": gene_name or None,
                    "feature": feature or None,
                    "attributes": [(k, row[i]) for i, k in extra if row[i] != ""],
                }
            )
            if out.rows >= batch_rows:
                yield out.flush()
    if out.rows:
        yield out.flush()


def _gff_attributes(name: str, line: int, text: str) -> list[tuple[str, str]]:
    if text in ("", "."):
        return []
    pairs = []
    for item in text.strip().rstrip(";").split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(
                f"{name}: line {line}: attribute {item!r} is not tag=value (GFF3 column 9)"
            )
        pairs.append((unquote(key), unquote(value)))
    return pairs


def _gene_id(attrs: dict[str, str]) -> str | None:
    if attrs.get("gene_id"):
        return attrs["gene_id"]
    for ref in attrs.get("Dbxref", "").split(","):
        if ref.startswith("GeneID:"):
            return ref.removeprefix("GeneID:")
    return attrs.get("ID") or None


def read_gff3(
    path: Path,
    *,
    job_id: str,
    contig_map: Callable[[str], str] | None = None,
    uri: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Record batches (:data:`GENE_COLUMNS`) of a GFF3 file (one row per feature line).

    Raises:
        UserError: a line without 9 columns, bad coordinates, strand or attributes (naming the
            file and the line).
    """
    name = uri or str(path)
    out = _Columns(GENE_COLUMNS)
    with _open_text(path) as handle:
        for line, text in enumerate(handle, start=1):
            text = text.rstrip("\r\n")
            if text.startswith("##FASTA") or text.startswith(">"):
                break
            if not text.strip() or text.startswith("#"):
                continue
            cols = text.split("\t")
            if len(cols) != 9:
                raise UserError(
                    f"{name}: line {line}: {len(cols)} tab-separated columns, GFF3 has 9"
                )
            start, end = _coords(name, line, cols[3], cols[4])
            strand = cols[6]
            if strand not in _STRANDS and strand != "?":
                raise UserError(f"{name}: line {line}: strand {strand!r} is not +, -, . or ?")
            pairs = _gff_attributes(name, line, cols[8])
            attrs = dict(pairs)
            contig = unquote(cols[0])
            out.add(
                {
                    "importjobid": job_id,
                    "contigname": contig_map(contig) if contig_map else contig,
                    "start": start,
                    "end": end,
                    "strand": strand,
                    "gene_id": _gene_id(attrs),
                    "gene_name": attrs.get("gene_name") or attrs.get("gene") or attrs.get("Name"),
                    "feature": cols[2],
                    "attributes": pairs,
                }
            )
            if out.rows >= batch_rows:
                yield out.flush()
    if out.rows:
        yield out.flush()


def read_annotation(
    path: Path,
    fmt: str,
    *,
    job_id: str,
    contig_map: Callable[[str], str] | None = None,
    uri: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of an annotation source in the schema :func:`columns_of` ``(fmt)`` names.

    Raises:
        UserError: unreadable or malformed input (the message names the file and line/record).
    """
    if fmt == "vcf":
        return _vcf(path, job_id, contig_map, uri)
    if fmt == "gff3":
        return read_gff3(path, job_id=job_id, contig_map=contig_map, uri=uri)
    if fmt == "tsv":
        return read_gene_tsv(path, job_id=job_id, contig_map=contig_map, uri=uri)
    raise UserError(f"unknown annotation format {fmt!r}")


def _vcf(
    path: Path, job_id: str, contig_map: Callable[[str], str] | None, uri: str | None
) -> Iterator[pa.RecordBatch]:
    try:
        yield from read_vcf(path, job_id=job_id, per_sample=False, contig_map=contig_map, uri=uri)
    except VcfError as exc:
        raise UserError(str(exc)) from exc


def rows_of(batches: Iterator[pa.RecordBatch]) -> Iterator[dict[str, Any]]:
    """Rows (dicts) of record batches (small files and tests)."""
    for batch in batches:
        yield from batch.to_pylist()
