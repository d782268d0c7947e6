"""Upload a FASTQ pair to the input bucket under names the pair detector recognises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omics_toolkit.errors import UserError
from omics_toolkit.pipeline.pairs import execution_name, parse_mate

INPUT_PREFIX = "fastq/"


def plan_keys(r1: Path, r2: Path, sample: str | None) -> tuple[str, str, str]:
    """Object keys for a pair: ``fastq/<sample>_R1.<ext>`` or the files' own names.

    Returns:
        ``(sample, r1 key, r2 key)``.

    Raises:
        UserError: a file is missing, or (without ``--sample``) the names are not a recognisable pair.
    """
    for path in (r1, r2):
        if not path.is_file():
            raise UserError(f"{path} does not exist")
    if sample:
        ext = ".fastq.gz" if r1.name.endswith(".gz") else ".fastq"
        return sample, f"{INPUT_PREFIX}{sample}_R1{ext}", f"{INPUT_PREFIX}{sample}_R2{ext}"
    m1, m2 = parse_mate(r1.name), parse_mate(r2.name)
    if not m1 or not m2 or m1.mate_key != m2.key:
        raise UserError(
            f"{r1.name} and {r2.name} are not a FASTQ pair by name (expected e.g. S_R1.fastq.gz and "
            "S_R2.fastq.gz); pass --sample NAME to upload them under that sample's name"
        )
    if m1.mate == 2:
        m1, m2 = m2, m1
    return m1.sample, INPUT_PREFIX + m1.key, INPUT_PREFIX + m2.key


def upload_pair(s3: Any, bucket: str, r1: Path, r2: Path, sample: str | None = None) -> dict[str, str]:
    """Upload both mates (S3 PutObject via managed transfer); the second upload triggers the run.

    Returns:
        ``{"sample", "r1", "r2", "execution_name"}`` (the execution the pair will start).
    """
    sample, k1, k2 = plan_keys(r1, r2, sample)
    s3.upload_file(str(r1), bucket, k1)
    s3.upload_file(str(r2), bucket, k2)
    e1 = s3.head_object(Bucket=bucket, Key=k1)["ETag"]
    e2 = s3.head_object(Bucket=bucket, Key=k2)["ETag"]
    return {"sample": sample, "r1": f"s3://{bucket}/{k1}", "r2": f"s3://{bucket}/{k2}",
            "execution_name": execution_name(sample, (k1, e1), (k2, e2))}
