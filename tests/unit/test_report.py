"""omics_toolkit.report without servers: collect() over a fake query runner, render_html()."""

from __future__ import annotations

import base64
import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pandas as pd
import pytest

from omics_toolkit.athena import bind_named, load_query
from omics_toolkit.errors import UserError
from omics_toolkit.report import (
    Histogram,
    ReportData,
    Summary,
    clnsig_label,
    collect,
    contig_sort_key,
    render_html,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = {
    "summary": "Summary",
    "contigs": "Variants per contig",
    "qual": "QUAL distribution",
    "depth": "Depth distribution",
    "genotypes": "Genotype classes and Ti/Tv",
    "clinvar": "ClinVar clinical significance",
}


def _data(**changes: Any) -> ReportData:
    base = ReportData(
        sample="NA12878 <&>",
        deployment="demo",
        variant_backend="stores",
        generated_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        version="0.1.0",
        summary=Summary(20, 17, 3, 15, 5, 3.0, 2.4, 812.5, 41.25),
        contigs=(("1", 12), ("2", 5), ("X", 3)),
        qual=Histogram((0.0, 10.0, 20.0, 30.0), (4, 0, 16), 1, 3, (30.0, 80.0)),
        depth=Histogram((10.0, 15.0, 20.0), (7, 13)),
        clinvar=(("Benign", 3), ("5|2", 1), (None, 2)),
    )
    return ReportData(**{**base.__dict__, **changes})


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.h2: list[str] = []
        self.sections: list[str] = []
        self.tables = 0
        self.figcaptions = 0
        self.urls: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "img":
            self.imgs.append(a)
        elif tag == "h2":
            self._in_h2 = True
        elif tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "table":
            self.tables += 1
        elif tag == "figcaption":
            self.figcaptions += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def test_render_html_is_self_contained_with_every_section() -> None:
    text = render_html(_data())
    page = _parse(text)
    assert page.sections == list(SECTIONS)
    assert page.h2 == list(SECTIONS.values())
    # contigs, QUAL, depth, genotypes, ClinVar: one PNG each, with alt text and a caption.
    assert len(page.imgs) == 5 and page.figcaptions == 5
    for img in page.imgs:
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(PNG_MAGIC) and len(png) > 2000
        assert len(img["alt"] or "") > 40
    assert all(u.startswith("data:") for u in page.urls)
    assert not re.search(r"https?://", text)
    assert page.tables == 6  # summary + one per figure
    # Values are escaped, numbers shown with their definitions.
    assert "NA12878 &lt;&amp;&gt;" in text and "NA12878 <&>" not in text
    assert "2026-01-02 03:04:05 UTC" in text and "0.1.0" in text and "stores" in text
    assert "2.40" in text and "3.00" in text and "812.5" in text and "41.2" in text
    assert "Pathogenic | Benign" in text and "no CLNSIG" in text
    assert "1 calls without QUAL are not shown" in text
    assert "the 3 calls above it are counted" in text and "97.5% quantile" in text
    assert "(x axis: phred" in text and "(x axis: reads" in text


def test_render_html_without_clinvar_table_or_values() -> None:
    text = render_html(
        _data(clinvar=None, depth=Histogram((), (), missing=20), summary=_data().summary)
    )
    page = _parse(text)
    assert page.h2 == list(SECTIONS.values())
    assert len(page.imgs) == 3  # contigs, QUAL, genotypes
    assert (
        "No ClinVar annotations imported: run "
        "<code>omics-toolkit annotations import clinvar FILE</code>" in text
    )
    assert "No Read depth values among the variant calls" in text
    none_matched = render_html(_data(clinvar=()))
    assert "matches a record of the <code>annotations_clinvar</code> table" in none_matched


class FakeAthena:
    """Answers the report's queries from small DataFrames, checking that their SQL binds."""

    def __init__(self, clinvar: pd.DataFrame | Exception) -> None:
        self.clinvar = clinvar
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, params: dict[str, Any]) -> pd.DataFrame:
        qf = load_query(name)
        bind_named(qf.sql, params, qf.params)  # every parameter declared and used
        self.calls.append((name, params))
        if name == "sample_summary":
            return pd.DataFrame(
                {
                    "sampleid": ["A", "B"],
                    "variants": [10, 3],
                    "snvs": [8, 3],
                    "indels": [2, 0],
                    "het": [6, 3],
                    "hom_alt": [2, 0],
                    "het_hom_ratio": [3.0, float("nan")],
                    "ti_tv": [3.0, None],
                    "mean_qual": [50.0, 20.0],
                    "mean_depth": [30.5, 12.0],
                }
            )
        if name == "report/contig_counts":
            return pd.DataFrame({"contigname": ["chr10", "chr2", "chrX"], "variants": [2, 5, 1]})
        if name == "report/qual_histogram":
            return pd.DataFrame(
                {
                    "bin": [0, 2, 3, None],
                    "bin_start": [10.0, 30.0, 40.0, None],
                    "bin_end": [20.0, 40.0, 95.0, None],
                    "variants": [3, 4, 2, 1],
                }
            )
        if name == "report/depth_histogram":
            return pd.DataFrame({"bin": [1], "bin_start": [7], "bin_end": [9], "variants": [8]})
        if isinstance(self.clinvar, Exception):
            raise self.clinvar
        return self.clinvar


def test_collect_shapes_the_query_results() -> None:
    runner = FakeAthena(pd.DataFrame({"clnsig": ["Benign", None], "variants": [2, 1]}))
    data = collect("A", runner, deployment="d", bins=3)
    assert [c[0] for c in runner.calls] == [
        "sample_summary",
        "report/contig_counts",
        "report/qual_histogram",
        "report/depth_histogram",
        "report/clinvar_significance",
    ]
    assert runner.calls[2][1] == {"sample": "A", "bins": 3, "upper_fraction": 0.975}
    assert data.summary == Summary(10, 8, 2, 6, 2, 3.0, 3.0, 50.0, 30.5)
    assert data.contigs == (("chr2", 5), ("chr10", 2), ("chrX", 1))
    assert data.alt_calls == 8
    assert data.qual == Histogram(
        (10.0, 20.0, 30.0, 40.0), (3, 0, 4), missing=1, above=2, above_range=(40.0, 95.0)
    )
    assert data.depth == Histogram((5.0, 7.0, 9.0), (0, 8))
    assert data.clinvar == (("Benign", 2), (None, 1))
    assert data.generated_at.tzinfo is not None
    b = collect("B", FakeAthena(pd.DataFrame({"clnsig": [], "variants": []})))
    assert b.summary.het_hom_ratio is None and b.summary.ti_tv is None and b.clinvar == ()


def test_collect_unknown_sample_lists_the_samples() -> None:
    with pytest.raises(UserError, match=r"^sample Z has no variants; samples present: A, B$"):
        collect("Z", FakeAthena(pd.DataFrame()))


def test_collect_missing_clinvar_table_and_other_failures() -> None:
    missing = UserError(
        "query failed: TABLE_NOT_FOUND: Table 'demo.annotations_clinvar' does not exist"
    )
    assert collect("A", FakeAthena(missing)).clinvar is None
    other = UserError("query failed: TABLE_NOT_FOUND: Table 'demo.variants' does not exist")
    with pytest.raises(UserError, match="demo.variants"):
        collect("A", FakeAthena(other))


def test_labels_and_contig_order() -> None:
    assert clnsig_label("Likely_benign") == "Likely benign"
    assert clnsig_label("5,255,2") == "Pathogenic , other , Benign"
    assert clnsig_label(None) == "no CLNSIG"
    names = ["chrM", "chr10", "GL000192.1", "chrX", "chr2", "chrY", "chr1"]
    assert sorted(names, key=contig_sort_key) == [
        "chr1",
        "chr2",
        "chr10",
        "chrX",
        "chrY",
        "chrM",
        "GL000192.1",
    ]


def test_report_queries_declare_their_parameters() -> None:
    for name in ("contig_counts", "qual_histogram", "depth_histogram", "clinvar_significance"):
        qf = load_query(f"report/{name}")
        assert qf.params["sample"][0] == "varchar"
        sql, values = bind_named(qf.sql, {k: "1" for k in qf.params}, qf.params)
        assert len(values) == sql.count("?") and not re.search(r"(?<![:\w]):[A-Za-z_]", sql)
    assert 'max("end")' in load_query("report/contig_counts").sql
