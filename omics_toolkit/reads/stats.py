"""Read statistics without downloading the file: per-contig counts from the index alone
(``samtools idxstats``), and the flag statistics and coverage of one region from that region's
bytes (``samtools flagstat`` and ``samtools coverage -r`` on the region's reads).

Every figure says where it came from: ``"index"`` (no read data moved) or ``"data"`` (the
region's bytes were read; ``bytes_read`` says how many).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pysam

from omics_toolkit.errors import UserError
from omics_toolkit.reads.indexes import HtsIndex, Index
from omics_toolkit.reads.ranged import RangedObject
from omics_toolkit.reads.regions import Region
from omics_toolkit.reads.view import data_kind, fetch_region

Source = Literal["index", "data"]


@dataclass(frozen=True)
class ContigCounts:
    """One ``samtools idxstats`` line: a contig, its length in bases and its mapped and
    unmapped read counts (records, for a VCF index). The last line, contig ``"*"``, counts the
    reads without a coordinate (``n_no_coor``)."""

    contig: str
    length: int
    mapped: int
    unmapped: int
    source: Source = "index"

    def line(self) -> str:
        """As samtools idxstats prints it (tab-separated)."""
        return f"{self.contig}\t{self.length}\t{self.mapped}\t{self.unmapped}"


def index_stats(index: Index) -> list[ContigCounts]:
    """Per-contig mapped/unmapped counts from the index's pseudo-bins alone (no read data).

    Source: SAMv1 §5.2 (BAI pseudo-bin 37450 and ``n_no_coor``), CSIv1 (pseudo-bin of its
    depth), tabix; equals ``samtools idxstats`` on an indexed BAM.

    Args:
        index: BAI/CSI/TBI with names and lengths (:func:`indexes.with_header` for BAM).

    Raises:
        UserError: a CRAM index (CRAI holds no counts: they need the reads), or an index
            without contig names.
    """
    if not isinstance(index, HtsIndex):
        raise UserError(
            "a CRAM index (.crai) holds no read counts; per-contig counts of a CRAM need its "
            "reads (omics-toolkit reads stats with a region, or samtools idxstats on the file)"
        )
    if index.names is None:
        raise UserError(f"the {index.kind} index has no contig names: read the file's header first")
    lengths = index.lengths or [0] * len(index.names)
    rows = []
    for tid, name in enumerate(index.names):
        ref = index.refs[tid] if tid < len(index.refs) else None
        mapped = ref.mapped if ref is not None and ref.mapped is not None else 0
        unmapped = ref.unmapped if ref is not None and ref.unmapped is not None else 0
        rows.append(ContigCounts(name, lengths[tid], mapped, unmapped))
    rows.append(ContigCounts("*", 0, 0, index.n_no_coor or 0))
    return rows


@dataclass(frozen=True)
class RegionStats:
    """Flag statistics and coverage of the reads overlapping one region.

    Attributes:
        region: the region.
        flagstat: ``samtools flagstat`` categories -> (QC-passed, QC-failed) counts, e.g.
            ``"total (QC-passed reads + QC-failed reads)": (605, 0)``, ``"mapped": (...)``.
        coverage: ``samtools coverage -r`` columns -> value: ``numreads``, ``covbases``
            (bases with depth > 0), ``coverage`` (percent), ``meandepth``, ``meanbaseq``,
            ``meanmapq`` (floats).
        records: reads that overlap the region.
        bytes_read, requests: what reading the region cost (index + header + data).
        file_size: the data file's size.
        source: always ``"data"``.
    """

    region: Region
    flagstat: dict[str, tuple[int, int]]
    coverage: dict[str, float]
    records: int
    bytes_read: int
    requests: int
    file_size: int
    source: Source = "data"


def region_stats(
    data: RangedObject, index: RangedObject, region: Region, *, reference: Path | None = None
) -> RegionStats:
    """Flag statistics and coverage of ``region`` from the region's bytes only.

    The region's reads (as :func:`view.fetch_region` gives them) are counted by samtools' own
    code in pysam: ``flagstat`` and ``coverage -r REGION`` (defaults: reads flagged UNMAP,
    SECONDARY, QCFAIL or DUP left out of coverage; no quality minimum).

    Raises:
        RegionError: the contig is not in the file.
        UserError: a VCF (no reads to count).
        AwsError: reading the S3 object failed.
    """
    if data_kind(data.name) == "VCF":
        raise UserError("flag statistics and coverage need reads (BAM or CRAM), not a VCF")
    with tempfile.TemporaryDirectory(prefix="omics-stats-") as tmp:
        path = Path(tmp) / "region.bam"
        with path.open("wb") as handle:
            fetched = fetch_region(data, index, region, "bam", handle, reference=reference)
        pysam.index(str(path))
        flagstat = _flagstat(pysam.flagstat("-O", "tsv", str(path)))
        coverage = _coverage(pysam.coverage("-r", _coverage_region(region, path), str(path)))
    return RegionStats(
        region,
        flagstat,
        coverage,
        fetched.records,
        fetched.bytes_read,
        fetched.requests,
        fetched.file_size,
    )


def _coverage_region(region: Region, path: Path) -> str:
    if region.end is not None:
        return region.samtools()
    with pysam.AlignmentFile(str(path)) as bam:
        length = bam.get_reference_length(region.contig)
    return f"{region.contig}:{region.start + 1}-{length}"


def _flagstat(text: str) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for line in text.splitlines():
        passed, failed, category = line.split("\t", 2)
        if passed.endswith("%") or passed == "N/A":
            continue
        out[category] = (int(passed), int(failed))
    return out


def _coverage(text: str) -> dict[str, float]:
    lines = [line for line in text.splitlines() if line]
    header = lines[0].lstrip("#").split("\t")
    values = lines[1].split("\t")
    return {k: float(v) for k, v in zip(header, values, strict=True) if k not in ("rname",)}
