"""Read sets through the real local stack: the toolkit's own S3 client (moto's endpoint) reads
them through the store's access point alias, presigned URLs work for urllib and samtools, and
`omics-toolkit local archive-read-set` takes the S3 access away until activation."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from support.bams import write_bam
from typer.testing import CliRunner

from omics_toolkit.cli.main import app
from omics_toolkit.errors import AwsError, LocalStackError
from tests.support.omics_helpers import FASTA

DONE = {"COMPLETED", "FAILED", "COMPLETED_WITH_FAILURES", "CANCELLED"}


def _wait(fetch: Any, done: set[str] = DONE, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        result = dict(fetch())
        if result["status"] in done:
            return result
        assert time.monotonic() < deadline, f"still {result['status']}: {result}"
        time.sleep(0.2)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@pytest.fixture(scope="module")
def read_set(
    aws: Any, stack_service_role: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A BAM read set imported into a sequence store of the local stack, and its file."""
    s3, omics = aws.client("s3"), aws.client("omics")
    bam = write_bam(tmp_path_factory.mktemp("stack-bam") / "NA1.bam", reads=800)
    bucket = "read-set-access-src"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="ref/genome.fa", Body=FASTA.encode())
    s3.put_object(Bucket=bucket, Key="bam/NA1.bam", Body=bam.read_bytes())
    refs = omics.create_reference_store(name="access-refs")
    ref_job = omics.start_reference_import_job(
        referenceStoreId=refs["id"],
        roleArn=stack_service_role,
        sources=[{"sourceFile": f"s3://{bucket}/ref/genome.fa", "name": "genome"}],
    )
    ref_done = _wait(
        lambda: omics.get_reference_import_job(id=ref_job["id"], referenceStoreId=refs["id"])
    )
    assert ref_done["status"] == "COMPLETED", ref_done
    ref_arn = omics.get_reference_metadata(
        referenceStoreId=refs["id"], id=ref_done["sources"][0]["referenceId"]
    )["arn"]
    store = omics.create_sequence_store(name="access-seqs")
    _wait(lambda: omics.get_sequence_store(id=store["id"]), {"ACTIVE"})
    job = omics.start_read_set_import_job(
        sequenceStoreId=store["id"],
        roleArn=stack_service_role,
        sources=[
            {
                "sourceFiles": {"source1": f"s3://{bucket}/bam/NA1.bam"},
                "sourceFileType": "BAM",
                "subjectId": "NA1",
                "sampleId": "NA1",
                "referenceArn": ref_arn,
            }
        ],
    )
    done = _wait(lambda: omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store["id"]))
    assert done["status"] == "COMPLETED", done
    meta = omics.get_read_set_metadata(
        sequenceStoreId=store["id"], id=done["sources"][0]["readSetId"]
    )
    return {"meta": meta, "bam": bam, "store": omics.get_sequence_store(id=store["id"])}


def test_toolkit_s3_client_reads_ranges_through_the_access_point(
    aws: Any, read_set: dict[str, Any]
) -> None:
    s3 = aws.client("s3")
    data = read_set["bam"].read_bytes()
    bucket, key = _split(read_set["meta"]["files"]["source1"]["s3Access"]["s3Uri"])
    assert bucket.endswith("-s3alias") and aws.endpoint("s3") is not None
    got = s3.get_object(Bucket=bucket, Key=key, Range="bytes=64-4159")
    assert got["ContentRange"] == f"bytes 64-4159/{len(data)}"
    assert got["Body"].read() == data[64:4160]
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(data)
    prefix = _split(read_set["store"]["s3Access"]["s3Uri"])[1]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert key in keys and key + ".bai" in keys
    with pytest.raises(AwsError) as exc:
        s3.put_object(Bucket=bucket, Key=key, Body=b"overwrite")
    assert exc.value.code == "AccessDenied"


def test_presigned_urls_of_the_stack_serve_samtools(aws: Any, read_set: dict[str, Any]) -> None:
    s3 = aws.client("s3")
    files = read_set["meta"]["files"]
    urls = []
    for slot in ("source1", "index"):
        bucket, key = _split(files[slot]["s3Access"]["s3Uri"])
        urls.append(
            s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
            )
        )
    assert urls[0].startswith(str(aws.endpoint("s3")))
    request = urllib.request.Request(urls[0], headers={"Range": "bytes=0-3"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        assert (answer.status, answer.read()) == (206, read_set["bam"].read_bytes()[:4])
    region = "chr2:10-90"
    remote = subprocess.run(
        ["samtools", "view", f"{urls[0]}##idx##{urls[1]}", region],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    local_copy = Path(str(read_set["bam"]) + ".copy.bam")
    local_copy.write_bytes(read_set["bam"].read_bytes())
    subprocess.run(["samtools", "index", str(local_copy)], check=True)
    local = subprocess.run(
        ["samtools", "view", str(local_copy), region],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert remote.stdout == local.stdout and remote.stdout.count("\n") > 10


def test_cli_archive_takes_s3_access_away_until_activation(
    aws: Any, read_set: dict[str, Any]
) -> None:
    s3, omics = aws.client("s3"), aws.client("omics")
    meta = read_set["meta"]
    bucket, key = _split(meta["files"]["source1"]["s3Access"]["s3Uri"])
    result = CliRunner().invoke(
        app, ["local", "archive-read-set", meta["id"], "--store", meta["sequenceStoreId"]]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{meta['id']}: ARCHIVED"
    with pytest.raises(AwsError) as exc:
        s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-9")
    assert exc.value.code == "InvalidObjectState"
    unknown = CliRunner().invoke(
        app, ["local", "archive-read-set", "1111111111", "--store", meta["sequenceStoreId"]]
    )
    assert isinstance(unknown.exception, LocalStackError)  # a UserError: one line, exit 1
    assert "Read set 1111111111 not found" in str(unknown.exception)
    job = omics.start_read_set_activation_job(
        sequenceStoreId=meta["sequenceStoreId"], sources=[{"readSetId": meta["id"]}]
    )
    done = _wait(
        lambda: omics.get_read_set_activation_job(
            sequenceStoreId=meta["sequenceStoreId"], id=job["id"]
        )
    )
    assert done["status"] == "COMPLETED", done
    body = s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-9")["Body"].read()
    assert body == read_set["bam"].read_bytes()[:10]
