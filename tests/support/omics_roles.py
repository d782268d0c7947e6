"""HealthOmics service roles and imported references for tests on a real moto server.

The HealthOmics emulator evaluates a role's identity policies before an import or run reads or
writes (``healthomics_emulator.role_policy``), as the service does: tests that start jobs need a
role that trusts ``omics.amazonaws.com`` and may read their sources.
"""

from __future__ import annotations

import json
import time
from typing import Any

#: Trust policy of a role HealthOmics may assume.
OMICS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "omics.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def create_service_role(iam: Any, name: str, policy: dict[str, Any]) -> str:
    """Role ``name`` that HealthOmics may assume, with ``policy`` inline (IAM CreateRole,
    PutRolePolicy); returns its ARN."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(OMICS_TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=json.dumps(policy))
    return str(arn["Role"]["Arn"])


def imported_reference(ctx: Any, prefix: str, fasta: str, timeout_seconds: float = 60) -> str:
    """A reference imported into a new reference store, as a variant store needs one.

    Creates bucket ``<prefix>-src`` holding ``ref.fa``, import role ``<prefix>-import`` (may
    read that bucket) and reference store ``<prefix>-refs``; returns the reference's ARN.
    """
    s3, omics = ctx.client("s3"), ctx.client("omics")
    bucket = f"{prefix}-src"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="ref.fa", Body=fasta.encode())
    role = create_service_role(
        ctx.client("iam"),
        f"{prefix}-import",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        },
    )
    store = omics.create_reference_store(name=f"{prefix}-refs")
    job = omics.start_reference_import_job(
        referenceStoreId=store["id"],
        roleArn=role,
        sources=[{"sourceFile": f"s3://{bucket}/ref.fa", "name": "ref"}],
    )
    deadline = time.monotonic() + timeout_seconds
    while True:
        done = omics.get_reference_import_job(id=job["id"], referenceStoreId=store["id"])
        if done["status"] in ("COMPLETED", "FAILED"):
            break
        assert time.monotonic() < deadline, done
        time.sleep(0.2)
    assert done["status"] == "COMPLETED", done
    ref = done["sources"][0]["referenceId"]
    return str(omics.get_reference_metadata(referenceStoreId=store["id"], id=ref)["arn"])
