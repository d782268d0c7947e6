"""Recognise FASTQ mates from S3 object keys and derive a run's identity (its execution name).

Conventions understood (mate 1 shown; ``.fastq`` or ``.fq``, gzip or not):

- ``<sample>_R1.fastq.gz``, ``<sample>_1.fq``, ``<sample>.R1.fastq.gz``;
- Illumina ``<sample>_S<n>_L<lane>_R1_001.fastq.gz`` (also without ``_S<n>`` or ``_L<lane>``);
- a configurable pattern (setting ``pair_pattern``, Lambda environment ``PAIR_PATTERN``): a
  regular expression that must match the whole base name (extension included), with named
  groups ``sample`` and ``mate`` (``1``/``2`` or ``R1``/``R2``) and optionally ``lane``. It is
  tried first; names it does not match fall back to the conventions above.

The sample is the part before the mate marker (before ``_S<n>_L<lane>`` for Illumina names); the
lane is Illumina's ``L001`` or the pattern's ``lane`` group, else ``"1"``. Nothing else is
removed: a CASAVA 1.8 name ``<sample>_<barcode>_L<lane>_R1_001.fastq.gz`` keeps its barcode, so
``NA12878_ACGTACGT_L005_R1_001.fastq.gz`` is sample ``NA12878_ACGTACGT``, lane ``L005`` (a
barcode cannot be told from the end of a sample name; ``Sample_NoIndex_L001`` is sample
``Sample_NoIndex``). To name the sample, upload with ``omics-toolkit upload --sample NA12878``
(the lane is kept: ``fastq/NA12878_L005_R1_001.fastq.gz``), list the files in a manifest with
its ``sample`` (and ``lane``) column, or set ``pair_pattern``. The other mate's key is
the key itself with the mate number swapped, so ``NA1_R1`` never pairs with ``NA12878_R2``.
Only the base name is parsed: folders are kept as they are.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from omics_toolkit.config import compile_pair_pattern

#: Object name endings of FASTQ files (the S3 notification suffix filters).
FASTQ_EXTENSIONS = (".fastq.gz", ".fq.gz", ".fastq", ".fq")

_BUILTIN = re.compile(
    r"""^(?P<stem>.+?)                                   # sample (+ Illumina S/L parts)
        [._](?P<mate>R?[12])                             # mate marker: _R1 _1 .R1
        (?P<suffix>_001)?                                # Illumina chunk
        \.(?:fastq|fq)(?:\.gz)?$
    """,
    re.VERBOSE,
)
_ILLUMINA = re.compile(r"^(?P<sample>.+?)(?:_S\d+)?(?:_(?P<lane>L\d{3}))?$")
_MATE_VALUE = re.compile(r"^[Rr]?[12]$")
#: Step Functions execution names: 1-80 characters from this set.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: Longest execution name made here: Step Functions allows 80, the state machine's retries
#: append ``-r<N>``.
MAX_NAME_LENGTH = 76
_DIGEST_LENGTH = 12
_RETRY_SUFFIX = re.compile(r"-r\d+$")
DEFAULT_LANE = "1"


@dataclass(frozen=True)
class Mate:
    """One FASTQ file of a pair.

    Attributes:
        key: the S3 object key (URL-decoded).
        sample: sample id derived from the key.
        mate: 1 or 2.
        mate_key: the key the other mate must have.
        lane: ``"L001"`` for Illumina names, the pattern's ``lane`` group, else ``"1"``.
    """

    key: str
    sample: str
    mate: int
    mate_key: str
    lane: str = DEFAULT_LANE

    @property
    def r1_key(self) -> str:
        return self.key if self.mate == 1 else self.mate_key

    @property
    def r2_key(self) -> str:
        return self.key if self.mate == 2 else self.mate_key


@dataclass(frozen=True)
class LanePair:
    """One lane of a sample: its two FASTQ objects as ``(key, etag)``."""

    lane: str
    r1: tuple[str, str]
    r2: tuple[str, str]


def is_fastq(key: str) -> bool:
    """True when the key ends like a FASTQ file (``.fastq``/``.fq``, gzip or not)."""
    return key.endswith(FASTQ_EXTENSIONS)


@lru_cache(maxsize=8)
def _compiled(pattern: str) -> re.Pattern[str]:
    return compile_pair_pattern(pattern)


def _split(key: str) -> tuple[str, str]:
    head, slash, base = key.rpartition("/")
    return head + slash, base


def _swap(key: str, index: int) -> str:
    """The key with the mate digit at ``index`` swapped (1 <-> 2)."""
    return key[:index] + ("2" if key[index] == "1" else "1") + key[index + 1 :]


def _by_pattern(key: str, pattern: re.Pattern[str]) -> Mate | None:
    folder, base = _split(key)
    match = pattern.fullmatch(base)
    if not match or not match["sample"] or not _MATE_VALUE.match(match["mate"] or ""):
        return None
    lane = (match.groupdict().get("lane") or "") or DEFAULT_LANE
    mate_key = _swap(key, len(folder) + match.end("mate") - 1)
    other = pattern.fullmatch(_split(mate_key)[1])
    # The other mate's name must read back as the same sample and lane, with the other mate.
    if (
        not other
        or other["sample"] != match["sample"]
        or ((other.groupdict().get("lane") or "") or DEFAULT_LANE) != lane
        or other.end("mate") != match.end("mate")
    ):
        return None
    return Mate(
        key=key,
        sample=match["sample"],
        mate=int(match["mate"][-1]),
        mate_key=mate_key,
        lane=lane,
    )


def parse_mate(key: str, pattern: str | None = None) -> Mate | None:
    """Recognise a FASTQ mate from an object key (already URL-decoded).

    Args:
        key: the object key; only its base name is parsed.
        pattern: the ``pair_pattern`` setting, tried before the built-in conventions.

    Returns:
        The :class:`Mate`, or ``None`` when the key is not a FASTQ file named as a mate.

    Raises:
        ConfigError: ``pattern`` is not a valid pair pattern.
    """
    if not is_fastq(key):
        return None
    if pattern:
        mate = _by_pattern(key, _compiled(pattern))
        if mate is not None:
            return mate
    folder, base = _split(key)
    match = _BUILTIN.match(base)
    if not match:
        return None
    sample, lane = match["stem"], DEFAULT_LANE
    if match["suffix"]:
        illumina = _ILLUMINA.match(match["stem"])
        if illumina:
            sample, lane = illumina["sample"], illumina["lane"] or DEFAULT_LANE
    return Mate(
        key=key,
        sample=sample,
        mate=int(match["mate"][-1]),
        mate_key=_swap(key, len(folder) + match.end("mate") - 1),
        lane=lane,
    )


def lane_sort_key(lane: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of lane labels: ``"2"`` before ``"10"``, ``"L001"`` before ``"L002"``."""
    parts = re.findall(r"\d+|\D+", lane)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts) + ((1, lane),)


def safe_sample(sample: str) -> str:
    """The sample as it starts an execution name: ``[A-Za-z0-9_-]``, at most 63 characters."""
    return _NAME_UNSAFE.sub("-", sample)[: MAX_NAME_LENGTH - _DIGEST_LENGTH - 1] or "sample"


def execution_name(sample: str, lanes: Sequence[LanePair]) -> str:
    """Deterministic Step Functions execution name for one sample's content.

    Args:
        sample: sample id.
        lanes: every lane of the run with its objects' keys and ETags (quotes ignored); the
            order does not matter.

    Returns:
        ``<safe sample>-<12 hex digits>``, at most 76 characters from ``[A-Za-z0-9_-]`` (room
        for a ``-r<N>`` retry suffix within Step Functions' 80): the same content always gives
        the same name, whichever event computes it, and new content a new one.
    """
    canonical = [
        [lane.lane, lane.r1[0], lane.r1[1].strip('"'), lane.r2[0], lane.r2[1].strip('"')]
        for lane in sorted(lanes, key=lambda x: lane_sort_key(x.lane))
    ]
    payload = json.dumps([sample, canonical], ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(payload.encode()).hexdigest()[:_DIGEST_LENGTH]
    return f"{safe_sample(sample)}-{digest}"


def base_execution_name(name: str) -> str:
    """An execution name without the ``-r<N>`` suffix the state machine's retries add."""
    return _RETRY_SUFFIX.sub("", name)


def names_sample(name: str, sample: str) -> bool:
    """True when ``name`` is an execution name made for ``sample`` (a retry's included).

    Exact: ``NA1-<12 hex>`` is NA1's, never NA12878's.
    """
    hex_digits = rf"[0-9a-f]{{{_DIGEST_LENGTH}}}"
    return bool(re.fullmatch(rf"{re.escape(safe_sample(sample))}-{hex_digits}(?:-r\d+)?", name))
