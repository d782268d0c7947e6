"""Fault injection into the local stack, and the record of async events it dropped.

Tests run in another process than the stack, so both sides meet in files under the stack's state
directory (``<home>/local``; the stack process knows it as ``$OMICS_TOOLKIT_LOCAL_STATE_DIR``).
Every read-modify-write holds an exclusive ``flock`` on ``<state dir>/faults/.lock`` and replaces
the file atomically, so a rule fires exactly as many times as its count, whichever process or
thread takes it.

Files::

    <state dir>/faults/lambda.json   read on every Lambda invocation (patches.lambda_exec)
        [{"function": "<function name or ARN, or *>",
          "mode": "error" | "timeout" | "timeout_after_handler",
          "count": <invocations left to fault>, "fired": <invocations faulted so far>}, ...]
        The first rule that matches the function and has ``count > 0`` fires once per invocation;
        spent rules stay in the list (count 0) so that ``fired`` can be read back.
        - ``error``: the handler does not run; the invocation fails with
          ``{"errorType": "InjectedFaultError", ...}``.
        - ``timeout``: the handler does not run; the invocation fails at once with the function's
          timeout error (``Sandbox.Timedout``, ``Task timed out after N.NN seconds``), without
          waiting for the timeout.
        - ``timeout_after_handler``: the handler runs to completion (its side effects happen),
          then the invocation reports the timeout error instead of its result: the case where
          Lambda retries work that was already done.

    <state dir>/faults/s3.json       read on every S3 -> Lambda notification
        {"duplicate": <notifications left to deliver twice>, "duplicated": <delivered twice>}

    <state dir>/async-failures.jsonl written by patches.s3_notifications, one JSON object per
        asynchronous event Lambda dropped (see :func:`async_failures`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

#: Set by the stack process (``omics_toolkit.local.stack.server``) to its state directory.
STATE_DIR_ENV = "OMICS_TOOLKIT_LOCAL_STATE_DIR"
FAULTS_DIR = "faults"
LAMBDA_FAULTS = "lambda.json"
S3_FAULTS = "s3.json"
ASYNC_FAILURES = "async-failures.jsonl"
LAMBDA_MODES = ("error", "timeout", "timeout_after_handler")


def state_dir_from_env() -> Path | None:
    """The state directory of the stack this process serves (``$OMICS_TOOLKIT_LOCAL_STATE_DIR``)."""
    value = os.environ.get(STATE_DIR_ENV)
    return Path(value) if value else None


@contextmanager
def _locked(state_dir: Path | str) -> Iterator[Path]:
    """Hold the faults lock (exclusive ``flock``); yield ``<state dir>/faults``."""
    directory = Path(state_dir) / FAULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield directory
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def _write(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return value


# ------------------------------------------------------------------------------------- Lambda
def add_lambda_faults(state_dir: Path | str, rules: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Append fault rules for Lambda invocations; return every rule now in the file.

    Args:
        state_dir: the stack's state directory (``<home>/local``).
        rules: ``{"function": name | ARN | "*", "mode": "error" | "timeout" |
            "timeout_after_handler", "count": int >= 1 (default 1)}`` each.

    Raises:
        ValueError: a rule has no function, an unknown mode or a bad count.
    """
    checked = []
    for rule in rules:
        function = rule.get("function")
        if not isinstance(function, str) or not function:
            raise ValueError(f"fault rule needs a function name, ARN or '*': {dict(rule)!r}")
        mode = rule.get("mode")
        if mode not in LAMBDA_MODES:
            raise ValueError(f"fault mode must be one of {', '.join(LAMBDA_MODES)}: {mode!r}")
        count = _count(rule.get("count", 1), "fault count")
        checked.append({"function": function, "mode": mode, "count": count, "fired": 0})
    with _locked(state_dir) as directory:
        current = list(_read(directory / LAMBDA_FAULTS, []))
        current.extend(checked)
        _write(directory / LAMBDA_FAULTS, current)
    return current


def lambda_faults(state_dir: Path | str) -> list[dict]:
    """The Lambda fault rules, each with ``count`` (left) and ``fired`` (so far); ``[]`` if none."""
    with _locked(state_dir) as directory:
        return list(_read(directory / LAMBDA_FAULTS, []))


def clear_lambda_faults(state_dir: Path | str) -> None:
    """Remove every Lambda fault rule."""
    with _locked(state_dir) as directory:
        (directory / LAMBDA_FAULTS).unlink(missing_ok=True)


def take_lambda_fault(
    state_dir: Path | str, function_name: str, function_arn: str | None = None
) -> dict | None:
    """Fire the first rule matching the function that has invocations left; ``None`` if none.

    Called by the stack process once per invocation. Returns the rule as it was before this
    invocation took it, plus ``"index"`` (its position in the list) and ``"file"``.
    """
    path = Path(state_dir) / FAULTS_DIR / LAMBDA_FAULTS
    if not path.is_file():  # the common case: no fault configured, no lock taken
        return None
    names = {"*", function_name, function_arn}
    with _locked(state_dir):
        try:
            rules = list(_read(path, []))
        except json.JSONDecodeError as exc:
            LOG.warning("ignoring unreadable Lambda faults file %s: %s", path, exc)
            return None
        for index, rule in enumerate(rules):
            if rule.get("function") in names and int(rule.get("count", 0)) > 0:
                taken = {**rule, "index": index, "file": str(path)}
                rule["count"] = int(rule["count"]) - 1
                rule["fired"] = int(rule.get("fired", 0)) + 1
                _write(path, rules)
                return taken
    return None


# ----------------------------------------------------------------------------------------- S3
def set_s3_duplicates(state_dir: Path | str, count: int) -> None:
    """Deliver the next ``count`` S3 -> Lambda notifications twice (S3 delivers at least once).

    Resets the ``duplicated`` counter. Raises ``ValueError`` for a count < 1.
    """
    checked = _count(count, "duplicate count")
    with _locked(state_dir) as directory:
        _write(directory / S3_FAULTS, {"duplicate": checked, "duplicated": 0})


def s3_faults(state_dir: Path | str) -> dict:
    """``{"duplicate": notifications left to duplicate, "duplicated": duplicated so far}``."""
    with _locked(state_dir) as directory:
        return {"duplicate": 0, "duplicated": 0, **_read(directory / S3_FAULTS, {})}


def clear_s3_faults(state_dir: Path | str) -> None:
    """Deliver every S3 notification once again."""
    with _locked(state_dir) as directory:
        (directory / S3_FAULTS).unlink(missing_ok=True)


def take_s3_duplicate(state_dir: Path | str) -> bool:
    """True when this notification is to be delivered twice (takes one from the count)."""
    path = Path(state_dir) / FAULTS_DIR / S3_FAULTS
    if not path.is_file():
        return False
    with _locked(state_dir):
        try:
            data = dict(_read(path, {}))
        except json.JSONDecodeError as exc:
            LOG.warning("ignoring unreadable S3 faults file %s: %s", path, exc)
            return False
        if int(data.get("duplicate", 0)) < 1:
            return False
        data["duplicate"] = int(data["duplicate"]) - 1
        data["duplicated"] = int(data.get("duplicated", 0)) + 1
        _write(path, data)
        return True


# ------------------------------------------------------------------------------- async drops
def async_failures(state_dir: Path | str) -> list[dict]:
    """Asynchronous events the local Lambda dropped, oldest first (``async-failures.jsonl``).

    Each record: ``{"time": iso, "function": name, "function_arn": str, "request_id": str (one per
    event; its retries share it, as in Lambda), "source": "s3" | "invoke" | "destination",
    "condition": "RetriesExhausted" | "EventAgeExceeded" | "StackStopped", "attempts": int,
    "errors": [{"attempt", "at", "errorType", "errorMessage"}, ...], "error": the last of them or
    null, "destination": on-failure ARN or null, "destination_error": str or null, "event": the
    event}``.
    """
    path = Path(state_dir) / ASYNC_FAILURES
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # being appended right now
                break
            raise
    return records
