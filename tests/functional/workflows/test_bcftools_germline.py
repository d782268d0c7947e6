"""bcftools-germline on real NA12878 reads finds every GIAB truth SNV (host backend, no Docker).

Data: Debian freebayes 1.3.6-2 ``tiny`` example (fetched once with ``apt-get download``, cached in
``$OMICS_TOOLKIT_HOME/data`` when that is set, else in pytest's cache directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cyvcf2 import VCF
from support.haploid import HaploidSample, haploid_reads

from omics_toolkit import data
from omics_toolkit.errors import UserError
from omics_toolkit.workflows import workflow_dir, workflow_name

TOOLS = ("bwa", "samtools", "bcftools")


@pytest.fixture(scope="session")
def demo(request: pytest.FixtureRequest) -> data.DemoData:
    if os.environ.get("OMICS_TOOLKIT_HOME"):
        dest = data.demo_data_dir()
    else:
        dest = Path(request.config.cache.mkdir("omics-toolkit-demo-data"))
    return data.fetch_demo_data(dest)


def _miniwdl_run(demo: data.DemoData, work: Path, fastq: tuple[Path, Path], *inputs: str) -> dict:
    """``miniwdl run`` of bcftools-germline on the demo reads (host backend); its JSON result."""
    main_wdl = workflow_dir("bcftools-germline") / "main.wdl"
    env = {**os.environ, "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "omics_toolkit_host"}
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "WDL",
            "run",
            str(main_wdl),
            f"fastq_1={fastq[0]}",
            f"fastq_2={fastq[1]}",
            f"reference={demo.reference}",
            f"sample_name={demo.sample}",
            *inputs,
            "--dir",
            str(work / "runs"),
            "--no-color",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    result["wall_seconds"] = time.monotonic() - started
    return result


@pytest.fixture(scope="session")
def demo_fastq(demo: data.DemoData, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    try:
        data.require_tools(*TOOLS)
    except UserError as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("bcftools-germline-fastq")
    return data.bam_to_fastq_pair(demo.bam, work, demo.sample)


@pytest.fixture(scope="session")
def germline_run(
    demo: data.DemoData, demo_fastq: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict:
    return _miniwdl_run(demo, tmp_path_factory.mktemp("bcftools-germline"), demo_fastq)


@pytest.fixture(scope="session")
def haploid_sample(
    demo: data.DemoData, demo_fastq: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> HaploidSample:
    """Reads of one copy of the demo reference with 16 SNVs (tests/support/haploid.py)."""
    return haploid_reads(demo.reference, tmp_path_factory.mktemp("haploid-reads"), "HAP1")


@pytest.fixture(scope="session")
def haploid_runs(
    demo: data.DemoData,
    haploid_sample: HaploidSample,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[int, dict]:
    """The haploid sample's run with the default ploidy (2) and with ``ploidy=1``."""
    reads = (haploid_sample.r1, haploid_sample.r2)
    return {
        2: _miniwdl_run(demo, tmp_path_factory.mktemp("haploid-as-diploid"), reads),
        1: _miniwdl_run(demo, tmp_path_factory.mktemp("haploid-as-haploid"), reads, "ploidy=1"),
    }


def _out(run: dict, name: str) -> Path:
    return Path(
        run["outputs"][f"{workflow_name(workflow_dir('bcftools-germline') / 'main.wdl')}.{name}"]
    )


def test_outputs_are_exactly_the_germline_contract(germline_run: dict) -> None:
    assert sorted(germline_run["outputs"]) == [
        "BcftoolsGermline.bam",
        "BcftoolsGermline.bam_index",
        "BcftoolsGermline.vcf",
        "BcftoolsGermline.vcf_index",
    ]
    for path in germline_run["outputs"].values():
        assert Path(path).stat().st_size > 0
    assert _out(germline_run, "bam").name == "NA12878.bam"
    assert _out(germline_run, "vcf_index").name == "NA12878.vcf.gz.tbi"


def test_all_truth_snvs_called_at_exact_positions(germline_run: dict, demo: data.DemoData) -> None:
    truth = data.truth_snvs(demo.truth_vcf)
    assert len(truth) == 14
    vcf = VCF(str(_out(germline_run, "vcf")))
    assert vcf.samples == ["NA12878"]
    called = {
        (v.CHROM, v.POS) for v in vcf if len(v.REF) == 1 and any(len(alt) == 1 for alt in v.ALT)
    }
    missing = [site for site in truth if site not in called]
    assert not missing, f"truth SNVs not called: {missing}"
    # the index is usable: region query on the first truth site
    first_contig, first_pos = truth[0]
    indexed = VCF(str(_out(germline_run, "vcf")))
    indexed.set_index(index_path=str(_out(germline_run, "vcf_index")))
    hits = list(indexed(f"{first_contig}:{first_pos}-{first_pos}"))
    assert [h.POS for h in hits] == [first_pos]


def test_bam_is_sorted_read_grouped_and_duplicate_marked(germline_run: dict) -> None:
    bam = _out(germline_run, "bam")
    header = subprocess.run(
        ["samtools", "view", "-H", str(bam)], capture_output=True, text=True, check=True
    ).stdout
    assert "SO:coordinate" in header
    # One lane given without read_groups: lane "1", read group ID <sample>.<lane>.
    assert "@RG\tID:NA12878.1\tSM:NA12878\tLB:NA12878\tPU:1\tPL:ILLUMINA" in header
    pg_programs = [
        line for line in header.splitlines() if line.startswith("@PG") and "PN:samtools" in line
    ]
    assert any("CL:samtools markdup" in line for line in pg_programs)
    flagstat = subprocess.run(
        ["samtools", "flagstat", "-O", "json", str(bam)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stats = json.loads(flagstat)["QC-passed reads"]
    assert stats["total"] >= 3266  # 1,633 pairs
    assert stats["duplicates"] > 0
    idx = subprocess.run(
        ["samtools", "idxstats", str(bam)], capture_output=True, text=True, check=True
    ).stdout
    assert idx.startswith("q\t12356\t")


def test_host_resources_recorded_per_task(germline_run: dict) -> None:
    run_dir = Path(germline_run["dir"])
    records = {
        p.parent.name: json.loads(p.read_text()) for p in run_dir.glob("*/host_resources.json")
    }
    assert set(records) == {
        "call-BwaIndex",
        "call-FaidxReference",
        "call-BwaMem-0",  # one per lane (scatter)
        "call-MarkDuplicates",
        "call-CallVariants",
    }
    assert all(r["exit_status"] == 0 for r in records.values())
    assert records["call-BwaMem-0"]["image"].startswith("quay.io/biocontainers/bwa:")
    assert records["call-CallVariants"]["declared_memory_bytes"] == 4 * 1024**3


def _genotypes(vcf: Path) -> dict[tuple[str, int, str, str], str]:
    """(CHROM, POS, REF, ALT) -> the sample's GT as bcftools writes it."""
    text = subprocess.run(
        ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t[%GT]\n", str(vcf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split("\t") for line in text.splitlines())
    return {(c, int(p), r, a): gt for c, p, r, a, gt in rows}


def test_ploidy_1_calls_haploid_genotypes(
    haploid_runs: dict[int, dict], haploid_sample: HaploidSample
) -> None:
    """ploidy=1 (bcftools call --ploidy 1) on reads of one genome copy: GT "1" at every SNV of
    the sample, where the default (diploid) call says "1/1"."""
    expected = {(c, pos, ref, alt): None for c, pos, ref, alt in haploid_sample.snvs}
    assert len(expected) == 16
    diploid = _genotypes(_out(haploid_runs[2], "vcf"))
    haploid = _genotypes(_out(haploid_runs[1], "vcf"))
    assert diploid == dict.fromkeys(expected, "1/1")
    assert haploid == dict.fromkeys(expected, "1")
    header = subprocess.run(
        ["bcftools", "view", "-h", str(_out(haploid_runs[1], "vcf"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "##bcftools_callCommand=call -mv --ploidy 1 " in header
