"""Real data behind the ``queries/`` library, in both variant back ends on the local stack.

The ``backend`` fixture (parametrised: ``stores``, ``s3tables``) yields an object with one method,
``query(name, params) -> DataFrame``, that runs ``queries/<name>.sql`` through the toolkit's own
Athena path (``omics_toolkit.athena.run_query``: PyAthena; the local stack runs the SQL in
DuckDB). Each back end is a real deployment provisioned with ``variant_backend`` set:

- ``stores``: HealthOmics variant store (emulator); the VCFs imported with
  StartVariantImportJob; annotations imported into annotation stores;
- ``s3tables``: an S3 table bucket; the VCFs loaded into the Iceberg ``variants`` table with the
  pipeline's loader; annotations as Iceberg tables.

Test bodies use only ``query``, so both back ends answer the same tests, and
``test_backends_identical`` compares their DataFrames.

Data (all real, fetched once into the pytest cache, sha256-verified):

- ``variants``: the 10-donor GRCh37 chr22 cohort (drop-seq-testdata, contig ``22``), the real
  slice 22:29,000,000-39,000,000 (31,021 records -> 310,210 rows; the whole file, 1.13 M rows,
  is the import benchmark's: bench/variants.py), plus the NA12878 GIAB truth calls of the demo
  (contig ``q``, 14 het SNVs) standing in for the pipeline's calls;
- ``annotations_clinvar``: the scout-browser ClinVar-annotated demo VCF (680 records);
- ``annotations_genes``: hg19 RefSeq exons (subread-data), contigs mapped to the variants'
  naming (``chr22`` -> ``22``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit import data

#: The real slice of the cohort the query tests use (1-based inclusive, bcftools syntax).
COHORT_REGION = "22:29000000-39000000"
#: GRCh37 chr22 length: the stores back end's reference must name contig 22 (see _reference).
CHR22_LENGTH = 51_304_566


def cohort_slice(vcf: Path, dest: Path) -> Path:
    """``bcftools view -r COHORT_REGION`` of the cohort, bgzipped and indexed, in ``dest``."""
    out = dest / "cohort.slice.vcf.gz"
    subprocess.run(
        ["bcftools", "view", "-r", COHORT_REGION, "-Oz", "-o", str(out), str(vcf)], check=True
    )
    subprocess.run(["tabix", "-f", "-p", "vcf", str(out)], check=True)
    return out


@dataclass(frozen=True)
class RealData:
    """Paths of the verified real data sets."""

    cohort_vcf: Path
    demo_vcf: Path
    demo_sample: str
    clinvar_vcf: Path
    genes_tsv: Path


@pytest.fixture(scope="session")
def real_data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RealData:
    """The four data sets, cached in the pytest cache (the stack's home is temporary).

    Without the cache plugin they go to the default ``<home>/data`` (the home in effect).
    """

    tmp = tmp_path_factory.mktemp("cohort-slice")

    def cache(name: str) -> Path | None:
        store = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
        return Path(store.mkdir(f"omics-toolkit-data-{name}")) if store is not None else None

    demo = data.fetch_demo_data(cache("freebayes-1.3.6-2"))
    return RealData(
        cohort_vcf=cohort_slice(data.fetch_cohort_vcf(cache("drop-seq-testdata")), tmp),
        demo_vcf=demo.truth_vcf,
        demo_sample=demo.sample,
        clinvar_vcf=data.fetch_clinvar_vcf(cache("scout-browser")),
        genes_tsv=data.fetch_gene_annotation(cache("subread-data")),
    )


class ToolkitBackend:
    """Runs ``queries/*.sql`` through the toolkit (``run_query``) against one deployment."""

    def __init__(self, ctx: Any, settings: Any) -> None:
        self.ctx = ctx
        self.settings = settings

    def query(self, name: str, params: dict[str, Any]) -> Any:
        """``queries/<name>.sql`` with ``:name`` parameters bound by Athena -> DataFrame."""
        from omics_toolkit.athena import bind_named, load_query, run_query

        loaded = load_query(name)
        sql, values = bind_named(loaded.sql, params, loaded.params)
        return run_query(self.ctx, self.settings, sql, values)


def _reference(demo_reference: Path, dest: Path) -> Path:
    """The demo reference (contig ``q``) plus contig ``22`` of GRCh37's length, all N.

    A sequence-less stand-in: HealthOmics checks a variant import's contig names against the
    store's reference, and no chr22 sequence is in a registry reachable here. Only the name and
    length matter to the import; no query reads the reference.
    """
    out = dest / "q_and_22.fa"
    with out.open("w") as fh:
        fh.write(demo_reference.read_text())
        fh.write(">22\n")
        line = "N" * 60 + "\n"
        full, rest = divmod(CHR22_LENGTH, 60)
        fh.write(line * full + "N" * rest + "\n")
    return out


def _import_variants_into_store(ctx: Any, dep: Any, vcfs: list[Path]) -> None:
    """Upload the VCFs under the output bucket's runs/ and StartVariantImportJob them."""
    import time

    s3, omics = ctx.client("s3"), ctx.client("omics")
    names = dep.names
    items = []
    for vcf in vcfs:
        key = f"runs/query-tests/{vcf.name}"
        s3.upload_file(str(vcf), names.output_bucket, key)
        items.append({"source": f"s3://{names.output_bucket}/{key}"})
    role = ctx.client("iam").get_role(RoleName=names.role("omics-import"))["Role"]["Arn"]
    job = omics.start_variant_import_job(
        destinationName=names.variant_store, roleArn=role, items=items
    )["jobId"]
    deadline = time.monotonic() + 600
    while True:
        status = omics.get_variant_import_job(jobId=job)
        if status["status"] == "COMPLETED":
            return
        assert status["status"] in ("SUBMITTED", "IN_PROGRESS"), status
        assert time.monotonic() < deadline, status
        time.sleep(0.5)


def _deployment(kind: str, aws: Any, real: RealData, root: Path) -> ToolkitBackend:
    from omics_toolkit.annotations import import_annotations
    from omics_toolkit.config import Settings
    from omics_toolkit.provisioning.provision import Provisioner
    from omics_toolkit.provisioning.s3tables import find_table_bucket
    from omics_toolkit.tables.loader import load_variants

    settings = Settings(
        deployment=f"q-{kind}",
        home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
        variant_backend=kind,
    )
    reference = _reference(data.fetch_demo_data().reference, root)
    prov = Provisioner(aws, settings)
    dep = prov.apply(str(reference))
    vcfs = [real.cohort_vcf, real.demo_vcf]
    if kind == "stores":
        _import_variants_into_store(aws, dep, vcfs)
    else:
        arn = find_table_bucket(prov)
        assert arn
        for n, vcf in enumerate(vcfs):
            load_variants(aws, arn, dep.names.table_namespace, str(vcf), f"query-tests-{n}")
    import_annotations(aws, settings, "clinvar", real.clinvar_vcf)
    import_annotations(aws, settings, "genes", real.genes_tsv)
    return ToolkitBackend(aws, settings)


@pytest.fixture(scope="session")
def stores_backend(
    aws: Any, real_data: RealData, tmp_path_factory: pytest.TempPathFactory
) -> ToolkitBackend:
    """The variant-store deployment holding the real data."""
    return _deployment("stores", aws, real_data, tmp_path_factory.mktemp("q-stores"))


@pytest.fixture(scope="session")
def s3tables_backend(
    aws: Any, real_data: RealData, tmp_path_factory: pytest.TempPathFactory
) -> ToolkitBackend:
    """The S3 Tables deployment holding the real data."""
    return _deployment("s3tables", aws, real_data, tmp_path_factory.mktemp("q-s3tables"))


@pytest.fixture(scope="session", params=["stores", "s3tables"])
def backend(request: pytest.FixtureRequest) -> Iterator[ToolkitBackend]:
    """A variant back end holding the real data; ``backend.query(name, params) -> DataFrame``."""
    yield request.getfixturevalue(f"{request.param}_backend")
