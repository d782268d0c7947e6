"""Prove it in a real AWS account: provision, run a FASTQ pair through the pipeline, tear down.

Skipped unless enabled: it creates billable resources in the account of your credentials.

How to run::

    export OMICS_TOOLKIT_AWS_TESTS=1
    export OMICS_TOOLKIT_AWS_PROFILE=genomics   # optional; else AWS_PROFILE or the default chain
    export OMICS_TOOLKIT_AWS_REGION=us-east-1   # a region where HealthOmics is offered
    .venv/bin/pytest tests/aws -m aws -v

What it needs:

- credentials that may create and delete what ``provision`` makes: IAM roles and their inline
  policies, S3 buckets, Lambda functions, a Step Functions state machine, CloudWatch log groups,
  HealthOmics reference/sequence (and, where the account still may, variant/annotation) stores
  and a private workflow, a Glue database, Lake Formation grants and an Athena workgroup;
- ``samtools`` and ``apt-get`` (``make setup``): the reads are the freebayes ``tiny`` NA12878
  sample, as for ``make demo``;
- container images HealthOmics can pull: private ECR images in the region, named in
  ``./omics-toolkit.toml`` ``[run_parameters]`` (README, "Against real AWS"). The file's other
  settings and ``OMICS_TOOLKIT_<SETTING>`` apply as for the CLI.

What it does: provisions a deployment named ``ot-test-<6 hex digits>`` (or
``OMICS_TOOLKIT_AWS_DEPLOYMENT``), checks every request provisioning made against botocore's
service model and every IAM policy against the lint (as the functional tests do on the local
stack, here with the account's real identifiers), uploads the pair (two gzipped FASTQ files of a
few hundred KB), waits for the state machine (pair detector, read set import, HealthOmics run,
outputs), checks the read set and the run's VCF, and tears the deployment down with
``force_delete_data`` -- also when a step failed. Should teardown itself fail, the failure names
the deployment; remove it with
``omics-toolkit --target aws --deployment NAME teardown --yes --force-delete-data``.

Time and cost: 30 to 90 minutes, mostly HealthOmics starting the run and importing the read set.
Expected cost is well under 1 USD at list prices -- a few task-minutes on the smallest HealthOmics
instances and dynamic run storage for them; the S3, Lambda, Step Functions, CloudWatch Logs, Glue
and Athena usage rounds to cents. This is an estimate: check current pricing for your region.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.iam_lint import lint_requests

from healthomics_emulator.botocore_model import validator_for
from omics_toolkit.aws.errors import error_code
from omics_toolkit.aws.stepfunctions import execution_arn
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.pipeline.status import wait_for_execution
from omics_toolkit.pipeline.upload import upload_pair
from omics_toolkit.provisioning.provision import Deployment, Provisioner
from omics_toolkit.provisioning.teardown import Teardown

pytestmark = pytest.mark.aws

#: Longest wait for the S3 notification -> pair detector -> StartExecution chain.
EXECUTION_START_SECONDS = 600
#: Longest wait for the whole execution (HealthOmics run start-up dominates).
EXECUTION_SECONDS = 3 * 3600
ACTIVE_RUN = {"PENDING", "STARTING", "RUNNING"}


def _wait_until_started(sfn: Any, arn: str) -> None:
    deadline = time.monotonic() + EXECUTION_START_SECONDS
    while True:
        try:
            sfn.describe_execution(executionArn=arn)
            return
        except ClientError as exc:
            if error_code(exc) != "ExecutionDoesNotExist" or time.monotonic() > deadline:
                raise
        time.sleep(10)


def _stop_what_still_runs(ctx: Any, settings: Any, deployment: Deployment) -> None:
    """After a failure or timeout: stop the pipeline executions and cancel their HealthOmics runs
    (they cost money and block teardown)."""
    sfn, omics = ctx.client("stepfunctions"), ctx.client("omics")
    for name in Teardown(ctx, settings).running_executions():
        sfn.stop_execution(
            executionArn=execution_arn(deployment.state_machine_arn, name), cause="test cleanup"
        )
    for page in omics.get_paginator("list_runs").paginate():
        for run in page["items"]:
            if run.get("workflowId") == deployment.workflow_id and run["status"] in ACTIVE_RUN:
                omics.cancel_run(id=run["id"])


def test_provision_run_and_teardown_in_a_real_account(aws_settings, aws_context, tmp_path):
    ctx = aws_context
    demo = fetch_demo_data()
    r1, r2 = bam_to_fastq_pair(demo.bam, tmp_path, "NA12878")
    deployment: Deployment | None = None
    try:
        deployment = Provisioner(ctx, aws_settings).apply(str(demo.reference))

        # What a real account was sent: valid for the service models, policies pass the lint.
        problems = [
            f"{r.call}: {p}"
            for r in ctx.requests
            for p in validator_for(r.service).validate_operation(r.operation, r.params)
        ]
        assert not problems, "\n".join(problems)
        findings = lint_requests(ctx.requests)
        assert not findings, "\n".join(str(f) for f in findings)

        s3 = ctx.client("s3")
        uploaded = upload_pair(s3, deployment.names.input_bucket, r1, r2)
        sfn = ctx.client("stepfunctions")
        arn = execution_arn(deployment.state_machine_arn, uploaded["execution_name"])
        _wait_until_started(sfn, arn)
        status = wait_for_execution(sfn, arn, poll_seconds=30, timeout_seconds=EXECUTION_SECONDS)
        assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)

        read_sets = ctx.client("omics").list_read_sets(
            sequenceStoreId=deployment.sequence_store_id
        )["readSets"]
        assert any(r["fileType"] == "FASTQ" for r in read_sets), read_sets
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=deployment.names.output_bucket, Prefix="runs/"
            )
            for o in page.get("Contents", [])
        ]
        assert any(k.endswith((".vcf.gz", ".vcf")) for k in keys), keys
    finally:
        try:
            if deployment is not None:
                _stop_what_still_runs(ctx, aws_settings, deployment)
            actions = Teardown(ctx, aws_settings).run(force_delete_data=True)
        except Exception as exc:
            pytest.fail(
                f"teardown of deployment {aws_settings.deployment} failed ({exc}); remove it with "
                f"`omics-toolkit --target aws --deployment {aws_settings.deployment} teardown "
                "--yes --force-delete-data`"
            )
    kept = [f"{a.kind} {a.name}: {a.detail}" for a in actions if a.action == "kept"]
    assert not kept, kept
