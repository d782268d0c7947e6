"""Step Functions task: merge lifecycle tags into the pipeline's S3 objects.

Input: {"lanes": [{"fastq1": uri, "fastq2": uri, ...}], "inputs": [uri] (an aligned upload),
"outputs": {name: uri}, "tags": {k: v}}.
Output: {"tagged": int}.
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
    uris = [lane[k] for lane in event.get("lanes", []) for k in ("fastq1", "fastq2")]
    uris += [str(uri) for uri in event.get("inputs", [])]
    uris += [uri for uri in dict(event.get("outputs", {})).values() if isinstance(uri, str)]
    count = tag_objects(_aws.client("s3"), uris, dict(event["tags"]))
    logger.info("tagged objects", extra={"count": count})
    return {"tagged": count}
