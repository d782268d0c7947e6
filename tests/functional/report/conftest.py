"""A deployment's Glue catalog over real variant data, and the report the CLI makes of it.

Variants (one Parquet file per VCF, the variant-store schema of the local HealthOmics emulator):

- the NA12878 GIAB truth calls of the demo (14 heterozygous SNVs, contig ``q``);
- the scout-browser 643594 trio VCF (3 samples, 680 GRCh37 records, real CLNSIG in INFO);
- 22:16,000,000-17,000,000 plus two ClinVar sites of the 10-donor chr22 cohort VCF.

``annotations_clinvar`` holds the 680 records of the scout VCF (``fetch_clinvar_vcf``). A second
deployment has the same variants and no ClinVar table. Each deployment gets its Athena workgroup
(output location in its output bucket) as provisioning would make it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from healthomics_emulator.vcf_parquet import (
    ANNOTATION_COLUMNS,
    VARIANT_COLUMNS,
    glue_columns,
    iter_rows,
    write_parquet,
)
from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.data import fetch_clinvar_vcf, fetch_cohort_vcf, fetch_demo_data
from omics_toolkit.identity import Names

DEPLOYMENT = "rpt"
DEPLOYMENT_NO_CLINVAR = "rpt-noclin"
COHORT_REGIONS = "22:16000000-17000000,22:29682701,22:38464024"


@dataclass(frozen=True)
class Catalog:
    """The deployments made, the VCFs behind their ``variants`` table and ``annotations_clinvar``."""

    vcfs: dict[str, Path]
    clinvar: Path
    deployment: str = DEPLOYMENT
    deployment_no_clinvar: str = DEPLOYMENT_NO_CLINVAR


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m omics_toolkit ARGS`` against the session's local stack (OMICS_TOOLKIT_HOME)."""
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=cwd,
        timeout=600,
    )


def _deployment(aws: Any, deployment: str, tables: dict[str, tuple[Path, list[Any]]]) -> None:
    names = Names(deployment, aws.account_id, aws.region)
    glue, s3, athena = aws.client("glue"), aws.client("s3"), aws.client("athena")
    glue.create_database(DatabaseInput={"Name": names.glue_database})
    for table, (location, columns) in tables.items():
        glue.create_table(
            DatabaseName=names.glue_database,
            TableInput={
                "Name": table,
                "StorageDescriptor": {
                    "Columns": glue_columns(columns),
                    "Location": f"file://{location}/",
                },
            },
        )
    s3.create_bucket(Bucket=names.output_bucket)
    athena.create_work_group(
        Name=names.workgroup,
        Configuration={
            "ResultConfiguration": {"OutputLocation": names.athena_output_uri},
            "EnforceWorkGroupConfiguration": True,
            "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
        },
        # tagged as provisioning tags it: moto answers ListTagsForResource on an untagged
        # workgroup with "Does Not Exist", which broke the inventory of later test files
        Tags=[{"Key": DEPLOYMENT_TAG, "Value": deployment}],
    )


@pytest.fixture(scope="package")
def catalog(aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    root = tmp_path_factory.mktemp("report-catalog")
    cohort = root / "cohort.subset.vcf.gz"
    subprocess.run(
        [
            "bcftools",
            "view",
            "-r",
            COHORT_REGIONS,
            "-Oz",
            "-o",
            str(cohort),
            str(fetch_cohort_vcf()),
        ],
        check=True,
        capture_output=True,
    )
    clinvar = fetch_clinvar_vcf()
    vcfs = {"demo": fetch_demo_data().truth_vcf, "trio": clinvar, "cohort": cohort}
    variants = root / "variants"
    for job, vcf in vcfs.items():
        rows = list(iter_rows(vcf, job, True, None, str(vcf)))
        write_parquet(rows, VARIANT_COLUMNS, variants / f"{job}.parquet")
    annotations = root / "annotations_clinvar"
    rows = list(iter_rows(clinvar, "clinvar", False, None, str(clinvar)))
    write_parquet(rows, ANNOTATION_COLUMNS, annotations / "clinvar.parquet")
    _deployment(
        aws,
        DEPLOYMENT,
        {
            "variants": (variants, VARIANT_COLUMNS),
            "annotations_clinvar": (annotations, ANNOTATION_COLUMNS),
        },
    )
    _deployment(aws, DEPLOYMENT_NO_CLINVAR, {"variants": (variants, VARIANT_COLUMNS)})
    return Catalog(vcfs, clinvar)


@pytest.fixture(scope="package")
def report_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """:func:`cli`, for tests (conftest modules are not imported by test modules)."""
    return cli


@pytest.fixture(scope="package")
def make_report(
    catalog: Catalog, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, str], Path]:
    """``make_report(deployment, sample)``: run ``omics-toolkit report`` once; the HTML path."""
    out_dir = tmp_path_factory.mktemp("reports")
    made: dict[tuple[str, str], Path] = {}

    def make(deployment: str, sample: str) -> Path:
        if (deployment, sample) not in made:
            path = out_dir / f"{deployment}-{sample}.html"
            r = cli("-d", deployment, "report", "--sample", sample, "--out", str(path))
            assert r.returncode == 0, r.stderr
            assert r.stdout.strip() == str(path)
            made[(deployment, sample)] = path
        return made[(deployment, sample)]

    return make
