"""The route table: HealthOmics operation name -> handler, and the backend that serves it.

Each operation module keeps its handlers and its ``OPERATIONS`` (name -> handler); this module
joins them, so that :mod:`healthomics_emulator.backend` imports no operation module.
"""

from __future__ import annotations

from pathlib import Path

from healthomics_emulator import (
    readset_jobs,
    references,
    run_groups,
    runs,
    sequences,
    tags,
    variants,
    workflows,
)
from healthomics_emulator.backend import SERVICE_ACCOUNT_ID, Backend, Handler
from healthomics_emulator.run_exec import RunManager

#: Every implemented operation (others answer ``NotImplementedException``).
OPERATIONS: dict[str, Handler] = {
    name: handler
    for module in (references, sequences, readset_jobs, workflows, runs, run_groups, variants, tags)
    for name, handler in module.OPERATIONS.items()
}


def new_backend(
    state_dir: Path,
    moto_endpoint: str,
    account_id: str,
    region: str,
    service_account_id: str = SERVICE_ACCOUNT_ID,
) -> Backend:
    """A :class:`Backend` serving :data:`OPERATIONS`, running runs with :class:`RunManager`."""
    return Backend(
        state_dir,
        moto_endpoint,
        account_id,
        region,
        handlers=OPERATIONS,
        runner=RunManager,
        service_account_id=service_account_id,
    )
