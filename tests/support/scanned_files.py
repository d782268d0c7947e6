"""htsget Sources for local BAM/VCF files worked out by reading the whole file, not its index.

The tests' oracle for :mod:`omics_toolkit.reads.htsget`: it walks every BGZF block (BSIZE, SAMv1
section 4.1) and every record's virtual offset (pysam ``tell()`` while reading in file order),
and answers a region with the records ``samtools view`` / ``bcftools view`` return for it (pysam
``fetch`` through the file's index). Independent of the code under test.

- :class:`Scanned` is a ``ChunkSource``: chunks are runs of consecutive matching records, so a
  ticket holds exactly the region's records.
- :class:`BlockRanges` wraps it as a plain ``Source``: one run of whole blocks from the first to
  the last matching record (a superset, as an index gives), right only for files whose records
  never straddle blocks.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import pysam

from omics_toolkit.reads.htsget import BGZF_EOF, Region


@dataclass(frozen=True)
class Bytes:
    start: int
    end: int


def bgzf_blocks(data: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of every BGZF block (end exclusive), from each block's BSIZE field."""
    blocks, offset = [], 0
    while offset < len(data):
        if data[offset : offset + 4] != b"\x1f\x8b\x08\x04":
            raise ValueError(f"no BGZF block at byte {offset}")
        size = struct.unpack_from("<H", data, offset + 16)[0] + 1
        blocks.append((offset, offset + size))
        offset += size
    return blocks


def _open(path: Path):
    if path.name.endswith(".bam"):
        return pysam.AlignmentFile(str(path), "rb")
    return pysam.VariantFile(str(path))


def _text(record) -> str:
    return record.to_string() if isinstance(record, pysam.AlignedSegment) else str(record)


class Scanned:
    eof = BGZF_EOF

    def __init__(self, path: Path, url: str) -> None:
        self.path = Path(path)
        self.url = url
        self.format = "BAM" if self.path.name.endswith(".bam") else "VCF"
        self.data = self.path.read_bytes()
        self.blocks = bgzf_blocks(self.data)
        self._starts = [b[0] for b in self.blocks]
        self.bytes_read = 0
        # every record: its text and the virtual offsets of its first byte and of the next record
        self.records: list[tuple[str, int, int]] = []
        with _open(self.path) as f:
            self._contigs = list(f.references) if self.format == "BAM" else list(f.header.contigs)
            records = f.fetch(until_eof=True) if self.format == "BAM" else iter(f)
            here = f.tell()
            for record in records:
                after = f.tell()
                self.records.append((_text(record), here, after))
                here = after

    # Source
    def data_url(self) -> str:
        return self.url

    def contigs(self) -> list[str]:
        return self._contigs

    def size(self) -> int:
        return len(self.data)

    # ChunkSource
    def first_record(self) -> int:
        return self.records[0][1]

    def region_records(self, region: Region) -> list[str]:
        """What ``samtools view FILE REGION`` (``bcftools view``) gives (pysam fetch, the index)."""
        with _open(self.path) as f:
            if region.contig == "*":
                return [_text(r) for r in f.fetch(until_eof=True) if r.reference_id < 0]
            return [_text(r) for r in f.fetch(region.contig, region.start, region.end)]

    def _hits(self, region: Region) -> list[list[tuple[int, int]]]:
        wanted = set(self.region_records(region))
        runs: list[list[tuple[int, int]]] = []
        previous = False
        for text, begin, after in self.records:
            hit = text in wanted
            if hit and previous:
                runs[-1].append((begin, after))
            elif hit:
                runs.append([(begin, after)])
            previous = hit
        return runs

    def chunks(self, region: Region) -> list[tuple[int, int]]:
        return [(run[0][0], run[-1][1]) for run in self._hits(region)]

    def read(self, start: int, end: int) -> bytes:
        chunk = self.data[start:end]
        self.bytes_read += len(chunk)
        return chunk

    # block ranges (for BlockRanges)
    def _block_end(self, voffset_after: int) -> int:
        # the block holding a record's last byte: the next record's block, or the one before it
        # when the next record starts a block
        index = bisect_right(self._starts, voffset_after >> 16) - 1
        if voffset_after & 0xFFFF == 0:
            index -= 1
        return self.blocks[index][1]

    def header_range(self) -> Bytes:
        return Bytes(0, self.first_record() >> 16)

    def byte_ranges(self, region: Region) -> list[Bytes]:
        runs = self._hits(region)
        if not runs:
            return []
        return [Bytes(runs[0][0][0] >> 16, self._block_end(runs[-1][-1][1]))]


class BlockRanges:
    """``Scanned`` seen as a plain Source: whole blocks, no virtual offsets."""

    def __init__(self, scanned: Scanned) -> None:
        self.scanned = scanned
        self.format = scanned.format
        self.eof = scanned.eof
        self.url = scanned.url

    def data_url(self) -> str:
        return self.scanned.data_url()

    def contigs(self) -> list[str]:
        return self.scanned.contigs()

    def size(self) -> int:
        return self.scanned.size()

    def header_range(self) -> Bytes:
        return self.scanned.header_range()

    def byte_ranges(self, region: Region) -> list[Bytes]:
        return self.scanned.byte_ranges(region)

    def region_records(self, region: Region) -> list[str]:
        return self.scanned.region_records(region)
