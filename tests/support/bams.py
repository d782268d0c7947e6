"""Small real BAM files for tests (written with pysam/htslib), matching the test reference's contigs."""

from __future__ import annotations

import random
from pathlib import Path

#: Contigs of the emulator tests' reference (``conftest.FASTA``): chr1 270 bp, chr2 128 bp.
CONTIGS = (("chr1", 270), ("chr2", 128))


def write_bam(
    path: Path,
    reads: int = 400,
    read_length: int = 20,
    *,
    sort: bool = True,
    unmapped: int = 3,
    seed: int = 17,
) -> Path:
    """Write a BAM of ``reads`` mapped reads spread over :data:`CONTIGS` (plus ``unmapped``
    unmapped reads at the end), coordinate-sorted unless ``sort`` is false; return ``path``.

    The header has ``@HD SO:coordinate`` (or ``unsorted``), the two ``@SQ`` lines and one read
    group ``@RG ID:rg1 SM:S1``.
    """
    import pysam

    rng = random.Random(seed)
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate" if sort else "unsorted"},
        "SQ": [{"SN": name, "LN": length} for name, length in CONTIGS],
        "RG": [{"ID": "rg1", "SM": "S1"}],
    }
    placed = []
    for i in range(reads):
        tid = 0 if rng.random() < 0.7 else 1
        start = rng.randrange(0, CONTIGS[tid][1] - read_length)
        placed.append((tid, start, f"r{i:05d}"))
    if sort:
        placed.sort()
    else:
        placed.sort(key=lambda p: p[2], reverse=True)
        placed[0], placed[-1] = placed[-1], placed[0]
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for tid, start, name in placed:
            seg = pysam.AlignedSegment(out.header)
            seg.query_name = name
            seg.query_sequence = "".join(rng.choice("ACGT") for _ in range(read_length))
            seg.flag = 0
            seg.reference_id = tid
            seg.reference_start = start
            seg.mapping_quality = 60
            seg.cigarstring = f"{read_length}M"
            seg.query_qualities = pysam.qualitystring_to_array("I" * read_length)
            seg.set_tag("RG", "rg1")
            out.write(seg)
        for j in range(unmapped):
            seg = pysam.AlignedSegment(out.header)
            seg.query_name = f"u{j}"
            seg.query_sequence = "A" * read_length
            seg.flag = 4
            seg.reference_id = -1
            seg.reference_start = -1
            seg.query_qualities = pysam.qualitystring_to_array("I" * read_length)
            out.write(seg)
    return path
