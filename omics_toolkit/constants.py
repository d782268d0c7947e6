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
