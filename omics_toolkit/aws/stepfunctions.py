"""Step Functions helpers: exactly-once execution start, execution listing."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from omics_toolkit.aws.errors import error_code


def deployment_state_machine_arn(ctx: Any, state_machine: str) -> str:
    """ARN of the state machine named ``state_machine`` in ``ctx``'s partition, region, account.

    Args:
        ctx: an :class:`~omics_toolkit.aws.session.AwsContext` (``partition()``, ``region``,
            ``account_id``).
        state_machine: its name (``Names.state_machine``: ``<deployment>-germline``).
    """
    return (
        f"arn:{ctx.partition()}:states:{ctx.region}:{ctx.account_id}:stateMachine:{state_machine}"
    )


def execution_arn(state_machine_arn: str, name: str) -> str:
    """ARN of the execution ``name`` of a state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def start_execution_once(
    sfn: Any, state_machine_arn: str, name: str, payload: dict[str, Any]
) -> bool:
    """Start an execution named ``name`` unless one with that name exists (StartExecution).

    The name is the idempotency key. An existing execution is detected first
    (DescribeExecution), because StartExecution answers 200 again, without starting anything,
    for the same name and input while that execution is still running.

    Returns:
        ``True`` when this call started it, ``False`` when it existed (running or finished:
        ``ExecutionAlreadyExists`` for 90 days after it ends).
    """
    try:
        sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))
        return False
    except ClientError as exc:
        if error_code(exc) != "ExecutionDoesNotExist":
            raise
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
