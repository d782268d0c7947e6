"""Step Functions task: find the BAM and VCF a completed run wrote.

Input: {"runId": str, "outputUri": str}. Output: {"bam", "bam_index", "vcf", "vcf_index"} S3 URIs.
Raises RunOutputsMissingError (matched by the state machine's Catch).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from omics_toolkit.aws.session import environment_context
from omics_toolkit.pipeline.outputs import resolve_outputs

logger = Logger(service="run_outputs")
_aws = environment_context()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    outputs = resolve_outputs(
        _aws.client("omics"),
        _aws.client("s3"),
        run_id=event["runId"],
        output_uri=event["outputUri"],
    )
    logger.info("run outputs", extra=outputs)
    return outputs
