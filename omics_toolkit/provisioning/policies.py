"""IAM and bucket policy documents: least privilege, scoped to the deployment's exact ARNs."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def trust(service: str, account: str) -> Doc:
    """Trust policy for an AWS service principal, limited to this account (confused deputy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ],
    }


def policy(*statements: Doc) -> Doc:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: list[str], resources: list[str], condition: Doc | None = None) -> Doc:
    stmt: Doc = {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        stmt["Condition"] = condition
    return stmt


def tls_only_bucket_policy(bucket: str, partition: str = "aws") -> Doc:
    """Deny every request to the bucket that does not use TLS."""
    arn = f"arn:{partition}:s3:::{bucket}"
    return policy(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def lambda_logs(partition: str, region: str, account: str, function: str) -> Doc:
    group = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{function}"
    return allow(
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [group, f"{group}:*"]
    )
