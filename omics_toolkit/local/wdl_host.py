"""Container-free miniwdl backend: run each WDL task's command with the host's bash.

Registered as the ``miniwdl.plugin.container_backend`` entry point ``omics_toolkit_host`` and
selected with ``MINIWDL__SCHEDULER__CONTAINER_BACKEND=omics_toolkit_host`` (or ``[scheduler]
container_backend`` in a miniwdl config file). ``runtime.docker`` is ignored: the tools a task calls
(bwa, samtools, bcftools, ...) must be on the host ``PATH``.

How a task runs (``host_dir`` is miniwdl's task run directory, e.g. ``<run>/call-align``)::

    host_dir/
      container/            "in-container" root seen by the command; container_dir points here
        work -> ../work[N]  current attempt's working directory (symlink, re-pointed per attempt)
        stdout.txt -> ../stdout[N].txt
        stderr.txt -> ../stderr[N].txt
      work[N]/              the command's cwd; inputs are symlinked under _miniwdl_inputs/<k>/
      command               the task command (env exports first), run as ``bash ../command``
      stdout[N].txt, stderr[N].txt
      host_resources.json   measured resources of the latest attempt (see below)

Because ``container_dir`` is a real host directory, the absolute paths that miniwdl interpolates
into the command (``<host_dir>/container/work/_miniwdl_inputs/0/reads.fq.gz``) exist on the host,
and outputs are collected from ``work[N]`` by the base class.

``host_resources.json`` (written after every attempt, also on failure)::

    {"run_id": str, "attempt": int, "image": str | null, "exit_status": int,
     "started_at": iso8601, "ended_at": iso8601, "wall_seconds": float, "cpu_seconds": float,
     "cpu_average": float | null, "cpu_maximum": float | null,
     "peak_rss_bytes": int, "rss_average_bytes": int | null, "ru_maxrss_bytes": int,
     "samples": int,
     "declared_cpu": int | null, "declared_memory_bytes": int | null,
     "requested_cpu": int | null, "requested_memory_bytes": int | null}

``task_request.json`` (written when miniwdl has evaluated the task's runtime, before the command
runs): ``{"requested_cpu": int | null, "requested_memory_bytes": int | null,
"declared_cpu": int | null, "declared_memory_bytes": int | null, "image": str | null}``.
``requested_*`` are the task's ``runtime`` values as written (cpu rounded up); ``declared_*`` are
what miniwdl kept after capping them to this host (``[task_runtime] cpu_max``/``memory_max``):
the HealthOmics emulator reports the requested values, as HealthOmics reserves them.

Image check (the HealthOmics emulator's run-time rule, active when ``OMICS_TOOLKIT_IMAGE_CHECK``
names a JSON file ``{"account", "region", "ecrEndpoint", "registryMap", "runArn"}``): before a
task's command runs, its evaluated ``runtime.docker`` is resolved through the run's workflow
``containerRegistryMap`` and must name a private ECR image of the run's region that HealthOmics
may pull (see :class:`ImageCheck`); otherwise the task fails with ``ImageCheckError`` and
``image.json`` in the task run directory carries ``failureReason``/``message``. The command still
runs on the host (no image is pulled).

``peak_rss_bytes`` is the largest sum, over the task's live process tree, of each process's peak
resident set (``VmHWM`` from ``/proc``), sampled every 20 ms growing to 0.5 s: it counts the
concurrent members of a pipeline (``bwa | samtools``) together, but a process that lives shorter
than the sampling interval can be missed (0 for a task that ends before the first sample).
``rss_average_bytes`` is the time-weighted mean of the same samples' current resident set
(``VmRSS``); ``null`` without a sample. ``ru_maxrss_bytes`` is the kernel's ``wait4`` figure for
the shell: the largest single process of the tree, but never below the launching Python process's
own high-water mark (Linux carries it across ``exec``), so it overstates small tasks.
``cpu_seconds`` is user + system time of the shell and every descendant it waited for;
``cpu_average`` is ``cpu_seconds / wall_seconds``; ``cpu_maximum`` is the highest rate of the
tree's cpu time (user + system of the live processes and the children they reaped, from
``/proc/<pid>/stat``) over consecutive windows of at least one second, ``null`` for a task shorter
than one window. ``samples`` counts the samples taken.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import logging
import math
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from WDL import Error
from WDL._util import StructuredLogMessage as _
from WDL.runtime import config
from WDL.runtime.error import Terminated
from WDL.runtime.task_container import TaskContainer

from omics_toolkit.constants import HEALTHOMICS_PRINCIPAL
from omics_toolkit.images import DOCKER_HUB, ECR_HOST, parse_image

try:  # psutil comes with miniwdl; keep the backend usable without it
    import psutil
except ImportError:  # pragma: no cover - exercised only on unusual installs
    psutil = None  # type: ignore[assignment]

RESOURCES_FILE = "host_resources.json"
"""Name of the per-task resource record, written in the task run directory."""

REQUEST_FILE = "task_request.json"
"""Name of the per-task record of requested resources, written before the command runs."""

CONTAINER_SUBDIR = "container"
"""Sub-directory of the task run directory that stands in for the container's root."""

_TERM_GRACE_SECONDS = 5.0

IMAGE_CHECK_ENV = "OMICS_TOOLKIT_IMAGE_CHECK"
"""Environment variable naming the image check's JSON configuration (set by the emulator)."""

IMAGE_RESULT_FILE = "image.json"
"""Per-task result of the image check, written in the task run directory::

    {"sourceImage": str, "image": str, "failureReason": str | null, "message": str | null}
"""


class _HostScheduler:
    """Admit tasks while their declared cpu and memory fit the host (like miniwdl's own)."""

    def __init__(self, cpu: int, mem_bytes: int) -> None:
        self._cv = threading.Condition()
        self._cpu_free = cpu
        self._mem_free = mem_bytes

    def acquire(self, cpu: int, mem_bytes: int) -> float:
        """Block until ``cpu`` cores and ``mem_bytes`` are free; return the seconds waited."""
        t0 = time.monotonic()
        with self._cv:
            while cpu > self._cpu_free or mem_bytes > self._mem_free:
                self._cv.wait()
            self._cpu_free -= cpu
            self._mem_free -= mem_bytes
        return time.monotonic() - t0

    def release(self, cpu: int, mem_bytes: int) -> None:
        with self._cv:
            self._cpu_free += cpu
            self._mem_free += mem_bytes
            self._cv.notify_all()


def _host_limits() -> dict[str, int]:
    try:
        cpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cpu = os.cpu_count() or 1
    if psutil is not None:
        mem = int(psutil.virtual_memory().total)
    else:  # pragma: no cover
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpu, "mem_bytes": mem}


def _tree_pids(pid: int) -> list[int]:
    pids = [pid]
    if psutil is not None:
        try:
            pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            pass
    return pids


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_sample(pid: int) -> tuple[int, int, float]:
    """(``VmHWM`` bytes, ``VmRSS`` bytes, cpu seconds of the process and the children it reaped)
    of one process from ``/proc``; zeros when it is gone."""
    hwm = rss = 0
    cpu = 0.0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
        # fields after "(comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17)
        fields = text[text.rindex(")") + 2 :].split()
        cpu = sum(int(x) for x in fields[11:15]) / _CLK_TCK
    except (OSError, ValueError, IndexError):
        pass
    return hwm, rss, cpu


#: The shortest window over which ``cpu_maximum`` measures a rate (seconds).
CPU_WINDOW_SECONDS = 1.0


class _Usage:
    """Samples of a task's process tree: peak and mean resident set, fastest cpu-time rate."""

    def __init__(self) -> None:
        self.samples = 0
        self.peak_hwm = 0
        self._first: float | None = None
        self._last: tuple[float, int] | None = None  # (time, rss)
        self._rss_area = 0.0
        self._window: tuple[float, float] | None = None  # (time, cpu seconds)
        self._end: float | None = None
        self.cpu_maximum: float | None = None

    def sample(self, pid: int) -> None:
        now = time.monotonic()
        hwm = rss = 0
        cpu = 0.0
        for p in _tree_pids(pid):
            h, r, c = _proc_sample(p)
            hwm, rss, cpu = hwm + h, rss + r, cpu + c
        self.samples += 1
        self.peak_hwm = max(self.peak_hwm, hwm)
        if self._last is None:
            self._first = now
        else:
            self._rss_area += self._last[1] * (now - self._last[0])
        self._last = (now, rss)
        self._cpu_point(now, cpu)

    def _cpu_point(self, now: float, cpu: float) -> None:
        if self._window is None:
            self._window = (now, cpu)
            return
        start, cpu0 = self._window
        if cpu < cpu0:  # a process left the tree without being reaped inside it: restart
            self._window = (now, cpu)
        elif now - start >= CPU_WINDOW_SECONDS:
            rate = (cpu - cpu0) / (now - start)
            self.cpu_maximum = rate if self.cpu_maximum is None else max(self.cpu_maximum, rate)
            self._window = (now, cpu)

    def finish(self, end: float, cpu_total: float) -> None:
        """Close the last window with the shell's final ``wait4`` cpu time at ``end``."""
        if self._last is not None:
            self._rss_area += self._last[1] * (end - self._last[0])
        self._cpu_point(end, cpu_total)
        self._end = end

    def rss_average(self) -> int | None:
        if self._last is None or self._first is None:
            return None
        span = (self._end if self._end is not None else self._last[0]) - self._first
        return int(self._rss_area / span) if span > 0 else self._last[1]


def _requested_resources(runtime_eval: dict[str, Any]) -> dict[str, int | None]:
    """The task's ``runtime.cpu`` (rounded up) and ``runtime.memory`` (bytes) as written, before
    any host cap; ``None`` for what it does not set or what does not parse."""
    from WDL import Type
    from WDL._util import parse_byte_size

    out: dict[str, int | None] = {"cpu": None, "memory_bytes": None}
    try:
        if "cpu" in runtime_eval:
            out["cpu"] = max(1, math.ceil(runtime_eval["cpu"].coerce(Type.Float()).value))
        if "memory" in runtime_eval:
            out["memory_bytes"] = int(
                parse_byte_size(runtime_eval["memory"].coerce(Type.String()).value)
            )
    except Exception:  # noqa: BLE001 - miniwdl itself reports a bad runtime value
        pass
    return out


def _relink(link: str, target: str) -> None:
    """Point symlink ``link`` at ``target``, replacing whatever was there."""
    if os.path.islink(link) or os.path.exists(link):
        os.unlink(link)
    os.symlink(target, link)


class HostContainer(TaskContainer):
    """miniwdl ``TaskContainer`` that runs the task command directly on the host.

    Inputs are symlinked (not copied, unless miniwdl's ``[file_io] copy_input_files`` asks for
    copies) into the working directory; the command runs under ``[task_runtime] command_shell``
    (bash) in its own process group, which is terminated (SIGTERM, then SIGKILL after 5 s) when
    miniwdl cancels the run. Raises nothing itself beyond what the base class raises:
    non-zero exits become ``WDL.runtime.error.CommandFailed`` and cancellation ``Terminated``.
    """

    _limits: dict[str, int] | None = None
    _scheduler: _HostScheduler | None = None
    _class_lock = threading.Lock()

    @classmethod
    def global_init(cls, cfg: config.Loader, logger: logging.Logger) -> None:
        """Detect host resources once per process and set up the cpu/memory admission."""
        limits = cls.detect_resource_limits(cfg, logger)
        logger.notice(  # type: ignore[attr-defined]
            _("host task backend (no containers; runtime.docker ignored)", **limits)
        )

    @classmethod
    def detect_resource_limits(cls, cfg: config.Loader, logger: logging.Logger) -> dict[str, int]:
        """Return ``{"cpu": cores usable by this process, "mem_bytes": physical memory}``."""
        with cls._class_lock:
            if cls._limits is None:
                cls._limits = _host_limits()
                cls._scheduler = _HostScheduler(cls._limits["cpu"], cls._limits["mem_bytes"])
                logger.info(_("detected host resources", **cls._limits))
            return cls._limits

    def __init__(self, cfg: config.Loader, run_id: str, host_dir: str) -> None:
        super().__init__(cfg, run_id, host_dir)
        self.container_dir = os.path.join(os.path.abspath(host_dir), CONTAINER_SUBDIR)
        os.makedirs(self.container_dir, exist_ok=True)
        self._inputs_copied = False
        self._image_result: dict[str, Any] | None = None
        self._requested: dict[str, int | None] = {}

    # runtime -----------------------------------------------------------------------------------

    def process_runtime(self, logger: logging.Logger, runtime_eval: dict[str, Any]) -> None:
        """miniwdl's runtime processing, plus a record of the requested cpu and memory before
        miniwdl caps them to this host (``task_request.json``)."""
        super().process_runtime(logger, runtime_eval)
        self._requested = _requested_resources(runtime_eval)
        record = {**self._request_record(), "image": self.runtime_values.get("docker")}
        _write_json(os.path.join(self.host_dir, REQUEST_FILE), record)

    # image check -------------------------------------------------------------------------------

    def run(self, logger: logging.Logger, command: str) -> None:
        """Check the task's image (when the emulator asks for it), then run the command."""
        check = ImageCheck.from_environment()
        if check is not None and not self.run_id.startswith("download-"):
            if self._image_result is None:
                self._image_result = check.check(str(self.runtime_values.get("docker") or ""))
                _write_json(os.path.join(self.host_dir, IMAGE_RESULT_FILE), self._image_result)
                logger.info(_("image check", **self._image_result))
            if self._image_result.get("failureReason"):
                raise ImageCheckError(
                    self._image_result["failureReason"], self._image_result["message"]
                )
        super().run(logger, command)

    # input provisioning ------------------------------------------------------------------------

    def copy_input_files(self, logger: logging.Logger) -> None:
        """Copy inputs into the work dir (only when miniwdl is configured to copy them)."""
        super().copy_input_files(logger)
        self._inputs_copied = True

    def reset(self, logger: logging.Logger) -> None:
        """Prepare a fresh ``work<N>`` for a retry; inputs are linked again there."""
        super().reset(logger)
        self._inputs_copied = False

    def _link_inputs(self, logger: logging.Logger) -> None:
        for host_path, container_path in self.input_path_map.items():
            link = self.host_work_path(container_path.rstrip("/"))
            if os.path.lexists(link):
                continue
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(os.path.abspath(host_path.rstrip("/")), link)
            logger.debug(_("link host input", input=host_path, link=link))

    def _point_container_dir(self) -> None:
        work_name = os.path.basename(self.host_work_dir())
        _relink(os.path.join(self.container_dir, "work"), os.path.join("..", work_name))
        for stream in (self.host_stdout_txt(), self.host_stderr_txt()):
            with open(stream, "a"):
                pass
        _relink(
            os.path.join(self.container_dir, "stdout.txt"),
            os.path.join("..", os.path.basename(self.host_stdout_txt())),
        )
        _relink(
            os.path.join(self.container_dir, "stderr.txt"),
            os.path.join("..", os.path.basename(self.host_stderr_txt())),
        )

    # execution ---------------------------------------------------------------------------------

    def _run(self, logger: logging.Logger, terminating: Callable[[], bool], command: str) -> int:
        """Run ``command`` with the host shell in the work dir; return its exit status.

        A status of ``128 + n`` means the shell was killed by signal ``n``. Raises ``Terminated``
        when miniwdl asked to stop (after the process group is gone).
        """
        limits = self.detect_resource_limits(self.cfg, logger)
        assert self._scheduler is not None
        cpu = min(int(self.runtime_values.get("cpu", 0)), limits["cpu"])
        mem = min(int(self.runtime_values.get("memory_reservation", 0)), limits["mem_bytes"])
        waited = self._scheduler.acquire(cpu, mem)
        try:
            logger.info(_("provisioned", seconds_waited=round(waited, 3), cpu=cpu, mem_bytes=mem))
            if not self._inputs_copied:
                self._link_inputs(logger)
            self._point_container_dir()
            return self._run_command(logger, terminating, command)
        finally:
            self._scheduler.release(cpu, mem)

    def _run_command(
        self, logger: logging.Logger, terminating: Callable[[], bool], command: str
    ) -> int:
        command_file = os.path.join(self.host_dir, "command")
        with open(command_file, "w") as out:
            for key, value in self.runtime_values.get("env", {}).items():
                out.write(f"export {key}={shlex.quote(str(value))}\n")
            out.write(command)
        shell = shlex.split(self.cfg.get("task_runtime", "command_shell") or "/bin/bash")

        started_at = datetime.now(UTC)
        t0 = time.monotonic()
        usage = _Usage()
        with (
            open(self.host_stdout_txt(), "ab") as stdout,
            open(self.host_stderr_txt(), "ab") as stderr,
            self.poll_stderr_context(logger) as poll_stderr,
        ):
            proc = subprocess.Popen(
                [*shell, command_file],
                cwd=self.host_work_dir(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # own process group, so cancellation reaches pipelines
            )
            logger.notice(  # type: ignore[attr-defined]
                _("host task command started", pid=proc.pid, cwd=self.host_work_dir())
            )
            status: int | None = None
            rusage: Any = None
            terminate_sent_at: float | None = None
            interval = 0.02
            with self.task_running_context():
                while status is None:
                    pid, raw_status, ru = os.wait4(proc.pid, os.WNOHANG)
                    if pid == proc.pid:
                        status, rusage = raw_status, ru
                        break
                    usage.sample(proc.pid)
                    if terminating():
                        terminate_sent_at = self._terminate(logger, proc.pid, terminate_sent_at)
                    poll_stderr()
                    time.sleep(interval)
                    interval = min(interval * 1.5, 0.5)
                poll_stderr()
            proc.returncode = os.waitstatus_to_exitcode(status)
        ended = time.monotonic()
        wall = ended - t0
        cpu_seconds = float(rusage.ru_utime + rusage.ru_stime)
        usage.finish(ended, cpu_seconds)
        exit_status = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        if terminate_sent_at is not None:
            # the shell is gone; make sure nothing it started lingers in its group
            self._kill_group(proc.pid, signal.SIGKILL)

        self._write_resources(
            started_at=started_at,
            wall_seconds=wall,
            cpu_seconds=cpu_seconds,
            cpu_maximum=usage.cpu_maximum,
            peak_rss_bytes=usage.peak_hwm,
            rss_average_bytes=usage.rss_average(),
            samples=usage.samples,
            ru_maxrss_bytes=int(rusage.ru_maxrss) * 1024,
            exit_status=exit_status,
        )
        logger.info(
            _("host task command exited", exit_status=exit_status, wall_seconds=round(wall, 3))
        )
        if terminating():
            raise Terminated()
        return exit_status

    @staticmethod
    def _kill_group(pgid: int, sig: int) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _terminate(self, logger: logging.Logger, pgid: int, sent_at: float | None) -> float:
        """SIGTERM the task's process group; SIGKILL it if still alive after the grace period."""
        now = time.monotonic()
        if sent_at is None:
            logger.warning(_("terminating host task process group", pgid=pgid))
            self._kill_group(pgid, signal.SIGTERM)
            return now
        if now - sent_at > _TERM_GRACE_SECONDS:
            self._kill_group(pgid, signal.SIGKILL)
        return sent_at

    def _write_resources(self, **measured: Any) -> None:
        started_at: datetime = measured.pop("started_at")
        wall = measured["wall_seconds"]
        cpu_maximum = measured["cpu_maximum"]
        record = {
            "run_id": self.run_id,
            "attempt": self.try_counter,
            "image": self.runtime_values.get("docker"),
            "exit_status": measured["exit_status"],
            "started_at": started_at.isoformat(),
            "ended_at": datetime.now(UTC).isoformat(),
            "wall_seconds": round(wall, 6),
            "cpu_seconds": round(measured["cpu_seconds"], 6),
            "cpu_average": round(measured["cpu_seconds"] / wall, 6) if wall > 0 else None,
            "cpu_maximum": None if cpu_maximum is None else round(cpu_maximum, 6),
            "peak_rss_bytes": measured["peak_rss_bytes"],
            "rss_average_bytes": measured["rss_average_bytes"],
            "ru_maxrss_bytes": measured["ru_maxrss_bytes"],
            "samples": measured["samples"],
            **self._request_record(),
        }
        _write_json(os.path.join(self.host_dir, RESOURCES_FILE), record)

    def _request_record(self) -> dict[str, Any]:
        return {
            "declared_cpu": self.runtime_values.get("cpu"),
            "declared_memory_bytes": self.runtime_values.get("memory_reservation"),
            "requested_cpu": self._requested.get("cpu"),
            "requested_memory_bytes": self._requested.get("memory_bytes"),
        }


def _write_json(path: str, record: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as out:
        json.dump(record, out, indent=2)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------- image check
#: HealthOmics run failure reasons and descriptions (HealthOmics "Run failure reasons",
#: https://docs.aws.amazon.com/omics/latest/dev/workflows-run-errors.html).
INVALID_ECR_IMAGE_URI = "INVALID_ECR_IMAGE_URI"
ECR_PERMISSION_ERROR = "ECR_PERMISSION_ERROR"
SERVICE_ERROR = "SERVICE_ERROR"
_DESCRIPTIONS = {
    INVALID_ECR_IMAGE_URI: "Amazon ECR image URI structure is invalid. Provide a valid URI and try again.",
    ECR_PERMISSION_ERROR: "HealthOmics doesn't have permission to access the image URI. Confirm that "
    "the Amazon ECR private repository exists and has granted access to the HealthOmics service "
    "principal.",
    SERVICE_ERROR: "A transient error occurred in the service. Try the workflow run again.",
}
#: Repository actions HealthOmics must be allowed: the HealthOmics docs grant these two plus
#: ecr:BatchCheckLayerAvailability; AWS's HealthOmics tooling treats these two as required.
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
#: Registry policy actions for pulling through the cache (ECR "Private registry permissions").
PTC_ACTIONS = ("ecr:CreateRepository", "ecr:BatchImportUpstreamImage")


class ImageCheckError(Error.RuntimeError):
    """A task's image is not one HealthOmics could pull: ``failure_reason`` is the run's
    ``failureReason`` (``INVALID_ECR_IMAGE_URI`` / ``ECR_PERMISSION_ERROR``)."""

    def __init__(self, failure_reason: str, message: str) -> None:
        super().__init__(message)
        self.failure_reason = failure_reason


def split_image(image: str) -> tuple[str, str, str | None, str | None]:
    """``[registry/]path[:tag][@digest]`` -> (registry, path, tag, digest), Docker-normalised
    (see :func:`omics_toolkit.images.parse_image`).

    Raises:
        ValueError: empty reference or one containing whitespace.
    """
    ref = parse_image(image)
    return ref.registry, ref.repository, ref.tag, ref.digest


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if service in _as_list(principal.get("Service")):
        return True
    return "*" in _as_list(principal.get("AWS"))


_CONDITION_OPERATORS = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": lambda actual, expected: fnmatch.fnmatchcase(actual, expected),
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnLike": lambda actual, expected: fnmatch.fnmatchcase(actual, expected),
}


def condition_holds(condition: dict[str, Any] | None, context: dict[str, str]) -> bool:
    """Whether an IAM ``Condition`` holds for ``context`` (lower-case keys).

    Supports the String/Arn equality and ``Like`` operators (and ``...IfExists``); any other
    operator, or a key absent from ``context`` (without ``IfExists``), does not hold.
    """
    for operator, tests in (condition or {}).items():
        test = _CONDITION_OPERATORS.get(operator.removesuffix("IfExists"))
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            if test is None or not any(test(actual, str(e)) for e in _as_list(expected)):
                return False
    return True


def policy_allows(
    policy_text: str | None,
    actions: tuple[str, ...],
    resource: str,
    context: dict[str, str],
    service: str = HEALTHOMICS_PRINCIPAL,
) -> bool:
    """Whether a resource policy allows the service principal every one of ``actions`` on
    ``resource``: each action needs a matching ``Allow`` and no matching ``Deny``.

    Statements with ``NotPrincipal``/``NotAction``/``NotResource`` are not evaluated (they match
    nothing); a statement without ``Resource`` (repository policies) applies to the resource.
    """
    if not policy_text:
        return False
    try:
        doc = json.loads(policy_text)
    except ValueError:
        return False
    allowed: set[str] = set()
    for stmt in _as_list(doc.get("Statement")):
        if not isinstance(stmt, dict) or {"NotPrincipal", "NotAction", "NotResource"} & set(stmt):
            continue
        if not _principal_matches(stmt.get("Principal"), service):
            continue
        if "Resource" in stmt and not any(
            fnmatch.fnmatchcase(resource, str(r)) for r in _as_list(stmt["Resource"])
        ):
            continue
        if not condition_holds(stmt.get("Condition"), context):
            continue
        patterns = [str(a).lower() for a in _as_list(stmt.get("Action"))]
        for action in actions:
            if any(fnmatch.fnmatchcase(action.lower(), p) for p in patterns):
                if stmt.get("Effect") == "Deny":
                    return False
                if stmt.get("Effect") == "Allow":
                    allowed.add(action)
    return set(actions) <= allowed


def resolve_image(image: str, registry_map: dict[str, Any], account: str, region: str) -> str:
    """The image HealthOmics pulls for ``image`` under a workflow's ``containerRegistryMap``.

    ``imageMappings`` replace an exact ``sourceImage`` (compared as written and
    Docker-normalised); otherwise the ``registryMappings`` entry of the image's registry (the
    longest matching ``upstreamRepositoryPrefix`` first) rewrites it to
    ``<ecrAccountId or account>.dkr.ecr.<region>.amazonaws.com/<ecrRepositoryPrefix>/<path>``,
    dropping the ``upstreamRepositoryPrefix`` from the path; anything else is unchanged.
    Source: HealthOmics "Adding private or third-party containers during workflow creation"
    (https://docs.aws.amazon.com/omics/latest/dev/containers-workflow-creation.html); the prefix
    rewrite for ``upstreamRepositoryPrefix`` is an assumption modelled on ECR pull through cache.
    """
    try:
        registry, path, tag, digest = split_image(image)
    except ValueError:
        return image
    for mapping in registry_map.get("imageMappings") or []:
        source = mapping.get("sourceImage")
        if not source or not mapping.get("destinationImage"):
            continue
        try:
            s_reg, s_path, s_tag, s_digest = split_image(source)
        except ValueError:
            continue
        if source == image or (s_reg, s_path, s_tag, s_digest) == (registry, path, tag, digest):
            return str(mapping["destinationImage"])
    best: tuple[int, dict[str, Any], str] | None = None
    for mapping in registry_map.get("registryMappings") or []:
        upstream = str(mapping.get("upstreamRegistryUrl") or "").removeprefix("https://")
        upstream = upstream.rstrip("/")
        if upstream in ("docker.io", "index.docker.io"):
            upstream = DOCKER_HUB
        if upstream != registry or not mapping.get("ecrRepositoryPrefix"):
            continue
        up_prefix = str(mapping.get("upstreamRepositoryPrefix") or "").strip("/")
        rest = path
        if up_prefix and up_prefix != "ROOT":
            if not path.startswith(up_prefix + "/"):
                continue
            rest = path[len(up_prefix) + 1 :]
        rank = len(up_prefix) if up_prefix != "ROOT" else 0
        if best is None or rank > best[0]:
            best = (rank, mapping, rest)
    if best is None:
        return image
    _, mapping, rest = best
    owner = mapping.get("ecrAccountId") or account
    prefix = str(mapping["ecrRepositoryPrefix"]).strip("/")
    uri = f"{owner}.dkr.ecr.{region}.amazonaws.com/{prefix}/{rest}"
    return uri + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


@dataclass
class ImageCheck:
    """HealthOmics' rule for task images, checked against the local stack's (moto) ECR.

    An image passes when, after :func:`resolve_image`, it is
    ``<account>.dkr.ecr.<run region>.amazonaws.com/<repository>[:tag|@digest]`` and either

    - the repository exists and its policy lets ``omics.amazonaws.com`` ``ecr:BatchGetImage`` and
      ``ecr:GetDownloadUrlForLayer``; or
    - it does not exist, an ECR pull through cache rule covers its name, the registry policy lets
      ``omics.amazonaws.com`` ``ecr:CreateRepository`` and ``ecr:BatchImportUpstreamImage`` on it,
      and the repository creation template for the rule's prefix (``PULL_THROUGH_CACHE``) gives
      it such a policy. The repository is then created through the cache (``BatchGetImage``).

    Otherwise the failure reason is ``INVALID_ECR_IMAGE_URI`` (not a private ECR URI) or
    ``ECR_PERMISSION_ERROR`` (another region, missing repository, missing permission), or
    ``SERVICE_ERROR`` when moto ECR cannot be asked.
    Sources: https://docs.aws.amazon.com/omics/latest/dev/permissions-ecr.html,
    https://docs.aws.amazon.com/omics/latest/dev/workflows-run-errors.html. Assumptions: an ECR
    image of another region fails with ``ECR_PERMISSION_ERROR``; whether the image (tag) exists is
    not checked (nothing is pushed to the local stack); policy conditions are evaluated with
    ``aws:SourceAccount`` = the run's account and ``aws:SourceArn`` = the run's ARN.
    """

    account: str
    region: str
    ecr_endpoint: str
    registry_map: dict[str, Any] = field(default_factory=dict)
    run_arn: str = ""
    _client: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def from_environment() -> ImageCheck | None:
        """The check configured by ``$OMICS_TOOLKIT_IMAGE_CHECK``, or ``None`` (no check)."""
        path = os.environ.get(IMAGE_CHECK_ENV)
        return _load_check(path) if path else None

    @property
    def context(self) -> dict[str, str]:
        return {"aws:sourceaccount": self.account, "aws:sourcearn": self.run_arn}

    def ecr(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "ecr",
                    endpoint_url=self.ecr_endpoint,
                    region_name=self.region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                )
            return self._client

    def check(self, image: str) -> dict[str, Any]:
        """``{"sourceImage", "image", "failureReason", "message"}`` for one task image."""
        resolved = resolve_image(image, self.registry_map, self.account, self.region)
        result: dict[str, Any] = {
            "sourceImage": image,
            "image": resolved,
            "failureReason": None,
            "message": None,
        }
        try:
            problem = self._problem(resolved)
        except Exception as exc:  # noqa: BLE001 - ECR of the local stack unreachable or broken
            problem = (SERVICE_ERROR, f"the image could not be checked in ECR: {exc}")
        if problem is not None:
            reason, detail = problem
            shown = image if resolved == image else f"{image} (resolved to {resolved})"
            result["failureReason"] = reason
            result["message"] = f"{_DESCRIPTIONS[reason]} Image {shown}: {detail}"
        return result

    def _problem(self, image: str) -> tuple[str, str] | None:
        from botocore.exceptions import ClientError

        try:
            registry, path, tag, digest = split_image(image)
        except ValueError as exc:
            return INVALID_ECR_IMAGE_URI, str(exc)
        m = ECR_HOST.match(registry)
        if m is None:
            return (
                INVALID_ECR_IMAGE_URI,
                f"HealthOmics pulls only from private Amazon ECR "
                f"(<account>.dkr.ecr.{self.region}.amazonaws.com/...); {registry} is not; map it "
                "with the workflow's containerRegistryMap or use a private ECR image",
            )
        if m["region"] != self.region:
            return (
                ECR_PERMISSION_ERROR,
                f"the repository is in {m['region']}; the run is in {self.region}, and the "
                "private repository and the workflow must be in the same Region",
            )
        owner = m["account"]
        arn = f"arn:aws:ecr:{self.region}:{owner}:repository/{path}"
        ecr = self.ecr()
        try:
            ecr.describe_repositories(registryId=owner, repositoryNames=[path])
            exists = True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "RepositoryNotFoundException":
                raise
            exists = False
        if exists:
            try:
                policy = ecr.get_repository_policy(registryId=owner, repositoryName=path)[
                    "policyText"
                ]
            except ClientError:
                policy = None
            if not policy_allows(policy, PULL_ACTIONS, arn, self.context):
                return (
                    ECR_PERMISSION_ERROR,
                    f"the policy of repository {path} does not allow {HEALTHOMICS_PRINCIPAL} "
                    f"{', '.join(PULL_ACTIONS)}",
                )
            return None
        rule = self._rule_for(path) if owner == self.account else None
        if rule is None:
            return (
                ECR_PERMISSION_ERROR,
                f"repository {path} does not exist in the ECR registry {owner} in {self.region} "
                "and no pull through cache rule covers it",
            )
        prefix = rule["ecrRepositoryPrefix"]
        if not policy_allows(self._registry_policy(), PTC_ACTIONS, arn, self.context):
            return (
                ECR_PERMISSION_ERROR,
                f"repository {path} would be created by pull through cache rule {prefix}, but the "
                f"registry policy does not allow {HEALTHOMICS_PRINCIPAL} {', '.join(PTC_ACTIONS)} "
                f"on {arn}",
            )
        template = self._template_for(path)
        if template is None or not policy_allows(
            template.get("repositoryPolicy"), PULL_ACTIONS, arn, self.context
        ):
            return (
                ECR_PERMISSION_ERROR,
                f"repository {path} would be created by pull through cache rule {prefix}, but no "
                f"repository creation template for {prefix} (PULL_THROUGH_CACHE) gives it a "
                f"policy allowing {HEALTHOMICS_PRINCIPAL} {', '.join(PULL_ACTIONS)}",
            )
        image_id = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
        try:  # the first pull through the cache creates the repository
            ecr.batch_get_image(repositoryName=path, imageIds=[image_id])
        except ClientError:
            pass
        return None

    def _all(self, operation: str, key: str) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        ecr = self.ecr()
        items: list[dict[str, Any]] = []
        token = None
        try:
            while True:
                page = getattr(ecr, operation)(**({"nextToken": token} if token else {}))
                items += page.get(key, [])
                token = page.get("nextToken")
                if not token:
                    return items
        except ClientError:
            return items

    def _rule_for(self, repository: str) -> dict[str, Any] | None:
        rules = [
            r
            for r in self._all("describe_pull_through_cache_rules", "pullThroughCacheRules")
            if _covers(r["ecrRepositoryPrefix"], repository)
        ]
        rules.sort(
            key=lambda r: (r["ecrRepositoryPrefix"] != "ROOT", len(r["ecrRepositoryPrefix"]))
        )
        return rules[-1] if rules else None

    def _template_for(self, repository: str) -> dict[str, Any] | None:
        templates = [
            t
            for t in self._all(
                "describe_repository_creation_templates", "repositoryCreationTemplates"
            )
            if "PULL_THROUGH_CACHE" in t.get("appliedFor", []) and _covers(t["prefix"], repository)
        ]
        templates.sort(key=lambda t: (t["prefix"] != "ROOT", len(t["prefix"])))
        return templates[-1] if templates else None

    def _registry_policy(self) -> str | None:
        from botocore.exceptions import ClientError

        try:
            return str(self.ecr().get_registry_policy()["policyText"])
        except ClientError:
            return None


def _covers(prefix: str, repository: str) -> bool:
    return prefix == "ROOT" or repository.startswith(prefix.rstrip("/") + "/")


@functools.lru_cache(maxsize=4)
def _load_check(path: str) -> ImageCheck:
    with open(path) as fh:
        conf = json.load(fh)
    return ImageCheck(
        account=str(conf["account"]),
        region=str(conf["region"]),
        ecr_endpoint=str(conf["ecrEndpoint"]),
        registry_map=dict(conf.get("registryMap") or {}),
        run_arn=str(conf.get("runArn") or ""),
    )
