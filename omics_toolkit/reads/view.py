"""The records of one region of an indexed BAM, CRAM or bgzipped VCF, read by byte range.

Only the index, the header range and the region's data ranges are read (samtools and IGV do
the same over HTTP). The fetched bytes are laid at their own offsets in a sparse local copy
beside the index, and htslib (pysam) decodes them: the records and their order are exactly
``samtools view FILE REGION`` (``tabix``/``bcftools view -r`` for VCF), and a byte range the
index promised but did not deliver fails loudly instead of dropping reads.

For BAM the chunks are read block by block and reading stops at the first record past the
region, as htslib's iterator does, so a small region costs about the records of one 16 kb
window rather than whole bins.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
import zlib
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import pysam

from omics_toolkit.errors import IndexFormatError, UserError
from omics_toolkit.reads.indexes import (
    BGZF_EOF,
    ByteRange,
    Chunk,
    CraiIndex,
    HtsIndex,
    Index,
    bgzf_block_size,
    byte_ranges,
    contig_id,
    header_range,
    index_kind,
    load_index,
    region_chunks,
    with_header,
)
from omics_toolkit.reads.ranged import RangedObject
from omics_toolkit.reads.regions import Region

OutFormat = Literal["sam", "bam", "vcf"]
_PIECE = 64 * 1024
_MAX_PIECE = 1024 * 1024
#: Requests of ``_PIECE`` bytes before the piece starts doubling (up to ``_MAX_PIECE``).
_STEADY_PIECES = 4
_CRAM_PEEK = 1024


@dataclass(frozen=True)
class RegionFetch:
    """What a region view wrote and cost.

    Attributes:
        records: records written (reads, or VCF records).
        bytes_read: bytes read from the data file and the index together.
        requests: range requests made (data and index).
        file_size: the data file's size in bytes.
        index_size: the index file's size in bytes.
    """

    records: int
    bytes_read: int
    requests: int
    file_size: int
    index_size: int

    @property
    def fraction(self) -> float:
        """bytes_read / file_size."""
        return self.bytes_read / self.file_size if self.file_size else 0.0


def data_kind(name: str) -> Literal["BAM", "CRAM", "VCF"]:
    """``BAM``, ``CRAM`` or ``VCF`` (bgzipped ``.vcf.gz``/``.vcf.bgz``) from a file name.

    Raises:
        UserError: another kind of file.
    """
    lower = name.lower()
    if lower.endswith(".bam"):
        return "BAM"
    if lower.endswith(".cram"):
        return "CRAM"
    if lower.endswith((".vcf.gz", ".vcf.bgz")):
        return "VCF"
    raise UserError(f"{name}: region views need a .bam, .cram or bgzipped .vcf.gz file")


class _Fetcher:
    """Reads byte ranges of a RangedObject once each, remembering what it holds."""

    def __init__(self, data: RangedObject) -> None:
        self.data = data
        self.segments: dict[int, bytes] = {}

    def get(self, start: int, end: int, piece: int = 0) -> bytes:
        """Bytes ``[start, end)``; a miss reads at least ``piece`` bytes, never bytes held."""
        end = min(end, self.data.size)
        out = bytearray()
        at = start
        while at < end:
            held = self._held(at)
            if held is not None:
                seg_start, seg = held
                take = seg[at - seg_start : end - seg_start]
                out += take
                at += len(take)
                continue
            nxt = min((s for s in self.segments if s > at), default=self.data.size)
            want_end = min(max(end, at + piece), nxt, self.data.size)
            chunk = self.data.read(at, want_end)
            self.segments[at] = chunk
            out += chunk[: end - at]
            at += min(len(chunk), end - at)
        return bytes(out)

    def _held(self, at: int) -> tuple[int, bytes] | None:
        for seg_start, seg in self.segments.items():
            if seg_start <= at < seg_start + len(seg):
                return seg_start, seg
        return None

    def write_to(self, path: Path, size: int) -> None:
        with path.open("r+b") as handle:
            for start, seg in self.segments.items():
                handle.seek(start)
                handle.write(seg)


class _Blocks:
    """Decompressed BGZF blocks from one offset on, with the virtual offset of any position."""

    def __init__(self, fetch: _Fetcher, coffset: int, piece: int) -> None:
        self.fetch = fetch
        self.next_c = coffset
        self.piece = piece
        self.buf = bytearray()
        self.starts: list[int] = []
        self.coffs: list[int] = []
        self.eof_at = fetch.data.size - len(BGZF_EOF)
        self.misses = 0

    def more(self) -> bool:
        """Append the next block; False at the end of the data."""
        if self.next_c >= self.eof_at:
            return False
        asked = self.fetch.data.requests
        size = bgzf_block_size(self.fetch.get(self.next_c, self.next_c + 18, self.piece))
        block = self.fetch.get(self.next_c, self.next_c + size, self.piece)
        if self.fetch.data.requests != asked:
            # A short region (the usual view: one variant's reads) needs a few 64 KiB pieces;
            # doubling at once would read up to twice what it needs. A long region (many
            # misses) gets fewer, larger requests.
            self.misses += 1
            if self.misses >= _STEADY_PIECES:
                self.piece = min(self.piece * 2, _MAX_PIECE)
        try:
            dec = zlib.decompress(block[18:-8], -15)
        except zlib.error as exc:
            raise IndexFormatError("BGZF", f"block at byte {self.next_c} does not inflate") from exc
        self.starts.append(len(self.buf))
        self.coffs.append(self.next_c)
        self.buf.extend(dec)
        self.next_c += size
        return True

    def have(self, end: int) -> bool:
        """Make ``buf[:end]`` available; False if the data ends first."""
        while len(self.buf) < end:
            if not self.more():
                return False
        return True

    def voffset(self, pos: int) -> int:
        i = bisect_right(self.starts, pos) - 1
        return (self.coffs[i] << 16) | (pos - self.starts[i])


def _scan_bam(fetch: _Fetcher, chunks: list[Chunk], tid: int, end: int) -> None:
    """Fetch the blocks of ``chunks`` until the first record on another contig or at/after
    ``end`` (read whole, as htslib reads it before stopping: ``hts_itr_next``)."""
    piece = _PIECE
    for chunk in chunks:
        blocks = _Blocks(fetch, chunk.beg >> 16, piece)
        pos = chunk.beg & 0xFFFF
        while blocks.have(pos + 12) and blocks.voffset(pos) < chunk.end:
            block_size, ref_id, start = struct.unpack_from("<iii", blocks.buf, pos)
            if ref_id != tid or start >= end:
                blocks.have(pos + 4 + block_size)
                return
            pos += 4 + block_size
        piece = blocks.piece


def _sparse_copy(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)


def fetch_region(
    data: RangedObject,
    index: RangedObject,
    region: Region,
    fmt: OutFormat = "sam",
    out: BinaryIO | None = None,
    *,
    reference: Path | None = None,
    header: bool = False,
) -> RegionFetch:
    """Write the records overlapping ``region`` of an indexed BAM, CRAM or VCF.gz to ``out``.

    Reads the index whole, the header range and the region's byte ranges (BAM: stopping at the
    first read past the region); never the rest of the file.

    Args:
        data: the ``.bam``, ``.cram`` or ``.vcf.gz`` (its ``name`` gives the kind).
        index: its ``.bai``/``.csi``, ``.crai``, or ``.tbi``/``.csi``.
        region: 0-based half-open (:func:`omics_toolkit.reads.regions.parse_region`).
        fmt: ``"sam"`` (SAM lines, as ``samtools view FILE REGION``), ``"bam"`` (a BAM with
            header and the region's reads, as ``samtools view -b``) or ``"vcf"`` (VCF records,
            as ``tabix FILE REGION``).
        out: where to write; ``None`` only counts.
        reference: the FASTA a CRAM was compressed against (and its ``.fai`` beside it).
        header: SAM/VCF: write the header first (``samtools view -h``).

    Returns:
        :class:`RegionFetch` with the number of records and the bytes and requests used.

    Raises:
        RegionError: the contig is not in the file (the message lists some that are).
        IndexFormatError: the index does not belong to the file or is damaged.
        UserError: unsupported kind or format; CRAM without the reference it needs.
        AwsError: reading an S3 object failed (e.g. an archived read set).
    """
    kind = data_kind(data.name)
    if (fmt == "vcf") != (kind == "VCF"):
        raise UserError(
            f"--format {fmt} does not fit a {kind} file (sam|bam for reads, vcf for VCF)"
        )
    data_before = (data.bytes_read, data.requests)
    index_before = (index.bytes_read, index.requests)
    with tempfile.TemporaryDirectory(prefix="omics-region-") as tmp:
        workdir = Path(tmp)
        path, idx, fetch = load_source(data, index, workdir)
        tid = contig_id(idx, region.contig)
        if kind == "BAM" and isinstance(idx, HtsIndex):
            end = region.end if region.end is not None else 1 << 62
            _scan_bam(fetch, region_chunks(idx, region), tid, end)
        else:
            ranges = byte_ranges(idx, region, data.size)
            if kind == "CRAM" and len(ranges) > 1:
                # htslib reads containers in sequence from the first that overlaps, then the
                # header of the one after the last (to see it is past the region)
                last = ranges[-2].end
                ranges = [ByteRange(ranges[0].start, min(last + _CRAM_PEEK, data.size)), ranges[-1]]
            for rng in ranges:
                fetch.get(rng.start, rng.end)
        fetch.write_to(path, data.size)
        for index_file in workdir.glob(f"{path.name}.*"):
            os.utime(index_file)  # newer than the copy it indexes: no htslib staleness warning
        records = _decode(path, kind, region, fmt, out, reference, header, workdir)
    used = (
        data.bytes_read - data_before[0] + index.bytes_read - index_before[0],
        data.requests - data_before[1] + index.requests - index_before[1],
    )
    return RegionFetch(records, used[0], used[1], data.size, index.size)


def load_source(
    data: RangedObject, index: RangedObject, workdir: Path
) -> tuple[Path, Index, _Fetcher]:
    """Read the whole index and the header range of ``data`` into a sparse copy in ``workdir``.

    Returns:
        (the sparse copy's path, the index with the header's contig names and lengths, the
        fetcher holding the bytes read). An htsget server needs only the index: its names
        make :func:`indexes.byte_ranges` work for BAM/CRAM.

    Raises:
        IndexFormatError: the index is not of its kind, or of another kind of file.
        UserError: the data file is not BAM, CRAM or VCF.gz.
    """
    raw = index.read(0, index.size)
    kind = data_kind(data.name)
    ikind = index_kind(index.name)
    idx = load_index(ikind, raw)
    if kind == "CRAM" and not isinstance(idx, CraiIndex):
        raise IndexFormatError(ikind, "a CRAM file needs its .crai index")
    if kind != "CRAM" and isinstance(idx, CraiIndex):
        raise IndexFormatError(ikind, f"a .crai indexes CRAM, not {kind}")
    suffix = {"BAM": ".bam", "CRAM": ".cram", "VCF": ".vcf.gz"}[kind]
    path = workdir / f"data{suffix}"
    _sparse_copy(path, data.size)
    (workdir / f"data{suffix}.{ikind.lower()}").write_bytes(raw)
    fetch = _Fetcher(data)
    head = header_range(idx, data.size)
    fetch.get(head.start, head.end)
    if kind != "CRAM":
        fetch.segments[data.size - len(BGZF_EOF)] = BGZF_EOF
    fetch.write_to(path, data.size)
    if kind == "VCF":
        if idx.names is None:
            raise IndexFormatError(
                ikind, "a VCF index without contig names (index it with tabix or bcftools index)"
            )
        return path, idx, fetch
    mode = "rc" if kind == "CRAM" else "rb"
    with pysam.AlignmentFile(str(path), mode, check_sq=False, require_index=False) as handle:
        idx = with_header(idx, list(handle.references), list(handle.lengths))
    return path, idx, fetch


def _decode(
    path: Path,
    kind: str,
    region: Region,
    fmt: OutFormat,
    out: BinaryIO | None,
    reference: Path | None,
    header: bool,
    workdir: Path,
) -> int:
    stop = region.end
    count = 0
    if kind == "VCF":
        index_path = next(workdir.glob("data.vcf.gz.*"))
        with pysam.TabixFile(str(path), index=str(index_path)) as vcf:
            if out is not None and header:
                out.write("".join(f"{line}\n" for line in vcf.header).encode())
            for line in vcf.fetch(region.contig, region.start, stop):
                count += 1
                if out is not None:
                    out.write(line.encode() + b"\n")
        return count
    with _cram_reference_errors(kind, reference):
        mode = "rc" if kind == "CRAM" else "rb"
        ref = str(reference) if reference is not None else None
        with pysam.AlignmentFile(str(path), mode, reference_filename=ref) as bam:
            reads = bam.fetch(region.contig, region.start, stop)
            if fmt == "bam":
                out_path = workdir / "region.bam"
                with pysam.AlignmentFile(str(out_path), "wb", template=bam) as writer:
                    for read in reads:
                        writer.write(read)
                        count += 1
                if out is not None:
                    with out_path.open("rb") as handle:
                        shutil.copyfileobj(handle, out)
                return count
            if out is not None and header:
                out.write(str(bam.header).encode())
            for read in reads:
                count += 1
                if out is not None:
                    out.write(read.to_string().encode() + b"\n")
        return count


@contextlib.contextmanager
def _cram_reference_errors(kind: str, reference: Path | None) -> Iterator[None]:
    """A CRAM whose reference htslib cannot find (``--reference``, else its @SQ UR/M5 through
    REF_PATH) fails mid-slice after printing errors: htslib is kept quiet and the failure is one
    line saying what to give. BAM decoding passes through untouched."""
    if kind != "CRAM":
        yield
        return
    quiet = pysam.set_verbosity(0)
    try:
        yield
    except (OSError, ValueError) as exc:
        given = f" ({reference} does not decode it)" if reference is not None else ""
        raise UserError(
            f"this CRAM cannot be decoded without the reference it was compressed "
            f"against{given}: give --reference FASTA (with its .fai beside it) ({exc})"
        ) from exc
    finally:
        pysam.set_verbosity(quiet)


__all__ = ["ByteRange", "RegionFetch", "data_kind", "fetch_region", "load_source"]
