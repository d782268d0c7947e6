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
from datetime import UTC, datetime
from typing import Any

from WDL._util import StructuredLogMessage as _
from WDL.runtime import config
from WDL.runtime.error import Terminated
from WDL.runtime.task_container import TaskContainer

try:  # psutil comes with miniwdl; keep the backend usable without it
    import psutil
except ImportError:  # pragma: no cover - exercised only on unusual installs
    psutil = None  # type: ignore[assignment]
from healthomics_emulator.host_files import (
    CONTAINER_SUBDIR,
    IMAGE_CHECK_ENV,
    IMAGE_RESULT_FILE,
    REQUEST_FILE,
    RESOURCES_FILE,
)
from healthomics_emulator.host_usage import _Usage
from healthomics_emulator.image_check import ImageCheck, ImageCheckError

#: Seconds between SIGTERM and SIGKILL of a task being terminated.
_TERM_GRACE_SECONDS = 5.0

__all__ = [
    "CONTAINER_SUBDIR",
    "IMAGE_CHECK_ENV",
    "IMAGE_RESULT_FILE",
    "REQUEST_FILE",
    "RESOURCES_FILE",
    "HostContainer",
]


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
