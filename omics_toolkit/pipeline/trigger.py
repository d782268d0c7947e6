"""What happens when an object lands in the input bucket: find its mate, start one execution."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus

from omics_toolkit.aws.s3 import head_object
from omics_toolkit.aws.stepfunctions import start_execution_once
from omics_toolkit.pipeline.pairs import execution_name, parse_mate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TriggerResult:
    """Outcome for one S3 record.

    Attributes:
        key: URL-decoded object key.
        action: ``ignored`` (not a FASTQ mate), ``waiting`` (mate not there yet), ``started``
            or ``already-started`` (the execution for this content exists).
        sample: sample id, when the key is a mate.
        execution_name: the deterministic execution name, when both mates exist.
    """

    key: str
    action: str
    sample: str | None = None
    execution_name: str | None = None


def execution_input(
    sample: str, bucket: str, r1_key: str, r2_key: str, name: str, poll_interval_seconds: int
) -> dict[str, Any]:
    """The state machine's input for one pair (see statemachines/germline.asl.json)."""
    return {
        "sample": sample,
        "subjectId": sample,
        "fastq1": f"s3://{bucket}/{r1_key}",
        "fastq2": f"s3://{bucket}/{r2_key}",
        "token": name,
        "pollIntervalSeconds": poll_interval_seconds,
    }


def handle_object(
    s3: Any,
    sfn: Any,
    *,
    bucket: str,
    raw_key: str,
    state_machine_arn: str,
    poll_interval_seconds: int,
) -> TriggerResult:
    """Start the pipeline for the pair ``raw_key`` belongs to, once both mates exist.

    Args:
        raw_key: the key as it appears in an S3 event (URL-encoded, ``+`` for spaces).

    Returns:
        What was done, as a :class:`TriggerResult`.
    """
    key = unquote_plus(raw_key)
    mate = parse_mate(key)
    if mate is None:
        return TriggerResult(key=key, action="ignored")
    heads = {
        mate.key: head_object(s3, bucket, mate.key),
        mate.mate_key: head_object(s3, bucket, mate.mate_key),
    }
    if heads[mate.key] is None or heads[mate.mate_key] is None:
        return TriggerResult(key=key, action="waiting", sample=mate.sample)
    r1 = (mate.r1_key, str(heads[mate.r1_key]["ETag"]))  # type: ignore[index]
    r2 = (mate.r2_key, str(heads[mate.r2_key]["ETag"]))  # type: ignore[index]
    name = execution_name(mate.sample, r1, r2)
    payload = execution_input(
        mate.sample, bucket, mate.r1_key, mate.r2_key, name, poll_interval_seconds
    )
    started = start_execution_once(sfn, state_machine_arn, name, payload)
    log.info(
        "pair %s/%s -> execution %s (%s)",
        mate.r1_key,
        mate.r2_key,
        name,
        "started" if started else "already exists",
    )
    return TriggerResult(
        key=key,
        action="started" if started else "already-started",
        sample=mate.sample,
        execution_name=name,
    )


def handle_s3_event(
    event: dict[str, Any], s3: Any, sfn: Any, *, state_machine_arn: str, poll_interval_seconds: int
) -> list[dict[str, Any]]:
    """Handle every record of an S3 event notification (not only the first).

    Returns:
        One :class:`TriggerResult` (as a dict) per record.
    """
    results = []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        result = handle_object(
            s3,
            sfn,
            bucket=record["s3"]["bucket"]["name"],
            raw_key=record["s3"]["object"]["key"],
            state_machine_arn=state_machine_arn,
            poll_interval_seconds=poll_interval_seconds,
        )
        results.append(asdict(result))
    return results
