"""Region views read by byte range give exactly what samtools/tabix give on the whole file,
and read a small part of it."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from omics_toolkit.errors import RegionError
from omics_toolkit.reads.ranged import LocalObject
from omics_toolkit.reads.regions import parse_region
from omics_toolkit.reads.view import fetch_region
from tests.support.read_files import OFFSETS, ReadFiles

BIG_REGIONS = [
    "big",  # whole contig (placed unmapped reads included, unplaced excluded)
    "big:1-1",
    "big:1000-2000",
    "big:16384-16385",  # a 16 kb window edge
    "big:16385",  # from a window edge to the contig's end
    "big:125000-137000",  # across the 2^17 level-4 bin edge
    "big:131072-131073",
    "big:70000-70100",  # under the 30 kb deletions only
    "big:89000-95000",  # ends of the long reads
    "big:150,001-151,000",
    "big:1048000-1049000",  # across the 2^20 edge
    "big:8388000-8389000",  # across the 2^23 edge
    "big:400000-500000",  # no reads
    "big:8999999-9000000",  # contig end, no reads
    "second",
    "second:25000-25500",
]


def samtools_view(path: Path, region: str, *extra: str) -> str:
    return subprocess.run(
        ["samtools", "view", *extra, str(path), region], capture_output=True, text=True, check=True
    ).stdout


def view(data: Path, index: Path, region: str, **kw: object) -> tuple[str, object]:
    out = io.BytesIO()
    result = fetch_region(
        LocalObject(data), LocalObject(index), parse_region(region), out=out, **kw
    )
    return out.getvalue().decode(), result


@pytest.mark.parametrize(
    "region", ["q", "q:1000-2000", "q:1-1", "q:12356", "q:5000-5000", "q:186-186"]
)
def test_tiny_bam_region_equals_samtools_view(read_files: ReadFiles, region: str) -> None:
    got, result = view(read_files.tiny, Path(f"{read_files.tiny}.bai"), region)
    expected = samtools_view(read_files.tiny, region)
    assert got == expected
    assert result.records == len(expected.splitlines())


@pytest.mark.parametrize("region", BIG_REGIONS)
def test_big_bam_region_equals_samtools_view(read_files: ReadFiles, region: str) -> None:
    got, result = view(read_files.big, Path(f"{read_files.big}.bai"), region)
    expected = samtools_view(read_files.big, region)
    assert got == expected
    assert result.records == len(expected.splitlines())


@pytest.mark.parametrize("region", BIG_REGIONS)
def test_big_bam_with_csi_equals_samtools_view(read_files: ReadFiles, region: str) -> None:
    got, _ = view(read_files.big_csi, Path(f"{read_files.big_csi}.csi"), region)
    assert got == samtools_view(read_files.big_csi, region)


def test_whole_contig_includes_placed_unmapped_reads(read_files: ReadFiles) -> None:
    got, result = view(read_files.big, Path(f"{read_files.big}.bai"), "big")
    flags = [int(line.split("\t")[1]) for line in got.splitlines()]
    assert sum(1 for f in flags if f & 4) == 7 * len(OFFSETS)
    assert result.records == len(flags) > 70_000


def test_small_region_reads_a_small_part_of_the_bam(read_files: ReadFiles) -> None:
    got, result = view(read_files.big, Path(f"{read_files.big}.bai"), "big:150,001-151,000")
    assert got.count("\n") > 100
    assert result.file_size == read_files.big.stat().st_size
    # one 16 kb window of ~40x reads out of 22 copies: well under a tenth of the file
    assert result.bytes_read < result.file_size * 0.1, result
    assert result.requests <= 8


def test_bam_output_holds_the_region_reads(read_files: ReadFiles, tmp_path: Path) -> None:
    out = tmp_path / "region.bam"
    with out.open("wb") as handle:
        result = fetch_region(
            LocalObject(read_files.big),
            LocalObject(f"{read_files.big}.bai"),
            parse_region("big:125000-137000"),
            "bam",
            handle,
        )
    expected = samtools_view(read_files.big, "big:125000-137000")
    got = subprocess.run(["samtools", "view", str(out)], capture_output=True, text=True, check=True)
    assert got.stdout == expected
    assert result.records == len(expected.splitlines())
    header = subprocess.run(["samtools", "view", "-H", str(out)], capture_output=True, text=True)
    assert "@SQ\tSN:big\tLN:9000000" in header.stdout


@pytest.mark.parametrize(
    "region",
    ["big:1000-2000", "big:125000-137000", "big:70000-70100", "big:400000-500000", "second"],
)
def test_cram_region_equals_samtools_view(read_files: ReadFiles, region: str) -> None:
    got, _ = view(
        read_files.cram, Path(f"{read_files.cram}.crai"), region, reference=read_files.big_reference
    )
    expected = samtools_view(read_files.cram, region, "-T", str(read_files.big_reference))
    assert got == expected


def test_tiny_cram_region_equals_samtools_view(read_files: ReadFiles) -> None:
    got, result = view(
        read_files.tiny_cram,
        Path(f"{read_files.tiny_cram}.crai"),
        "q:1000-2000",
        reference=read_files.reference,
    )
    expected = samtools_view(read_files.tiny_cram, "q:1000-2000", "-T", str(read_files.reference))
    assert got == expected
    assert result.records == 283


@pytest.mark.parametrize("index_ext", ["tbi", "csi"])
@pytest.mark.parametrize(
    "region",
    [
        "big",
        "big:186-186",
        "big:1000-40000",
        "big:3999000-4100000",
        "big:5000000-6000000",
        "second:1-1000",
    ],
)
def test_vcf_region_equals_tabix(read_files: ReadFiles, region: str, index_ext: str) -> None:
    got, result = view(read_files.vcf, Path(f"{read_files.vcf}.{index_ext}"), region, fmt="vcf")
    expected = subprocess.run(
        ["tabix", str(read_files.vcf), region], capture_output=True, text=True, check=True
    ).stdout
    assert got == expected
    bcftools = subprocess.run(
        [
            "bcftools",
            "query",
            "-f",
            "%CHROM\t%POS\t%REF\t%ALT\n",
            "-r",
            region,
            str(read_files.vcf),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ["\t".join(line.split("\t")[i] for i in (0, 1, 3, 4)) for line in got.splitlines()] == (
        bcftools.splitlines()
    )
    assert result.records == len(expected.splitlines())


def test_absent_contig_names_the_contigs_the_file_has(read_files: ReadFiles) -> None:
    with pytest.raises(RegionError, match=r"contig 'chr22' is not in this file.*big, second"):
        view(read_files.big, Path(f"{read_files.big}.bai"), "chr22:1-100")


def test_cram_whose_reference_is_gone_says_give_reference(
    read_files: ReadFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: htslib's errors, then an OSError traceback ("truncated file")."""
    import shutil

    from omics_toolkit.errors import UserError

    gone = tmp_path / "gone.fa"
    shutil.copy(read_files.reference, gone)
    cram = tmp_path / "orphan.cram"
    subprocess.run(
        ["samtools", "view", "-C", "-T", str(gone), "-o", str(cram), str(read_files.tiny)],
        check=True,
    )
    subprocess.run(["samtools", "index", str(cram)], check=True)
    gone.unlink()
    # no reference server either (htslib would ask the ENA for the M5 otherwise)
    monkeypatch.setenv("REF_PATH", str(tmp_path / "no-refs" / "%s"))
    monkeypatch.setenv("REF_CACHE", str(tmp_path / "no-cache" / "%s"))
    with pytest.raises(UserError, match="give --reference FASTA"):
        view(cram, Path(f"{cram}.crai"), "q:1000-2000")
    got, _ = view(cram, Path(f"{cram}.crai"), "q:1000-2000", reference=read_files.reference)
    assert got.count("\n") == 283
