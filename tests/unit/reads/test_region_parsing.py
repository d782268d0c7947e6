"""Regions typed as samtools takes them become 0-based half-open; bad ones say what to fix."""

from __future__ import annotations

import pytest

from omics_toolkit.errors import RegionError, UserError
from omics_toolkit.reads.regions import Region, parse_region


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chr20:1,000,001-1,001,000", Region("chr20", 1_000_000, 1_001_000)),
        ("chr20", Region("chr20", 0, None)),
        ("chr20:1000001", Region("chr20", 1_000_000, None)),
        ("chr20:1000001-", Region("chr20", 1_000_000, None)),
        ("q:186-186", Region("q", 185, 186)),
        (" q:1-1 ", Region("q", 0, 1)),
        ("HLA-A*01:01:01:01", Region("HLA-A*01:01:01", 0, None)),
        ("{HLA-A*01:01:01:01}:1-100", Region("HLA-A*01:01:01:01", 0, 100)),
        ("{HLA-A*01:01:01:01}", Region("HLA-A*01:01:01:01", 0, None)),
    ],
)
def test_parse_region(text: str, expected: Region) -> None:
    assert parse_region(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty region"),
        (":1-100", "has no contig name"),
        ("chr1:0-100", "start must be >= 1"),
        ("chr1:200-100", "end 100 is before start 200"),
        ("chr1:abc-100", "is not start-end"),
        ("chr1:1-1e6", "is not start-end"),
        ("{chr1:1-5", "without '}'"),
    ],
)
def test_bad_region_says_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(RegionError, match=message) as caught:
        parse_region(text)
    assert isinstance(caught.value, UserError)


def test_region_round_trips_to_samtools_form() -> None:
    for text in ("chr20:1000001-1001000", "chr20", "chr20:5"):
        assert parse_region(text).samtools() == text
    assert Region("q", 5, 5).is_empty
