"""A sample's results: the BAM, VCF and their indexes its newest succeeded run wrote.

The pipeline's state machine keeps the run's outputs in its state (``outputs``: the
``FindRunOutputs`` step, :func:`omics_toolkit.pipeline.outputs.resolve_outputs`), so a
SUCCEEDED execution's output names them; ``results download`` fetches them from the output
bucket with :func:`omics_toolkit.transfer.download` or prints presigned URLs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omics_toolkit.aws.errors import translate
from omics_toolkit.aws.s3 import parse_s3_uri, presign
from omics_toolkit.aws.stepfunctions import list_executions
from omics_toolkit.errors import ResourceNotFoundError, UserError
from omics_toolkit.pipeline.outputs import REQUIRED_OUTPUTS
from omics_toolkit.transfer import (
    DEFAULT_PART_SIZE,
    DEFAULT_WORKERS,
    DownloadResult,
    Progress,
    download,
)


@dataclass
class ResultFile:
    """One output of a run.

    Attributes:
        name: the workflow output: ``bam``, ``bam_index``, ``vcf`` or ``vcf_index``.
        uri: ``s3://bucket/key``.
    """

    name: str
    uri: str

    @property
    def bucket(self) -> str:
        return parse_s3_uri(self.uri)[0]

    @property
    def key(self) -> str:
        return parse_s3_uri(self.uri)[1]

    @property
    def filename(self) -> str:
        """The object's base name (what the file is called when downloaded)."""
        return self.key.rsplit("/", 1)[-1]


@dataclass
class SampleResults:
    """A sample's newest succeeded pipeline execution and its run's outputs.

    Attributes:
        sample: the sample id.
        execution: the execution's name.
        run_id: the HealthOmics run that wrote the outputs.
        files: in :data:`~omics_toolkit.pipeline.outputs.REQUIRED_OUTPUTS` order.
        newer: newer executions of the sample that did not succeed (name, status), newest first.
    """

    sample: str
    execution: str
    run_id: str | None
    files: list[ResultFile]
    newer: list[tuple[str, str]] = field(default_factory=list)


def _sample_of(ex: dict[str, Any]) -> str | None:
    try:
        sample = json.loads(ex.get("input") or "{}").get("sample")
    except (json.JSONDecodeError, AttributeError):
        return None
    return sample if isinstance(sample, str) else None


def sample_results(sfn: Any, state_machine_arn: str, sample: str) -> SampleResults:
    """The outputs of ``sample``'s newest SUCCEEDED execution (``sample`` may also be an
    execution's name).

    Calls: ListExecutions (paginated), then DescribeExecution per execution, newest first, until
    the sample's newest succeeded one (its output carries ``outputs`` and ``run``).

    Raises:
        UserError: the sample has no execution, or none succeeded (the newest's status is named).
    """
    newer: list[tuple[str, str]] = []
    for item in list_executions(sfn, state_machine_arn):
        with translate("stepfunctions", "DescribeExecution"):
            ex = sfn.describe_execution(executionArn=item["executionArn"])
        if item["name"] != sample and _sample_of(ex) != sample:
            continue
        if ex["status"] != "SUCCEEDED":
            newer.append((ex["name"], ex["status"]))
            if item["name"] == sample:
                break
            continue
        state = json.loads(ex.get("output") or "{}")
        outputs = state.get("outputs") if isinstance(state, dict) else None
        if not isinstance(outputs, dict) or any(
            not isinstance(outputs.get(n), str) for n in REQUIRED_OUTPUTS
        ):
            raise UserError(
                f"execution {ex['name']} of {sample} SUCCEEDED but its output names no "
                f"{', '.join(REQUIRED_OUTPUTS)}; see `omics-toolkit runs show {ex['name']}`"
            )
        return SampleResults(
            sample=_sample_of(ex) or sample,
            execution=ex["name"],
            run_id=(state.get("run") or {}).get("Id"),
            files=[ResultFile(n, outputs[n]) for n in REQUIRED_OUTPUTS],
            newer=newer,
        )
    if newer:
        name, status = newer[0]
        raise UserError(
            f"{sample} has no SUCCEEDED pipeline execution (the newest, {name}, is {status}); "
            f"see `omics-toolkit runs show {name}`"
        )
    raise UserError(
        f"no pipeline execution is named {sample!r} or is for sample {sample!r}; "
        "list them with `omics-toolkit runs`"
    )


def _size(s3: Any, item: ResultFile, sample: str) -> int:
    """The object's size (HeadObject); a missing output is a UserError naming it."""
    try:
        return int(s3.head_object(Bucket=item.bucket, Key=item.key)["ContentLength"])
    except ResourceNotFoundError as exc:
        raise UserError(
            f"{sample}'s {item.name} {item.uri} no longer exists in the output bucket "
            "(deleted, or the deployment was re-provisioned); run the sample again"
        ) from exc


def download_results(
    s3: Any,
    results: SampleResults,
    out_dir: Path,
    *,
    workers: int = DEFAULT_WORKERS,
    part_size: int = DEFAULT_PART_SIZE,
    overwrite: bool = False,
    progress: Callable[[ResultFile, int], Progress | None] | None = None,
) -> list[DownloadResult]:
    """Download every result file into ``out_dir/<object base name>``, one after another, each
    in parallel ranged parts, resumable and verified (:func:`omics_toolkit.transfer.download`).

    Args:
        progress: ``progress(file, size_bytes)`` returns the progress callback of that file's
            download (or ``None``); called once per file before it starts.

    Raises:
        UserError, ChecksumMismatchError, AwsError: as :func:`~omics_toolkit.transfer.download`;
            a missing output is a UserError naming it.
    """
    names = [f.filename for f in results.files]
    done = []
    for item in results.files:
        size = _size(s3, item, results.sample)
        filename = (
            item.filename if names.count(item.filename) == 1 else f"{item.name}-{item.filename}"
        )
        done.append(
            download(
                s3,
                item.bucket,
                item.key,
                out_dir / filename,
                part_size=part_size,
                workers=workers,
                overwrite=overwrite,
                progress=progress(item, size) if progress else None,
            )
        )
    return done


def presigned_urls(s3: Any, results: SampleResults, expires_in: int) -> list[dict[str, Any]]:
    """A presigned GetObject URL for each result file (IGV, a browser, htslib open them as is).

    Returns:
        ``[{"name", "uri", "bytes", "url", "expires_in"}]`` in the order of ``results.files``.

    Raises:
        UserError: ``expires_in`` outside 1 .. 604800 seconds, or an output no longer exists.

    Source: S3 HeadObject (the object exists) and a SigV4 presigned GetObject
    (:func:`omics_toolkit.aws.s3.presign`).
    """
    rows = []
    for item in results.files:
        url = presign(s3, item.bucket, item.key, expires_in)
        size = _size(s3, item, results.sample)
        rows.append(
            {
                "name": item.name,
                "uri": item.uri,
                "bytes": size,
                "url": url,
                "expires_in": expires_in,
            }
        )
    return rows
