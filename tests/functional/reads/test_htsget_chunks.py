"""Exact htsget tickets (ChunkSource) for files whose records straddle BGZF blocks.

``bgzip`` and Picard/htsjdk cut BGZF blocks every 64 KiB whatever the record, so a block can
start in the middle of a record and the header can share a block with the first records. Whole
blocks then make a corrupt stream; the ticket must cut the edge blocks at the index's virtual
offsets. Files: the 1000 Genomes chr20 VCF of 203 samples as Debian ships it (made by bgzip),
and the demo BAM re-blocked by bgzip. Clients: the GA4GH reference client and htslib's.
"""

from __future__ import annotations

import base64
import gzip
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import htsget
import pytest
import requests

from omics_toolkit.data import fetch_chr20_genotypes, fetch_demo_data
from omics_toolkit.reads.htsget import NotFoundError, Region, bgzf_compress
from omics_toolkit.reads.serve import create_app, running
from tests.support.range_server import RangeServer, range_server
from tests.support.scanned_files import BlockRanges, Scanned

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("samtools", "bcftools", "bgzip")),
    reason="needs samtools, bcftools and bgzip",
)

VCF_REGION = Region("20", 2_000_000, 2_050_000)
BAM_REGION = Region("q", 999, 2000)


def _run(*argv: str, **kwargs) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs).stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("chunks")
    vcf = tmp / "bgzip.vcf.gz"
    shutil.copyfile(fetch_chr20_genotypes(), vcf)
    _run("tabix", "-f", "-p", "vcf", str(vcf))
    written = tmp / "bcftools.vcf.gz"
    _run("bcftools", "view", "-Oz", "-o", str(written), str(vcf))
    _run("tabix", "-p", "vcf", str(written))
    sorted_bam = tmp / "sorted.bam"
    _run("samtools", "sort", "-o", str(sorted_bam), str(fetch_demo_data().bam))
    # re-block the same BAM stream the way bgzip (and Picard) do: a block every 64 KiB
    reblocked = tmp / "reblocked.bam"
    with reblocked.open("wb") as out:
        plain = subprocess.run(["bgzip", "-dc", str(sorted_bam)], check=True, capture_output=True)
        out.write(
            subprocess.run(
                ["bgzip", "-c"], input=plain.stdout, check=True, capture_output=True
            ).stdout
        )
    _run("samtools", "index", str(reblocked))
    return {"bgzip.vcf.gz": vcf, "bcftools.vcf.gz": written, "reblocked.bam": reblocked}


@pytest.fixture(scope="module")
def blocks(files: dict[str, Path]) -> Iterator[RangeServer]:
    with range_server(files) as server:
        yield server


@pytest.fixture(scope="module")
def sources(files: dict[str, Path], blocks: RangeServer) -> dict[str, Scanned]:
    return {name: Scanned(path, f"{blocks.url}/{name}?sig=x") for name, path in files.items()}


@pytest.fixture(scope="module")
def base(sources: dict[str, Scanned]) -> Iterator[str]:
    ids = {
        ("variants", "bgzip"): sources["bgzip.vcf.gz"],
        ("variants", "bcftools"): BlockRanges(sources["bcftools.vcf.gz"]),
        ("variants", "bgzip-blocks"): BlockRanges(sources["bgzip.vcf.gz"]),
        ("reads", "reblocked"): sources["reblocked.bam"],
        ("reads", "reblocked-blocks"): BlockRanges(sources["reblocked.bam"]),
    }

    def resolve(kind, id_):
        try:
            return ids[(kind, id_)]
        except KeyError:
            raise NotFoundError(f"no {kind} {id_}") from None

    with running(create_app(resolve)) as url:
        yield url


def test_the_files_straddle(sources: dict[str, Scanned]) -> None:
    """The premise: in the bgzip files the header shares a block with records and records
    start mid-block, while bcftools flushes at record boundaries."""

    def straddling(source: Scanned) -> int:
        return sum(
            1 for _, begin, after in source.records if after >> 16 != begin >> 16 and after & 0xFFFF
        )

    for name in ("bgzip.vcf.gz", "reblocked.bam"):
        assert sources[name].first_record() & 0xFFFF != 0, name
        assert straddling(sources[name]) > 0, name
    written = sources["bcftools.vcf.gz"]
    assert written.first_record() & 0xFFFF == 0
    assert straddling(written) == 0


def test_bgzip_vcf_region_exact(base: str, sources: dict[str, Scanned], tmp_path: Path) -> None:
    """The reference client's VCF holds exactly the region's records, and the header whole."""
    source = sources["bgzip.vcf.gz"]
    out = tmp_path / "region.vcf.gz"
    with out.open("wb") as fh:
        htsget.get(
            f"{base}/variants/bgzip",
            fh,
            reference_name=VCF_REGION.contig,
            start=VCF_REGION.start,
            end=VCF_REGION.end,
            data_format="VCF",
        )
    expected = source.region_records(VCF_REGION)
    assert len(expected) == 504  # bcftools view -H FILE 20:2000001-2050000 | wc -l
    got = _run("bcftools", "view", "--no-version", "-H", str(out))
    assert got.splitlines() == [r.rstrip("\n") for r in expected]
    header = _run("bcftools", "view", "--no-version", "-h", str(out))
    original = _run("bcftools", "view", "--no-version", "-h", str(source.path))
    assert header == original
    assert gzip.decompress(out.read_bytes()).count(b"\n#CHROM") == 1


def test_whole_blocks_break_on_bgzip_vcf(base: str, tmp_path: Path) -> None:
    """Why the chunks exist: whole blocks of the same file give bcftools a broken stream."""
    out = tmp_path / "blocks.vcf.gz"
    with out.open("wb") as fh:
        htsget.get(
            f"{base}/variants/bgzip-blocks",
            fh,
            reference_name=VCF_REGION.contig,
            start=VCF_REGION.start,
            end=VCF_REGION.end,
        )
    broken = subprocess.run(["bcftools", "view", "-H", str(out)], capture_output=True, text=True)
    assert broken.returncode != 0 or broken.stdout.count("\n") == 0


def test_reblocked_bam_region_exact(base: str, sources: dict[str, Scanned], tmp_path: Path) -> None:
    source = sources["reblocked.bam"]
    out = tmp_path / "region.bam"
    with out.open("wb") as fh:
        htsget.get(
            f"{base}/reads/reblocked",
            fh,
            reference_name=BAM_REGION.contig,
            start=BAM_REGION.start,
            end=BAM_REGION.end,
        )
    _run("samtools", "quickcheck", str(out))
    expected = _run("samtools", "view", str(source.path), "q:1000-2000").splitlines()
    assert len(expected) == 283
    assert _run("samtools", "view", str(out)).splitlines() == expected


def test_htslib_client_on_bgzip_vcf(base: str, sources: dict[str, Scanned]) -> None:
    """bcftools (htslib's htsget client) reads the exact ticket, data: URIs and all."""
    url = (
        f"{base}/variants/bgzip?format=VCF&referenceName=20"
        f"&start={VCF_REGION.start}&end={VCF_REGION.end}"
    )
    got = _run("bcftools", "view", "--no-version", "-H", url).splitlines()
    assert got == [r.rstrip("\n") for r in sources["bgzip.vcf.gz"].region_records(VCF_REGION)]


def test_bcftools_written_vcf_by_whole_blocks(base: str, sources: dict[str, Scanned]) -> None:
    """Whole blocks are right for files htslib wrote: a superset of the region, in order."""
    url = f"{base}/variants/bcftools?referenceName=20&start={VCF_REGION.start}&end={VCF_REGION.end}"
    got = _run("bcftools", "view", "--no-version", "-H", url).splitlines()
    expected = [r.rstrip("\n") for r in sources["bcftools.vcf.gz"].region_records(VCF_REGION)]
    wanted = set(expected)
    assert [r for r in got if r in wanted] == expected
    assert len(got) < len(sources["bcftools.vcf.gz"].records)


def test_post_regions_exact_and_once(base: str, sources: dict[str, Scanned]) -> None:
    source = sources["bgzip.vcf.gz"]
    regions = [Region("20", 2_040_000, 2_060_000), Region("20", 1_500_000, 1_501_000)]
    body = {
        "regions": [
            {"referenceName": "20", "start": 2_040_000, "end": 2_060_000},
            {"referenceName": "20", "start": 1_500_000, "end": 1_501_000},
            {"referenceName": "20", "start": 2_045_000, "end": 2_050_000},
        ]
    }
    answer = requests.post(f"{base}/variants/bgzip", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    data = b""
    for url in answer.json()["htsget"]["urls"]:
        if url["url"].startswith("data:"):
            data += base64.b64decode(url["url"].split(",", 1)[1])
        else:
            data += requests.get(url["url"], headers=url["headers"], timeout=30).content
    text = gzip.decompress(data).decode()
    records = [line for line in text.splitlines() if not line.startswith("#")]
    # file order: the 1.5 Mb region first although asked second; the overlap once
    expected = [r.rstrip("\n") for r in source.region_records(regions[1])] + [
        r.rstrip("\n") for r in source.region_records(regions[0])
    ]
    assert records == expected


def test_bgzf_compress_roundtrip() -> None:
    payload = bytes(range(256)) * 600  # 153,600 bytes: three blocks
    data = bgzf_compress(payload)
    assert gzip.decompress(data) == payload
    assert data.count(b"\x1f\x8b\x08\x04") == 3
