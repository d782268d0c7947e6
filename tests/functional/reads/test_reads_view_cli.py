"""`reads view`, `reads stats`, `reads export`, `reads serve` and `reads activate` on the demo
sample's aligned read set (the BAM the pipeline imported), as a user types them, checked against
samtools on the whole file downloaded with `reads export`."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import htsget
import pytest

from omics_toolkit.errors import ReadSetArchivedError
from tests.support.demo_sample import reads_cli, samtools

#: 1 kb of the demo contig, 1-based inclusive (samtools' REGION syntax).
REGION = "q:5001-6000"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def bam_read_set(demo_sample) -> dict[str, Any]:
    return json.loads(reads_cli("--json", "reads", "show", demo_sample.sample).stdout)


@pytest.fixture(scope="module")
def exported(demo_sample, bam_read_set, tmp_path_factory) -> dict[str, Any]:
    """The read set's BAM and BAI, downloaded whole with `reads export`."""
    out = tmp_path_factory.mktemp("export")
    result = json.loads(
        reads_cli(
            "--json", "reads", "export", bam_read_set["read_set_id"], "--out", str(out)
        ).stdout
    )
    files = {f["file"]: f for f in result["files"]}
    return {"dir": out, "files": files, "bam": Path(files["source1"]["dest"])}


def test_export_writes_the_bam_and_index_verified_and_equal_to_the_objects(
    aws, bam_read_set, exported
):
    s3 = aws.client("s3")
    assert set(exported["files"]) == {"source1", "index"}
    for slot, got in exported["files"].items():
        assert got["verified"] is True and got["bytes_fetched"] == got["bytes_total"]
        uri = bam_read_set["files"][slot]["s3_uri"]
        bucket, key = uri[len("s3://") :].split("/", 1)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == _sha256(Path(got["dest"])), slot
    # the read set holds the very BAM the run wrote
    results = json.loads(reads_cli("--json", "results", "download", "NA12878", "--url").stdout)
    run_bam = next(f for f in results["files"] if f["name"] == "bam")
    bucket, key = run_bam["uri"][len("s3://") :].split("/", 1)
    run_body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(run_body).hexdigest() == _sha256(exported["bam"])


def test_view_of_1kb_equals_samtools_on_the_whole_downloaded_bam(demo_sample, exported):
    result = reads_cli("reads", "view", demo_sample.sample, REGION)
    expected = samtools("view", exported["bam"], REGION)
    assert result.stdout == expected
    assert expected.count("\n") > 100  # ~40x over 1 kb of 151 bp reads
    stderr = " ".join(result.stderr.split())
    assert f"{REGION}: {expected.count(chr(10)):,} reads;" in stderr
    size = exported["bam"].stat().st_size
    assert f"of the {size:,}-byte file (" in stderr and "bytes transferred: " in stderr


def test_view_bam_output_and_header(demo_sample, exported, tmp_path):
    out = tmp_path / "region.bam"
    reads_cli("reads", "view", demo_sample.sample, REGION, "--format", "bam", "-o", str(out))
    assert samtools("view", out) == samtools("view", exported["bam"], REGION)
    with_header = reads_cli("reads", "view", demo_sample.sample, REGION, "--header").stdout
    assert with_header == samtools("view", "-h", "--no-PG", exported["bam"], REGION)


def test_stats_per_contig_counts_equal_samtools_idxstats(demo_sample, exported):
    result = json.loads(reads_cli("--json", "reads", "stats", demo_sample.sample).stdout)
    got = [
        f"{c['contig']}\t{c['length']}\t{c['mapped']}\t{c['unmapped']}"
        for c in result["index"]["contigs"]
    ]
    assert "\n".join(got) + "\n" == samtools("idxstats", exported["bam"])
    assert result["index"]["source"] == "index"
    assert result["index"]["bytes_read"] < result["file_size"] / 2


def test_stats_of_a_region_equal_samtools_flagstat_and_coverage(demo_sample, exported, tmp_path):
    result = json.loads(
        reads_cli("--json", "reads", "stats", demo_sample.sample, "--region", REGION).stdout
    )
    region = result["region"]
    assert region["source"] == "data" and region["bytes_read"] > 0
    assert region["region"] == REGION
    subset = tmp_path / "subset.bam"
    samtools("view", "-b", "-o", subset, exported["bam"], REGION)
    flagstat = samtools("flagstat", "-O", "json", subset)
    total = json.loads(flagstat)["QC-passed reads"]["total"]
    assert region["reads"] == total
    assert region["flagstat"]["total (QC-passed reads + QC-failed reads)"][0] == total
    samtools("index", subset)
    cov = samtools("coverage", "-r", REGION, subset).splitlines()[1].split("\t")
    assert region["coverage"]["numreads"] == float(cov[3])
    assert region["coverage"]["meandepth"] == pytest.approx(float(cov[6]), rel=1e-4)


def test_output_file_is_never_emptied_or_replaced_without_overwrite(demo_sample, tmp_path):
    """Before: -o truncated the file before the contig was checked, then failed (0 bytes)."""
    keep = tmp_path / "keep.sam"
    keep.write_text("precious\n")
    failed = reads_cli("reads", "view", demo_sample.sample, "chr1:1-10", "-o", str(keep), ok=False)
    assert failed.exit_code != 0 and keep.read_text() == "precious\n"
    refused = reads_cli("reads", "view", demo_sample.sample, REGION, "-o", str(keep), ok=False)
    assert "--overwrite" in str(refused.exception) and keep.read_text() == "precious\n"
    reads_cli("reads", "view", demo_sample.sample, REGION, "-o", str(keep), "--overwrite")
    assert keep.read_text().count("\n") > 100
    assert not list(tmp_path.glob(".*partial"))
    # an output named .bam gets BAM, as samtools picks the format from the extension
    bam = tmp_path / "region.bam"
    reads_cli("reads", "view", demo_sample.sample, REGION, "-o", str(bam))
    assert bam.read_bytes()[:2] == b"\x1f\x8b"


def test_bad_region_and_unknown_contig_say_what_to_type(demo_sample):
    bad = reads_cli("reads", "view", demo_sample.sample, "q:200-100", ok=False)
    assert bad.exit_code != 0 and "q:200-100" in str(bad.exception)
    absent = reads_cli("reads", "view", demo_sample.sample, "chr1:1-100", ok=False)
    assert absent.exit_code != 0 and "q" in str(absent.exception)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_the_ga4gh_client_with_the_regions_reads(demo_sample, exported, tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "omics_toolkit", "-d", demo_sample.deployment, "reads", "serve",
         "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "reads serve did not listen"
                time.sleep(0.2)
        out = tmp_path / "htsget.bam"
        with out.open("wb") as handle:
            htsget.get(
                f"http://127.0.0.1:{port}/reads/{demo_sample.sample}",
                handle,
                reference_name="q",
                start=5000,
                end=6000,
            )
        samtools("index", out)  # a ticket's blocks may hold reads beside the region
        assert samtools("view", out, REGION) == samtools("view", exported["bam"], REGION)
        vcf = tmp_path / "htsget.vcf.gz"
        with vcf.open("wb") as handle:
            htsget.get(
                f"http://127.0.0.1:{port}/variants/{demo_sample.sample}",
                handle,
                data_format="VCF",
                reference_name="q",
            )
        records = subprocess.run(
            ["bcftools", "view", "-H", str(vcf)], capture_output=True, text=True, check=True
        ).stdout
        assert records.count("\n") >= 14  # the 14 GIAB SNVs are called (notes/data.md)
        # a web page from elsewhere, or a rebinding DNS name, gets no ticket (403 htsget JSON)
        url = f"http://127.0.0.1:{port}/reads/{demo_sample.sample}?referenceName=q"
        for header in ({"Origin": "https://evil.example"}, {"Host": "evil.example"}):
            request = urllib.request.Request(url, headers=header)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 403, header
            assert json.loads(refused.value.read())["htsget"]["error"] == "PermissionDenied"
        local = urllib.request.Request(url, headers={"Origin": "http://localhost:3000"})
        with urllib.request.urlopen(local, timeout=10) as answer:
            assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_archived_read_set_says_how_to_activate_and_activation_restores_it(
    demo_sample, bam_read_set
):
    """Last in the module: archives the shared read set twice, activating it each time (before,
    the second activation returned the first, finished job and the read set stayed ARCHIVED)."""
    rs = bam_read_set["read_set_id"]
    jobs = []
    for _ in range(2):
        reads_cli("local", "archive-read-set", rs)  # the deployment's sequence store
        try:
            shown = json.loads(reads_cli("--json", "reads", "show", rs).stdout)
            assert shown["status"] == "ARCHIVED"
            result = reads_cli("reads", "view", rs, REGION, ok=False)
            assert isinstance(result.exception, ReadSetArchivedError)
            assert f"run `omics-toolkit reads activate {rs}`" in str(result.exception)
            exported = reads_cli("reads", "export", rs, "--out", "/nonexistent-never", ok=False)
            assert isinstance(exported.exception, ReadSetArchivedError)
        finally:
            done = json.loads(reads_cli("--json", "reads", "activate", rs, "--wait").stdout)
        assert done["status"] == "ACTIVE" and done["job_status"] == "COMPLETED"
        jobs.append(done["activation_job_id"])
        again = reads_cli("reads", "view", rs, REGION)
        assert again.stdout.count("\n") > 100
    assert jobs[0] != jobs[1]
    already = json.loads(reads_cli("--json", "reads", "activate", rs).stdout)
    assert already == {
        "read_set_id": rs,
        "sample_id": demo_sample.sample,
        "status": "ACTIVE",
        "activation_job_id": None,
    }
