"""Names shared by the run modules: the runs collection, run statuses, settings, the run folder.

Kept apart so that ``runs`` (API handlers), ``run_groups``, ``run_exec`` (execution) and
``run_tasks`` (task records, manifest values) import it and not each other.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
