"""Files and settings shared by the host backend (task side) and the run executor (emulator side)."""

from __future__ import annotations

RESOURCES_FILE = "host_resources.json"
"""Name of the per-task resource record, written in the task run directory."""

REQUEST_FILE = "task_request.json"
"""Name of the per-task record of requested resources, written before the command runs."""

CONTAINER_SUBDIR = "container"
"""Sub-directory of the task run directory that stands in for the container's root."""


IMAGE_CHECK_ENV = "OMICS_TOOLKIT_IMAGE_CHECK"
"""Environment variable naming the image check's JSON configuration (set by the emulator)."""

IMAGE_RESULT_FILE = "image.json"
"""Per-task result of the image check, written in the task run directory::

    {"sourceImage": str, "image": str, "failureReason": str | null, "message": str | null}
"""
