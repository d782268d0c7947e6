"""An htsget ``Source`` for a local BAM worked out by reading the whole file, not its index.

The tests' oracle for :mod:`omics_toolkit.reads.htsget`: it walks every BGZF block (BSIZE, SAMv1
section 4.1) and every record's virtual offset (pysam ``tell()`` while reading in file order),
and answers a region with the one contiguous run of blocks from the first to the last record
``samtools view`` returns for it (pysam ``fetch`` with the file's index). A superset of what an
index gives, which the spec allows, and independent of the code under test.
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


class ScannedBam:
    format = "BAM"
    eof = BGZF_EOF

    def __init__(self, path: Path, url: str) -> None:
        self.path = Path(path)
        self.url = url
        data = self.path.read_bytes()
        self._size = len(data)
        self.blocks = bgzf_blocks(data)
        self._starts = [b[0] for b in self.blocks]
        # every record: its text and the virtual offsets of its first byte and of the next record
        self.records: list[tuple[str, int, int]] = []
        with pysam.AlignmentFile(str(self.path), "rb") as bam:
            self._contigs = list(bam.references)
            reads = bam.fetch(until_eof=True)
            here = bam.tell()
            for read in reads:
                after = bam.tell()
                self.records.append((read.to_string(), here, after))
                here = after
        first = self.records[0][1]
        if first & 0xFFFF:
            raise ValueError("the first record shares a BGZF block with the header")
        self._header = Bytes(0, first >> 16)
        self.data_url_calls = 0

    def data_url(self) -> str:
        self.data_url_calls += 1
        return self.url

    def contigs(self) -> list[str]:
        return self._contigs

    def size(self) -> int:
        return self._size

    def header_range(self) -> Bytes:
        return self._header

    def _block_end(self, voffset_after: int) -> int:
        # the block holding the record's last byte: the next record's block, or the one before
        # it when the next record starts a block
        coffset, uoffset = voffset_after >> 16, voffset_after & 0xFFFF
        index = bisect_right(self._starts, coffset) - 1
        if uoffset == 0:
            index -= 1
        return self.blocks[index][1]

    def region_records(self, region: Region) -> list[str]:
        """What ``samtools view FILE REGION`` prints for ``region`` (pysam fetch, the index)."""
        with pysam.AlignmentFile(str(self.path), "rb") as bam:
            if region.contig == "*":
                return [r.to_string() for r in bam.fetch(until_eof=True) if r.reference_id < 0]
            return [r.to_string() for r in bam.fetch(region.contig, region.start, region.end)]

    def byte_ranges(self, region: Region) -> list[Bytes]:
        wanted = set(self.region_records(region))
        hits = [(a, b) for text, a, b in self.records if text in wanted]
        if not hits:
            return []
        return [Bytes(hits[0][0] >> 16, self._block_end(hits[-1][1]))]
