"""Recognise FASTQ mates from S3 object keys and derive the run's identity.

Conventions understood (mate 1 shown; gzip optional, ``.fastq`` or ``.fq``):
``<sample>_R1.fastq.gz``, ``<sample>_1.fq``, ``<sample>.R1.fastq.gz`` and Illumina
``<sample>_S<n>_L<lane>_R1_001.fastq.gz``. The sample name is everything before the mate marker
(and before ``_S<n>_L<lane>`` for Illumina names); the "pair stem" is the key with the mate
number removed, so ``NA1_R1`` never pairs with ``NA12878_R2``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_FASTQ = re.compile(
    r"""^(?P<dir>.*/)?                                   # prefix ("folders")
        (?P<stem>.+?)                                    # sample (+ Illumina S/L parts)
        (?P<sep>[._])(?P<r>R?)(?P<mate>[12])             # mate marker: _R1 _1 .R1
        (?P<suffix>_001)?                                # Illumina chunk
        (?P<ext>\.(?:fastq|fq)(?:\.gz)?)$
    """,
    re.VERBOSE,
)
_ILLUMINA = re.compile(r"^(?P<sample>.+?)_S\d+(?:_L\d{3})?$")
#: Step Functions execution names: 1-80 characters from this set.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Mate:
    """One FASTQ file of a pair.

    Attributes:
        key: the S3 object key (URL-decoded).
        sample: sample id derived from the key.
        mate: 1 or 2.
        mate_key: the key the other mate must have.
    """

    key: str
    sample: str
    mate: int
    mate_key: str

    @property
    def r1_key(self) -> str:
        return self.key if self.mate == 1 else self.mate_key

    @property
    def r2_key(self) -> str:
        return self.key if self.mate == 2 else self.mate_key


def parse_mate(key: str) -> Mate | None:
    """Recognise a FASTQ mate from an object key.

    Returns:
        The :class:`Mate`, or ``None`` when the key is not a FASTQ file with a mate marker.
    """
    match = _FASTQ.match(key)
    if not match:
        return None
    stem = match["stem"]
    illumina = _ILLUMINA.match(stem) if match["suffix"] else None
    sample = illumina["sample"] if illumina else stem
    mate = int(match["mate"])
    other = 2 if mate == 1 else 1
    head = key[: match.start("mate")]
    tail = key[match.end("mate") :]
    return Mate(key=key, sample=sample, mate=mate, mate_key=f"{head}{other}{tail}")


def execution_name(sample: str, r1: tuple[str, str], r2: tuple[str, str]) -> str:
    """Deterministic Step Functions execution name for one pair's content.

    Args:
        sample: sample id.
        r1: ``(key, etag)`` of mate 1.
        r2: ``(key, etag)`` of mate 2.

    Returns:
        ``<sample>-<12 hex digits>``, at most 80 characters from ``[A-Za-z0-9_-]``: the same pair
        content always gives the same name (so a duplicate event cannot start a second
        execution), new content for the sample gives a new one.
    """
    digest = hashlib.sha256("\0".join([sample, *r1, *r2]).encode()).hexdigest()[:12]
    safe = _NAME_UNSAFE.sub("-", sample)[: 80 - 13] or "sample"
    return f"{safe}-{digest}"
