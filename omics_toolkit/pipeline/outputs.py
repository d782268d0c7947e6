"""Locate a finished run's outputs and tag pipeline objects for lifecycle."""

from __future__ import annotations

from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.aws.s3 import get_json, merge_object_tags
from omics_toolkit.errors import ResourceNotFoundError, RunOutputsMissingError

#: Workflow outputs the pipeline needs, by WDL output name (shared by every germline workflow).
REQUIRED_OUTPUTS = ("bam", "bam_index", "vcf", "vcf_index")


def run_output_uri(omics: Any, run_id: str, output_uri: str) -> str:
    """The run's own output folder: GetRun ``runOutputUri``, else ``<outputUri>/<runId>``."""
    with translate("omics", "GetRun"):
        run = omics.get_run(id=run_id)
    return str(run.get("runOutputUri") or f"{output_uri.rstrip('/')}/{run_id}")


def resolve_outputs(omics: Any, s3: Any, *, run_id: str, output_uri: str) -> dict[str, str]:
    """Read the run's output summary and return the pipeline's outputs.

    Source: HealthOmics writes ``<runOutputUri>/logs/outputs.json`` mapping
    ``"<Workflow>.<output>"`` to S3 URIs ("HealthOmics run outputs" in the developer guide).

    Returns:
        ``{"bam": uri, "bam_index": uri, "vcf": uri, "vcf_index": uri}``.

    Raises:
        RunOutputsMissingError: no summary, or an output in :data:`REQUIRED_OUTPUTS` is missing.
    """
    base = run_output_uri(omics, run_id, output_uri)
    try:
        summary = get_json(s3, f"{base}/logs/outputs.json")
    except ResourceNotFoundError as exc:
        raise RunOutputsMissingError(
            f"run {run_id}: no output summary at {base}/logs/outputs.json"
        ) from exc
    by_name = {key.rsplit(".", 1)[-1]: value for key, value in summary.items()}
    missing = [name for name in REQUIRED_OUTPUTS if not isinstance(by_name.get(name), str)]
    if missing:
        raise RunOutputsMissingError(
            f"run {run_id}: workflow produced no {', '.join(missing)} (outputs: {sorted(by_name)})"
        )
    return {name: by_name[name] for name in REQUIRED_OUTPUTS}


def tag_objects(s3: Any, uris: list[str], tags: dict[str, str]) -> int:
    """Merge ``tags`` into each object's tags; returns how many objects were tagged."""
    for uri in uris:
        merge_object_tags(s3, uri, tags)
    return len(uris)
