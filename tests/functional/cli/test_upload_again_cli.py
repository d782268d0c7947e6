"""`upload`, `plan --destroy` and `teardown` as a new user types them, on one real local deployment.

The deployment is provisioned once with the demo reference; the demo's NA12878 pair runs through
the real pipeline on the default local poll settings; identical uploads then change nothing;
the last test tears the deployment down and compares it with the plan.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import boto3.s3.inject
import pytest
from typer.testing import CliRunner

from omics_toolkit.aws.stepfunctions import execution_arn, list_executions
from omics_toolkit.cli.main import app
from omics_toolkit.constants import LIFECYCLE_TAG
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.errors import UserError
from omics_toolkit.identity import Names
from omics_toolkit.pipeline.status import wait_for_execution

DEPLOYMENT = "ft-again"


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, ["-d", DEPLOYMENT, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def deployment(aws: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    demo = fetch_demo_data()
    cli("provision", "--reference", str(demo.reference))
    names = Names(DEPLOYMENT, aws.account_id, aws.region)
    arn = f"arn:aws:states:{aws.region}:{aws.account_id}:stateMachine:{names.state_machine}"
    reads = bam_to_fastq_pair(demo.bam, tmp_path_factory.mktemp("reads"), "NA12878")
    return {"names": names, "state_machine_arn": arn, "reads": reads}


def _versions(s3: Any, bucket: str, prefix: str) -> list[tuple[str, str]]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix).get("Versions", [])
    return sorted((v["Key"], v["VersionId"]) for v in listed)


def _wait(aws: Any, arn: str, name: str) -> Any:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + 60
    while not any(e["name"] == name for e in list_executions(sfn, arn)):
        assert time.monotonic() < deadline, f"execution {name} never started"
        time.sleep(0.5)
    return wait_for_execution(sfn, execution_arn(arn, name), poll_seconds=0.5, timeout_seconds=300)


def test_identical_pair_again_uploads_nothing_and_says_it_already_succeeded(aws, deployment):
    s3, bucket = aws.client("s3"), deployment["names"].input_bucket
    r1, r2 = deployment["reads"]
    started = time.monotonic()
    first = json.loads(cli("--json", "upload", str(r1), str(r2)).stdout)
    assert (first["status"], first["execution"]) == ("will start", None)
    assert first["uploaded"] == [f"s3://{bucket}/fastq/{p.name}" for p in (r1, r2)]
    status = _wait(aws, deployment["state_machine_arn"], first["execution_name"])
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    print(f"upload to SUCCEEDED on the default local settings: {time.monotonic() - started:.1f} s")
    versions = _versions(s3, bucket, "fastq/NA12878_")
    assert len(versions) == 2

    again = cli("upload", str(r2), str(r1))  # either order
    text = " ".join(again.stdout.split())
    assert text.startswith(
        f"NA12878: identical to s3://{bucket}/fastq/NA12878_R1.fastq.gz and "
        f"s3://{bucket}/fastq/NA12878_R2.fastq.gz (already SUCCEEDED at 20"
    ), text
    assert text.endswith(f"; execution {first['execution_name']}); nothing uploaded"), text
    assert "follow with" not in text

    as_json = json.loads(cli("--json", "upload", str(r1), str(r2)).stdout)
    assert as_json["uploaded"] == [] and as_json["status"] == "SUCCEEDED"
    assert as_json["unchanged"] == first["uploaded"]
    assert as_json["execution"]["name"] == first["execution_name"]
    assert as_json["execution"]["stop_date"] >= as_json["execution"]["start_date"]
    # No new object version: the tagged versions stay current, nothing doubles.
    assert _versions(s3, bucket, "fastq/NA12878_") == versions
    for key in ("fastq/NA12878_R1.fastq.gz", "fastq/NA12878_R2.fastq.gz"):
        tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        assert {"Key": LIFECYCLE_TAG, "Value": "processed"} in tags
    runs = list_executions(aws.client("stepfunctions"), deployment["state_machine_arn"])
    assert [e["name"] for e in runs] == [first["execution_name"]]


def test_identical_pair_of_a_failed_run_says_how_to_retry(aws, deployment, tmp_path):
    r1, r2 = tmp_path / "broken_R1.fastq.gz", tmp_path / "broken_R2.fastq.gz"
    r1.write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    r2.write_bytes(b"\x1f\x8b\x08\x00 truncated gzip 2")
    first = json.loads(cli("--json", "upload", str(r1), str(r2)).stdout)
    status = _wait(aws, deployment["state_machine_arn"], first["execution_name"])
    assert status.status == "FAILED"
    again = " ".join(cli("upload", str(r1), str(r2)).stdout.split())
    name = first["execution_name"]
    assert f"broken: identical to s3://{deployment['names'].input_bucket}/fastq/" in again
    assert "(FAILED at 20" in again and f"; execution {name}); nothing uploaded" in again
    assert f"`omics-toolkit runs retry {name}`" in again


def test_one_changed_mate_uploads_only_that_mate(aws, deployment, tmp_path):
    """Unit-sized: a bucket-only check of which mate is put (the run it starts is not followed)."""
    s3, bucket = aws.client("s3"), deployment["names"].input_bucket
    r1, r2 = tmp_path / "half_R1.fastq", tmp_path / "half_R2.fastq"
    r1.write_text("@a\nACGT\n+\nIIII\n")
    r2.write_text("@a\nTTGC\n+\nIIII\n")
    started = json.loads(cli("--json", "upload", str(r1), str(r2)).stdout)
    # the pair detector hashes the objects current when its event arrives: changing a mate before
    # that would start the changed content's execution instead of this one (as in AWS)
    _wait(aws, deployment["state_machine_arn"], started["execution_name"])
    before = _versions(s3, bucket, "fastq/half_")
    r2.write_text("@a\nTTGA\n+\nIIII\n")
    changed = json.loads(cli("--json", "upload", str(r1), str(r2)).stdout)
    assert changed["uploaded"] == [f"s3://{bucket}/fastq/half_R2.fastq"]
    assert changed["unchanged"] == [f"s3://{bucket}/fastq/half_R1.fastq"]
    after = _versions(s3, bucket, "fastq/half_")
    assert [v for v in after if v[0].endswith("R1.fastq")] == [
        v for v in before if v[0].endswith("R1.fastq")
    ]
    assert len(after) == len(before) + 1
    assert changed["execution_name"] != started["execution_name"]
    _wait(aws, deployment["state_machine_arn"], changed["execution_name"])  # before teardown


def test_upload_whose_event_starts_the_run_before_the_lookup_says_will_start(
    aws, deployment, tmp_path, monkeypatch
):
    """The race: the upload's own event starts its execution before ``upload`` looks executions up.

    Every S3 upload of the command waits (boto3's ``upload_file``, wrapped here) until an execution
    of this sample exists: the slowest put possible. ``upload`` must decide from what existed
    before it put anything, not report its own new execution as "already ran".
    """
    sfn = aws.client("stepfunctions")
    arn = deployment["state_machine_arn"]
    real_upload_file = boto3.s3.inject.upload_file

    def slow_upload_file(self: Any, filename: str, bucket: str, key: str, **kw: Any) -> None:
        real_upload_file(self, filename, bucket, key, **kw)
        if key.endswith("_R2.fastq"):
            deadline = time.monotonic() + 60
            while not any(e["name"].startswith("race-") for e in list_executions(sfn, arn)):
                assert time.monotonic() < deadline, "the upload's event started nothing"
                time.sleep(0.2)

    monkeypatch.setattr(boto3.s3.inject, "upload_file", slow_upload_file)
    r1, r2 = tmp_path / "race_R1.fastq", tmp_path / "race_R2.fastq"
    r1.write_text("@a\nACGT\n+\nIIII\n")
    r2.write_text("@a\nTTGC\n+\nIIII\n")
    result = json.loads(cli("--json", "upload", str(r1), str(r2)).stdout)
    assert (result["status"], result["execution"]) == ("will start", None)
    assert len(result["uploaded"]) == 2
    started = [e["name"] for e in list_executions(sfn, arn) if e["name"].startswith("race-")]
    assert started == [result["execution_name"]]
    monkeypatch.undo()
    _wait(aws, arn, result["execution_name"])  # before teardown


def _actions(rows: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    return Counter((a["kind"], a["name"], a["action"]) for a in rows)


def test_plan_destroy_force_delete_data_lists_exactly_what_teardown_deletes(aws, deployment):
    s3 = aws.client("s3")
    s3.put_object(Bucket=deployment["names"].output_bucket, Key="kept/x.txt", Body=b"data")
    kept = json.loads(cli("--json", "plan", "--destroy").stdout)
    forced = json.loads(cli("--json", "plan", "--destroy", "--force-delete-data").stdout)
    assert sum(a["action"] == "kept" for a in kept) > 0
    assert sum(a["action"] == "kept" for a in forced) == 0
    assert sum(a["action"] == "delete" for a in forced) > sum(a["action"] == "delete" for a in kept)
    summary = cli("plan", "--destroy", "--force-delete-data").stdout
    deletions = sum(a["action"] == "delete" for a in forced)
    assert f"{deletions} delete" in summary and "kept" not in summary.splitlines()[-1]

    done = json.loads(cli("--json", "teardown", "--yes", "--force-delete-data").stdout)
    assert _actions(done) == _actions(forced)
    assert {a["action"] for a in json.loads(cli("--json", "plan", "--destroy").stdout)} <= {
        "absent"
    }


def test_same_pair_after_teardown_force_delete_data_and_provision_runs_again(aws, deployment):
    """After the deployment above was torn down with its data: a new incarnation, a new run.

    The run and import idempotency tokens of the old incarnation must not come back: HealthOmics
    would answer them with the old run, whose outputs went with the old output bucket.
    """
    demo = fetch_demo_data()
    cli("provision", "--reference", str(demo.reference))
    again = json.loads(cli("--json", "plan").stdout)
    machine = [a["action"] for a in again if a["kind"] == "state machine"]
    assert machine == ["unchanged"], again  # re-provisioning changes no token
    r1, r2 = deployment["reads"]
    result = json.loads(cli("--json", "upload", str(r1), str(r2)).stdout)
    assert (result["status"], len(result["uploaded"])) == ("will start", 2)
    status = _wait(aws, deployment["state_machine_arn"], result["execution_name"])
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    cli("--json", "teardown", "--yes", "--force-delete-data")


def test_force_delete_data_without_destroy_says_what_to_do() -> None:
    result = CliRunner().invoke(app, ["plan", "--force-delete-data"])
    assert isinstance(result.exception, UserError), result.output
    assert "--force-delete-data goes with --destroy" in str(result.exception)
