"""The pipeline's state machine definition, rendered from its template without any AWS call.

``statemachines/germline.asl.json`` is the whole state machine with the variant store back end
(its ``ImportResults`` branch 1 runs StartVariantImportJob). The other back ends replace that
branch with their own JSON, kept beside the template:

- ``statemachines/germline/s3tables.json``: the ``LoadVariants`` Lambda task that replaces the
  sample's rows in the Iceberg ``variants`` table;
- ``statemachines/germline/none.json``: a Pass state (the VCF stays in the output bucket).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import omics_toolkit
from omics_toolkit.config import Settings
from omics_toolkit.errors import ToolkitError

#: ``statemachines/`` of the source tree (beside the ``omics_toolkit`` package).
STATEMACHINES_DIR = Path(omics_toolkit.__file__).resolve().parent.parent / "statemachines"
#: The template: the state machine with the variant store back end.
TEMPLATE = STATEMACHINES_DIR / "germline.asl.json"
#: Back end -> JSON file of its ``ImportResults`` VCF branch (the template's own: ``stores``).
VCF_BRANCHES = {
    "s3tables": STATEMACHINES_DIR / "germline" / "s3tables.json",
    "none": STATEMACHINES_DIR / "germline" / "none.json",
}
#: The StartRun states: FASTQ lanes (``StartRun``) and an aligned upload (``StartAlignedRun``);
#: both get the same run parameters, options and tags.
RUN_STATES = ("StartRun", "StartAlignedRun")
#: Index of the VCF branch in the ``ImportResults`` Parallel state (0 is the BAM branch).
VCF_BRANCH = 1


def run_options(
    settings: Settings, run_group_id: str | None = None, run_cache_id: str | None = None
) -> dict[str, Any]:
    """StartRun fields (``StartRun`` state ``Parameters`` names) from the run settings.

    Storage type and STATIC capacity (GiB, default 1200), log level, retention mode, and the
    run group and run cache when their ids are given (``None``: not set).
    """
    options: dict[str, Any] = {
        "StorageType": settings.storage_type,
        "LogLevel": settings.log_level,
        "RetentionMode": settings.retention_mode,
    }
    if settings.storage_type == "STATIC":
        options["StorageCapacity"] = settings.storage_capacity_gib or 1200
    if run_group_id:
        options["RunGroupId"] = run_group_id
    if run_cache_id:
        options["CacheId"] = run_cache_id
        options["CacheBehavior"] = settings.cache_behavior
    return options


def _fill(text: str, substitutions: Mapping[str, str]) -> str:
    """``text`` with every ``${Name}`` replaced; raises :class:`ToolkitError` if any is left."""
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    if "${" in text:
        missing = sorted(set(part.split("}")[0] for part in text.split("${")[1:]))
        raise ToolkitError(f"state machine placeholders without a value: {missing}")
    return text


def render(
    substitutions: Mapping[str, str],
    run_parameters: Mapping[str, Any],
    run_options: Mapping[str, Any],
    run_tags: Mapping[str, str],
    *,
    workflow_version: str | None = None,
    vcf_destination: str = "stores",
    aligned_refusal: str | None = None,
    template: Path = TEMPLATE,
) -> str:
    """The state machine definition (Amazon States Language JSON, keys sorted, indent 2).

    Args:
        substitutions: ``${Name}`` placeholder -> value, for the template and the chosen branch.
        run_parameters: extra fixed StartRun ``parameters`` (workflow inputs, e.g. image URIs).
        run_options: StartRun fields merged into the ``StartRun`` state's ``Parameters``
            (``StorageType``, ``LogLevel``, ``RunGroupId``, ``CacheId``...).
        run_tags: tags added to every run; the template's own tags (deployment, sample) win.
        workflow_version: StartRun ``workflowVersionName`` (``None``: the workflow itself).
        vcf_destination: ``"stores"`` (StartVariantImportJob into the variant store, the
            template's branch), ``"s3tables"`` (the ``LoadVariants`` Lambda task) or ``"none"``
            (a Pass state: the VCF stays in the output bucket).
        aligned_refusal: when the workflow takes no aligned input (no ``aligned_reads``, e.g.
            gatk-germline), why: an aligned upload then fails at ``ImportAligned`` with error
            ``AlignedInputUnsupported`` and this cause, before anything is imported or run.
        template: the template file (default ``statemachines/germline.asl.json``).

    Raises:
        ToolkitError: a placeholder of the template or of the chosen branch has no value.
    """
    definition = json.loads(_fill(template.read_text(), substitutions))
    for state in RUN_STATES:
        start = definition["States"][state]["Parameters"]
        start["Parameters"].update(run_parameters)
        if workflow_version:
            start["WorkflowVersionName"] = workflow_version
        start.update(run_options)
        fixed_tags = set(start["Tags"]) | {k.removesuffix(".$") for k in start["Tags"]}
        start["Tags"].update({k: v for k, v in run_tags.items() if k not in fixed_tags})
    if aligned_refusal is not None:
        definition["States"]["ImportAligned"] = {
            "Type": "Pass",
            "Comment": "This deployment's workflow takes no aligned input: the upload fails at "
            "once, saying what to do, instead of at StartRun with the service's parameter error.",
            "Parameters": {"Error": "AlignedInputUnsupported", "Cause": aligned_refusal},
            "ResultPath": "$.error",
            "Next": "RecordFailure",
        }
    branch_file = VCF_BRANCHES.get(vcf_destination)
    if branch_file is not None:
        branch = json.loads(_fill(branch_file.read_text(), substitutions))
        definition["States"]["ImportResults"]["Branches"][VCF_BRANCH] = branch
    return json.dumps(definition, indent=2, sort_keys=True)
