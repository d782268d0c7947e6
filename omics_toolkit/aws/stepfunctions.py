"""Step Functions helpers: exactly-once execution start, execution listing."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from omics_toolkit.aws.errors import error_code


def start_execution_once(
    sfn: Any, state_machine_arn: str, name: str, payload: dict[str, Any]
) -> bool:
    """Start an execution named ``name`` unless one with that name exists (StartExecution).

    Returns:
        ``True`` when this call started it, ``False`` when it was already running or done
        (``ExecutionAlreadyExists``): the name is the idempotency key.
    """
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return False
        raise
    return True


def list_executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    """Every execution of a state machine, newest first (ListExecutions, paginated)."""
    out: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        out.extend(page["executions"])
    return sorted(out, key=lambda e: e["startDate"], reverse=True)
