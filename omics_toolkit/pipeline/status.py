"""What the pipeline is doing: executions, their current step, status and cause of failure."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.aws.stepfunctions import list_executions
from omics_toolkit.errors import ResourceNotFoundError, UserError
from omics_toolkit.pipeline.steps import completed_steps

#: Executions started by ``runs retry`` are named ``<original>-r<N>``.
RETRY_SUFFIX = re.compile(r"-r(\d+)$")


def iso_time(value: datetime | None, timespec: str = "auto") -> str | None:
    """ISO 8601 text of an API timestamp (``None`` stays ``None``), as ``--json`` output shows it.

    Args:
        timespec: as :meth:`datetime.isoformat` (``"seconds"`` drops the fraction).
    """
    return value.isoformat(timespec=timespec) if value is not None else None


@dataclass
class ExecutionStatus:
    """One pipeline execution.

    Attributes:
        name: execution name (``<sample>-<content hash>[-r<N>]``).
        sample: sample id from the execution input.
        status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
        step: the last state entered; for a failed execution, the pipeline step that failed.
        started / stopped: timestamps (``stopped`` is ``None`` while running).
        error / cause: the failure's error name and cause (the service's own message).
        arn: execution ARN.
        logs: where to read more about a failure (CloudWatch Logs group and stream).
        completed: steps whose results ``runs retry`` would reuse.
        run_id: the HealthOmics run, once started.
        inputs: the input S3 URIs: the sample's FASTQs, the aligned BAM or the VCF.
        failed_task / root_error: for a run that failed in a task, that task and the root
            error of its log, as the failure record names them (the cause starts with them).
        input_kind: what started it (execution input ``source.kind``): ``pair`` or
            ``manifest`` (FASTQs), ``aligned`` (a BAM) or ``vcf`` (a VCF, no run).
    """

    name: str
    sample: str | None
    status: str
    step: str | None
    started: datetime
    stopped: datetime | None
    error: str | None
    cause: str | None
    arn: str
    logs: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    run_id: str | None = None
    inputs: list[str] = field(default_factory=list)
    failed_task: str | None = None
    root_error: str | None = None
    input_kind: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started"] = self.started.isoformat()
        out["stopped"] = self.stopped.isoformat() if self.stopped else None
        return out


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """Every event of an execution's history, oldest first (GetExecutionHistory, paginated)."""
    events: list[dict[str, Any]] = []
    with translate("stepfunctions", "GetExecutionHistory"):
        for page in sfn.get_paginator("get_execution_history").paginate(
            executionArn=arn, PaginationConfig={"PageSize": 1000}
        ):
            events.extend(page["events"])
    return sorted(events, key=lambda e: e["id"])


def _output(event: dict[str, Any]) -> Any:
    details = event.get("stateExitedEventDetails") or {}
    try:
        return json.loads(details.get("output") or "null")
    except json.JSONDecodeError:
        return None


def last_state(events: list[dict[str, Any]], top_level: set[str] | None = None) -> dict[str, Any]:
    """The execution's state as of its last exited top-level state (what a retry resumes from).

    Args:
        events: the history (oldest first).
        top_level: names of the definition's top-level states; ``None`` accepts any state whose
            output carries ``lanes`` (a branch's output does not).
    """
    for event in reversed(events):
        details = event.get("stateExitedEventDetails")
        if not details or (top_level is not None and details["name"] not in top_level):
            continue
        output = _output(event)
        if isinstance(output, dict) and "lanes" in output:
            return output
    return {}


def failure_record(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The failure handler's record (``RecordFailure``'s result), if the execution has one."""
    for event in reversed(events):
        details = event.get("stateExitedEventDetails")
        if details and details["name"] == "RecordFailure":
            output = _output(event) or {}
            return (output.get("failure") or {}).get("Record")
    return None


def describe(sfn: Any, arn: str, *, detail: bool = False) -> ExecutionStatus:
    """Execution status with its current step, HealthOmics run id and completed steps.

    Calls: DescribeExecution, then GetExecutionHistory: one page of the newest 100 events for a
    RUNNING or SUCCEEDED execution, the whole history for the others (the failure record is
    near its end) or with ``detail``. The run id and completed steps come from the state the
    execution carries: a SUCCEEDED execution's output (DescribeExecution), else the newest
    top-level state exit in the events read, and the failure record for a failed one.

    Args:
        detail: read the whole history whatever the status.
    """
    with translate("stepfunctions", "DescribeExecution"):
        ex = sfn.describe_execution(executionArn=arn)
    if detail or ex["status"] not in ("RUNNING", "SUCCEEDED"):
        events = history(sfn, arn)  # the failure record is near the end
    else:  # the current step only: the newest events suffice
        with translate("stepfunctions", "GetExecutionHistory"):
            page = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)
        events = sorted(page["events"], key=lambda e: e["id"])
    entered = [e for e in events if "stateEnteredEventDetails" in e]
    step = entered[-1]["stateEnteredEventDetails"]["name"] if entered else None
    try:
        given = json.loads(ex.get("input") or "{}")
    except json.JSONDecodeError:
        given = {}
    status = ExecutionStatus(
        name=ex["name"],
        sample=given.get("sample"),
        status=ex["status"],
        step=step,
        started=ex["startDate"],
        stopped=ex.get("stopDate"),
        error=ex.get("error"),
        cause=ex.get("cause"),
        arn=ex["executionArn"],
        inputs=[u for lane in given.get("lanes", []) for u in (lane["fastq1"], lane["fastq2"])]
        + [u for u in ((given.get("aligned") or {}).get("source1"),) if u]
        + [u for u in ((given.get("variants") or {}).get("vcf"),) if u],
        input_kind=(given.get("source") or {}).get("kind"),
    )
    state: Any = None
    if ex["status"] == "SUCCEEDED":
        try:
            state = json.loads(ex.get("output") or "null")
        except json.JSONDecodeError:
            state = None
    if not isinstance(state, dict) or "lanes" not in state:
        state = last_state(events)
    status.run_id = (state.get("run") or {}).get("Id")
    status.completed = completed_steps(state)
    record = failure_record(events)
    if record:
        status.step = record.get("step") or status.step
        status.logs = list(record.get("logs") or [])
        status.completed = list(record.get("completed") or [])
        status.failed_task = record.get("failed_task")
        status.root_error = record.get("root_error")
    return status


def list_status(sfn: Any, state_machine_arn: str) -> list[ExecutionStatus]:
    """Every execution of the deployment's state machine, newest first.

    Calls: ListExecutions (paginated), then :func:`describe` per execution (DescribeExecution
    and GetExecutionHistory: the sample is only in the execution's input, the step only in its
    history); the run id and completed steps need no further call.
    """
    return [describe(sfn, e["executionArn"]) for e in list_executions(sfn, state_machine_arn)]


def find_execution(
    sfn: Any, state_machine_arn: str, what: str, executions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The execution named ``what``, else the newest execution of sample ``what``.

    Args:
        executions: the state machine's executions, newest first, when the caller has them.

    Returns:
        The ListExecutions item (``executionArn``, ``name``, ``status``, ``startDate``).

    Raises:
        UserError: no execution has that name or sample.
    """
    if executions is None:
        executions = list_executions(sfn, state_machine_arn)
    for item in executions:
        if item["name"] == what:
            return item
    for item in executions:  # newest first
        with translate("stepfunctions", "DescribeExecution"):
            ex = sfn.describe_execution(executionArn=item["executionArn"])
        try:
            if json.loads(ex.get("input") or "{}").get("sample") == what:
                return item
        except json.JSONDecodeError:
            continue
    raise UserError(
        f"no pipeline execution is named {what!r} or is for sample {what!r}; "
        "list them with `omics-toolkit runs`"
    )


def wait_for_execution(
    sfn: Any,
    arn: str,
    *,
    on_step: Callable[[ExecutionStatus], None] | None = None,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 3600,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecutionStatus:
    """Poll an execution until it stops; ``on_step`` is called whenever the step or status changes.

    An execution that does not exist yet is waited for: S3 invokes the pair detector
    asynchronously, so the execution an upload starts appears a moment later.

    Raises:
        TimeoutError: not started, or still running, after ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    last: tuple[str, str | None] | None = None
    while True:
        try:
            status = describe(sfn, arn)
        except ResourceNotFoundError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {arn} was never started") from None
            sleep(poll_seconds)
            continue
        if on_step and (status.status, status.step) != last:
            on_step(status)
            last = (status.status, status.step)
        if status.status != "RUNNING":
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {status.name} still RUNNING at step {status.step}")
        sleep(poll_seconds)
