"""The emulator's pysam VCF reader against ``bcftools query`` on the same bgzipped VCF."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from healthomics_emulator.errors import ImportFailure
from healthomics_emulator.vcf import read_vcf

pytestmark = pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools not installed")

VCF = """\
##fileformat=VCFv4.2
##contig=<ID=chr1,length=100000>
##contig=<ID=chr2,length=100000>
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=LowQual,Description="Low quality">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=DB,Number=0,Type=Flag,Description="dbSNP">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allele depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred likelihoods">
##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	NA1	NA2
chr1	101	rs1;rs9	A	G	110.415	PASS	DP=30;AF=0.5;DB	GT:AD:DP:GQ:PL	0/1:10,12:22:99:200,0,180	1/1:0,15:15:45:300,45,0
chr1	205	.	CT	C,CTT	.	LowQual	DP=7	GT:AD:DP:GQ:PL:PS	1|2:1,3,3:7:20:90,30,60,20,0,70:205	./.:.:.:.:.
chr2	5000	rs3	G	.	12	.	.	GT:DP	0/0:9	0:.
"""


@pytest.fixture(scope="module")
def vcf_gz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vcf")
    plain = folder / "calls.vcf"
    plain.write_text(VCF)
    out = folder / "calls.vcf.gz"
    subprocess.run(["bcftools", "view", "-Oz", "-o", str(out), str(plain)], check=True)
    return out


def _query(path: Path, fmt: str, samples: bool) -> list[list[str]]:
    args = ["bcftools", "query", "-f", fmt, str(path)]
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in text.splitlines()]


def _dot(values: list | None) -> str:
    if values is None:
        return "."
    return ",".join("." if v is None else str(v) for v in values)


def test_site_columns_match_bcftools(vcf_gz: Path) -> None:
    rows = [r for b in read_vcf(vcf_gz, job_id="j", per_sample=False) for r in b.to_pylist()]
    expected = _query(vcf_gz, "%CHROM\t%POS\t%ID\t%REF\t%ALT\t%QUAL\t%FILTER\t%INFO\n", False)
    assert len(rows) == len(expected) == 3
    for row, (chrom, pos, ident, ref, alt, qual, flt, info) in zip(rows, expected, strict=True):
        assert row["contigname"] == chrom
        assert row["start"] == int(pos) - 1
        assert row["end"] == int(pos) - 1 + len(ref)
        assert row["names"] == (None if ident == "." else ident.split(";"))
        assert row["referenceallele"] == ref
        assert row["alternatealleles"] == ([] if alt == "." else alt.split(","))
        assert row["qual"] == (None if qual == "." else float(qual))
        assert row["filters"] == (None if flt == "." else flt.split(";"))
        parsed = [] if info == "." else info.split(";")
        assert [k if v == "true" else f"{k}={v}" for k, v in row["attributes"]] == parsed
        assert row["importjobid"] == "j" and row["sampleid"] is None


def test_sample_columns_match_bcftools(vcf_gz: Path) -> None:
    rows = [r for b in read_vcf(vcf_gz, job_id="j", per_sample=True) for r in b.to_pylist()]
    expected = _query(vcf_gz, "[%SAMPLE\t%GT\t%AD\t%DP\t%GQ\t%PL\t%PS\n]", True)
    assert len(rows) == len(expected) == 6
    for row, (sample, gt, ad, dp, gq, pl, ps) in zip(rows, expected, strict=True):
        assert row["sampleid"] == sample
        alleles = gt.replace("|", "/").split("/")
        assert row["calls"] == [-1 if a == "." else int(a) for a in alleles]
        assert row["phased"] == ("|" in gt)  # as written: a haploid GT has no separator
        assert _dot(row["alleledepths"]) == (ad if ad != "." else ".")
        assert row["depth"] == (None if dp == "." else int(dp))
        assert row["conditionalquality"] == (None if gq == "." else int(gq))
        assert _dot(row["phredlikelihoods"]) == pl
        assert row["ps"] == (None if ps == "." else int(ps))


def test_contig_outside_the_reference_fails_naming_it(vcf_gz: Path) -> None:
    with pytest.raises(ImportFailure, match="contig chr2 is not in the reference"):
        list(read_vcf(vcf_gz, job_id="j", per_sample=True, known_contigs={"chr1"}))


def test_unreadable_file_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.vcf"
    bad.write_text("not a vcf\n")
    with pytest.raises(ImportFailure, match="bad.vcf"):
        list(read_vcf(bad, job_id="j", per_sample=True))


def test_as_written_gives_the_decimal_back() -> None:
    import struct

    from healthomics_emulator.vcf import as_written

    def single(text: str) -> float:
        return struct.unpack("<f", struct.pack("<f", float(text)))[0]

    for text in ("110.415", "-20.1", "0.1", "5321.21", "29", "1e-30", "3.4e+38", "0.333"):
        assert as_written(single(text)) == float(text), text
    assert as_written(None) is None
    assert as_written(float("inf")) == float("inf")
