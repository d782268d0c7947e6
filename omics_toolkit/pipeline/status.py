"""What the pipeline is doing: executions, their current step, status and cause of failure."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omics_toolkit.aws.stepfunctions import list_executions


@dataclass
class ExecutionStatus:
    """One pipeline execution.

    Attributes:
        name: execution name (``<sample>-<content hash>``).
        sample: sample id from the execution input.
        status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
        step: the last state entered.
        started / stopped: timestamps (``stopped`` is ``None`` while running).
        error / cause: the failure's error name and cause (the service's own message).
        arn: execution ARN.
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

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["started"] = self.started.isoformat()
        out["stopped"] = self.stopped.isoformat() if self.stopped else None
        return out


def describe(sfn: Any, execution_arn: str) -> ExecutionStatus:
    """Execution status with its current step (DescribeExecution + GetExecutionHistory)."""
    ex = sfn.describe_execution(executionArn=execution_arn)
    # Newest events first; the highest event id wins either way (moto ignores reverseOrder).
    history = sfn.get_execution_history(
        executionArn=execution_arn, reverseOrder=True, maxResults=100
    )
    entered = [e for e in history["events"] if "stateEnteredEventDetails" in e]
    step = (
        max(entered, key=lambda e: e["id"])["stateEnteredEventDetails"]["name"] if entered else None
    )
    try:
        sample = json.loads(ex.get("input", "{}")).get("sample")
    except json.JSONDecodeError:
        sample = None
    return ExecutionStatus(
        name=ex["name"],
        sample=sample,
        status=ex["status"],
        step=step,
        started=ex["startDate"],
        stopped=ex.get("stopDate"),
        error=ex.get("error"),
        cause=ex.get("cause"),
        arn=ex["executionArn"],
    )


def list_status(sfn: Any, state_machine_arn: str) -> list[ExecutionStatus]:
    """Every execution of the deployment's state machine, newest first."""
    return [describe(sfn, e["executionArn"]) for e in list_executions(sfn, state_machine_arn)]


def wait_for_execution(
    sfn: Any,
    execution_arn: str,
    *,
    on_step: Callable[[ExecutionStatus], None] | None = None,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 3600,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecutionStatus:
    """Poll an execution until it stops; ``on_step`` is called whenever the step or status changes.

    Raises:
        TimeoutError: still running after ``timeout_seconds``.
    """
    deadline = time.monotonic() + timeout_seconds
    last: tuple[str, str | None] | None = None
    while True:
        status = describe(sfn, execution_arn)
        if on_step and (status.status, status.step) != last:
            on_step(status)
            last = (status.status, status.step)
        if status.status != "RUNNING":
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {status.name} still RUNNING at step {status.step}")
        sleep(poll_seconds)
