"""``ploidy = 1`` end to end on the local stack, as a user types it: ``config show``,
``provision --ploidy 1``, ``upload``, ``query``, ``runs show``, ``report``.

The sample is haploid for real: reads of one copy of the demo reference carrying 16 known SNVs
(tests/support/haploid.py). The real Lambdas, state machine and emulator (miniwdl, bwa, bcftools)
run it; the calls must come back as GT ``1`` (``calls = [1]``), not ``1/1``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.haploid import HaploidSample, haploid_reads

from omics_toolkit.aws.session import local_context
from omics_toolkit.aws.stepfunctions import execution_arn
from omics_toolkit.data import fetch_demo_data
from omics_toolkit.identity import Names
from omics_toolkit.pipeline.status import wait_for_execution
from tests.support.cli_process import run_cli

pytestmark = pytest.mark.slow

DEPLOYMENT = "ft-haploid"
SAMPLE = "HAP1"


def _cli(*args: str, deployment: str = DEPLOYMENT, **env: str) -> subprocess.CompletedProcess:
    """``python -m omics_toolkit -d <deployment> ARGS`` with 1-second polls."""
    return run_cli(deployment, *args, **env)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> HaploidSample:
    reads = tmp_path_factory.mktemp("haploid")
    return haploid_reads(fetch_demo_data().reference, reads, SAMPLE)


@pytest.fixture(scope="module")
def haploid(local_stack: dict[str, Any], sample: HaploidSample) -> dict[str, Any]:
    """Provisioned with ``--ploidy 1``, the sample uploaded and run to its end."""
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    provisioned = _cli(
        "provision", "--reference", str(fetch_demo_data().reference), "--ploidy", "1"
    )
    assert provisioned.returncode == 0, provisioned.stderr[-3000:]
    uploaded = _cli("--json", "upload", str(sample.r1), str(sample.r2))
    assert uploaded.returncode == 0, uploaded.stderr[-3000:]
    name = json.loads(uploaded.stdout)["execution_name"]
    names = Names(DEPLOYMENT, ctx.account_id, ctx.region)
    arn = f"arn:aws:states:{ctx.region}:{ctx.account_id}:stateMachine:{names.state_machine}"
    status = wait_for_execution(
        ctx.client("stepfunctions"),
        execution_arn(arn, name),
        poll_seconds=1,
        timeout_seconds=600,
    )
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    return {"execution": name}


def test_config_show_gives_the_ploidy_and_its_source() -> None:
    default = _cli("--json", "config", "show")
    assert default.returncode == 0, default.stderr
    rows = {r["setting"]: r for r in json.loads(default.stdout)}
    assert (rows["ploidy"]["value"], rows["ploidy"]["source"]) == ("2", "default")
    from_env = _cli("--json", "config", "show", OMICS_TOOLKIT_PLOIDY="1")
    rows = {r["setting"]: r for r in json.loads(from_env.stdout)}
    assert (rows["ploidy"]["value"], rows["ploidy"]["source"]) == ("1", "env OMICS_TOOLKIT_PLOIDY")
    wrong = _cli("config", "show", OMICS_TOOLKIT_PLOIDY="0")
    assert wrong.returncode == 1
    assert "ploidy must be between 1 and 8, not 0 (from env OMICS_TOOLKIT_PLOIDY)" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_bcftools_workflow_refuses_ploidy_3_before_creating_anything(
    local_stack: dict[str, Any],
) -> None:
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    proc = _cli(
        "provision",
        "--reference",
        str(fetch_demo_data().reference),
        "--ploidy",
        "3",
        deployment="ft-triploid",
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    message = " ".join(proc.stderr.split())
    assert "workflow bcftools-germline calls ploidy 1 or 2 only, not 3" in message
    assert "--workflow gatk-germline" in message
    buckets = [b["Name"] for b in ctx.client("s3").list_buckets()["Buckets"]]
    assert [b for b in buckets if b.startswith("ft-triploid")] == []


def test_query_gives_haploid_genotypes(haploid: dict[str, Any], sample: HaploidSample) -> None:
    proc = _cli(
        "query",
        "SELECT contigname, start, referenceallele, alternatealleles, calls, phased "
        f"FROM variants WHERE sampleid = '{SAMPLE}' ORDER BY start",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout)
    got = [
        (r["contigname"], r["start"] + 1, r["referenceallele"], r["alternatealleles"], r["calls"])
        for r in rows
    ]
    # Arrays print as Athena returns them over its API: text, e.g. "[1]" (a diploid 1/1: "[1, 1]").
    assert got == [(c, pos, ref, f"[{alt}]", "[1]") for c, pos, ref, alt in sample.snvs]
    assert {str(r["phased"]).lower() for r in rows} == {"false"}


def test_runs_show_records_the_ploidy(haploid: dict[str, Any]) -> None:
    shown = _cli("runs", "show", SAMPLE, COLUMNS="200")
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert re.search(r"│ ploidy\s+│ 1\s+│", shown.stdout), shown.stdout
    as_json = _cli("--json", "runs", "show", haploid["execution"])
    assert json.loads(as_json.stdout)["run"]["parameters"]["ploidy"] == 1


def test_report_shows_the_ploidy(haploid: dict[str, Any], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    proc = _cli("report", "--sample", SAMPLE, "--out", str(page))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = page.read_text()
    found = re.search(r"<dt>Ploidy</dt><dd>([^<]*)</dd>", text)
    assert found, text[:2000]
    assert re.fullmatch(
        r"1 \(haploid\), from HealthOmics run \d+; genotypes: 16 with 1 allele", found.group(1)
    ), found.group(1)
