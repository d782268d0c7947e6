"""The notebook API (``from omics_toolkit import query, variants``) on both back ends, and the
example notebook executed against the local stack."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from omics_toolkit import query, variants
from omics_toolkit.errors import UserError
from tests.support import oracle

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
REGION = "22:29,600,001-29,700,000"  # 1-based inclusive
SAMPLE = "HUES72_P20_150119"


def _kw(backend: Any) -> dict[str, Any]:
    return {"settings": backend.settings, "ctx": backend.ctx}


def _bcftools_count(vcf: Path, *args: str) -> int:
    out = subprocess.run(
        ["bcftools", "view", "-H", *args, str(vcf)], check=True, capture_output=True, text=True
    ).stdout
    return len(out.splitlines())


def test_query_types(backend: Any) -> None:
    df = query(
        'SELECT sampleid, start, "end", depth, qual, phased, alternatealleles, calls, attributes '
        "FROM variants WHERE contigname = ? ORDER BY sampleid, start LIMIT 500",
        ["22"],
        **_kw(backend),
    )
    assert len(df) == 500
    assert str(df["start"].dtype) == "Int32" and str(df["depth"].dtype) == "Int32"
    assert str(df["phased"].dtype) == "boolean" and df["qual"].dtype == "float64"
    assert all(isinstance(v, list) for v in df["alternatealleles"])
    assert all(v is None or isinstance(v, list) for v in df["calls"])
    assert all(isinstance(v, dict) for v in df["attributes"])
    # some genotypes have no DP: nullable, not NaN floats
    assert df["depth"].isna().sum() < len(df)


def test_variants_matches_bcftools(backend: Any, real_data: Any) -> None:
    df = variants(region=REGION, samples=[SAMPLE], min_qual=30, **_kw(backend))
    expected = _bcftools_count(
        real_data.cohort_vcf, "-r", REGION.replace(",", ""), "-s", SAMPLE, "-i", "QUAL>=30"
    )
    assert len(df) == expected > 0
    assert set(df["sampleid"]) == {SAMPLE}
    assert (df["qual"] >= 30).all()
    # 0-based half-open: every row overlaps [29,600,000, 29,700,000)
    assert ((df["start"] < 29_700_000) & (df["end"] > 29_600_000)).all()
    assert list(df["start"]) == sorted(df["start"])


def test_named_parameters_and_arrow(backend: Any, real_data: Any) -> None:
    table = query(
        "SELECT sampleid, start, alternatealleles FROM variants WHERE contigname = :contig "
        'AND start < :end AND "end" > :start ORDER BY sampleid, start',
        {"contig": "q", "start": 0, "end": 12_356},
        arrow=True,
        **_kw(backend),
    )
    assert isinstance(table, pa.Table)
    assert table.num_rows == 14
    # every row of the demo VCF, as the bcftools oracle reads it (not the toolkit's reader)
    demo = oracle.read(real_data.demo_vcf).rows
    assert table.to_pylist() == [
        {k: r[k] for k in ("sampleid", "start", "alternatealleles")}
        for r in sorted(demo, key=lambda r: (r["sampleid"], r["start"]))
    ]
    assert table.schema.field("start").type == pa.int32()
    assert pa.types.is_list(table.schema.field("alternatealleles").type)


def test_chunks_stream_every_row(backend: Any) -> None:
    total = int(query("SELECT count(*) AS n FROM variants", **_kw(backend))["n"].iloc[0])
    sizes = [
        len(chunk)
        for chunk in query("SELECT sampleid, start FROM variants", chunksize=40_000, **_kw(backend))
    ]
    assert sum(sizes) == total
    assert len(sizes) > 1 and max(sizes) <= 40_000


def test_errors_say_what_is_wrong(backend: Any) -> None:
    with pytest.raises(UserError, match="FUNCTION_NOT_FOUND"):
        query("SELECT no_such_function(start) FROM variants", **_kw(backend))
    with pytest.raises(UserError, match="missing query parameter"):
        query("SELECT * FROM variants WHERE contigname = :contig", {}, **_kw(backend))
    with pytest.raises(UserError, match="1-based"):
        variants(region="22:0-10", **_kw(backend))


def test_example_notebook_runs(s3tables_backend: Any, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(EXAMPLES / "variants.ipynb", as_version=4)
    env = {
        "OMICS_TOOLKIT_DEPLOYMENT": s3tables_backend.settings.deployment,
        "OMICS_TOOLKIT_HOME": os.environ["OMICS_TOOLKIT_HOME"],
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    text = "\n".join(
        "".join(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )
    assert "error" not in {o.get("output_type") for c in nb.cells for o in c.get("outputs", [])}
    assert f"deployment: {s3tables_backend.settings.deployment}" in text
    assert "NA12878" in text and SAMPLE in text
    assert "Int32" in text and "int32" in text
    rows = [line for line in text.splitlines() if line.startswith("rows:")]
    assert rows and rows[0].split("|")[0].split()[1] == rows[0].split()[-1]
    nbformat.write(nb, tmp_path / "variants.executed.ipynb")


def test_variants_columns_are_checked_never_pasted(backend: Any) -> None:
    df = variants(
        region=REGION, samples=[SAMPLE], columns=["SampleId", "END"], limit=3, **_kw(backend)
    )
    assert list(df.columns) == ["sampleid", "end"] and len(df) == 3
    calls = len(backend.ctx.calls)
    for hostile in ("sampleid FROM variants; DROP TABLE x --", "start, 1", "no_such_column"):
        with pytest.raises(UserError, match="is not a column of the variants table"):
            variants(columns=["contigname", hostile], **_kw(backend))
    with pytest.raises(UserError, match="limit must be a whole number"):
        variants(limit="1; DROP TABLE x", **_kw(backend))  # type: ignore[arg-type]
    assert backend.ctx.calls[calls:] == []  # nothing reached Athena
