"""Run-time container image check: images must resolve to pullable private ECR of the region.

HealthOmics pulls task images only from private ECR in the run's region that lets
``omics.amazonaws.com`` pull; a workflow's ``containerRegistryMap`` rewrites upstream URIs to
pull through cache prefixes. The emulator checks the evaluated ``runtime.docker`` of every task
against moto ECR (with the ECR pull through cache patch) and fails the run with HealthOmics'
failure reasons.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from healthomics_emulator.runs import CHECK_IMAGES_ENV
from omics_toolkit.local.patches import ecr_pull_through
from tests.support.omics_helpers import ROLE, wait_for, zip_wdl

ACCOUNT = "123456789012"
REGION = "us-east-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
RUN_DONE = {"COMPLETED", "FAILED", "CANCELLED"}
QUAY_IMAGE = "quay.io/biocontainers/tiny:1.0--0"

TINY_WDL = f"""version 1.0
workflow Tiny {{
  input {{
    String tool_image = "{QUAY_IMAGE}"
  }}
  call hello {{ input: image = tool_image }}
  output {{ String said = hello.said }}
}}
task hello {{
  input {{ String image }}
  command <<<
    echo hi
  >>>
  output {{ String said = read_string(stdout()) }}
  runtime {{ docker: image  cpu: 1  memory: "64 MiB" }}
}}
"""

PULL_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "HealthOmicsPull",
            "Effect": "Allow",
            "Principal": {"Service": "omics.amazonaws.com"},
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def ecr(moto_url: str) -> Any:
    ecr_pull_through.apply()  # the moto server of these tests runs in this process
    return boto3.client(
        "ecr",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(autouse=True)
def _check_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(CHECK_IMAGES_ENV, "1")
    yield


def _ptc(ecr: Any, prefix: str, *, registry_statement: bool = True, template: bool = True) -> None:
    """A quay.io pull through cache rule at ``prefix`` with what HealthOmics needs."""
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=prefix, upstreamRegistryUrl="quay.io")
    if template:
        ecr.create_repository_creation_template(
            prefix=prefix,
            appliedFor=["PULL_THROUGH_CACHE"],
            repositoryPolicy=json.dumps(PULL_POLICY),
        )
    if registry_statement:
        try:
            policy = json.loads(ecr.get_registry_policy()["policyText"])
        except ClientError:
            policy = {"Version": "2012-10-17", "Statement": []}
        policy["Statement"].append(
            {
                "Sid": prefix.replace("/", "").replace("-", "").title(),
                "Effect": "Allow",
                "Principal": {"Service": "omics.amazonaws.com"},
                "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{prefix}/*",
            }
        )
        ecr.put_registry_policy(policyText=json.dumps(policy))


def _workflow(omics: Any, name: str, **extra: Any) -> str:
    wf = omics.create_workflow(
        name=name, engine="WDL", definitionZip=zip_wdl(TINY_WDL), requestId=f"wf-{name}", **extra
    )
    done = wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE", "FAILED"})
    assert done["status"] == "ACTIVE", done
    return str(wf["id"])


def _start(omics: Any, bucket: str, workflow_id: str, key: str, **params: str) -> str:
    run = omics.start_run(
        workflowId=workflow_id,
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/images/",
        parameters=params,
        requestId=f"run-{key}",
        storageType="DYNAMIC",
    )
    return str(run["id"])


def _done(omics: Any, run_id: str) -> dict[str, Any]:
    return wait_for(lambda: omics.get_run(id=run_id), "status", RUN_DONE, timeout=90)


def _task(omics: Any, run_id: str) -> dict[str, Any]:
    (item,) = omics.list_run_tasks(id=run_id)["items"]
    return dict(omics.get_run_task(id=run_id, taskId=item["taskId"]))


def test_registry_map_is_stored_and_returned(omics: Any, s3: Any, bucket: str) -> None:
    mapping = {
        "registryMappings": [{"upstreamRegistryUrl": "quay.io", "ecrRepositoryPrefix": "m/quay"}],
        "imageMappings": [
            {"sourceImage": "ubuntu:22.04", "destinationImage": f"{REGISTRY}/mine/ubuntu:22.04"}
        ],
    }
    wf_id = _workflow(omics, "map-inline", containerRegistryMap=mapping)
    assert omics.get_workflow(id=wf_id)["containerRegistryMap"] == mapping

    s3.put_object(Bucket=bucket, Key="maps/map.json", Body=json.dumps(mapping).encode())
    from_uri = _workflow(omics, "map-uri", containerRegistryMapUri=f"s3://{bucket}/maps/map.json")
    assert omics.get_workflow(id=from_uri)["containerRegistryMap"] == mapping
    omics.create_workflow_version(
        workflowId=from_uri,
        versionName="v2",
        definitionZip=zip_wdl(TINY_WDL),
        requestId="map-uri-v2",
        containerRegistryMap={"registryMappings": []},
    )
    version = wait_for(
        lambda: omics.get_workflow_version(workflowId=from_uri, versionName="v2"),
        "status",
        {"ACTIVE", "FAILED"},
    )
    assert version["containerRegistryMap"] == {"registryMappings": []}

    s3.put_object(Bucket=bucket, Key="maps/bad.json", Body=b"{not json")
    s3.put_object(
        Bucket=bucket, Key="maps/wrong.json", Body=json.dumps({"registryMappings": [{}]}).encode()
    )
    for key, expected in (
        ("maps/bad.json", "not a JSON document"),
        ("maps/wrong.json", "upstreamRegistryUrl"),
        ("maps/missing.json", "NoSuchKey"),
    ):
        with pytest.raises(ClientError) as exc:
            omics.create_workflow(
                name="bad-map",
                engine="WDL",
                definitionZip=zip_wdl(TINY_WDL),
                requestId=f"bad-{key}",
                containerRegistryMapUri=f"s3://{bucket}/{key}",
            )
        assert exc.value.response["Error"]["Code"] == "ValidationException"
        assert expected in str(exc.value)
    with pytest.raises(ClientError) as exc:
        omics.create_workflow(
            name="both",
            engine="WDL",
            definitionZip=zip_wdl(TINY_WDL),
            requestId="both-maps",
            containerRegistryMap=mapping,
            containerRegistryMapUri=f"s3://{bucket}/maps/map.json",
        )
    assert "Only one of" in str(exc.value)


def test_images_are_checked_at_run_time(
    omics: Any, ecr: Any, s3: Any, bucket: str, moto_url: str
) -> None:
    _ptc(ecr, "chk/quay")
    _ptc(ecr, "noreg/quay", registry_statement=False)
    _ptc(ecr, "notpl/quay", template=False)
    ecr.create_repository(repositoryName="mine/tool")
    ecr.set_repository_policy(repositoryName="mine/tool", policyText=json.dumps(PULL_POLICY))
    ecr.create_repository(repositoryName="mine/closed")

    def mapped(prefix: str) -> dict[str, Any]:
        return {
            "containerRegistryMap": {
                "registryMappings": [
                    {"upstreamRegistryUrl": "quay.io", "ecrRepositoryPrefix": prefix}
                ]
            }
        }

    plain = _workflow(omics, "img-plain")
    good = _workflow(omics, "img-ptc", **mapped("chk/quay"))
    noreg = _workflow(omics, "img-noreg", **mapped("noreg/quay"))
    notpl = _workflow(omics, "img-notpl", **mapped("notpl/quay"))
    runs = {
        "upstream": _start(omics, bucket, plain, "upstream"),
        "ptc": _start(omics, bucket, good, "ptc"),
        "noreg": _start(omics, bucket, noreg, "noreg"),
        "notpl": _start(omics, bucket, notpl, "notpl"),
        "region": _start(
            omics,
            bucket,
            plain,
            "region",
            tool_image=f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/mine/tool:1",
        ),
        "own": _start(omics, bucket, plain, "own", tool_image=f"{REGISTRY}/mine/tool:1"),
        "closed": _start(omics, bucket, plain, "closed", tool_image=f"{REGISTRY}/mine/closed:1"),
        "absent": _start(omics, bucket, plain, "absent", tool_image=f"{REGISTRY}/mine/absent:1"),
    }
    done = {key: _done(omics, run_id) for key, run_id in runs.items()}

    # an upstream URI without a registry map: not private ECR
    upstream = done["upstream"]
    assert upstream["status"] == "FAILED"
    assert upstream["failureReason"] == "INVALID_ECR_IMAGE_URI"
    assert QUAY_IMAGE in upstream["statusMessage"]
    task = _task(omics, runs["upstream"])
    assert task["status"] == "FAILED"
    assert task["failureReason"] == "INVALID_ECR_IMAGE_URI"
    assert task["imageDetails"] == {"image": QUAY_IMAGE}

    # mapped to a pull through cache prefix with every permission: the pull creates the repository
    assert done["ptc"]["status"] == "COMPLETED", done["ptc"]
    task = _task(omics, runs["ptc"])
    resolved = f"{REGISTRY}/chk/quay/biocontainers/tiny:1.0--0"
    assert task["imageDetails"] == {"image": resolved, "sourceImage": QUAY_IMAGE}
    repo = "chk/quay/biocontainers/tiny"
    assert ecr.describe_repositories(repositoryNames=[repo])["repositories"]
    assert json.loads(ecr.get_repository_policy(repositoryName=repo)["policyText"]) == PULL_POLICY

    for key, words in (
        ("noreg", "registry policy"),
        ("notpl", "repository creation template"),
        ("region", "eu-west-1"),
        ("closed", "policy of repository mine/closed"),
        ("absent", "does not exist"),
    ):
        assert done[key]["status"] == "FAILED", (key, done[key])
        assert done[key]["failureReason"] == "ECR_PERMISSION_ERROR", (key, done[key])
        assert words in done[key]["statusMessage"], (key, done[key]["statusMessage"])
    with pytest.raises(ClientError):
        ecr.describe_repositories(repositoryNames=["noreg/quay/biocontainers/tiny"])

    # a private ECR image of the region whose policy lets HealthOmics pull
    assert done["own"]["status"] == "COMPLETED", done["own"]
    assert _task(omics, runs["own"])["imageDetails"] == {"image": f"{REGISTRY}/mine/tool:1"}


def test_image_mappings_and_version_inheriting_the_map(omics: Any, ecr: Any, bucket: str) -> None:
    ecr.create_repository(repositoryName="mapped/tiny")
    ecr.set_repository_policy(repositoryName="mapped/tiny", policyText=json.dumps(PULL_POLICY))
    wf_id = _workflow(
        omics,
        "img-mapping",
        containerRegistryMap={
            "imageMappings": [
                {"sourceImage": QUAY_IMAGE, "destinationImage": f"{REGISTRY}/mapped/tiny:1"}
            ]
        },
    )
    omics.create_workflow_version(
        workflowId=wf_id, versionName="v2", definitionZip=zip_wdl(TINY_WDL), requestId="mapping-v2"
    )
    wait_for(
        lambda: omics.get_workflow_version(workflowId=wf_id, versionName="v2"),
        "status",
        {"ACTIVE"},
    )
    first = _start(omics, bucket, wf_id, "mapping")
    second = omics.start_run(
        workflowId=wf_id,
        workflowVersionName="v2",
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/images/",
        requestId="run-mapping-v2",
        storageType="DYNAMIC",
    )["id"]
    for run_id in (first, second):
        assert _done(omics, run_id)["status"] == "COMPLETED"
        assert _task(omics, run_id)["imageDetails"] == {
            "image": f"{REGISTRY}/mapped/tiny:1",
            "sourceImage": QUAY_IMAGE,
        }


def test_check_can_be_switched_off(
    omics: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHECK_IMAGES_ENV, "0")
    wf_id = _workflow(omics, "img-off")
    done = _done(omics, _start(omics, bucket, wf_id, "off"))
    assert done["status"] == "COMPLETED", done
