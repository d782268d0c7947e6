"""Step Functions task: record a failed execution (tag inputs ``failed``, notify SNS/EventBridge).

Input: {"execution": arn, "executionName": str, "stateMachine": arn, "state": {...}}.
Output: the FailureRecord as a dict; the state machine's Fail state uses its ``error``/``cause``
(for a failed run: the failed task and the root error of its log, read with ListRunTasks and
GetLogEvents).
Environment: TOPIC_ARN (SNS topic, optional), EVENT_BUS_NAME (EventBridge bus, optional).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from omics_toolkit.aws.session import environment_context
from omics_toolkit.pipeline.failures import record_failure

logger = Logger(service="failure_handler")
_aws = environment_context()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    topic = os.environ.get("TOPIC_ARN") or None
    bus = os.environ.get("EVENT_BUS_NAME") or None
    record = record_failure(
        _aws.client("s3"),
        _aws.client("sns") if topic else None,
        _aws.client("events") if bus else None,
        execution=event["execution"],
        execution_name=event["executionName"],
        state=dict(event["state"]),
        topic_arn=topic,
        event_bus=bus,
        omics=_aws.client("omics"),
        logs=_aws.client("logs"),
    )
    out = asdict(record)
    logger.warning("execution failed", extra=out)
    return out
