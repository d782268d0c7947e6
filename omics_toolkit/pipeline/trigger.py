"""What happens when an object lands in the input bucket: start exactly one execution per content.

Two kinds of trigger (see :mod:`omics_toolkit.pipeline.pairs` and
:mod:`omics_toolkit.pipeline.manifest`):

- *pair*: a FASTQ mate in a folder without a manifest starts one run for its pair once the other
  mate exists (whichever mate arrives last triggers it);
- *aligned*: a BAM starts one run for itself (:mod:`omics_toolkit.pipeline.aligned`), its
  header read and checked first (s3:GetObject with Range; the reference's contig names from
  the output bucket);
- *vcf*: a bgzipped VCF is imported into the variant data without a run
  (:mod:`omics_toolkit.pipeline.vcf_upload`);
- *manifest*: in a folder with a manifest, the manifest's event and every FASTQ event re-read the
  folder's manifests and start one run per sample once all the sample's files exist.

The execution name is derived from the sample and every lane's keys and ETags, so duplicate or
concurrent events start nothing twice (``already-started``), and new content for a sample that
ran before starts a new execution that names the executions it supersedes.

AWS calls: s3:ListObjectsV2 (the event's folder), s3:HeadObject (each file of the run),
s3:GetObject (manifests), states:DescribeExecution and states:StartExecution (the run),
states:ListExecutions (only after a start, for ``supersedes``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from omics_toolkit.aws.errors import translate
from omics_toolkit.aws.s3 import head_object
from omics_toolkit.aws.stepfunctions import list_executions, start_execution_once
from omics_toolkit.errors import AwsError
from omics_toolkit.pipeline.aligned import (
    AlignedInputError,
    aligned_execution_input,
    aligned_execution_name,
    check_header,
    is_aligned,
    read_bam_header,
    reference_contigs,
    sample_from_name,
)
from omics_toolkit.pipeline.manifest import (
    Manifest,
    ManifestError,
    ManifestSample,
    check_folder,
    find_manifests,
    folder_of,
    is_manifest,
    read_manifest,
)
from omics_toolkit.pipeline.pairs import (
    LanePair,
    base_execution_name,
    execution_name,
    is_fastq,
    lane_sort_key,
    names_sample,
    parse_mate,
)
from omics_toolkit.pipeline.vcf_upload import (
    is_vcf,
    read_vcf_header,
    vcf_execution_input,
    vcf_execution_name,
    vcf_sample,
)

log = logging.getLogger(__name__)

#: Values of :attr:`TriggerResult.action`.
ACTIONS = ("ignored", "waiting", "started", "already-started", "invalid-manifest")


@dataclass(frozen=True)
class TriggerResult:
    """Outcome of one S3 record for one sample (a manifest's record gives one per sample).

    Attributes:
        key: URL-decoded object key of the record.
        action: ``ignored`` (neither FASTQ nor manifest, a FASTQ name without a mate marker, or
            a FASTQ in a manifest folder that no manifest lists: see ``detail``), ``waiting``
            (files of the run are not there yet: ``waiting_for``), ``started``,
            ``already-started`` (the execution for this content exists) or
            ``invalid-manifest`` (a manifest of the folder is invalid: ``detail`` says why).
            Two events handled at the same moment may both report ``started`` for the one
            execution: StartExecution answers the second with the running execution.
        sample: sample id, when known.
        execution_name: the deterministic execution name, once every file exists.
        kind: ``pair``, ``manifest``, ``aligned`` or ``vcf`` (the trigger), when known.
        manifest: ``s3://`` URI of the manifest, for manifest triggers and invalid manifests.
        waiting_for: keys still missing, for ``waiting``.
        supersedes: for ``started``, earlier executions of the same sample (names without a
            retry's ``-r<N>``, newest first): new content for a sample that ran before.
        detail: why a record was ignored, or the manifest's validation error.
    """

    key: str
    action: str
    sample: str | None = None
    execution_name: str | None = None
    kind: str | None = None
    manifest: str | None = None
    waiting_for: list[str] = field(default_factory=list)
    supersedes: list[str] = field(default_factory=list)
    detail: str | None = None


def execution_input(
    sample: str,
    bucket: str,
    lanes: Sequence[LanePair],
    name: str,
    poll_interval_seconds: int,
    *,
    manifest: str | None = None,
) -> dict[str, Any]:
    """The state machine's input for one sample (see statemachines/germline.asl.json).

    Args:
        sample: sample id (also the subject id).
        bucket: the input bucket.
        lanes: the sample's lanes with their objects' ``(key, etag)``.
        name: the execution name (also the idempotency token of the run's steps).
        poll_interval_seconds: the first wait between status polls.
        manifest: ``s3://`` URI of the manifest that listed the lanes; ``None`` for a pair.

    Returns:
        ``{"sample", "subjectId", "lanes": [{"lane", "fastq1", "fastq2"}] (sorted by lane),
        "token", "pollIntervalSeconds", "source": {"kind": "pair"|"manifest", "manifest"
        (manifest only), "objects": [{"key", "etag"}]}}``; each ETag as S3 HeadObject returns
        it (in double quotes), so a consumer compares it with HeadObject's as it is.
    """
    ordered = sorted(lanes, key=lambda x: lane_sort_key(x.lane))
    source: dict[str, Any] = {"kind": "manifest" if manifest else "pair"}
    if manifest:
        source["manifest"] = manifest
    source["objects"] = [
        {"key": key, "etag": etag} for lane in ordered for key, etag in (lane.r1, lane.r2)
    ]
    return {
        "sample": sample,
        "subjectId": sample,
        "lanes": [
            {
                "lane": lane.lane,
                "fastq1": f"s3://{bucket}/{lane.r1[0]}",
                "fastq2": f"s3://{bucket}/{lane.r2[0]}",
            }
            for lane in ordered
        ],
        "token": name,
        "pollIntervalSeconds": poll_interval_seconds,
        "source": source,
    }


def _etags(s3: Any, bucket: str, keys: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """ETags (as HeadObject gives them) of the keys that exist, and the missing keys."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for key in dict.fromkeys(keys):
        head = head_object(s3, bucket, key)
        if head is None:
            missing.append(key)
        else:
            found[key] = str(head["ETag"])
    return found, missing


def _supersedes(sfn: Any, state_machine_arn: str, sample: str, name: str) -> list[str]:
    """Earlier executions of ``sample`` (ListExecutions, paginated), newest first.

    Called after the new execution started: a failure is logged, not raised (a raise would
    make Lambda retry an event whose work is done).
    """
    earlier: dict[str, None] = {}
    try:
        with translate("stepfunctions", "ListExecutions"):
            executions = list_executions(sfn, state_machine_arn)
    except AwsError as exc:
        log.warning("execution %s started; earlier ones not listed: %s", name, exc)
        return []
    for execution in executions:
        base = base_execution_name(execution["name"])
        if base != name and names_sample(execution["name"], sample):
            earlier[base] = None
    return list(earlier)


def _start(
    s3: Any,
    sfn: Any,
    *,
    key: str,
    bucket: str,
    sample: str,
    lanes: Sequence[tuple[str, str, str]],
    state_machine_arn: str,
    poll_interval_seconds: int,
    manifest: str | None = None,
) -> TriggerResult:
    """Start the run of one sample once all its files exist; ``lanes`` are (lane, key1, key2)."""
    kind = "manifest" if manifest else "pair"
    etags, missing = _etags(s3, bucket, [k for _, k1, k2 in lanes for k in (k1, k2)])
    if missing:
        return TriggerResult(
            key=key,
            action="waiting",
            sample=sample,
            kind=kind,
            manifest=manifest,
            waiting_for=missing,
        )
    pairs = [LanePair(lane, (k1, etags[k1]), (k2, etags[k2])) for lane, k1, k2 in lanes]
    name = execution_name(sample, pairs)
    payload = execution_input(sample, bucket, pairs, name, poll_interval_seconds, manifest=manifest)
    started = start_execution_once(sfn, state_machine_arn, name, payload)
    supersedes = _supersedes(sfn, state_machine_arn, sample, name) if started else []
    if supersedes:
        log.warning(
            "sample %s: new content, execution %s supersedes %s (earlier runs keep their "
            "results; a sample's lanes run together only when listed in one manifest)",
            sample,
            name,
            ", ".join(supersedes),
        )
    log.info(
        "%s trigger %s: sample %s -> execution %s (%s)",
        kind,
        key,
        sample,
        name,
        "started" if started else "already exists",
    )
    return TriggerResult(
        key=key,
        action="started" if started else "already-started",
        sample=sample,
        execution_name=name,
        kind=kind,
        manifest=manifest,
        supersedes=supersedes,
    )


def _manifest_folder(
    s3: Any,
    sfn: Any,
    *,
    key: str,
    bucket: str,
    manifest_keys: list[str],
    state_machine_arn: str,
    poll_interval_seconds: int,
) -> list[TriggerResult]:
    """A record in a folder with manifests: start every sample it completes."""
    manifests: list[Manifest] = []
    try:
        for manifest_key in manifest_keys:
            manifest = read_manifest(s3, bucket, manifest_key)
            if manifest is not None:
                manifests.append(manifest)
        check_folder(manifests)
    except ManifestError as exc:
        log.error("invalid manifest, no run starts in its folder: %s", exc)
        return [
            TriggerResult(
                key=key, action="invalid-manifest", manifest=exc.manifest, detail=str(exc)
            )
        ]
    targets: list[tuple[Manifest, ManifestSample]]
    if is_manifest(key):
        targets = [(m, s) for m in manifests if m.key == key for s in m.samples]
        if not targets:
            return [
                TriggerResult(key=key, action="ignored", detail="the manifest no longer exists")
            ]
    else:
        targets = [(m, s) for m in manifests for s in m.samples if key in s.keys]
        if not targets:
            return [
                TriggerResult(
                    key=key,
                    action="ignored",
                    detail=(
                        f"in a manifest folder but listed by none of its manifests "
                        f"({', '.join(m.uri for m in manifests) or 'none readable'}): FASTQ "
                        "files there start runs only through a manifest"
                    ),
                )
            ]
    return [
        _start(
            s3,
            sfn,
            key=key,
            bucket=bucket,
            sample=sample.sample,
            lanes=[(lane.lane, lane.fastq_1, lane.fastq_2) for lane in sample.lanes],
            state_machine_arn=state_machine_arn,
            poll_interval_seconds=poll_interval_seconds,
            manifest=manifest.uri,
        )
        for manifest, sample in targets
    ]


def _start_aligned(
    s3: Any,
    sfn: Any,
    *,
    key: str,
    bucket: str,
    state_machine_arn: str,
    poll_interval_seconds: int,
    output_bucket: str | None,
) -> TriggerResult:
    """Start the run of an aligned upload (BAM): header read and checked first; a refused
    upload still starts an execution, which fails at once with the reason (``inputError``)."""
    head = head_object(s3, bucket, key)
    if head is None:
        return TriggerResult(key=key, action="ignored", kind="aligned", detail="object gone")
    etag = str(head["ETag"])
    name_sample = sample_from_name(key)
    header = None
    error: AlignedInputError | None = None
    sample = name_sample or "sample"
    try:
        header = read_bam_header(s3, bucket, key, int(head["ContentLength"]))
        reference = reference_contigs(s3, output_bucket) if output_bucket else None
        sample = check_header(header, name_sample, reference)
    except AlignedInputError as exc:
        error = exc
    name = aligned_execution_name(sample, key, etag)
    payload = aligned_execution_input(
        sample=sample,
        bucket=bucket,
        key=key,
        etag=etag,
        name=name,
        poll_interval_seconds=poll_interval_seconds,
        header=header,
        error=error,
    )
    return _start_upload(
        sfn, state_machine_arn, name, payload, key=key, sample=sample, kind="aligned",
        shown=f"sample {sample}", error=error,
    )  # fmt: skip


def _start_vcf(
    s3: Any,
    sfn: Any,
    *,
    key: str,
    bucket: str,
    state_machine_arn: str,
    poll_interval_seconds: int,
) -> TriggerResult:
    """Start the import of a VCF upload: header read first (sample columns); a refused
    upload still starts an execution, which fails at once with the reason (``inputError``)."""
    head = head_object(s3, bucket, key)
    if head is None:
        return TriggerResult(key=key, action="ignored", kind="vcf", detail="object gone")
    etag = str(head["ETag"])
    sample = sample_from_name(key) or "sample"
    samples: list[str] = []
    error: AlignedInputError | None = None
    try:
        header = read_vcf_header(s3, bucket, key, int(head["ContentLength"]))
        samples = header.samples
        sample = vcf_sample(header, key)
    except AlignedInputError as exc:
        error = exc
    name = vcf_execution_name(sample, key, etag)
    payload = vcf_execution_input(
        sample=sample,
        bucket=bucket,
        key=key,
        etag=etag,
        name=name,
        poll_interval_seconds=poll_interval_seconds,
        samples=samples,
        error=error,
    )
    return _start_upload(
        sfn, state_machine_arn, name, payload, key=key, sample=sample, kind="vcf",
        shown=f"samples {', '.join(samples)}", error=error,
    )  # fmt: skip


def _start_upload(
    sfn: Any,
    state_machine_arn: str,
    name: str,
    payload: dict[str, Any],
    *,
    key: str,
    sample: str,
    kind: str,
    shown: str,
    error: AlignedInputError | None,
) -> TriggerResult:
    """Start the execution of one aligned or VCF upload (once per name) and report it; a
    refused upload (``error``) is started too: it fails at once with the reason."""
    started = start_execution_once(sfn, state_machine_arn, name, payload)
    log.info(
        "%s upload %s: %s -> execution %s (%s%s)",
        kind,
        key,
        shown,
        name,
        "started" if started else "already exists",
        f"; refused: {error}" if error else "",
    )
    return TriggerResult(
        key=key,
        action="started" if started else "already-started",
        sample=sample,
        execution_name=name,
        kind=kind,
        detail=str(error) if error else None,
    )


def handle_object(
    s3: Any,
    sfn: Any,
    *,
    bucket: str,
    raw_key: str,
    state_machine_arn: str,
    poll_interval_seconds: int,
    pair_pattern: str | None = None,
    output_bucket: str | None = None,
) -> list[TriggerResult]:
    """Start what the object ``raw_key`` completes: its pair's run, or its manifest's samples'.

    Args:
        raw_key: the key as it appears in an S3 event (URL-encoded, ``+`` for spaces).
        pair_pattern: the ``pair_pattern`` setting (Lambda environment ``PAIR_PATTERN``).
        output_bucket: the deployment's output bucket, whose ``reference/contigs.txt`` an
            aligned upload's contigs are checked against (Lambda environment
            ``OUTPUT_BUCKET``; ``None``: not checked).

    Returns:
        One :class:`TriggerResult` per sample concerned (one result when none is).

    Raises:
        ConfigError: ``pair_pattern`` is invalid.
    """
    key = unquote_plus(raw_key)
    if is_aligned(key):
        return [
            _start_aligned(
                s3,
                sfn,
                key=key,
                bucket=bucket,
                state_machine_arn=state_machine_arn,
                poll_interval_seconds=poll_interval_seconds,
                output_bucket=output_bucket,
            )
        ]
    if is_vcf(key):
        return [
            _start_vcf(
                s3,
                sfn,
                key=key,
                bucket=bucket,
                state_machine_arn=state_machine_arn,
                poll_interval_seconds=poll_interval_seconds,
            )
        ]
    if not (is_fastq(key) or is_manifest(key)):
        return [TriggerResult(key=key, action="ignored", detail="neither FASTQ nor a manifest")]
    manifest_keys = find_manifests(s3, bucket, folder_of(key))
    if manifest_keys or is_manifest(key):
        return _manifest_folder(
            s3,
            sfn,
            key=key,
            bucket=bucket,
            manifest_keys=manifest_keys,
            state_machine_arn=state_machine_arn,
            poll_interval_seconds=poll_interval_seconds,
        )
    mate = parse_mate(key, pair_pattern)
    if mate is None:
        return [
            TriggerResult(
                key=key,
                action="ignored",
                detail="FASTQ name without a mate marker (_R1/_R2, _1/_2, .R1./.R2., Illumina "
                "_R1_001, or the pair_pattern setting); list it in a manifest instead",
            )
        ]
    return [
        _start(
            s3,
            sfn,
            key=key,
            bucket=bucket,
            sample=mate.sample,
            lanes=[(mate.lane, mate.r1_key, mate.r2_key)],
            state_machine_arn=state_machine_arn,
            poll_interval_seconds=poll_interval_seconds,
        )
    ]


def handle_s3_event(
    event: dict[str, Any],
    s3: Any,
    sfn: Any,
    *,
    state_machine_arn: str,
    poll_interval_seconds: int,
    pair_pattern: str | None = None,
    output_bucket: str | None = None,
) -> list[dict[str, Any]]:
    """Handle every record of an S3 event notification (not only the first).

    Returns:
        The :class:`TriggerResult` dicts of every record, in record order.
    """
    results = []
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        results.extend(
            asdict(result)
            for result in handle_object(
                s3,
                sfn,
                bucket=record["s3"]["bucket"]["name"],
                raw_key=record["s3"]["object"]["key"],
                state_machine_arn=state_machine_arn,
                poll_interval_seconds=poll_interval_seconds,
                pair_pattern=pair_pattern,
                output_bucket=output_bucket,
            )
        )
    return results
