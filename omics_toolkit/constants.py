"""Names and fixed values used across the toolkit."""

from __future__ import annotations

# Service principal of AWS HealthOmics and the CloudWatch Logs group its runs write to: facts
# shared with the emulator (healthomics_facts.service), re-exported under their old names.
from healthomics_facts.service import HEALTHOMICS_LOG_GROUP as HEALTHOMICS_LOG_GROUP
from healthomics_facts.service import HEALTHOMICS_PRINCIPAL as HEALTHOMICS_PRINCIPAL

TOOL_NAME = "omics-toolkit"
#: Tag put on every resource the toolkit creates; its value is the deployment name.
DEPLOYMENT_TAG = "omics-toolkit:deployment"
#: Tag put on S3 objects by the pipeline, matched by the buckets' lifecycle rules.
LIFECYCLE_TAG = "omics-toolkit:lifecycle"

#: Fake credentials and account used against the embedded local stack (moto's default account).
LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_ACCESS_KEY = "testing"
LOCAL_SECRET_KEY = "testing"
DEFAULT_REGION = "us-east-1"

#: Services served by moto in the local stack; omics is served by the HealthOmics emulator.
MOTO_SERVICES = (
    "s3",
    "iam",
    "sts",
    "lambda",
    "stepfunctions",
    "glue",
    "lakeformation",
    "athena",
    "logs",
    "ecr",
    "sns",
    "events",
    "s3tables",
    "ram",
)

# Objects the toolkit itself keeps in a deployment's output bucket. They are not user data:
# teardown deletes them with the bucket, and a bucket holding only them is not "kept".
#: The contig-name mapping of ``--rename-contigs`` (original, name in results; TSV).
CONTIG_NAMES_KEY = "reference/contig-names.tsv"
#: The contig names (one a line, after renaming, in FASTA order) of the reference the
#: deployment's variant data is bound to, written after the reference is imported.
REFERENCE_CONTIGS_KEY = "reference/contigs.txt"
#: The output bucket's incarnation id (8 hex digits), part of the idempotency tokens.
INCARNATION_KEY = "omics-toolkit/incarnation"
BOOKKEEPING_KEYS = frozenset({CONTIG_NAMES_KEY, REFERENCE_CONTIGS_KEY, INCARNATION_KEY})
