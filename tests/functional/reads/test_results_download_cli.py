"""`omics-toolkit results download` as a user types it, on a sample that went through the real
pipeline on the local stack (the demo's NA12878 pair, uploaded with `upload`: the shared
``demo_sample`` deployment of tests/functional/reads/conftest.py)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omics_toolkit.aws.stepfunctions import deployment_state_machine_arn, execution_arn
from omics_toolkit.cli.main import app
from omics_toolkit.errors import UserError
from omics_toolkit.transfer import download
from tests.support.demo_sample import DEPLOYMENT


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, ["-d", DEPLOYMENT, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def sample(aws: Any, demo_sample: Any) -> dict[str, Any]:
    """NA12878 run through the pipeline (the shared ``demo_sample`` deployment): the SUCCEEDED
    execution's name and outputs (``{name: s3 uri}``)."""
    arn = execution_arn(
        deployment_state_machine_arn(aws, demo_sample.names.state_machine),
        demo_sample.execution_name,
    )
    output = json.loads(aws.client("stepfunctions").describe_execution(executionArn=arn)["output"])
    return {"execution": demo_sample.execution_name, "outputs": output["outputs"]}


def object_bytes(aws: Any, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bytes(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_results_download_writes_the_runs_four_files_verified_and_equal_to_the_objects(
    aws, sample, tmp_path
):
    out = tmp_path / "results"
    result = cli("--json", "results", "download", "NA12878", "--out", str(out), "--workers", "3")
    report = json.loads(result.stdout)

    assert (report["sample"], report["execution"]) == ("NA12878", sample["execution"])
    assert [f["name"] for f in report["files"]] == ["bam", "bam_index", "vcf", "vcf_index"]
    for row in report["files"]:
        uri = sample["outputs"][row["name"]]
        data = object_bytes(aws, uri)
        path = Path(row["dest"])
        assert path.parent == out and path.name == uri.rsplit("/", 1)[-1]
        assert sha256(path.read_bytes()) == sha256(data), row["name"]
        assert row["verified"] is True and row["checksum_kind"] != "size only", row
        assert (row["bytes_total"], row["bytes_fetched"]) == (len(data), len(data))
        print(
            f"{row['name']}: {len(data)} bytes, {row['parts_total']} parts, {row['checksum_kind']}"
        )
    assert sorted(p.name for p in out.iterdir()) == sorted(
        u.rsplit("/", 1)[-1] for u in sample["outputs"].values()
    )  # no .part or .part.json left

    again = json.loads(cli("--json", "results", "download", "NA12878", "--out", str(out)).stdout)
    assert [(f["skipped"], f["bytes_fetched"]) for f in again["files"]] == [(True, 0)] * 4

    table = cli("results", "download", "NA12878", "--out", str(out)).stdout
    assert table.count("already there") == 4 and "verified by" in table


class Interrupted(Exception):
    """Raised by the progress hook to stop a download midway (as Ctrl-C or a dropped link)."""


def test_an_interrupted_results_download_resumes_without_fetching_completed_parts(
    aws, sample, tmp_path
):
    bucket, key = sample["outputs"]["bam"].removeprefix("s3://").split("/", 1)
    data = object_bytes(aws, sample["outputs"]["bam"])
    part = len(data) // 5 + 1  # five parts
    calls: list[int] = []

    def stop_after_two(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) > 2:  # the first call reports what was already on disk
            raise Interrupted

    dest = tmp_path / key.rsplit("/", 1)[-1]
    with pytest.raises(Interrupted):
        download(
            aws.client("s3"), bucket, key, dest, part_size=part, workers=1, progress=stop_after_two
        )
    assert not dest.exists() and dest.with_name(dest.name + ".part").exists()

    report = json.loads(
        cli("--json", "results", "download", "NA12878", "--out", str(tmp_path)).stdout
    )
    bam = report["files"][0]
    assert (bam["name"], bam["parts_total"], bam["parts_reused"], bam["parts_fetched"]) == (
        "bam",
        5,
        2,
        3,
    )
    assert bam["bytes_fetched"] == len(data) - 2 * part and bam["verified"] is True
    assert sha256(dest.read_bytes()) == sha256(data)
    assert not dest.with_name(dest.name + ".part").exists()


def test_results_download_refuses_to_replace_a_different_file_without_overwrite(
    aws, sample, tmp_path
):
    vcf_name = sample["outputs"]["vcf"].rsplit("/", 1)[-1]
    (tmp_path / vcf_name).write_bytes(b"my own notes")
    result = CliRunner().invoke(
        app, ["-d", DEPLOYMENT, "results", "download", "NA12878", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1 and isinstance(result.exception, UserError)
    assert f"{vcf_name} already exists and differs from {sample['outputs']['vcf']}" in str(
        result.exception
    )
    assert (tmp_path / vcf_name).read_bytes() == b"my own notes"
    cli("results", "download", "NA12878", "--out", str(tmp_path), "--overwrite")
    assert (tmp_path / vcf_name).read_bytes() == object_bytes(aws, sample["outputs"]["vcf"])


def test_results_download_url_prints_presigned_urls_that_fetch_the_objects(aws, sample):
    report = json.loads(
        cli("--json", "results", "download", "NA12878", "--url", "--expires", "600").stdout
    )
    assert [f["name"] for f in report["files"]] == ["bam", "bam_index", "vcf", "vcf_index"]
    for row in report["files"]:
        assert row["uri"] == sample["outputs"][row["name"]]
        assert "X-Amz-Expires=600" in row["url"] and "X-Amz-Signature=" in row["url"]
        with urllib.request.urlopen(row["url"], timeout=30) as answer:
            assert answer.read() == object_bytes(aws, row["uri"]), row["name"]
    plain = cli("results", "download", "NA12878", "--url").stdout.splitlines()
    assert [line.split("\t")[0] for line in plain] == ["bam", "bam_index", "vcf", "vcf_index"]
    assert all(line.split("\t")[1].startswith("http") for line in plain)


def test_results_download_of_a_sample_without_a_run_says_how_to_list_them(sample, tmp_path):
    result = CliRunner().invoke(
        app, ["-d", DEPLOYMENT, "results", "download", "NOBODY", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1 and isinstance(result.exception, UserError)
    assert str(result.exception) == (
        "no pipeline execution is named 'NOBODY' or is for sample 'NOBODY'; "
        "list them with `omics-toolkit runs`"
    )
    missing_out = CliRunner().invoke(app, ["-d", DEPLOYMENT, "results", "download", "NA12878"])
    assert missing_out.exit_code == 1
    assert "--out DIR" in str(missing_out.exception)
