"""Make moto's Step Functions ``aws-sdk:<service>:<action>`` tasks behave like the real service.

Patched moto 5.2.x names:

- ``moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for(region, service,
  state_credentials=None)`` (and every module that imported it by name): ``omics`` goes to
  ``$AWS_ENDPOINT_URL_OMICS`` with ``Config(inject_host_prefix=False)``; other services keep the
  moto endpoint.
- ``StateTaskServiceAwsSdk._normalise_parameters(parameters, boto_service_name=None,
  service_action_name=None)``: PascalCase (or camelCase) parameters, as real Step Functions takes
  them, are renamed to the botocore member names of the operation's input shape.
- ``StateTaskServiceAwsSdk._normalise_response(response, ...)``: output keys become PascalCase
  (map keys untouched), datetimes become ISO-8601 strings (``2024-01-02T03:04:05.123Z``), bytes
  become base64 text, so ``DescribeExecution`` can serialise the output.
- ``StateTaskServiceAwsSdk._normalise_service_error_name(service)``: errors are named
  ``<Service>.<ErrorCode>`` as in AWS (``Omics.ConflictException``, ``S3.NoSuchBucketException``,
  ``Omics.OmicsException`` for errors the model does not declare).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import importlib
import logging
import os
import pkgutil
import sys
from typing import Any

from botocore.config import Config

from omics_toolkit.local.patches.guard import Needs

LOG = logging.getLogger(__name__)

#: The moto symbols this module replaces (checked by tests/unit/local/test_patches_sfn_aws_sdk.py).
TARGETS = (
    "moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service_aws_sdk.StateTaskServiceAwsSdk._normalise_parameters",
    "...StateTaskServiceAwsSdk._normalise_response",
    "...StateTaskServiceAwsSdk._normalise_service_error_name",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for",
        params=("region", "service", "state_credentials"),
    ),
    Needs(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk.StateTaskServiceAwsSdk."
        "_normalise_parameters",
        params=("self", "parameters"),
    ),
    Needs(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk.StateTaskServiceAwsSdk._normalise_response"
    ),
    Needs(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk.StateTaskServiceAwsSdk._normalise_service_error_name"
    ),
    Needs(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk.StateTaskServiceAwsSdk._eval_service_task",
        source=("boto_client_for(",),
    ),
    Needs("moto.stepfunctions.parser.utils.camel_to_snake_case"),
)

_SERVICE_ERROR_NAMES = {
    "dynamodb": "DynamoDb",
    "sfn": "Sfn",
    "stepfunctions": "Sfn",
    "s3": "S3",
    "iam": "Iam",
    "sts": "Sts",
    "ec2": "Ec2",
    "ecs": "Ecs",
    "sns": "Sns",
    "sqs": "Sqs",
    "kms": "Kms",
}

_original_boto_client_for: Any = None


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """Client used by Step Functions tasks: ``omics`` -> the emulator, others -> moto."""
    omics_url = os.environ.get("AWS_ENDPOINT_URL_OMICS")
    if service == "omics" and omics_url:
        import boto3
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
            TimeoutSeconds,
        )

        return boto3.client(
            service_name="omics",
            region_name=region,
            endpoint_url=omics_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(
                parameter_validation=False,
                inject_host_prefix=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
        )
    return _original_boto_client_for(
        region=region, service=service, state_credentials=state_credentials
    )


@functools.lru_cache(maxsize=64)
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _operation_model(service: str, action: str) -> Any:
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    model = _service_model(service)
    wanted = camel_to_snake_case(action)
    for name in model.operation_names:
        if camel_to_snake_case(name) == wanted:
            return model.operation_model(name)
    raise ValueError(f"{service} has no operation {action!r}")


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_json_safe(value: Any) -> Any:
    """Recursively convert datetimes to ISO-8601 text and bytes to base64 text."""
    if isinstance(value, dict):
        return {k: to_json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_safe(v) for v in value]
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _normalise_parameters(
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    service = self._get_boto_service_name(boto_service_name)
    action = service_action_name or self.resource.api_action
    try:
        op = _operation_model(service, action)
    except Exception:  # noqa: BLE001 - unknown service/action fails later, as in AWS
        LOG.warning("no botocore model for %s:%s; parameters passed unchanged", service, action)
        return
    if op.input_shape is not None:
        self._to_boto_request(parameters, op.input_shape)


def _normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    if not isinstance(response, dict):
        return
    service = self._get_boto_service_name(boto_service_name)
    action = service_action_name or self.resource.api_action
    try:
        op = _operation_model(service, action)
    except Exception:  # noqa: BLE001
        op = None
    if op is not None and op.output_shape is not None:
        self._from_boto_response(response, op.output_shape)
    safe = to_json_safe(response)
    response.clear()
    response.update(safe)


def _normalise_service_error_name(service_name: str) -> str:
    lower = service_name.lower()
    if lower in _SERVICE_ERROR_NAMES:
        return _SERVICE_ERROR_NAMES[lower]
    return service_name[:1].upper() + service_name[1:]


def _modules_importing_boto_client_for() -> list[Any]:
    import moto.stepfunctions.parser.asl as asl

    for info in pkgutil.walk_packages(asl.__path__, asl.__name__ + "."):
        if (
            "state_task" in info.name
            or "resource_eval" in info.name
            or info.name.endswith("boto_client")
        ):
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - optional parts of moto's parser
                LOG.debug("could not import %s", info.name)
    return [
        mod
        for name, mod in list(sys.modules.items())
        if name.startswith("moto.stepfunctions") and hasattr(mod, "boto_client_for")
    ]


def apply() -> None:
    """Install the replacements (idempotent)."""
    global _original_boto_client_for
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )
    from moto.stepfunctions.parser.asl.utils import boto_client

    if boto_client.boto_client_for is not boto_client_for:
        _original_boto_client_for = boto_client.boto_client_for
    for module in _modules_importing_boto_client_for():
        if module.boto_client_for is _original_boto_client_for:
            module.boto_client_for = boto_client_for
    cls = sdk.StateTaskServiceAwsSdk
    cls._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
    cls._normalise_response = _normalise_response  # type: ignore[method-assign]
    cls._normalise_service_error_name = staticmethod(_normalise_service_error_name)  # type: ignore[method-assign,assignment]
