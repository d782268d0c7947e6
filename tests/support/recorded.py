"""Provision and tear down one deployment on the local stack, recording every AWS request.

The run is made once per test session (it takes a while) and shared by the tests that check the
recorded requests against the service models and the IAM policies in them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omics_toolkit.aws.session import RecordedRequest, local_context
from omics_toolkit.config import Settings
from omics_toolkit.data import fetch_demo_data
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.teardown import Teardown

DEPLOYMENT = "ft-recorded"


@dataclass(frozen=True)
class RecordedDeployment:
    """The requests of a fresh provision and of the full teardown that followed."""

    provision: list[RecordedRequest]
    teardown: list[RecordedRequest]

    @property
    def requests(self) -> list[RecordedRequest]:
        return [*self.provision, *self.teardown]


_runs: dict[str, RecordedDeployment] = {}


def record_deployment(stack: dict[str, Any]) -> RecordedDeployment:
    """Provision :data:`DEPLOYMENT` on ``stack`` (the ``local_stack`` record), then tear it down
    with ``force_delete_data``; return the recorded requests (cached per stack).
    """
    key = str(stack["moto"])
    if key not in _runs:
        settings = Settings(
            deployment=DEPLOYMENT,
            home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
            poll_interval_seconds=1,
            # Run options that add resources (run group, run cache) and IAM statements.
            run_group_max_runs=10,
            cache_behavior="CACHE_ALWAYS",
        )
        reference = str(fetch_demo_data().reference)
        provision_ctx = local_context(stack["moto"], stack["omics"])
        Provisioner(provision_ctx, settings).apply(reference)
        teardown_ctx = local_context(stack["moto"], stack["omics"])
        Teardown(teardown_ctx, settings).run(force_delete_data=True)
        _runs[key] = RecordedDeployment(provision_ctx.requests, teardown_ctx.requests)
    return _runs[key]
