"""What happens when a pipeline execution fails: record the cause, tag the inputs, notify.

The state machine's ``RecordFailure`` task calls :func:`record_failure` (through the Lambda
``lambdas/failure_handler``) with the execution's whole state: every step's result so far plus
``error = {"Error", "Cause"}`` as Step Functions' Catch left it. Nothing is ever deleted: the
inputs get the lifecycle tag ``failed`` (the buckets' lifecycle rules expire only ``processed``
objects), and the notification carries a cause a person can act on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.aws.s3 import merge_object_tags
from omics_toolkit.constants import HEALTHOMICS_LOG_GROUP, LIFECYCLE_TAG
from omics_toolkit.errors import ToolkitError
from omics_toolkit.pipeline.root_errors import TaskError, run_task_error, task_cause
from omics_toolkit.pipeline.steps import completed_steps

log = logging.getLogger(__name__)

#: EventBridge ``source`` and ``detail-type`` of the failure event users can subscribe to.
EVENT_SOURCE = "omics-toolkit"
FAILED_DETAIL_TYPE = "Pipeline Execution Failed"
#: Step Functions limits a Fail state's cause to 32,768 characters.
MAX_CAUSE = 32768


@dataclass
class FailureRecord:
    """One failed execution, as notified and as returned to the state machine.

    Attributes:
        execution: execution ARN; execution_name: its name.
        sample: sample id.
        step: the pipeline step that failed (``ImportReads``, ``Run``, ``FindRunOutputs``,
            ``ImportBam``, ``ImportVcf``, ``TagObjects``).
        error: error name (``ReadSetImportFailed``, ``RunFailed``, ``Omics.ThrottlingException``,
            a Lambda ``errorType``, ...); Step Functions' own ``States.X`` errors are reported as
            ``StepFunctions.X`` (a Fail state may not raise ``States.*`` names).
        cause: one readable sentence naming what failed and why (the service's own message).
        inputs: the sample's FASTQ S3 URIs (all kept, tagged ``failed``).
        logs: where to read more (CloudWatch Logs group and stream), when known.
        completed: steps whose results ``omics-toolkit runs retry`` reuses.
        tagged / not_tagged: inputs tagged, and the ones that could not be (with the reason).
        failed_task / root_error: for a failed run, the first task that failed and the root
            error of its log (:func:`run_task_error`); ``cause`` then starts with them.
    """

    execution: str
    execution_name: str
    sample: str | None
    step: str
    error: str
    cause: str
    inputs: list[str]
    logs: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    tagged: int = 0
    not_tagged: dict[str, str] = field(default_factory=dict)
    failed_task: str | None = None
    root_error: str | None = None


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def failed_step(state: dict[str, Any]) -> str:
    """The step that failed, from which results ``state`` holds."""
    error = (state.get("error") or {}).get("Error", "")
    imports = state.get("imports") or {}
    if imports:
        if (imports.get("bam") or {}).get("failed"):
            return "ImportBam"
        if (imports.get("vcf") or {}).get("failed"):
            return "ImportVcf"
        return "TagObjects"
    if state.get("outputs"):
        return "ImportResults"
    run = state.get("run") or {}
    if run:
        return "FindRunOutputs" if run.get("Status") == "COMPLETED" else "Run"
    reads = state.get("readsImport") or {}
    if reads.get("Status") == "COMPLETED" or error == "RunFailed":
        return "StartRun"
    return "ImportReads"


def _basename(uri: Any) -> str:
    return str(uri).rstrip("/").rsplit("/", 1)[-1]


def describe_cause(error: str, cause: Any) -> str:
    """One readable sentence from a Catch's ``Error``/``Cause``.

    ``Cause`` is the JSON of a failed job or run (ReadSetImportFailed, RunFailed,
    VariantImportFailed), a Lambda error's JSON (``errorType``/``errorMessage``), or the AWS
    service's message (aws-sdk task errors).
    """
    data = _json(cause)
    if isinstance(data, dict):
        if error == "RunFailed":
            reason = data.get("FailureReason") or data.get("failureReason")
            message = data.get("StatusMessage") or data.get("statusMessage") or ""
            what = ": ".join(p for p in (reason, message) if p) or "no reason given"
            return f"run {data.get('Id', '?')} {data.get('Status', 'FAILED')}: {what}"
        if "Sources" in data:
            problems = [
                f"{_basename(s.get('SourceFiles', {}).get('Source1'))}"
                + (
                    f" + {_basename(s['SourceFiles']['Source2'])}"
                    if s.get("SourceFiles", {}).get("Source2")
                    else ""
                )
                + f": {s.get('StatusMessage', 'failed')}"
                for s in data["Sources"]
                if s.get("Status") == "FAILED"
            ]
            summary = "; ".join(problems) or data.get("StatusMessage") or "no reason given"
            return f"read set import {data.get('Id', '?')} {data.get('Status')}: {summary}"
        if "JobId" in data or "DestinationName" in data:
            message = data.get("StatusMessage") or "no reason given"
            items = "; ".join(
                f"{_basename(i.get('Source'))}: {i.get('StatusMessage') or i.get('JobStatus')}"
                for i in data.get("Items", [])
                if i.get("JobStatus") not in (None, "COMPLETED")
            )
            return (
                f"variant import {data.get('Id') or data.get('JobId')} {data.get('Status')}: "
                + (items or message)
            )
        if "errorMessage" in data:
            return f"{data.get('errorType', error)}: {data['errorMessage']}"
    return f"{error}: {cause}" if cause else error


def _log_locations(state: dict[str, Any], step: str, execution_name: str) -> list[str]:
    run_id = (state.get("run") or {}).get("Id")
    locations = []
    if run_id and step in ("Run", "FindRunOutputs"):
        locations.append(f"CloudWatch Logs /aws/omics/WorkflowLog run/{run_id}")
    if step in ("FindRunOutputs", "TagObjects"):
        locations.append("CloudWatch Logs of the step's Lambda function (/aws/lambda/...)")
    locations.append(f"Step Functions execution history of {execution_name}")
    return locations


def input_uris(state: dict[str, Any]) -> list[str]:
    """The sample's input URIs from the execution state: FASTQs (``lanes``) or the aligned
    upload (``aligned.source1``)."""
    uris = [
        uri for lane in state.get("lanes", []) for uri in (lane.get("fastq1"), lane.get("fastq2"))
    ]
    aligned = state.get("aligned")
    if isinstance(aligned, dict) and aligned.get("source1"):
        uris.append(aligned["source1"])
    return uris


def _run_task_error(omics: Any, logs: Any, run_id: str) -> TaskError | None:
    """:func:`run_task_error`, or ``None`` (logged) when the task list or log cannot be read:
    the cause then falls back to the run's own message, the failure is still recorded."""
    try:
        return run_task_error(omics, logs, run_id)
    except ToolkitError as exc:
        log.warning("root error of run %s not read: %s", run_id, exc)
        return None


def record_failure(
    s3: Any,
    sns: Any | None,
    events: Any | None,
    *,
    execution: str,
    execution_name: str,
    state: dict[str, Any],
    topic_arn: str | None = None,
    event_bus: str | None = "default",
    omics: Any | None = None,
    logs: Any | None = None,
) -> FailureRecord:
    """Record one failed execution: tag its inputs ``failed``, publish to SNS and EventBridge.

    For a failed HealthOmics run (``RunFailed``) with ``omics`` and ``logs`` given, the cause
    names the first failed task and the root error of its log (:func:`run_task_error`:
    ListRunTasks, GetLogEvents), not the run's status message (a tail that may end in warnings
    and SIGPIPE noise).

    Args:
        s3, sns, events: boto3 clients (``sns``/``events`` may be ``None`` when not notifying).
        omics, logs: boto3 clients to read a failed run's tasks and task logs; ``None``: the
            cause is the run's own message.
        execution, execution_name: ``$$.Execution.Id`` and ``$$.Execution.Name``.
        state: the execution's state at the failure (``error`` = Catch's ``{"Error", "Cause"}``).
        topic_arn: SNS topic to publish to (SNS Publish); ``None``: no SNS message.
        event_bus: EventBridge bus for the ``Pipeline Execution Failed`` event (PutEvents);
            ``None``: no event.

    Returns:
        The :class:`FailureRecord`. Tagging problems (an object deleted meanwhile, already 10 tags)
        are recorded in ``not_tagged``; they never stop the notification.

    Raises:
        AwsError: SNS Publish or EventBridge PutEvents failed (the Lambda is retried; a
            subscriber may then see the message twice).
    """
    error_info = state.get("error") or {}
    error = str(error_info.get("Error") or "States.Unknown")
    cause_text = describe_cause(error, error_info.get("Cause"))
    task_error = None
    run = _json(error_info.get("Cause")) if error == "RunFailed" else None
    run_id = (run.get("Id") or run.get("id")) if isinstance(run, dict) else None
    if run_id and omics is not None and logs is not None:
        task_error = _run_task_error(omics, logs, str(run_id))
        if task_error:
            status = str(run.get("Status") or run.get("status") or "FAILED")
            cause_text = task_cause(task_error, str(run_id), status)
    if error.startswith("States."):
        # A Fail state may not name a "States." error: report it as Step Functions' own.
        error = "StepFunctions." + error.removeprefix("States.")
    step = failed_step(state)
    record = FailureRecord(
        execution=execution,
        execution_name=execution_name,
        sample=state.get("sample"),
        step=step,
        error=error,
        cause=cause_text[:MAX_CAUSE],
        inputs=input_uris(state),
        logs=_log_locations(state, step, execution_name),
        completed=completed_steps(state),
        failed_task=task_error.task if task_error else None,
        root_error=task_error.line if task_error else None,
    )
    if task_error:
        record.logs.insert(0, f"CloudWatch Logs {HEALTHOMICS_LOG_GROUP} {task_error.stream}")
    for uri in record.inputs:
        try:
            merge_object_tags(s3, uri, {LIFECYCLE_TAG: "failed"})
            record.tagged += 1
        except ToolkitError as exc:
            record.not_tagged[uri] = str(exc)
    detail = asdict(record)
    if sns is not None and topic_arn:
        with translate("sns", "Publish"):
            sns.publish(
                TopicArn=topic_arn,
                Subject=f"omics-toolkit: {record.sample} failed at {step}"[:100],
                Message=json.dumps(detail, indent=2),
                MessageAttributes={
                    "sample": {"DataType": "String", "StringValue": str(record.sample)},
                    "error": {"DataType": "String", "StringValue": error},
                },
            )
    if events is not None and event_bus:
        with translate("events", "PutEvents"):
            answer = events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": FAILED_DETAIL_TYPE,
                        "Detail": json.dumps(detail),
                        "Resources": [execution],
                        "EventBusName": event_bus,
                    }
                ]
            )
        if answer.get("FailedEntryCount"):
            entry = answer["Entries"][0]
            raise ToolkitError(
                f"EventBridge refused the failure event: {entry.get('ErrorCode')}: "
                f"{entry.get('ErrorMessage')}"
            )
    log.warning("execution %s failed at %s: %s", execution_name, step, record.cause)
    return record
