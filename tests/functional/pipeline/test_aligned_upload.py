"""An aligned BAM or CRAM uploaded as a user types it (``omics-toolkit upload sample.bam``) goes
through the real pair detector Lambda, the real state machine and the emulator (miniwdl,
samtools, bcftools): imported once as an aligned read set, called without alignment, variants
queryable. Refused BAMs (contigs not in the reference, not a BAM) fail their execution with a clear root error.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.athena import bind_named, load_query, run_query
from omics_toolkit.aws.session import local_context
from omics_toolkit.aws.stepfunctions import execution_arn, list_executions
from omics_toolkit.config import Settings
from omics_toolkit.constants import LIFECYCLE_TAG
from omics_toolkit.data import fetch_demo_data, truth_records, truth_snvs
from omics_toolkit.demo import compare_truth
from omics_toolkit.identity import Names
from omics_toolkit.pipeline.status import wait_for_execution
from tests.support.cli_process import run_cli

pytestmark = pytest.mark.slow

DEPLOYMENT = "ft-aligned"


def _cli(*args: str, deployment: str = DEPLOYMENT, **env: str) -> subprocess.CompletedProcess:
    """``python -m omics_toolkit -d <deployment> ARGS`` with 1-second polls."""
    return run_cli(deployment, *args, **env)


@pytest.fixture(scope="module")
def deployment(local_stack: dict[str, Any]) -> dict[str, Any]:
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    provisioned = _cli("provision", "--reference", str(fetch_demo_data().reference))
    assert provisioned.returncode == 0, provisioned.stderr[-3000:]
    names = Names(DEPLOYMENT, ctx.account_id, ctx.region)
    arn = f"arn:aws:states:{ctx.region}:{ctx.account_id}:stateMachine:{names.state_machine}"
    return {"ctx": ctx, "names": names, "state_machine": arn}


def _upload_and_wait(dep: dict[str, Any], path: Path, *extra: str) -> Any:
    """Upload through the CLI, find the execution the detector started for it, wait for its end."""
    sfn = dep["ctx"].client("stepfunctions")
    before = {e["name"] for e in list_executions(sfn, dep["state_machine"])}
    uploaded = _cli("--json", "upload", str(path), *extra, deployment=dep["names"].deployment)
    assert uploaded.returncode == 0, uploaded.stderr[-3000:]
    assert json.loads(uploaded.stdout)["uploaded"] is True
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [e for e in list_executions(sfn, dep["state_machine"]) if e["name"] not in before]
        if new:
            break
        time.sleep(0.5)
    assert len(new) == 1, new
    status = wait_for_execution(
        sfn,
        execution_arn(dep["state_machine"], new[0]["name"]),
        poll_seconds=1,
        timeout_seconds=600,
    )
    return new[0]["name"], status


def test_demo_bam_is_imported_once_and_called(deployment: dict[str, Any]) -> None:
    demo = fetch_demo_data()
    ctx = deployment["ctx"]
    name, status = _upload_and_wait(deployment, demo.bam)
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    assert name.startswith("NA12878-")  # the file name's sample (the header's SM is "1")
    shown = _cli("--json", "runs", "show", name)
    assert shown.returncode == 0, shown.stderr[-3000:]
    shown_json = json.loads(shown.stdout)
    assert shown_json["input_kind"] == "aligned"
    bucket = deployment["names"].input_bucket
    assert shown_json["inputs"] == [f"s3://{bucket}/aligned/NA12878.chr22.tiny.bam"]
    listed = _cli("runs")
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "aligned" in listed.stdout and "input" in listed.stdout

    # The uploaded BAM is tagged as processed, its content untouched.
    s3 = ctx.client("s3")
    key = "aligned/NA12878.chr22.tiny.bam"
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    assert {"Key": LIFECYCLE_TAG, "Value": "processed"} in tags
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == demo.bam.read_bytes()

    # The same file again: nothing uploaded, no second execution.
    sfn = ctx.client("stepfunctions")
    count = len(list_executions(sfn, deployment["state_machine"]))
    again = _cli("--json", "upload", str(demo.bam))
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["uploaded"] is False
    assert len(list_executions(sfn, deployment["state_machine"])) == count

    # One read set, the uploaded BAM: imported before the run, not again after it.
    omics = ctx.client("omics")
    store = omics.list_sequence_stores()["sequenceStores"]
    store_id = next(s["id"] for s in store if s["name"].startswith(DEPLOYMENT))
    read_sets = omics.list_read_sets(sequenceStoreId=store_id)["readSets"]
    assert [(r["fileType"], r["sampleId"]) for r in read_sets] == [("BAM", "NA12878")]

    settings = Settings(deployment=DEPLOYMENT, home=Path(os.environ["OMICS_TOOLKIT_HOME"]))
    qf = load_query("variants_in_region")
    sql, params = bind_named(
        qf.sql, {"contig": "q", "region_start": 0, "region_end": 12356}, qf.params
    )
    df = run_query(ctx, settings, sql, params)
    truth = truth_snvs(demo.truth_vcf)
    checks = compare_truth(df, truth_records(demo.truth_vcf, "NA12878"))
    assert [c.describe() for c in checks if c.status != "found"] == []
    assert [(c.truth.contig, c.truth.pos) for c in checks] == truth
    assert len(truth) == 14
    assert set(df["sampleid"]) == {"NA12878"}


def test_bam_with_other_contigs_fails_naming_them(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    demo = fetch_demo_data()
    header = subprocess.run(
        ["samtools", "view", "-H", str(demo.bam)], capture_output=True, text=True, check=True
    ).stdout.replace("SN:q\t", "SN:chr22\t")
    (tmp_path / "h.sam").write_text(header)
    renamed = tmp_path / "WRONG1.bam"
    with renamed.open("wb") as fh:
        subprocess.run(
            ["samtools", "reheader", str(tmp_path / "h.sam"), str(demo.bam)], stdout=fh, check=True
        )
    name, status = _upload_and_wait(deployment, renamed)
    assert status.status == "FAILED"
    assert status.error == "ContigMismatch"
    assert "chr22" in status.cause and "not in the deployment's reference" in status.cause

    # A retry checks that the uploaded file is still the one the execution was for.
    bucket = deployment["names"].input_bucket
    deployment["ctx"].client("s3").delete_object(Bucket=bucket, Key="aligned/WRONG1.bam")
    retried = _cli("runs", "retry", name)
    assert retried.returncode == 1
    assert f"s3://{bucket}/aligned/WRONG1.bam is gone" in retried.stdout + retried.stderr


def test_file_that_is_not_a_bam_fails_clearly(deployment: dict[str, Any], tmp_path: Path) -> None:
    corrupt = tmp_path / "BROKEN1.bam"
    corrupt.write_bytes(b"@HD\tVN:1.6\n" * 50)
    _, status = _upload_and_wait(deployment, corrupt)
    assert status.status == "FAILED"
    assert status.error == "AlignedInputInvalid"
    assert "not a BGZF-compressed BAM" in status.cause


def test_cram_with_the_deployment_reference_is_called(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    demo = fetch_demo_data()
    cram = tmp_path / "CRAM1.cram"
    # coordinate-sorted, so HealthOmics (the emulator) indexes it and `reads view` can use it
    subprocess.run(
        ["samtools", "sort", "-O", "cram", "--reference", str(demo.reference), "-o", str(cram),
         str(demo.bam)],
        check=True,
    )  # fmt: skip
    name, status = _upload_and_wait(deployment, cram)
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    assert name.startswith("CRAM1-")
    ctx = deployment["ctx"]
    omics = ctx.client("omics")
    stores = omics.list_sequence_stores()["sequenceStores"]
    store_id = next(s["id"] for s in stores if s["name"].startswith(DEPLOYMENT))
    read_sets = omics.list_read_sets(sequenceStoreId=store_id)["readSets"]
    assert [r["fileType"] for r in read_sets if r["sampleId"] == "CRAM1"] == ["CRAM"]
    settings = Settings(deployment=DEPLOYMENT, home=Path(os.environ["OMICS_TOOLKIT_HOME"]))
    qf = load_query("variants_in_region")
    sql, params = bind_named(
        qf.sql, {"contig": "q", "region_start": 0, "region_end": 12356}, qf.params
    )
    df = run_query(ctx, settings, sql, params)
    rows = df[df["sampleid"] == "CRAM1"]
    checks = compare_truth(rows, truth_records(demo.truth_vcf, "NA12878"))
    assert [c.describe() for c in checks if c.status != "found"] == []
    assert len(checks) == 14

    # the CRAM read set's region, through its S3 URI and CRAI, as samtools reads the file
    region = "q:5001-6000"
    view = _cli("reads", "view", "CRAM1", region, "--reference", str(demo.reference))
    assert view.returncode == 0, view.stderr[-3000:]
    subprocess.run(["samtools", "index", str(cram)], check=True)
    expected = subprocess.run(
        ["samtools", "view", "-T", str(demo.reference), str(cram), region],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert view.stdout == expected and expected.count("\n") > 100
    assert "CRAM) q:5001-6000:" in " ".join(view.stderr.split())


def test_bam_sorted_by_name_is_sorted_then_called(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    demo = fetch_demo_data()
    by_name = tmp_path / "BYNAME1.bam"
    subprocess.run(["samtools", "sort", "-n", "-o", str(by_name), str(demo.bam)], check=True)
    name, status = _upload_and_wait(deployment, by_name)
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    settings = Settings(deployment=DEPLOYMENT, home=Path(os.environ["OMICS_TOOLKIT_HOME"]))
    qf = load_query("variants_in_region")
    sql, params = bind_named(
        qf.sql, {"contig": "q", "region_start": 0, "region_end": 12356}, qf.params
    )
    rows = run_query(deployment["ctx"], settings, sql, params)
    checks = compare_truth(
        rows[rows["sampleid"] == "BYNAME1"], truth_records(demo.truth_vcf, "NA12878")
    )
    assert [c.describe() for c in checks if c.status != "found"] == []
