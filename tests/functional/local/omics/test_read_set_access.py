"""Read sets after import on the emulator + moto: the store's S3 access point (Range reads,
presigned URLs, samtools over HTTP), parts, archiving, activation and export jobs."""

from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support.bams import write_bam

from healthomics_emulator.backend import SERVICE_ACCOUNT_ID
from healthomics_emulator.botocore_model import validator_for
from healthomics_emulator.control import archive_read_sets
from healthomics_emulator.server import OmicsEmulator
from tests.support.omics_helpers import ROLE, wait_for

JOB_DONE = {"COMPLETED", "FAILED", "COMPLETED_WITH_FAILURES", "CANCELLED"}
PART_BYTES = 2048


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def bam_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bam(tmp_path_factory.mktemp("bams") / "S1.sorted.bam", reads=600)


@pytest.fixture(scope="module")
def imported(
    omics: Any,
    s3: Any,
    bucket: str,
    reference: dict[str, Any],
    bam_file: Path,
    emulator: OmicsEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """A store holding the sorted BAM (parts of PART_BYTES) and an unsorted one."""
    unsorted = write_bam(tmp_path_factory.mktemp("bams") / "S2.unsorted.bam", sort=False)
    s3.put_object(Bucket=bucket, Key="aligned/S1.sorted.bam", Body=bam_file.read_bytes())
    s3.put_object(Bucket=bucket, Key="aligned/S2.unsorted.bam", Body=unsorted.read_bytes())
    store = omics.create_sequence_store(
        name="access", s3AccessConfig={"accessLogLocation": f"s3://{bucket}/access-logs/"}
    )
    wait_for(lambda: omics.get_sequence_store(id=store["id"]), "status", {"ACTIVE"})
    assert emulator.backend is not None
    emulator.backend.set_options({"read_set_part_size_bytes": PART_BYTES})
    try:
        job = omics.start_read_set_import_job(
            sequenceStoreId=store["id"],
            roleArn=ROLE,
            sources=[
                {
                    "sourceFiles": {"source1": f"s3://{bucket}/aligned/{name}"},
                    "sourceFileType": "BAM",
                    "subjectId": "subj",
                    "sampleId": sample,
                    "referenceArn": reference["arn"],
                    "name": sample,
                }
                for name, sample in (("S1.sorted.bam", "S1"), ("S2.unsorted.bam", "S2"))
            ],
        )
        done = wait_for(
            lambda: omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store["id"]),
            "status",
            JOB_DONE,
        )
    finally:
        emulator.backend.set_options({"read_set_part_size_bytes": 100 * 1024 * 1024})
    assert done["status"] == "COMPLETED", done
    ids = [s["readSetId"] for s in done["sources"]]
    yield {
        "store": omics.get_sequence_store(id=store["id"]),
        "sorted": omics.get_read_set_metadata(sequenceStoreId=store["id"], id=ids[0]),
        "unsorted": omics.get_read_set_metadata(sequenceStoreId=store["id"], id=ids[1]),
    }


@pytest.fixture(scope="module")
def s3_ap(emulator: OmicsEmulator) -> Any:
    """A plain S3 client whose endpoint is the emulator (which answers the access point)."""
    return boto3.client(
        "s3",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def _valid(shape: str, response: dict[str, Any]) -> list[str]:
    """What in ``response`` (an omics output) breaks botocore's model (``[]``: nothing)."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    return validator_for("omics").validate_shape(shape, body)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def test_store_s3_access_is_an_access_point_alias_uri(imported: dict[str, Any]) -> None:
    store = imported["store"]
    access = store["s3Access"]
    ident = store["id"]
    assert re.fullmatch(
        rf"s3://123456789012-{ident[:7]}-[a-z0-9]{{34}}-s3alias/123456789012/sequenceStore/{ident}/",
        access["s3Uri"],
    )
    assert len(_split(access["s3Uri"])[0]) == 63
    assert access["s3AccessPointArn"] == (
        f"arn:aws:s3:us-east-1:{SERVICE_ACCOUNT_ID}:accesspoint/123456789012-{ident}"
    )
    assert access["accessLogLocation"] == "s3://omics-test/access-logs/"
    assert validator_for("omics").validate_shape("SequenceStoreS3Access", access) == []


def test_bam_read_set_has_index_parts_uris_and_counts(
    imported: dict[str, Any], bam_file: Path
) -> None:
    rs = imported["sorted"]
    prefix = imported["store"]["s3Access"]["s3Uri"] + f"readSet/{rs['id']}/"
    size = bam_file.stat().st_size
    assert rs["files"]["source1"] == {
        "totalParts": -(-size // PART_BYTES),
        "partSize": PART_BYTES,
        "contentLength": size,
        "s3Access": {"s3Uri": prefix + "S1.sorted.bam"},
    }
    assert rs["files"]["index"]["s3Access"]["s3Uri"] == prefix + "S1.sorted.bam.bai"
    assert rs["sequenceInformation"] == {
        "totalReadCount": 603,
        "totalBaseCount": 603 * 20,
        "alignment": "ALIGNED",
    }
    assert rs["etag"] == {
        "algorithm": "BAM_MD5up",
        "source1": hashlib.md5(bam_file.read_bytes()).hexdigest(),  # noqa: S324
    }
    assert _valid("GetReadSetMetadataResponse", rs) == []
    assert _valid("GetSequenceStoreResponse", imported["store"]) == []
    # an aligned BAM that is not coordinate-sorted cannot be indexed: no index file
    assert set(imported["unsorted"]["files"]) == {"source1"}
    assert imported["unsorted"]["sequenceInformation"]["totalReadCount"] == 403


def test_range_head_and_list_through_the_access_point(
    imported: dict[str, Any], s3_ap: Any, bam_file: Path
) -> None:
    data = bam_file.read_bytes()
    bucket, key = _split(imported["sorted"]["files"]["source1"]["s3Access"]["s3Uri"])
    got = s3_ap.get_object(Bucket=bucket, Key=key, Range="bytes=100-1099")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes 100-1099/{len(data)}"
    assert got["Body"].read() == data[100:1100]
    tail = s3_ap.get_object(Bucket=bucket, Key=key, Range="bytes=-28")["Body"].read()
    assert tail == data[-28:]
    assert s3_ap.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    head = s3_ap.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(data)
    assert head["AcceptRanges"] == "bytes"
    assert head["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'  # noqa: S324
    with pytest.raises(ClientError) as exc:
        s3_ap.get_object(Bucket=bucket, Key=key, Range=f"bytes={len(data)}-")
    assert _code(exc) == "InvalidRange"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    with pytest.raises(ClientError) as exc:
        s3_ap.get_object(Bucket=bucket, Key=key + ".missing")
    assert _code(exc) == "NoSuchKey"
    with pytest.raises(ClientError) as exc:
        s3_ap.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        s3_ap.delete_object(Bucket=bucket, Key=key)
    assert _code(exc) == "AccessDenied"
    store_prefix = _split(imported["store"]["s3Access"]["s3Uri"])[1]
    listed = s3_ap.list_objects_v2(Bucket=bucket, Prefix=store_prefix)
    keys = [o["Key"] for o in listed["Contents"]]
    assert {o["Key"]: o["ETag"] for o in listed["Contents"]}[key] == head["ETag"]
    sorted_id, unsorted_id = imported["sorted"]["id"], imported["unsorted"]["id"]
    assert sorted(keys) == sorted(
        [
            f"{store_prefix}readSet/{sorted_id}/S1.sorted.bam",
            f"{store_prefix}readSet/{sorted_id}/S1.sorted.bam.bai",
            f"{store_prefix}readSet/{unsorted_id}/S2.unsorted.bam",
        ]
    )
    paged = s3_ap.list_objects_v2(Bucket=bucket, Prefix=store_prefix, MaxKeys=2)
    assert paged["IsTruncated"] is True and paged["KeyCount"] == 2
    rest = s3_ap.list_objects_v2(
        Bucket=bucket, Prefix=store_prefix, ContinuationToken=paged["NextContinuationToken"]
    )
    assert [o["Key"] for o in paged["Contents"] + rest["Contents"]] == sorted(keys)
    folders = s3_ap.list_objects_v2(Bucket=bucket, Prefix=f"{store_prefix}readSet/", Delimiter="/")
    assert sorted(p["Prefix"] for p in folders["CommonPrefixes"]) == sorted(
        f"{store_prefix}readSet/{i}/" for i in (sorted_id, unsorted_id)
    )


def _presigned(s3_client: Any, uri: str, expires: int = 600) -> str:
    bucket, key = _split(uri)
    return str(
        s3_client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires
        )
    )


def test_presigned_url_serves_ranges_to_urllib_and_samtools(
    imported: dict[str, Any], s3_ap: Any, bam_file: Path
) -> None:
    files = imported["sorted"]["files"]
    url = _presigned(s3_ap, files["source1"]["s3Access"]["s3Uri"])
    request = urllib.request.Request(url, headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - local URL
        assert answer.status == 206
        assert answer.read() == bam_file.read_bytes()[10:20]
    index_url = _presigned(s3_ap, files["index"]["s3Access"]["s3Uri"])
    region = "chr1:100-150"
    over_http = subprocess.run(
        ["samtools", "view", "-c", f"{url}##idx##{index_url}", region],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    subprocess.run(["samtools", "index", str(bam_file)], check=True)
    local = subprocess.run(
        ["samtools", "view", "-c", str(bam_file), region],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(over_http.stdout) == int(local.stdout) > 0
    expired = _presigned(s3_ap, files["source1"]["s3Access"]["s3Uri"], expires=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(expired, timeout=10)  # noqa: S310 - local URL
    assert exc.value.code == 403
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in exc.value.read()


def test_get_read_set_parts_concatenate_to_the_file(
    omics: Any, imported: dict[str, Any], bam_file: Path
) -> None:
    rs = imported["sorted"]
    total = rs["files"]["source1"]["totalParts"]
    assert total > 1
    parts = [
        omics.get_read_set(
            sequenceStoreId=rs["sequenceStoreId"], id=rs["id"], partNumber=n, file="SOURCE1"
        )["payload"].read()
        for n in range(1, total + 1)
    ]
    assert all(len(p) == PART_BYTES for p in parts[:-1])
    assert b"".join(parts) == bam_file.read_bytes()
    index = omics.get_read_set(
        sequenceStoreId=rs["sequenceStoreId"], id=rs["id"], partNumber=1, file="INDEX"
    )["payload"].read()
    assert len(index) == rs["files"]["index"]["contentLength"]
    with pytest.raises(ClientError) as exc:
        omics.get_read_set(sequenceStoreId=rs["sequenceStoreId"], id=rs["id"], partNumber=total + 1)
    assert _code(exc) == "RangeNotSatisfiableException"


def test_archived_read_set_has_no_s3_access_until_activated(
    omics: Any, imported: dict[str, Any], s3_ap: Any, emulator: OmicsEmulator, bam_file: Path
) -> None:
    rs = imported["unsorted"]
    store_id = rs["sequenceStoreId"]
    bucket, key = _split(rs["files"]["source1"]["s3Access"]["s3Uri"])
    assert archive_read_sets(emulator.url, store_id, [rs["id"]]) == [
        {"id": rs["id"], "status": "ARCHIVED"}
    ]
    assert omics.get_read_set_metadata(sequenceStoreId=store_id, id=rs["id"])["status"] == (
        "ARCHIVED"
    )
    with pytest.raises(ClientError) as exc:
        s3_ap.get_object(Bucket=bucket, Key=key, Range="bytes=0-9")
    assert _code(exc) == "InvalidObjectState"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as exc:
        omics.get_read_set(sequenceStoreId=store_id, id=rs["id"], partNumber=1)
    assert _code(exc) == "ConflictException"
    assert "StartReadSetActivationJob" in str(exc.value)
    store_prefix = _split(imported["store"]["s3Access"]["s3Uri"])[1]
    listed = s3_ap.list_objects_v2(Bucket=bucket, Prefix=store_prefix)["Contents"]
    assert all(rs["id"] not in o["Key"] for o in listed)

    job = omics.start_read_set_activation_job(
        sequenceStoreId=store_id, sources=[{"readSetId": rs["id"]}], clientToken="act-1"
    )
    again = omics.start_read_set_activation_job(
        sequenceStoreId=store_id, sources=[{"readSetId": rs["id"]}], clientToken="act-1"
    )
    assert again["id"] == job["id"]
    assert omics.get_read_set_metadata(sequenceStoreId=store_id, id=rs["id"])["status"] in (
        "ARCHIVED",
        "ACTIVATING",
    )
    done = wait_for(
        lambda: omics.get_read_set_activation_job(sequenceStoreId=store_id, id=job["id"]),
        "status",
        JOB_DONE,
    )
    assert done["status"] == "COMPLETED", done
    assert done["sources"] == [{"readSetId": rs["id"], "status": "FINISHED"}]
    assert _valid("GetReadSetActivationJobResponse", done) == []
    listed = omics.list_read_set_activation_jobs(sequenceStoreId=store_id)
    assert [j["id"] for j in listed["activationJobs"]] == [job["id"]]
    assert _valid("ListReadSetActivationJobsResponse", listed) == []
    after = omics.get_read_set_metadata(sequenceStoreId=store_id, id=rs["id"])
    assert after["status"] == "ACTIVE"
    assert after["files"]["source1"]["s3Access"] == rs["files"]["source1"]["s3Access"]
    assert s3_ap.get_object(Bucket=bucket, Key=key, Range="bytes=0-1")["Body"].read() == (
        b"\x1f\x8b"
    )
    # an ACTIVE read set is not activated again
    second = omics.start_read_set_activation_job(
        sequenceStoreId=store_id, sources=[{"readSetId": rs["id"]}]
    )
    failed = wait_for(
        lambda: omics.get_read_set_activation_job(sequenceStoreId=store_id, id=second["id"]),
        "status",
        JOB_DONE,
    )
    assert failed["status"] == "FAILED"
    assert "is ACTIVE" in failed["sources"][0]["statusMessage"]


def test_export_job_writes_the_read_set_files_to_s3(
    omics: Any, s3: Any, bucket: str, imported: dict[str, Any], bam_file: Path
) -> None:
    rs = imported["sorted"]
    store_id = rs["sequenceStoreId"]
    job = omics.start_read_set_export_job(
        sequenceStoreId=store_id,
        destination=f"s3://{bucket}/exports/",
        roleArn=ROLE,
        sources=[{"readSetId": rs["id"]}],
        clientToken="export-1",
    )
    done = wait_for(
        lambda: omics.get_read_set_export_job(sequenceStoreId=store_id, id=job["id"]),
        "status",
        JOB_DONE,
    )
    assert done["status"] == "COMPLETED", done
    assert done["readSets"] == [{"id": rs["id"], "status": "FINISHED"}]
    body = s3.get_object(Bucket=bucket, Key=f"exports/{rs['id']}/S1.sorted.bam")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(bam_file.read_bytes()).hexdigest()
    index = s3.head_object(Bucket=bucket, Key=f"exports/{rs['id']}/S1.sorted.bam.bai")
    assert index["ContentLength"] == rs["files"]["index"]["contentLength"]
    assert _valid("GetReadSetExportJobResponse", done) == []
    exports = omics.list_read_set_export_jobs(sequenceStoreId=store_id)
    assert job["id"] in [j["id"] for j in exports["exportJobs"]]
    assert _valid("ListReadSetExportJobsResponse", exports) == []


def test_export_job_fails_when_the_role_may_not_write_the_destination(
    omics: Any, moto_url: str, bucket: str, imported: dict[str, Any]
) -> None:
    from tests.support.omics_helpers import create_service_role

    role = create_service_role(
        moto_url,
        "omics-export-read-only",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        },
    )
    rs = imported["sorted"]
    job = omics.start_read_set_export_job(
        sequenceStoreId=rs["sequenceStoreId"],
        destination=f"s3://{bucket}/denied/",
        roleArn=role,
        sources=[{"readSetId": rs["id"]}],
    )
    done = wait_for(
        lambda: omics.get_read_set_export_job(sequenceStoreId=rs["sequenceStoreId"], id=job["id"]),
        "status",
        JOB_DONE,
    )
    assert done["status"] == "FAILED"
    message = done["readSets"][0]["statusMessage"]
    assert "s3:PutObject" in message and "omics-export-read-only" in message, message


def test_cram_read_set_gets_a_crai_and_counts(
    omics: Any,
    s3: Any,
    bucket: str,
    reference: dict[str, Any],
    emulator: OmicsEmulator,
    s3_ap: Any,
    tmp_path: Path,
) -> None:
    from tests.support.omics_helpers import FASTA

    fasta = tmp_path / "genome.fa"
    fasta.write_text(FASTA)
    bam = write_bam(tmp_path / "C1.bam", reads=300)
    cram = tmp_path / "C1.cram"
    subprocess.run(
        ["samtools", "view", "-C", "-T", str(fasta), "-o", str(cram), str(bam)], check=True
    )
    s3.put_object(Bucket=bucket, Key="aligned/C1.cram", Body=cram.read_bytes())
    store = omics.create_sequence_store(name="crams")
    wait_for(lambda: omics.get_sequence_store(id=store["id"]), "status", {"ACTIVE"})
    job = omics.start_read_set_import_job(
        sequenceStoreId=store["id"],
        roleArn=ROLE,
        sources=[
            {
                "sourceFiles": {"source1": f"s3://{bucket}/aligned/C1.cram"},
                "sourceFileType": "CRAM",
                "subjectId": "subj",
                "sampleId": "C1",
                "referenceArn": reference["arn"],
            }
        ],
    )
    done = wait_for(
        lambda: omics.get_read_set_import_job(id=job["id"], sequenceStoreId=store["id"]),
        "status",
        JOB_DONE,
    )
    assert done["status"] == "COMPLETED", done
    rs = omics.get_read_set_metadata(
        sequenceStoreId=store["id"], id=done["sources"][0]["readSetId"]
    )
    assert rs["sequenceInformation"] == {
        "totalReadCount": 303,
        "totalBaseCount": 303 * 20,
        "alignment": "ALIGNED",
    }
    assert rs["etag"]["algorithm"] == "CRAM_MD5up"
    assert rs["files"]["index"]["s3Access"]["s3Uri"].endswith(f"/readSet/{rs['id']}/C1.cram.crai")
    bucket_ap, key = _split(rs["files"]["index"]["s3Access"]["s3Uri"])
    crai = s3_ap.get_object(Bucket=bucket_ap, Key=key)["Body"].read()
    subprocess.run(["samtools", "index", str(cram)], check=True)
    assert gzip.decompress(crai) == gzip.decompress((tmp_path / "C1.cram.crai").read_bytes())
