"""Provision twice on the local stack (the second makes no mutating call), then tear down."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.inventory import tagged_resources

from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.data import fetch_demo_data
from omics_toolkit.provisioning.provision import (
    FASTQ_SUFFIXES,
    MANIFEST_SUFFIXES,
    UPLOAD_SUFFIXES,
    Provisioner,
)
from omics_toolkit.provisioning.teardown import Teardown

DEPLOYMENT = "ft-prov"


def _ctx(stack):
    return local_context(stack["moto"], stack["omics"])


def _settings() -> Settings:
    return Settings(
        deployment=DEPLOYMENT, home=Path(os.environ["OMICS_TOOLKIT_HOME"]), poll_interval_seconds=1
    )


@pytest.fixture(scope="module")
def reference(local_stack) -> str:
    return str(fetch_demo_data().reference)


def test_provision_is_idempotent_and_teardown_leaves_nothing(local_stack, reference):
    first = Provisioner(_ctx(local_stack), _settings())
    dep = first.apply(reference)
    assert {a.action for a in first.actions} >= {"create"}
    assert dep.state_machine_arn and dep.workflow_id and dep.sequence_store_id

    ctx = _ctx(local_stack)
    second = Provisioner(ctx, _settings())
    dep2 = second.apply(reference)
    assert ctx.mutating_calls() == [], ctx.mutating_calls()
    assert {a.action for a in second.actions} == {"unchanged"}, [
        a for a in second.actions if a.action != "unchanged"
    ]
    assert dep2.workflow_id == dep.workflow_id and dep2.sequence_store_id == dep.sequence_store_id

    # A notification configuration the user added survives provisioning and teardown.
    s3 = ctx.client("s3")
    conf = s3.get_bucket_notification_configuration(Bucket=dep.names.input_bucket)
    assert len(conf["LambdaFunctionConfigurations"]) == len(FASTQ_SUFFIXES) + len(
        MANIFEST_SUFFIXES
    ) + len(UPLOAD_SUFFIXES)

    # Without --force-delete-data, buckets holding data are kept (the reference FASTA is in output).
    kept = Teardown(_ctx(local_stack), _settings()).run(force_delete_data=False)
    assert any(a.action == "kept" and a.kind == "s3 bucket" for a in kept)
    assert s3.head_bucket(Bucket=dep.names.output_bucket)

    Teardown(_ctx(local_stack), _settings()).run(force_delete_data=True)
    assert tagged_resources(_ctx(local_stack), DEPLOYMENT) == []


def test_run_options_provision_idempotently_and_teardown_removes_them(local_stack, reference):
    from dataclasses import replace

    settings = replace(
        _settings(),
        deployment="ft-prov-opts",
        run_group_max_cpus=64,
        run_group_max_runs=4,
        cache_behavior="CACHE_ALWAYS",
    )
    Provisioner(_ctx(local_stack), settings).apply(reference)
    ctx = _ctx(local_stack)
    again = Provisioner(ctx, settings)
    again.apply(reference)
    assert ctx.mutating_calls() == [], ctx.mutating_calls()

    # Changed limits and behaviour update the group and cache in place (same ids).
    omics = ctx.client("omics")
    [group] = omics.list_run_groups(name="ft-prov-opts-runs")["items"]
    changed = replace(settings, run_group_max_runs=8, cache_behavior="CACHE_ON_FAILURE")
    third = Provisioner(_ctx(local_stack), changed)
    third.apply(reference)
    assert {(a.kind, a.action) for a in third.actions} >= {
        ("run group", "update"),
        ("run cache", "update"),
    }
    assert omics.get_run_group(id=group["id"])["maxRuns"] == 8
    assert omics.get_run_group(id=group["id"])["maxCpus"] == 64
    [cache] = [c for c in omics.list_run_caches()["items"] if c["name"] == "ft-prov-opts-cache"]
    assert omics.get_run_cache(id=cache["id"])["cacheBehavior"] == "CACHE_ON_FAILURE"

    Teardown(_ctx(local_stack), changed).run(force_delete_data=True)
    assert omics.list_run_groups(name="ft-prov-opts-runs")["items"] == []
    assert not [c for c in omics.list_run_caches()["items"] if c["name"] == "ft-prov-opts-cache"]
    assert tagged_resources(_ctx(local_stack), "ft-prov-opts") == []


def test_run_parameters_are_checked_against_the_workflow(local_stack):
    from dataclasses import replace

    from omics_toolkit.errors import ConfigError

    ok = replace(
        _settings(),
        run_parameters={"bwa_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/bwa:1"},
    )
    prov = Provisioner(_ctx(local_stack), ok)
    assert prov.run_parameters() == ok.run_parameters
    definition = prov.render_definition(
        {
            k: "x"
            for k in (
                "SequenceStoreId",
                "ImportRoleArn",
                "ReferenceArn",
                "ReferenceUri",
                "ReadSetUriPrefix",
                "WorkflowId",
                "RunRoleArn",
                "OutputUri",
                "StorageType",
                "VariantStoreName",
                "RunOutputsFunctionArn",
                "TagObjectsFunctionArn",
                "FailureHandlerFunctionArn",
                "MaxPollIntervalSeconds",
                "DeploymentTagKey",
                "Deployment",
                "TokenPrefix",
                "LifecycleTagKey",
            )
        },
        prov.run_parameters(),
    )
    assert '"bwa_image": "123456789012.dkr.ecr' in definition
    for bad in ({"no_such_input": "x"}, {"fastq_1": "s3://b/k"}):
        with pytest.raises(ConfigError, match="cannot be set"):
            Provisioner(
                _ctx(local_stack), replace(_settings(), run_parameters=bad)
            ).run_parameters()


def test_a_reference_in_another_bucket_is_granted_and_imported(local_stack, reference):
    """A reference given as ``s3://`` in a bucket that is not the deployment's: the import role
    may read exactly that object (plan shows the grant), so the import the emulator holds to
    the role's policy completes (before: FAILED, 'AccessDenied: role ... may not s3:GetObject')."""
    import json
    from dataclasses import replace

    from omics_toolkit.provisioning.plan import plan

    ctx = _ctx(local_stack)
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="ft-shared-references")
    s3.upload_file(reference, "ft-shared-references", "grch/q.fa")
    uri = "s3://ft-shared-references/grch/q.fa"
    settings = replace(_settings(), deployment="ft-prov-xref")

    planned = plan(_ctx(local_stack), settings, uri)
    grants = [(a.kind, a.name, a.action) for a in planned if a.action == "grant"]
    assert grants == [("s3 read", uri, "grant")], grants
    assert "role ft-prov-xref-omics-import may read it" in next(
        a.detail for a in planned if a.action == "grant"
    )

    try:
        dep = Provisioner(_ctx(local_stack), settings).apply(uri)
        assert dep.reference_id
        iam = ctx.client("iam")
        doc = iam.get_role_policy(
            RoleName="ft-prov-xref-omics-import", PolicyName="least-privilege"
        )["PolicyDocument"]
        doc = doc if isinstance(doc, dict) else json.loads(doc)
        statements = doc["Statement"]
        assert {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::ft-shared-references/grch/q.fa"],
        } in statements
        assert {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::ft-shared-references"],
            "Condition": {"StringEquals": {"s3:prefix": ["grch/q.fa"]}},
        } in statements
        # the run role reads nothing outside the deployment's buckets: no grant there
        run = iam.get_role_policy(RoleName="ft-prov-xref-omics-run", PolicyName="least-privilege")
        assert "ft-shared-references" not in json.dumps(run["PolicyDocument"])
    finally:
        Teardown(_ctx(local_stack), settings).run(force_delete_data=True)
    assert tagged_resources(_ctx(local_stack), "ft-prov-xref") == []
