"""Every ``queries/*.sql`` on real data, checked against values computed without SQL.

Expected values come from the bcftools oracle (``tests/support/oracle.py``: ``bcftools query``,
not the toolkit's cyvcf2 reader) over the VCFs, with plain Python definitions written from each
query's header; from ``bcftools query -r`` for regions; and from the gene TSV read directly. The
whole ``variants`` table of each back end is compared with the oracle's rows of every imported
VCF, column by column. The back end is the ``backend`` fixture (``conftest.py``).
"""

from __future__ import annotations

import bisect
import csv
import gzip
import math
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from omics_toolkit.athena import _NAMED, QUERIES_DIR, load_query
from tests.support import oracle

TRANSITIONS = {"AG", "GA", "CT", "TC"}
GT = tuple[int, ...]


@dataclass
class Record:
    contig: str
    start: int  # 0-based
    end: int
    ref: str
    alts: list[str]
    names: list[str]
    qual: float | None
    filters: list[str]
    info: dict[str, str]
    calls: dict[str, GT]  # sample -> allele indexes (-1 missing)
    depth: dict[str, int | None]
    gq: dict[str, int | None]


@dataclass
class Truth:
    records: list[Record] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)


def read_records(path: Path) -> tuple[list[str], list[Record]]:
    """Records of a VCF with per-sample GT, DP, GQ, from the bcftools oracle (-1 for missing
    alleles; ID '.' and FILTER '.' as empty lists)."""
    return records_of(oracle.read(path))


def records_of(vcf: oracle.OracleVcf) -> tuple[list[str], list[Record]]:
    """:func:`read_records` of a VCF the oracle has read."""
    out = []
    for site, rows in vcf.records():
        out.append(
            Record(
                contig=site["contigname"],
                start=site["start"],
                end=site["end"],
                ref=site["referenceallele"],
                alts=list(site["alternatealleles"]),
                names=site["names"] or [],
                qual=site["qual"],
                filters=site["filters"] or [],
                info=dict(site["attributes"]),
                calls={r["sampleid"]: tuple(r["calls"]) for r in rows},
                depth={r["sampleid"]: r["depth"] for r in rows},
                gq={r["sampleid"]: r["conditionalquality"] for r in rows},
            )
        )
    return vcf.samples, out


@pytest.fixture(scope="module")
def oracle_vcfs(real_data: Any) -> dict[str, oracle.OracleVcf]:
    """The oracle's rows of every VCF imported into the variants table, by contig (the cohort
    slice is contig 22, the demo truth calls contig q)."""
    if not oracle.available():
        pytest.fail(
            "bcftools is missing: the oracle reads VCFs with it (scripts/setup.sh installs it)"
        )
    return {"22": oracle.read(real_data.cohort_vcf), "q": oracle.read(real_data.demo_vcf)}


@pytest.fixture(scope="module")
def cohort(oracle_vcfs: dict[str, oracle.OracleVcf]) -> Truth:
    samples, records = records_of(oracle_vcfs["22"])
    return Truth(records, samples)


@pytest.fixture(scope="module")
def demo(oracle_vcfs: dict[str, oracle.OracleVcf]) -> Truth:
    samples, records = records_of(oracle_vcfs["q"])
    return Truth(records, samples)


def test_variants_table_matches_oracle(
    backend: Any, oracle_vcfs: dict[str, oracle.OracleVcf]
) -> None:
    """The whole variants table (every row, every column but importjobid), through real SQL,
    equals the bcftools oracle's rows of the whole imported cohort VCF and demo VCF.

    Read one sample of one VCF at a time (about 31,000 rows): one ``SELECT *`` of all 310,224
    rows with their INFO maps takes the local stack's Athena over 10 GB of memory.
    """
    from omics_toolkit import query

    kw = {"settings": backend.settings, "ctx": backend.ctx}
    total = int(query("SELECT count(*) AS n FROM variants", **kw)["n"].iloc[0])
    assert total == sum(len(vcf.rows) for vcf in oracle_vcfs.values())
    jobs = set()
    for contig, vcf in oracle_vcfs.items():
        assert vcf.samples, contig
        for sample in vcf.samples:
            part = query(
                "SELECT * FROM variants WHERE contigname = ? AND sampleid = ?",
                [contig, sample],
                **kw,
            )  # the notebook API: typed columns (lists, maps, nullable ints)
            assert list(part.columns) == ["importjobid", *oracle.COLUMNS]
            rows = [r for r in vcf.rows if r["sampleid"] == sample]
            assert len(part) == len(rows) > 0, (contig, sample)
            assert oracle.mismatches(part, rows) == {}, (contig, sample)
            assert part.importjobid.notna().all()
            jobs.add((contig, *set(part.importjobid)))
    # one import job id per VCF (the stores back end imports both VCFs in one job)
    assert {c for c, *_ in jobs} == set(oracle_vcfs) and all(len(j) == 2 for j in jobs)
    # the cohort slice: 31,021 records x 10 samples, every VCF record kept (duplicates too)
    assert len(oracle_vcfs["22"].rows) == 310_210
    assert len(oracle_vcfs["q"].rows) == 14


def carried(rec: Record, gt: GT) -> list[str]:
    return [rec.alts[a - 1].upper() for a in dict.fromkeys(gt) if a > 0]


def summary_of(truth: Truth, sample: str) -> dict[str, Any]:
    """sample_summary's definitions in plain Python."""
    c: Counter[str] = Counter()
    quals, depths = [], []
    for rec in truth.records:
        gt = rec.calls[sample]
        missing = not gt or -1 in gt
        alts = carried(rec, gt)
        ref = rec.ref.upper()
        c["records"] += 1
        c["no_calls"] += missing
        if not missing:
            distinct = set(gt)
            c["hom_ref"] += distinct == {0}
            c["het"] += len(distinct) > 1
            c["hom_alt"] += len(distinct) == 1 and gt[0] > 0
        if not alts:
            continue
        c["variants"] += 1
        c["multiallelic"] += len(rec.alts) > 1
        snv = len(ref) == 1 and all(a in "ACGT" and len(a) == 1 for a in alts)
        c["snvs"] += snv
        c["indels"] += any(len(a) != len(ref) and a != "*" and not a.startswith("<") for a in alts)
        if snv and len(rec.alts) == 1:
            c["transitions" if ref + alts[0] in TRANSITIONS else "transversions"] += 1
        if rec.qual is not None:
            quals.append(rec.qual)
        if rec.depth[sample] is not None:
            depths.append(rec.depth[sample])
    out = {k: c[k] for k in ("records", "no_calls", "hom_ref", "het", "hom_alt", "variants")}
    out.update({k: c[k] for k in ("multiallelic", "snvs", "indels", "transitions")})
    out["transversions"] = c["transversions"]
    out["het_hom_ratio"] = c["het"] / c["hom_alt"] if c["hom_alt"] else None
    out["ti_tv"] = c["transitions"] / c["transversions"] if c["transversions"] else None
    out["mean_qual"] = sum(quals) / len(quals) if quals else None
    out["mean_depth"] = sum(depths) / len(depths) if depths else None
    return out


def _same(actual: Any, expected: Any) -> bool:
    if expected is None:
        return bool(pd.isna(actual))
    if isinstance(expected, float):
        return actual == pytest.approx(expected, rel=1e-12)
    return bool(actual == expected)


def test_every_query_is_documented() -> None:
    """Header: what it answers, coordinates, tables, output; every placeholder declared."""
    files = sorted(QUERIES_DIR.glob("*.sql"))
    assert {f.stem for f in files} >= {
        "variants_in_region",
        "sample_summary",
        "sample_qc",
        "cohort_allele_frequency",
        "variants_in_genes",
        "sample_clinvar",
    }
    readme = (QUERIES_DIR / "README.md").read_text()
    for path in files:
        query = load_query(path.stem)
        header = "\n".join(line for line in query.sql.splitlines() if line.startswith("--"))
        body = "\n".join(line for line in query.sql.splitlines() if not line.startswith("--"))
        assert "0-based half-open" in header, path.name
        assert "Reads:" in header and "Output:" in header, path.name
        assert set(_NAMED.findall(body)) == set(query.params), path.name
        assert f"`{path.name}`" in readme, path.name
        for name in query.params:
            assert f"`{name}`" in readme, (path.name, name)


def test_sample_summary(backend: Any, cohort: Truth, demo: Truth) -> None:
    df = backend.query("sample_summary", {}).set_index("sampleid")
    assert sorted(df.index) == sorted(cohort.samples + demo.samples)
    for truth in (cohort, demo):
        for sample in truth.samples:
            expected = summary_of(truth, sample)
            row = df.loc[sample]
            bad = {k: (row[k], v) for k, v in expected.items() if not _same(row[k], v)}
            assert not bad, (sample, bad)
    # the pipeline stand-in: 14 het SNVs of NA12878, no hom-alt
    na12878 = df.loc[demo.samples[0]]
    assert (na12878["variants"], na12878["snvs"], na12878["het"]) == (14, 14, 14)


def test_sample_qc(backend: Any, cohort: Truth) -> None:
    df = backend.query("sample_qc", {}).set_index("sampleid")
    for sample in cohort.samples:
        row = df.loc[sample]
        called = [r for r in cohort.records if -1 not in r.calls[sample]]
        variants = [r for r in cohort.records if any(a > 0 for a in r.calls[sample])]
        missing = len(cohort.records) - len(called)
        assert (row["genotypes"], row["missing_genotypes"]) == (len(cohort.records), missing)
        assert row["missing_rate"] == pytest.approx(missing / len(cohort.records), rel=1e-12)
        for prefix, values in (
            ("depth", [r.depth[sample] for r in called if r.depth[sample] is not None]),
            ("gq", [r.gq[sample] for r in called if r.gq[sample] is not None]),
        ):
            arr = np.array(values)
            assert (row[f"{prefix}_min"], row[f"{prefix}_max"]) == (arr.min(), arr.max())
            assert row[f"{prefix}_mean"] == pytest.approx(arr.mean(), rel=1e-12)
            # approx_percentile: within the values at the neighbouring percentiles
            for col, q in (("q1", 25), ("median", 50), ("q3", 75)):
                low, high = np.percentile(arr, [q - 2, q + 2], method="inverted_cdf")
                assert low <= row[f"{prefix}_{col}"] <= high, (sample, prefix, col)
        counts = Counter(f for r in variants for f in r.filters)
        assert row["variants"] == len(variants)
        assert row["pass"] == sum("PASS" in r.filters for r in variants)
        assert row["filtered"] == sum(bool(r.filters) and "PASS" not in r.filters for r in variants)
        assert row["no_filter"] == sum(not r.filters for r in variants)
        assert row["filter_counts"] == ";".join(sorted(f"{k}={n}" for k, n in counts.items()))
        assert row["filtered"] > 0  # this cohort has VQSR tranche filters


def _bcftools_rows(vcf: Path, contig: str, start: int, end: int) -> set[tuple[Any, ...]]:
    """(sample, start, REF, ALT, GT) of ``bcftools view -H -r`` (record-overlap rule)."""
    out = subprocess.run(
        [
            "bcftools",
            "query",
            "-r",
            f"{contig}:{start + 1}-{end}",
            "--regions-overlap",
            "1",
            "-f",
            r"[%SAMPLE\t%POS\t%REF\t%ALT\t%GT\n]",
            str(vcf),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = set()
    for line in out.splitlines():
        sample, pos, ref, alt, gt = line.split("\t")
        gt = "/".join("-1" if a == "." else a for a in re.split(r"[/|]", gt))
        rows.add((sample, int(pos) - 1, ref, alt, gt))
    return rows


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools missing")
def test_variants_in_region_matches_bcftools(backend: Any, cohort: Truth, real_data: Any) -> None:
    # a region whose first base is inside a deletion that starts before it
    deletion = next(r for r in cohort.records if len(r.ref) > 5 and r.start > 29_000_000)
    start, end = deletion.start + 2, deletion.start + 20_000
    df = backend.query(
        "variants_in_region", {"contig": "22", "region_start": start, "region_end": end}
    )
    got = set(
        zip(df.sampleid, df.start, df.referenceallele, df.alternatealleles, df["gt"], strict=True)
    )
    bcf = _bcftools_rows(real_data.cohort_vcf, "22", start, end)
    assert got == bcf
    assert (deletion.start in set(df.start)) and len(df) == 10 * sum(
        r.start < end and r.end > start for r in cohort.records
    )  # duplicate records stay duplicate rows
    assert df.start.is_monotonic_increasing is False  # ordered by sample first
    assert list(df.sort_values(["sampleid", "start"], kind="stable").index) == list(df.index)


def test_variants_in_region_demo_calls(backend: Any, demo: Truth) -> None:
    df = backend.query(
        "variants_in_region", {"contig": "q", "region_start": 1007, "region_end": 1820}
    )
    # VCF POS 1008 (start 1007) and 1817 (start 1816) are inside, 1820 (start 1819) too
    expected = [r.start for r in demo.records if 1007 <= r.start < 1820]
    assert list(df.start) == expected and len(expected) >= 3
    assert set(df["gt"]) <= {"0/1", "1/0", "0|1", "1|0"} and set(df.sampleid) == {"NA12878"}


def _af_truth(truth: Truth, contig: str, start: int, end: int) -> dict[tuple[Any, ...], tuple]:
    genotypes: dict[tuple[Any, ...], set[tuple[str, GT]]] = defaultdict(set)
    for rec in truth.records:
        if rec.contig == contig and rec.start < end and rec.end > start:
            key = (rec.start, rec.end, rec.ref, ",".join(rec.alts))
            genotypes[key].update(rec.calls.items())  # identical duplicate rows count once
    out = {}
    for key, rows in genotypes.items():
        alts = key[3].split(",")
        an = sum(a >= 0 for _, gt in rows for a in gt)
        called = sum(bool(gt) and -1 not in gt for _, gt in rows)
        for i, alt in enumerate(alts, start=1):
            ac = sum(a == i for _, gt in rows for a in gt)
            carriers = sum(i in gt for _, gt in rows)
            out[(*key, i, alt)] = (an, ac, ac / an if an else None, len(rows), called, carriers)
    return out


def test_cohort_allele_frequency_whole_contig(backend: Any, cohort: Truth) -> None:
    df = backend.query(
        "cohort_allele_frequency", {"contig": "22", "region_start": 0, "region_end": 2147483647}
    )
    expected = _af_truth(cohort, "22", 0, 2147483647)
    got = {
        (r.start, r.end, r.referenceallele, r.alternatealleles, r.alt_index, r.alternateallele): (
            r.an, r.ac, None if math.isnan(r.af) else r.af, r.samples, r.samples_called, r.carriers
        )
        for r in df.itertuples(index=False)
    }  # fmt: skip
    assert len(df) == len(got) == len(expected)
    mismatched = [k for k in expected if got.get(k) != pytest.approx(expected[k])]
    assert not mismatched, mismatched[:5]
    # duplicated VCF records must not inflate AN beyond 2 alleles per sample
    assert df.an.max() == 2 * len(cohort.samples)
    # the importer's INFO AN agrees wherever every sample is called
    info_an = {(r.start, r.ref, ",".join(r.alts)): int(r.info["AN"]) for r in cohort.records}
    full = df[df.samples_called == len(cohort.samples)]
    assert all(
        info_an[(r.start, r.referenceallele, r.alternatealleles)] == r.an
        for r in full.itertuples(index=False)
    )


def test_cohort_allele_frequency_region(backend: Any, cohort: Truth) -> None:
    start, end = 29_600_000, 29_700_000
    df = backend.query(
        "cohort_allele_frequency", {"contig": "22", "region_start": start, "region_end": end}
    )
    expected = _af_truth(cohort, "22", start, end)
    assert sorted(
        zip(df.start, df.referenceallele, df.alternateallele, df.ac, df.an, strict=True)
    ) == sorted((k[0], k[2], k[5], v[1], v[0]) for k, v in expected.items())
    assert list(df.start) == sorted(df.start)


def _exons(tsv: Path, contig: str) -> list[tuple[int, int, str]]:
    rows = []
    with gzip.open(tsv, "rt", newline="") as handle:
        for rec in csv.DictReader(handle, delimiter="\t"):
            if rec["Chr"] in (contig, f"chr{contig}"):
                rows.append((int(rec["Start"]) - 1, int(rec["End"]), rec["GeneID"]))
    return sorted(rows)


def _gene_hits(cohort: Truth, exons: list[tuple[int, int, str]]) -> set[tuple[Any, ...]]:
    """(gene_id, sample, start, REF, ALT) of carrier calls overlapping a gene's exon."""
    starts = [e[0] for e in exons]
    longest = max(e[1] - e[0] for e in exons)
    hits = set()
    for rec in cohort.records:
        lo = bisect.bisect_left(starts, rec.start - longest)
        genes = {
            g
            for s, e, g in exons[lo : bisect.bisect_left(starts, rec.end)]
            if rec.start < e and rec.end > s
        }
        for gene in genes:
            for sample, gt in rec.calls.items():
                if any(a > 0 for a in gt):
                    hits.add((gene, sample, rec.start, rec.ref, ",".join(rec.alts)))
    return hits


def test_variants_in_genes(backend: Any, cohort: Truth, real_data: Any) -> None:
    hits = _gene_hits(cohort, _exons(real_data.genes_tsv, "22"))
    per_gene = Counter(h[0] for h in hits)
    ranked = [g for g, _ in per_gene.most_common()]
    chosen = [ranked[0], ranked[len(ranked) // 2], ranked[-1]]
    # ids with spaces, plus a gene name that the RefSeq TSV (ids only) cannot match
    df = backend.query(
        "variants_in_genes", {"genes": f"{chosen[0]}, {chosen[1]} ,{chosen[2]},SOX10"}
    )
    got = set(
        zip(df.gene_id, df.sampleid, df.start, df.referenceallele, df.alternatealleles, strict=True)
    )
    expected = {h for h in hits if h[0] in chosen}
    assert got == expected and len(got) == len(df)  # one row per gene x sample x record
    assert set(df.features) == {"exon"} and df.gene_name.isna().all()
    assert backend.query("variants_in_genes", {"genes": "SOX10"}).empty


def _clinvar_matches(cohort: Truth, clinvar: list[Record], sample: str) -> set[tuple[Any, ...]]:
    index: dict[tuple[str, int, str], list[Record]] = defaultdict(list)
    for rec in clinvar:
        index[(rec.contig, rec.start, rec.ref)].append(rec)
    out = set()
    for rec in cohort.records:
        gt = rec.calls[sample]
        for alt in carried(rec, gt):
            for cv in index.get((rec.contig, rec.start, rec.ref), []):
                if alt in cv.alts:
                    gt_text = "/".join(str(a) for a in gt)
                    out.add(
                        (
                            rec.start,
                            alt,
                            gt_text,
                            cv.info.get("CLNSIG"),
                            cv.info.get("CLNACC"),
                            ";".join(cv.names),
                        )
                    )
    return out


def test_sample_clinvar(backend: Any, cohort: Truth, real_data: Any) -> None:
    _, clinvar = read_records(real_data.clinvar_vcf)  # the oracle
    matches = {s: _clinvar_matches(cohort, clinvar, s) for s in cohort.samples}
    assert sum(len(rows) for rows in matches.values()) >= 2

    def text(value: Any) -> str | None:
        return None if pd.isna(value) else value

    for sample in cohort.samples:
        df = backend.query("sample_clinvar", {"sample": sample})
        got = {
            (
                r.start,
                r.alternateallele,
                r.gt,
                text(r.clnsig),
                text(r.clnacc),
                text(r.clinvar_names) or "",
            )
            for r in df.itertuples(index=False)
        }
        assert got == matches[sample] and len(got) == len(df), sample
        assert set(df.sampleid) <= {sample}
    # a sample without any matching call gets no rows; the demo sample is on contig q
    assert backend.query("sample_clinvar", {"sample": "NA12878"}).empty


#: Every query, with parameters that select rows in the real data (``None``: found below).
ALL_QUERIES: list[tuple[str, dict[str, Any] | None]] = [
    ("variants_in_region", {"contig": "22", "region_start": 29_600_000, "region_end": 29_700_000}),
    ("variants_in_region", {"contig": "q", "region_start": 0, "region_end": 12_356}),
    ("sample_summary", {}),
    ("sample_qc", {}),
    (
        "cohort_allele_frequency",
        {"contig": "22", "region_start": 30_000_000, "region_end": 31_000_000},
    ),
    ("variants_in_genes", None),
    ("sample_clinvar", None),
]


def _params_with_rows(backend: Any, name: str) -> dict[str, Any]:
    """Parameters for which ``name`` returns rows, found in the data itself."""
    from omics_toolkit.athena import run_query

    if name == "variants_in_genes":
        genes = run_query(
            backend.ctx,
            backend.settings,
            "SELECT DISTINCT gene_id FROM annotations_genes WHERE contigname = '22' "
            'AND start < 29700000 AND "end" > 29600000 ORDER BY gene_id LIMIT 5',
        )
        return {"genes": ",".join(genes["gene_id"])}
    samples = backend.query("sample_summary", {})["sampleid"]
    for sample in samples:
        if len(backend.query("sample_clinvar", {"sample": sample})):
            return {"sample": sample}
    raise AssertionError("no sample has a ClinVar match")


@pytest.mark.parametrize(("name", "params"), ALL_QUERIES, ids=[q[0] for q in ALL_QUERIES])
def test_backends_identical(
    stores_backend: Any, s3tables_backend: Any, name: str, params: dict[str, Any] | None
) -> None:
    """The same SQL on the variant store and on S3 Tables gives identical DataFrames.

    Floats to 1e-12 relative: both tables hold the same doubles (QUAL as the VCF wrote it, e.g.
    110.415), but a sum over them (``avg``) may differ in the last bits with the order the rows
    are read, which Athena does not specify either.
    """
    params = params if params is not None else _params_with_rows(stores_backend, name)
    stores = stores_backend.query(name, params)
    tables = s3tables_backend.query(name, params)
    assert len(stores) > 0, f"{name} selects no rows: the comparison would prove nothing"
    pd.testing.assert_frame_equal(
        stores.reset_index(drop=True),
        tables.reset_index(drop=True),
        check_exact=False,
        rtol=1e-12,
        atol=0,
    )
