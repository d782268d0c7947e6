"""Real data behind the ``queries/`` library, served by a variant back end on the local stack.

The ``backend`` fixture yields an object with one method, ``query(name, params) -> DataFrame``,
that runs ``queries/<name>.sql`` through Athena (PyAthena; the local stack runs the SQL in DuckDB).
Test bodies use only that method, so every back end (parametrised here) answers the same tests.

Data (all real, fetched once into the pytest cache, sha256-verified):

- ``variants``: the 10-donor GRCh37 chr22 cohort (drop-seq-testdata, contig ``22``, 113,300
  records -> 1,133,000 rows) plus the NA12878 GIAB truth calls of the demo (contig ``q``,
  14 het SNVs) standing in for the pipeline's calls;
- ``annotations_clinvar``: the scout-browser ClinVar-annotated demo VCF (680 records);
- ``annotations_genes``: hg19 RefSeq exons (subread-data), contigs mapped to the variants'
  naming (``chr22`` -> ``22``).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from omics_toolkit import data

GLUE_DATABASE = "queries_glue_parquet"
RESULTS_BUCKET = "otk-queries-results"


@dataclass(frozen=True)
class RealData:
    """Paths of the verified real data sets."""

    cohort_vcf: Path
    demo_vcf: Path
    demo_sample: str
    clinvar_vcf: Path
    genes_tsv: Path


@pytest.fixture(scope="session")
def real_data(request: pytest.FixtureRequest) -> RealData:
    """The four data sets, cached in the pytest cache (the stack's home is temporary).

    Without the cache plugin they go to the default ``<home>/data`` (the home in effect).
    """

    def cache(name: str) -> Path | None:
        store = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
        return Path(store.mkdir(f"omics-toolkit-data-{name}")) if store is not None else None

    demo = data.fetch_demo_data(cache("freebayes-1.3.6-2"))
    return RealData(
        cohort_vcf=data.fetch_cohort_vcf(cache("drop-seq-testdata")),
        demo_vcf=demo.truth_vcf,
        demo_sample=demo.sample,
        clinvar_vcf=data.fetch_clinvar_vcf(cache("scout-browser")),
        genes_tsv=data.fetch_gene_annotation(cache("subread-data")),
    )


def gene_rows(tsv: Path, contigs: set[str], job_id: str) -> list[dict[str, Any]]:
    """Rows of the ``annotations_genes`` table from a featureCounts SAF-like exon TSV.

    ``GeneID Chr Start End Strand`` (1-based inclusive) -> 0-based half-open ``start = Start - 1,
    end = End``; ``feature = 'exon'``; ``gene_name`` NULL (the TSV has only Entrez ids); contig
    names mapped onto ``contigs`` (the variants' naming).
    """
    from omics_toolkit.tables.contigs import contig_mapper

    mapped = contig_mapper(contigs)
    rows = []
    with gzip.open(tsv, "rt", newline="") as handle:
        for rec in csv.DictReader(handle, delimiter="\t"):
            rows.append(
                {
                    "importjobid": job_id,
                    "contigname": mapped(rec["Chr"]),
                    "start": int(rec["Start"]) - 1,
                    "end": int(rec["End"]),
                    "strand": rec["Strand"],
                    "gene_id": rec["GeneID"],
                    "gene_name": None,
                    "feature": "exon",
                    "attributes": [],
                }
            )
    return rows


class AthenaBackend:
    """Runs ``queries/*.sql`` with PyAthena against one Glue database of the local stack."""

    def __init__(self, aws: Any, database: str) -> None:
        self._aws = aws
        self._database = database

    def query(self, name: str, params: dict[str, Any]) -> Any:
        """``queries/<name>.sql`` with ``:name`` parameters bound by Athena -> DataFrame."""
        import pyathena
        from pyathena.pandas.cursor import PandasCursor

        from omics_toolkit.query import bind_named, load_query, to_literal

        loaded = load_query(name)
        sql, values = bind_named(loaded.sql, params, loaded.params)
        conn = pyathena.connect(
            session=self._aws.session,
            region_name=self._aws.region,
            endpoint_url=self._aws.endpoints["default"],
            schema_name=self._database,
            s3_staging_dir=f"s3://{RESULTS_BUCKET}/{self._database}/",
            cursor_class=PandasCursor,
            poll_interval=0.05,
        )
        try:
            cursor = conn.cursor()
            if values:
                cursor.execute(sql, [to_literal(v) for v in values], paramstyle="qmark")
            else:
                cursor.execute(sql)
            return cursor.as_pandas()
        finally:
            conn.close()


def _glue_table(glue: Any, name: str, columns: list[Any], location: Path) -> None:
    from omics_toolkit.tables.schema import glue_columns

    glue.create_table(
        DatabaseName=GLUE_DATABASE,
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet"},
            "StorageDescriptor": {
                "Columns": glue_columns(columns),
                "Location": f"file://{location}/",
            },
        },
    )


def _glue_parquet(aws: Any, real: RealData, root: Path) -> AthenaBackend:
    """Glue tables over Parquet files written from the real data (the emulator's store layout)."""
    from omics_toolkit.local.omics import vcf_parquet
    from omics_toolkit.tables.schema import GENE_COLUMNS

    variants, clinvar, genes = root / "variants", root / "clinvar", root / "genes"
    for job, vcf in (("cohort", real.cohort_vcf), ("demo", real.demo_vcf)):
        vcf_parquet.write_batches(
            vcf_parquet.iter_batches(vcf, job, True, None, str(vcf)),
            vcf_parquet.VARIANT_COLUMNS,
            variants / f"{job}.parquet",
        )
    vcf_parquet.write_batches(
        vcf_parquet.iter_batches(real.clinvar_vcf, "clinvar", False, None, str(real.clinvar_vcf)),
        vcf_parquet.ANNOTATION_COLUMNS,
        clinvar / "clinvar.parquet",
    )
    contigs = set(
        pq.read_table(variants / "cohort.parquet", columns=["contigname"])
        .column("contigname")
        .unique()
        .to_pylist()
    ) | {"q"}
    genes.mkdir(parents=True)
    rows = gene_rows(real.genes_tsv, contigs, "genes")
    pq.write_table(
        pa.Table.from_pylist(rows, schema=vcf_parquet.arrow_schema(GENE_COLUMNS)),
        genes / "genes.parquet",
    )
    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})
    _glue_table(glue, "variants", vcf_parquet.VARIANT_COLUMNS, variants)
    _glue_table(glue, "annotations_clinvar", vcf_parquet.ANNOTATION_COLUMNS, clinvar)
    _glue_table(glue, "annotations_genes", GENE_COLUMNS, genes)
    aws.client("s3").create_bucket(Bucket=RESULTS_BUCKET)
    return AthenaBackend(aws, GLUE_DATABASE)


@pytest.fixture(scope="session", params=["glue-parquet"])
def backend(
    request: pytest.FixtureRequest,
    aws: Any,
    real_data: RealData,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AthenaBackend]:
    """A variant back end holding the real data; ``backend.query(name, params) -> DataFrame``."""
    root = tmp_path_factory.mktemp(f"queries-{request.param}")
    with pytest.MonkeyPatch.context() as mp:
        # PyAthena reads the result CSV from S3 with its own client: point it at moto.
        mp.setenv("AWS_ENDPOINT_URL_S3", aws.endpoints["default"])
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield _glue_parquet(aws, real_data, root)
