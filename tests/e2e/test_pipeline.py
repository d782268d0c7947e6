"""The real path: S3 upload -> pair detector Lambda -> state machine -> emulator (miniwdl, bwa,
bcftools) -> read set + variant imports -> Athena (PyAthena) -> the 14 GIAB truth SNVs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omics_toolkit.annotations import import_annotations
from omics_toolkit.athena import bind_named, load_query, run_query
from omics_toolkit.aws.session import local_context
from omics_toolkit.aws.stepfunctions import execution_arn, list_executions
from omics_toolkit.config import Settings
from omics_toolkit.constants import LIFECYCLE_TAG
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data, truth_records, truth_snvs
from omics_toolkit.demo import compare_truth
from omics_toolkit.pipeline.status import wait_for_execution
from omics_toolkit.pipeline.upload import upload_pair
from omics_toolkit.provisioning.provision import Provisioner

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["stores", "s3tables"])
def test_upload_to_queryable_variants(local_stack, tmp_path, backend):
    settings = Settings(
        deployment="e2e" if backend == "stores" else "e2e-tables",
        home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
        poll_interval_seconds=1,
        variant_backend=backend,
    )
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    demo = fetch_demo_data()
    r1, r2 = bam_to_fastq_pair(demo.bam, tmp_path, "NA12878")
    dep = Provisioner(ctx, settings).apply(str(demo.reference))

    s3 = ctx.client("s3")
    uploaded = upload_pair(
        s3, dep.names.input_bucket, r2, r1
    )  # mates in either order on the command line
    sfn = ctx.client("stepfunctions")
    arn = execution_arn(dep.state_machine_arn, uploaded["execution_name"])
    status = wait_for_execution(sfn, arn, poll_seconds=1, timeout_seconds=600)
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)

    # Inputs are tagged for lifecycle, contents untouched.
    tags = s3.get_object_tagging(Bucket=dep.names.input_bucket, Key="fastq/NA12878_R1.fastq.gz")[
        "TagSet"
    ]
    assert {"Key": LIFECYCLE_TAG, "Value": "processed"} in tags
    body = s3.get_object(Bucket=dep.names.input_bucket, Key="fastq/NA12878_R1.fastq.gz")[
        "Body"
    ].read()
    assert body == r1.read_bytes()

    # Same content uploaded again: no second execution.
    upload_pair(s3, dep.names.input_bucket, r1, r2)
    assert len(list_executions(sfn, dep.state_machine_arn)) == 1

    # Both imports happened: a FASTQ read set and a BAM read set; the variants are queryable.
    omics = ctx.client("omics")
    read_sets = omics.list_read_sets(sequenceStoreId=dep.sequence_store_id)["readSets"]
    assert sorted(r["fileType"] for r in read_sets) == ["BAM", "FASTQ"]

    qf = load_query("variants_in_region")
    sql, params = bind_named(
        qf.sql, {"contig": "q", "region_start": 0, "region_end": 12356}, qf.params
    )
    df = run_query(ctx, settings, sql, params)
    truth = truth_snvs(demo.truth_vcf)
    assert len(truth) == 14
    checks = compare_truth(df, truth_records(demo.truth_vcf, "NA12878"))
    assert [c.describe() for c in checks if c.status != "found"] == []
    assert [(c.truth.contig, c.truth.pos) for c in checks] == truth
    assert set(df["sampleid"]) == {"NA12878"}
    # 0-based half-open: an SNV at VCF POS 186 has start 185 and end 186.
    row = df[df["start"] == 185].iloc[0]
    assert (row["end"], len(row["referenceallele"])) == (186, 1)

    summary = run_query(ctx, settings, load_query("sample_summary").sql)
    assert int(summary.loc[0, "snvs"]) >= 14

    # The sample's calls joined with imported annotations: the GIAB truth set of the slice,
    # imported as annotation set "giab", matches exactly the 14 truth SNVs by position and alleles.
    imported = import_annotations(ctx, settings, "giab", demo.truth_vcf)
    assert imported.rows == 14
    joined = run_query(
        ctx,
        settings,
        "SELECT v.contigname, v.start, v.referenceallele, a.alternatealleles[1] AS alt "
        "FROM variants v JOIN annotations_giab a ON v.contigname = a.contigname "
        "AND v.start = a.start AND v.referenceallele = a.referenceallele "
        "AND v.alternatealleles = a.alternatealleles WHERE v.sampleid = ? ORDER BY v.start",
        ["NA12878"],
    )
    assert [("q", pos) for pos in joined["start"] + 1] == truth


def test_bad_reads_fail_with_the_real_cause_and_keep_the_input(local_stack, tmp_path):
    settings = Settings(
        deployment="e2e-fail", home=Path(os.environ["OMICS_TOOLKIT_HOME"]), poll_interval_seconds=1
    )
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    dep = Provisioner(ctx, settings).apply(str(fetch_demo_data().reference))
    r1, r2 = tmp_path / "broken_R1.fastq.gz", tmp_path / "broken_R2.fastq.gz"
    r1.write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    r2.write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    s3 = ctx.client("s3")
    uploaded = upload_pair(s3, dep.names.input_bucket, r1, r2)
    sfn = ctx.client("stepfunctions")
    arn = execution_arn(dep.state_machine_arn, uploaded["execution_name"])
    status = wait_for_execution(sfn, arn, poll_seconds=1, timeout_seconds=300)
    assert status.status == "FAILED"
    assert status.error == "ReadSetImportFailed"
    assert "gzip" in status.cause.lower() or "fastq" in status.cause.lower(), status.cause
    # Nothing lost: the uploaded objects are still there, byte for byte.
    body = s3.get_object(Bucket=dep.names.input_bucket, Key="fastq/broken_R1.fastq.gz")[
        "Body"
    ].read()
    assert body == r1.read_bytes()
