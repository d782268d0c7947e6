"""Shared fixtures: the embedded local stack (started once per test session).

Under pytest-xdist (``scripts/test.sh`` runs ``-n 2 --dist loadfile``) every worker is its own
session: it starts its own stack in its own temporary home (``tmp_path_factory`` gives each worker
a directory of its own), on free ports, with its own environment. Data downloads shared between
workers (the pytest cache, ``<home>/data``) are serialised by ``omics_toolkit.data``'s cache lock.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Directories whose test files share session-scoped fixtures (a deployment per variant back end,
#: a private moto server): under ``--dist loadfile`` each is sent to one worker as a whole, so the
#: fixture is built once, not once per worker.
SHARED_SESSION_DIRS = (
    "tests/functional/queries/",
    "tests/functional/local/omics/",
    "tests/functional/reads/",
)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """(xdist, on the controller) Hand the controller's ``COLUMNS`` to each worker."""
    node.workerinput["omics_toolkit_columns"] = os.environ.get("COLUMNS")


def pytest_configure(config: pytest.Config) -> None:
    """In an xdist worker, restore the controller's ``COLUMNS``: workers start with
    ``COLUMNS=80`` set, which narrows the CLI's console (``omics_toolkit.cli.common``) from
    unwrapped to 80 columns and wraps error lines the tests read whole."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or "omics_toolkit_columns" not in workerinput:
        return
    columns = workerinput["omics_toolkit_columns"]
    if columns is None:
        os.environ.pop("COLUMNS", None)
    else:
        os.environ["COLUMNS"] = columns


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` that keeps each of :data:`SHARED_SESSION_DIRS` on one worker."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedDirScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((d for d in SHARED_SESSION_DIRS if path.startswith(d)), path)

    return SharedDirScheduling(config, log)


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
