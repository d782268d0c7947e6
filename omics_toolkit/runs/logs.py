"""HealthOmics run logs in CloudWatch Logs (group ``/aws/omics/WorkflowLog``).

Streams (HealthOmics "Monitoring HealthOmics with CloudWatch Logs",
https://docs.aws.amazon.com/omics/latest/dev/monitoring-cloudwatch-logs.html):
``run/{runId}`` (run status), ``run/{runId}/engine`` (the workflow engine's log),
``run/{runId}/task/{taskId}`` (a task's output), ``manifest/run/{runId}/{runUuid}`` (the run
manifest: one JSON event for the run and one per task).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.constants import HEALTHOMICS_LOG_GROUP
from omics_toolkit.errors import ResourceNotFoundError

LOG_GROUP = HEALTHOMICS_LOG_GROUP


def run_stream(run_id: str) -> str:
    return f"run/{run_id}"


def engine_stream(run_id: str) -> str:
    return f"run/{run_id}/engine"


def task_stream(run_id: str, task_id: str) -> str:
    return f"run/{run_id}/task/{task_id}"


def manifest_stream(run_id: str, run_uuid: str) -> str:
    return f"manifest/run/{run_id}/{run_uuid}"


@dataclass
class LogStream:
    """The events of one stream.

    Attributes:
        stream: stream name (``run/1234567/task/7654321``).
        events: ``{"timestamp": epoch ms, "message": str}``, oldest first.
        exists: ``False`` when the stream was not found (no event was ever written).
        task_id / task_name: the task, for task streams.
    """

    stream: str
    events: list[dict[str, Any]] = field(default_factory=list)
    exists: bool = True
    task_id: str | None = None
    task_name: str | None = None

    @property
    def messages(self) -> list[str]:
        return [str(e.get("message", "")) for e in self.events]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "exists": self.exists,
            "task_id": self.task_id,
            "task_name": self.task_name,
            "events": [
                {"timestamp": e.get("timestamp"), "message": e.get("message")} for e in self.events
            ],
        }


def read_stream(logs: Any, stream: str, group: str = LOG_GROUP) -> LogStream:
    """Every event of ``stream``, oldest first (GetLogEvents from the head, following
    ``nextForwardToken`` until it repeats, which is how CloudWatch Logs marks the end).

    A stream that does not exist gives ``LogStream(exists=False)``.

    Raises:
        AwsError: any other CloudWatch Logs error.
    """
    out = LogStream(stream)
    token: str | None = None
    while True:
        params: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            params["nextToken"] = token
        try:
            with translate("logs", "GetLogEvents"):
                page = logs.get_log_events(**params)
        except ResourceNotFoundError:
            out.exists = False
            return out
        out.events.extend(page.get("events", []))
        nxt = page.get("nextForwardToken")
        if not nxt or nxt == token:
            return out
        token = nxt
