"""CloudWatch Logs (moto) writer for run logs: group ``/aws/omics/WorkflowLog``.

Streams: ``run/{runId}`` (status changes), ``run/{runId}/engine`` (miniwdl's log),
``run/{runId}/task/{taskId}`` (a task's stdout then stderr), ``manifest/run/{runId}/{runUuid}``
(the run manifest: one JSON event for the run, one per task; written by
:meth:`healthomics_emulator.run_exec.RunManager._write_manifest`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from healthomics_facts.service import HEALTHOMICS_LOG_GROUP

log = logging.getLogger(__name__)

LOG_GROUP = HEALTHOMICS_LOG_GROUP
_BATCH = 500
_MAX_EVENT_CHARS = 200_000


class RunLogs:
    """Puts events to the run log streams; failures are logged, never raised.

    Args:
        logs: a boto3 ``logs`` client for moto.
    """

    def __init__(self, logs: Any) -> None:
        self.logs = logs
        self._streams: set[str] = set()
        self._group_ready = False

    def _ensure(self, stream: str) -> None:
        if not self._group_ready:
            try:
                self.logs.create_log_group(logGroupName=LOG_GROUP)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                    raise
            self._group_ready = True
        if stream not in self._streams:
            try:
                self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                    raise
            self._streams.add(stream)

    def put(self, stream: str, lines: list[str]) -> None:
        """Append ``lines`` (one event each, empty lines dropped) to ``stream``."""
        lines = [ln[:_MAX_EVENT_CHARS] for ln in lines if ln.strip()]
        try:
            self._ensure(stream)
            now = int(time.time() * 1000)
            for i in range(0, len(lines), _BATCH):
                events = [{"timestamp": now, "message": m} for m in lines[i : i + _BATCH]]
                self.logs.put_log_events(
                    logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events
                )
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not write CloudWatch log stream %s: %s", stream, exc)
