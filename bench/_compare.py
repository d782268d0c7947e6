"""Variant calls against a truth set: normalisation, matching and precision/recall/F1.

Both VCFs are normalised the same way, ``bcftools norm -f REF -m -any`` (indels left-aligned and
trimmed against the reference, multi-allelic records split into one record per ALT), then a
call matches a truth record when CHROM, POS, REF and ALT are equal (case-insensitive). Genotypes
do not take part in matching: a het called hom-alt (or the reverse) is still a true positive. A
split record is kept only when its sample's GT carries that ALT (after ``-m -any`` the other
ALTs of a ``0/1`` multi-allelic site read ``0/0`` and are dropped); records without a sample
column are kept. Symbolic and spanning ALTs (``<*>``, ``<DEL>``, ``*``) are ignored.

Class of a normalised record: ``snv`` when REF and ALT are one base, ``indel`` when their
lengths differ, ``other`` (MNPs, complex) otherwise. TP and FN are counted by the truth
record's class, FP by the call's.
"""

from __future__ import annotations

import gzip
import shlex
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("snv", "indel", "other")

Key = tuple[str, int, str, str]
"""A normalised allele: ``(CHROM, POS, REF, ALT)``, POS 1-based, alleles upper case."""


@dataclass(frozen=True)
class Region:
    """``contig:start-end``, 1-based inclusive (bcftools/samtools syntax)."""

    contig: str
    start: int
    end: int

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) < 2:
            return False
        return key[0] == self.contig and self.start <= int(key[1]) <= self.end

    def __str__(self) -> str:
        return f"{self.contig}:{self.start:,}-{self.end:,}"


def kind(ref: str, alt: str) -> str:
    """``snv``, ``indel`` or ``other`` of one normalised REF/ALT pair."""
    if len(ref) == 1 and len(alt) == 1:
        return "snv"
    if len(ref) != len(alt):
        return "indel"
    return "other"


def _carries_alt(gt: str | None) -> bool:
    if gt is None:
        return True
    return any(a.isdigit() and int(a) > 0 for a in gt.replace("|", "/").split("/"))


def minimal_vcf(vcf: Path, fai: Path) -> str:
    """The VCF reduced to what matching needs: contig lines from the reference's ``.fai``, and
    per record CHROM, POS, REF, ALT and the first sample's GT (ID, QUAL, FILTER, INFO and the
    other FORMAT fields dropped). Truth VCFs often lack the header lines (contigs, INFO
    definitions) that ``bcftools norm`` needs to re-encode a record; this sidesteps them.
    Plain or gzip/BGZF input."""
    lines = ["##fileformat=VCFv4.2"]
    for row in fai.read_text().splitlines():
        name, length = row.split("\t")[:2]
        lines.append(f"##contig=<ID={name},length={length}>")
    lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tSAMPLE")
    with vcf.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener: Any = gzip.open if gzipped else open
    with opener(vcf, "rt") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            f = line.rstrip("\n").split("\t")
            gt = "."
            if len(f) > 9:
                keys = f[8].split(":")
                values = f[9].split(":")
                if "GT" in keys and keys.index("GT") < len(values):
                    gt = values[keys.index("GT")]
            elif len(f) <= 8:
                gt = "1"  # sites-only: the ALT is asserted
            lines.append(f"{f[0]}\t{f[1]}\t.\t{f[3]}\t{f[4]}\t.\t.\t.\tGT\t{gt}")
    return "\n".join(lines) + "\n"


def normalized_alleles(vcf: Path, reference: Path, region: Region | None = None) -> set[Key]:
    """The alleles a one-sample VCF asserts, normalised (see the module docstring).

    Runs ``bcftools norm -f REF -m -any -Ov - | bcftools query -f
    '%CHROM\\t%POS\\t%REF\\t%ALT[\\t%GT]\\n' -`` on :func:`minimal_vcf` (``REF.fai`` is made
    with ``samtools faidx`` if missing); ``region`` keeps alleles whose normalised POS lies in it
    (no index needed).

    Raises:
        subprocess.CalledProcessError: a tool failed (e.g. REF does not match the reference).
    """
    fai = Path(f"{reference}.fai")
    if not fai.is_file():
        subprocess.run(["samtools", "faidx", str(reference)], check=True, capture_output=True)
    script = (
        f"bcftools norm -f {shlex.quote(str(reference))} -m -any -Ov -"
        " | bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT[\\t%GT]\\n' -"
    )
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        input=minimal_vcf(vcf, fai),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, script, proc.stdout, proc.stderr)
    alleles: set[Key] = set()
    for line in proc.stdout.splitlines():
        fields = line.split("\t")
        chrom, pos, ref, alt = fields[0], int(fields[1]), fields[2].upper(), fields[3].upper()
        gt = fields[4] if len(fields) > 4 else None
        if alt in ("*", ".") or alt.startswith("<") or not _carries_alt(gt):
            continue
        key = (chrom, pos, ref, alt)
        if region is None or key in region:
            alleles.add(key)
    return alleles


def metrics(tp: int, fp: int, fn: int) -> dict[str, Any]:
    """Counts with precision TP/(TP+FP), recall TP/(TP+FN) and their harmonic mean F1
    (each ``None`` when its denominator is 0), rounded to 4 decimals."""
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall
        else None
    )
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": None if precision is None else round(precision, 4),
        "recall": None if recall is None else round(recall, 4),
        "f1": None if f1 is None else round(f1, 4),
    }


def compare(truth: Iterable[Key], calls: Iterable[Key]) -> dict[str, dict[str, Any]]:
    """Match normalised alleles; ``{kind: metrics(...)}`` for every kind in :data:`KINDS`, with
    ``fp_sites`` / ``fn_sites`` (``"CHROM:POS:REF>ALT"``, at most 20 each) for inspection."""
    truth, calls = set(truth), set(calls)
    tp = Counter(kind(k[2], k[3]) for k in truth & calls)
    fn_keys = sorted(truth - calls)
    fp_keys = sorted(calls - truth)
    fn = Counter(kind(k[2], k[3]) for k in fn_keys)
    fp = Counter(kind(k[2], k[3]) for k in fp_keys)
    out = {}
    for name in KINDS:
        out[name] = metrics(tp[name], fp[name], fn[name])
        out[name]["fp_sites"] = [_site(k) for k in fp_keys if kind(k[2], k[3]) == name][:20]
        out[name]["fn_sites"] = [_site(k) for k in fn_keys if kind(k[2], k[3]) == name][:20]
    return out


def _site(key: Key) -> str:
    return f"{key[0]}:{key[1]}:{key[2]}>{key[3]}"


def evaluate(
    truth_vcf: Path, calls_vcf: Path, reference: Path, region: Region | None = None
) -> dict[str, dict[str, Any]]:
    """:func:`compare` of the two VCFs' :func:`normalized_alleles` (same reference, region)."""
    return compare(
        normalized_alleles(truth_vcf, reference, region),
        normalized_alleles(calls_vcf, reference, region),
    )


def call_records(vcf: Path) -> Counter[tuple[str, ...]]:
    """The records of a one-sample VCF as a multiset of ``(CHROM, POS, REF, ALT, QUAL, GT)``
    strings, exactly as written (no normalisation): what two runs must agree on."""
    out = subprocess.run(
        ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%QUAL[\t%GT]\n", str(vcf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Counter(tuple(line.split("\t")) for line in out.splitlines())


def differing_records(a: Path, b: Path) -> dict[str, Any]:
    """How two one-sample VCFs differ in :func:`call_records`: counts and up to 10 examples."""
    ra, rb = call_records(a), call_records(b)
    only_a, only_b = ra - rb, rb - ra
    return {
        "records_a": sum(ra.values()),
        "records_b": sum(rb.values()),
        "differing": sum(only_a.values()) + sum(only_b.values()),
        "only_a": ["\t".join(r) for r in list(only_a.elements())[:10]],
        "only_b": ["\t".join(r) for r in list(only_b.elements())[:10]],
    }
