"""The accuracy benchmark's metric code (bench/_compare.py) on tiny hand-written VCFs, and the
hand-run script (bench/_germline.py) against the workflow's commands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import _compare  # noqa: E402
from _compare import Region, compare, differing_records, evaluate, metrics  # noqa: E402

needs_tools = pytest.mark.skipif(
    shutil.which("bcftools") is None or shutil.which("samtools") is None,
    reason="bcftools/samtools missing",
)

# 1-based: 1-10 GATCGATCGA, 11-15 TTTTT (a homopolymer), 16-60 unique-ish sequence
SEQ = "GATCGATCGA" + "TTTTT" + "GCAGTCCAGTACGTCAGGCATCCGATGCAGTACCAGTGACGTCAT" + "CAGT"
HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=c,length={n}>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
)


def ref(pos: int, length: int = 1) -> str:
    return SEQ[pos - 1 : pos - 1 + length]


def other(base: str, k: int = 1) -> str:
    bases = [b for b in "ACGT" if b != base]
    return bases[k - 1]


def vcf(path: Path, records: list[tuple[int, str, str, str]], header: str = HEADER) -> Path:
    """records: (POS, REF, ALT, GT) on contig ``c``."""
    body = "".join(f"c\t{p}\t.\t{r}\t{a}\t50\t.\t.\tGT\t{gt}\n" for p, r, a, gt in records)
    path.write_text(header.format(n=len(SEQ)) + body)
    return path


@pytest.fixture
def fasta(tmp_path: Path) -> Path:
    path = tmp_path / "ref.fa"
    path.write_text(f">c\n{SEQ}\n")
    return path


def test_metrics_values() -> None:
    assert metrics(8, 2, 0) == {
        "tp": 8,
        "fp": 2,
        "fn": 0,
        "precision": 0.8,
        "recall": 1.0,
        "f1": round(2 * 0.8 / 1.8, 4),
    }
    assert metrics(0, 0, 3)["precision"] is None and metrics(0, 0, 3)["recall"] == 0.0
    assert metrics(0, 0, 0)["f1"] is None


def test_compare_counts_by_class() -> None:
    truth = {("c", 5, "A", "G"), ("c", 9, "C", "T"), ("c", 10, "AT", "A")}
    calls = {("c", 5, "A", "G"), ("c", 9, "C", "A"), ("c", 30, "G", "GT")}
    got = compare(truth, calls)
    assert (got["snv"]["tp"], got["snv"]["fp"], got["snv"]["fn"]) == (1, 1, 1)
    assert (got["indel"]["tp"], got["indel"]["fp"], got["indel"]["fn"]) == (0, 1, 1)
    assert got["snv"]["fn_sites"] == ["c:9:C>T"] and got["indel"]["fp_sites"] == ["c:30:G>GT"]


@needs_tools
def test_normalisation_split_and_genotypes(tmp_path: Path, fasta: Path) -> None:
    # The homopolymer T deletion written right-shifted in the truth (anchor at 14) and
    # left-aligned in the calls (anchor A at 10): the same allele after bcftools norm.
    assert ref(10, 2) == "AT" and ref(14, 2) == "TT"
    s20, s30, s40, s25 = ref(20), ref(30), ref(40), ref(25)
    truth = vcf(
        tmp_path / "truth.vcf",
        [
            (14, "TT", "T", "1/1"),
            (20, s20, other(s20), "0/1"),  # called hom-alt: still a match
            (25, s25, other(s25, 1), "0/1"),  # called with another ALT: FN + FP
            (30, s30, f"{other(s30, 1)},{other(s30, 2)}", "1/2"),  # split into two alleles
            (40, s40, other(s40, 1), "0|1"),
            (45, ref(45), other(ref(45)), "0/0"),  # not carried: not part of the truth
        ],
    )
    calls = vcf(
        tmp_path / "calls.vcf",
        [
            (10, "AT", "A", "0/1"),
            (20, s20, other(s20), "1/1"),
            (25, s25, other(s25, 2), "0/1"),
            (30, s30, other(s30, 2), "0/1"),  # written as two records in the calls
            (30, s30, other(s30, 1), "0/1"),
            # multi-allelic whose genotype carries only the first ALT: the second is no call
            (40, s40, f"{other(s40, 1)},{other(s40, 2)}", "0/1"),
        ],
    )
    got = evaluate(truth, calls, fasta)
    snv, indel = got["snv"], got["indel"]
    assert (snv["tp"], snv["fp"], snv["fn"]) == (4, 1, 1)
    assert snv["fn_sites"] == [f"c:25:{s25}>{other(s25, 1)}"]
    assert snv["fp_sites"] == [f"c:25:{s25}>{other(s25, 2)}"]
    assert (indel["tp"], indel["fp"], indel["fn"]) == (1, 0, 0)
    assert snv["precision"] == 0.8 and snv["recall"] == 0.8

    # region: 1-based inclusive on the normalised POS (the deletion moved to 10)
    inside = evaluate(truth, calls, fasta, Region("c", 10, 24))
    assert inside["indel"]["tp"] == 1 and inside["snv"]["tp"] == 1
    assert evaluate(truth, calls, fasta, Region("c", 11, 24))["indel"]["tp"] == 0


@needs_tools
def test_truth_without_header_definitions(tmp_path: Path, fasta: Path) -> None:
    """GIAB-like: no contig lines, an undefined INFO tag and extra FORMAT fields."""
    header = "##fileformat=VCFv4.1\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
    path = tmp_path / "giab.vcf"
    path.write_text(
        header + f"c\t20\t.\t{ref(20)}\t{other(ref(20))}\t99\tPASS\tUNDECLARED=1\tGT:DP\t0/1:30\n"
    )
    assert _compare.normalized_alleles(path, fasta) == {("c", 20, ref(20), other(ref(20)))}


@needs_tools
def test_reference_mismatch_fails(tmp_path: Path, fasta: Path) -> None:
    bad = vcf(tmp_path / "bad.vcf", [(20, other(ref(20)), ref(20), "0/1")])
    with pytest.raises(subprocess.CalledProcessError):
        _compare.normalized_alleles(bad, fasta)


@needs_tools
def test_differing_records(tmp_path: Path) -> None:
    a = vcf(tmp_path / "a.vcf", [(20, ref(20), other(ref(20)), "0/1"), (30, ref(30), "A", "1/1")])
    b = vcf(tmp_path / "b.vcf", [(20, ref(20), other(ref(20)), "1/1"), (30, ref(30), "A", "1/1")])
    assert differing_records(a, a)["differing"] == 0
    diff = differing_records(a, b)
    assert diff["differing"] == 2 and diff["records_a"] == diff["records_b"] == 2
    assert diff["only_a"][0].endswith("0/1") and diff["only_b"][0].endswith("1/1")


def _wdl_command_lines() -> list[str]:
    text = (ROOT / "workflows" / "bcftools-germline" / "main.wdl").read_text()
    lines = []
    for block in re.findall(r"command <<<\n(.*?)\n\s*>>>", text, re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            line = line.replace('"~{sep=\'" "\' aligned_sams}"', '"${aligned_sams[@]}"')
            lines.append(re.sub(r"~\{", "${", line))
    return lines


def test_hand_run_runs_the_workflows_commands() -> None:
    import _germline

    hand = {line.strip() for line in _germline.HAND_RUN_SH.splitlines()}
    lines = _wdl_command_lines()
    assert len(lines) > 30 and any(line.startswith("bwa mem") for line in lines)
    assert [line for line in lines if line not in hand] == []
