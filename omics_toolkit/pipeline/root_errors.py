"""The root error of a failed HealthOmics run task, read from its log.

A task's log (CloudWatch Logs group ``/aws/omics/WorkflowLog``, stream
``run/{runId}/task/{taskId}``: HealthOmics "Monitoring HealthOmics with CloudWatch Logs") ends
with whatever the task printed last: often a warning or the SIGPIPE of a pipe whose reader
failed, not the error. :func:`root_error` finds the error line; :func:`run_task_error` reads the
failed task's log; the pipeline's failure record (:mod:`omics_toolkit.pipeline.failures`),
``runs`` and ``runs show`` all use them, so they name the same line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.constants import HEALTHOMICS_LOG_GROUP
from omics_toolkit.errors import ResourceNotFoundError

#: How many of a failed task's newest log events are searched for its root error.
LOG_TAIL_EVENTS = 500
#: Longest root-error line kept (a contig header line can be long; a log line can be huge).
MAX_ROOT_ERROR = 1000

# -- the root error of a task's log ------------------------------------------------------------
#: Lines that are never the root error: htslib warnings and notes (``[W::...]``, ``[M::...]``,
#: ``[I::...]``, ``[D::...]``), the SIGPIPE a failed reader leaves its writer (exit status 141,
#: "Broken pipe"), bcftools' ploidy note, bwa's version/command/timing lines, plain warnings.
_NOISE = re.compile(
    r"^\s*(?:\[[WMID]::"
    r"|\[main\] (?:Version|CMD|Real time)"
    r"|Note: "
    r"|(?:WARN(?:ING)?|Warning)\b)"
    r"|exit (?:status|code) 141\b|\bBroken pipe\b|\bSIGPIPE\b|signal 13\b",
)
#: Error forms of htslib, samtools, bcftools, bwa, GATK, Python and Java, and shells.
_ERROR = re.compile(
    r"^\s*\[E::"  # htslib: [E::bcf_hdr_parse_line] Could not parse the header line: ...
    r"|\b(?:Error|ERROR)\b"  # Error: ..., ERROR ..., GATK's A USER ERROR has occurred: ...
    r"|^\s*(?:Exception in thread\b|[\w.$]*(?:Error|Exception)(?::|$))"  # Python, Java
    r"|\bCould not\b"
    r"|: command not found\s*$"
)
#: The forms whose "error" may be in any case (``[markdup] error:``, ``samtools: error:``).
_ERROR_ANY_CASE = re.compile(r"^\s*\[[\w.:-]+\] .*\berror\b|\berror:", re.IGNORECASE)
_TRACEBACK = "Traceback (most recent call last):"


def root_error(lines: Iterable[str]) -> str | None:
    """The line of a task's log that names the root error, else its last meaningful line.

    The root error is the LAST line in one of the error forms of the tools the workflows run:
    htslib's ``[E::function] ...`` (samtools, bcftools, bwa), ``[program] ... error ...``
    (``[main_vcfview] Error: ...``, ``[markdup] error: ...``), ``Error:``/``ERROR`` (GATK's
    ``A USER ERROR has occurred: ...``), a Python traceback's exception line or a Java
    ``...Exception: ...``, ``Could not ...``, a shell's ``...: command not found``. Warnings
    (``[W::...]``, ``WARNING``), notes and the SIGPIPE noise of a pipe whose reader failed (exit
    status 141, "Broken pipe") are never chosen: they are what a failing ``mpileup | call``
    prints after the error.

    Args:
        lines: the log's messages, oldest first (CloudWatch Logs events of stream
            ``run/{runId}/task/{taskId}``; a message holding several lines is split).

    Returns:
        The line, stripped and cut to :data:`MAX_ROOT_ERROR` characters; without any error form,
        the last line that is not noise; ``None`` for a log of blank or noise lines only.
    """
    flat = [part for line in lines for part in str(line).splitlines()]
    found: str | None = None
    tail: str | None = None
    in_traceback = False
    for line in flat:
        text = line.strip()
        if not text:
            continue
        if text == _TRACEBACK:
            in_traceback = True
            continue
        if in_traceback:
            if line[:1].isspace():  # a frame or its source line
                continue
            in_traceback = False
            found = tail = text  # the exception line ends the traceback, whatever its form
            continue
        if _NOISE.search(text):
            continue
        tail = text
        if _ERROR.search(text) or _ERROR_ANY_CASE.search(text):
            found = text
    chosen = found or tail
    return chosen[:MAX_ROOT_ERROR] if chosen else None


@dataclass
class TaskError:
    """The root error of a run's failed task.

    Attributes:
        task: the task's name (``CallVariants``); task_id: its id.
        line: the root-error line of its log (:func:`root_error`).
        stream: its CloudWatch Logs stream (``run/{runId}/task/{taskId}`` in
            ``/aws/omics/WorkflowLog``).
    """

    task: str
    task_id: str
    line: str
    stream: str


def run_task_error(
    omics: Any, logs: Any, run_id: str, tasks: list[dict[str, Any]] | None = None
) -> TaskError | None:
    """The root error of the first failed task of a HealthOmics run, from that task's log.

    Reads the run's FAILED tasks (ListRunTasks, ``status=FAILED``, paginated; skipped when
    ``tasks`` is given), takes the one that stopped first (a failed task makes the engine cancel
    or fail the rest) and the newest :data:`LOG_TAIL_EVENTS` events of its stream
    ``run/{runId}/task/{taskId}`` in ``/aws/omics/WorkflowLog`` (GetLogEvents, one call), then
    picks :func:`root_error`; a task without a log passes the turn to the next failed one.

    Args:
        tasks: the run's tasks (ListRunTasks items: ``taskId``, ``name``, ``status``,
            ``stopTime``) when the caller has them; only the FAILED ones are read.

    Returns:
        The :class:`TaskError`; ``None`` when no task failed (the run failed before or around
        its tasks) or no failed task wrote a log.

    Raises:
        AwsError (and its kinds: AccessDeniedError, ...): ListRunTasks or GetLogEvents failed.
            A missing log stream is not an error.
    """
    if tasks is None:
        tasks = []
        with translate("omics", "ListRunTasks"):
            pages = omics.get_paginator("list_run_tasks").paginate(id=run_id, status="FAILED")
            for page in pages:
                tasks.extend(page.get("items", []))
    failed = sorted(
        (t for t in tasks if t.get("status") == "FAILED"),
        key=lambda t: (t.get("stopTime") is None, str(t.get("stopTime") or "")),
    )
    for task in failed:
        stream = f"run/{run_id}/task/{task['taskId']}"
        try:
            with translate("logs", "GetLogEvents"):
                page = logs.get_log_events(
                    logGroupName=HEALTHOMICS_LOG_GROUP,
                    logStreamName=stream,
                    startFromHead=False,
                    limit=LOG_TAIL_EVENTS,
                )
        except ResourceNotFoundError:
            continue
        line = root_error(str(e.get("message", "")) for e in page.get("events", []))
        if line:
            return TaskError(str(task.get("name") or task["taskId"]), task["taskId"], line, stream)
    return None


def task_cause(error: TaskError, run_id: str, status: str = "FAILED") -> str:
    """The cause of a run that failed in a task: ``<task> failed: <root error> (run <id> <status>)``.

    The root error comes first so that a cut (a table cell) keeps it.
    """
    return f"{error.task} failed: {error.line} (run {run_id} {status})"
