"""A bgzipped VCF uploaded as a user types it (``omics-toolkit upload calls.vcf.gz``) goes
straight into the variant data of either back end (variant store import, S3 Tables loader
Lambda), through the real pair detector, state machine and import; no workflow runs. Its sample
column names the rows; a VCF on contigs the reference lacks fails with the import's reason.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_aligned_upload import _cli, _upload_and_wait

from omics_toolkit.athena import bind_named, load_query, run_query
from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.data import fetch_demo_data, truth_snvs
from omics_toolkit.identity import Names

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["stores", "s3tables"])
def deployment(request: pytest.FixtureRequest, local_stack: dict[str, Any]) -> dict[str, Any]:
    backend = request.param
    name = f"ft-vcf-{backend}"
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    provisioned = _cli(
        "provision",
        "--reference",
        str(fetch_demo_data().reference),
        deployment=name,
        OMICS_TOOLKIT_VARIANT_BACKEND=backend,
    )
    assert provisioned.returncode == 0, provisioned.stderr[-3000:]
    names = Names(name, ctx.account_id, ctx.region)
    arn = f"arn:aws:states:{ctx.region}:{ctx.account_id}:stateMachine:{names.state_machine}"
    settings = Settings(
        deployment=name, home=Path(os.environ["OMICS_TOOLKIT_HOME"]), variant_backend=backend
    )
    return {"ctx": ctx, "names": names, "state_machine": arn, "settings": settings}


def _bgzip_with_sample(vcf: Path, out: Path, sample: str, contig: str = "q") -> Path:
    """The VCF with its one sample column renamed and its records moved to ``contig``."""
    lines = vcf.read_text().splitlines(keepends=True)
    text = "".join(
        line.replace("\tNA12878\n", f"\t{sample}\n")
        if line.startswith("#")
        else contig + line[line.index("\t") :]
        for line in lines
    )
    with out.open("wb") as fh:
        subprocess.run(["bgzip", "-c"], input=text.encode(), stdout=fh, check=True)
    return out


def test_giab_vcf_is_queryable_under_its_sample_column(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    demo = fetch_demo_data()
    vcf = _bgzip_with_sample(demo.truth_vcf, tmp_path / "giab.vcf.gz", "GIAB1")
    name, status = _upload_and_wait(deployment, vcf)
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    assert name.startswith("GIAB1-")
    assert status.run_id is None  # no workflow ran
    qf = load_query("variants_in_region")
    sql, params = bind_named(
        qf.sql, {"contig": "q", "region_start": 0, "region_end": 12356}, qf.params
    )
    df = run_query(deployment["ctx"], deployment["settings"], sql, params)
    rows = df[df["sampleid"] == "GIAB1"]
    assert sorted(("q", int(s) + 1) for s in rows["start"]) == truth_snvs(demo.truth_vcf)
    assert len(rows) == 14


def test_vcf_on_other_contigs_fails_naming_the_contig(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    vcf = _bgzip_with_sample(
        fetch_demo_data().truth_vcf, tmp_path / "other.vcf.gz", "OTHER1", contig="chr99"
    )
    _, status = _upload_and_wait(deployment, vcf)
    assert status.status == "FAILED"
    assert "chr99" in (status.cause or ""), (status.error, status.cause)


def test_plain_gzip_vcf_is_refused_before_import(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    plain = tmp_path / "PLAIN1.vcf.gz"
    with plain.open("wb") as fh:
        subprocess.run(["gzip", "-c", str(fetch_demo_data().truth_vcf)], stdout=fh, check=True)
    _, status = _upload_and_wait(deployment, plain)
    assert status.status == "FAILED"
    assert status.error == "VcfInputInvalid"
    assert "bgzip" in status.cause
