"""Runs are held to the run role's identity policies (``healthomics_emulator.role_policy``).

A known-sites VCF in a bucket the run role may not read fails the run with ``IMPORT_FAILED``
(HealthOmics "Run failure reasons"); with the statements provisioning now adds for such objects
(``omics_toolkit.provisioning.iam.read_objects_statements``) the same run completes. An output
location the role may not write fails with ``EXPORT_FAILED``; a reference the role may read only
as a child ARN (without its store) fails, as IAM requires both resource types.
"""

from __future__ import annotations

from typing import Any

import pytest

from omics_toolkit.provisioning import iam as iam_docs
from tests.support.omics_helpers import create_service_role, wait_for, zip_wdl

ACCOUNT = "123456789012"
OMICS = f"arn:aws:omics:us-east-1:{ACCOUNT}"

WDL = """version 1.0
workflow Sites {
  input {
    File known_sites
    File genome
  }
  call count { input: known_sites = known_sites, genome = genome }
  output { File report = count.report }
}
task count {
  input {
    File known_sites
    File genome
  }
  command <<<
    echo "$(grep -vc '^#' ~{known_sites}) $(grep -c '>' ~{genome})" > report.txt
  >>>
  output { File report = "report.txt" }
  runtime { cpu: 1  memory: "1 GiB"  docker: "IMAGE" }
}
"""


@pytest.fixture(scope="module")
def sites_workflow(omics: Any, private_image: str) -> str:
    wf = omics.create_workflow(
        name="sites",
        engine="WDL",
        definitionZip=zip_wdl(WDL.replace("IMAGE", private_image)),
        main="main.wdl",
        requestId="create-sites",
        parameterTemplate={
            "known_sites": {"description": "VCF", "optional": False},
            "genome": {"description": "reference", "optional": False},
        },
    )
    done = wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE", "FAILED"})
    assert done["status"] == "ACTIVE", done
    return str(wf["id"])


@pytest.fixture(scope="module")
def shared_sites(s3: Any) -> str:
    """A known-sites VCF in a bucket that is not the deployment's."""
    s3.create_bucket(Bucket="shared-known-sites")
    s3.put_object(
        Bucket="shared-known-sites",
        Key="grch38/dbsnp.vcf",
        Body=b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t5\trs1\tA\tG\t.\t.\t.\n",
    )
    return "s3://shared-known-sites/grch38/dbsnp.vcf"


def _run_role(moto_url: str, name: str, reference: dict[str, Any], extra: list[dict]) -> str:
    """A run role as provisioning builds it: the deployment's bucket (``omics-test``) and
    reference, plus ``extra`` statements."""
    statements = iam_docs.run_role_statements(
        in_arn="arn:aws:s3:::omics-test",
        out_arn="arn:aws:s3:::omics-test",
        omics=OMICS,
        workflow_log_group=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/omics/WorkflowLog",
        reference=f"{reference['storeId']}/reference/{reference['id']}",
        sequence_store_id="none",
        run_cache=False,
        containers=iam_docs.ecr_run_role_statement("aws", ACCOUNT, "us-east-1", "test"),
        kms=[],
    )
    return create_service_role(moto_url, name, iam_docs.policy(*statements, *extra))


def _start(omics: Any, workflow: str, role: str, sites: str, reference: dict, out: str) -> dict:
    genome = (
        f"omics://{ACCOUNT}.storage.us-east-1.amazonaws.com/{reference['storeId']}"
        f"/reference/{reference['id']}"
    )
    run = omics.start_run(
        workflowId=workflow,
        roleArn=role,
        outputUri=out,
        parameters={"known_sites": sites, "genome": genome},
        storageType="DYNAMIC",
    )
    return wait_for(
        lambda: omics.get_run(id=run["id"]), "status", {"COMPLETED", "FAILED"}, timeout=120
    )


def test_known_sites_in_another_bucket_need_the_grant(
    omics: Any,
    s3: Any,
    moto_url: str,
    bucket: str,
    sites_workflow: str,
    shared_sites: str,
    reference: dict[str, Any],
) -> None:
    out = f"s3://{bucket}/runs/"
    before = _run_role(moto_url, "run-without-grant", reference, [])
    failed = _start(omics, sites_workflow, before, shared_sites, reference, out)
    assert failed["status"] == "FAILED"
    assert failed["failureReason"] == "IMPORT_FAILED"
    assert failed["statusMessage"] == (
        "The import failed. Check that the input file exists and the run role can access the "
        f"input. {before} is not authorized to perform: s3:GetObject on resource: "
        "arn:aws:s3:::shared-known-sites/grch38/dbsnp.vcf because no identity-based policy "
        "allows the action"
    )

    grants = iam_docs.read_objects_statements([shared_sites, shared_sites + ".tbi"])
    after = _run_role(moto_url, "run-with-grant", reference, grants)
    done = _start(omics, sites_workflow, after, shared_sites, reference, out)
    assert done["status"] == "COMPLETED", done
    report = s3.get_object(Bucket=bucket, Key=f"runs/{done['id']}/out/report/report.txt")
    assert report["Body"].read().decode().split() == ["1", "2"]


def test_outputs_the_role_may_not_write_fail_the_export(
    omics: Any, moto_url: str, bucket: str, sites_workflow: str, reference: dict[str, Any], s3: Any
) -> None:
    s3.put_object(Bucket=bucket, Key="in/sites.vcf", Body=b"#CHROM\nchr1\t1\n")
    role = _run_role(moto_url, "run-other-output", reference, [])
    done = _start(
        omics,
        sites_workflow,
        role,
        f"s3://{bucket}/in/sites.vcf",
        reference,
        f"s3://{bucket}/elsewhere/",
    )
    assert done["status"] == "FAILED"
    assert done["failureReason"] == "EXPORT_FAILED"
    assert (
        f"s3:PutObject on resource: arn:aws:s3:::{bucket}/elsewhere/{done['id']}/out/"
        in (done["statusMessage"])
    )


def test_a_reference_granted_without_its_store_is_not_readable(
    omics: Any, moto_url: str, bucket: str, sites_workflow: str, reference: dict[str, Any], s3: Any
) -> None:
    s3.put_object(Bucket=bucket, Key="in/sites2.vcf", Body=b"#CHROM\n")
    child_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["omics:GetReference"],
                "Resource": [
                    f"{OMICS}:referenceStore/{reference['storeId']}/reference/{reference['id']}"
                ],
            },
        ],
    }
    role = create_service_role(moto_url, "run-child-only", child_only)
    done = _start(
        omics,
        sites_workflow,
        role,
        f"s3://{bucket}/in/sites2.vcf",
        reference,
        f"s3://{bucket}/runs/",
    )
    assert done["failureReason"] == "IMPORT_FAILED"
    assert (
        f"omics:GetReference on resource: {OMICS}:referenceStore/{reference['storeId']} because"
        in done["statusMessage"]
    )


def test_a_missing_role_fails_assume_role(
    omics: Any, s3: Any, bucket: str, sites_workflow: str, reference: dict[str, Any]
) -> None:
    s3.put_object(Bucket=bucket, Key="in/sites.vcf", Body=b"#CHROM\n")
    done = _start(
        omics,
        sites_workflow,
        f"arn:aws:iam::{ACCOUNT}:role/no-such-role",
        f"s3://{bucket}/in/sites.vcf",
        reference,
        f"s3://{bucket}/runs/",
    )
    assert done["failureReason"] == "ASSUME_ROLE_FAILED"
    assert done["statusMessage"].startswith(
        "HealthOmics doesn't have permission to assume the role."
    )
