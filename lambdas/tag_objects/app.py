"""Step Functions task: merge lifecycle tags into the pipeline's S3 objects.

Input: {"objects": [s3 uri, ...], "tags": {key: value}}. Output: {"tagged": int}.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from omics_toolkit.aws.session import environment_context
from omics_toolkit.pipeline.outputs import tag_objects

logger = Logger(service="tag_objects")
_aws = environment_context()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    count = tag_objects(_aws.client("s3"), list(event["objects"]), dict(event["tags"]))
    logger.info("tagged objects", extra={"count": count})
    return {"tagged": count}
