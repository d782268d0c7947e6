"""`reads list` and `reads show` on the demo sample's read sets, as a user types them."""

from __future__ import annotations

import json

from omics_toolkit.errors import UserError
from tests.support.demo_sample import reads_cli


def test_list_shows_the_fastq_and_the_aligned_bam_read_sets(demo_sample):
    rows = json.loads(reads_cli("--json", "reads", "list").stdout)
    mine = [r for r in rows if r["sample_id"] == demo_sample.sample]
    assert sorted(r["file_type"] for r in mine) == ["BAM", "FASTQ"]
    fastq = next(r for r in mine if r["file_type"] == "FASTQ")
    # 1,633 complete pairs of 2x151 reads (notes/data.md); HealthOmics counts both mates
    assert fastq["total_read_count"] == 3266
    assert all(r["status"] == "ACTIVE" for r in mine)
    # sizes and files as `reads show` gives them (one GetReadSetMetadata per read set)
    bam = next(r for r in mine if r["file_type"] == "BAM")
    assert set(bam["files"]) == {"source1", "index"} and bam["size_bytes"] > 100_000
    assert set(fastq["files"]) == {"source1", "source2"}
    only = json.loads(reads_cli("--json", "reads", "list", "--sample", "nobody").stdout)
    assert only == []
    text = reads_cli("reads", "list", "--sample", demo_sample.sample).stdout
    assert "FASTQ" in text and "BAM" in text and "3,266" in text


def test_show_by_sample_gives_the_newest_read_set_with_its_files(demo_sample):
    shown = json.loads(reads_cli("--json", "reads", "show", demo_sample.sample).stdout)
    assert shown["file_type"] == "BAM" and shown["sample_id"] == demo_sample.sample
    assert set(shown["files"]) >= {"source1"}
    by_id = json.loads(reads_cli("--json", "reads", "show", shown["read_set_id"]).stdout)
    assert by_id == shown
    text = reads_cli("reads", "show", shown["read_set_id"]).stdout
    assert f"read set {shown['read_set_id']}" in text and "source1" in text


def test_unknown_sample_says_how_to_list(demo_sample):
    result = reads_cli("reads", "show", "nobody", ok=False)
    assert isinstance(result.exception, UserError)  # run() prints it as one `error:` line
    assert "no read set or sample named 'nobody'" in str(result.exception)
    assert "omics-toolkit reads list" in str(result.exception)
