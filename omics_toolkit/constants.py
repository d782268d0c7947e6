"""Names and fixed values used across the toolkit."""

from __future__ import annotations

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
)

#: Service principal of AWS HealthOmics (trust policies, resource policies, PassedToService).
HEALTHOMICS_PRINCIPAL = "omics.amazonaws.com"
#: CloudWatch Logs group HealthOmics writes run, engine, task and manifest streams to.
HEALTHOMICS_LOG_GROUP = "/aws/omics/WorkflowLog"
