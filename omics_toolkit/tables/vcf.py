"""VCF -> Arrow record batches in the variant-store / VCF annotation-store schema.

Reads plain or BGZF VCF with cyvcf2 (htslib). Coordinates become 0-based half-open:
``start = POS - 1``, ``end = start + len(REF)``. With ``per_sample`` (variant tables) there is one
row per sample per record; otherwise (annotation tables) one row per record with ``sampleid``
NULL. Field mapping (VCF spec 4.2 -> column): CHROM contigname, ID names (split on ``;``), REF
referenceallele, ALT alternatealleles, QUAL qual, FILTER filters, INFO attributes (``key=value``;
flags map to ``"true"``), GT calls + phased (``-1`` for a no-call allele; a haploid GT such as
``1`` has no separator, so it is unphased whatever the other samples' ploidy), FORMAT AD
alleledepths, DP depth, GQ conditionalquality, PL phredlikelihoods, GL genotypelikelihoods,
SPL spl, PS ps.

Columnar: per record the reader only collects what cyvcf2 returns (site properties, the INFO
text, genotype lists, one numpy array per FORMAT field) into per-batch buffers; each batch's
columns are then built at once with numpy and Arrow compute, the site columns repeated across
samples with one ``take`` each. Values, NULLs, row order and batch boundaries are those of the
row-by-row definitions kept below (:func:`_ints`, :func:`_scalar`, :func:`_floats`), which also
convert the rare FORMAT arrays of an unexpected type.

QUAL and Float FORMAT values (GL) are stored as the decimals the VCF wrote: htslib reads them
as float32, so ``110.415`` arrives as ``110.41500091552734``; :func:`as_written` turns each into
the shortest decimal giving the same float32 (numpy's float32-to-text) and stores that decimal's
double (``110.415``), as a reader parsing the text as double (HealthOmics' variant import, the
``qual double`` column) does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from healthomics_facts.schema import FORMAT_COLUMNS
from omics_toolkit.tables.schema import (
    ANNOTATION_VCF_COLUMNS,
    VARIANT_COLUMNS,
    Column,
    arrow_schema,
)

_INT_MISSING = -2147483648
_INT_VECTOR_END = -2147483647
#: FORMAT fields read, in :data:`healthomics_facts.schema.FORMAT_COLUMNS` order.
_FORMAT_FIELDS = tuple(FORMAT_COLUMNS)
#: numpy type of the arrays each shape is read vectorised from (cyvcf2 gives int32 for a FORMAT
#: ``Type=Integer``, float32 for ``Float``); other arrays are converted value by value.
_VECTOR_DTYPE = {
    "ints": np.dtype(np.int32),
    "int": np.dtype(np.int32),
    "floats": np.dtype(np.float32),
}
#: Rows per Arrow record batch.
BATCH_ROWS = 65_536

_STRINGS = pa.list_(pa.string())
_INT32S = pa.list_(pa.int32())
_ATTRIBUTES = pa.map_(pa.string(), pa.string())
_SIZE = attrgetter("size")


class VcfError(Exception):
    """The VCF cannot be read; ``str()`` names the file and the problem."""


def as_written(values: np.ndarray) -> np.ndarray:
    """float32 values as the float64 of their shortest decimal text (NaN stays NaN).

    ``np.float32(110.415)`` -> ``110.415`` (not ``110.41500091552734``); the same values as
    numpy's float32-to-text (``astype(str)``), about 15 times faster: for 1 to 9 significant
    digits, each value is rounded to that many digits (an exact integer times or divided by an
    exact power of ten, so the double of that decimal) and kept once it gives the same float32.
    Shapes: any array in, a float64 array of the same shape out.
    """
    single = np.asarray(values, dtype=np.float32)
    double = single.astype(np.float64)
    out = double.copy()
    todo = np.isfinite(double) & (double != 0)
    exponent = np.zeros(double.shape, dtype=np.int64)
    exponent[todo] = np.floor(np.log10(np.abs(double[todo]))).astype(np.int64)
    # 10**k is exact in float64 for |k| <= 22: k = digits - 1 - exponent, digits 1..9
    rare = todo & ((exponent < -14) | (exponent > 22))
    todo &= ~rare
    for digits in range(1, 10):
        if not todo.any():
            break
        k = digits - 1 - exponent
        scale = 10.0 ** np.abs(np.where(todo, k, 0))
        candidate = np.where(
            k >= 0, np.round(double * scale) / scale, np.round(double / scale) * scale
        )
        found = todo & (candidate.astype(np.float32) == single)
        out[found] = candidate[found]
        todo &= ~found
    rare |= todo
    if rare.any():  # below 1e-14 or above 1e22: numpy's text (slower, rare in VCFs)
        out[rare] = single[rare].astype(str).astype(np.float64)
    return out


def _ints(values: Any) -> list[int | None] | None:
    if values is None:
        return None
    out = [None if int(x) == _INT_MISSING else int(x) for x in values if int(x) != _INT_VECTOR_END]
    return out if any(x is not None for x in out) else None


def _floats(values: Any) -> list[float | None] | None:
    if values is None:
        return None
    out = [
        None
        if math.isnan(float(x))
        else float(as_written(np.float32(x)))
        if isinstance(x, np.float32)
        else float(x)
        for x in values
    ]
    return out if any(x is not None for x in out) else None


def _scalar(values: Any) -> int | None:
    vals = _ints(values)
    return vals[0] if vals else None


_PER_VALUE = {"ints": _ints, "int": _scalar, "floats": _floats}


def _format(variant: Any, name: str) -> Any:
    try:
        return variant.format(name)
    except KeyError:
        return None


class _Columns:
    """Column-wise row buffer flushed as Arrow record batches (the GFF3/TSV readers' buffer)."""

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


def _offsets(lengths: np.ndarray) -> pa.Array:
    out = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=out[1:])
    return pa.array(out)


def _list_array(
    lengths: np.ndarray, values: pa.Array, kind: pa.DataType, valid: np.ndarray | None = None
) -> pa.Array:
    """A list array from per-row lengths and the rows' values (rows with ``valid`` False NULL)."""
    mask = None if valid is None or valid.all() else pa.array(~valid)
    return pa.ListArray.from_arrays(_offsets(lengths), values, type=kind, mask=mask)


def _strings_of(lists: tuple[list[str], ...], null_if_empty: bool) -> pa.Array:
    """``list<string>`` of per-record Python lists (``[]`` -> NULL with ``null_if_empty``)."""
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    values = pa.array(list(chain.from_iterable(lists)), type=pa.string())
    return _list_array(lengths, values, _STRINGS, lengths > 0 if null_if_empty else None)


def _attributes_of(infos: tuple[str, ...]) -> pa.Array:
    """The ``attributes`` map of INFO texts (trailing CR/LF removed): items split on ``;``, each
    ``key=value`` split on its first ``=``, a flag (no ``=``) ``"true"``; ``""`` or ``"."``
    gives an empty map."""
    text = pc.utf8_rtrim(pa.array(infos, type=pa.string()), characters="\r\n")
    empty = pc.or_(pc.equal(text, ""), pc.equal(text, "."))
    items_per_record = pc.split_pattern(pc.if_else(empty, pa.scalar(None, pa.string()), text), ";")
    lengths = pc.fill_null(pc.list_value_length(items_per_record), 0).to_numpy()
    items = pc.list_flatten(items_per_record)
    key_value = pc.split_pattern(items, "=", max_splits=1)
    parts = pc.list_flatten(key_value)
    first = np.zeros(len(items), dtype=np.int64)
    np.cumsum(pc.list_value_length(key_value).to_numpy()[:-1], out=first[1:])
    has_value = pc.list_value_length(key_value).to_numpy() == 2
    keys = parts.take(pa.array(first))
    second = pa.array(np.where(has_value, first + 1, 0), mask=~has_value)
    values = pc.fill_null(parts.take(second), pa.scalar("true", pa.string()))
    return pa.MapArray.from_arrays(_offsets(lengths), keys, values, type=_ATTRIBUTES)


def _values(arrays: list[np.ndarray], samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-record ``(samples, width)`` FORMAT arrays (width 0: absent) as one row-major value
    vector and each row's width."""
    sizes = np.fromiter(map(_SIZE, arrays), dtype=np.int64, count=len(arrays))
    return np.concatenate(arrays, axis=None), np.repeat(sizes // samples, samples)


def _int_column(arrays: list[np.ndarray], samples: int, shape: str, kind: pa.DataType) -> pa.Array:
    """An Integer FORMAT field as :func:`_ints` (``ints``) or :func:`_scalar` (``int``) would
    give per row: vector-end values dropped, missing values NULL, a row with no value NULL."""
    values, widths = _values(arrays, samples)
    n = len(widths)
    if n and widths.min() == widths.max():  # one width throughout: a (rows, width) matrix
        matrix = values.reshape(n, int(widths[0]))
        kept = matrix != _INT_VECTOR_END
        row_valid = (kept & (matrix != _INT_MISSING)).any(axis=1)
        if shape == "int":
            first = matrix[np.arange(n), kept.argmax(axis=1)] if matrix.shape[1] else widths
            return pa.array(first, type=kind, mask=~(row_valid & (first != _INT_MISSING)))
        taken = kept & row_valid[:, None]
        picked = matrix[taken]
        lengths = taken.sum(axis=1)
    else:
        rows = np.repeat(np.arange(n), widths)
        kept = values != _INT_VECTOR_END
        row_valid = np.bincount(rows[kept & (values != _INT_MISSING)], minlength=n) > 0
        if shape == "int":
            kept_at = np.flatnonzero(kept)
            kept_rows = rows[kept_at]
            is_first = np.ones(len(kept_at), dtype=bool)
            is_first[1:] = kept_rows[1:] != kept_rows[:-1]
            first = np.zeros(n, dtype=np.int32)
            first[kept_rows[is_first]] = values[kept_at[is_first]]
            return pa.array(first, type=kind, mask=~(row_valid & (first != _INT_MISSING)))
        taken = kept & row_valid[rows]
        picked = values[taken]
        lengths = np.bincount(rows[taken], minlength=n)
    child = pa.array(picked, type=pa.int32(), mask=picked == _INT_MISSING)
    return _list_array(lengths, child, kind, row_valid)


def _float_column(arrays: list[np.ndarray], samples: int, kind: pa.DataType) -> pa.Array:
    """A Float FORMAT field as :func:`_floats` would give per row: NaN (missing or vector end)
    NULL, a row with no number NULL."""
    values, widths = _values(arrays, samples)
    n = len(widths)
    rows = np.repeat(np.arange(n), widths)
    row_valid = np.bincount(rows[~np.isnan(values)], minlength=n) > 0
    picked = as_written(values[row_valid[rows]])
    child = pa.array(picked, type=pa.float64(), mask=np.isnan(picked))
    return _list_array(np.where(row_valid, widths, 0), child, kind, row_valid)


class _Batch:
    """Per-batch column buffers of one VCF, filled record by record and built into Arrow once.

    Per record it keeps cyvcf2's values: the site's properties and INFO text, the genotype
    lists and one numpy array per FORMAT field. :meth:`flush` turns them into columns with numpy
    and Arrow compute, repeating the site columns across samples with one ``take`` each.

    A FORMAT array that is not of its shape's numpy type (a field declared with another
    ``Type``, or undeclared: htslib then adds it as a String mid-file) is converted value by
    value as :func:`_ints`, :func:`_scalar` and :func:`_floats` define, when its record is added
    (a value that cannot be converted fails at that record); a batch holding such a record
    builds that column from Python values.
    """

    def __init__(self, job_id: str, per_sample: bool, samples: list[str]) -> None:
        self.job_id = job_id
        self.schema = arrow_schema(VARIANT_COLUMNS if per_sample else ANNOTATION_VCF_COLUMNS)
        self.samples = samples if per_sample else []
        #: FORMAT fields already read once: absent from a record, they are None without a call.
        self.probed: set[str] = set()
        #: What an absent FORMAT field is buffered as: no values for any sample.
        self.absent = {
            shape: np.zeros((len(self.samples), 0), dtype=dtype)
            for shape, dtype in _VECTOR_DTYPE.items()
        }
        self._reset()

    def _reset(self) -> None:
        self.sites: list[tuple[Any, ...]] = []
        self.genotypes: list[list[list[Any]]] = []
        #: Per FORMAT field, per record: a numpy array, or the rows' converted values.
        self.formats: dict[str, list[Any]] = {field: [] for field in _FORMAT_FIELDS}
        self.converted: set[str] = set()
        self.rows = 0
        #: (field, shape, vectorised numpy type, absent array, this batch's buffer) per field.
        self.slots = [
            (field, shape, _VECTOR_DTYPE[shape], self.absent[shape], self.formats[field])
            for field, (_, shape) in FORMAT_COLUMNS.items()
        ]

    def add(self, v: Any, contig: str) -> None:
        """Buffer one record (``contig`` already mapped and checked)."""
        info = str(v).split("\t", 8)[7]
        self.sites.append((contig, v.POS, v.ID, v.REF, v.ALT, v.QUAL, v.FILTERS, info))
        if not self.samples:
            self.rows += 1
            return
        self.genotypes.append(v.genotypes)
        present = v.FORMAT
        slow = []
        for field, shape, dtype, absent, buffer in self.slots:
            if field not in present and field in self.probed:
                buffer.append(absent)  # None, and the first call showed the header allows it
                continue
            self.probed.add(field)
            values = _format(v, field)
            if values is None:
                buffer.append(absent)
            elif values.dtype is dtype:
                buffer.append(values)
            else:
                slow.append((field, _PER_VALUE[shape], values, []))
        for i in range(len(self.samples) if slow else 0):  # sample by sample, as rows were built
            for _, convert, values, out in slow:
                out.append(convert(values[i]))
        for field, _, _, out in slow:
            self.formats[field].append(out)
            self.converted.add(field)
        self.rows += len(self.samples)

    def flush(self) -> pa.RecordBatch:
        """The buffered rows as one record batch in the schema; empties the buffers."""
        contigs, positions, ids, refs, alts, quals, filters, infos = zip(*self.sites, strict=True)
        start = np.fromiter(positions, dtype=np.int64, count=len(positions)) - 1
        ref = pa.array(refs, type=pa.string())
        cols = {
            "contigname": pa.array(contigs, type=pa.string()),
            "start": pa.array(start, type=pa.int32()),
            "end": pa.array(start + pc.utf8_length(ref).to_numpy(), type=pa.int32()),
            "names": pc.split_pattern(pa.array(ids, type=pa.string()), ";"),
            "referenceallele": ref,
            "alternatealleles": _strings_of(alts, null_if_empty=False),
            "qual": pa.array(
                as_written(np.array([np.nan if q is None else q for q in quals])),
                type=pa.float64(),
                mask=np.fromiter((q is None for q in quals), dtype=bool, count=len(quals)),
            ),
            "filters": _strings_of(filters, null_if_empty=True),
            "attributes": _attributes_of(infos),
        }
        if self.samples:
            ns, records = len(self.samples), len(self.sites)
            repeat = pa.array(np.repeat(np.arange(records), ns))
            cols = {name: array.take(repeat) for name, array in cols.items()}
            cols.update(self._sample_columns())
            cols["sampleid"] = pa.array(self.samples, type=pa.string()).take(
                pa.array(np.tile(np.arange(ns), records))
            )
        n = self.rows
        cols["importjobid"] = pa.array([self.job_id] * n, type=pa.string())
        cols["splitfrommultiallelic"] = pa.array(np.zeros(n, dtype=bool))
        arrays = [cols.get(f.name, pa.nulls(n, type=f.type)) for f in self.schema]
        self._reset()
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _sample_columns(self) -> dict[str, pa.Array]:
        ns = len(self.samples)
        per_row = list(chain.from_iterable(self.genotypes))  # [allele, ..., phased] per row
        lengths = np.fromiter(map(len, per_row), dtype=np.int64, count=len(per_row))
        values = np.fromiter(chain.from_iterable(per_row), dtype=np.int64, count=int(lengths.sum()))
        phased_at = np.cumsum(lengths) - 1
        # A haploid GT ("1") has no separator, so it is unphased (VCF 4.3 section 1.6.2).
        # cyvcf2's phase flag of a one-allele call is not that: in a record where another
        # sample is diploid it is the vector-end padding's phase bit, set.
        out = {
            "phased": pa.array((values[phased_at] != 0) & (lengths > 2)),
            "calls": _list_array(
                lengths - 1, pa.array(np.delete(values, phased_at), type=pa.int32()), _INT32S
            ),
        }
        for field, (column, shape) in FORMAT_COLUMNS.items():
            kind = self.schema.field(column).type
            records = self.formats[field]
            if field in self.converted:
                convert = _PER_VALUE[shape]
                rows = chain.from_iterable(
                    r if isinstance(r, list) else map(convert, r) for r in records
                )
                out[column] = pa.array(list(rows), type=kind)
            elif shape == "floats":
                out[column] = _float_column(records, ns, kind)
            else:
                out[column] = _int_column(records, ns, shape, kind)
        return out


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
        batch_rows: rows per batch; a batch ends after the record that reaches it (a record's
            sample rows are never split across batches).

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
    try:
        out = _Batch(job_id, per_sample, list(vcf.samples))
        chrom, contig = None, ""
        for v in vcf:
            if v.CHROM != chrom:
                chrom = v.CHROM
                contig = contig_map(chrom) if contig_map else chrom
                if known_contigs is not None and contig not in known_contigs:
                    raise VcfError(
                        f"{name}: contig {chrom} is not in the reference "
                        f"(reference contigs: {', '.join(sorted(known_contigs)[:10])})"
                    )
            out.add(v, contig)
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
