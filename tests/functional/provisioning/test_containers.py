"""Container images through ECR pull through cache, on the local stack (moto ECR + emulator)."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.loaders import Loader

from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.constants import HEALTHOMICS_PRINCIPAL
from omics_toolkit.errors import UserError
from omics_toolkit.provisioning import containers, iam
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.teardown import Teardown

ACCOUNT = "123456789012"
REGION = "us-east-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
QUAY_IMAGE = "quay.io/biocontainers/tiny:1.0--0"
WDL = f"""version 1.0
workflow Tiny {{
  input {{
    String tool_image = "{QUAY_IMAGE}"
    String helper_image = "public.ecr.aws/docker/library/busybox:1.36"
  }}
  call hello {{ input: image = tool_image }}
  call helper {{ input: image = helper_image }}
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
task helper {{
  input {{ String image }}
  command <<<
    echo helper
  >>>
  runtime {{ docker: image  cpu: 1  memory: "64 MiB" }}
}}
"""
OTHERS = {
    "Sid": "OtherTeamReplication",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*"],
}


def _settings(deployment: str, **kw: Any) -> Settings:
    return Settings(
        deployment=deployment,
        home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
        poll_interval_seconds=1,
        **kw,
    )


def _ctx(stack: dict[str, Any]) -> Any:
    return local_context(stack["moto"], stack["omics"])


@pytest.fixture
def wdl(tmp_path: Path) -> Path:
    path = tmp_path / "main.wdl"
    path.write_text(WDL)
    return path


# ------------------------------------------------------------------------- pure helpers
def test_image_references_and_prefixes() -> None:
    ref = containers.parse_image("ubuntu:22.04")
    assert (ref.registry, ref.repository, ref.tag) == (
        "registry-1.docker.io",
        "library/ubuntu",
        "22.04",
    )
    assert containers.parse_image(f"{REGISTRY}/bwa:1").ecr() == (ACCOUNT, REGION)
    model = Loader().load_service_model("ecr", "service-2")
    shape = model["shapes"]["PullThroughCacheRuleRepositoryPrefix"]
    import re

    pattern = re.compile(shape["pattern"])
    for deployment in ("ab1", "omics-toolkit", "a" * 32, "x-" * 15 + "yz", "ft-ctr"):
        for upstream in (*containers.PTC_UPSTREAMS, "myreg.azurecr.io"):
            prefix = containers.ecr_prefix(deployment, upstream)
            assert shape["min"] <= len(prefix) <= shape["max"], prefix
            assert pattern.match(prefix), prefix
            assert prefix.startswith(containers.namespace(deployment) + "/")
    assert containers.ecr_prefix("omics-toolkit", "quay.io") == "omics-toolkit/quay"
    assert containers.namespace("a" * 32) != containers.namespace("a" * 31 + "b")
    with pytest.raises(UserError, match="gcr.io"):
        containers.upstream_short_name("gcr.io")


def test_registry_map_fits_the_omics_model() -> None:
    from healthomics_emulator.botocore_model import validator_for

    mapping = containers.registry_map(
        "ft-ctr", ACCOUNT, REGION, ["quay.io", "public.ecr.aws", "quay.io", REGISTRY]
    )
    assert mapping == {
        "registryMappings": [
            {"upstreamRegistryUrl": "public.ecr.aws", "ecrRepositoryPrefix": "ft-ctr/ecr-public"},
            {"upstreamRegistryUrl": "quay.io", "ecrRepositoryPrefix": "ft-ctr/quay"},
        ]
    }
    assert validator_for("omics").validate_shape("ContainerRegistryMap", mapping) == []
    assert containers.registry_map("ft-ctr", ACCOUNT, REGION, []) == {}


def test_workflow_images_and_overrides(wdl: Path) -> None:
    assert containers.workflow_images(wdl) == [
        "public.ecr.aws/docker/library/busybox:1.36",
        QUAY_IMAGE,
    ]
    mine = f"{REGISTRY}/tools/tiny:1"
    assert containers.workflow_images(wdl, {"tool_image": mine}) == [
        mine,
        "public.ecr.aws/docker/library/busybox:1.36",
    ]
    shipped = Path(__file__).resolve().parents[3] / "workflows" / "bcftools-germline" / "main.wdl"
    images = containers.workflow_images(shipped)
    assert images and all(i.startswith("quay.io/biocontainers/") for i in images)
    plan = containers.plan_images(images, ACCOUNT, REGION)
    assert plan.upstreams == ("quay.io",)
    with pytest.raises(UserError, match="eu-west-1"):
        containers.plan_images([f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/x:1"], ACCOUNT, REGION)


# ------------------------------------------------------------------------- on the local stack
def _put_other_statement(ecr: Any) -> None:
    try:
        policy = json.loads(ecr.get_registry_policy()["policyText"])
    except ClientError:
        policy = {"Version": "2012-10-17", "Statement": []}
    if not any(s.get("Sid") == OTHERS["Sid"] for s in policy["Statement"]):
        policy["Statement"].append(OTHERS)
        ecr.put_registry_policy(policyText=json.dumps(policy))


def _sids(ecr: Any) -> list[str]:
    try:
        return [
            s.get("Sid") for s in json.loads(ecr.get_registry_policy()["policyText"])["Statement"]
        ]
    except ClientError:
        return []


def test_ensure_is_idempotent_keeps_other_statements_and_teardown_removes_only_ours(
    local_stack: dict[str, Any], wdl: Path
) -> None:
    deployment = "ft-ctr"
    ctx = _ctx(local_stack)
    ecr = ctx.client("ecr")
    _put_other_statement(ecr)
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="someone/quay", upstreamRegistryUrl="quay.io"
    )

    prov = Provisioner(ctx, _settings(deployment))
    mapping = containers.ensure_container_registry(prov, wdl)
    assert mapping == containers.registry_map(
        deployment, ACCOUNT, REGION, ["quay.io", "public.ecr.aws"]
    )
    first = {(a.kind, a.name): a.action for a in prov.actions}
    assert first[(containers.KIND_RULE, "ft-ctr/quay")] == "create"
    assert first[(containers.KIND_RULE, "ft-ctr/ecr-public")] == "create"
    assert first[(containers.KIND_TEMPLATE, "ft-ctr/quay")] == "create"
    assert first[(containers.KIND_REGISTRY_POLICY, "FtCtrHealthOmicsPullThroughCache")] == "create"
    assert first[("iam role", "ft-ctr-ecr-templates")] == "create"

    template = ecr.describe_repository_creation_templates(prefixes=["ft-ctr/quay"])[
        "repositoryCreationTemplates"
    ][0]
    assert template["appliedFor"] == ["PULL_THROUGH_CACHE"]
    assert {"Key": "omics-toolkit:deployment", "Value": deployment} in template["resourceTags"]
    policy = json.loads(template["repositoryPolicy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "omics.amazonaws.com"}
    assert set(policy["Statement"][0]["Action"]) == set(iam.ECR_PULL_ACTIONS)
    registry = json.loads(ecr.get_registry_policy()["policyText"])
    assert registry["Statement"][0] == OTHERS or OTHERS in registry["Statement"]
    ours = next(s for s in registry["Statement"] if s["Sid"] == "FtCtrHealthOmicsPullThroughCache")
    assert ours["Resource"] == [
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/ft-ctr/ecr-public/*",
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/ft-ctr/quay/*",
    ]

    again_ctx = _ctx(local_stack)
    again = Provisioner(again_ctx, _settings(deployment))
    assert containers.ensure_container_registry(again, wdl) == mapping
    assert again_ctx.mutating_calls() == []
    assert {a.action for a in again.actions} == {"unchanged"}

    # drift: someone drops our statement from the template policy -> update, others kept
    ecr.update_repository_creation_template(
        prefix="ft-ctr/quay",
        repositoryPolicy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    OTHERS
                    | {"Principal": {"AWS": "*"}, "Action": ["ecr:BatchGetImage"], "Resource": "*"}
                ],
            }
        ),
    )
    fix = Provisioner(_ctx(local_stack), _settings(deployment))
    containers.ensure_container_registry(fix, wdl)
    fixed = {(a.kind, a.name): (a.action, a.detail) for a in fix.actions}
    assert fixed[(containers.KIND_TEMPLATE, "ft-ctr/quay")] == ("update", "repositoryPolicy")
    kept = json.loads(
        ecr.describe_repository_creation_templates(prefixes=["ft-ctr/quay"])[
            "repositoryCreationTemplates"
        ][0]["repositoryPolicy"]
    )
    assert [s["Sid"] for s in kept["Statement"]] == ["OtherTeamReplication", "FtCtrHealthOmicsPull"]

    # a first pull through the cache makes a tagged repository, deleted by teardown
    ecr.batch_get_image(
        repositoryName="ft-ctr/quay/biocontainers/tiny", imageIds=[{"imageTag": "1"}]
    )
    td = Teardown(_ctx(local_stack), _settings(deployment))
    containers.remove_container_registry(td)
    td.delete_role("ft-run")
    gone = {(a.kind, a.name) for a in td.actions if a.action == "delete"}
    assert (containers.KIND_RULE, "ft-ctr/quay") in gone
    assert (containers.KIND_TEMPLATE, "ft-ctr/ecr-public") in gone
    assert (containers.KIND_REPOSITORY, "ft-ctr/quay/biocontainers/tiny") in gone
    assert ("iam role", "ft-ctr-ecr-templates") in gone
    prefixes = [
        r["ecrRepositoryPrefix"]
        for r in ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    ]
    assert "someone/quay" in prefixes and not any(p.startswith("ft-ctr/") for p in prefixes)
    assert not [
        t
        for t in ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]
        if t["prefix"].startswith("ft-ctr/")
    ]
    assert "OtherTeamReplication" in _sids(ecr)
    assert "FtCtrHealthOmicsPullThroughCache" not in _sids(ecr)
    ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="someone/quay")


def test_dry_run_reports_and_changes_nothing(local_stack: dict[str, Any], wdl: Path) -> None:
    ctx = _ctx(local_stack)
    prov = Provisioner(ctx, _settings("ft-ctr-plan"), dry_run=True)
    try:
        mapping = containers.ensure_container_registry(prov, wdl)
    finally:
        prov.end_plan()
    assert mapping["registryMappings"][0]["ecrRepositoryPrefix"] == "ft-ctr-plan/ecr-public"
    assert ctx.mutating_calls() == []
    assert {a.action for a in prov.actions} == {"create"}
    with pytest.raises(ClientError):
        ctx.client("ecr").describe_pull_through_cache_rules(
            ecrRepositoryPrefixes=["ft-ctr-plan/quay"]
        )


def test_private_ecr_images_need_nothing_but_must_be_pullable(
    local_stack: dict[str, Any], wdl: Path
) -> None:
    ctx = _ctx(local_stack)
    ecr = ctx.client("ecr")
    pull = {"Version": "2012-10-17", "Statement": [iam.ecr_pull_statement("ft-own", ACCOUNT)]}
    for name in ("ft-own/tiny", "ft-own/busybox"):
        ecr.create_repository(repositoryName=name)
    ecr.set_repository_policy(repositoryName="ft-own/tiny", policyText=json.dumps(pull))
    params = {
        "tool_image": f"{REGISTRY}/ft-own/tiny:1",
        "helper_image": f"{REGISTRY}/ft-own/busybox:1",
    }
    settings = _settings("ft-own", run_parameters=params)
    with pytest.raises(UserError, match="ft-own/busybox does not let omics.amazonaws.com pull"):
        containers.ensure_container_registry(Provisioner(ctx, settings), wdl)
    ecr.set_repository_policy(repositoryName="ft-own/busybox", policyText=json.dumps(pull))
    fresh = _ctx(local_stack)
    prov = Provisioner(fresh, settings)
    assert containers.ensure_container_registry(prov, wdl) == {}
    assert fresh.mutating_calls() == []
    assert sorted((a.name, a.action) for a in prov.actions) == [
        ("ft-own/busybox", "unchanged"),
        ("ft-own/tiny", "unchanged"),
    ]
    missing = replace(
        settings, run_parameters={**params, "tool_image": f"{REGISTRY}/ft-own/none:1"}
    )
    with pytest.raises(UserError, match="does not exist"):
        containers.ensure_container_registry(Provisioner(fresh, missing), wdl)
    for name in ("ft-own/tiny", "ft-own/busybox"):
        ecr.delete_repository(repositoryName=name, force=True)


def test_docker_hub_needs_a_credential(local_stack: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "hub.wdl"
    path.write_text(WDL.replace(QUAY_IMAGE, "ubuntu:22.04"))
    prov = Provisioner(_ctx(local_stack), _settings("ft-hub"))
    with pytest.raises(UserError, match="registry-1.docker.io needs a Secrets Manager secret"):
        containers.ensure_container_registry(prov, path)
    assert prov.ctx.mutating_calls() == []


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("main.wdl", text)
    return buf.getvalue()


def _wait(fetch: Any, done: set[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if result["status"] in done:
            return dict(result)
        assert time.monotonic() < deadline, result
        time.sleep(0.3)


def test_runs_pass_the_image_check_only_with_the_registry_map(
    local_stack: dict[str, Any], wdl: Path
) -> None:
    """The stack's emulator checks images (default on): upstream URIs fail without the map."""
    from healthomics_emulator.runs import check_images_enabled

    if not check_images_enabled():  # the stack inherits this process's environment
        pytest.skip("OMICS_TOOLKIT_LOCAL_CHECK_IMAGES=0: the local stack does not check images")
    ctx = _ctx(local_stack)
    deployment = "ft-run"
    prov = Provisioner(ctx, _settings(deployment))
    mapping = containers.ensure_container_registry(prov, wdl)
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="ft-run-out")
    # the emulator holds runs to the run role's policy: it may write the outputs
    role = prov.ensure_role(
        "ft-run",
        HEALTHOMICS_PRINCIPAL,
        [iam.allow(["s3:PutObject"], ["arn:aws:s3:::ft-run-out/runs/*"])],
    )
    omics = ctx.client("omics")
    results = {}
    for label, extra in (("plain", {}), ("mapped", {"containerRegistryMap": mapping})):
        wf = omics.create_workflow(
            name=f"ft-run-{label}",
            engine="WDL",
            definitionZip=_zip(WDL),
            requestId=f"ft-run-{label}",
            **extra,
        )
        _wait(lambda wf=wf: omics.get_workflow(id=wf["id"]), {"ACTIVE", "FAILED"})
        run = omics.start_run(
            workflowId=wf["id"],
            roleArn=role,
            outputUri="s3://ft-run-out/runs/",
            requestId=f"ft-run-{label}",
            storageType="DYNAMIC",
        )
        results[label] = (
            run["id"],
            _wait(
                lambda run=run: omics.get_run(id=run["id"]), {"COMPLETED", "FAILED", "CANCELLED"}
            ),
        )
    plain = results["plain"][1]
    assert plain["status"] == "FAILED" and plain["failureReason"] == "INVALID_ECR_IMAGE_URI", plain
    run_id, mapped = results["mapped"]
    assert mapped["status"] == "COMPLETED", mapped
    images = sorted(
        omics.get_run_task(id=run_id, taskId=t["taskId"])["imageDetails"]["image"]
        for t in omics.list_run_tasks(id=run_id)["items"]
    )
    assert images == [
        f"{REGISTRY}/ft-run/ecr-public/docker/library/busybox:1.36",
        f"{REGISTRY}/ft-run/quay/biocontainers/tiny:1.0--0",
    ]
    td = Teardown(_ctx(local_stack), _settings(deployment))
    containers.remove_container_registry(td)
    td.delete_role("ft-run")
    assert not [
        r
        for r in ctx.client("ecr").describe_repositories()["repositories"]
        if r["repositoryName"].startswith("ft-run/")
    ]
