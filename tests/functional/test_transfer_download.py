"""omics_toolkit.transfer.download and aws.s3.presign against the local stack's real moto S3.

Every GetObject the download sends is recorded (botocore's ``before-call.s3.GetObject`` event on
a client of its own), so the tests can say which byte ranges were fetched, and fetched again.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from omics_toolkit.aws.s3 import presign
from omics_toolkit.aws.session import local_context
from omics_toolkit.errors import ChecksumMismatchError, UserError
from omics_toolkit.transfer import download

BUCKET = "transfer-tests"
KIB = 1024


class Interrupted(Exception):
    """Raised by a test's progress hook to stop a download midway."""


@pytest.fixture(scope="module")
def s3(local_stack: dict[str, Any]) -> Any:
    """A client of its own (its event handlers touch no other test's client)."""
    ctx = local_context(local_stack["moto"], local_stack["omics"] or "http://127.0.0.1:9")
    client = ctx.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def ranges(s3: Any) -> Any:
    """The ``Range`` of every GetObject sent while the test runs, in order."""
    seen: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params["headers"].get("Range", "whole"))

    s3.meta.events.register("before-call.s3.GetObject", record, unique_id="test-ranges")
    yield seen
    s3.meta.events.unregister("before-call.s3.GetObject", unique_id="test-ranges")


def raw_client(local_stack: dict[str, Any], checksums: bool) -> Any:
    """A plain boto3 client; ``checksums=False`` uploads without S3 additional checksums."""
    return boto3.client(
        "s3",
        endpoint_url=local_stack["moto"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            request_checksum_calculation="when_supported" if checksums else "when_required"
        ),
    )


def sha256(data: bytes | Path) -> str:
    return hashlib.sha256(data.read_bytes() if isinstance(data, Path) else data).hexdigest()


def put(s3: Any, key: str, size: int, seed: int = 1) -> bytes:
    data = hashlib.shake_256(f"{key}-{seed}".encode()).digest(size)
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, ChecksumAlgorithm="SHA256")
    return data


def byte_range(index: int, part: int, size: int) -> str:
    return f"bytes={index * part}-{min(size, (index + 1) * part) - 1}"


def stop_after(parts: int) -> Any:
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) > parts:  # the first call reports what was already on disk
            raise Interrupted(f"stopped at {done}/{total}")

    return progress


@pytest.mark.parametrize(
    ("upload", "kind"),
    [
        ("put-sha256", "sha256"),
        ("put-crc32", "crc32"),
        ("put-plain", "md5 (ETag)"),
        ("multipart-plain", "md5 of 3 part md5s (ETag)"),
        ("multipart-crc32", "md5 of 3 part md5s (ETag)"),  # moto names no ChecksumType
    ],
)
def test_download_fetches_ranged_parts_and_verifies_each_kind_of_object(
    s3, ranges, local_stack, tmp_path, upload, kind
):
    size = 12 * 1024 * KIB + 5  # 12 MiB + 5: three 5 MiB upload parts when multipart
    data = hashlib.shake_256(upload.encode()).digest(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    key = f"kinds/{upload}.bin"
    raw = raw_client(local_stack, checksums=upload.endswith("crc32"))
    if upload.startswith("multipart"):
        config = TransferConfig(
            multipart_threshold=5 * 1024 * KIB, multipart_chunksize=5 * 1024 * KIB
        )
        raw.upload_file(str(src), BUCKET, key, Config=config)
        assert s3.head_object(Bucket=BUCKET, Key=key)["ETag"].endswith('-3"')
    elif upload == "put-sha256":
        raw.put_object(Bucket=BUCKET, Key=key, Body=data, ChecksumAlgorithm="SHA256")
    else:
        raw.put_object(Bucket=BUCKET, Key=key, Body=data)

    dest = tmp_path / "out" / "file.bin"
    result = download(s3, BUCKET, key, dest, part_size=4 * 1024 * KIB, workers=3)

    assert sha256(dest) == sha256(data)
    assert (result.checksum_kind, result.verified) == (kind, True)
    assert (result.parts_total, result.parts_fetched, result.parts_reused) == (4, 4, 0)
    assert result.bytes_fetched == result.bytes_total == size
    assert sorted(ranges) == sorted(byte_range(i, 4 * 1024 * KIB, size) for i in range(4))
    assert not (tmp_path / "out" / "file.bin.part").exists()
    assert not (tmp_path / "out" / "file.bin.part.json").exists()


def test_interrupted_download_resumes_without_fetching_completed_parts_again(s3, ranges, tmp_path):
    part, size = 64 * KIB, 10 * 64 * KIB + 100  # 11 parts
    data = put(s3, "resume/a.bin", size)
    dest = tmp_path / "a.bin"

    with pytest.raises(Interrupted):
        download(
            s3, BUCKET, "resume/a.bin", dest, part_size=part, workers=2, progress=stop_after(4)
        )
    state = json.loads((tmp_path / "a.bin.part.json").read_text())
    completed = {byte_range(int(i), part, size) for i in state["parts"]}
    assert len(completed) >= 4 and not dest.exists()
    first_run = list(ranges)
    ranges.clear()

    result = download(s3, BUCKET, "resume/a.bin", dest, part_size=part, workers=2)

    assert sha256(dest) == sha256(data)
    assert not completed & set(ranges), "a completed part was fetched again"
    assert set(ranges) | completed == {byte_range(i, part, size) for i in range(11)}
    assert (result.parts_reused, result.parts_fetched) == (len(completed), 11 - len(completed))
    assert result.bytes_fetched == size - sum(
        min(size, (int(i) + 1) * part) - int(i) * part for i in state["parts"]
    )
    assert result.restarted is None and result.verified
    assert len(first_run) >= 4


def test_a_damaged_completed_part_on_disk_is_fetched_again_on_resume(s3, ranges, tmp_path):
    part, size = 64 * KIB, 6 * 64 * KIB
    data = put(s3, "resume/damaged.bin", size)
    dest = tmp_path / "damaged.bin"
    with pytest.raises(Interrupted):
        download(
            s3,
            BUCKET,
            "resume/damaged.bin",
            dest,
            part_size=part,
            workers=1,
            progress=stop_after(3),
        )
    done = sorted(
        int(i) for i in json.loads((tmp_path / "damaged.bin.part.json").read_text())["parts"]
    )
    assert done == [0, 1, 2]
    with (tmp_path / "damaged.bin.part").open("r+b") as handle:  # flip one byte of part 1
        handle.seek(part + 10)
        byte = handle.read(1)
        handle.seek(part + 10)
        handle.write(bytes([byte[0] ^ 0xFF]))
    ranges.clear()

    result = download(s3, BUCKET, "resume/damaged.bin", dest, part_size=part, workers=1)

    assert sha256(dest) == sha256(data)
    assert sorted(ranges) == sorted(byte_range(i, part, size) for i in (1, 3, 4, 5))
    assert result.parts_reused == 2


def test_bytes_that_do_not_match_s3s_checksum_fail_keep_the_part_and_the_next_run_starts_over(
    s3, ranges, tmp_path
):
    part, size = 64 * KIB, 4 * 64 * KIB
    data = put(s3, "verify/bad.bin", size)
    dest = tmp_path / "bad.bin"
    part_file = tmp_path / "bad.bin.part"

    def corrupt_when_done(done: int, total: int) -> None:
        if done == total:  # every part is in: damage the file before it is verified
            with part_file.open("r+b") as handle:
                handle.seek(5)
                handle.write(b"\x00\x01\x02")

    with pytest.raises(ChecksumMismatchError) as caught:
        download(s3, BUCKET, "verify/bad.bin", dest, part_size=part, progress=corrupt_when_done)
    error = caught.value
    expected = s3.head_object(Bucket=BUCKET, Key="verify/bad.bin", ChecksumMode="ENABLED")
    assert (error.kind, error.expected) == ("sha256", expected["ChecksumSHA256"])
    assert error.actual != error.expected and error.path == str(part_file)
    assert str(part_file) in str(error) and "s3://transfer-tests/verify/bad.bin" in str(error)
    assert part_file.exists() and not dest.exists()
    ranges.clear()

    result = download(s3, BUCKET, "verify/bad.bin", dest, part_size=part)

    assert result.restarted == "the previous download failed verification"
    assert (result.parts_reused, result.parts_fetched, len(ranges)) == (0, 4, 4)
    assert sha256(dest) == sha256(data)


def test_an_object_changed_since_the_interrupted_download_starts_over(s3, ranges, tmp_path):
    part, size = 64 * KIB, 8 * 64 * KIB
    put(s3, "changed/c.bin", size, seed=1)
    dest = tmp_path / "c.bin"
    with pytest.raises(Interrupted):
        download(
            s3, BUCKET, "changed/c.bin", dest, part_size=part, workers=1, progress=stop_after(3)
        )
    new = put(s3, "changed/c.bin", size, seed=2)
    ranges.clear()

    result = download(s3, BUCKET, "changed/c.bin", dest, part_size=part, workers=1)

    assert result.restarted is not None and result.restarted.startswith(
        "s3://transfer-tests/changed/c.bin changed since the interrupted download (ETag"
    )
    assert (result.parts_reused, result.parts_fetched, len(ranges)) == (0, 8, 8)
    assert sha256(dest) == sha256(new)


def test_an_identical_file_is_skipped_and_a_different_one_kept_unless_overwrite(
    s3, ranges, tmp_path
):
    data = put(s3, "exists/e.bin", 100 * KIB)
    dest = tmp_path / "e.bin"
    download(s3, BUCKET, "exists/e.bin", dest, part_size=32 * KIB)
    ranges.clear()

    again = download(s3, BUCKET, "exists/e.bin", dest, part_size=32 * KIB)
    assert (again.skipped, again.verified, again.bytes_fetched, ranges) == (True, True, 0, [])

    dest.write_bytes(data[:-1] + b"!")
    with pytest.raises(
        UserError,
        match=r"e\.bin already exists and differs from s3://transfer-tests/exists/e\.bin; move it away or pass --overwrite",
    ):
        download(s3, BUCKET, "exists/e.bin", dest)
    assert dest.read_bytes().endswith(b"!") and ranges == []

    replaced = download(s3, BUCKET, "exists/e.bin", dest, overwrite=True)
    assert replaced.verified and not replaced.skipped and sha256(dest) == sha256(data)


def test_empty_object_downloads_as_an_empty_verified_file(s3, ranges, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="empty/none.bin", Body=b"")
    result = download(s3, BUCKET, "empty/none.bin", tmp_path / "none.bin")
    assert (tmp_path / "none.bin").read_bytes() == b""
    assert (result.parts_total, result.verified, ranges) == (0, True, [])


def test_missing_object_raises_not_found_and_leaves_nothing(s3, tmp_path):
    from omics_toolkit.errors import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError):
        download(s3, BUCKET, "absent/x.bin", tmp_path / "x.bin")
    assert os.listdir(tmp_path) == []


def test_presigned_url_reads_the_object_and_ranges_of_it_with_plain_http(s3):
    data = put(s3, "presign/p.bin", 50 * KIB)
    url = presign(s3, BUCKET, "presign/p.bin", 300)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.read() == data
    ranged = urllib.request.Request(url, headers={"Range": "bytes=100-199"})
    with urllib.request.urlopen(ranged, timeout=30) as answer:
        assert answer.status == 206 and answer.read() == data[100:200]
    for bad in (0, 7 * 24 * 3600 + 1):
        with pytest.raises(UserError, match="1 to 604800 seconds"):
            presign(s3, BUCKET, "presign/p.bin", bad)
