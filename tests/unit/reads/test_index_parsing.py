"""Indexes parsed from their specifications: counts equal samtools idxstats, and the byte ranges
an htsget client would be handed (header range + data ranges + EOF) hold the region's records."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysam
import pytest

from omics_toolkit.errors import IndexFormatError, UserError
from omics_toolkit.reads.indexes import (
    BGZF_EOF,
    CraiIndex,
    HtsIndex,
    bgzf_block_size,
    byte_ranges,
    header_range,
    load_index,
    reg2bins,
    with_header,
)
from omics_toolkit.reads.ranged import LocalObject
from omics_toolkit.reads.regions import parse_region
from omics_toolkit.reads.stats import index_stats
from tests.support.read_files import ReadFiles


def bam_index(bam: Path, ext: str) -> HtsIndex:
    idx = load_index(ext.upper(), Path(f"{bam}.{ext}").read_bytes())  # type: ignore[arg-type]
    with pysam.AlignmentFile(str(bam)) as handle:
        named = with_header(idx, handle.references, handle.lengths)
    assert isinstance(named, HtsIndex)
    return named


def test_reg2bins_matches_samv1_examples() -> None:
    # SAMv1 §5.3: [0, 1) lies in bins 0, 1, 9, 73, 585, 4681
    assert reg2bins(0, 1) == [0, 1, 9, 73, 585, 4681]
    assert reg2bins(16383, 16385) == [0, 1, 9, 73, 585, 4681, 4682]
    assert reg2bins(5, 5) == []


@pytest.mark.parametrize(("name", "ext"), [("tiny", "bai"), ("big", "bai"), ("big_csi", "csi")])
def test_index_stats_equal_samtools_idxstats(read_files: ReadFiles, name: str, ext: str) -> None:
    bam = getattr(read_files, name)
    expected = subprocess.run(
        ["samtools", "idxstats", str(bam)], capture_output=True, text=True, check=True
    ).stdout
    rows = index_stats(bam_index(bam, ext))
    assert "\n".join(r.line() for r in rows) + "\n" == expected
    assert all(r.source == "index" for r in rows)
    if name != "tiny":
        assert rows[-1].unmapped == 7  # the unplaced unmapped reads: n_no_coor
        assert [r.contig for r in rows] == ["big", "second", "q", "*"]


def test_crai_index_has_no_counts(read_files: ReadFiles) -> None:
    idx = load_index("CRAI", Path(f"{read_files.cram}.crai").read_bytes())
    assert isinstance(idx, CraiIndex) and len(idx.entries) > 10
    with pytest.raises(UserError, match="holds no read counts"):
        index_stats(idx)


@pytest.mark.parametrize(
    "region", ["big:150,001-151,000", "big:125000-137000", "second", "big:70000-70100"]
)
@pytest.mark.parametrize("exact_blocks", [False, True])
def test_htsget_style_concatenation_holds_the_region(
    read_files: ReadFiles, tmp_path: Path, region: str, exact_blocks: bool
) -> None:
    """header range + data ranges + BGZF EOF, concatenated as an htsget client does, is a BAM
    whose reads in the region are exactly samtools' (extra reads outside it are allowed)."""
    bam = read_files.big
    data = bam.read_bytes()
    idx = bam_index(bam, "bai")

    def block_end(coffset: int) -> int:
        return coffset + bgzf_block_size(data[coffset : coffset + 18])

    ranges = byte_ranges(idx, parse_region(region), len(data), block_end if exact_blocks else None)
    head = header_range(idx, len(data))
    assert head.start == 0 and ranges and head.end <= ranges[0].start
    assert all(a.end < b.start for a, b in zip(ranges, ranges[1:], strict=False))
    stream = tmp_path / "htsget.bam"
    stream.write_bytes(
        data[head.start : head.end] + b"".join(data[r.start : r.end] for r in ranges) + BGZF_EOF
    )
    pysam.index(str(stream))
    got = subprocess.run(["samtools", "view", str(stream), region], capture_output=True, text=True)
    expected = subprocess.run(
        ["samtools", "view", str(bam), region], capture_output=True, text=True
    )
    assert got.stdout == expected.stdout
    if region.startswith("big:150"):
        assert sum(r.length for r in ranges) < len(data) * 0.15


def test_cram_ranges_are_header_containers_slices_and_eof(
    read_files: ReadFiles, tmp_path: Path
) -> None:
    cram = read_files.cram
    data = cram.read_bytes()
    idx = load_index("CRAI", Path(f"{cram}.crai").read_bytes())
    with pysam.AlignmentFile(str(cram), reference_filename=str(read_files.big_reference)) as handle:
        idx = with_header(idx, handle.references, handle.lengths)
    region = "big:1000-2000"
    ranges = byte_ranges(idx, parse_region(region), len(data))
    head = header_range(idx, len(data))
    assert ranges[-1].end == len(data) and ranges[-1].length == 38  # the CRAM EOF container
    stream = tmp_path / "htsget.cram"
    stream.write_bytes(data[: head.end] + b"".join(data[r.start : r.end] for r in ranges))
    ref = ["-T", str(read_files.big_reference)]
    got = subprocess.run(["samtools", "view", *ref, str(stream)], capture_output=True, text=True)
    expected = subprocess.run(
        ["samtools", "view", *ref, str(cram), region], capture_output=True, text=True
    )
    assert got.returncode == 0, got.stderr
    wanted = set(expected.stdout.splitlines())
    assert wanted and wanted <= set(got.stdout.splitlines())


def test_vcf_index_names_come_from_the_index(read_files: ReadFiles) -> None:
    for ext in ("tbi", "csi"):
        idx = load_index(ext.upper(), Path(f"{read_files.vcf}.{ext}").read_bytes())  # type: ignore[arg-type]
        assert idx.names == ["big", "second"]


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("BAI", b"CSI\x01" + b"\0" * 12, "magic"),
        ("BAI", b"BAI\x01\x02\x00\x00\x00", "truncated"),
        ("TBI", b"\x1f\x8b\x08\x04garbage", "not a valid gzip"),
        ("CRAI", b"0\t1\t2\n", "not 6 integers"),
        ("XYZ", b"", "unknown index kind"),
    ],
)
def test_damaged_index_is_a_clear_error(kind: str, data: bytes, message: str) -> None:
    with pytest.raises(IndexFormatError, match=message):
        load_index(kind, data)  # type: ignore[arg-type]


def test_index_of_another_file(read_files: ReadFiles) -> None:
    with pytest.raises(IndexFormatError, match="belongs to another file"):
        with_header(bam_index(read_files.big, "bai"), ["q"], [12356])


def test_local_object_counts(read_files: ReadFiles) -> None:
    obj = LocalObject(read_files.tiny)
    assert obj.read(0, 4) == b"\x1f\x8b\x08\x04" and obj.read(10, 10) == b""
    assert (obj.bytes_read, obj.requests) == (4, 1)
    assert len(obj.read(obj.size - 10, obj.size + 100)) == 10
