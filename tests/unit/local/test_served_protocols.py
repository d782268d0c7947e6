"""Every service the local stack serves speaks a wire protocol the stack answers.

botocore 1.44.14 moved Athena from the JSON protocol to REST-JSON and moto answered 404. When a
newer botocore moves another service, this fails (in the drift guard first, scripts/test-latest.sh)
naming the service, instead of a 404 in the middle of a pipeline. Checked against botocore 1.44.5,
1.44.13 and 1.44.18: only Athena changed.
"""

from __future__ import annotations

import botocore.session
import pytest

#: Service -> the protocols the local stack answers for it (moto, or the HealthOmics emulator).
SERVED: dict[str, set[str]] = {
    "s3": {"rest-xml"},
    "iam": {"query"},
    "sts": {"query"},
    "sns": {"query"},
    "lambda": {"rest-json"},
    "lakeformation": {"rest-json"},
    "s3tables": {"rest-json"},
    "stepfunctions": {"json"},
    "glue": {"json"},
    "logs": {"json"},
    "events": {"json"},
    "kms": {"json"},
    "ecr": {"json"},
    "ssm": {"json"},
    # omics_toolkit.local.patches.athena_protocols
    "athena": {"json", "rest-json"},
    # the HealthOmics emulator routes on the model's method + requestUri
    "omics": {"rest-json"},
}


@pytest.mark.parametrize("service", sorted(SERVED))
def test_installed_botocore_speaks_a_served_protocol(service: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    spoken = model.protocol
    assert spoken in SERVED[service], (
        f"botocore {botocore.__version__} speaks {spoken} to {service}; the local stack answers "
        f"{sorted(SERVED[service])}: check moto's routes for {service} (see "
        "omics_toolkit/local/patches/athena_protocols.py for how Athena's change was handled)"
    )
