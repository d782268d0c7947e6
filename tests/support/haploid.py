"""A haploid sample made from a reference: known SNVs, error-free read pairs from that one copy.

Every read carries the ALT allele, so a diploid caller says ``1/1`` and a haploid one ``1`` at
each SNV. Deterministic (no random numbers): the same reference gives the same bytes.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

#: Transition of each base: the SNV put at each chosen position.
TRANSITION = {"A": "G", "G": "A", "C": "T", "T": "C"}
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@dataclass(frozen=True)
class HaploidSample:
    """Reads of the mutated genome and the SNVs it carries.

    Attributes:
        r1, r2: gzipped FASTQ mates (2 x ``read_length``, quality 40 everywhere).
        snvs: ``(contig, 1-based POS, REF, ALT)`` of each SNV, ascending.
    """

    r1: Path
    r2: Path
    snvs: tuple[tuple[str, int, str, str], ...]


def _read_fasta(path: Path) -> list[tuple[str, str]]:
    contigs: list[tuple[str, list[str]]] = []
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            contigs.append((line[1:].split()[0], []))
        elif line.strip():
            contigs[-1][1].append(line.strip().upper())
    return [(name, "".join(parts)) for name, parts in contigs]


def haploid_reads(
    reference: Path,
    dest: Path,
    sample: str,
    *,
    every: int = 700,
    fragment: int = 300,
    read_length: int = 100,
    step: int = 4,
) -> HaploidSample:
    """Write ``<sample>_R1.fastq.gz`` / ``_R2`` into ``dest`` from ``reference`` with a
    transition every ``every`` bases (from ``every`` to ``len - every``, A/C/G/T bases only).

    Pairs start every ``step`` bases (about ``2 * read_length / step`` x coverage): R1 is the
    fragment's first ``read_length`` bases, R2 the reverse complement of its last ones.
    """
    dest.mkdir(parents=True, exist_ok=True)
    snvs: list[tuple[str, int, str, str]] = []
    pairs: list[tuple[str, str]] = []
    for name, seq in _read_fasta(reference):
        bases = list(seq)
        for pos0 in range(every, len(seq) - every, every):
            if bases[pos0] in TRANSITION:
                snvs.append((name, pos0 + 1, bases[pos0], TRANSITION[bases[pos0]]))
                bases[pos0] = TRANSITION[bases[pos0]]
        genome = "".join(bases)
        for start in range(0, len(genome) - fragment + 1, step):
            frag = genome[start : start + fragment]
            pairs.append((frag[:read_length], frag[-read_length:].translate(_COMPLEMENT)[::-1]))
    r1, r2 = dest / f"{sample}_R1.fastq.gz", dest / f"{sample}_R2.fastq.gz"
    quality = "I" * read_length
    for path, mate in ((r1, 0), (r2, 1)):
        text = "".join(
            f"@{sample}:{i}/{mate + 1}\n{pair[mate]}\n+\n{quality}\n"
            for i, pair in enumerate(pairs)
        )
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return HaploidSample(r1, r2, tuple(snvs))
