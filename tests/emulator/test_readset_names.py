"""Access point names, aliases and object keys of sequence stores (no servers)."""

from __future__ import annotations

import re

import pytest

from healthomics_emulator.readset_files import (
    alias_bucket,
    file_information,
    object_key,
    store_s3_access,
)
from healthomics_emulator.s3_access import alias_of


def test_alias_has_the_shape_s3_gives_access_point_aliases() -> None:
    alias = alias_bucket("349696919792", "6779198914", "us-east-1")
    # as a real store's: 349696919792-6779198-8h543pfencki8cydnfpcceai4owanuse1b-s3alias
    assert re.fullmatch(r"349696919792-6779198-[a-z0-9]{34}-s3alias", alias)
    assert len(alias) == 63
    assert alias == alias_bucket("349696919792", "6779198914", "us-east-1")  # stable
    assert alias != alias_bucket("349696919792", "6779198915", "us-east-1")


def test_store_access_and_object_keys() -> None:
    access = store_s3_access("111111111111", "222222222222", "us-west-2", "1234567890")
    assert access["s3AccessPointArn"] == (
        "arn:aws:s3:us-west-2:222222222222:accesspoint/111111111111-1234567890"
    )
    assert access["s3Uri"].endswith("-s3alias/111111111111/sequenceStore/1234567890/")
    assert "accessLogLocation" not in access
    assert object_key("111111111111", "1234567890", "5091960702", "HG00405.final.cram") == (
        "111111111111/sequenceStore/1234567890/readSet/5091960702/HG00405.final.cram"
    )


@pytest.mark.parametrize(
    ("size", "parts"), [(1, 1), (100 * 2**20, 1), (100 * 2**20 + 1, 2), (310054739, 3)]
)
def test_parts_are_100_mib(size: int, parts: int) -> None:
    info = file_information(size, "s3://b/k")
    assert (info["totalParts"], info["partSize"], info["contentLength"]) == (
        parts,
        104857600,
        size,
    )


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("127.0.0.1:5000", "/a-b-s3alias/k/e%20y.bam", ("a-b-s3alias", "k/e y.bam")),
        ("a-b-s3alias.localhost:5000", "/k/x.bam", ("a-b-s3alias", "k/x.bam")),
        ("a-b-s3alias.s3.us-east-1.amazonaws.com", "/", ("a-b-s3alias", "")),
        ("127.0.0.1:5000", "/ordinary-bucket/k", None),
        ("127.0.0.1:5000", "/sequencestore/1234567890/readset/1234567890", None),
        ("a-b-s3alias:5000", "/k", None),  # a bare host name is not a virtual-hosted bucket
    ],
)
def test_alias_requests_are_recognised_in_both_addressing_styles(
    host: str, path: str, expected: tuple[str, str] | None
) -> None:
    assert alias_of(host, path) == expected
