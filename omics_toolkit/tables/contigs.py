"""Contig-name normalisation so annotations join with variants (``chr22`` vs ``22``).

UCSC/GENCODE name chromosomes ``chr1..chr22, chrX, chrY, chrM``; Ensembl/NCBI/GRCh37 (and
ClinVar VCFs) ``1..22, X, Y, MT``. :func:`contig_mapper` maps a source's names onto the target
naming (the reference's contigs, or the names already in the ``variants`` table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

_MITO = ("chrM", "MT", "chrMT", "M")


def _candidates(name: str) -> list[str]:
    if name in _MITO:
        return list(_MITO)
    if name.startswith("chr"):
        return [name, name[3:]]
    return [name, "chr" + name]


def contig_mapper(target: Iterable[str]) -> Callable[[str], str]:
    """A function mapping a contig name onto the naming used by ``target``.

    ``chr22`` -> ``22`` when ``target`` has ``22``, ``22`` -> ``chr22`` when it has ``chr22``,
    ``chrM``/``MT``/``M`` onto whichever mitochondrial name it has. Names with no counterpart in
    ``target`` are returned unchanged (they match nothing in a join). An empty ``target`` maps
    every name to itself.
    """
    names = set(target)
    cache: dict[str, str] = {}

    def mapped(name: str) -> str:
        hit = cache.get(name)
        if hit is None:
            hit = next((c for c in _candidates(name) if c in names), name) if names else name
            cache[name] = hit
        return hit

    return mapped
