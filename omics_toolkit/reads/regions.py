"""Genomic regions as users type them (``contig:start-end``, 1-based inclusive, like samtools)
and as the code keeps them (0-based half-open, like htsget's ``start``/``end``).

Source: samtools view REGIONS (``chr2:1,000,000-2,000,000``; ``chr2`` the whole contig;
``chr2:1,000,000`` to the contig's end) and GA4GH htsget 1.3 query parameters ``referenceName``,
``start`` (0-based, inclusive), ``end`` (0-based, exclusive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from omics_toolkit.errors import RegionError

_EXAMPLE = (
    "type it as contig:start-end, 1-based inclusive like samtools (e.g. chr20:1,000,001-1,001,000)"
)
_RANGE = re.compile(r"^(?P<start>[0-9,]+)(?:-(?P<end>[0-9,]*))?$")


@dataclass(frozen=True)
class Region:
    """A stretch of one contig, 0-based half-open.

    Attributes:
        contig: the contig name exactly as the file's header spells it.
        start: first base, 0-based (inclusive).
        end: one past the last base, 0-based (exclusive); ``None``: to the contig's end.
    """

    contig: str
    start: int = 0
    end: int | None = None

    def __post_init__(self) -> None:
        if not self.contig:
            raise RegionError(f"a region needs a contig name; {_EXAMPLE}")
        if self.start < 0:
            raise RegionError(f"region start {self.start} is negative (0-based start)")
        if self.end is not None and self.end < self.start:
            raise RegionError(f"region {self.contig}: end {self.end} is before start {self.start}")

    @property
    def is_empty(self) -> bool:
        """True when the region holds no base (``start == end``)."""
        return self.end is not None and self.end == self.start

    def samtools(self) -> str:
        """The region as samtools and ``parse_region`` take it (1-based inclusive)."""
        if self.start == 0 and self.end is None:
            return self.contig
        if self.end is None:
            return f"{self.contig}:{self.start + 1}"
        return f"{self.contig}:{self.start + 1}-{self.end}"

    def __str__(self) -> str:
        return self.samtools()


def _number(text: str, what: str, region: str) -> int:
    digits = text.replace(",", "")
    if not digits.isdigit():
        raise RegionError(f"region {region!r}: {what} {text!r} is not a number; {_EXAMPLE}")
    return int(digits)


def parse_region(text: str) -> Region:
    """Parse a region as samtools takes it into a 0-based half-open :class:`Region`.

    ``chr20:1,000,001-1,001,000`` -> ``Region("chr20", 1000000, 1001000)``; ``chr20`` -> the
    whole contig; ``chr20:1,000,001`` -> from that base to the contig's end; ``chr20:5-5`` -> one
    base. Commas in numbers are ignored. A contig whose name itself holds ``:`` (e.g. HLA alleles)
    may be written in braces as samtools allows: ``{HLA-A*01:01:01:01}:1-100``.

    Raises:
        RegionError: empty text, a start of 0 (positions are 1-based), an end before the
            start, or numbers that are not numbers; the message shows the expected form.
    """
    raw = text
    text = text.strip()
    if not text:
        raise RegionError(f"empty region; {_EXAMPLE}")
    if text.startswith("{"):
        close = text.find("}")
        if close < 0:
            raise RegionError(f"region {raw!r}: '{{' without '}}' around the contig name")
        contig, rest = text[1:close], text[close + 1 :]
        if rest and not rest.startswith(":"):
            raise RegionError(f"region {raw!r}: expected ':' after '}}'; {_EXAMPLE}")
        coords = rest[1:] if rest else ""
    elif ":" in text:
        contig, coords = text.rsplit(":", 1)
    else:
        contig, coords = text, ""
    if not contig:
        raise RegionError(f"region {raw!r} has no contig name; {_EXAMPLE}")
    if not coords:
        return Region(contig)
    match = _RANGE.match(coords)
    if match is None:
        raise RegionError(f"region {raw!r}: {coords!r} is not start-end; {_EXAMPLE}")
    start = _number(match["start"], "start", raw)
    if start < 1:
        raise RegionError(
            f"region {raw!r}: start must be >= 1 (positions are 1-based, like samtools)"
        )
    end_text = match["end"]
    if end_text is None or end_text == "":
        return Region(contig, start - 1, None)
    end = _number(end_text, "end", raw)
    if end < start:
        raise RegionError(
            f"region {raw!r}: end {end:,} is before start {start:,} "
            "(both 1-based inclusive; a one-base region is contig:N-N)"
        )
    return Region(contig, start - 1, end)
