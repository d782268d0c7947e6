"""Plan, interrupted provision/teardown, coexisting deployments and new-customer accounts.

All on the real local stack: every resource is created by the real provisioning code through
moto and the HealthOmics emulator, and checked by reading it back.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.inventory import tagged_resources

from omics_toolkit.aws.session import is_read, local_context
from omics_toolkit.config import Settings
from omics_toolkit.data import fetch_demo_data
from omics_toolkit.errors import UserError
from omics_toolkit.local.stack import lifecycle as stack
from omics_toolkit.provisioning.plan import plan
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.teardown import Teardown

#: Resource kinds every stores-backed deployment has (plan and apply must both list them).
EXPECTED_KINDS = {
    "s3 bucket",
    "iam role",
    "reference store",
    "reference",
    "sequence store",
    "variant store",
    "annotation store",
    "workflow",
    "lambda function",
    "lambda layer",
    "log group",
    "state machine",
    "sns topic",
    "lambda permission",
    "s3 notification",
    "glue database",
    "glue resource link",
    "lake formation grant",
    "athena workgroup",
    "ecr pull through cache rule",
    "ecr repository creation template",
    "ecr registry policy",
}


class Interrupted(BaseException):
    """Raised by the fault hook: like a kill, nothing in the toolkit catches it."""


def _ctx(stack_record: dict[str, Any]) -> Any:
    return local_context(stack_record["moto"], stack_record["omics"])


def _settings(deployment: str, **changes: Any) -> Settings:
    return replace(
        Settings(
            deployment=deployment,
            home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
            poll_interval_seconds=1,
        ),
        **changes,
    )


def _resources(actions: list[Any], deployment: str) -> list[tuple[str, str]]:
    """(kind, name with the deployment replaced by ``D``), sorted, for comparing deployments."""

    def norm(name: str) -> str:
        name = name.replace(deployment, "D").replace(deployment.replace("-", "_"), "D")
        # Store ids are known only after apply: the shared databases are <kind>_<account>_<id>.
        return re.sub(r"^(variant|annotation)_(\d{12})_[^.]+", r"\1_\2_ID", name)

    return sorted((a.kind, norm(a.name)) for a in actions)


def _plan(stack_record: dict[str, Any], settings: Settings, reference: str | None) -> list[Any]:
    ctx = _ctx(stack_record)
    actions = plan(ctx, settings, reference)
    assert ctx.mutating_calls() == [], ctx.mutating_calls()
    return actions


@pytest.fixture(scope="module")
def reference(local_stack: dict[str, Any]) -> str:
    return str(fetch_demo_data().reference)


def test_plan_lists_everything_then_provision_matches_and_fixes_drift(local_stack, reference):
    settings = _settings("ft-plan")
    planned = _plan(local_stack, settings, reference)
    assert {a.kind for a in planned} >= EXPECTED_KINDS
    assert {a.action for a in planned} == {"create"}, [a for a in planned if a.action != "create"]

    applied = Provisioner(_ctx(local_stack), settings)
    applied.apply(reference)
    assert _resources(planned, "ft-plan") == _resources(applied.actions, "ft-plan")

    again = _plan(local_stack, settings, None)
    assert {a.action for a in again} == {"unchanged"}, [a for a in again if a.action != "unchanged"]

    # Drift made by hand shows as an update naming the field, and provision repairs it.
    ctx = _ctx(local_stack)
    names = applied.names
    ctx.client("iam").put_role_policy(
        RoleName=names.role("states"),
        PolicyName="least-privilege",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    ctx.client("s3").put_bucket_versioning(
        Bucket=names.input_bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    drift = {(a.kind, a.name): a for a in _plan(local_stack, settings, None)}
    role = drift[("iam role", names.role("states"))]
    assert role.action == "update" and "inline policy" in role.detail
    bucket = drift[("s3 bucket", names.input_bucket)]
    assert bucket.action == "update" and "versioning" in bucket.detail
    assert sum(a.action == "update" for a in drift.values()) == 2

    Provisioner(_ctx(local_stack), settings).apply(None)
    assert {a.action for a in _plan(local_stack, settings, None)} == {"unchanged"}


def test_two_deployments_coexist_and_tear_down_independently(local_stack, reference):
    a, b = _settings("ft-dep-a"), _settings("ft-dep-b")
    Provisioner(_ctx(local_stack), a).apply(reference)
    Provisioner(_ctx(local_stack), b).apply(reference)
    ctx = _ctx(local_stack)

    # Resources made by hand without the tag, named like deployment A's.
    s3, iam, omics = ctx.client("s3"), ctx.client("iam"), ctx.client("omics")
    s3.create_bucket(Bucket="ft-dep-a-handmade")
    s3.put_object(Bucket="ft-dep-a-handmade", Key="keep.txt", Body=b"mine")
    iam.create_role(
        RoleName="ft-dep-a-handmade",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    store = omics.create_sequence_store(name="ft-dep-a-handmade")

    actions = Teardown(_ctx(local_stack), a).run(force_delete_data=True)
    assert any(x.action == "delete" for x in actions)
    assert tagged_resources(ctx, "ft-dep-a") == []
    # B is whole: a plan of B changes nothing; the hand-made resources are untouched.
    assert {x.action for x in _plan(local_stack, b, None)} == {"unchanged"}
    assert s3.get_object(Bucket="ft-dep-a-handmade", Key="keep.txt")["Body"].read() == b"mine"
    assert iam.get_role(RoleName="ft-dep-a-handmade")["Role"]
    assert omics.get_sequence_store(id=store["id"])["name"] == "ft-dep-a-handmade"

    # The inventory sees every kind it checks while B exists (so its empty answer means gone).
    present = {" ".join(x.split()[:2]) for x in tagged_resources(ctx, "ft-dep-b")}
    assert present >= {
        "bucket ft-dep-b-input-123456789012-us-east-1",
        "role ft-dep-b-states",
        "function ft-dep-b-pair-detector",
        "state machine",
        "sns topic",
        "ecr rule",
        "ecr template",
        "referenceStores ft-dep-b-references",
        "sequenceStores ft-dep-b-sequences",
        "variantStores ft_dep_b_variants",
        "annotationStores ft_dep_b_annotations",
        "items ft-dep-b-bcftools-germline",
        "glue database",
        "athena workgroup",
        "log group",
        "lambda layer",
    }, present
    Teardown(_ctx(local_stack), b).run(force_delete_data=True)
    assert tagged_resources(ctx, "ft-dep-b") == []
    # A second teardown finds nothing left to delete.
    assert not [x for x in Teardown(_ctx(local_stack), b).run(True) if x.action == "delete"]


def _interrupting_context(stack_record: dict[str, Any], after: int) -> Any:
    """A context whose ``after``-th mutating call raises :class:`Interrupted` before it is sent."""
    ctx = _ctx(stack_record)
    seen = {"mutating": 0}

    def hook(model: Any, **_: Any) -> None:
        if not is_read(model.name):
            seen["mutating"] += 1
            if seen["mutating"] == after:
                raise Interrupted(f"killed before {model.name}")

    ctx.session.events.register("before-call", hook)
    return ctx


@pytest.mark.parametrize("after", [4, 13, 27, 41])
def test_interrupted_provision_completes_when_rerun(local_stack, reference, after):
    deployment = f"ft-kill-{after}"
    settings = _settings(deployment)
    with pytest.raises(Interrupted):
        Provisioner(_interrupting_context(local_stack, after), settings).apply(reference)
    rerun = Provisioner(_ctx(local_stack), settings)
    rerun.apply(reference)

    # Complete and identical: the same resources as an uninterrupted deployment, nothing to do.
    plan = _plan(local_stack, settings, None)
    assert {a.action for a in plan} == {"unchanged"}, [a for a in plan if a.action != "unchanged"]
    assert {a.kind for a in plan} >= EXPECTED_KINDS
    # No duplicates: one reference, one workflow of that name.
    omics = _ctx(local_stack).client("omics")
    store = rerun.find_store("reference")
    assert store is not None
    assert len(omics.list_references(referenceStoreId=store["id"])["references"]) == 1
    workflows = omics.list_workflows(name=rerun.names.workflow(settings.workflow))["items"]
    assert len(workflows) == 1

    # An interrupted teardown completes when re-run.
    with pytest.raises(Interrupted):
        Teardown(_interrupting_context(local_stack, 9), settings).run(force_delete_data=True)
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    assert tagged_resources(_ctx(local_stack), deployment) == []


#: Two calls on the demo reference's contig ``q`` (the loader refuses contigs the deployment's
#: reference lacks, as the variant store does).
TINY_VCF = (
    "##fileformat=VCFv4.2\n##contig=<ID=q,length=12356>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNA12878\n"
    "q\t100\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\n"
    "q\t200\t.\tC\tT\t60\tPASS\t.\tGT\t1/1\n"
)


def _loader_is_sized_and_loads_a_vcf(ctx: Any, prov: Provisioner) -> None:
    """The variant loader: python3.13, 3008 MB, 10,240 MB of /tmp, its tables layer (built from
    this machine's wheels for the local stack) imports and loads a VCF through Lambda."""
    lam = ctx.client("lambda")
    name = prov.names.function("variant_loader")
    conf = lam.get_function_configuration(FunctionName=name)
    assert conf["Runtime"] == "python3.13"
    assert conf["MemorySize"] == 3008
    assert conf["EphemeralStorage"] == {"Size": 10240}
    assert conf["Timeout"] == 900
    key = "runs/ft-loader/NA12878.vcf"
    ctx.client("s3").put_object(Bucket=prov.names.output_bucket, Key=key, Body=TINY_VCF.encode())
    resp = lam.invoke(
        FunctionName=name,
        Payload=json.dumps({"vcf": f"s3://{prov.names.output_bucket}/{key}", "importId": "ft-1"}),
    )
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    assert (body["samples"], body["rows"], body["jobId"]) == (["NA12878"], 2, "ft-1")


def test_new_customer_account_gets_no_stores_and_a_clear_message(local_stack, reference):
    local_dir = Path(os.environ["OMICS_TOOLKIT_HOME"]) / "local"
    stack.emulator_options(local_dir, new_customer=True)
    try:
        with pytest.raises(UserError, match="no longer open to new customers"):
            Provisioner(
                _ctx(local_stack), _settings("ft-new-strict", variant_backend="stores")
            ).apply(reference)
        settings = _settings("ft-new")
        prov = Provisioner(_ctx(local_stack), settings)
        prov.apply(reference)
        skipped = {(a.kind, a.action) for a in prov.actions if a.action == "skipped"}
        assert skipped == {("variant store", "skipped"), ("annotation store", "skipped")}
        detail = next(a.detail for a in prov.actions if a.kind == "variant store")
        assert "new customers" in detail
        sfn = _ctx(local_stack).client("stepfunctions")
        definition = json.loads(
            sfn.describe_state_machine(
                stateMachineArn=prov.arn("states", f"stateMachine:{prov.names.state_machine}")
            )["definition"]
        )
        # "auto" falls back to S3 Tables: the VCF step is the variant loader Lambda.
        states = definition["States"]["ImportResults"]["Branches"][1]["States"]
        assert states["ImportVcf"]["Resource"] == "arn:aws:states:::lambda:invoke"
        assert states["ImportVcf"]["Parameters"]["FunctionName"].endswith(
            prov.names.function("variant_loader")
        )
        assert any(a.kind == "s3 table bucket" and a.action == "create" for a in prov.actions)
        _loader_is_sized_and_loads_a_vcf(_ctx(local_stack), prov)
        # Athena is Lake Formation-integrated: no full-table access for external engines
        catalog = (
            _ctx(local_stack)
            .client("glue")
            .get_catalog(CatalogId=f"{prov.ctx.account_id}:s3tablescatalog")["Catalog"]
        )
        assert catalog["AllowFullTableExternalDataAccess"] == "False"
        # The state machine role may not import variants when there is no store.
        policy = (
            _ctx(local_stack)
            .client("iam")
            .get_role_policy(RoleName=prov.names.role("states"), PolicyName="least-privilege")[
                "PolicyDocument"
            ]
        )
        assert "omics:StartVariantImportJob" not in json.dumps(policy)
        assert {a.action for a in _plan(local_stack, settings, None)} <= {"unchanged", "skipped"}
        Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
        Teardown(_ctx(local_stack), _settings("ft-new-strict")).run(force_delete_data=True)
    finally:
        stack.emulator_options(local_dir, new_customer=False)


def test_an_iam_deny_of_create_variant_store_is_an_error_not_a_back_end_switch(
    local_stack, reference
):
    from healthomics_emulator.control import add_faults, clear_faults

    settings = _settings("ft-iam-deny")  # variant_backend = "auto"
    names = Provisioner(_ctx(local_stack), settings).names
    deny = (
        "User: arn:aws:sts::123456789012:assumed-role/deployer/ci is not authorized to perform: "
        "omics:CreateVariantStore on resource: * with an explicit deny in a service control policy"
    )
    add_faults(
        local_stack["omics"],
        [
            {
                "operation": "CreateVariantStore",
                "error": "AccessDeniedException",
                "message": deny,
                "count": None,
                "match": {"name": names.variant_store},
            }
        ],
    )
    try:
        with pytest.raises(UserError) as raised:
            Provisioner(_ctx(local_stack), settings).apply(reference)
        assert 'Allow omics:CreateVariantStore (and omics:TagResource) on Resource "*"' in str(
            raised.value
        )
        assert "explicit deny in a service control policy" in str(raised.value)
    finally:
        clear_faults(local_stack["omics"])
    ctx = _ctx(local_stack)
    # nothing switched: no table bucket, no state machine recording a back end
    buckets = ctx.client("s3tables").list_table_buckets(prefix=names.table_bucket)["tableBuckets"]
    assert [b["name"] for b in buckets] == []
    machines = ctx.client("stepfunctions").list_state_machines()["stateMachines"]
    assert names.state_machine not in [m["name"] for m in machines]
    # once allowed, the next plan creates stores, not S3 Tables
    planned = {(a.kind, a.action) for a in _plan(local_stack, settings, None)}
    assert ("variant store", "create") in planned
    assert not any(kind == "s3 table bucket" for kind, _ in planned)
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)


def test_customer_managed_kms_key_encrypts_buckets_results_and_stores(local_stack, reference):
    key = "arn:aws:kms:us-east-1:123456789012:key/0b6a5e8e-1111-4c3b-9c1e-1234567890ab"
    settings = _settings("ft-kms", kms_key_arn=key)
    prov = Provisioner(_ctx(local_stack), settings)
    prov.apply(reference)
    ctx = _ctx(local_stack)
    for bucket in (prov.names.input_bucket, prov.names.output_bucket):
        rule = ctx.client("s3").get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"
        ]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    workgroup = ctx.client("athena").get_work_group(WorkGroup=prov.names.workgroup)["WorkGroup"]
    encryption = workgroup["Configuration"]["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption == {"EncryptionOption": "SSE_KMS", "KmsKey": key}
    store = prov.find_store("sequence")
    assert store is not None
    assert ctx.client("omics").get_sequence_store(id=store["id"])["sseConfig"] == {
        "type": "KMS",
        "keyArn": key,
    }
    run_policy = ctx.client("iam").get_role_policy(
        RoleName=prov.names.role("omics-run"), PolicyName="least-privilege"
    )["PolicyDocument"]
    assert key in json.dumps(run_policy)
    # the state machine's log group: encrypted with the key, kept 90 days, no execution data
    logs = ctx.client("logs")
    group_name = prov.names.state_machine_log_group
    (group,) = [
        g
        for g in logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
        if g["logGroupName"] == group_name
    ]
    assert (group["kmsKeyId"], group["retentionInDays"]) == (key, 90)
    sfn = ctx.client("stepfunctions")
    machine_arn = prov.arn("states", f"stateMachine:{prov.names.state_machine}")
    logging = sfn.describe_state_machine(stateMachineArn=machine_arn)["loggingConfiguration"]
    assert logging["includeExecutionData"] is False and logging["level"] == "ERROR"
    assert {a.action for a in _plan(local_stack, settings, None)} == {"unchanged"}
    # a key added to an existing group is associated; opting in logs execution data
    logs.delete_log_group(logGroupName=group_name)
    logs.create_log_group(logGroupName=group_name)
    opted_in = replace(settings, log_execution_data=True, log_retention_days=30)
    again = Provisioner(_ctx(local_stack), opted_in)
    again.apply(None)
    (group,) = [
        g
        for g in logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
        if g["logGroupName"] == group_name
    ]
    assert (group["kmsKeyId"], group["retentionInDays"]) == (key, 30)
    logging = sfn.describe_state_machine(stateMachineArn=machine_arn)["loggingConfiguration"]
    assert logging["includeExecutionData"] is True
    updated = {(a.kind, a.action) for a in again.actions if a.action != "unchanged"}
    assert updated == {("log group", "update"), ("state machine", "update")}, updated
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)


def test_bucket_lifecycle_expires_noncurrent_versions_and_keeps_a_users_rules(
    local_stack, reference
):
    settings = _settings("ft-lifecycle", variant_backend="none")
    prov = Provisioner(_ctx(local_stack), settings)
    prov.apply(reference)
    s3 = _ctx(local_stack).client("s3")
    bucket = prov.names.output_bucket
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 30
    }
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }
    # the processed-only rule is unchanged: it moves tagged objects, it never expires them
    processed = rules["processed-to-glacier-ir"]
    assert processed["Filter"] == {"Tag": {"Key": "omics-toolkit:lifecycle", "Value": "processed"}}
    assert processed["Transitions"] == [{"Days": 30, "StorageClass": "GLACIER_IR"}]
    assert "Expiration" not in processed
    # a rule of the user's own survives provisioning
    mine = {
        "ID": "my-scratch",
        "Status": "Enabled",
        "Filter": {"Prefix": "scratch/"},
        "Expiration": {"Days": 3},
    }
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [mine, processed]}
    )
    Provisioner(_ctx(local_stack), settings).apply(None)
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(rules) == {
        "my-scratch",
        "processed-to-glacier-ir",
        "abort-incomplete-uploads",
        "expire-noncurrent-versions",
    }
    assert rules["my-scratch"]["Expiration"] == {"Days": 3}
    assert {a.action for a in _plan(local_stack, settings, None)} <= {"unchanged", "skipped"}
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)


def test_teardown_refuses_while_an_execution_runs(local_stack, reference):
    import gzip

    from omics_toolkit.pipeline.pairs import LanePair
    from omics_toolkit.pipeline.trigger import execution_input

    settings = _settings("ft-busy")
    prov = Provisioner(_ctx(local_stack), settings)
    dep = prov.apply(reference)
    ctx = _ctx(local_stack)
    read = b"@r1/1\nACGTACGTAC\n+\nIIIIIIIIII\n"
    for mate in ("1", "2"):
        ctx.client("s3").put_object(
            Bucket=dep.names.output_bucket,
            Key=f"staging/busy_R{mate}.fastq.gz",
            Body=gzip.compress(read.replace(b"/1", b"/" + mate.encode())),
        )
    sfn = ctx.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=dep.state_machine_arn,
        name="busy-sample",
        input=json.dumps(
            execution_input(
                "busy",
                dep.names.output_bucket,
                [
                    LanePair(
                        "1",
                        ("staging/busy_R1.fastq.gz", '"e1"'),
                        ("staging/busy_R2.fastq.gz", '"e2"'),
                    )
                ],
                "busy-sample",
                60,  # the execution waits 60 s before its first poll: RUNNING during teardown
            )
        ),
    )
    with pytest.raises(UserError, match="busy-sample"):
        Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    assert {a.action for a in _plan(local_stack, settings, None)} == {"unchanged"}
    sfn.stop_execution(executionArn=execution["executionArn"], cause="test")
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    assert tagged_resources(_ctx(local_stack), "ft-busy") == []
