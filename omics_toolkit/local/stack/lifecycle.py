"""Start, inspect and stop the embedded local stack (a detached ``local.stack.server`` process).

The stack's record is ``<local_dir>/stack.json`` (see :mod:`omics_toolkit.local.stack.server`);
its log is ``<local_dir>/stack.log``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omics_toolkit.constants import DEFAULT_REGION
from omics_toolkit.errors import LocalStackError
from omics_toolkit.local.stack.server import STACK_FILE, answers

LOG = logging.getLogger(__name__)

LOG_FILE = "stack.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _read_record(local_dir: Path) -> dict[str, Any] | None:
    path = local_dir / STACK_FILE
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _log_tail(local_dir: Path, lines: int = 40) -> str:
    try:
        text = (local_dir / LOG_FILE).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def status(local_dir: Path) -> dict[str, Any] | None:
    """The running stack's record plus health, or ``None`` when no live stack is recorded.

    Returns:
        the ``stack.json`` record with ``"moto_ok": bool`` and ``"omics_ok": bool`` added.
        A record whose process has gone is removed and ``None`` returned.
    """
    record = _read_record(local_dir)
    if record is None:
        return None
    if not _alive(int(record.get("pid", -1))):
        (local_dir / STACK_FILE).unlink(missing_ok=True)
        return None
    record["moto_ok"] = answers(str(record["moto"]) + "/moto-api/")
    record["omics_ok"] = bool(record.get("omics")) and answers(str(record["omics"]))
    return record


def start(
    local_dir: Path,
    *,
    region: str = DEFAULT_REGION,
    timeout_seconds: float = 60,
    with_omics: bool = True,
) -> dict[str, Any]:
    """Start the local stack detached (or return the live one) and wait until it answers.

    Args:
        local_dir: state directory (``Settings.local_dir``).
        region: region of the stack.
        timeout_seconds: how long to wait for ``stack.json`` and both endpoints.
        with_omics: start the HealthOmics emulator (``False`` only for tests of the moto side).

    Returns:
        the ``stack.json`` record (see :mod:`omics_toolkit.local.stack.server`).

    Raises:
        LocalStackError: the process exited or did not answer in time; carries the log tail.
    """
    local_dir = Path(local_dir).resolve()
    current = status(local_dir)
    if current is not None:
        return current
    local_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "omics_toolkit.local.stack.server",
        "--state-dir",
        str(local_dir),
        "--region",
        region,
    ]
    if not with_omics:
        cmd.append("--without-omics")
    with open(local_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise LocalStackError(
                f"the local stack exited with status {code} while starting; "
                f"log {local_dir / LOG_FILE}:\n{_log_tail(local_dir)}"
            )
        record = _read_record(local_dir)
        if record is not None and record.get("pid") == proc.pid:
            health = status(local_dir)
            if health and health["moto_ok"] and (health["omics_ok"] or not with_omics):
                return health
        time.sleep(0.2)
    _terminate(proc.pid, 10)
    raise LocalStackError(
        f"the local stack did not answer within {timeout_seconds:g} s; "
        f"log {local_dir / LOG_FILE}:\n{_log_tail(local_dir)}"
    )


def _terminate(pid: int, timeout_seconds: float) -> bool:
    """SIGTERM ``pid``, wait up to ``timeout_seconds``, then SIGKILL. True if it exited on TERM."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    LOG.warning("local stack (pid %s) ignored SIGTERM; killing it", pid)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return False


def stop(local_dir: Path, timeout_seconds: float = 30) -> bool:
    """Stop the recorded stack: SIGTERM (it saves its state), wait, SIGKILL as a last resort.

    Returns:
        ``True`` if a stack was running and has stopped, ``False`` if none was running.
    """
    local_dir = Path(local_dir).resolve()
    record = _read_record(local_dir)
    if record is None:
        return False
    pid = int(record.get("pid", -1))
    if pid <= 0 or not _alive(pid):
        (local_dir / STACK_FILE).unlink(missing_ok=True)
        return False
    clean = _terminate(pid, timeout_seconds)
    if not clean:
        LOG.warning("local stack was killed; its state since the last start was not saved")
    (local_dir / STACK_FILE).unlink(missing_ok=True)
    return True


def emulator_options(local_dir: Path, **changes: Any) -> dict[str, Any]:
    """Read (no ``changes``) or change the HealthOmics emulator's options.

    Options (persisted with the stack's state): ``new_customer`` (bool) -- when ``True`` the
    emulator refuses CreateVariantStore/CreateAnnotationStore as HealthOmics does for accounts that
    are new since 2025-11-07.

    Returns:
        All options after the change.

    Raises:
        LocalStackError: the stack (or its emulator) is not running.
        ValueError: unknown option or wrong type (the emulator's message).
    """
    import urllib.error
    import urllib.request

    from healthomics_emulator.server import CONTROL_PATH

    record = status(local_dir)
    if not record or not record.get("omics_ok"):
        raise LocalStackError(
            "the local HealthOmics emulator is not running; start it with `omics-toolkit local start`"
        )
    data = json.dumps(changes).encode() if changes else None
    request = urllib.request.Request(
        str(record["omics"]) + CONTROL_PATH,
        data=data,
        method="POST" if changes else "GET",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        raise ValueError(json.loads(exc.read() or b"{}").get("message", str(exc))) from exc


def archive_read_sets(
    local_dir: Path, sequence_store_id: str, read_set_ids: list[str]
) -> list[dict[str, Any]]:
    """Archive read sets of the local HealthOmics emulator now, as the service does after 30 days
    without access (they lose S3 access until ``StartReadSetActivationJob``).

    Returns:
        ``[{"id", "status": "ARCHIVED"}, ...]``.

    Raises:
        LocalStackError: the stack (or its emulator) is not running, or the emulator refused
            (an unknown store or read set: the message names it; nothing is changed then).
    """
    from healthomics_emulator.control import archive_read_sets as archive
    from healthomics_emulator.errors import EmulatorControlError

    record = status(local_dir)
    if not record or not record.get("omics_ok"):
        raise LocalStackError(
            "the local HealthOmics emulator is not running; start it with `omics-toolkit local start`"
        )
    try:
        return archive(str(record["omics"]), sequence_store_id, read_set_ids)
    except EmulatorControlError as exc:
        raise LocalStackError(str(exc)) from exc
