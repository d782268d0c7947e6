"""A reference with NCBI-style contig names (commas) through `plan` and `provision` as a user
types them: refused in seconds with the names listed, then, with `--rename-contigs auto`,
provisioned and a sample run to SUCCEEDED on the local stack."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omics_toolkit.aws.session import local_context
from omics_toolkit.aws.stepfunctions import execution_arn
from omics_toolkit.cli.main import app
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.errors import UserError
from omics_toolkit.pipeline.status import wait_for_execution
from omics_toolkit.pipeline.upload import upload_pair

DEPLOYMENT = "ft-contigs"
NCBI = "gi|49175990|ref|NC_000913.2|_Escherichia_coli_str._K-12,_complete_genome"


def _cli(*args: str) -> Any:
    return CliRunner().invoke(
        app,
        ["--deployment", DEPLOYMENT, *args],
        env={"OMICS_TOOLKIT_POLL_INTERVAL_SECONDS": "1", "COLUMNS": "200"},
        catch_exceptions=True,
    )


@pytest.fixture(scope="module")
def ncbi_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo reference with its one contig named as NCBI names E. coli K-12 (a comma in it)."""
    lines = fetch_demo_data().reference.read_text().splitlines(keepends=True)
    assert lines[0] == ">q\n"
    path = tmp_path_factory.mktemp("ncbi") / "ecoli.fa"
    path.write_text(f">{NCBI}\n" + "".join(lines[1:]))
    return path


def test_plan_refuses_comma_names_in_seconds_listing_them(
    local_stack: dict[str, Any], ncbi_reference: Path
) -> None:
    before = ncbi_reference.read_bytes()
    start = time.monotonic()
    result = _cli("plan", "--reference", str(ncbi_reference))
    elapsed = time.monotonic() - start
    assert result.exit_code == 1 and isinstance(result.exception, UserError), result.output
    message = str(result.exception)
    assert f"  {NCBI}: has ','" in message
    assert "--rename-contigs auto" in message and "--rename-contigs MAPPING.tsv" in message
    assert elapsed < 5, elapsed
    # provision refuses the same way, before anything is created
    result = _cli("provision", "--reference", str(ncbi_reference))
    assert isinstance(result.exception, UserError) and NCBI in str(result.exception)
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    buckets = [b["Name"] for b in ctx.client("s3").list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith(f"{DEPLOYMENT}-")]
    assert ncbi_reference.read_bytes() == before


@pytest.mark.slow
def test_rename_contigs_auto_provisions_and_runs_a_sample(
    local_stack: dict[str, Any], ncbi_reference: Path, tmp_path: Path
) -> None:
    before = ncbi_reference.read_bytes()
    planned = _cli("--json", "plan", "--reference", str(ncbi_reference), "--rename-contigs", "auto")
    assert planned.exit_code == 0, planned.output
    actions = {(a["kind"], a["action"]) for a in json.loads(planned.stdout)}
    assert {("contig names", "create"), ("reference", "create")} <= actions

    applied = _cli(
        "--json", "provision", "--reference", str(ncbi_reference), "--rename-contigs", "auto"
    )
    assert applied.exit_code == 0, applied.output
    result = json.loads(applied.stdout)
    refs = [a for a in result["actions"] if a["kind"] == "reference"]
    assert [(a["action"], a["name"].startswith("ecoli.renamed-")) for a in refs] == [
        ("create", True)
    ]
    assert ncbi_reference.read_bytes() == before  # the user's file is never touched
    copies = list((Path(os.environ["OMICS_TOOLKIT_HOME"]) / "references" / DEPLOYMENT).glob("*.fa"))
    assert [c.read_text().splitlines()[0] for c in copies] == [">NC_000913.2"]

    shown = _cli("--json", "contigs")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == [{"contig": "NC_000913.2", "original": NCBI}]

    # Again with the same file and option: nothing imported again.
    again = _cli(
        "--json", "provision", "--reference", str(ncbi_reference), "--rename-contigs", "auto"
    )
    assert again.exit_code == 0, again.output
    kinds = {a["kind"]: a["action"] for a in json.loads(again.stdout)["actions"]}
    assert (kinds["reference"], kinds["contig names"]) == ("unchanged", "unchanged")
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    omics = ctx.client("omics")
    store = omics.list_reference_stores(filter={"name": f"{DEPLOYMENT}-references"})
    store_id = store["referenceStores"][0]["id"]
    assert len(omics.list_reference_import_jobs(referenceStoreId=store_id)["importJobs"]) == 1

    # A sample runs to SUCCEEDED against the renamed reference; its VCF names NC_000913.2.
    demo = fetch_demo_data()
    r1, r2 = bam_to_fastq_pair(demo.bam, tmp_path, "NA12878")
    bucket = result["input_bucket"]
    uploaded = upload_pair(ctx.client("s3"), bucket, r1, r2)
    arn = execution_arn(result["state_machine_arn"], uploaded["execution_name"])
    status = wait_for_execution(
        ctx.client("stepfunctions"), arn, poll_seconds=1, timeout_seconds=600
    )
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    queried = _cli("--json", "query", "SELECT DISTINCT contigname FROM variants")
    assert queried.exit_code == 0, queried.output
    assert [row["contigname"] for row in json.loads(queried.stdout)] == ["NC_000913.2"]

    # Another reference, or another mapping of the same one: refused by plan and provision
    # before anything is created (the variant data stays bound to NC_000913.2).
    other_map = tmp_path / "other.tsv"
    other_map.write_text(f"{NCBI}\tecoli_K12\n")
    for args in (
        ["--reference", str(demo.reference)],
        ["--reference", str(ncbi_reference), "--rename-contigs", str(other_map)],
    ):
        for command in ("plan", "provision"):
            refused = _cli(command, *args)
            assert refused.exit_code == 1, refused.output
            assert isinstance(refused.exception, UserError), refused.output
            message = str(refused.exception)
            assert "has other contig names than the reference deployment ft-contigs" in message
            assert "not in the new one: NC_000913.2" in message
            assert "-d NEW_NAME provision" in message and "teardown --force-delete-data" in message
    store = omics.list_reference_stores(filter={"name": f"{DEPLOYMENT}-references"})
    refs = omics.list_references(referenceStoreId=store["referenceStores"][0]["id"])["references"]
    assert len(refs) == 1
    assert json.loads(_cli("--json", "contigs").stdout) == [
        {"contig": "NC_000913.2", "original": NCBI}
    ]

    folder = Path(os.environ["OMICS_TOOLKIT_HOME"]) / "references" / DEPLOYMENT
    previewed = _cli("--json", "plan", "--destroy", "--force-delete-data")
    assert ("renamed references", str(folder), "delete") in {
        (a["kind"], a["name"], a["action"]) for a in json.loads(previewed.stdout)
    }
    gone = _cli("--json", "teardown", "--yes", "--force-delete-data")
    assert gone.exit_code == 0, gone.output
    assert not folder.exists()


def test_an_s3_reference_is_read_from_s3_and_a_mapping_file_renames_it(
    local_stack: dict[str, Any], ncbi_reference: Path, tmp_path: Path
) -> None:
    """An ``s3://`` reference (bgzipped) is checked from S3 (GetObject, streamed) before plan
    goes on; a two-column mapping file is checked against it and used."""
    import subprocess

    ctx = local_context(local_stack["moto"], local_stack["omics"])
    s3 = ctx.client("s3")
    s3.create_bucket(Bucket="ft-contigs-shared-refs")
    bgz = tmp_path / "ecoli.fa.gz"
    subprocess.run(f"bgzip -c {ncbi_reference} > {bgz}", shell=True, check=True)
    s3.upload_file(str(bgz), "ft-contigs-shared-refs", "genomes/ecoli.fa.gz")
    uri = "s3://ft-contigs-shared-refs/genomes/ecoli.fa.gz"

    refused = _cli("plan", "--reference", uri)
    assert isinstance(refused.exception, UserError), refused.output
    assert f"reference {uri} cannot be imported as it is" in str(refused.exception)
    assert f"  {NCBI}: has ','" in str(refused.exception)

    mapping = tmp_path / "names.tsv"
    mapping.write_text(f"{NCBI}\tecoli K12\n")  # a space in the new name
    refused = _cli("plan", "--reference", uri, "--rename-contigs", str(mapping))
    assert isinstance(refused.exception, UserError), refused.output
    assert "the new name has ' '" in str(refused.exception)

    mapping.write_text(f"# original\tnew\n{NCBI}\tecoli_K12\n")
    planned = _cli("--json", "plan", "--reference", uri, "--rename-contigs", str(mapping))
    assert planned.exit_code == 0, planned.output
    refs = [a for a in json.loads(planned.stdout) if a["kind"] == "reference"]
    assert [a["name"][: len("ecoli.renamed-")] for a in refs] == ["ecoli.renamed-"]
    # plan writes nothing, locally or in AWS
    copy = (
        Path(os.environ["OMICS_TOOLKIT_HOME"]) / "references" / DEPLOYMENT / f"{refs[0]['name']}.fa"
    )
    assert not copy.exists()

    missing = _cli("plan", "--reference", "s3://ft-contigs-shared-refs/genomes/nope.fa")
    assert isinstance(missing.exception, UserError), missing.output
    assert "cannot be read (NoSuchKey" in str(missing.exception)
