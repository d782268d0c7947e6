"""``provision --workflow gatk-germline`` on the local stack: deployed with its known sites, and a
run fails honestly with "gatk not found" (GATK is in no registry reachable here).

One deployment; the demo's real reads; the real Lambdas, state machine and emulator. The run's
first GATK task fails on this machine because no ``gatk`` executable is on the PATH of the local
stack; the failure names GATK, the task, and the log stream that holds bash's message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.aws.session import local_context
from omics_toolkit.aws.stepfunctions import list_executions
from omics_toolkit.config import Settings
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.errors import ConfigError
from omics_toolkit.pipeline.status import describe, wait_for_execution
from omics_toolkit.provisioning.provision import Provisioner

pytestmark = pytest.mark.slow

DEPLOYMENT = "ft-gatk"


def _settings(**kw: Any) -> Settings:
    return Settings(
        deployment=DEPLOYMENT,
        home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
        workflow="gatk-germline",
        poll_interval_seconds=1,
        max_poll_interval_seconds=2,
        **kw,
    )


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", "--deployment", DEPLOYMENT, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def known_sites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GIAB truth of the demo slice as a bgzipped, indexed known-sites VCF (contig q)."""
    if shutil.which("gatk"):
        pytest.skip("a gatk executable is on PATH: this test is about its absence")
    demo = fetch_demo_data()
    out = tmp_path_factory.mktemp("known-sites") / "giab.vcf.gz"
    subprocess.run(["bcftools", "view", "-Oz", "-o", str(out), str(demo.truth_vcf)], check=True)
    subprocess.run(["tabix", "-p", "vcf", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def failed_execution(local_stack, known_sites, tmp_path_factory) -> dict[str, Any]:
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    demo = fetch_demo_data()
    dep = Provisioner(ctx, _settings(known_sites=(str(known_sites),))).apply(str(demo.reference))
    r1, r2 = bam_to_fastq_pair(demo.bam, tmp_path_factory.mktemp("reads"), "reads")
    s3, sfn = ctx.client("s3"), ctx.client("stepfunctions")
    for key, path in (("GATK01_R1.fastq.gz", r1), ("GATK01_R2.fastq.gz", r2)):
        s3.put_object(Bucket=dep.names.input_bucket, Key=f"fastq/{key}", Body=path.read_bytes())
    arn = None
    for _ in range(120):
        items = list_executions(sfn, dep.require("state_machine_arn"))
        if items:
            arn = items[0]["executionArn"]
            break
        import time

        time.sleep(0.5)
    assert arn, "no execution started"
    wait_for_execution(sfn, arn, poll_seconds=0.5, timeout_seconds=600)
    status = describe(sfn, arn, detail=True)
    return {"ctx": ctx, "dep": dep, "status": status}


def test_gatk_workflow_needs_known_sites(local_stack) -> None:
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    with pytest.raises(ConfigError, match="known_sites"):
        Provisioner(ctx, _settings()).known_sites_parameters()
    both = _settings(
        known_sites=("dbsnp.vcf.gz",), run_parameters={"known_sites_vcfs": "s3://b/k.vcf.gz"}
    )
    with pytest.raises(ConfigError, match="both set the known sites"):
        Provisioner(ctx, both).known_sites_parameters()


def test_run_gets_the_uploaded_known_sites(failed_execution) -> None:
    ctx, dep = failed_execution["ctx"], failed_execution["dep"]
    run = ctx.client("omics").get_run(id=failed_execution["status"].run_id)
    params = run["parameters"]
    bucket = dep.names.output_bucket
    [vcf] = params["known_sites_vcfs"]
    [tbi] = params["known_sites_indices"]
    assert vcf.startswith(f"s3://{bucket}/reference/known-sites/") and vcf.endswith("/giab.vcf.gz")
    assert tbi == vcf + ".tbi"
    workflow = ctx.client("omics").get_workflow(id=run["workflowId"])
    assert workflow["name"] == f"{DEPLOYMENT}-gatk-germline"


def test_local_run_fails_with_gatk_not_found(failed_execution) -> None:
    status = failed_execution["status"]
    assert status.status == "FAILED"
    assert status.run_id, "the workflow run started"
    run = failed_execution["ctx"].client("omics").get_run(id=status.run_id)
    assert run["status"] == "FAILED"
    assert run["failureReason"].startswith("gatk not found"), run["failureReason"]
    assert "gatk not found" in (status.cause or ""), status.cause


def test_runs_show_and_logs_explain_the_failure(failed_execution) -> None:
    run_id = failed_execution["status"].run_id
    shown = _cli("--json", "runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    tasks = json.loads(shown.stdout)["run"]["tasks"]
    failed = [t for t in tasks if t["status"] == "FAILED"]
    assert failed and all("gatk not found" in (t.get("failureReason") or "") for t in failed)
    logs = _cli("runs", "logs", run_id)
    assert logs.returncode == 0, logs.stderr
    assert "gatk: command not found" in logs.stdout
