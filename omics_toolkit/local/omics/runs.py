"""Runs and run tasks, executed with miniwdl on the host.

API operations: StartRun, GetRun, ListRuns, CancelRun, DeleteRun, ListRunTasks, GetRunTask.

Lifecycle (worker thread): PENDING -> STARTING (inputs staged: ``s3://`` downloaded from moto,
``omics://`` reference / read set URIs resolved to the emulator's files) -> RUNNING (``python -m WDL
run`` subprocess with ``MINIWDL__SCHEDULER__CONTAINER_BACKEND=omics_toolkit_host``) -> COMPLETED
(outputs uploaded to ``{outputUri}/{runId}/out/{output}/[{i}/]{file}`` and
``{outputUri}/{runId}/logs/outputs.json``) or FAILED (``failureReason``/``statusMessage`` name the
failed task and the tail of its stderr; an injected job fault, see ``faults``, fails the run once
it is RUNNING, before miniwdl starts). CancelRun: STOPPING, the process group is killed,
CANCELLED. Run directory: ``<state_dir>/runs/<runId>/`` (``inputs/``, ``inputs.json``, ``wdl/``).

Container images: as HealthOmics does, every task's evaluated ``runtime.docker`` is resolved
through the workflow's ``containerRegistryMap`` and must be a private ECR image of the run's region
that ``omics.amazonaws.com`` may pull (repository policy, or a pull through cache rule with the
registry policy and repository creation template it needs) -- checked in moto ECR by the host
backend (:class:`omics_toolkit.local.wdl_host.ImageCheck`). A task that fails the check is FAILED
with ``failureReason`` ``INVALID_ECR_IMAGE_URI`` or ``ECR_PERMISSION_ERROR`` (run failure reasons
of https://docs.aws.amazon.com/omics/latest/dev/workflows-run-errors.html) and the run fails with
the same reason. GetRunTask ``imageDetails`` gives the source and resolved image. The check is on
unless the emulator's environment has ``OMICS_TOOLKIT_LOCAL_CHECK_IMAGES=0`` (read at each run).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omics_toolkit.local.omics.backend import find_by_client_token, paginate
from omics_toolkit.local.omics.cwlogs import LOG_GROUP, RunLogs
from omics_toolkit.local.omics.errors import OmicsError, conflict, invalid
from omics_toolkit.local.omics.model import format_timestamp, now_iso, parse_iso
from omics_toolkit.local.omics.s3io import SourceError, download, upload
from omics_toolkit.local.omics.workflows import resolve_definition

if TYPE_CHECKING:
    from omics_toolkit.local.omics.backend import Backend

log = logging.getLogger(__name__)

RUNS = "runs"
ACTIVE = ("PENDING", "STARTING", "RUNNING", "STOPPING")
#: Emulator setting: "0"/"false"/"no"/"off" turns the run-time container image check off.
CHECK_IMAGES_ENV = "OMICS_TOOLKIT_LOCAL_CHECK_IMAGES"
#: Per-run configuration of the image check, in the run directory.
IMAGE_CHECK_CONFIG = "image_check.json"
POLL_SECONDS = 0.25
CONTAINER_BACKEND = "omics_toolkit_host"
_OMICS_URI = re.compile(
    r"^omics://(?P<account>\d{12})\.storage\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<store>\d+)/(?P<kind>reference|readSet)/(?P<id>\d+)(?:/(?P<part>source1|source2|index))?$"
)


def check_images_enabled() -> bool:
    """Whether runs check container images (``$OMICS_TOOLKIT_LOCAL_CHECK_IMAGES``, default on)."""
    value = os.environ.get(CHECK_IMAGES_ENV, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def run_dir(b: Backend, run_id: str) -> Path:
    """``<state_dir>/runs/<runId>``."""
    return b.state_dir / "runs" / run_id


class RunFailure(Exception):
    """A run failed: ``reason`` (failureReason) and ``message`` (statusMessage)."""

    #: GetRun ``failureReason`` is at most 64 characters (FailureReason shape); the whole text
    #: goes to ``statusMessage``.
    MAX_REASON = 64

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(reason)
        self.message = message or reason
        self.reason = _clip(reason, self.MAX_REASON)


# ---------------------------------------------------------------------- API handlers
def start_run(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartRun: check workflow (exists, ACTIVE), parameters vs the parameter template, queue.

    Same ``requestId`` returns the run already started. Errors: ResourceNotFoundException
    (workflow), ValidationException (not ACTIVE, unknown/missing parameter, bad outputUri).
    """
    existing = find_by_client_token(b, RUNS, p["requestId"], field="_requestId")
    if existing:
        return existing
    source_run = None
    if p.get("runId"):
        source_run = b.require(RUNS, p["runId"], "Run")
    workflow_id = p.get("workflowId") or (source_run or {}).get("workflowId")
    if not workflow_id:
        raise invalid("workflowId is required")
    if p.get("workflowType") == "READY2RUN":
        raise invalid("the local HealthOmics emulator has no READY2RUN workflows")
    version = p.get("workflowVersionName") or (source_run or {}).get("workflowVersionName")
    definition = resolve_definition(b, workflow_id, version)
    parameters = p.get("parameters")
    if parameters is None and source_run is not None:
        parameters = source_run.get("parameters")
    parameters = parameters or {}
    if not isinstance(parameters, dict):
        raise invalid("parameters must be a JSON object")
    template = definition.get("parameterTemplate") or {}
    unknown = sorted(k for k in parameters if k not in template)
    if unknown:
        raise invalid(
            f"Parameter(s) not defined in the parameter template of workflow {workflow_id}: "
            + ", ".join(unknown)
        )
    missing = sorted(
        k for k, v in template.items() if not (v or {}).get("optional") and k not in parameters
    )
    if missing:
        raise invalid(
            f"Missing required parameter(s) for workflow {workflow_id}: " + ", ".join(missing)
        )
    from omics_toolkit.local.omics.run_groups import resolve_run_options

    run_options = resolve_run_options(b, p)
    # Run storage: the run's type, else the workflow's, else STATIC (the documented default).
    storage_type = p.get("storageType") or definition.get("storageType") or "STATIC"
    capacity = p.get("storageCapacity") or definition.get("storageCapacity")
    if storage_type == "DYNAMIC":
        capacity = None
    else:
        # StartRun rounds a STATIC capacity up to a multiple of 1200 GiB (default 1200 GiB).
        from omics_toolkit.runs.pricing import static_capacity_gib

        capacity = static_capacity_gib(capacity)
    registry_map = definition.get("containerRegistryMap")
    if registry_map is None:
        registry_map = definition.get("_effectiveContainerRegistryMap")
    output_uri = p["outputUri"]
    if not output_uri.startswith("s3://"):
        raise invalid(f"outputUri {output_uri} must be an s3:// URI")
    ident = b.state.new_numeric_id(RUNS, 7)
    rec = {
        "id": ident,
        "arn": b.arn(f"run/{ident}"),
        "uuid": str(uuid.uuid4()),
        "status": "PENDING",
        "workflowId": workflow_id,
        "workflowType": "PRIVATE",
        "workflowVersionName": version,
        "workflowUuid": definition.get("uuid"),
        "runId": p.get("runId"),
        "roleArn": p["roleArn"],
        "name": p.get("name"),
        **run_options,
        "priority": p.get("priority"),
        "definition": definition.get("_definitionUri") or "definition.zip",
        "digest": definition.get("digest"),
        "parameters": parameters,
        "storageCapacity": capacity,
        "storageType": storage_type,
        "outputUri": output_uri,
        "runOutputUri": f"{output_uri.rstrip('/')}/{ident}",
        "logLevel": p.get("logLevel"),
        "retentionMode": p.get("retentionMode") or "RETAIN",
        "startedBy": f"arn:aws:iam::{b.account_id}:user/local",
        "creationTime": now_iso(),
        "logLocation": {"engineLogStream": f"run/{ident}/engine", "runLogStream": f"run/{ident}"},
        "networkingMode": p.get("networkingMode") or "RESTRICTED",
        "workflowName": definition.get("name"),
        "_requestId": p["requestId"],
        "_workflowName": definition.get("_workflowName"),
        "_main": str(Path(definition["_definitionDir"]) / definition["main"]),
        "_engine": definition.get("engine"),
        "_containerRegistryMap": registry_map or {},
        "_tasks": {},
    }
    b.state.put(RUNS, ident, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    rec["tags"] = b.tags_of(rec["arn"])
    b.submit(b.runner.execute, ident)
    return rec


def get_run(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetRun."""
    rec = b.require(RUNS, p["id"], "Run")
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def list_runs(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListRuns, newest first, filtered by name/status/runGroupId."""
    items = [
        r
        for r in reversed(b.state.values(RUNS))
        if (not p.get("name") or r.get("name") == p["name"])
        and (not p.get("status") or r["status"] == p["status"])
        and (not p.get("runGroupId") or r.get("runGroupId") == p["runGroupId"])
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("startingToken"))
    return {"items": page, "nextToken": nxt}


def cancel_run(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CancelRun: STOPPING, the miniwdl process group is killed, then CANCELLED.

    ConflictException when the run already ended.
    """
    rec = b.require(RUNS, p["id"], "Run")
    if rec["status"] not in ("PENDING", "STARTING", "RUNNING"):
        raise conflict(f"Run {p['id']} cannot be cancelled in status {rec['status']}")
    b.state.update(RUNS, p["id"], status="STOPPING")
    b.runner.cancel(p["id"])
    return {}


def delete_run(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteRun: only for ended runs (ConflictException otherwise)."""
    rec = b.require(RUNS, p["id"], "Run")
    if rec["status"] in ACTIVE:
        raise conflict(f"Run {p['id']} is {rec['status']}; cancel it before deleting")
    b.state.delete(RUNS, p["id"])
    return {}


def list_run_tasks(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListRunTasks (status filter), in order of first appearance."""
    rec = b.require(RUNS, p["id"], "Run")
    tasks = sorted(
        rec.get("_tasks", {}).values(), key=lambda t: (t.get("creationTime") or "", t["taskId"])
    )
    if p.get("status"):
        tasks = [t for t in tasks if t["status"] == p["status"]]
    page, nxt = paginate(tasks, p.get("maxResults"), p.get("startingToken"))
    return {"items": page, "nextToken": nxt}


def get_run_task(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetRunTask."""
    rec = b.require(RUNS, p["id"], "Run")
    for task in rec.get("_tasks", {}).values():
        if task["taskId"] == p["taskId"]:
            return task
    raise OmicsError("ResourceNotFoundException", f"Task {p['taskId']} of run {p['id']} not found")


# ---------------------------------------------------------------------- execution
class RunManager:
    """Executes runs as miniwdl subprocesses and mirrors their tasks into the run record."""

    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._cancelled: set[str] = set()
        self._storage: dict[str, _StorageSampler] = {}
        self._lock = threading.Lock()
        #: Serialises run-group admission (count the group's active runs, then start one).
        self._group_lock = threading.Lock()

    def cancel(self, run_id: str) -> None:
        """Flag a run cancelled and kill its process group (if started)."""
        with self._lock:
            self._cancelled.add(run_id)
            proc = self._procs.get(run_id)
        if proc is not None:
            _kill(proc)

    def kill_all(self) -> None:
        """Kill every running miniwdl process (local stack stop)."""
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            _kill(proc)

    def _is_cancelled(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._cancelled

    def execute(self, run_id: str) -> None:
        """Worker-thread body of one run (see module docstring)."""
        b = self.b
        logs = RunLogs(b.client("logs"))
        stream = f"run/{run_id}"
        rec = b.state.get(RUNS, run_id)
        if rec is None or rec["status"] != "PENDING":
            return
        try:
            self._wait_for_run_group(rec)
            if self._is_cancelled(run_id):
                raise _Cancelled()
            b.state.update(RUNS, run_id, status="STARTING")
            logs.put(stream, [f"Run {run_id} STARTING"])
            folder = run_dir(b, run_id)
            folder.mkdir(parents=True, exist_ok=True)
            inputs = self._stage_inputs(rec, folder)
            (folder / "inputs.json").write_text(json.dumps(inputs, indent=1))
            if self._is_cancelled(run_id):
                raise _Cancelled()
            b.state.update(RUNS, run_id, status="RUNNING", startTime=now_iso())
            with self._lock:
                self._storage[run_id] = _StorageSampler(folder)
            logs.put(stream, [f"Run {run_id} RUNNING"])
            self._injected_fault(rec)
            rc = self._run_miniwdl(rec, folder, logs)
            if self._is_cancelled(run_id):
                raise _Cancelled()
            if b.stopping.is_set():
                raise RunFailure("interrupted by local stack stop")
            if rc != 0:
                raise self._diagnose(run_id, folder, rc)
            outputs = self._upload_outputs(rec, folder)
            self._finish(run_id, logs, "COMPLETED", f"Run {run_id} COMPLETED", _outputs=outputs)
        except _Cancelled:
            self._sync_tasks(run_id, run_dir(b, run_id) / "wdl", logs, final="CANCELLED")
            self._finish(
                run_id,
                logs,
                "CANCELLED",
                f"Run {run_id} CANCELLED",
                statusMessage="Run cancelled by user",
            )
        except RunFailure as exc:
            self._sync_tasks(run_id, run_dir(b, run_id) / "wdl", logs, final="FAILED")
            self._finish(
                run_id,
                logs,
                "FAILED",
                f"Run {run_id} FAILED: {exc.message}",
                failureReason=exc.reason,
                statusMessage=exc.message,
            )
        except Exception as exc:  # an emulator bug must still end the run
            log.exception("run %s crashed", run_id)
            self._finish(
                run_id,
                logs,
                "FAILED",
                None,
                failureReason="INTERNAL_SERVICE_ERROR",
                statusMessage=f"emulator error: {exc}",
            )
        finally:
            with self._lock:
                self._procs.pop(run_id, None)
                self._cancelled.discard(run_id)
                self._storage.pop(run_id, None)

    def _wait_for_run_group(self, rec: dict[str, Any]) -> None:
        """Keep a run PENDING while its run group already has ``maxRuns`` runs STARTING or
        RUNNING (the group's concurrency limit). ``maxCpus``, ``maxGpus`` and ``maxDuration``
        are recorded but not enforced by the emulator."""
        from omics_toolkit.local.omics.run_groups import RUN_GROUPS

        group_id = rec.get("runGroupId")
        if not group_id:
            return
        while not (self._is_cancelled(rec["id"]) or self.b.stopping.is_set()):
            group = self.b.state.get(RUN_GROUPS, group_id) or {}
            limit = group.get("maxRuns")
            with self._group_lock:
                active = [
                    r
                    for r in self.b.state.values(RUNS)
                    if r.get("runGroupId") == group_id
                    and r["status"] in ("STARTING", "RUNNING", "STOPPING")
                ]
                if not limit or len(active) < limit:
                    self.b.state.update(RUNS, rec["id"], status="STARTING")
                    return
            time.sleep(POLL_SECONDS)

    def _finish(
        self, run_id: str, logs: RunLogs, status: str, line: str | None, **fields: Any
    ) -> None:
        """End a run: write its manifest and its last status line, then the state (so a caller
        that sees the final status finds both logs already written)."""
        fields.update(status=status, stopTime=now_iso())
        rec = self.b.state.get(RUNS, run_id) or {}
        cache_dir = call_cache_dir(self.b, rec)
        if cache_dir is not None:
            _drop_workflow_entries(cache_dir, rec)
            if status == "COMPLETED" and rec.get("cacheBehavior") == "CACHE_ON_FAILURE":
                _drop_cache_entries(cache_dir, run_dir(self.b, run_id))
        try:
            self._write_manifest(run_id, fields, logs)
        except Exception:  # noqa: BLE001 - the manifest must never keep a run from ending
            log.exception("run %s: manifest not written", run_id)
        if line:
            logs.put(f"run/{run_id}", [line])
        self.b.state.update(RUNS, run_id, **fields)

    def _injected_fault(self, rec: dict[str, Any]) -> None:
        """Apply a job fault rule for this run (``faults``): stay RUNNING ``delay_seconds`` longer,
        then fail with the rule's message as ``failureReason``/``statusMessage``."""
        run_id = rec["id"]
        fields = {k: v for k, v in rec.items() if not k.startswith("_")}
        fields["requestId"] = rec.get("_requestId")
        hit = self.b.faults.take_job("run", fields=fields)
        if hit is None:
            return
        hit.rule.pause(lambda: self._is_cancelled(run_id) or self.b.stopping.is_set())
        if self._is_cancelled(run_id):
            raise _Cancelled()
        if self.b.stopping.is_set():
            raise RunFailure("interrupted by local stack stop")
        if hit.fail:
            raise RunFailure(hit.fail)

    # -- inputs
    def _stage_inputs(self, rec: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Map run parameters to miniwdl inputs ``<Workflow>.<param>``, localising URIs."""
        staged = folder / "inputs"
        counter = [0]

        def localise(value: Any) -> Any:
            if isinstance(value, str) and value.startswith("s3://"):
                counter[0] += 1
                name = value.rstrip("/").rsplit("/", 1)[-1]
                try:
                    return str(
                        download(self.b.client("s3"), value, staged / str(counter[0]) / name)
                    )
                except SourceError as exc:
                    raise RunFailure(f"input {value} not readable", str(exc)) from exc
            if isinstance(value, str) and value.startswith("omics://"):
                return self._resolve_omics(value)
            if isinstance(value, list):
                return [localise(v) for v in value]
            if isinstance(value, dict):
                return {k: localise(v) for k, v in value.items()}
            return value

        prefix = rec.get("_workflowName") or "main"
        return {f"{prefix}.{k}": localise(v) for k, v in (rec.get("parameters") or {}).items()}

    def _resolve_omics(self, uri: str) -> str:
        m = _OMICS_URI.match(uri)
        if not m:
            raise RunFailure("invalid omics:// URI", f"{uri}: not a reference or read set URI")
        b = self.b
        if m["account"] != b.account_id:
            raise RunFailure(
                "input not accessible", f"{uri}: account {m['account']} is not {b.account_id}"
            )
        if m["kind"] == "reference":
            ref = b.state.get("references", m["id"])
            if ref is None or ref["referenceStoreId"] != m["store"]:
                raise RunFailure("input not found", f"{uri}: reference {m['id']} not found")
            path = ref["_path"]
            return path + ".fai" if m["part"] == "index" else path
        rs = b.state.get("readSets", m["id"])
        if rs is None or rs["sequenceStoreId"] != m["store"]:
            raise RunFailure("input not found", f"{uri}: read set {m['id']} not found")
        part = m["part"] or "source1"
        path = rs.get("_paths", {}).get(part)
        if not path:
            raise RunFailure("input not found", f"{uri}: read set {m['id']} has no {part}")
        return str(path)

    # -- miniwdl
    def _run_miniwdl(self, rec: dict[str, Any], folder: Path, logs: RunLogs) -> int:
        run_id = rec["id"]
        wdl_dir = folder / "wdl"
        wdl_dir.mkdir(exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "WDL",
            "run",
            rec["_main"],
            "-i",
            str(folder / "inputs.json"),
            "--dir",
            f"{wdl_dir}/.",
            "--no-color",
            "--error-json",
            "-o",
            str(folder / "result.json"),
        ]
        if rec.get("_engine") == "WDL_LENIENT":
            cmd.append("--no-quant-check")
        env = dict(os.environ)
        env.update(
            MINIWDL__SCHEDULER__CONTAINER_BACKEND=CONTAINER_BACKEND,
            MINIWDL__CALL_CACHE__GET="false",
            MINIWDL__CALL_CACHE__PUT="false",
            NO_COLOR="1",
        )
        cache_dir = call_cache_dir(self.b, rec)
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            _drop_workflow_entries(cache_dir, rec)
            env.update(
                MINIWDL__CALL_CACHE__GET="true",
                MINIWDL__CALL_CACHE__PUT="true",
                MINIWDL__CALL_CACHE__DIR=str(cache_dir),
            )
        from omics_toolkit.local.wdl_host import IMAGE_CHECK_ENV

        env.pop(IMAGE_CHECK_ENV, None)
        if check_images_enabled():
            config = folder / IMAGE_CHECK_CONFIG
            config.write_text(
                json.dumps(
                    {
                        "account": self.b.account_id,
                        "region": self.b.region,
                        "ecrEndpoint": self.b.moto_endpoint,
                        "registryMap": rec.get("_containerRegistryMap") or {},
                        "runArn": rec["arn"],
                    },
                    indent=1,
                )
            )
            env[IMAGE_CHECK_ENV] = str(config)
        engine_log = folder / "engine.log"
        with engine_log.open("wb") as err, (folder / "engine.stdout").open("wb") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=err, env=env, cwd=folder, start_new_session=True
            )
            with self._lock:
                self._procs[run_id] = proc
                cancelled = run_id in self._cancelled
            if cancelled:
                _kill(proc)
            sampler = self._storage.get(run_id)
            while proc.poll() is None:
                time.sleep(POLL_SECONDS)
                self._sync_tasks(run_id, wdl_dir, logs)
                if sampler is not None:
                    sampler.sample()
        self._sync_tasks(run_id, wdl_dir, logs)
        logs.put(f"run/{run_id}/engine", engine_log.read_text(errors="replace").splitlines())
        return proc.returncode

    def _sync_tasks(
        self, run_id: str, wdl_dir: Path, logs: RunLogs, final: str | None = None
    ) -> None:
        """Mirror miniwdl call directories (``call-*`` with ``task.log``) into run tasks."""
        rec = self.b.state.get(RUNS, run_id)
        if rec is None:
            return
        tasks: dict[str, Any] = rec.get("_tasks", {})
        changed = False
        for task_log in sorted(wdl_dir.rglob("task.log")) if wdl_dir.is_dir() else []:
            call_dir = task_log.parent
            if not call_dir.name.startswith("call-"):
                continue
            key = str(call_dir.relative_to(wdl_dir))
            task = tasks.get(key)
            if task is None:
                task_id = str(int(time.time() * 1000) % 9_000_000 + 1_000_000 + len(tasks))
                while any(t["taskId"] == task_id for t in tasks.values()):
                    task_id = str(int(task_id) + 1)
                created = format_timestamp(call_dir.stat().st_mtime)
                task = {
                    "taskId": task_id,
                    "name": call_dir.name[len("call-") :],
                    "status": "RUNNING",
                    "creationTime": created,
                    "startTime": created,
                    "logStream": f"arn:aws:logs:{self.b.region}:{self.b.account_id}:log-group:{LOG_GROUP}:log-stream:run/{run_id}/task/{task_id}",
                    "cacheHit": False,
                    "gpus": 0,
                    "uuid": str(uuid.uuid4()),
                    "_logged": False,
                }
                tasks[key] = task
                changed = True
            if task["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                continue
            status, details = _task_state(call_dir, final, self.b.region)
            if status == "FAILED" and (final == "CANCELLED" or self._is_cancelled(run_id)):
                status = "CANCELLED"
            if status == "COMPLETED" and "done (cached)" in task_log.read_text(errors="replace"):
                details["cacheHit"] = True  # miniwdl served the outputs from the run cache
            if status != task["status"] or details:
                task.update(details)
                task["status"] = status
                changed = True
            if status in ("COMPLETED", "FAILED", "CANCELLED") and not task["_logged"]:
                lines = []
                for name in ("stdout.txt", "stderr.txt"):
                    f = call_dir / name
                    if f.exists():
                        lines += f.read_text(errors="replace").splitlines()
                if task.get("failureReason"):
                    lines.append(f"{task['failureReason']}: {task.get('statusMessage', '')}")
                logs.put(
                    f"run/{run_id}/task/{task['taskId']}",
                    lines or [f"task {task['name']} {status}"],
                )
                task["_logged"] = True
        if changed:
            self.b.state.update(RUNS, run_id, _tasks=tasks)

    def _diagnose(self, run_id: str, folder: Path, rc: int) -> RunFailure:
        """Build the failure from the failed task (name + stderr tail) or miniwdl's error JSON."""
        rec = self.b.state.get(RUNS, run_id) or {}
        wdl_dir = folder / "wdl"
        failed = [t for t in (rec.get("_tasks") or {}).values() if t["status"] == "FAILED"]
        for task in failed:
            if task.get("failureReason"):
                return RunFailure(
                    task["failureReason"],
                    f"Task {task['name']} failed: {task.get('statusMessage') or task['failureReason']}",
                )
        for key, task in (rec.get("_tasks") or {}).items():
            if task["status"] == "FAILED":
                tail = _tail(wdl_dir / key / "stderr.txt")
                reason = f"Task {task['name']} failed"
                if task.get("_exitStatus") is not None:
                    reason += f" (exit status {task['_exitStatus']})"
                message = f"{reason}: {tail}" if tail else reason
                return RunFailure(
                    f"{reason}: {tail.splitlines()[-1] if tail else ''}".rstrip(": "), message
                )
        for candidate in (folder / "result.json", wdl_dir / "error.json"):
            try:
                err = json.loads(candidate.read_text())
            except (OSError, ValueError):
                continue
            if "error" in err:
                text = f"{err.get('error')}: {err.get('message', '')}".strip()
                cause = err.get("cause") or {}
                if cause:
                    text += f" ({cause.get('error', '')}: {cause.get('message', '')})"
                return RunFailure(text.splitlines()[0][:256], text)
        tail = _tail(folder / "engine.log")
        return RunFailure(f"workflow engine exited with status {rc}", tail or None)

    # -- run manifest
    def _write_manifest(self, run_id: str, final: dict[str, Any], logs: RunLogs) -> None:
        """Write the run manifest, stream ``manifest/run/{runId}/{runUuid}``: one JSON event for
        the run, then one per task (field names: :mod:`omics_toolkit.runs.manifest`).

        Reserved resources are the task's request; used resources are what the host backend
        measured (``host_resources.json``): ``cpusAverage`` = cpu seconds / wall seconds,
        ``cpusMaximum`` = the fastest one-second-or-longer window (the average for a task shorter
        than a window), ``memoryMaximumGiB`` = the peak resident set of the task's process tree
        (the shell's ``ru_maxrss`` when no sample caught it), ``memoryAverageGiB`` = the
        time-weighted mean resident set (the maximum when no sample caught it). Run storage:
        ``storageMaximumGiB``/``storageAverageGiB`` of the run directory, sampled while it runs.
        """
        rec = self.b.state.get(RUNS, run_id)
        if rec is None:
            return
        rec = {**rec, **final}
        wdl_dir = run_dir(self.b, run_id) / "wdl"
        events = [json.dumps(self._manifest_run(rec), separators=(",", ":"))]
        tasks = sorted(
            (rec.get("_tasks") or {}).items(),
            key=lambda kv: (kv[1].get("creationTime") or "", kv[1]["taskId"]),
        )
        for key, task in tasks:
            events.append(
                json.dumps(self._manifest_task(task, wdl_dir / key), separators=(",", ":"))
            )
        logs.put(f"manifest/run/{run_id}/{rec['uuid']}", events)

    def _manifest_run(self, rec: dict[str, Any]) -> dict[str, Any]:
        from omics_toolkit.runs.pricing import static_capacity_gib

        start, stop = rec.get("startTime"), rec.get("stopTime")
        metrics: dict[str, Any] = {
            "runningSeconds": _span_seconds(start, stop),
        }
        sampler = self._storage.get(rec["id"])
        if sampler is not None:
            sampler.sample(force=True)
            metrics["storageMaximumGiB"] = round(sampler.maximum / 2**30, 6)
            metrics["storageAverageGiB"] = round(sampler.average() / 2**30, 6)
        if rec.get("storageType") == "STATIC":
            metrics["storageReservedGiB"] = static_capacity_gib(rec.get("storageCapacity"))
        out = {
            "arn": rec["arn"],
            "uuid": rec["uuid"],
            "name": rec.get("name"),
            "workflow": self.b.arn(f"workflow/{rec['workflowId']}"),
            "workflowVersionName": rec.get("workflowVersionName"),
            "digest": rec.get("digest"),
            "status": rec.get("status"),
            "failureReason": rec.get("failureReason"),
            "statusMessage": rec.get("statusMessage"),
            "roleArn": rec.get("roleArn"),
            "startedBy": rec.get("startedBy"),
            "outputUri": rec.get("outputUri"),
            "parameters": rec.get("parameters") or {},
            "storageType": rec.get("storageType"),
            "storageCapacity": rec.get("storageCapacity"),
            "creationTime": _manifest_time(rec.get("creationTime")),
            "startTime": _manifest_time(start),
            "stopTime": _manifest_time(stop),
            "metrics": metrics,
        }
        return {k: v for k, v in out.items() if v is not None}

    def _manifest_task(self, task: dict[str, Any], call_dir: Path) -> dict[str, Any]:
        from omics_toolkit.local.wdl_host import RESOURCES_FILE

        cpus, memory = task.get("cpus") or 1, task.get("memory") or 1
        metrics: dict[str, Any] = {
            "cpusReserved": cpus,
            "memoryReservedGiB": memory,
            "gpusReserved": task.get("gpus") or 0,
        }
        res = _read_json(call_dir / RESOURCES_FILE)
        if res is not None:
            wall = float(res.get("wall_seconds") or 0.0)
            average = res.get("cpu_average")
            if average is None:
                average = float(res.get("cpu_seconds") or 0.0) / wall if wall > 0 else 0.0
            maximum = res.get("cpu_maximum")
            peak = int(res.get("peak_rss_bytes") or 0) or int(res.get("ru_maxrss_bytes") or 0)
            mean = res.get("rss_average_bytes") or peak
            metrics.update(
                runningSeconds=round(wall, 3),
                cpusAverage=round(float(average), 6),
                cpusMaximum=round(float(average if maximum is None else maximum), 6),
                memoryAverageGiB=round(int(mean) / 2**30, 6),
                memoryMaximumGiB=round(peak / 2**30, 6),
            )
        out = {
            "arn": self.b.arn(f"task/{task['taskId']}"),
            "uuid": task.get("uuid"),
            "name": task.get("name"),
            "status": task.get("status"),
            "failureReason": task.get("failureReason"),
            "statusMessage": task.get("statusMessage"),
            "cpus": cpus,
            "memory": memory,
            "gpus": task.get("gpus") or 0,
            "instanceType": task.get("instanceType"),
            "image": (task.get("imageDetails") or {}).get("image"),
            "creationTime": _manifest_time(task.get("creationTime")),
            "startTime": _manifest_time(task.get("startTime") if res is not None else None),
            "stopTime": _manifest_time(task.get("stopTime") if res is not None else None),
            "metrics": metrics,
        }
        return {k: v for k, v in out.items() if v is not None}

    # -- outputs
    def _upload_outputs(self, rec: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Upload file outputs; write ``logs/outputs.json``; return its mapping."""
        try:
            result = json.loads((folder / "result.json").read_text())
        except (OSError, ValueError) as exc:
            raise RunFailure(
                "workflow outputs missing", f"cannot read miniwdl outputs: {exc}"
            ) from exc
        outputs = result.get("outputs", {})
        base = rec["runOutputUri"]
        s3 = self.b.client("s3")

        def put(value: Any, prefix: str) -> Any:
            if isinstance(value, str) and os.path.isabs(value) and os.path.exists(value):
                path = Path(value)
                if path.is_dir():
                    for f in sorted(p for p in path.rglob("*") if p.is_file()):
                        upload(s3, f, f"{prefix}/{path.name}/{f.relative_to(path)}")
                    return f"{prefix}/{path.name}/"
                return upload(s3, path, f"{prefix}/{path.name}")
            if isinstance(value, list):
                return [put(v, f"{prefix}/{i}") for i, v in enumerate(value)]
            if isinstance(value, dict):
                return {k: put(v, f"{prefix}/{k}") for k, v in value.items()}
            return value

        mapping: dict[str, Any] = {}
        try:
            for key, value in outputs.items():
                name = key.split(".", 1)[1] if "." in key else key
                mapping[key] = put(value, f"{base}/out/{name}")
            summary = folder / "outputs.json"
            summary.write_text(json.dumps(mapping, indent=1))
            upload(s3, summary, f"{base}/logs/outputs.json")
        except SourceError as exc:
            raise RunFailure("output upload failed", str(exc)) from exc
        return mapping


class _Cancelled(Exception):
    pass


def call_cache_dir(b: Backend, rec: dict[str, Any]) -> Path | None:
    """The miniwdl call cache of the run's run cache (``<state_dir>/runCaches/<cacheId>/``), or
    ``None`` for a run without ``cacheId``.

    HealthOmics call caching reuses a task's outputs when the same task runs again on the same
    inputs. The emulator uses miniwdl's own call cache for it: the key is the task's digest and
    its input values, and an entry is dropped when a file it names changed. File inputs are keyed
    by their local path, so tasks on the reference (one path per reference) or on the same read
    set hit; inputs staged from S3 are downloaded per run and do not. Entries are kept in the
    emulator's state directory, not in the cache's S3 location.
    """
    if not rec.get("cacheId"):
        return None
    return b.state_dir / "runCaches" / str(rec["cacheId"])


def _drop_workflow_entries(cache_dir: Path, rec: dict[str, Any]) -> None:
    """HealthOmics caches tasks, not whole runs: remove miniwdl's workflow-level entries
    (``<cache>/<WorkflowName>/...``), which would otherwise replay a whole run without tasks."""
    name = rec.get("_workflowName")
    if name and (cache_dir / name).is_dir():
        shutil.rmtree(cache_dir / name, ignore_errors=True)


def _drop_cache_entries(cache_dir: Path | None, folder: Path) -> None:
    """CACHE_ON_FAILURE keeps the task outputs of failed runs only: remove the cache entries
    whose outputs lie in a completed run's directory ``folder``."""
    if cache_dir is None or not cache_dir.is_dir():
        return
    marker = str(folder.resolve()) + os.sep
    for entry in cache_dir.rglob("*.json"):
        try:
            if marker in entry.read_text(errors="replace"):
                entry.unlink()
        except OSError:
            pass


#: Seconds between two measurements of a run directory's size.
STORAGE_SAMPLE_SECONDS = 5.0


def _tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (allocated blocks; symlinks not followed)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += st.st_blocks * 512
    return total


class _StorageSampler:
    """The run directory's size over time (every ``every`` seconds, and on demand): its maximum
    and time-weighted mean (bytes)."""

    def __init__(self, folder: Path, every: float = STORAGE_SAMPLE_SECONDS) -> None:
        self.folder = folder
        self.every = every
        self.maximum = 0
        self._first: float | None = None
        self._last: tuple[float, int] | None = None
        self._area = 0.0

    def sample(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self._last is not None and now - self._last[0] < self.every:
            return
        size = _tree_bytes(self.folder)
        if self._last is None:
            self._first = now
        else:  # trapezoids: the size is taken to change linearly between samples
            self._area += (self._last[1] + size) / 2 * (now - self._last[0])
        self._last = (now, size)
        self.maximum = max(self.maximum, size)

    def average(self) -> float:
        if self._last is None or self._first is None:
            return 0.0
        span = self._last[0] - self._first
        return self._area / span if span > 0 else float(self._last[1])


def _manifest_time(value: str | None) -> str | None:
    """A stored timestamp as the manifest writes it: ``2024-01-15T10:00:00.000Z``."""
    if not value:
        return None
    return (
        parse_iso(value).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{parse_iso(value).microsecond // 1000:03d}Z"
    )


def _span_seconds(start: str | None, stop: str | None) -> float:
    if not start or not stop:
        return 0.0
    return round((parse_iso(stop) - parse_iso(start)).total_seconds(), 3)


def _task_state(
    call_dir: Path, final: str | None, region: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Status and resource details of one miniwdl call directory.

    ``cpus``/``memory`` are the task's requested runtime (``task_request.json`` of the host
    backend, written before the command runs; HealthOmics' defaults of 1 vCPU and 1 GiB when the
    task requests none), rounded up as HealthOmics rounds them; ``instanceType`` is the smallest
    HealthOmics instance type that fits them (:func:`omics_toolkit.runs.instances.instance_for`).
    """
    from omics_toolkit.local.wdl_host import IMAGE_RESULT_FILE, REQUEST_FILE, RESOURCES_FILE

    details: dict[str, Any] = {}
    image = _read_json(call_dir / IMAGE_RESULT_FILE)
    if image:
        shown = {"image": image.get("image")}
        if image.get("sourceImage") and image.get("sourceImage") != image.get("image"):
            shown["sourceImage"] = image["sourceImage"]
        details["imageDetails"] = {k: v for k, v in shown.items() if v}
    res = _read_json(call_dir / RESOURCES_FILE)
    request = res or _read_json(call_dir / REQUEST_FILE)
    if request is not None:
        details.update(_reserved(request, region))
        if request.get("image") and "imageDetails" not in details:
            details["imageDetails"] = {"image": request["image"]}
    if image and image.get("failureReason"):
        details["failureReason"] = image["failureReason"]
        details["statusMessage"] = image.get("message") or image["failureReason"]
        details.setdefault("stopTime", now_iso())
        return "FAILED", details
    exit_status = None
    if res is not None:
        exit_status = res.get("exit_status")
        if res.get("started_at"):
            details["startTime"] = format_timestamp(parse_iso(res["started_at"]))
        if res.get("ended_at"):
            details["stopTime"] = format_timestamp(parse_iso(res["ended_at"]))
        details["_exitStatus"] = exit_status
    if (call_dir / "outputs.json").exists():
        return "COMPLETED", details
    if (call_dir / "error.json").exists() or (exit_status not in (None, 0)):
        tail = _tail(call_dir / "stderr.txt")
        details["statusMessage"] = tail or f"exit status {exit_status}"
        missing = _command_not_found(tail) if exit_status == 127 else None
        if missing:
            shown_image = (details.get("imageDetails") or {}).get("image") or "(none)"
            details["failureReason"] = _clip(
                f"{missing} not found (the local stack runs tasks on this machine)",
                RunFailure.MAX_REASON,
            )
            details["statusMessage"] = (
                f"{missing} not found: the local stack runs task commands on this machine, "
                f"not in the task's container image {shown_image}; put {missing} on the PATH "
                f"of the local stack (`omics-toolkit local start`) or run the workflow on AWS "
                f"HealthOmics. Task stderr: {tail.splitlines()[-1] if tail else ''}"
            )
        details.setdefault("stopTime", now_iso())
        if final == "CANCELLED" and exit_status is None:
            return "CANCELLED", details
        return "FAILED", details
    if final:
        details.setdefault("stopTime", now_iso())
        return ("CANCELLED" if final == "CANCELLED" else "FAILED"), details
    return "RUNNING", details


#: bash's message for a command missing from PATH: ``<script>: line N: gatk: command not found``.
_NOT_FOUND = re.compile(r"^(?:.*?: )?(?:line \d+: )?(?P<name>[^\s:]+): command not found\s*$", re.M)


def _command_not_found(stderr_tail: str) -> str | None:
    """The command bash could not find (the last such message), or ``None``."""
    names = [m["name"] for m in _NOT_FOUND.finditer(stderr_tail or "")]
    return names[-1] if names else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reserved(request: dict[str, Any], region: str | None) -> dict[str, Any]:
    """``cpus``, ``memory`` (GiB) and ``instanceType`` HealthOmics would reserve for a task's
    request (host backend record: ``requested_*``, else miniwdl's ``declared_*``)."""
    from omics_toolkit.runs.instances import instance_for, requested

    cpu = request.get("requested_cpu") or request.get("declared_cpu")
    mem_bytes = request.get("requested_memory_bytes") or request.get("declared_memory_bytes")
    cpus, memory = requested(cpu, int(mem_bytes) / 2**30 if mem_bytes else None)
    out: dict[str, Any] = {"cpus": cpus, "memory": memory}
    itype = instance_for(cpus, memory, region)
    if itype is not None:
        out["instanceType"] = itype.name
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _tail(path: Path, lines: int = 20, chars: int = 2000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])[-chars:]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL after 5 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return

    def reaper() -> None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    threading.Thread(target=reaper, daemon=True).start()


OPERATIONS = {
    "StartRun": start_run,
    "GetRun": get_run,
    "ListRuns": list_runs,
    "CancelRun": cancel_run,
    "DeleteRun": delete_run,
    "ListRunTasks": list_run_tasks,
    "GetRunTask": get_run_task,
}
