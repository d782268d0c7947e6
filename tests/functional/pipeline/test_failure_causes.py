"""A failed run's cause names the root error of its log, in `runs`, `runs show` and the
notifications; `--json runs` carries every execution's run id and completed steps.

One deployment (real Lambdas, state machine, miniwdl runs of the bcftools workflow on the demo
reads) on the local stack. The failure is the one a new user met (issue 16): a reference whose
contig name holds a comma (NCBI's ``gi|...|ref|ACCESSION|_description,_complete_sequence``) makes
``bcftools call`` refuse the VCF header ``bcftools mpileup`` wrote, and the task ends with a
warning and exit status 141. Provisioning refuses such references, so the test imports one
into the deployment's reference store itself and points the state machine at it, as a
deployment made before that check would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.aws.session import local_context
from omics_toolkit.aws.stepfunctions import list_executions
from omics_toolkit.config import Settings
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.pipeline.failures import EVENT_SOURCE, FAILED_DETAIL_TYPE
from omics_toolkit.pipeline.status import describe, list_status, wait_for_execution
from omics_toolkit.provisioning.provision import Provisioner

pytestmark = pytest.mark.slow

DEPLOYMENT = "causes"
COMMA_NAME = "gi|9|ref|NC_000000.1|_demo_q,_complete_sequence"
ROOT_ERROR = '[E::bcf_hdr_parse_line] Could not parse the header line: "##contig=<ID=' + COMMA_NAME


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``omics-toolkit --deployment causes ...`` as a user types it, output piped."""
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", "--deployment", DEPLOYMENT, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "400"},
    )


class Deployment:
    def __init__(self, local_stack: dict[str, Any], tmp: Path) -> None:
        self.ctx = local_context(local_stack["moto"], local_stack["omics"])
        self.settings = Settings(
            deployment=DEPLOYMENT,
            home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
            poll_interval_seconds=1,
            max_poll_interval_seconds=2,
        )
        demo = fetch_demo_data()
        self.reference = demo.reference
        self.dep = Provisioner(self.ctx, self.settings).apply(str(demo.reference))
        self.sm = self.dep.require("state_machine_arn")
        self.r1, self.r2 = bam_to_fastq_pair(demo.bam, tmp, "reads")
        self.tmp = tmp
        self.s3 = self.ctx.client("s3")
        self.sfn = self.ctx.client("stepfunctions")
        self.omics = self.ctx.client("omics")

    def upload(self, sample: str) -> None:
        bucket = self.dep.names.input_bucket
        self.s3.upload_file(str(self.r1), bucket, f"{sample}/{sample}_R1.fastq.gz")
        self.s3.upload_file(str(self.r2), bucket, f"{sample}/{sample}_R2.fastq.gz")

    def finish(self, sample: str, timeout: float = 600) -> Any:
        deadline = time.monotonic() + 60
        while True:
            found = [
                e for e in list_executions(self.sfn, self.sm) if e["name"].startswith(f"{sample}-")
            ]
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(found) == 1, found
        wait_for_execution(
            self.sfn, found[0]["executionArn"], poll_seconds=0.5, timeout_seconds=timeout
        )
        return describe(self.sfn, found[0]["executionArn"], detail=True)

    def use_comma_reference(self) -> str:
        """Import the demo reference renamed NCBI-style into the deployment's reference store;
        let the run role read it and the state machine pass it. Returns the old definition."""
        n = self.dep.names
        store = self.dep.require("reference_store_id")
        fasta = self.tmp / "comma.fa"
        lines = self.reference.read_text().splitlines()
        fasta.write_text("\n".join([f">{COMMA_NAME}", *lines[1:]]) + "\n")
        self.s3.upload_file(str(fasta), n.output_bucket, "reference/comma.fa")
        iam = self.ctx.client("iam")
        job = self.omics.start_reference_import_job(
            referenceStoreId=store,
            roleArn=iam.get_role(RoleName=n.role("omics-import"))["Role"]["Arn"],
            sources=[{"sourceFile": f"s3://{n.output_bucket}/reference/comma.fa", "name": "comma"}],
        )
        for _ in range(120):
            got = self.omics.get_reference_import_job(id=job["id"], referenceStoreId=store)
            if got["status"] in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.5)
        assert got["status"] == "COMPLETED", got
        ref_id = got["sources"][0]["referenceId"]
        arn = self.omics.get_reference_metadata(id=ref_id, referenceStoreId=store)["arn"]
        store_arn = arn.split("/reference/")[0]
        iam.put_role_policy(
            RoleName=n.role("omics-run"),
            PolicyName="test-comma-reference",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["omics:GetReference", "omics:GetReferenceMetadata"],
                            "Resource": [store_arn, arn],
                        }
                    ],
                }
            ),
        )
        old = self.sfn.describe_state_machine(stateMachineArn=self.sm)["definition"]
        old_ref = f"{store}/reference/{self.dep.require('reference_id')}"
        assert old_ref in old
        self.sfn.update_state_machine(
            stateMachineArn=self.sm, definition=old.replace(old_ref, f"{store}/reference/{ref_id}")
        )
        return old


@pytest.fixture(scope="module")
def deployment(local_stack, tmp_path_factory):
    return Deployment(local_stack, tmp_path_factory.mktemp("causes"))


@pytest.fixture(scope="module")
def notifications(deployment):
    """SQS queues receiving the SNS topic's messages and the EventBridge failure events."""
    ctx = deployment.ctx
    sqs, sns, events = (ctx.client(s) for s in ("sqs", "sns", "events"))
    topic_arn = next(
        t["TopicArn"]
        for t in sns.list_topics()["Topics"]
        if t["TopicArn"].endswith(f"{DEPLOYMENT}-pipeline-events")
    )
    queues = {}
    for name in ("sns", "events"):
        url = sqs.create_queue(QueueName=f"{DEPLOYMENT}-{name}")["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        queues[name] = (url, attrs["Attributes"]["QueueArn"])
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queues["sns"][1],
        Attributes={"RawMessageDelivery": "true"},
    )
    events.put_rule(
        Name=f"{DEPLOYMENT}-failures",
        EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": [FAILED_DETAIL_TYPE]}),
    )
    events.put_targets(
        Rule=f"{DEPLOYMENT}-failures", Targets=[{"Id": "q", "Arn": queues["events"][1]}]
    )

    def received(kind: str) -> list[dict[str, Any]]:
        msgs = sqs.receive_message(QueueUrl=queues[kind][0], MaxNumberOfMessages=10)
        bodies = [json.loads(m["Body"]) for m in msgs.get("Messages", [])]
        return [b["detail"] if kind == "events" else b for b in bodies]

    return received


def test_json_runs_carries_run_id_and_completed_steps_of_a_succeeded_execution(deployment):
    deployment.upload("OK")
    status = deployment.finish("OK")
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)

    listed = _cli("--json", "runs")
    assert listed.returncode == 0, listed.stderr
    [row] = [r for r in json.loads(listed.stdout) if r["sample"] == "OK"]
    [run] = deployment.omics.list_runs(name=row["name"])["items"]
    assert row["run_id"] == run["id"]
    assert row["completed"] == [
        "ImportReads",
        "Run",
        "FindRunOutputs",
        "ImportBam",
        "ImportVcf",
        "TagObjects",
    ]

    # No call more than before: ListExecutions, then DescribeExecution and one history page
    # per execution.
    calls: list[str] = []
    sfn = deployment.ctx.client("stepfunctions")
    sfn.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    items = list_status(sfn, deployment.sm)
    assert calls == ["ListExecutions"] + ["DescribeExecution", "GetExecutionHistory"] * len(items)


def test_a_failed_task_s_root_error_is_the_cause_everywhere(deployment, notifications):
    old_definition = deployment.use_comma_reference()
    try:
        deployment.upload("COMMA")
        status = deployment.finish("COMMA")
    finally:
        deployment.sfn.update_state_machine(
            stateMachineArn=deployment.sm, definition=old_definition
        )
    assert (status.status, status.error, status.step) == ("FAILED", "RunFailed", "Run")
    # What the task's log ends with: the warning and the SIGPIPE exit status, not the error.
    run = deployment.omics.get_run(id=status.run_id)
    assert "[W::bcf_record_check]" in run["failureReason"] + run["statusMessage"]
    assert status.cause.startswith(f"CallVariants failed: {ROOT_ERROR}"), status.cause
    assert status.logs[0].startswith(
        f"CloudWatch Logs /aws/omics/WorkflowLog run/{status.run_id}/task/"
    )

    # `runs`: the table piped, the root error line whole on one line.
    table = _cli("runs")
    assert table.returncode == 0, table.stderr
    [line] = [x for x in table.stdout.splitlines() if "COMMA" in x]
    assert ROOT_ERROR in line and "[W::" not in line, table.stdout

    # `runs show`: the execution's cause and the run's root error.
    shown = _cli("runs", "show", "COMMA")
    assert shown.returncode == 0, shown.stderr
    assert ROOT_ERROR in shown.stdout.replace("\n", ""), shown.stdout
    as_json = json.loads(_cli("--json", "runs", "show", "COMMA").stdout)
    assert as_json["cause"] == status.cause
    assert (as_json["failed_task"], as_json["root_error"][: len(ROOT_ERROR)]) == (
        "CallVariants",
        ROOT_ERROR,
    )
    [listed] = [r for r in json.loads(_cli("--json", "runs").stdout) if r["sample"] == "COMMA"]
    assert (listed["cause"], listed["run_id"], listed["completed"]) == (
        status.cause,
        status.run_id,
        ["ImportReads"],
    )
    assert as_json["run"]["rootError"]["task"] == "CallVariants"
    assert as_json["run"]["rootError"]["line"].startswith(ROOT_ERROR)

    # The SNS message and the EventBridge event carry the same cause and line.
    for kind in ("sns", "events"):
        [message] = [m for m in notifications(kind) if m["sample"] == "COMMA"]
        assert message["cause"] == status.cause
        assert (message["failed_task"], message["root_error"][: len(ROOT_ERROR)]) == (
            "CallVariants",
            ROOT_ERROR,
        )


def test_a_run_whose_tasks_cannot_be_read_keeps_the_run_s_own_message(deployment):
    """ListRunTasks refused (here: no such run): the failure is still recorded, with the cause
    the run's own message gives."""
    from omics_toolkit.pipeline.failures import describe_cause, record_failure

    cause = json.dumps(
        {
            "Id": "9999999",
            "Status": "FAILED",
            "FailureReason": "WORKFLOW_FAILED",
            "StatusMessage": "x",
        }
    )
    state = {"sample": "GONE", "lanes": [], "error": {"Error": "RunFailed", "Cause": cause}}
    record = record_failure(
        deployment.s3,
        None,
        None,
        execution="arn:aws:states:us-east-1:123456789012:execution:m:GONE-1",
        execution_name="GONE-1",
        state=state,
        omics=deployment.omics,
        logs=deployment.ctx.client("logs"),
    )
    assert (
        record.cause
        == describe_cause("RunFailed", cause)
        == ("run 9999999 FAILED: WORKFLOW_FAILED: x")
    )
    assert (record.failed_task, record.root_error) == (None, None)
