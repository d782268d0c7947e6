"""Run execution: a worker thread per run drives a miniwdl subprocess and mirrors its tasks.

Lifecycle (worker thread): PENDING -> STARTING (inputs staged: ``s3://`` downloaded from moto,
``omics://`` reference / read set URIs resolved to the emulator's files) -> RUNNING (a
``python -m healthomics_emulator.miniwdl_run`` subprocess, miniwdl's ``run`` with the host backend
``omics_toolkit_host`` registered) -> COMPLETED (outputs uploaded to
``{outputUri}/{runId}/out/{output}/[{i}/]{file}`` and ``{outputUri}/{runId}/logs/outputs.json``)
or FAILED (``failureReason``/``statusMessage`` name the failed task and the tail of its stderr).
See :mod:`healthomics_emulator.runs` for the API side.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthomics_emulator.cwlogs import LOG_GROUP, RunLogs
from healthomics_emulator.host_files import IMAGE_CHECK_ENV, RESOURCES_FILE
from healthomics_emulator.model import format_timestamp, now_iso
from healthomics_emulator.role_policy import AccessDenied, RolePolicies, s3_object_arn
from healthomics_emulator.s3io import SourceError, download, upload
from healthomics_facts.instances import static_capacity_gib

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend
from healthomics_emulator.run_groups import RUN_GROUPS
from healthomics_emulator.run_model import (
    _OMICS_URI,
    CONTAINER_BACKEND,
    IMAGE_CHECK_CONFIG,
    POLL_SECONDS,
    RUNS,
    RunFailure,
    check_images_enabled,
    run_dir,
)
from healthomics_emulator.run_tasks import (
    _drop_cache_entries,
    _drop_workflow_entries,
    _manifest_time,
    _read_json,
    _span_seconds,
    _StorageSampler,
    _tail,
    _task_state,
    call_cache_dir,
)

log = logging.getLogger(__name__)

#: Run failure reasons of the run role's permissions and their descriptions (HealthOmics "Run
#: failure reasons", https://docs.aws.amazon.com/omics/latest/dev/workflows-run-errors.html).
ASSUME_ROLE_FAILED = "ASSUME_ROLE_FAILED"
IMPORT_FAILED = "IMPORT_FAILED"
EXPORT_FAILED = "EXPORT_FAILED"
_REASONS = {
    ASSUME_ROLE_FAILED: "HealthOmics doesn't have permission to assume the role. Specify the "
    "HealthOmics principal in the trust relationship for the role.",
    IMPORT_FAILED: "The import failed. Check that the input file exists and the run role can "
    "access the input.",
    EXPORT_FAILED: "The export failed. Check that the output bucket exists and the run role has "
    "write permission to the bucket.",
}


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
            policies = self._role_policies(rec)
            inputs = self._stage_inputs(rec, folder, policies)
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
            outputs = self._upload_outputs(rec, folder, self._role_policies(rec))
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

    # -- the run role
    def _role_policies(self, rec: dict[str, Any]) -> RolePolicies | None:
        """The run role's identity policies (``None``: the check is off).

        Raises:
            RunFailure: ``ASSUME_ROLE_FAILED`` when the role is missing or does not trust
                HealthOmics (HealthOmics "Run failure reasons").
        """
        try:
            return self.b.role_policies(rec["roleArn"])
        except AccessDenied as exc:
            raise RunFailure(ASSUME_ROLE_FAILED, f"{_REASONS[ASSUME_ROLE_FAILED]} {exc}") from exc

    @staticmethod
    def _require(
        policies: RolePolicies | None, reason: str, action: str, resources: list[str]
    ) -> None:
        """``RunFailure(reason)`` unless the run role may ``action`` on every resource."""
        if policies is None:
            return
        try:
            policies.require(action, resources)
        except AccessDenied as exc:
            raise RunFailure(reason, f"{_REASONS[reason]} {exc}") from exc

    # -- inputs
    def _stage_inputs(
        self, rec: dict[str, Any], folder: Path, policies: RolePolicies | None = None
    ) -> dict[str, Any]:
        """Map run parameters to miniwdl inputs ``<Workflow>.<param>``, localising URIs; each
        is read as the run role (``s3:GetObject``; ``omics:GetReference`` /
        ``omics:GetReadSet`` on the child and its store), else ``IMPORT_FAILED``."""
        staged = folder / "inputs"
        counter = [0]

        def localise(value: Any) -> Any:
            if isinstance(value, str) and value.startswith("s3://"):
                self._require(policies, IMPORT_FAILED, "s3:GetObject", [s3_object_arn(value)])
                counter[0] += 1
                name = value.rstrip("/").rsplit("/", 1)[-1]
                try:
                    return str(
                        download(self.b.client("s3"), value, staged / str(counter[0]) / name)
                    )
                except SourceError as exc:
                    raise RunFailure(f"input {value} not readable", str(exc)) from exc
            if isinstance(value, str) and value.startswith("omics://"):
                self._require_omics(policies, value)
                return self._resolve_omics(value)
            if isinstance(value, list):
                return [localise(v) for v in value]
            if isinstance(value, dict):
                return {k: localise(v) for k, v in value.items()}
            return value

        prefix = rec.get("_workflowName") or "main"
        return {f"{prefix}.{k}": localise(v) for k, v in (rec.get("parameters") or {}).items()}

    def _require_omics(self, policies: RolePolicies | None, uri: str) -> None:
        """The run role may read a reference or read set: ``omics:GetReference`` /
        ``omics:GetReadSet`` on it AND on its store (both resource types are required,
        Service Authorization Reference, AWS HealthOmics)."""
        m = _OMICS_URI.match(uri)
        if m is None or policies is None:
            return
        reference = m["kind"] == "reference"
        store_arn = self.b.arn(f"{'referenceStore' if reference else 'sequenceStore'}/{m['store']}")
        child = f"{store_arn}/{'reference' if reference else 'readSet'}/{m['id']}"
        action = "omics:GetReference" if reference else "omics:GetReadSet"
        self._require(policies, IMPORT_FAILED, action, [child, store_arn])

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
            "healthomics_emulator.miniwdl_run",
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
        the run, then one per task (field names as in HealthOmics run manifests).

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
    def _upload_outputs(
        self, rec: dict[str, Any], folder: Path, policies: RolePolicies | None = None
    ) -> dict[str, Any]:
        """Upload file outputs as the run role (``s3:PutObject`` on each, else
        ``EXPORT_FAILED``); write ``logs/outputs.json``; return its mapping."""
        try:
            result = json.loads((folder / "result.json").read_text())
        except (OSError, ValueError) as exc:
            raise RunFailure(
                "workflow outputs missing", f"cannot read miniwdl outputs: {exc}"
            ) from exc
        outputs = result.get("outputs", {})
        base = rec["runOutputUri"]
        s3 = self.b.client("s3")

        def send(path: Path, uri: str) -> str:
            self._require(policies, EXPORT_FAILED, "s3:PutObject", [s3_object_arn(uri)])
            return upload(s3, path, uri)

        def put(value: Any, prefix: str) -> Any:
            if isinstance(value, str) and os.path.isabs(value) and os.path.exists(value):
                path = Path(value)
                if path.is_dir():
                    for f in sorted(p for p in path.rglob("*") if p.is_file()):
                        send(f, f"{prefix}/{path.name}/{f.relative_to(path)}")
                    return f"{prefix}/{path.name}/"
                return send(path, f"{prefix}/{path.name}")
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
            send(summary, f"{base}/logs/outputs.json")
        except SourceError as exc:
            raise RunFailure("output upload failed", str(exc)) from exc
        return mapping


class _Cancelled(Exception):
    pass


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
