"""Run tasks and run resources: call-cache folders, storage sampling, task records from miniwdl.

Pure helpers of :mod:`healthomics_emulator.run_exec`: what a miniwdl call directory says about
a task (its GetRunTask record, reserved resources, instance type), the run's storage use, and the
folders of a run cache.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthomics_emulator.host_files import IMAGE_RESULT_FILE, REQUEST_FILE, RESOURCES_FILE
from healthomics_emulator.model import format_timestamp, now_iso, parse_iso
from healthomics_facts.instances import requested, smallest_type

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend
from healthomics_emulator.run_model import (
    RunFailure,
    _clip,
)

log = logging.getLogger(__name__)


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
    (``<cache>/<WorkflowName>/.../*.json``), which would otherwise replay a whole run without tasks.

    Only the entry files go, never their folders: another run of the same workflow sharing the
    cache may be between miniwdl's ``mkdir`` of an entry's folder and the write of its file
    (``WDL.runtime.cache.CallCache.put``), and a removed folder fails that run with
    ``FileNotFoundError``.
    """
    name = rec.get("_workflowName")
    if not name or not (cache_dir / name).is_dir():
        return
    for entry in (cache_dir / name).rglob("*.json"):
        entry.unlink(missing_ok=True)


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
    HealthOmics instance type that fits them (:func:`healthomics_facts.instances.smallest_type`).
    """

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


def _reserved(request: dict[str, Any], region: str | None) -> dict[str, Any]:
    """``cpus``, ``memory`` (GiB) and ``instanceType`` HealthOmics would reserve for a task's
    request (host backend record: ``requested_*``, else miniwdl's ``declared_*``)."""
    cpu = request.get("requested_cpu") or request.get("declared_cpu")
    mem_bytes = request.get("requested_memory_bytes") or request.get("declared_memory_bytes")
    cpus, memory = requested(cpu, int(mem_bytes) / 2**30 if mem_bytes else None)
    out: dict[str, Any] = {"cpus": cpus, "memory": memory}
    itype = smallest_type(cpus, memory, region)
    if itype is not None:
        out["instanceType"] = itype
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
