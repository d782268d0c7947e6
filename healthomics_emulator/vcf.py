"""VCF -> Arrow record batches in the variant-store / VCF annotation-store schema, read with pysam.

The emulator's own reader (htslib through ``pysam.VariantFile``), independent of the toolkit's
cyvcf2-based one that the emulator checks. Coordinates become 0-based half-open:
``start = POS - 1``, ``end = start + len(REF)``. With ``per_sample`` (variant stores) one row per
sample per record; otherwise (annotation stores, or a VCF without samples) one row per record
with ``sampleid`` NULL. Field mapping (VCF 4.2 -> column): CHROM contigname, ID names (split on
``;``; NULL for ``.``), REF referenceallele, ALT alternatealleles (``[]`` for ``.``), QUAL qual,
FILTER filters (NULL for ``.``), INFO attributes (the record's INFO text: items split on ``;``,
``key=value`` on the first ``=``, a flag ``"true"``; ``.`` an empty map), GT calls (``-1`` for a
no-call allele) + phased (a haploid GT, without separator, is unphased), FORMAT AD alleledepths, DP depth, GQ conditionalquality, PL
phredlikelihoods, GL genotypelikelihoods, SPL spl, PS ps (a list field whose values are all
missing is NULL; a scalar column takes the field's first value).

QUAL and Float FORMAT values (GL) are the decimals the VCF wrote: htslib holds them as float32
(``110.415`` reads back as ``110.41500091552734``), so each becomes the shortest decimal that
gives the same float32 (:func:`as_written`), then the ``double`` of that decimal, as a text
parser reading the VCF as double would store it.
"""

from __future__ import annotations

import functools
import gzip
import math
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from healthomics_emulator.errors import ImportFailure
from healthomics_facts import schema as facts

#: Arrow type of each Athena type of the store schema.
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "array<string>": pa.list_(pa.string()),
    "array<int>": pa.list_(pa.int32()),
    "array<double>": pa.list_(pa.float64()),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
}
Column = tuple[str, str, pa.DataType]
VARIANT_COLUMNS: list[Column] = [(n, t, ARROW_TYPES[t]) for n, t in facts.VARIANT_COLUMNS]
ANNOTATION_COLUMNS: list[Column] = [(n, t, ARROW_TYPES[t]) for n, t in facts.ANNOTATION_VCF_COLUMNS]
#: Rows per Arrow record batch.
BATCH_ROWS = 65_536


def arrow_schema(columns: list[Column]) -> pa.Schema:
    """The Arrow schema of a column list (every field nullable)."""
    return pa.schema([pa.field(name, kind) for name, _, kind in columns])


def _float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


@functools.lru_cache(maxsize=1 << 16)
def as_written(value: float | None) -> float | None:
    """The decimal a VCF wrote for a value htslib read as float32 (``None`` stays ``None``).

    The shortest ``%g`` text (1 to 9 significant digits) that rounds to the same float32, as a
    double: ``110.41500091552734`` -> ``110.415``. Found by bisection (a text of more digits
    also rounds back once a shorter one does); values repeat in VCFs, so answers are cached.
    Infinities and NaN are returned unchanged.
    """
    if value is None or not math.isfinite(value):
        return value
    try:
        single = _float32(value)
    except OverflowError:
        return value
    low, high = 1, 9  # 9 significant digits always round-trip a float32
    while low < high:
        mid = (low + high) // 2
        if _float32(float(f"{value:.{mid}g}")) == single:
            high = mid
        else:
            low = mid + 1
    return float(f"{value:.{low}g}")


def _values(value: Any, convert: Any) -> list[Any] | None:
    """A FORMAT value as a list (``None`` for missing items), ``None`` if nothing is present."""
    if value is None:
        return None
    items = list(value) if isinstance(value, tuple | list) else [value]
    out = [None if v is None else convert(v) for v in items]
    return out if any(v is not None for v in out) else None


def _format_value(sample: Any, field: str, shape: str) -> Any:
    if field not in sample:
        return None
    values = _values(sample[field], as_written if shape == "floats" else int)
    if shape == "int":
        return values[0] if values else None
    return values


def _attributes(info: str) -> list[tuple[str, str]]:
    text = info.rstrip("\r\n")
    if text in ("", "."):
        return []
    out = []
    for item in text.split(";"):
        key, eq, value = item.partition("=")
        out.append((key, value if eq else "true"))
    return out


def _site(rec: Any, contig: str, job_id: str) -> dict[str, Any]:
    start = rec.pos - 1
    filters = list(rec.filter.keys())
    return {
        "importjobid": job_id,
        "contigname": contig,
        "start": start,
        "end": start + len(rec.ref),
        "names": rec.id.split(";") if rec.id is not None else None,
        "referenceallele": rec.ref,
        "alternatealleles": list(rec.alts or ()),
        "qual": as_written(rec.qual),
        "filters": filters or None,
        "splitfrommultiallelic": False,
        "attributes": _attributes(str(rec).split("\t", 8)[7]),
    }


def _sample_row(sample: Any) -> dict[str, Any]:
    gt = sample.get("GT") if "GT" in sample else None
    row: dict[str, Any] = {
        "calls": [-1 if a is None else a for a in gt] if gt is not None else [],
        # a haploid GT has no separator: unphased, as VCF 4.3 section 1.6.2 writes it (htslib
        # reports the phase bit of a one-allele genotype as set)
        "phased": bool(sample.phased) and gt is not None and len(gt) > 1,
        "sampleid": sample.name,
    }
    for field, (column, shape) in facts.FORMAT_COLUMNS.items():
        row[column] = _format_value(sample, field, shape)
    return row


def read_vcf(
    path: Path,
    *,
    job_id: str,
    per_sample: bool,
    uri: str | None = None,
    known_contigs: set[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Record batches of one VCF (plain or bgzip) in the store schema.

    Args:
        path: local VCF.
        job_id: value of the ``importjobid`` column.
        per_sample: ``True`` for a variant store (:data:`VARIANT_COLUMNS`), ``False`` for a VCF
            annotation store (:data:`ANNOTATION_COLUMNS`).
        uri: the name used in error messages (default: ``path``).
        known_contigs: contigs allowed (the reference's); ``None`` allows any.
        batch_rows: rows per batch; a batch ends after the record that reaches it.

    Raises:
        ImportFailure: unreadable file or header, malformed record, or a contig outside
            ``known_contigs`` (the message names the file and the contig).
    """
    name = uri or str(path)
    try:
        import pysam
    except ImportError as exc:  # the job fails with the fix, it never hangs IN_PROGRESS
        raise ImportFailure(
            f"{name}: the emulator reads VCFs with pysam, which is not installed "
            "(pip install 'omics-toolkit[local]')"
        ) from exc
    columns = VARIANT_COLUMNS if per_sample else ANNOTATION_COLUMNS
    schema = arrow_schema(columns)
    plain: Path | None = None
    try:
        try:
            vcf = pysam.VariantFile(str(path))
        except NotImplementedError:  # plain gzip, not BGZF: htslib cannot seek in it
            plain = _gunzip(path, path.parent)
            vcf = pysam.VariantFile(str(plain))
    except (OSError, ValueError, EOFError) as exc:
        if plain is not None:
            plain.unlink(missing_ok=True)
        raise ImportFailure(f"{name}: not a readable VCF ({exc})") from exc
    rows: list[dict[str, Any]] = []
    try:
        samples = list(vcf.header.samples) if per_sample else []
        checked: str | None = None
        for rec in vcf:
            if rec.chrom != checked:
                checked = rec.chrom
                if known_contigs is not None and checked not in known_contigs:
                    raise ImportFailure(
                        f"{name}: contig {checked} is not in the reference "
                        f"(reference contigs: {', '.join(sorted(known_contigs)[:10])})"
                    )
            site = _site(rec, rec.chrom, job_id)
            if samples:
                rows.extend({**site, **_sample_row(rec.samples[s])} for s in samples)
            else:
                rows.append(site)
            if len(rows) >= batch_rows:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)
                rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
    except ImportFailure:
        raise
    except Exception as exc:
        raise ImportFailure(f"{name}: malformed VCF record ({exc})") from exc
    finally:
        vcf.close()
        if plain is not None:
            plain.unlink(missing_ok=True)


def _gunzip(path: Path, directory: Path) -> Path:
    """A plain copy of a gzip (not BGZF) file in ``directory`` (the caller removes it)."""
    with (
        gzip.open(path, "rb") as src,
        tempfile.NamedTemporaryFile(suffix=".vcf", dir=directory, delete=False) as dst,
    ):
        shutil.copyfileobj(src, dst)
    return Path(dst.name)
