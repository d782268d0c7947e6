"""The README's provisioning and teardown guarantees, each checked on the real local stack.

Listed, with the README section each proves, in docs/guarantees.md. Every deployment here is
made by the real provisioning code through moto and the HealthOmics emulator and read back.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.inventory import lake_formation_grants, tagged_resources

from healthomics_emulator import control
from omics_toolkit.aws.session import is_read, local_context
from omics_toolkit.config import Settings
from omics_toolkit.constants import DEPLOYMENT_TAG, LIFECYCLE_TAG
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.errors import AccessDeniedError, UserError
from omics_toolkit.provisioning.layers import LAMBDA_RUNTIME
from omics_toolkit.provisioning.provision import (
    FASTQ_SUFFIXES,
    MANIFEST_SUFFIXES,
    UPLOAD_SUFFIXES,
    Provisioner,
)
from omics_toolkit.provisioning.teardown import Teardown


class Interrupted(BaseException):
    """Raised by a hook in place of a killed process: nothing in the toolkit catches it."""


def _ctx(stack: dict[str, Any]) -> Any:
    return local_context(stack["moto"], stack["omics"])


def _settings(deployment: str, **changes: Any) -> Settings:
    return replace(
        Settings(
            deployment=deployment,
            home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
            poll_interval_seconds=1,
        ),
        **changes,
    )


def _tags(tagset: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tagset}


@pytest.fixture(scope="module")
def demo(local_stack: dict[str, Any]) -> Any:
    return fetch_demo_data()


@pytest.fixture(scope="module")
def reference(demo: Any) -> str:
    return str(demo.reference)


# ---- merged, never replaced: notifications and tags ----------------------------------------


def _user_function(ctx: Any, name: str) -> str:
    """A user's own Lambda function (not the deployment's), returning its ARN."""
    iam, lam = ctx.client("iam"), ctx.client("lambda")
    role = iam.create_role(
        RoleName=name,
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
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return None\n")
    return str(
        lam.create_function(
            FunctionName=name,
            Runtime=LAMBDA_RUNTIME,
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
    )


def test_user_notifications_and_tags_are_merged_and_kept(local_stack, reference):
    """README "What provision guarantees": notification configurations and tags are merged with
    what is already there, never replaced; teardown removes only its own."""
    settings = _settings("ft-merge")
    ctx = _ctx(local_stack)
    s3, sqs = ctx.client("s3"), ctx.client("sqs")
    prov = Provisioner(ctx, settings)
    bucket = prov.names.input_bucket

    # The user's bucket exists first, with their own tags, object and notifications: to a queue
    # and to another Lambda function.
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "lab-7"}]})
    s3.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"the lab's own file")
    queue = sqs.create_queue(QueueName="ft-merge-user-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    function_arn = _user_function(ctx, "ft-merge-user-fn")
    user_queue = {
        "Id": "lab-audit",
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectRemoved:*"],
    }
    user_lambda = {
        "Id": "lab-thumbnails",
        "LambdaFunctionArn": function_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".png"}]}},
    }
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [user_queue],
            "LambdaFunctionConfigurations": [user_lambda],
        },
    )

    prov.apply(reference)

    conf = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["Id"] for c in conf["QueueConfigurations"]] == ["lab-audit"]
    assert conf["QueueConfigurations"][0]["QueueArn"] == queue_arn
    lambdas = {c["Id"]: c for c in conf["LambdaFunctionConfigurations"]}
    assert lambdas["lab-thumbnails"]["LambdaFunctionArn"] == function_arn
    ours = [c for c in lambdas.values() if c["Id"].startswith("ft-merge-")]
    assert len(ours) == len(FASTQ_SUFFIXES) + len(MANIFEST_SUFFIXES) + len(UPLOAD_SUFFIXES)
    assert len(lambdas) == len(ours) + 1
    assert _tags(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == {
        "owner": "lab-7",
        DEPLOYMENT_TAG: "ft-merge",
    }

    # Tags the user puts on the deployment's resources later are kept too; a tag set that lost
    # ours gets it back, merged.
    iam = ctx.client("iam")
    role = prov.names.role("states")
    iam.tag_role(RoleName=role, Tags=[{"Key": "cost-centre", "Value": "genomics"}])
    s3.put_bucket_tagging(
        Bucket=prov.names.output_bucket,
        Tagging={"TagSet": [{"Key": "project", "Value": "p42"}]},
    )
    again = Provisioner(_ctx(local_stack), settings)
    again.apply(None)
    assert _tags(s3.get_bucket_tagging(Bucket=prov.names.output_bucket)["TagSet"]) == {
        "project": "p42",
        DEPLOYMENT_TAG: "ft-merge",
    }
    assert _tags(iam.list_role_tags(RoleName=role)["Tags"]) == {
        "cost-centre": "genomics",
        DEPLOYMENT_TAG: "ft-merge",
    }
    assert {(a.kind, a.action) for a in again.actions if a.action != "unchanged"} == {
        ("s3 bucket", "update")
    }

    # Teardown keeps the input bucket (it holds the user's object) and removes only our
    # notification configurations: the user's queue and function configurations remain.
    actions = Teardown(_ctx(local_stack), settings).run(force_delete_data=False)
    assert ("s3 bucket", bucket, "kept") in {(a.kind, a.name, a.action) for a in actions}
    left = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [c["Id"] for c in left.get("QueueConfigurations", [])] == ["lab-audit"]
    assert [c["Id"] for c in left.get("LambdaFunctionConfigurations", [])] == ["lab-thumbnails"]
    assert s3.get_object(Bucket=bucket, Key="notes/readme.txt")["Body"].read() == (
        b"the lab's own file"
    )
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    assert tagged_resources(_ctx(local_stack), "ft-merge") == []


# ---- lifecycle rules ------------------------------------------------------------------------


def _rule_applies(rule: dict[str, Any], tags: dict[str, str]) -> bool:
    """Whether an S3 lifecycle rule's filter matches an object with ``tags`` (any key)."""
    if rule.get("Status") != "Enabled":
        return False
    # A prefix is ignored (counted as matching every key): the stricter reading for this test.
    flt = rule.get("Filter", {})
    wanted: list[dict[str, str]] = []
    if "Tag" in flt:
        wanted = [flt["Tag"]]
    elif "And" in flt:
        wanted = flt["And"].get("Tags", [])
    return all(tags.get(t["Key"]) == t["Value"] for t in wanted)


#: Rule fields that move or remove current or earlier versions of objects.
_AGEING = (
    "Expiration",
    "Transitions",
    "NoncurrentVersionTransitions",
)


def test_lifecycle_rules_age_only_processed_objects(local_stack, reference):
    """README "When things go wrong": the lifecycle rules act only on objects tagged
    ``processed``; ``failed`` and untagged inputs are never moved or expired."""
    settings = _settings("ft-lifecycle")
    dep = Provisioner(_ctx(local_stack), settings).apply(reference)
    s3 = _ctx(local_stack).client("s3")
    for bucket in (dep.names.input_bucket, dep.names.output_bucket):
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        ageing = [r for r in rules if any(k in r for k in _AGEING)]
        assert ageing, (bucket, rules)  # there is a rule to check
        for tags, expected in (
            ({LIFECYCLE_TAG: "processed"}, True),
            ({LIFECYCLE_TAG: "processed", "owner": "lab"}, True),
            ({LIFECYCLE_TAG: "failed"}, False),
            ({"owner": "lab"}, False),
            ({}, False),
        ):
            applies = [r["ID"] for r in ageing if _rule_applies(r, tags)]
            assert bool(applies) is expected, (bucket, tags, applies)
        for rule in ageing:
            # No rule on current objects expires anything: a "processed" object is moved to a
            # cheaper class, never deleted.
            assert "Expiration" not in rule, rule
        # Overwritten or deleted objects' old versions expire (noncurrent only, whatever the tags).
        noncurrent = [r for r in rules if "NoncurrentVersionExpiration" in r]
        assert [r["ID"] for r in noncurrent] == ["expire-noncurrent-versions"], rules
        assert not any(k in noncurrent[0] for k in _AGEING), noncurrent
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)


# ---- Powertools from the AWS-managed layer --------------------------------------------------


def test_functions_get_the_managed_powertools_layer_named_by_ssm(local_stack, reference):
    """README "What provision guarantees": in AWS, Powertools comes from the AWS-managed layer.

    On the aws target (``managed_powertools_layer``) provision reads the public SSM parameter
    ``/aws/service/powertools/python/x86_64/<runtime>/<installed version>`` and gives every
    function that layer after the toolkit's. The local stack's moto refuses ``/aws/`` parameter
    names from clients (as SSM does), so a second moto server in this process hosts the
    parameter, seeded in its SSM backend; its value is a layer published on the local stack.
    """
    from importlib.metadata import version

    from moto.server import ThreadedMotoServer
    from moto.ssm.models import Parameter, ssm_backends

    from omics_toolkit.provisioning.functions import FUNCTIONS

    ctx = _ctx(local_stack)
    lam = ctx.client("lambda")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("python/aws_lambda_powertools/__init__.py", "")
    layer = lam.publish_layer_version(
        LayerName="AWSLambdaPowertoolsPythonV3-python313-x86_64",
        Content={"ZipFile": code.getvalue()},
        CompatibleRuntimes=[LAMBDA_RUNTIME],
    )["LayerVersionArn"]
    name = (
        f"/aws/service/powertools/python/x86_64/{LAMBDA_RUNTIME}/{version('aws-lambda-powertools')}"
    )

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        ssm_backend = ssm_backends[ctx.account_id][ctx.region]

        def aws_context() -> Any:
            c = _ctx(local_stack)
            c.endpoints["ssm"] = f"http://{host}:{port}"
            c.managed_powertools_layer = True
            return c

        # Without the parameter: a clear error naming it, before any function is made.
        settings = _settings("ft-powertools")
        with pytest.raises(UserError, match=name.replace(".", r"\.")):
            Provisioner(aws_context(), settings).powertools_layer_arn()

        ssm_backend._parameters[name].append(
            Parameter(
                account_id=ctx.account_id,
                name=name,
                value=layer,
                parameter_type="String",
                description="AWS-managed Powertools layer (seeded by the test)",
                allowed_pattern=None,
                keyid=None,
                last_modified_date=datetime.datetime.now(datetime.UTC),
                version=1,
                data_type="text",
            )
        )
        prov_ctx = aws_context()
        prov = Provisioner(prov_ctx, settings)
        dep = prov.apply(reference)
        assert ("ssm", "GetParameter") in {(r.service, r.operation) for r in prov_ctx.requests}
        asked = {
            r.params["Name"]
            for r in prov_ctx.requests
            if (r.service, r.operation) == ("ssm", "GetParameter")
        }
        assert asked == {name}
        for function in FUNCTIONS:
            layers = [
                x["Arn"]
                for x in lam.get_function_configuration(FunctionName=dep.names.function(function))[
                    "Layers"
                ]
            ]
            assert layers[-1] == layer, (function, layers)
            assert f":layer:{dep.names.deployment}-toolkit:" in layers[0], (function, layers)
        # And the local target (no managed layer there) leaves it out.
        assert Provisioner(_ctx(local_stack), settings).ctx.managed_powertools_layer is False
        again = aws_context()
        Provisioner(again, settings).apply(None)
        assert again.mutating_calls() == [], again.mutating_calls()
        Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
        assert tagged_resources(_ctx(local_stack), "ft-powertools") == []
    finally:
        server.stop()
        lam.delete_layer_version(
            LayerName="AWSLambdaPowertoolsPythonV3-python313-x86_64",
            VersionNumber=int(layer.rsplit(":", 1)[1]),
        )


# ---- teardown: imports finished or cancelled before their stores go -----------------------


def _wait_status(get: Any, statuses: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = get()["status"]
        if status in statuses or time.monotonic() > deadline:
            return str(status)
        time.sleep(0.3)


def test_teardown_finishes_imports_before_deleting_the_stores(
    local_stack, reference, demo, tmp_path
):
    """README "What provision guarantees": teardown deletes dependents first, imports finished
    or cancelled: a variant import still running is cancelled, a read-set import (HealthOmics
    has no cancel for it) is waited for, then the stores are deleted."""
    settings = _settings("ft-imports")
    dep = Provisioner(_ctx(local_stack), settings).apply(reference)
    ctx = _ctx(local_stack)
    s3, omics = ctx.client("s3"), ctx.client("omics")
    bucket = dep.names.input_bucket
    r1, r2 = bam_to_fastq_pair(demo.bam, tmp_path, "imp")
    # Not under fastq/ suffixes the pair detector watches: these are imported by hand below.
    s3.put_object(Bucket=bucket, Key="manual/imp_1.data", Body=r1.read_bytes())
    s3.put_object(Bucket=bucket, Key="manual/imp_2.data", Body=r2.read_bytes())
    # The VCF goes to the output bucket (where the pipeline's own VCFs are imported from): a
    # .vcf.gz in the input bucket is an upload the pair detector runs through the pipeline, and
    # its execution would (rightly) make teardown refuse to start.
    s3.put_object(
        Bucket=dep.names.output_bucket, Key="manual/truth.vcf.gz", Body=demo.truth_vcf.read_bytes()
    )
    omics_url = local_stack["omics"]
    control.add_faults(
        omics_url,
        [
            {"job": "variant_import", "delay_seconds": 120, "count": 1},
            {"job": "read_set_import", "delay_seconds": 4, "count": 1},
        ],
    )
    try:
        role = f"arn:aws:iam::{ctx.account_id}:role/{dep.names.role('omics-import')}"
        variant_job = omics.start_variant_import_job(
            destinationName=dep.names.variant_store,
            roleArn=role,
            items=[{"source": f"s3://{dep.names.output_bucket}/manual/truth.vcf.gz"}],
        )["jobId"]
        reads_job = omics.start_read_set_import_job(
            sequenceStoreId=dep.sequence_store_id,
            roleArn=role,
            clientToken="ft-imports-reads",
            sources=[
                {
                    "sourceFileType": "FASTQ",
                    "sourceFiles": {
                        "source1": f"s3://{bucket}/manual/imp_1.data",
                        "source2": f"s3://{bucket}/manual/imp_2.data",
                    },
                    "sampleId": "imp",
                    "subjectId": "imp",
                    "referenceArn": omics.list_references(
                        referenceStoreId=Provisioner(ctx, settings).find_store("reference")["id"]
                    )["references"][0]["arn"],
                }
            ],
        )["id"]
        assert (
            _wait_status(lambda: omics.get_variant_import_job(jobId=variant_job), {"IN_PROGRESS"})
            == "IN_PROGRESS"
        )
        actions = Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    finally:
        control.clear_faults(omics_url)
    done = [(a.kind, a.name, a.action) for a in actions]
    assert ("variant import", variant_job, "cancel") in done, done
    assert ("read set import", reads_job, "wait") in done, done
    # The import's action comes before its store's deletion.
    assert done.index(("variant import", variant_job, "cancel")) < done.index(
        ("variant store", dep.names.variant_store, "delete")
    )
    assert done.index(("read set import", reads_job, "wait")) < done.index(
        ("sequence store", dep.names.sequence_store, "delete")
    )
    assert omics.get_variant_import_job(jobId=variant_job)["status"] in ("CANCELLING", "CANCELLED")
    assert tagged_resources(_ctx(local_stack), "ft-imports") == []


# ---- teardown interrupted, and lost responses -----------------------------------------------


def _dying_context(
    stack: dict[str, Any], when: str, killed: set[str]
) -> tuple[Any, dict[str, Any]]:
    """A context that dies at its first mutating call of an operation not in ``killed``:
    ``before`` it is sent, or ``after`` the service performed it (the client never sees the
    answer). Calls of operations in ``killed`` go through."""
    ctx = _ctx(stack)
    seen: dict[str, Any] = {"died_at": None}

    def count(model: Any, **_: Any) -> None:
        if not is_read(model.name) and model.name not in killed and when == "before":
            seen["died_at"] = model.name
            raise Interrupted(f"killed before {model.name}")

    def answered(model: Any, **_: Any) -> None:
        if not is_read(model.name) and model.name not in killed and when == "after":
            seen["died_at"] = model.name
            raise Interrupted(f"killed after {model.name} was done")

    ctx.session.events.register("before-call", count)
    ctx.session.events.register("after-call", answered)
    return ctx, seen


@pytest.mark.slow  # a chain of teardowns, two per kind of mutating call: ~40 s here
def test_teardown_killed_at_every_point_completes_when_rerun(local_stack, reference):
    """README "What provision guarantees": interrupted teardowns complete when re-run, whether
    the process died before a delete was sent or after the service did it (the response lost).

    One deployment is torn down by a chain of teardowns: each one dies at the first call of a
    kind of mutating call (an AWS operation) not yet interrupted that way, alternately before
    sending it and after the service performed it. So every kind of call the teardown makes
    (every step: each delete, revoke, detach, cancel) is interrupted both ways, and each re-run
    starts from what the previous left. Further calls of an already interrupted kind (the
    second bucket, the fifth function) go through: they run the same step code.
    """
    settings = _settings("ft-killed", variant_backend="stores", run_group_max_runs=2)
    Provisioner(_ctx(local_stack), settings).apply(reference)
    killed: list[tuple[str, str]] = []
    done: dict[str, set[str]] = {"before": set(), "after": set()}
    for attempt in range(400):
        when = "after" if attempt % 2 else "before"
        ctx, seen = _dying_context(local_stack, when, done[when])
        try:
            Teardown(ctx, settings).run(force_delete_data=True)
            break
        except Interrupted:
            killed.append((when, seen["died_at"]))
            done[when].add(seen["died_at"])
    else:
        pytest.fail(f"teardown never completed: {killed[-5:]}")
    before = [op for when, op in killed if when == "before"]
    after = [op for when, op in killed if when == "after"]
    # Each call was killed before it was sent, then performed and killed before its answer.
    assert before == after, list(zip(before, after, strict=False))
    assert {
        "DeleteBucket",
        "DeleteFunction",
        "DeleteLayerVersion",
        "DeleteStateMachine",
        "DeleteTopic",
        "DeleteWorkflow",
        "DeleteRunGroup",
        "DeleteVariantStore",
        "DeleteSequenceStore",
        "DeleteReference",
        "DeleteReferenceStore",
        "DeleteRole",
        "DeletePullThroughCacheRule",
        "RevokePermissions",
    } <= set(before), sorted(set(before))
    assert len(killed) >= 20, killed
    assert tagged_resources(_ctx(local_stack), "ft-killed") == []
    again = Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    assert not [a for a in again if a.action == "delete"], again


def test_teardown_rides_out_lost_delete_responses(local_stack, reference):
    """A HealthOmics delete that succeeds but whose response is lost (5xx after the work, the
    client retries and finds the resource gone) does not fail the teardown."""
    settings = _settings("ft-lost")
    Provisioner(_ctx(local_stack), settings).apply(reference)
    rules = [
        {"operation": op, "error": "InternalServerException", "when": "after", "count": 1}
        for op in (
            "DeleteWorkflow",
            "DeleteVariantStore",
            "DeleteSequenceStore",
            "DeleteReference",
            "DeleteReferenceStore",
        )
    ]
    omics_url = local_stack["omics"]
    control.add_faults(omics_url, rules)
    try:
        Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
        fired = {r["operation"]: r["fired"] for r in control.get_faults(omics_url)}
    finally:
        control.clear_faults(omics_url)
    assert fired == {r["operation"]: 1 for r in rules}, fired
    assert tagged_resources(_ctx(local_stack), "ft-lost") == []


# ---- the S3 Tables back end: loader re-runs, inventory --------------------------------------


@pytest.fixture(scope="module")
def tables_deployment(local_stack, reference) -> Any:
    """A deployment on the S3 Tables back end with a run group and a run cache."""
    settings = _settings(
        "ft-inv", variant_backend="s3tables", run_group_max_runs=3, cache_behavior="CACHE_ALWAYS"
    )
    dep = Provisioner(_ctx(local_stack), settings).apply(reference)
    return settings, dep


def test_variant_loader_rerun_never_duplicates_rows(local_stack, tables_deployment, demo):
    """README "Accounts without variant stores": the ``variant_loader`` replaces the sample's
    rows in one commit, so a re-run (the same execution, or its retry) never duplicates rows.
    The deployed function is invoked as the state machine invokes it."""
    from omics_toolkit.aws.s3tables import S3TablesCatalog
    from omics_toolkit.provisioning.s3tables import find_table_bucket

    settings, dep = tables_deployment
    ctx = _ctx(local_stack)
    uri = f"s3://{dep.names.output_bucket}/runs/manual/out/truth.vcf.gz"
    ctx.client("s3").put_object(
        Bucket=dep.names.output_bucket,
        Key="runs/manual/out/truth.vcf.gz",
        Body=demo.truth_vcf.read_bytes(),
    )
    lam = ctx.client("lambda")

    def load(import_id: str) -> dict[str, Any]:
        answer = lam.invoke(
            FunctionName=dep.names.function("variant_loader"),
            Payload=json.dumps({"vcf": uri, "importId": import_id}),
        )
        payload = json.loads(answer["Payload"].read())
        assert "FunctionError" not in answer, payload
        return dict(payload)

    arn = find_table_bucket(Provisioner(ctx, settings))
    assert arn

    def table() -> Any:
        loaded = S3TablesCatalog(ctx, arn).load_table((dep.names.table_namespace, "variants"))
        return loaded.scan().to_arrow()

    first = load("NA12878-abc")
    assert first["rows"] == 14, first  # the 14 GIAB SNVs, one sample
    rows = table()
    assert rows.num_rows == 14
    again = load("NA12878-abc")  # a retried Lambda: the same input again
    assert again["rows"] == 14 and again["samples"] == first["samples"]
    assert table().num_rows == 14
    retry = load("NA12878-abc-r1")  # the execution's retry loads the same VCF
    after = table()
    assert after.num_rows == 14, after.num_rows
    assert set(after.column("importjobid").to_pylist()) == {"NA12878-abc-r1"}
    assert retry["snapshot_id"] != first["snapshot_id"]
    assert sorted(after.column("start").to_pylist()) == sorted(rows.column("start").to_pylist())


def test_inventory_sees_table_buckets_run_groups_caches_and_grants(local_stack, tables_deployment):
    """The inventory the teardown tests trust (tests/support/inventory.py) finds each kind of
    resource while it exists, so its empty answer after a teardown means gone; teardown keeps
    the account-wide Glue catalog ``s3tablescatalog``."""
    settings, dep = tables_deployment
    ctx = _ctx(local_stack)
    present = tagged_resources(ctx, "ft-inv")
    expected = {
        "table bucket ft-inv-tables",
        "runGroups ft-inv-runs",
        "runCaches ft-inv-cache",
        "lake formation grant",
        "lambda layer ft-inv-toolkit",
        "lambda layer ft-inv-tables",
        "function ft-inv-variant-loader",
        "glue database ft_inv",
    }
    missing = [e for e in expected if not any(x.startswith(e) for x in present)]
    assert not missing, (missing, present)
    grants = lake_formation_grants(ctx, "ft-inv")
    assert f"{ctx.account_id}:s3tablescatalog/ft-inv-tables:ft_inv.variants DESCRIBE+SELECT" in (
        grants
    ), grants
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    assert tagged_resources(_ctx(local_stack), "ft-inv") == []
    catalog = ctx.client("glue").get_catalog(CatalogId=f"{ctx.account_id}:s3tablescatalog")
    assert catalog["Catalog"]["Name"] == "s3tablescatalog"


# ---- variant_backend = "none" ---------------------------------------------------------------


def test_variant_backend_none_keeps_vcfs_in_the_output_bucket(
    local_stack, reference, demo, tmp_path
):
    """README "Accounts without variant stores": ``variant_backend = "none"`` keeps VCFs in the
    output bucket only: no store, no table bucket, no import; a query says why it has no
    table."""
    from omics_toolkit.api import query
    from omics_toolkit.aws.stepfunctions import list_executions
    from omics_toolkit.pipeline.status import describe, wait_for_execution

    settings = _settings("ft-none", variant_backend="none", max_poll_interval_seconds=2)
    prov = Provisioner(_ctx(local_stack), settings)
    dep = prov.apply(reference)
    made = {a.kind for a in prov.actions if a.action == "create"}
    assert not made & {"variant store", "annotation store", "s3 table bucket"}, made
    ctx = _ctx(local_stack)
    s3, omics, sfn = ctx.client("s3"), ctx.client("omics"), ctx.client("stepfunctions")
    jobs_before = len(omics.list_variant_import_jobs()["variantImportJobs"])
    r1, r2 = bam_to_fastq_pair(demo.bam, tmp_path, "none")
    s3.put_object(Bucket=dep.names.input_bucket, Key="fastq/NONE_R1.fastq.gz", Body=r1.read_bytes())
    s3.put_object(Bucket=dep.names.input_bucket, Key="fastq/NONE_R2.fastq.gz", Body=r2.read_bytes())
    sm = dep.require("state_machine_arn")
    deadline = time.monotonic() + 60
    while not (found := list_executions(sfn, sm)) and time.monotonic() < deadline:
        time.sleep(0.5)
    [execution] = found
    wait_for_execution(sfn, execution["executionArn"], poll_seconds=0.5, timeout_seconds=600)
    status = describe(sfn, execution["executionArn"], detail=True)
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)

    [run] = omics.list_runs(name=status.name)["items"]
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=dep.names.output_bucket)
        for o in page.get("Contents", [])
    ]
    vcfs = [k for k in keys if run["id"] in k and k.endswith(".vcf.gz")]
    assert vcfs, keys  # the run's VCF stays in the output bucket
    assert len(omics.list_variant_import_jobs()["variantImportJobs"]) == jobs_before
    assert not [
        s for s in omics.list_variant_stores()["variantStores"] if s["name"].startswith("ft_none")
    ]
    buckets = ctx.client("s3tables").list_table_buckets()["tableBuckets"]
    assert "ft-none-tables" not in {b["name"] for b in buckets}
    with pytest.raises(UserError, match='variant_backend = "none"'):
        query("SELECT count(*) FROM variants", settings=settings, ctx=ctx)
    Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    assert tagged_resources(_ctx(local_stack), "ft-none") == []


# ---- local start --new-customer ------------------------------------------------------------


def test_local_start_new_customer_makes_the_emulator_refuse_stores(local_stack):
    """README "Accounts without variant stores": ``omics-toolkit local start --new-customer``
    makes the running local stack act as a new account (CreateVariantStore refused);
    ``--existing-customer`` undoes it."""

    def start(flag: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "omics_toolkit", "--json", "local", "start", flag],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    omics = _ctx(local_stack).client("omics")
    try:
        record = start("--new-customer")
        assert record["pid"] == local_stack["pid"]  # the running stack, not a new one
        assert record["emulator_options"]["new_customer"] is True
        with pytest.raises(AccessDeniedError):
            omics.create_variant_store(
                name="ft_new_customer",
                reference={
                    "referenceArn": "arn:aws:omics:us-east-1:123456789012:"
                    "referenceStore/1234567890/reference/1234567890"
                },
            )
    finally:
        record = start("--existing-customer")
    assert record["emulator_options"]["new_customer"] is False
