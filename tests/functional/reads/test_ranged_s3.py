"""Region views through S3 range requests on the real local stack (moto's S3): the same reads
as samtools on the whole file, a fraction of its bytes, and S3's errors as toolkit errors."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.data import fetch_demo_data
from omics_toolkit.errors import ResourceNotFoundError, UserError
from omics_toolkit.reads.indexes import load_index, with_header
from omics_toolkit.reads.ranged import S3Object, split_s3_uri
from omics_toolkit.reads.regions import parse_region
from omics_toolkit.reads.stats import index_stats
from omics_toolkit.reads.view import fetch_region

BUCKET = "reads-ranged"


@pytest.fixture(scope="module")
def uploaded(aws: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    bam = tmp_path_factory.mktemp("ranged") / "NA12878.bam"
    subprocess.run(["samtools", "sort", "-o", str(bam), str(fetch_demo_data().bam)], check=True)
    subprocess.run(["samtools", "index", str(bam)], check=True)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(bam), BUCKET, "reads/NA12878.bam")
    s3.upload_file(f"{bam}.bai", BUCKET, "reads/NA12878.bam.bai")
    return s3, bam


def test_region_view_over_s3_equals_samtools(uploaded: tuple[Any, Path]) -> None:
    s3, bam = uploaded
    data = S3Object.from_uri(s3, f"s3://{BUCKET}/reads/NA12878.bam")
    index = S3Object.from_uri(s3, f"s3://{BUCKET}/reads/NA12878.bam.bai")
    out = io.BytesIO()
    result = fetch_region(data, index, parse_region("q:1000-2000"), "sam", out)
    expected = subprocess.run(
        ["samtools", "view", str(bam), "q:1000-2000"], capture_output=True, check=True
    ).stdout
    assert out.getvalue() == expected and result.records == 283
    assert result.file_size == bam.stat().st_size
    # the demo BAM is one 12 kb contig: still only the header and one 64 KiB piece of it
    assert result.bytes_read < result.file_size * 0.3, result
    assert result.requests == data.requests + index.requests == 3


def test_index_stats_over_s3(uploaded: tuple[Any, Path]) -> None:
    s3, bam = uploaded
    index = S3Object(s3, BUCKET, "reads/NA12878.bam.bai")
    idx = with_header(load_index("BAI", index.read(0, index.size)), ["q"], [12356])
    rows = [r.line() for r in index_stats(idx)]
    expected = subprocess.run(["samtools", "idxstats", str(bam)], capture_output=True, text=True)
    assert "\n".join(rows) + "\n" == expected.stdout


def test_missing_object_is_resource_not_found(uploaded: tuple[Any, Path]) -> None:
    s3, _ = uploaded
    with pytest.raises(ResourceNotFoundError, match="s3:HeadObject"):
        _ = S3Object(s3, BUCKET, "reads/absent.bam").size
    with pytest.raises(ResourceNotFoundError, match="NoSuchKey"):
        S3Object(s3, BUCKET, "reads/absent.bam", size=100).read(0, 10)


def test_s3_uri_must_name_an_object() -> None:
    assert split_s3_uri("s3://alias-s3alias/123/sequenceStore/1/readSet/2/x.bam") == (
        "alias-s3alias",
        "123/sequenceStore/1/readSet/2/x.bam",
    )
    for bad in ("s3://bucket", "s3://bucket/", "https://x/y", "s3:///key"):
        with pytest.raises(UserError):
            split_s3_uri(bad)
