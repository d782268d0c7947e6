"""S3 ObjectCreated -> start one Step Functions execution per FASTQ pair, manifest sample or BAM.

Environment: STATE_MACHINE_ARN, POLL_INTERVAL_SECONDS, PAIR_PATTERN (optional: the
``pair_pattern`` setting, a regular expression with named groups sample, mate and lane),
OUTPUT_BUCKET (optional: where ``reference/contigs.txt`` is, to check an aligned upload's contigs).
See :mod:`omics_toolkit.pipeline.trigger` for the AWS actions the handler needs.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from omics_toolkit.aws.session import environment_context
from omics_toolkit.config import compile_pair_pattern
from omics_toolkit.pipeline.trigger import handle_s3_event

logger = Logger(service="pair_detector")
_aws = environment_context()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    pair_pattern = os.environ.get("PAIR_PATTERN") or None
    if pair_pattern:
        # A bad pattern fails every invocation loudly rather than ignoring uploads silently.
        compile_pair_pattern(pair_pattern, "Lambda environment PAIR_PATTERN")
    results = handle_s3_event(
        event,
        _aws.client("s3"),
        _aws.client("stepfunctions"),
        state_machine_arn=os.environ["STATE_MACHINE_ARN"],
        poll_interval_seconds=int(os.environ.get("POLL_INTERVAL_SECONDS", "60")),
        pair_pattern=pair_pattern,
        output_bucket=os.environ.get("OUTPUT_BUCKET") or None,
    )
    for result in results:
        if result["action"] == "invalid-manifest":
            logger.error("invalid manifest", extra=result)
        elif result["supersedes"]:
            logger.warning("new content supersedes earlier executions", extra=result)
        else:
            logger.info("record handled", extra=result)
    return {"results": results}
