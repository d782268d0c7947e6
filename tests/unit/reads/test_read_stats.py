"""Flag statistics and coverage of a region from the region's bytes equal samtools on the file."""

from __future__ import annotations

import subprocess

import pytest

from omics_toolkit.errors import UserError
from omics_toolkit.reads.ranged import LocalObject
from omics_toolkit.reads.regions import parse_region
from omics_toolkit.reads.stats import region_stats
from tests.support.read_files import ReadFiles


@pytest.mark.parametrize(
    "region", ["big:150,001-151,000", "big:125000-137000", "big:70000-70100", "second"]
)
def test_region_stats_equal_samtools(read_files: ReadFiles, region: str) -> None:
    bam = read_files.big
    stats = region_stats(LocalObject(bam), LocalObject(f"{bam}.bai"), parse_region(region))
    view = subprocess.run(
        ["samtools", "view", "-b", str(bam), region], capture_output=True, check=True
    ).stdout
    flagstat = subprocess.run(
        ["samtools", "flagstat", "-O", "tsv", "-"], input=view, capture_output=True, check=True
    ).stdout.decode()
    expected = {
        cat: (int(p), int(f))
        for p, f, cat in (line.split("\t", 2) for line in flagstat.splitlines())
        if not p.endswith("%") and p != "N/A"
    }
    assert stats.flagstat == expected
    cov = subprocess.run(
        ["samtools", "coverage", "-r", region, str(bam)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    header, values = cov[0].lstrip("#").split("\t"), cov[1].split("\t")
    assert stats.coverage == {
        k: float(v) for k, v in zip(header, values, strict=True) if k != "rname"
    }
    assert stats.source == "data" and 0 < stats.bytes_read < stats.file_size
    assert stats.records == expected["total (QC-passed reads + QC-failed reads)"][0]


def test_region_stats_refuse_a_vcf(read_files: ReadFiles) -> None:
    with pytest.raises(UserError, match="need reads"):
        region_stats(
            LocalObject(read_files.vcf), LocalObject(f"{read_files.vcf}.tbi"), parse_region("big")
        )
