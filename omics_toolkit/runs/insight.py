"""One HealthOmics run: found from a run id, an execution or a sample; its tasks, logs, cost and
right-sizing advice.

Where every number comes from:

- run and tasks: GetRun, ListRunTasks (paginated) and GetRunTask (for failed tasks: the task list
  items carry no ``failureReason``/``statusMessage``/``logStream`` in the API model);
- logs: CloudWatch Logs GetLogEvents of ``run/{id}``, ``run/{id}/engine``,
  ``run/{id}/task/{taskId}`` (:mod:`omics_toolkit.runs.logs`);
- used resources: the run manifest (:mod:`omics_toolkit.runs.manifest`);
- prices: the shipped, dated table (:mod:`omics_toolkit.runs.pricing`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.errors import ResourceNotFoundError, UserError
from omics_toolkit.pipeline.root_errors import TaskError, run_task_error
from omics_toolkit.pipeline.status import iso_time
from omics_toolkit.runs.instances import BY_NAME, instance_for
from omics_toolkit.runs.logs import (
    LogStream,
    engine_stream,
    read_stream,
    run_stream,
    task_stream,
)
from omics_toolkit.runs.manifest import RunManifest, TaskUsage, parse_time, read_manifest
from omics_toolkit.runs.pricing import (
    PriceTable,
    billed_seconds,
    static_capacity_gib,
    storage_cost,
    task_cost,
)

if TYPE_CHECKING:
    from omics_toolkit.pipeline.status import ExecutionStatus

#: A HealthOmics run id (RunId shape: digits).
RUN_ID = re.compile(r"^\d{1,18}$")
#: Default headroom of right-sizing advice: 20 % above the measured maximum.
DEFAULT_HEADROOM = 0.2


def _seconds(start: dt.datetime | None, stop: dt.datetime | None) -> float | None:
    return (stop - start).total_seconds() if start and stop else None


# ---------------------------------------------------------------------------------- resolving
@dataclass
class RunRef:
    """A run found from what the user typed.

    Attributes:
        run_id: the HealthOmics run id.
        execution: the pipeline execution it belongs to, when found through one.
    """

    run_id: str
    execution: ExecutionStatus | None = None


def resolve_run(
    omics: Any,
    what: str,
    find_execution: Callable[[str], ExecutionStatus] | None = None,
) -> RunRef:
    """The run ``what`` names: a HealthOmics run id (GetRun), else an execution name or a sample
    (its newest execution) whose HealthOmics run id ``find_execution`` reports.

    Raises:
        UserError: nothing matches, or the execution never started a run.
    """
    if RUN_ID.match(what):
        try:
            with translate("omics", "GetRun"):
                omics.get_run(id=what)
            return RunRef(what)
        except ResourceNotFoundError:
            if find_execution is None:
                raise UserError(f"no HealthOmics run {what}") from None
    if find_execution is None:
        raise UserError(f"{what!r} is not a HealthOmics run id")
    status = find_execution(what)
    if not status.run_id:
        raise UserError(
            f"execution {status.name} started no HealthOmics run (status {status.status}, "
            f"step {status.step}); see `omics-toolkit runs show {status.name}`"
        )
    return RunRef(status.run_id, status)


# ---------------------------------------------------------------------------------- run + tasks
@dataclass
class TaskView:
    """One run task (ListRunTasks item, completed by GetRunTask for failed tasks)."""

    task_id: str
    name: str
    status: str
    cpus: int | None
    memory_gib: int | None
    gpus: int | None
    instance_type: str | None
    creation: dt.datetime | None
    start: dt.datetime | None
    stop: dt.datetime | None
    failure_reason: str | None = None
    status_message: str | None = None
    log_stream: str | None = None
    image: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        return _seconds(self.start, self.stop)

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> TaskView:
        image = item.get("imageDetails") or {}
        return cls(
            task_id=str(item["taskId"]),
            name=str(item.get("name", "")),
            status=str(item.get("status", "")),
            cpus=item.get("cpus"),
            memory_gib=item.get("memory"),
            gpus=item.get("gpus"),
            instance_type=item.get("instanceType"),
            creation=parse_time(item.get("creationTime")),
            start=parse_time(item.get("startTime")),
            stop=parse_time(item.get("stopTime")),
            failure_reason=item.get("failureReason"),
            status_message=item.get("statusMessage"),
            log_stream=item.get("logStream"),
            image=image.get("image"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "name": self.name,
            "status": self.status,
            "cpus": self.cpus,
            "memoryGiB": self.memory_gib,
            "gpus": self.gpus,
            "instanceType": self.instance_type,
            "creationTime": iso_time(self.creation),
            "startTime": iso_time(self.start),
            "stopTime": iso_time(self.stop),
            "durationSeconds": self.duration_seconds,
            "failureReason": self.failure_reason,
            "statusMessage": self.status_message,
            "logStream": self.log_stream,
            "image": self.image,
        }


@dataclass
class RunView:
    """A run (GetRun) and its tasks."""

    run_id: str
    name: str | None
    status: str
    arn: str
    uuid: str | None
    workflow_id: str | None
    creation: dt.datetime | None
    start: dt.datetime | None
    stop: dt.datetime | None
    failure_reason: str | None
    status_message: str | None
    storage_type: str | None
    storage_capacity: int | None
    output_uri: str | None
    tasks: list[TaskView] = field(default_factory=list)
    root_error: TaskError | None = None
    #: StartRun ``parameters`` as GetRun returns them (workflow input -> value, e.g. ``ploidy``).
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        """The run's region, from its ARN (``arn:aws:omics:<region>:...``)."""
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    @property
    def duration_seconds(self) -> float | None:
        return _seconds(self.start, self.stop)

    def failed_tasks(self) -> list[TaskView]:
        return [t for t in self.tasks if t.status == "FAILED"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "name": self.name,
            "status": self.status,
            "arn": self.arn,
            "uuid": self.uuid,
            "workflowId": self.workflow_id,
            "region": self.region,
            "creationTime": iso_time(self.creation),
            "startTime": iso_time(self.start),
            "stopTime": iso_time(self.stop),
            "durationSeconds": self.duration_seconds,
            "failureReason": self.failure_reason,
            "statusMessage": self.status_message,
            "storageType": self.storage_type,
            "storageCapacity": self.storage_capacity,
            "outputUri": self.output_uri,
            "parameters": self.parameters,
            "tasks": [t.as_dict() for t in self.tasks],
            "rootError": asdict(self.root_error) if self.root_error else None,
        }


def run_view(
    omics: Any, run_id: str, *, task_details: str = "failed", logs: Any | None = None
) -> RunView:
    """The run and its tasks (GetRun, ListRunTasks paginated, GetRunTask).

    Args:
        task_details: ``"failed"`` (GetRunTask for failed tasks only), ``"all"`` or ``"none"``.
        logs: a CloudWatch Logs client: for a FAILED run, also ``root_error``, the root error
            of the first failed task's log (:func:`omics_toolkit.pipeline.root_errors.run_task_error`,
            one GetLogEvents), the line the pipeline's failure record names.

    Raises:
        ResourceNotFoundError: no such run.
    """
    with translate("omics", "GetRun"):
        run = omics.get_run(id=run_id)
    items: list[dict[str, Any]] = []
    with translate("omics", "ListRunTasks"):
        for page in omics.get_paginator("list_run_tasks").paginate(id=run_id):
            items.extend(page.get("items", []))
    tasks = []
    for item in items:
        if task_details == "all" or (task_details == "failed" and item.get("status") == "FAILED"):
            with translate("omics", "GetRunTask"):
                item = {**item, **omics.get_run_task(id=run_id, taskId=item["taskId"])}
        tasks.append(TaskView.from_api(item))
    return RunView(
        run_id=str(run["id"]),
        name=run.get("name"),
        status=str(run.get("status", "")),
        arn=str(run.get("arn", "")),
        uuid=run.get("uuid"),
        workflow_id=run.get("workflowId"),
        creation=parse_time(run.get("creationTime")),
        start=parse_time(run.get("startTime")),
        stop=parse_time(run.get("stopTime")),
        failure_reason=run.get("failureReason"),
        status_message=run.get("statusMessage"),
        storage_type=run.get("storageType"),
        storage_capacity=run.get("storageCapacity"),
        output_uri=run.get("outputUri"),
        tasks=tasks,
        root_error=(
            run_task_error(omics, logs, str(run["id"]), items)
            if logs is not None and run.get("status") == "FAILED"
            else None
        ),
        parameters=dict(run.get("parameters") or {}),
    )


# ---------------------------------------------------------------------------------- logs
@dataclass
class RunLogs:
    """The log streams shown for a run, in display order."""

    run: RunView
    streams: list[LogStream]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "status": self.run.status,
            "failureReason": self.run.failure_reason,
            "streams": [s.as_dict() for s in self.streams],
        }


def find_tasks(view: RunView, which: str) -> list[TaskView]:
    """Tasks whose id or name is ``which``; else the scattered tasks of that name (WDL names
    them ``<name>-<index>-<attempt>``).

    Raises:
        UserError: none matches; the message lists the run's task names.
    """
    found = [t for t in view.tasks if which in (t.task_id, t.name)]
    if not found:
        scattered = re.compile(rf"^{re.escape(which)}(-\d+)+$")
        found = [t for t in view.tasks if scattered.match(t.name)]
    if not found:
        names = ", ".join(sorted({f"{t.name} ({t.task_id})" for t in view.tasks})) or "none"
        raise UserError(
            f"run {view.run_id} has no task named or numbered {which!r}; tasks: {names}"
        )
    return found


def _task_stream_name(run_id: str, task: TaskView) -> str:
    if task.log_stream and ":log-stream:" in task.log_stream:
        return task.log_stream.split(":log-stream:", 1)[1]
    return task_stream(run_id, task.task_id)


def run_logs(
    omics: Any, logs: Any, run_id: str, *, task: str | None = None, engine: bool = False
) -> RunLogs:
    """The logs to show for a run.

    - ``engine``: the engine stream (``run/{id}/engine``);
    - ``task`` (a task id or name): that task's stream(s) (``run/{id}/task/{taskId}``);
    - neither: the run stream (``run/{id}``) and, for a FAILED run, the failed tasks' streams
      (the engine stream when no task failed).

    Raises:
        UserError: ``task`` names no task of the run.
    """
    view = run_view(omics, run_id)
    streams: list[LogStream] = []
    if engine:
        streams.append(read_stream(logs, engine_stream(run_id)))
    if task is not None:
        chosen = find_tasks(view, task)
    elif not engine:
        streams.append(read_stream(logs, run_stream(run_id)))
        chosen = view.failed_tasks() if view.status == "FAILED" else []
        if view.status == "FAILED" and not chosen:
            streams.append(read_stream(logs, engine_stream(run_id)))
    else:
        chosen = []
    for t in chosen:
        stream = read_stream(logs, _task_stream_name(run_id, t))
        stream.task_id, stream.task_name = t.task_id, t.name
        streams.append(stream)
    return RunLogs(view, streams)


# ---------------------------------------------------------------------------------- cost
@dataclass
class TaskCost:
    """What one task costs: ``max(seconds, 60) * usd_per_hour / 3600``."""

    task_id: str
    name: str
    status: str | None
    instance_type: str | None
    seconds: float | None
    billed_seconds: float
    usd_per_hour: float | None
    usd: float | None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class StorageCost:
    """What the run's storage costs: ``GiB * seconds / 3600 * usd_per_gb_hour``."""

    storage_type: str | None
    gib: float | None
    basis: str
    seconds: float | None
    usd_per_gb_hour: float | None
    usd: float | None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Advice:
    """Right-sizing of one task from its manifest metrics.

    Attributes:
        used_cpus / used_memory_gib: ``cpusMaximum`` / ``memoryMaximumGiB``.
        headroom: fraction added to the used resources before choosing the type.
        request_cpus / request_memory_gib: what to request (used x (1 + headroom), rounded up).
        recommended: the smallest instance type that fits the request (``None``: none does).
        usd_now / usd_recommended / saving_usd: at the table's prices, for the same running time
            (``None`` when a price is missing: ``note`` says which).
    """

    task_id: str
    name: str
    instance_type: str | None
    reserved_cpus: float | None
    reserved_memory_gib: float | None
    used_cpus: float
    used_memory_gib: float
    headroom: float
    request_cpus: int
    request_memory_gib: int
    recommended: str | None
    usd_now: float | None
    usd_recommended: float | None
    saving_usd: float | None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CostReport:
    """The cost of a run at the table's prices, with right-sizing advice.

    ``total_usd`` adds the priced items only; ``complete`` is ``False`` when some item had no
    price (``missing`` lists them) or no known size (DYNAMIC storage without a manifest).
    """

    run_id: str
    status: str
    region: str
    prices: str
    manifest: str | None
    tasks: list[TaskCost]
    storage: StorageCost
    advice: list[Advice]
    missing: list[str]
    notes: list[str]

    @property
    def compute_usd(self) -> float:
        return sum(t.usd for t in self.tasks if t.usd is not None)

    @property
    def total_usd(self) -> float:
        return self.compute_usd + (self.storage.usd or 0.0)

    @property
    def complete(self) -> bool:
        storage_known = self.storage.usd is not None or self.storage.storage_type is None
        return not self.missing and storage_known and all(t.usd is not None for t in self.tasks)

    @property
    def saving_usd(self) -> float:
        return sum(a.saving_usd for a in self.advice if a.saving_usd and a.saving_usd > 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "region": self.region,
            "prices": self.prices,
            "manifest": self.manifest,
            "tasks": [t.as_dict() for t in self.tasks],
            "storage": self.storage.as_dict(),
            "compute_usd": self.compute_usd,
            "total_usd": self.total_usd,
            "complete": self.complete,
            "missing": self.missing,
            "advice": [a.as_dict() for a in self.advice],
            "saving_usd": self.saving_usd,
            "notes": self.notes,
        }


def _task_costs(
    view: RunView,
    manifest: RunManifest | None,
    prices: PriceTable,
    now: dt.datetime,
    missing: list[str],
) -> list[TaskCost]:
    usage = {t.task_id: t for t in manifest.tasks} if manifest else {}
    out: list[TaskCost] = []
    tasks: list[TaskView | TaskUsage] = list(view.tasks)
    known = {t.task_id for t in view.tasks}
    tasks += [u for u in usage.values() if u.task_id not in known]
    for task in tasks:
        used = usage.get(task.task_id)
        itype = (used.instance_type if used else None) or task.instance_type
        if not itype:
            source = used or task
            fit = instance_for(source.cpus, source.memory_gib, view.region)
            itype = fit.name if fit else None
        note = None
        seconds = used.running_seconds if used else None
        if seconds is None:
            seconds = _seconds(task.start, task.stop)
        if seconds is None and task.start and not task.stop:
            seconds = (now - task.start).total_seconds()
            note = "still running: cost so far"
        if seconds is None:
            out.append(
                TaskCost(
                    task_id=task.task_id,
                    name=task.name,
                    status=task.status,
                    instance_type=itype,
                    seconds=None,
                    billed_seconds=0.0,
                    usd_per_hour=None,
                    usd=0.0,
                    note="never started: not billed",
                )
            )
            continue
        price = prices.instance(view.region, itype) if itype else None
        if itype is None:
            note = "no instance type fits the request"
            missing.append(f"{task.name}: {note}")
        elif price is None:
            note = prices.missing(itype, view.region)
            if note not in missing:
                missing.append(note)
        out.append(
            TaskCost(
                task_id=task.task_id,
                name=task.name,
                status=task.status,
                instance_type=itype,
                seconds=seconds,
                billed_seconds=billed_seconds(seconds),
                usd_per_hour=price.usd if price else None,
                usd=task_cost(seconds, price.usd) if price else None,
                note=note,
            )
        )
    return out


def _storage_cost(
    view: RunView,
    manifest: RunManifest | None,
    prices: PriceTable,
    now: dt.datetime,
    missing: list[str],
) -> StorageCost:
    storage_type = (manifest.storage_type if manifest else None) or view.storage_type
    seconds = manifest.running_seconds if manifest else None
    if seconds is None:
        seconds = view.duration_seconds
    if seconds is None and view.start:
        seconds = (now - view.start).total_seconds()
    note = None
    if storage_type == "STATIC":
        capacity = (manifest.storage_capacity if manifest else None) or view.storage_capacity
        gib: float | None = float(static_capacity_gib(capacity))
        basis = "capacity, in 1200 GiB steps"
    else:
        basis = "average used: run manifest storageAverageGiB"
        value = manifest.metrics.get("storageAverageGiB") if manifest else None
        gib = float(value) if value is not None else None
        if gib is None:
            note = "DYNAMIC storage is billed on the storage used: known from the run manifest, not written yet"
    price = prices.storage(view.region, storage_type) if storage_type else None
    if storage_type and price is None:
        note = prices.missing(f"{storage_type} run storage", view.region)
        missing.append(note)
    usd = None
    if price is not None and gib is not None and seconds is not None:
        usd = storage_cost(gib, seconds, price.usd)
    return StorageCost(
        storage_type=storage_type,
        gib=gib,
        basis=basis,
        seconds=seconds,
        usd_per_gb_hour=price.usd if price else None,
        usd=usd,
        note=note,
    )


def right_size(
    task: TaskUsage, region: str, prices: PriceTable, headroom: float = DEFAULT_HEADROOM
) -> Advice | None:
    """Advice for one manifest task: the smallest instance type that fits its measured maximum
    cpus and memory plus ``headroom``, and the saving at the table's prices for the same running
    time. ``None`` when the manifest has no maximum for it."""
    if task.cpus_maximum is None or task.memory_maximum_gib is None:
        return None
    request_cpus = max(1, math.ceil(round(task.cpus_maximum * (1 + headroom), 6)))
    request_mem = max(1, math.ceil(round(task.memory_maximum_gib * (1 + headroom), 6)))
    fit = instance_for(request_cpus, request_mem, region)
    current = task.instance_type or None
    reserved_cpus = task.cpus_reserved if task.cpus_reserved is not None else task.cpus
    reserved_mem = (
        task.memory_reserved_gib if task.memory_reserved_gib is not None else task.memory_gib
    )
    notes = []
    if (reserved_mem is not None and task.memory_maximum_gib > reserved_mem) or (
        reserved_cpus is not None and task.cpus_maximum > reserved_cpus
    ):
        notes.append(
            "uses more than it reserves: HealthOmics enforces the reservation as a hard limit, "
            "so this task would fail there; raise its request"
        )
    seconds = task.running_seconds or 0.0
    now_price = prices.instance(region, current) if current else None
    rec_price = prices.instance(region, fit.name) if fit else None
    usd_now = task_cost(seconds, now_price.usd) if now_price else None
    usd_rec = task_cost(seconds, rec_price.usd) if rec_price else None
    saving = usd_now - usd_rec if usd_now is not None and usd_rec is not None else None
    if fit is None:
        notes.append("no instance type is large enough")
    elif current and fit.name == current:
        notes.append("already the smallest type that fits")
        saving = 0.0 if saving is None else saving
    for name, price in ((current, now_price), (fit.name if fit else None, rec_price)):
        if name and price is None:
            notes.append(prices.missing(name, region))
    return Advice(
        task_id=task.task_id,
        name=task.name,
        instance_type=current,
        reserved_cpus=reserved_cpus,
        reserved_memory_gib=reserved_mem,
        used_cpus=task.cpus_maximum,
        used_memory_gib=task.memory_maximum_gib,
        headroom=headroom,
        request_cpus=request_cpus,
        request_memory_gib=request_mem,
        recommended=fit.name if fit else None,
        usd_now=usd_now,
        usd_recommended=usd_rec,
        saving_usd=saving,
        note="; ".join(dict.fromkeys(notes)) or None,
    )


def cost_report(
    omics: Any,
    logs: Any,
    run_id: str,
    prices: PriceTable,
    *,
    headroom: float = DEFAULT_HEADROOM,
    now: dt.datetime | None = None,
) -> CostReport:
    """The cost of run ``run_id`` and right-sizing advice: :func:`price_run` on the run and its
    tasks (GetRun, ListRunTasks, GetRunTask) and its manifest (CloudWatch Logs)."""
    view = run_view(omics, run_id)
    return price_run(
        view, read_manifest(logs, run_id, view.uuid), prices, headroom=headroom, now=now
    )


def price_run(
    view: RunView,
    manifest: RunManifest | None,
    prices: PriceTable,
    *,
    headroom: float = DEFAULT_HEADROOM,
    now: dt.datetime | None = None,
) -> CostReport:
    """The cost of a run at the table's prices, and right-sizing advice.

    Task time comes from the manifest's ``runningSeconds`` (else the task's start and stop), its
    instance type from the manifest or the API (else the type its request fits); storage from
    the manifest (else the run). Without a manifest (the run has not ended) there is no advice.

    Raises:
        UserError: negative ``headroom``.
    """
    if headroom < 0:
        raise UserError(f"headroom must be 0 or more, not {headroom}")
    now = now or dt.datetime.now(dt.UTC)
    missing: list[str] = []
    notes: list[str] = []
    tasks = _task_costs(view, manifest, prices, now, missing)
    storage = _storage_cost(view, manifest, prices, now, missing)
    advice: list[Advice] = []
    if manifest is None:
        notes.append(
            "no run manifest (HealthOmics writes it to manifest/run/{id}/{uuid} when the run "
            "ends): costs from the API, no right-sizing"
        )
    else:
        skipped = []
        for usage in manifest.tasks:
            if usage.status not in (None, "COMPLETED"):
                skipped.append(f"{usage.name} ({usage.status})")
                continue
            item = right_size(usage, view.region, prices, headroom)
            if item is not None:
                advice.append(item)
        if skipped:
            notes.append(
                "no right-sizing for tasks that did not complete (their usage says little): "
                + ", ".join(skipped)
            )
    if view.region and view.region not in prices.regions():
        notes.append(f"the price table has no region {view.region} ({prices.describe()})")
    return CostReport(
        run_id=view.run_id,
        status=view.status,
        region=view.region,
        prices=prices.describe(),
        manifest=manifest.stream if manifest else None,
        tasks=tasks,
        storage=storage,
        advice=advice,
        missing=missing,
        notes=notes,
    )


def instance_specs(name: str | None) -> str:
    """``"2 vCPU, 4 GiB"`` for a known type, else ``""``."""
    itype = BY_NAME.get(name or "")
    return f"{itype.cpus} vCPU, {itype.memory_gib} GiB" if itype else ""
