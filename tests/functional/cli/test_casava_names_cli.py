"""CASAVA 1.8 names (`<sample>_<barcode>_L005_R1_001.fastq.gz`) through `omics-toolkit upload`.

The rule (omics_toolkit/pipeline/pairs.py): the barcode stays in the sample id; `--sample` or a
manifest names the sample. Uploads go to a bare input bucket of an unprovisioned deployment, so
no run starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omics_toolkit.cli.main import app
from omics_toolkit.identity import Names
from omics_toolkit.pipeline.pairs import LanePair, execution_name, parse_mate

DEPLOYMENT = "ft-casava"
R1 = "NA12878_ACGTACGT_L005_R1_001.fastq.gz"
R2 = "NA12878_ACGTACGT_L005_R2_001.fastq.gz"


@pytest.fixture
def bucket(aws: Any) -> str:
    name = Names(DEPLOYMENT, aws.account_id, aws.region).input_bucket
    s3 = aws.client("s3")
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def reads(tmp_path: Path) -> tuple[Path, Path]:
    r1, r2 = tmp_path / R1, tmp_path / R2
    r1.write_text("@a\nACGT\n+\nIIII\n")
    r2.write_text("@a\nTTGC\n+\nIIII\n")
    return r1, r2


def upload(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["--json", "-d", DEPLOYMENT, "upload", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_casava_name_keeps_the_barcode_in_the_sample_id(aws, bucket, reads):
    r1, r2 = reads
    result = upload(str(r2), str(r1))
    assert result["sample"] == "NA12878_ACGTACGT"
    assert (result["r1"], result["r2"]) == (
        f"s3://{bucket}/fastq/{R1}",
        f"s3://{bucket}/fastq/{R2}",
    )
    assert result["execution_name"].startswith("NA12878_ACGTACGT-")
    assert result["status"] is None  # not provisioned: no state machine to start anything


def test_sample_option_names_it_and_keeps_the_lane(aws, bucket, reads):
    r1, r2 = reads
    result = upload("--sample", "NA12878", str(r1), str(r2))
    key1, key2 = "fastq/NA12878_L005_R1_001.fastq.gz", "fastq/NA12878_L005_R2_001.fastq.gz"
    assert (result["sample"], result["r1"], result["r2"]) == (
        "NA12878",
        f"s3://{bucket}/{key1}",
        f"s3://{bucket}/{key2}",
    )
    # The pair detector reads the uploaded keys back as sample NA12878, lane L005.
    mate = parse_mate(key1)
    assert mate is not None and (mate.sample, mate.lane, mate.mate_key) == ("NA12878", "L005", key2)
    s3 = aws.client("s3")
    etags = [s3.head_object(Bucket=bucket, Key=k)["ETag"] for k in (key1, key2)]
    assert result["execution_name"] == execution_name(
        "NA12878", [LanePair("L005", (key1, etags[0]), (key2, etags[1]))]
    )


def test_manifest_names_the_sample_of_casava_files(aws, bucket, reads):
    r1, r2 = reads
    sheet = r1.parent / "samplesheet.csv"
    sheet.write_text(f"sample,lane,fastq_1,fastq_2\nNA12878,L005,{R1},{R2}\n")
    result = upload("--manifest", str(sheet), "--folder", "fastq/casava")
    assert [(e["sample"], e["lanes"]) for e in result["executions"]] == [("NA12878", ["L005"])]
    assert sorted(result["uploaded"]) == sorted(
        f"s3://{bucket}/fastq/casava/{name}" for name in ("samplesheet.csv", R1, R2)
    )
