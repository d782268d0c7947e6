"""Step Functions task ``LoadVariants``: the run's VCF -> the S3 Tables ``variants`` table.

Input: ``{"vcf": "s3://...vcf.gz", "importId": "<execution name>"}``.
Environment: ``TABLE_BUCKET_ARN``, ``NAMESPACE``, ``OUTPUT_BUCKET`` (optional: every record's
contig is checked against the reference's names in its ``reference/contigs.txt``, as the
variant store checks them; an uploaded VCF needs it, the workflow's VCFs pass it).
Output: :class:`omics_toolkit.tables.loader.LoadResult` as a dict (``jobId`` = ``importId``).
Raises ``VariantLoadError`` (bad VCF: not retried) or ``CommitFailedException`` (concurrent
writers: retried by the state machine).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from omics_toolkit.aws.session import environment_context
from omics_toolkit.pipeline.aligned import reference_contigs
from omics_toolkit.tables.loader import load_variants

logger = Logger(service="variant_loader")
_aws = environment_context()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    output_bucket = os.environ.get("OUTPUT_BUCKET")
    contigs = reference_contigs(_aws.client("s3"), output_bucket) if output_bucket else None
    result = load_variants(
        _aws,
        os.environ["TABLE_BUCKET_ARN"],
        os.environ["NAMESPACE"],
        event["vcf"],
        event["importId"],
        known_contigs=set(contigs) if contigs is not None else None,
    )
    logger.info("variants loaded", extra=result.to_dict())
    return {"jobId": result.import_id, **result.to_dict()}
