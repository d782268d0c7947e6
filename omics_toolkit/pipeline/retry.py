"""Retry a failed sample, reusing the results of the steps that completed.

``omics-toolkit runs retry <sample|execution>`` starts ``<original>-r<N>`` with the original
input, a new ``token`` (so import jobs and the run get new idempotency tokens: a retried step
really runs again) and ``resume`` holding the completed steps' results, which the state machine's
``Resume``/``ResumeFrom`` states and the import branches' ``Check*Reuse`` states skip to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.aws.s3 import head_object, parse_s3_uri
from omics_toolkit.aws.stepfunctions import list_executions, start_execution_once
from omics_toolkit.errors import UserError
from omics_toolkit.pipeline.status import RETRY_SUFFIX, find_execution, history, last_state

#: Execution statuses a retry may follow.
RETRYABLE = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class RetryPlan:
    """A retry about to start (or started).

    Attributes:
        failed: the execution retried; name: the new execution's name.
        reused: steps whose results are reused (``ImportReads``, ``Run``, ``FindRunOutputs``,
            ``ImportBam``, ``ImportVcf``).
        input: the new execution's input.
        started: ``False`` when that retry already existed (nothing was started twice).
    """

    failed: str
    name: str
    reused: list[str]
    input: dict[str, Any]
    started: bool = False


def resume_state(state: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The ``resume`` object for a failed execution's last state, and the steps it reuses."""
    resume: dict[str, Any] = {}
    reused: list[str] = []
    reads = state.get("readsImport") or {}
    if reads.get("Status") != "COMPLETED":
        return resume, reused
    resume["readsImport"] = reads
    reused.append("ImportReads")
    run = state.get("run") or {}
    if run.get("Status") != "COMPLETED":
        return resume, reused
    resume["run"] = run
    reused.append("Run")
    if not state.get("outputs"):
        return resume, reused
    resume["outputs"] = state["outputs"]
    reused.append("FindRunOutputs")
    imports = {
        kind: result
        for kind, result in (state.get("imports") or {}).items()
        if isinstance(result, dict) and not result.get("failed")
    }
    if imports:
        resume["imports"] = imports
        reused += [{"bam": "ImportBam", "vcf": "ImportVcf"}[k] for k in sorted(imports)]
    return resume, reused


def _check_inputs_unchanged(s3: Any, given: dict[str, Any]) -> None:
    """Refuse to retry on inputs that changed: the new upload already has its own execution."""
    bucket_of = {}
    uploaded = [
        (given.get("aligned") or {}).get("source1"),
        (given.get("variants") or {}).get("vcf"),
    ]
    for uri in [u for lane in given.get("lanes", []) for u in (lane["fastq1"], lane["fastq2"])] + [
        u for u in uploaded if u
    ]:
        bucket, key = parse_s3_uri(uri)
        bucket_of[key] = bucket
    for obj in (given.get("source") or {}).get("objects", []):
        bucket = bucket_of.get(obj["key"])
        if bucket is None:
            continue
        head = head_object(s3, bucket, obj["key"])
        if head is None:
            raise UserError(
                f"s3://{bucket}/{obj['key']} is gone: upload it again (that starts a new run)"
            )
        if str(head["ETag"]) != obj["etag"]:
            raise UserError(
                f"s3://{bucket}/{obj['key']} changed since this execution (ETag {head['ETag']}, "
                f"was {obj['etag']}): the new content has its own execution; see `omics-toolkit runs`"
            )


def plan_retry(
    sfn: Any, s3: Any, state_machine_arn: str, what: str, *, from_start: bool = False
) -> RetryPlan:
    """Work out the retry of the latest execution of ``what`` (an execution name or a sample).

    Raises:
        UserError: nothing to retry (running or succeeded), a retry is already running, or the
            inputs changed or disappeared since.
    """
    executions = list_executions(sfn, state_machine_arn)
    item = find_execution(sfn, state_machine_arn, what, executions)
    root = RETRY_SUFFIX.sub("", item["name"])
    family = [e for e in executions if RETRY_SUFFIX.sub("", e["name"]) == root]
    latest = family[0]  # newest first
    if latest["status"] == "RUNNING":
        raise UserError(f"{latest['name']} is still running: nothing to retry yet")
    if latest["status"] == "SUCCEEDED":
        raise UserError(f"{latest['name']} succeeded: nothing to retry")
    if latest["status"] not in RETRYABLE:
        raise UserError(f"{latest['name']} is {latest['status']}: cannot retry")
    with translate("stepfunctions", "DescribeExecution"):
        ex = sfn.describe_execution(executionArn=latest["executionArn"])
    given = json.loads(ex.get("input") or "{}")
    _check_inputs_unchanged(s3, given)
    numbers = [int(m.group(1)) for e in family if (m := RETRY_SUFFIX.search(e["name"]))]
    name = f"{root}-r{max(numbers, default=0) + 1}"
    resume, reused = (
        ({}, []) if from_start else resume_state(last_state(history(sfn, latest["executionArn"])))
    )
    payload = {k: v for k, v in given.items() if k not in ("resume", "token")}
    payload["token"] = name
    if resume:
        payload["resume"] = resume
    return RetryPlan(failed=latest["name"], name=name, reused=reused, input=payload)


def start_retry(sfn: Any, state_machine_arn: str, plan: RetryPlan) -> RetryPlan:
    """Start the planned retry once (StartExecution; its name is the idempotency key)."""
    started = start_execution_once(sfn, state_machine_arn, plan.name, plan.input)
    return RetryPlan(plan.failed, plan.name, plan.reused, plan.input, started)
