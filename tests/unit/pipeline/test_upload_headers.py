"""Headers of aligned and VCF uploads read from their first bytes, without htslib: the BAM
(BGZF + binary header), CRAM 3 (container + header block) and bgzipped VCF readers of
omics_toolkit.pipeline.aligned / vcf_upload, checked against files samtools, bgzip and gzip write."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from omics_toolkit.data import fetch_demo_data
from omics_toolkit.pipeline.aligned import (
    AlignedInputError,
    check_header,
    parse_bam_header,
    parse_cram_header,
    sample_from_name,
)
from omics_toolkit.pipeline.vcf_upload import parse_vcf_header, vcf_sample

needs_tools = pytest.mark.skipif(
    not (shutil.which("samtools") and shutil.which("bgzip")), reason="samtools/bgzip missing"
)


def _reheadered(tmp_path: Path, extra: str, contigs: int = 0) -> bytes:
    """The demo BAM with header lines added (and ``contigs`` more @SQ lines)."""
    demo = fetch_demo_data()
    header = subprocess.run(
        ["samtools", "view", "-H", str(demo.bam)], capture_output=True, text=True, check=True
    ).stdout
    sq = "".join(f"@SQ\tSN:extra_contig_{i:06d}\tLN:1000\n" for i in range(contigs))
    lines = header.splitlines(keepends=True)
    header = lines[0] + lines[1] + sq + "".join(lines[2:]) + extra
    (tmp_path / "h.sam").write_text(header)
    out = subprocess.run(
        ["samtools", "reheader", str(tmp_path / "h.sam"), str(demo.bam)],
        capture_output=True,
        check=True,
    ).stdout
    return out


def test_demo_bam_header() -> None:
    data = fetch_demo_data().bam.read_bytes()
    header = parse_bam_header(data)
    assert header is not None
    assert (header.contigs, header.samples, header.sort_order) == (
        [("q", 12356)],
        ["1"],
        "coordinate",
    )
    # The first bytes only: more are needed, nothing is guessed.
    assert parse_bam_header(data[:20]) is None


@needs_tools
def test_header_over_several_bgzf_blocks_needs_all_of_them(tmp_path: Path) -> None:
    data = _reheadered(tmp_path, "", contigs=5000)  # ~200 kB of header text: several blocks
    header = parse_bam_header(data)
    assert header is not None and len(header.contigs) == 5001
    assert header.contigs[-1] == ("extra_contig_004999", 1000)
    first_block = int.from_bytes(data[16:18], "little") + 1  # BGZF BSIZE + 1
    assert parse_bam_header(data[:first_block]) is None  # the header goes on in the next block
    assert parse_bam_header(data[: first_block + 10]) is None
    with pytest.raises(AlignedInputError, match="truncated"):
        parse_bam_header(data[:first_block], whole_file=True)


@needs_tools
def test_two_samples_are_refused(tmp_path: Path) -> None:
    data = _reheadered(tmp_path, "@RG\tID:other\tSM:NA12891\n")
    header = parse_bam_header(data)
    assert header is not None and header.samples == ["1", "NA12891"]
    with pytest.raises(AlignedInputError) as caught:
        check_header(header, "NA12878", ["q"])
    assert caught.value.error == "SampleAmbiguous"
    assert "1, NA12891" in str(caught.value) and "samtools split" in str(caught.value)


def test_contigs_not_in_the_reference_are_named() -> None:
    header = parse_bam_header(fetch_demo_data().bam.read_bytes())
    assert header is not None
    assert check_header(header, "NA12878", ["q", "r"]) == "NA12878"
    with pytest.raises(AlignedInputError) as caught:
        check_header(header, "NA12878", ["chr22"])
    assert caught.value.error == "ContigMismatch"
    assert "1 of the BAM's 1 contigs" in str(caught.value) and "(q;" in str(caught.value)


def test_sample_from_the_name_else_the_header() -> None:
    header = parse_bam_header(fetch_demo_data().bam.read_bytes())
    assert header is not None
    assert sample_from_name("aligned/NA12878.chr22.tiny.bam") == "NA12878"
    assert sample_from_name("aligned/.bam") is None
    assert check_header(header, None, None) == "1"


def test_plain_gzip_and_text_are_not_bams() -> None:
    with pytest.raises(AlignedInputError, match="plain gzip file"):
        parse_bam_header(gzip.compress(b"@HD\tVN:1.6\n"))
    with pytest.raises(AlignedInputError, match="not a BGZF-compressed BAM"):
        parse_bam_header(b"@HD\tVN:1.6\n" * 10)


@needs_tools
def test_cram_header(tmp_path: Path) -> None:
    demo = fetch_demo_data()
    cram = tmp_path / "x.cram"
    subprocess.run(
        ["samtools", "view", "-C", "-T", str(demo.reference), "-o", str(cram), str(demo.bam)],
        check=True,
    )
    data = cram.read_bytes()
    header = parse_cram_header(data)
    assert header is not None
    assert (header.contigs, header.samples, header.sort_order) == (
        [("q", 12356)],
        ["1"],
        "coordinate",
    )
    assert parse_cram_header(data[:30]) is None
    with pytest.raises(AlignedInputError, match="not a CRAM"):
        parse_cram_header(demo.bam.read_bytes())


@needs_tools
def test_vcf_header_gives_the_sample_columns(tmp_path: Path) -> None:
    truth = fetch_demo_data().truth_vcf
    data = subprocess.run(["bgzip", "-c", str(truth)], capture_output=True, check=True).stdout
    header = parse_vcf_header(data)
    assert header is not None and header.samples == ["NA12878"]
    assert vcf_sample(header, "vcf/x.vcf.gz") == "NA12878"
    assert parse_vcf_header(data[:10]) is None
    with pytest.raises(AlignedInputError, match="bgzip"):
        parse_vcf_header(gzip.compress(truth.read_bytes()))
    sites_only = subprocess.run(
        ["bgzip", "-c"],
        input=b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n",
        capture_output=True,
        check=True,
    ).stdout
    header = parse_vcf_header(sites_only)
    assert header is not None and header.samples == []
    with pytest.raises(AlignedInputError, match="sites-only"):
        vcf_sample(header, "vcf/x.vcf.gz")
