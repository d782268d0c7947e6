"""`omics-toolkit report` on the local stack: the page's numbers against cyvcf2 on the same VCFs."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from cyvcf2 import VCF

from omics_toolkit import __version__
from omics_toolkit.report import HISTOGRAM_BINS, UPPER_FRACTION

Catalog = Any  # conftest.Catalog: vcfs, clinvar, deployment, deployment_no_clinvar

TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}


class Tables(HTMLParser):
    """``{caption: [[cell text, ...], ...]}`` of every ``<table>`` (body rows only)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_caption = False
        self._in_body = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "caption":
            self._in_caption, self._caption = True, ""
        elif tag == "tbody":
            self._in_body, self._rows = True, []
        elif tag == "tr" and self._in_body:
            self._rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False
        elif tag == "td" and self._cell is not None:
            self._rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False
            self.tables[self._caption or ""] = self._rows

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self._caption = (self._caption or "") + data
        elif self._cell is not None:
            self._cell.append(data)


def _n(text: str) -> int:
    return int(text.replace(",", ""))


def _info(variant: Any, key: str) -> str | None:
    for item in str(variant).split("\t")[7].split(";"):
        k, _, v = item.partition("=")
        if k == key:
            return v
    return None


def expected(vcf: Path, sample: str, clinvar: Path) -> dict[str, Any]:
    """The report's numbers for ``sample`` computed from the VCF with cyvcf2 (no SQL)."""
    clnsig = {(v.CHROM, v.POS, v.REF, tuple(v.ALT)): _info(v, "CLNSIG") for v in VCF(str(clinvar))}
    reader = VCF(str(vcf))
    i = reader.samples.index(sample)
    records = variants = snvs = indels = het = hom = ti = tv = 0
    contigs: Counter[str] = Counter()
    quals: list[float] = []
    depths: list[int] = []
    no_qual = no_depth = 0
    clin: Counter[str | None] = Counter()
    for v in reader:
        records += 1
        gt = list(v.genotypes[i][:-1])
        carried = [v.ALT[a - 1].upper() for a in sorted(set(gt)) if a > 0]
        if not carried:
            continue
        variants += 1
        if -1 not in gt:
            het += len(set(gt)) > 1
            hom += len(set(gt)) == 1
        snv = len(v.REF) == 1 and all(a in "ACGT" and len(a) == 1 for a in carried)
        snvs += snv
        indels += any(len(a) != len(v.REF) and a != "*" and not a.startswith("<") for a in carried)
        if snv and len(v.ALT) == 1:
            ti += (v.REF.upper(), carried[0]) in TRANSITIONS
            tv += (v.REF.upper(), carried[0]) not in TRANSITIONS
        contigs[v.CHROM] += 1
        if v.QUAL is None:
            no_qual += 1
        else:
            quals.append(float(v.QUAL))
        dp = v.format("DP")
        if dp is None or int(dp[i][0]) < 0:
            no_depth += 1
        else:
            depths.append(int(dp[i][0]))
        key = (v.CHROM, v.POS, v.REF, tuple(v.ALT))
        if key in clnsig:
            clin[clnsig[key]] += 1
    return {
        "records": records,
        "variants": variants,
        "snvs": snvs,
        "indels": indels,
        "het": het,
        "hom_alt": hom,
        "het_hom_ratio": het / hom if hom else None,
        "ti_tv": ti / tv if tv else None,
        "mean_qual": sum(quals) / len(quals) if quals else None,
        "mean_depth": sum(depths) / len(depths) if depths else None,
        "contigs": contigs,
        "qual": _bins(quals, integer=False) if quals else ([], 0),
        "no_qual": no_qual,
        "depth": _bins(depths, integer=True) if depths else ([], 0),
        "no_depth": no_depth,
        "clinvar": clin,
    }


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _bins(values: list[Any], integer: bool) -> tuple[list[int], int]:
    """(counts per bin, calls above the range) as the report's SQL defines the bins."""
    ordered = sorted(values)
    lo, hi = ordered[0], ordered[math.ceil(UPPER_FRACTION * len(ordered)) - 1]
    if integer:
        width = max(math.ceil((hi - lo + 1) / HISTOGRAM_BINS), 1)
        index = [math.floor((x - lo) / width) for x in values if x <= hi]
    else:
        width = (hi - lo) / HISTOGRAM_BINS
        index = [
            0 if width == 0 else min(math.floor((x - lo) / width), HISTOGRAM_BINS - 1)
            for x in values
            if x <= hi
        ]
    counts = [0] * (max(index) + 1)
    for j in index:
        counts[j] += 1
    return counts, sum(x > hi for x in values)


def _histogram(rows: list[list[str]], missing_label: str) -> tuple[list[int], int, int]:
    """(counts per bin, calls above the range, calls without a value) of a histogram table."""
    counts = [_n(r[2]) for r in rows if not r[0].startswith(("no ", "above "))]
    above = sum(_n(r[2]) for r in rows if r[0].startswith("above "))
    missing = sum(_n(r[2]) for r in rows if r[0] == missing_label)
    return counts, above, missing


def _page(path: Path) -> tuple[str, dict[str, list[list[str]]]]:
    text = path.read_text(encoding="utf-8")
    return text, Tables(text).tables


def _check_page(tables: dict[str, list[list[str]]], want: dict[str, Any]) -> None:
    summary = {r[0]: r[1] for r in tables[next(c for c in tables if c.startswith("Summary"))]}
    for label, key in [
        ("Variants", "variants"),
        ("SNVs", "snvs"),
        ("Indels", "indels"),
        ("Heterozygous", "het"),
        ("Homozygous ALT", "hom_alt"),
        ("Records", "records"),
    ]:
        assert _n(summary[label]) == want[key], label
    assert summary["Het/hom-alt ratio"] == _fmt(want["het_hom_ratio"], 2)
    assert summary["Ti/Tv"] == _fmt(want["ti_tv"], 2)
    assert summary["Mean QUAL"] == _fmt(want["mean_qual"], 1)
    assert summary["Mean depth"] == _fmt(want["mean_depth"], 1)
    assert {r[0]: _n(r[1]) for r in tables["Calls per contig"]} == dict(want["contigs"])
    assert _histogram(tables["QUAL bins (numbers behind the figure)"], "no QUAL") == (
        *want["qual"],
        want["no_qual"],
    )
    assert _histogram(tables["Read depth bins (numbers behind the figure)"], "no FORMAT DP") == (
        *want["depth"],
        want["no_depth"],
    )
    genotypes = {r[0]: r[1] for r in tables["Genotype classes and Ti/Tv"]}
    assert _n(genotypes["heterozygous calls"]) == want["het"]
    assert _n(genotypes["homozygous ALT calls"]) == want["hom_alt"]
    assert genotypes["Ti/Tv (SNVs)"] == _fmt(want["ti_tv"], 2)


def test_single_sample_page_matches_the_vcf(
    catalog: Catalog, make_report: Callable[[str, str], Path]
) -> None:
    text, tables = _page(make_report(catalog.deployment, "NA12878"))
    want = expected(catalog.vcfs["demo"], "NA12878", catalog.clinvar)
    assert want["variants"] == 14 and want["het"] == 14 and want["ti_tv"] is not None
    _check_page(tables, want)
    assert "None of the 14 variant calls of NA12878 matches a record" in text
    assert "<dd>rpt</dd>" in text and f"<dd>{__version__}</dd>" in text
    assert re.search(r"<dd>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</dd>", text)


def test_trio_sample_with_clinvar_significance(
    catalog: Catalog, make_report: Callable[[str, str], Path]
) -> None:
    _, tables = _page(make_report(catalog.deployment, "ADM1059A1"))
    want = expected(catalog.vcfs["trio"], "ADM1059A1", catalog.clinvar)
    assert len(want["contigs"]) > 20 and want["hom_alt"] > 0
    _check_page(tables, want)
    clin = {r[0] or None: _n(r[2]) for r in tables["ClinVar CLNSIG counts"]}
    assert clin == dict(want["clinvar"])
    # Real CLNSIG codes of this ClinVar VCF, named on the page: 2 Benign, 5 Pathogenic ...
    meaning = {r[0]: r[1] for r in tables["ClinVar CLNSIG counts"]}
    assert meaning["2"] == "Benign" and meaning["5|2"] == "Pathogenic | Benign"


def test_cohort_sample_without_clnsig_value(
    catalog: Catalog, make_report: Callable[[str, str], Path]
) -> None:
    _, tables = _page(make_report(catalog.deployment, "ESI017_P31_140619"))
    want = expected(catalog.vcfs["cohort"], "ESI017_P31_140619", catalog.clinvar)
    assert set(want["contigs"]) == {"22"} and want["contigs"]["22"] > 50
    _check_page(tables, want)
    # 22:29682701 A>T is in ClinVar (scout VCF) without a CLNSIG value.
    assert want["clinvar"] == {None: 1}
    assert [[r[0], r[1], r[2]] for r in tables["ClinVar CLNSIG counts"]] == [["", "no CLNSIG", "1"]]


def test_without_clinvar_table_the_section_says_how_to_import(
    catalog: Catalog, make_report: Callable[[str, str], Path]
) -> None:
    text, tables = _page(make_report(catalog.deployment_no_clinvar, "NA12878"))
    assert (
        "No ClinVar annotations imported: run "
        "<code>omics-toolkit annotations import clinvar FILE</code>" in text
    )
    assert "ClinVar CLNSIG counts" not in tables
    assert {r[0]: r[1] for r in tables["Calls per contig"]} == {"q": "14"}


def test_unknown_sample_is_a_user_error(
    catalog: Catalog, report_cli: Callable[..., Any], tmp_path: Path
) -> None:
    r = report_cli(
        "-d", catalog.deployment, "report", "--sample", "NOPE", "--out", str(tmp_path / "x.html")
    )
    assert r.returncode == 1
    samples = sorted(
        {"NA12878"}
        | set(VCF(str(catalog.vcfs["trio"])).samples)
        | set(VCF(str(catalog.vcfs["cohort"])).samples)
    )
    assert (
        " ".join(r.stderr.split())  # rich wraps the line at the terminal width
        == f"error: sample NOPE has no variants; samples present: {', '.join(samples)}"
    )
    assert not (tmp_path / "x.html").exists()
