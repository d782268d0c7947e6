"""``annotations import|list`` on both variant back ends, with the real ClinVar VCF and the real
hg19 RefSeq exon TSV (all 225,074 exons), on the local stack.

One deployment per back end, provisioned with the demo reference (contig ``q``). Imports run
before any variant is loaded (contig names kept), so both back ends must hold identical rows;
then the S3 Tables deployment gets real chr22 variants (contig ``22``) and a re-import maps
``chr22`` -> ``22``. The stores back end cannot hold contig ``22`` variants (its variant import
checks contigs against the demo reference), so normalisation is checked on S3 Tables (and on the
readers in tests/unit/test_annotations.py).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from omics_toolkit import data
from omics_toolkit.annotations import import_annotations
from omics_toolkit.athena import run_query
from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.provisioning.provision import Provisioner

BACKENDS = ("stores", "s3tables")
_DEPLOYMENTS: dict[str, Any] = {}


def _cache(request: pytest.FixtureRequest, name: str) -> Path | None:
    store = getattr(request.config, "cache", None)
    return Path(store.mkdir(f"omics-toolkit-data-{name}")) if store is not None else None


@pytest.fixture(scope="module")
def files(request: pytest.FixtureRequest) -> dict[str, Path]:
    demo = data.fetch_demo_data(_cache(request, "freebayes-1.3.6-2"))
    return {
        "reference": demo.reference,
        "clinvar": data.fetch_clinvar_vcf(_cache(request, "scout-browser")),
        "genes": data.fetch_gene_annotation(_cache(request, "subread-data")),
        "cohort": data.fetch_cohort_vcf(_cache(request, "drop-seq-testdata")),
    }


@pytest.fixture(scope="module")
def deploy(local_stack: dict[str, Any], files: dict[str, Path]) -> Any:
    """``deploy(backend) -> (ctx, settings)``: one provisioned deployment per back end."""

    def make(backend: str) -> tuple[Any, Settings]:
        if backend not in _DEPLOYMENTS:
            settings = Settings(
                deployment="ann-stores" if backend == "stores" else "ann-tables",
                home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
                poll_interval_seconds=1,
                variant_backend=backend,
            )
            ctx = local_context(local_stack["moto"], local_stack["omics"])
            Provisioner(ctx, settings, sleep=lambda s: None).apply(str(files["reference"]))
            _DEPLOYMENTS[backend] = (ctx, settings)
        return _DEPLOYMENTS[backend]

    return make


def _tsv_rows(path: Path) -> int:
    with gzip.open(path, "rt") as fh:
        return sum(1 for line in fh if line.strip()) - 1  # minus the header


def _vcf_records(path: Path) -> int:
    with gzip.open(path, "rt") as fh:
        return sum(1 for line in fh if not line.startswith("#"))


def _count(ctx: Any, settings: Settings, table: str) -> int:
    return int(run_query(ctx, settings, f"SELECT count(*) AS n FROM {table}").loc[0, "n"])


GENES_SQL = (
    'SELECT contigname, start, "end", strand, gene_id, gene_name, feature FROM annotations_genes '
    'ORDER BY contigname, start, "end", gene_id, strand'
)
CLINVAR_SQL = (
    'SELECT contigname, start, "end", names, referenceallele, alternatealleles, qual, filters, '
    "element_at(attributes, 'CLNSIG') AS clnsig, element_at(attributes, 'DP') AS dp "
    "FROM annotations_clinvar ORDER BY contigname, start, referenceallele"
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_import_real_clinvar_and_genes(deploy, files, backend):
    ctx, settings = deploy(backend)
    genes = import_annotations(ctx, settings, "genes", files["genes"])
    clinvar = import_annotations(ctx, settings, "clinvar", files["clinvar"])

    expected_genes = _tsv_rows(files["genes"])
    assert expected_genes == 225_074
    assert (genes.rows, genes.format, genes.backend) == (expected_genes, "tsv", backend)
    assert _count(ctx, settings, "annotations_genes") == expected_genes
    assert clinvar.rows == _vcf_records(files["clinvar"]) == 680
    assert _count(ctx, settings, "annotations_clinvar") == 680
    # variants is empty: nothing to match, contig names kept as in the files.
    assert genes.target_contigs == 0 and genes.contigs_renamed == {}
    contigs = run_query(ctx, settings, "SELECT DISTINCT contigname FROM annotations_genes")
    assert "chr22" in set(contigs["contigname"])

    # 1-based inclusive -> 0-based half-open: the file's first exon is chr1 14362..14829 (-).
    first = run_query(
        ctx,
        settings,
        'SELECT start, "end", strand, feature, gene_name FROM annotations_genes '
        "WHERE gene_id = '653635' ORDER BY start LIMIT 1",
    ).iloc[0]
    assert (first["start"], first["end"], first["strand"], first["feature"]) == (
        14361,
        14829,
        "-",
        "exon",
    )
    assert pd.isna(first["gene_name"])
    clnsig = run_query(
        ctx,
        settings,
        "SELECT count(*) AS n FROM annotations_clinvar "
        "WHERE element_at(attributes, 'CLNSIG') IS NOT NULL",
    )
    assert int(clnsig.loc[0, "n"]) == 22  # zcat | grep -v '^#' | grep -c CLNSIG=

    # Importing the same file again replaces the rows: no duplicates.
    again = import_annotations(ctx, settings, "genes", files["genes"])
    assert again.rows == expected_genes
    assert _count(ctx, settings, "annotations_genes") == expected_genes
    if backend == "stores":
        assert again.changed is False and again.location == genes.location

    # The CLI lists both sets.
    from omics_toolkit.cli.main import app

    result = CliRunner().invoke(
        app,
        ["--deployment", settings.deployment, "annotations", "list", "--json"],
        env={"OMICS_TOOLKIT_VARIANT_BACKEND": backend},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    listed = {s["name"]: s for s in json.loads(result.stdout)}
    assert set(listed) == {"clinvar", "genes"}
    assert listed["genes"]["rows"] == expected_genes
    assert listed["genes"]["source"] == files["genes"].name
    assert listed["clinvar"]["rows"] == 680
    assert listed["clinvar"]["table"] == "annotations_clinvar"


def test_backends_hold_identical_rows(deploy):
    frames = {}
    for backend in BACKENDS:
        ctx, settings = deploy(backend)
        frames[backend] = (
            run_query(ctx, settings, GENES_SQL),
            run_query(ctx, settings, CLINVAR_SQL),
        )
    for a, b in zip(frames["stores"], frames["s3tables"], strict=True):
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b)


def test_contigs_follow_the_variants_table(deploy, files, tmp_path):
    from omics_toolkit.identity import Names
    from omics_toolkit.provisioning.s3tables import find_table_bucket
    from omics_toolkit.tables.loader import load_variants

    ctx, settings = deploy("s3tables")
    subset = tmp_path / "chr22_300.vcf"
    header = subprocess.run(
        ["bcftools", "view", "-h", str(files["cohort"])], capture_output=True, text=True, check=True
    ).stdout
    records = subprocess.run(
        ["bcftools", "view", "-H", str(files["cohort"]), "22"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[:300]
    subset.write_text(header + "\n".join(records) + "\n")
    names = Names(settings.deployment, ctx.account_id, ctx.region)
    bucket = find_table_bucket(Provisioner(ctx, settings))
    load_variants(ctx, bucket, names.table_namespace, str(subset), "test-chr22")

    genes = import_annotations(ctx, settings, "genes", files["genes"])
    with gzip.open(files["genes"], "rt") as fh:
        source_contigs = {line.split("\t")[1] for line in list(fh)[1:]}
    assert genes.target_contigs == 1
    assert genes.contigs_renamed == {"chr22": "22"}
    assert set(genes.contigs_unmatched) == source_contigs - {"chr22"}
    assert genes.rows == 225_074
    contigs = set(
        run_query(ctx, settings, "SELECT DISTINCT contigname FROM annotations_genes")["contigname"]
    )
    assert "22" in contigs and "chr22" not in contigs
    # The join the query library relies on now works: variants inside chr22 exons.
    hits = run_query(
        ctx,
        settings,
        "SELECT count(*) AS n FROM variants v JOIN annotations_genes g "
        'ON v.contigname = g.contigname AND v.start < g."end" AND v."end" > g.start',
    )
    assert int(hits.loc[0, "n"]) > 0
    # ClinVar contigs have no chr: '22' matches as is, nothing renamed.
    clinvar = import_annotations(ctx, settings, "clinvar", files["clinvar"])
    assert clinvar.contigs_renamed == {} and "22" not in clinvar.contigs_unmatched


def test_stores_replace_then_teardown(deploy, files, tmp_path):
    from omics_toolkit.provisioning.teardown import Teardown

    ctx, settings = deploy("stores")
    omics = ctx.client("omics")
    before = import_annotations(ctx, settings, "genes", files["genes"])
    subset = tmp_path / "chr22_exons.txt"
    with gzip.open(files["genes"], "rt") as fh:
        lines = list(fh)
    subset.write_text(lines[0] + "".join(x for x in lines[1:] if x.split("\t")[1] == "chr22"))
    after = import_annotations(ctx, settings, "genes", subset)
    assert after.changed and after.location != before.location
    assert after.rows == len(subset.read_text().splitlines()) - 1
    assert _count(ctx, settings, "annotations_genes") == after.rows
    stores = {s["name"] for s in omics.list_annotation_stores()["annotationStores"]}
    assert after.location in stores and before.location not in stores  # replaced, then deleted

    kept = Teardown(ctx, settings, sleep=lambda s: None).run(force_delete_data=False)
    assert any(
        a.kind == "annotation store" and a.name == after.location and a.action == "kept"
        for a in kept
    )
    Teardown(ctx, settings, sleep=lambda s: None).run(force_delete_data=True)
    stores = {s["name"] for s in omics.list_annotation_stores()["annotationStores"]}
    assert not any(s.startswith("ann_stores_") for s in stores)
