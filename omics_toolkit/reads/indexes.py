"""Indexes of BAM, CRAM and bgzipped VCF files, parsed from their specifications, and the byte
ranges a region needs.

Formats (hts-specs): BAI, SAMv1 §5.2 (binning §5.3); CSI, CSIv1; TBI, tabix.pdf; CRAI, CRAMv3
§12. Virtual offsets are ``coffset << 16 | uoffset`` (SAMv1 §4.1.1). The region -> chunks rule
is htslib's ``hts_itr_query`` (reg2bins, minimum offset from the bins' linear offsets, maximum
offset from the first bin right of the region, sort, drop contained, merge), so the ranges cover
exactly what samtools/htslib would read; an htsget server hands the same ranges out.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from omics_toolkit.errors import IndexFormatError, RegionError
from omics_toolkit.reads.regions import Region

IndexKind = Literal["BAI", "CSI", "TBI", "CRAI"]

#: The 28-byte empty BGZF block that ends every BAM/bgzipped file (SAMv1 §4.1.2); an htsget
#: client appends it after the data ranges.
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
#: CRAM 3.x end-of-file container (CRAMv3 §9), 38 bytes.
CRAM3_EOF_SIZE = 38


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, end)`` of the data file (end exclusive)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def http(self) -> str:
        """As an HTTP ``Range`` header value (end inclusive)."""
        return f"bytes={self.start}-{self.end - 1}"


@dataclass(frozen=True)
class Chunk:
    """A run of records between two virtual offsets ``[beg, end)``."""

    beg: int
    end: int


@dataclass
class RefIndex:
    """One contig's bins (bin number -> chunks), bins' linear offsets and linear index."""

    bins: dict[int, list[Chunk]] = field(default_factory=dict)
    loffs: dict[int, int] = field(default_factory=dict)
    linear: list[int] = field(default_factory=list)
    mapped: int | None = None
    unmapped: int | None = None


@dataclass
class HtsIndex:
    """A BAI, CSI or TBI index.

    Attributes:
        kind: ``"BAI"``, ``"CSI"`` or ``"TBI"``.
        min_shift, depth: the binning scheme (BAI/TBI: 14 and 5).
        refs: per contig, in the order of the data file's header.
        n_no_coor: reads without a coordinate (unplaced unmapped), when the index records it.
        names, lengths: contig names and lengths (TBI and VCF CSI carry names; BAM/CRAM need
            :func:`with_header` from the data file's header).
    """

    kind: str
    min_shift: int
    depth: int
    refs: list[RefIndex]
    n_no_coor: int | None = None
    names: list[str] | None = None
    lengths: list[int] | None = None

    @property
    def meta_bin(self) -> int:
        """The pseudo-bin of per-contig counts (37450 for BAI)."""
        return ((1 << ((self.depth + 1) * 3)) - 1) // 7 + 1

    @property
    def n_bins(self) -> int:
        return ((1 << ((self.depth + 1) * 3)) - 1) // 7


@dataclass(frozen=True)
class CraiEntry:
    """One CRAI line (CRAMv3 §12): a slice's span on one reference and where it lies."""

    seq_id: int
    start: int  # 1-based alignment start
    span: int
    container: int  # byte offset of the container in the file
    slice_offset: int  # from the end of the container header
    slice_size: int


@dataclass
class CraiIndex:
    """A CRAM index: entries sorted by container offset, names/lengths from the CRAM header."""

    kind: str
    entries: list[CraiEntry]
    names: list[str] | None = None
    lengths: list[int] | None = None


Index = HtsIndex | CraiIndex


class _Reader:
    def __init__(self, kind: str, data: bytes) -> None:
        self.kind = kind
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise IndexFormatError(
                self.kind, f"truncated at byte {self.pos} (the file is cut short)"
            )
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def one(self, fmt: str) -> int:
        return self.take("<" + fmt)[0]

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise IndexFormatError(self.kind, f"truncated at byte {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _maybe_gunzip(kind: str, data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise IndexFormatError(kind, f"not a valid gzip/BGZF stream ({exc})") from exc
    return data


def _read_bins(r: _Reader, with_loff: bool, meta_bin: int) -> RefIndex:
    ref = RefIndex()
    for _ in range(r.one("i")):
        bin_no = r.one("I")
        loff = r.one("Q") if with_loff else 0
        n_chunk = r.one("i")
        flat = r.take(f"<{2 * n_chunk}Q")
        chunks = [Chunk(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
        if bin_no == meta_bin:
            if len(chunks) >= 2:
                ref.mapped, ref.unmapped = chunks[1].beg, chunks[1].end
            continue
        ref.bins[bin_no] = chunks
        if with_loff:
            ref.loffs[bin_no] = loff
    return ref


def _tabix_names(r: _Reader) -> list[str]:
    _fmt, _col_seq, _col_beg, _col_end, _meta, _skip, l_nm = r.take("<7i")
    blob = r.raw(l_nm)
    return [n.decode() for n in blob.split(b"\0")[:-1]]


def _bin_first(level: int) -> int:
    return ((1 << (level * 3)) - 1) // 7


def _bin_level(bin_no: int) -> int:
    level, first = 0, 0
    while bin_no >= first + (1 << (level * 3)):
        first += 1 << (level * 3)
        level += 1
    return level


def _bin_bot(bin_no: int, depth: int) -> int:
    level = _bin_level(bin_no)
    return (bin_no - _bin_first(level)) << ((depth - level) * 3)


def _bai_loffs(ref: RefIndex, depth: int) -> None:
    # htslib update_loff: a BAI bin's linear offset is the linear index at its first window
    for bin_no in ref.bins:
        bot = _bin_bot(bin_no, depth)
        ref.loffs[bin_no] = ref.linear[bot] if bot < len(ref.linear) else 0


def _parse_hts(kind: str, data: bytes) -> HtsIndex:
    r = _Reader(kind, data)
    magic = r.raw(4)
    names: list[str] | None = None
    if kind == "BAI":
        if magic != b"BAI\1":
            raise IndexFormatError(kind, f"magic {magic!r} is not BAI\\1 (is this a .bai?)")
        min_shift, depth = 14, 5
    elif kind == "TBI":
        if magic != b"TBI\1":
            raise IndexFormatError(kind, f"magic {magic!r} is not TBI\\1 (is this a .tbi?)")
        min_shift, depth = 14, 5
    else:
        if magic != b"CSI\1":
            raise IndexFormatError(kind, f"magic {magic!r} is not CSI\\1 (is this a .csi?)")
        min_shift, depth, l_aux = r.take("<3i")
        aux = r.raw(l_aux)
        if l_aux >= 28:
            names = _tabix_names(_Reader(kind, aux))
    n_ref = r.one("i")
    if kind == "TBI":
        r.pos -= 4
        n_ref = r.one("i")
        names = _tabix_names(r)
    index = HtsIndex(kind, min_shift, depth, [], names=names)
    meta = index.meta_bin
    for _ in range(n_ref):
        ref = _read_bins(r, kind == "CSI", meta)
        if kind != "CSI":
            n_intv = r.one("i")
            ref.linear = list(r.take(f"<{n_intv}Q"))
            _bai_loffs(ref, depth)
        index.refs.append(ref)
    if r.left >= 8:
        index.n_no_coor = r.one("Q")
    if names is not None and len(names) != n_ref:
        raise IndexFormatError(kind, f"{len(names)} names for {n_ref} contigs")
    return index


def _parse_crai(data: bytes) -> CraiIndex:
    entries = []
    for number, line in enumerate(io.StringIO(data.decode("ascii", "replace")), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 6 or not all(f.lstrip("-").isdigit() for f in fields):
            raise IndexFormatError("CRAI", f"line {number} is not 6 integers: {line.strip()!r}")
        entries.append(CraiEntry(*(int(f) for f in fields)))
    entries.sort(key=lambda e: (e.container, e.slice_offset))
    return CraiIndex("CRAI", entries)


def load_index(kind: IndexKind, data: bytes) -> Index:
    """Parse an index file's bytes (gzip/BGZF-compressed or not, as each format is stored).

    Args:
        kind: ``"BAI"``, ``"CSI"``, ``"TBI"`` or ``"CRAI"``.
        data: the whole index file.

    Returns:
        :class:`HtsIndex` (BAI, CSI, TBI) or :class:`CraiIndex`.

    Raises:
        IndexFormatError: wrong magic, truncated, or not the declared kind.
    """
    kind_u = kind.upper()
    if kind_u not in ("BAI", "CSI", "TBI", "CRAI"):
        raise IndexFormatError(kind, "unknown index kind (BAI, CSI, TBI or CRAI)")
    raw = _maybe_gunzip(kind_u, data)
    if kind_u == "CRAI":
        return _parse_crai(raw)
    return _parse_hts(kind_u, raw)


def index_kind(path: str) -> IndexKind:
    """The index kind of a file name (``.bai``, ``.csi``, ``.tbi``, ``.crai``).

    Raises:
        IndexFormatError: another extension.
    """
    lower = path.lower()
    for ext, kind in ((".bai", "BAI"), (".csi", "CSI"), (".tbi", "TBI"), (".crai", "CRAI")):
        if lower.endswith(ext):
            return kind  # type: ignore[return-value]
    raise IndexFormatError("?", f"{path}: not a .bai, .csi, .tbi or .crai file")


def with_header(index: Index, names: Sequence[str], lengths: Sequence[int]) -> Index:
    """The index with the contig names and lengths of the data file's header (BAM/CRAM).

    Raises:
        IndexFormatError: the header has fewer contigs than the index (index of another file).
    """
    n_refs = len(index.refs) if isinstance(index, HtsIndex) else 0
    if len(names) < n_refs:
        raise IndexFormatError(
            index.kind,
            f"indexes {n_refs} contigs but the file's header has {len(names)}: "
            "the index belongs to another file; re-index it (samtools index)",
        )
    return replace(index, names=list(names), lengths=list(lengths))


def contig_id(index: Index, contig: str) -> int:
    """The contig's number in the data file's header.

    Raises:
        RegionError: the contig is absent, naming a few contigs the file has.
    """
    if index.names is None:
        raise IndexFormatError(index.kind, "contig names unknown: call with_header() first")
    try:
        return index.names.index(contig)
    except ValueError:
        shown = ", ".join(index.names[:8]) + (", ..." if len(index.names) > 8 else "")
        hint = ""
        alt = contig[3:] if contig.startswith("chr") else "chr" + contig
        if alt in index.names:
            hint = f" (did you mean {alt}?)"
        raise RegionError(
            f"contig {contig!r} is not in this file{hint}; its {len(index.names)} contigs "
            f"include: {shown}"
        ) from None


def reg2bins(beg: int, end: int, min_shift: int = 14, depth: int = 5) -> list[int]:
    """Bins that may hold records overlapping ``[beg, end)`` (SAMv1 §5.3; CSIv1 generalised)."""
    bins: list[int] = []
    if beg >= end:
        return bins
    max_pos = 1 << (min_shift + depth * 3)
    end = min(end, max_pos)
    end -= 1
    shift, first = min_shift + depth * 3, 0
    for level in range(depth + 1):
        bins.extend(range(first + (beg >> shift), first + (end >> shift) + 1))
        shift -= 3
        first += 1 << (level * 3)
    return bins


def _parent(bin_no: int) -> int:
    return (bin_no - 1) >> 3


def _min_off(index: HtsIndex, ref: RefIndex, beg: int) -> int:
    # htslib hts_itr_query: walk left (then up) from beg's bottom bin to an existing bin
    bin_no = _bin_first(index.depth) + (beg >> index.min_shift)
    while True:
        if bin_no in ref.bins:
            return ref.loffs.get(bin_no, 0)
        first = (_parent(bin_no) << 3) + 1
        if bin_no > first:
            bin_no -= 1
        else:
            bin_no = _parent(bin_no)
        if bin_no == 0:
            return ref.loffs.get(0, 0) if 0 in ref.bins else 0


def _max_off(index: HtsIndex, ref: RefIndex, end: int) -> int:
    bin_no = _bin_first(index.depth) + ((end - 1) >> index.min_shift) + 1
    if bin_no >= index.n_bins:
        bin_no = 0
    while True:
        while bin_no % 8 == 1:
            bin_no = _parent(bin_no)
        if bin_no == 0:
            return (1 << 64) - 1
        chunks = ref.bins.get(bin_no)
        if chunks:
            return chunks[0].beg
        bin_no += 1


def region_chunks(index: HtsIndex, region: Region) -> list[Chunk]:
    """The merged virtual-offset chunks htslib reads for ``region`` (``hts_itr_query``).

    Raises:
        RegionError: the contig is not in the file.
    """
    tid = contig_id(index, region.contig)
    if tid >= len(index.refs) or region.is_empty:
        return []
    ref = index.refs[tid]
    beg = region.start
    end = region.end if region.end is not None else 1 << (index.min_shift + index.depth * 3)
    end = min(end, 1 << (index.min_shift + index.depth * 3))
    if beg >= end:
        return []
    min_off = _min_off(index, ref, beg)
    max_off = _max_off(index, ref, end)
    offs = []
    for bin_no in reg2bins(beg, end, index.min_shift, index.depth):
        for chunk in ref.bins.get(bin_no, ()):
            if chunk.end > min_off and chunk.beg < max_off:
                offs.append(Chunk(max(chunk.beg, min_off), min(chunk.end, max_off)))
    if not offs:
        return []
    offs.sort(key=lambda c: (c.beg, c.end))
    kept = [offs[0]]
    for chunk in offs[1:]:  # drop chunks contained in the previous one
        if kept[-1].end < chunk.end:
            kept.append(chunk)
    for i in range(1, len(kept)):  # resolve overlaps
        if kept[i - 1].end >= kept[i].beg:
            kept[i - 1] = Chunk(kept[i - 1].beg, kept[i].beg)
    merged = [kept[0]]
    for chunk in kept[1:]:  # merge chunks that meet in one BGZF block
        if merged[-1].end >> 16 == chunk.beg >> 16:
            merged[-1] = Chunk(merged[-1].beg, chunk.end)
        else:
            merged.append(chunk)
    return merged


def known_block_starts(index: Index, file_size: int) -> list[int]:
    """Sorted byte offsets known to start a BGZF block or CRAM container (from the index), plus
    the start of the end-of-file marker."""
    if isinstance(index, CraiIndex):
        starts = {e.container for e in index.entries}
        starts.add(file_size - CRAM3_EOF_SIZE)
        return sorted(starts)
    starts = {file_size - len(BGZF_EOF)}
    for ref in index.refs:
        for chunks in ref.bins.values():
            for chunk in chunks:
                starts.add(chunk.beg >> 16)
                starts.add(chunk.end >> 16)
        starts.update(off >> 16 for off in ref.linear if off)
    return sorted(s for s in starts if s <= file_size)


def _next_boundary(starts: list[int], coffset: int, file_size: int) -> int:
    i = bisect_right(starts, coffset)
    return starts[i] if i < len(starts) else file_size


def merge_ranges(ranges: Sequence[ByteRange]) -> list[ByteRange]:
    """Sorted, with touching or overlapping ranges merged."""
    out: list[ByteRange] = []
    for rng in sorted(ranges, key=lambda r: r.start):
        if rng.length <= 0:
            continue
        if out and rng.start <= out[-1].end:
            if rng.end > out[-1].end:
                out[-1] = ByteRange(out[-1].start, rng.end)
        else:
            out.append(rng)
    return out


def byte_ranges(
    index: Index,
    region: Region,
    file_size: int,
    block_end: Callable[[int], int] | None = None,
) -> list[ByteRange]:
    """The data-file byte ranges holding the records that overlap ``region``.

    BAM/VCF.gz (BAI, CSI, TBI): each chunk of :func:`region_chunks` from the start of its first
    BGZF block to the end of its last one, merged; the header (:func:`header_range`) and the
    BGZF EOF block (:data:`BGZF_EOF`, the client appends it) are not included. CRAM (CRAI): the
    containers holding a slice that overlaps the region, each to the next container's start,
    then the 38-byte CRAM EOF container (the header containers are :func:`header_range`).

    Args:
        index: from :func:`load_index` with names (:func:`with_header` for BAM/CRAM).
        region: 0-based half-open.
        file_size: the data file's size in bytes.
        block_end: ``coffset -> end offset`` of the BGZF block starting there (read from its
            header, e.g. :func:`bgzf_block_end`); default: the next block start the index knows
            (never short, possibly a few blocks long).

    Returns:
        Sorted, merged, end-exclusive ranges; empty when nothing overlaps.

    Raises:
        RegionError: the contig is not in the file.
    """
    starts = known_block_starts(index, file_size)
    if isinstance(index, CraiIndex):
        return _crai_ranges(index, region, file_size, starts)
    end_of = block_end or (lambda c: _next_boundary(starts, c, file_size))
    out = []
    for chunk in region_chunks(index, region):
        c_beg, (c_end, u_end) = chunk.beg >> 16, (chunk.end >> 16, chunk.end & 0xFFFF)
        stop = end_of(c_end) if u_end else c_end
        out.append(ByteRange(c_beg, min(max(stop, c_beg), file_size)))
    return merge_ranges(out)


def _crai_ranges(
    index: CraiIndex, region: Region, file_size: int, starts: list[int]
) -> list[ByteRange]:
    tid = contig_id(index, region.contig)
    if region.is_empty:
        return []
    end = region.end if region.end is not None else 1 << 62
    hits = [
        e
        for e in index.entries
        if e.seq_id == tid and e.start - 1 < end and e.start + e.span - 1 > region.start
    ]
    ranges = [ByteRange(e.container, _next_boundary(starts, e.container, file_size)) for e in hits]
    if not ranges:
        return []
    return merge_ranges([*ranges, ByteRange(file_size - CRAM3_EOF_SIZE, file_size)])


def header_range(index: Index, file_size: int) -> ByteRange:
    """Bytes 0 up to the first data block: the BAM/VCF header block(s) or the CRAM file
    definition and header container(s).

    A BAM whose first record shares the header's last BGZF block (rare: htslib flushes after
    the header) gets that whole block (its records are decoded with the header and filtered
    by region).
    """
    if isinstance(index, CraiIndex):
        first = min((e.container for e in index.entries), default=file_size - CRAM3_EOF_SIZE)
        return ByteRange(0, first)
    firsts = [chunk.beg for ref in index.refs for chunks in ref.bins.values() for chunk in chunks]
    if not firsts:
        return ByteRange(0, max(file_size - len(BGZF_EOF), 0))
    first = min(firsts)
    coffset, uoffset = first >> 16, first & 0xFFFF
    if uoffset:
        starts = known_block_starts(index, file_size)
        return ByteRange(0, _next_boundary(starts, coffset, file_size))
    return ByteRange(0, coffset)


def bgzf_block_size(header: bytes) -> int:
    """The total size of a BGZF block from its first 18 bytes (``BSIZE`` + 1, SAMv1 §4.1).

    Raises:
        IndexFormatError: not a BGZF block header.
    """
    if len(header) < 18 or header[:4] != b"\x1f\x8b\x08\x04" or header[12:14] != b"BC":
        raise IndexFormatError("BGZF", "an index offset does not point at a BGZF block")
    return struct.unpack_from("<H", header, 16)[0] + 1
