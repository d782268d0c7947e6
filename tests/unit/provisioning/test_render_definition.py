"""The state machine renderer: template + back end branch + run settings -> definition, no AWS.

The expected definitions in ``render_definition/`` were produced by ``Provisioner.render_definition``
before the renderer was split out (it then rewrote the branches in Python), for every back end,
with default run settings (``plain``) and with every run option set (``full``); since issue 15
the idempotency tokens carry the deployment (``<Deployment>/``, the only change made to them),
and since issue 16 its incarnation (``<TokenPrefix>/``, see ``core.token_prefix``); issue 17 added
the states of aligned and VCF uploads (``InputKind`` and what it leads to, ``StartAlignedRun``
getting the same run settings as ``StartRun``).
"""

import json
from pathlib import Path

import pytest

from omics_toolkit.config import Settings
from omics_toolkit.errors import ToolkitError
from omics_toolkit.provisioning.statemachine import VCF_BRANCHES, render, run_options

EXPECTED = Path(__file__).parent / "render_definition"
PLACEHOLDERS = (
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
    "VariantLoaderFunctionArn",
)
SUBSTITUTIONS = {k: f"<{k}>" for k in PLACEHOLDERS}


def _case(variant: str) -> tuple[Settings, dict, dict]:
    if variant == "plain":
        settings = Settings(deployment="demo", home=Path("/nonexistent"))
        return settings, {}, dict(workflow_version=None, run_group_id=None, run_cache_id=None)
    settings = Settings(
        deployment="demo",
        home=Path("/nonexistent"),
        storage_type="STATIC",
        cache_behavior="CACHE_ALWAYS",
        run_tags={"project": "p1", "sample": "override"},
        retention_mode="REMOVE",
        log_level="ALL",
    )
    ids = dict(workflow_version="v2", run_group_id="rg1", run_cache_id="rc1")
    return settings, {"bwa_image": "img:1"}, ids


@pytest.mark.parametrize("variant", ["plain", "full"])
@pytest.mark.parametrize("backend", ["stores", "s3tables", "none"])
def test_render_matches_the_definitions_of_the_old_renderer(backend: str, variant: str) -> None:
    settings, run_parameters, ids = _case(variant)
    text = render(
        SUBSTITUTIONS,
        run_parameters,
        run_options(settings, ids["run_group_id"], ids["run_cache_id"]),
        settings.run_tags,
        workflow_version=ids["workflow_version"],
        vcf_destination=backend,
    )
    assert text == (EXPECTED / f"{backend}-{variant}.json").read_text().rstrip("\n")


def test_each_back_end_has_its_own_vcf_branch() -> None:
    settings, _, _ = _case("plain")
    branches = {}
    for backend in ("stores", "s3tables", "none"):
        definition = json.loads(
            render(SUBSTITUTIONS, {}, run_options(settings), {}, vcf_destination=backend)
        )
        branches[backend] = definition["States"]["ImportResults"]["Branches"][1]
    assert set(VCF_BRANCHES) == {"s3tables", "none"}
    assert branches["stores"]["States"]["ImportVcf"]["Resource"].endswith(
        "omics:startVariantImportJob"
    )
    loader = branches["s3tables"]["States"]["ImportVcf"]
    assert loader["Parameters"]["FunctionName"] == "<VariantLoaderFunctionArn>"
    assert "CommitFailedException" in loader["Retry"][0]["ErrorEquals"]
    assert list(branches["none"]["States"]) == ["VcfKeptInBucket"]


def test_a_placeholder_without_a_value_is_refused() -> None:
    settings, _, _ = _case("plain")
    partial = {k: v for k, v in SUBSTITUTIONS.items() if k != "WorkflowId"}
    with pytest.raises(ToolkitError, match=r"\['WorkflowId'\]"):
        render(partial, {}, run_options(settings), {})
    no_loader = {k: v for k, v in SUBSTITUTIONS.items() if k != "VariantLoaderFunctionArn"}
    assert render(no_loader, {}, run_options(settings), {}, vcf_destination="none")
    with pytest.raises(ToolkitError, match="VariantLoaderFunctionArn"):
        render(no_loader, {}, run_options(settings), {}, vcf_destination="s3tables")


def test_an_aligned_upload_to_a_workflow_without_aligned_input_fails_saying_what_to_do() -> None:
    from omics_toolkit.provisioning.orchestration import aligned_refusal
    from omics_toolkit.provisioning.statemachine import RUN_STATES

    settings, _, _ = _case("plain")
    assert aligned_refusal("bcftools-germline") is None
    why = aligned_refusal("gatk-germline")
    assert why is not None and "takes FASTQ pairs only" in why and "samtools fastq" in why
    plain = json.loads(render(SUBSTITUTIONS, {}, run_options(settings), {}))
    assert plain["States"]["ImportAligned"]["Type"] == "Task"
    refused = json.loads(render(SUBSTITUTIONS, {}, run_options(settings), {}, aligned_refusal=why))
    state = refused["States"]["ImportAligned"]
    assert state["Type"] == "Pass" and state["Next"] == "RecordFailure"
    assert state["Parameters"] == {"Error": "AlignedInputUnsupported", "Cause": why}
    assert state["ResultPath"] == "$.error"
    # everything else is the same definition
    del plain["States"]["ImportAligned"], refused["States"]["ImportAligned"]
    assert plain == refused
    assert set(RUN_STATES) <= set(refused["States"])
