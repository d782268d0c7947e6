"""Failure records: readable causes, the failed step, what a retry reuses."""

import json

from omics_toolkit.pipeline.failures import completed_steps, describe_cause, failed_step
from omics_toolkit.pipeline.retry import resume_state

LANES = [{"lane": "1", "fastq1": "s3://b/NA1_R1.fq.gz", "fastq2": "s3://b/NA1_R2.fq.gz"}]


def test_read_set_import_cause_names_each_failed_file_and_its_problem():
    job = {
        "Id": "1234567890",
        "Status": "FAILED",
        "Sources": [
            {
                "Status": "FAILED",
                "StatusMessage": "NA1_R1.fq.gz: truncated gzip after 99 reads",
                "SourceFiles": {
                    "Source1": "s3://b/x/NA1_R1.fq.gz",
                    "Source2": "s3://b/NA1_R2.fq.gz",
                },
            }
        ],
    }
    cause = describe_cause("ReadSetImportFailed", json.dumps(job))
    assert cause == (
        "read set import 1234567890 FAILED: NA1_R1.fq.gz + NA1_R2.fq.gz: "
        "NA1_R1.fq.gz: truncated gzip after 99 reads"
    )


def test_run_and_lambda_and_service_causes():
    run = {"Id": "42", "Status": "FAILED", "FailureReason": "WORKFLOW_FAILED", "StatusMessage": "x"}
    assert describe_cause("RunFailed", json.dumps(run)) == "run 42 FAILED: WORKFLOW_FAILED: x"
    lam = {"errorType": "RunOutputsMissingError", "errorMessage": "run 42: no vcf"}
    assert describe_cause("RunOutputsMissingError", json.dumps(lam)) == (
        "RunOutputsMissingError: run 42: no vcf"
    )
    assert describe_cause("Omics.ValidationException", "bad id") == (
        "Omics.ValidationException: bad id"
    )


def test_failed_step_and_completed_steps_follow_the_results_present():
    reads = {"Id": "1", "Status": "COMPLETED", "Sources": []}
    run_ok = {"Id": "2", "Status": "COMPLETED", "Arn": "arn"}
    outputs = {"bam": "s3://o/b.bam", "vcf": "s3://o/v.vcf.gz"}
    assert failed_step({"lanes": LANES, "error": {"Error": "Omics.X"}}) == "ImportReads"
    assert failed_step({"readsImport": reads, "error": {"Error": "Omics.X"}}) == "StartRun"
    assert failed_step({"readsImport": reads, "run": {"Status": "FAILED"}}) == "Run"
    bam_failed = {"bam": {"failed": True}, "vcf": {"jobId": "j"}}
    state = {"readsImport": reads, "run": run_ok, "outputs": outputs, "imports": bam_failed}
    assert failed_step(state) == "ImportBam"
    assert completed_steps(state) == ["ImportReads", "Run", "FindRunOutputs", "ImportVcf"]


def test_resume_keeps_completed_results_in_order_only():
    reads = {"Id": "1", "Status": "COMPLETED"}
    state = {
        "lanes": LANES,
        "readsImport": reads,
        "run": {"Id": "2", "Status": "FAILED"},
        "outputs": {"bam": "s3://x"},  # cannot come after a failed run: ignored
    }
    assert resume_state(state) == ({"readsImport": reads}, ["ImportReads"])
    state["run"] = {"Id": "2", "Status": "COMPLETED"}
    state["imports"] = {"bam": {"failed": True, "Error": "e"}, "vcf": {"jobId": "j"}}
    resume, reused = resume_state(state)
    assert reused == ["ImportReads", "Run", "FindRunOutputs", "ImportVcf"]
    assert resume["imports"] == {"vcf": {"jobId": "j"}}
    assert resume_state({"lanes": LANES, "readsImport": {"Status": "FAILED"}}) == ({}, [])
