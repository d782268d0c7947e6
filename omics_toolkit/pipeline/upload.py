"""Upload a FASTQ pair to the input bucket under names the pair detector recognises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omics_toolkit.errors import UserError
from omics_toolkit.pipeline.pairs import execution_name, parse_mate

INPUT_PREFIX = "fastq/"


@dataclass(frozen=True)
class UploadPlan:
    """Where each mate goes: ``mate1`` and ``mate2`` are ``(local path, object key)``."""

    sample: str
    mate1: tuple[Path, str]
    mate2: tuple[Path, str]


def plan_upload(first: Path, second: Path, sample: str | None) -> UploadPlan:
    """Object keys for a pair: ``fastq/<sample>_R1.<ext>`` or the files' own names.

    Without ``sample`` the mates may be given in either order (their names carry the mate number);
    with ``sample`` the first file is mate 1.

    Raises:
        UserError: a file is missing, or (without ``sample``) the names are not a recognisable pair.
    """
    for path in (first, second):
        if not path.is_file():
            raise UserError(f"{path} does not exist")
    if sample:
        ext = ".fastq.gz" if first.name.endswith(".gz") else ".fastq"
        return UploadPlan(
            sample,
            (first, f"{INPUT_PREFIX}{sample}_R1{ext}"),
            (second, f"{INPUT_PREFIX}{sample}_R2{ext}"),
        )
    m1, m2 = parse_mate(first.name), parse_mate(second.name)
    if not m1 or not m2 or m1.mate_key != m2.key:
        raise UserError(
            f"{first.name} and {second.name} are not a FASTQ pair by name (expected e.g. S_R1.fastq.gz and "
            "S_R2.fastq.gz); pass --sample NAME to upload them under that sample's name"
        )
    if m1.mate == 2:
        (first, m1), (second, m2) = (second, m2), (first, m1)
    return UploadPlan(m1.sample, (first, INPUT_PREFIX + m1.key), (second, INPUT_PREFIX + m2.key))


def upload_pair(
    s3: Any, bucket: str, first: Path, second: Path, sample: str | None = None
) -> dict[str, str]:
    """Upload both mates (S3 PutObject via managed transfer); the second upload triggers the run.

    Returns:
        ``{"sample", "r1", "r2", "execution_name"}`` (the execution the pair starts).
    """
    plan = plan_upload(first, second, sample)
    etags = []
    for path, key in (plan.mate1, plan.mate2):
        s3.upload_file(str(path), bucket, key)
        etags.append(s3.head_object(Bucket=bucket, Key=key)["ETag"])
    k1, k2 = plan.mate1[1], plan.mate2[1]
    return {
        "sample": plan.sample,
        "r1": f"s3://{bucket}/{k1}",
        "r2": f"s3://{bucket}/{k2}",
        "execution_name": execution_name(plan.sample, (k1, etags[0]), (k2, etags[1])),
    }
