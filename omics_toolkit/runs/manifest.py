"""The HealthOmics run manifest: reserved and used resources of a run and its tasks.

HealthOmics writes it to CloudWatch Logs, stream ``manifest/run/{runId}/{runUuid}`` of group
``/aws/omics/WorkflowLog``, when the run ends: one JSON event for the run, one per task.

Field names (the HealthOmics guide, "Monitoring HealthOmics with CloudWatch Logs", lists the
task metrics ``cpusAverage``, ``cpusMaximum``, ``cpusReserved``, ``gpusReserved``,
``memoryAverageGiB``, ``memoryMaximumGiB``, ``memoryReservedGiB``, ``runningSeconds``; the rest are
the names AWS's readers use: ``awslabs/aws-healthomics-tools`` ``omics/cli/run_analyzer`` and the
``awslabs/mcp`` HealthOmics server ``tools/run_analysis.py``):

- run: ``arn`` (``...:run/{id}``), ``uuid``, ``name``, ``workflow`` (ARN), ``digest``,
  ``roleArn``, ``startedBy``, ``outputUri``, ``parameters``, ``storageType``, ``storageCapacity``,
  ``creationTime``, ``startTime``, ``stopTime``, ``metrics`` {``runningSeconds``,
  ``storageReservedGiB``, ``storageMaximumGiB``, ``storageAverageGiB``};
- task: ``arn`` (``...:task/{id}``), ``uuid``, ``name``, ``cpus``, ``memory`` (GiB), ``gpus``,
  ``instanceType``, ``image``, ``creationTime``, ``startTime``, ``stopTime``, ``metrics``
  {``cpusReserved``, ``cpusAverage``, ``cpusMaximum``, ``memoryReservedGiB``,
  ``memoryAverageGiB``, ``memoryMaximumGiB``, ``gpusReserved``, ``runningSeconds``}.

Timestamps are ISO 8601 strings (``2024-01-15T10:00:00.000Z``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from omics_toolkit.runs.logs import manifest_stream, read_stream


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 string (``...Z`` or with an offset) or datetime as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


@dataclass
class TaskUsage:
    """One task of the manifest (see the module docstring for the source fields)."""

    task_id: str
    name: str
    status: str | None
    instance_type: str | None
    cpus: float | None
    memory_gib: float | None
    start: dt.datetime | None
    stop: dt.datetime | None
    running_seconds: float | None
    cpus_reserved: float | None
    cpus_maximum: float | None
    cpus_average: float | None
    memory_reserved_gib: float | None
    memory_maximum_gib: float | None
    memory_average_gib: float | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> TaskUsage:
        metrics = data.get("metrics") or {}
        start, stop = parse_time(data.get("startTime")), parse_time(data.get("stopTime"))
        running = _float(metrics.get("runningSeconds"))
        if running is None and start and stop:
            running = (stop - start).total_seconds()
        return cls(
            task_id=str(data.get("arn", "")).rsplit("/", 1)[-1],
            name=str(data.get("name", "")),
            status=data.get("status"),
            instance_type=data.get("instanceType"),
            cpus=_float(data.get("cpus")),
            memory_gib=_float(data.get("memory")),
            start=start,
            stop=stop,
            running_seconds=running,
            cpus_reserved=_float(metrics.get("cpusReserved")),
            cpus_maximum=_float(metrics.get("cpusMaximum")),
            cpus_average=_float(metrics.get("cpusAverage")),
            memory_reserved_gib=_float(metrics.get("memoryReservedGiB")),
            memory_maximum_gib=_float(metrics.get("memoryMaximumGiB")),
            memory_average_gib=_float(metrics.get("memoryAverageGiB")),
            raw=data,
        )


@dataclass
class RunManifest:
    """The run manifest of one run.

    Attributes:
        stream: the log stream it was read from.
        run: the run event as written (``{}`` when absent).
        tasks: the task events, in the order written.
    """

    stream: str
    run: dict[str, Any]
    tasks: list[TaskUsage]

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.run.get("metrics") or {})

    @property
    def storage_type(self) -> str | None:
        return self.run.get("storageType")

    @property
    def storage_capacity(self) -> float | None:
        return _float(self.run.get("storageCapacity"))

    @property
    def running_seconds(self) -> float | None:
        value = _float(self.metrics.get("runningSeconds"))
        if value is None:
            start, stop = (
                parse_time(self.run.get("startTime")),
                parse_time(self.run.get("stopTime")),
            )
            if start and stop:
                value = (stop - start).total_seconds()
        return value

    def task(self, task_id: str) -> TaskUsage | None:
        return next((t for t in self.tasks if t.task_id == task_id), None)


def _is_task(data: dict[str, Any]) -> bool:
    arn = str(data.get("arn", ""))
    if ":task/" in arn:
        return True
    if ":run/" in arn:
        return False
    return "instanceType" in data and "cpus" in data  # as the awslabs/mcp reader tells them apart


def parse_manifest(stream: str, messages: list[str]) -> RunManifest:
    """The manifest from its log messages; lines that are not JSON objects are skipped."""
    run: dict[str, Any] = {}
    tasks: list[TaskUsage] = []
    for message in messages:
        text = message.strip()
        if not (text.startswith("{") and text.endswith("}")):
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if _is_task(data):
            tasks.append(TaskUsage.from_event(data))
        else:
            run = data
    return RunManifest(stream, run, tasks)


def read_manifest(logs: Any, run_id: str, run_uuid: str | None) -> RunManifest | None:
    """The manifest of a run (GetLogEvents), or ``None`` when it was not written (yet).

    HealthOmics writes it when the run ends; a run without a ``uuid`` has none.
    """
    if not run_uuid:
        return None
    stream = read_stream(logs, manifest_stream(run_id, run_uuid))
    if not stream.exists or not stream.events:
        return None
    return parse_manifest(stream.stream, stream.messages)
