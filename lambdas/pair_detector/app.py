"""S3 ObjectCreated -> start one Step Functions execution per FASTQ pair.

Environment: STATE_MACHINE_ARN, POLL_INTERVAL_SECONDS.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from omics_toolkit.aws.session import environment_context
from omics_toolkit.pipeline.trigger import handle_s3_event

logger = Logger(service="pair_detector")
_aws = environment_context()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results = handle_s3_event(
        event,
        _aws.client("s3"),
        _aws.client("stepfunctions"),
        state_machine_arn=os.environ["STATE_MACHINE_ARN"],
        poll_interval_seconds=int(os.environ.get("POLL_INTERVAL_SECONDS", "60")),
    )
    for result in results:
        logger.info("record handled", extra=result)
    return {"results": results}
