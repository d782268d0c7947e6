"""Shared fixtures: the embedded local stack (started once per test session)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def emulator_available() -> bool:
    """True when the HealthOmics emulator's server module exists in this tree."""
    try:
        return importlib.util.find_spec("healthomics_emulator.server") is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Start the real local stack in a temporary home; yield its ``stack.json`` record.

    The record is ``{"pid", "moto", "omics", "region", "started_at", "log", "restored",
    "not_restored", "moto_ok", "omics_ok"}``; ``omics`` is ``None`` while the emulator is absent.
    """
    from omics_toolkit.local.stack import lifecycle as stack

    home = tmp_path_factory.mktemp("omics-toolkit-home")
    previous = os.environ.get("OMICS_TOOLKIT_HOME")
    os.environ["OMICS_TOOLKIT_HOME"] = str(home)
    local_dir = Path(home) / "local"
    record = stack.start(local_dir, with_omics=emulator_available())
    try:
        yield record
    finally:
        stack.stop(local_dir)
        if previous is None:
            os.environ.pop("OMICS_TOOLKIT_HOME", None)
        else:
            os.environ["OMICS_TOOLKIT_HOME"] = previous


@pytest.fixture(scope="session")
def aws(local_stack: dict[str, Any]) -> Any:
    """An :class:`omics_toolkit.aws.session.AwsContext` pointed at the local stack."""
    from omics_toolkit.aws.session import local_context

    omics = local_stack["omics"] or "http://127.0.0.1:9"
    return local_context(local_stack["moto"], omics)
