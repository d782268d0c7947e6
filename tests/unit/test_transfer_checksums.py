"""omics_toolkit.transfer.expected_checksum and compute on HeadObject answers moto does not give:
S3's composite checksums (``<base64>-N`` with ``ChecksumType: COMPOSITE``) and SSE-KMS objects,
whose ETag is not an MD5 of their bytes (S3 User Guide, "Checking object integrity")."""

from __future__ import annotations

import base64
import hashlib
import zlib
from pathlib import Path
from typing import Any

from omics_toolkit.transfer import compute, expected_checksum

PART = 5 * 1024 * 1024


class PartSizes:
    """Answers HeadObject with PartNumber as S3 does: that part's ContentLength."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.asked: list[int] = []

    def head_object(self, Bucket: str, Key: str, PartNumber: int) -> dict[str, Any]:  # noqa: N803
        self.asked.append(PartNumber)
        return {"ContentLength": len(self.parts[PartNumber - 1])}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def data_in_parts(tmp_path: Path, sizes: list[int]) -> tuple[Path, list[bytes]]:
    blob = hashlib.shake_256(b"parts").digest(sum(sizes))
    parts, start = [], 0
    for size in sizes:
        parts.append(blob[start : start + size])
        start += size
    path = tmp_path / "file.bin"
    path.write_bytes(blob)
    return path, parts


def test_composite_sha256_with_part_count_suffix_is_the_sha256_of_the_parts_sha256s(tmp_path):
    path, parts = data_in_parts(tmp_path, [PART, PART, 1234])
    composite = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    head = {
        "ContentLength": 2 * PART + 1234,
        "ETag": '"0123456789abcdef0123456789abcdef-3"',
        "ChecksumSHA256": f"{b64(composite)}-3",
        "ChecksumType": "COMPOSITE",
        "ServerSideEncryption": "aws:kms",
    }
    s3 = PartSizes(parts)
    expected = expected_checksum(s3, "b", "k", head)
    assert expected is not None
    assert (expected.kind, expected.value, expected.label) == (
        "sha256",
        b64(composite),
        "sha256 of 3 part sha256s",
    )
    assert expected.part_sizes == [PART, PART, 1234] and s3.asked == [1]
    assert compute(path, expected, 2 * PART + 1234) == b64(composite)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    assert compute(path, expected, 2 * PART + 1234) != b64(composite)


def test_unequal_parts_are_asked_one_by_one(tmp_path):
    path, parts = data_in_parts(tmp_path, [PART, 3 * PART, 10])
    composite = zlib.crc32(b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts))
    head = {
        "ContentLength": 4 * PART + 10,
        "ETag": '"0123456789abcdef0123456789abcdef-3"',
        "ChecksumCRC32": f"{b64(composite.to_bytes(4, 'big'))}-3",
        "ChecksumType": "COMPOSITE",
    }
    s3 = PartSizes(parts)
    expected = expected_checksum(s3, "b", "k", head)
    assert expected is not None and expected.part_sizes == [PART, 3 * PART, 10]
    assert s3.asked == [1, 2, 3]
    assert compute(path, expected, 4 * PART + 10) == expected.value


def test_full_object_crc32_of_a_multipart_upload_is_one_crc_over_the_bytes(tmp_path):
    path, parts = data_in_parts(tmp_path, [PART, 77])
    full = zlib.crc32(b"".join(parts)).to_bytes(4, "big")
    head = {
        "ContentLength": PART + 77,
        "ETag": '"0123456789abcdef0123456789abcdef-2"',
        "ChecksumCRC32": b64(full),
        "ChecksumType": "FULL_OBJECT",
    }
    expected = expected_checksum(PartSizes(parts), "b", "k", head)
    assert expected is not None and (expected.label, expected.part_sizes) == ("crc32", None)
    assert compute(path, expected, PART + 77) == b64(full)


def test_an_sse_kms_object_with_only_a_crc64nvme_checksum_cannot_be_verified():
    head = {
        "ContentLength": 10,
        "ETag": '"5d41402abc4b2a76b9719d911017c592"',
        "ChecksumCRC64NVME": "AAAAAAAAAAA=",
        "ChecksumType": "FULL_OBJECT",
        "ServerSideEncryption": "aws:kms",
    }
    assert expected_checksum(PartSizes([]), "b", "k", head) is None
    head["ServerSideEncryption"] = "AES256"  # SSE-S3: the ETag is the MD5 of the bytes
    expected = expected_checksum(PartSizes([]), "b", "k", head)
    assert expected is not None and (expected.kind, expected.label) == ("md5", "md5 (ETag)")
