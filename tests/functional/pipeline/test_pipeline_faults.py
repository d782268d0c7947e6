"""The deployed pipeline on the local stack under faults: nothing lost, nothing run twice.

One deployment (real Lambdas, real state machine, real miniwdl runs of the bcftools workflow on
real reads) serves every test. Each test checks, besides its own point:
- no duplicate: one execution per pair (retries aside), one HealthOmics run per execution;
- nothing lost or modified: every uploaded object is still there with its ETag.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from healthomics_emulator import control
from omics_toolkit.aws.session import local_context
from omics_toolkit.aws.stepfunctions import execution_arn, list_executions
from omics_toolkit.config import Settings
from omics_toolkit.constants import LIFECYCLE_TAG
from omics_toolkit.data import bam_to_fastq_pair, fetch_demo_data
from omics_toolkit.local import faults as lambda_faults
from omics_toolkit.pipeline.failures import EVENT_SOURCE, FAILED_DETAIL_TYPE
from omics_toolkit.pipeline.retry import plan_retry, start_retry
from omics_toolkit.pipeline.status import describe, history, wait_for_execution
from omics_toolkit.provisioning.provision import Provisioner

pytestmark = pytest.mark.slow

DEPLOYMENT = "faults"


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``omics-toolkit --deployment faults --json ...`` against the session's local stack."""
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", "--deployment", DEPLOYMENT, "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


class Pipeline:
    """The deployment under test and the checks every test makes."""

    def __init__(self, local_stack: dict[str, Any], tmp: Path) -> None:
        self.ctx = local_context(local_stack["moto"], local_stack["omics"])
        self.omics_url = local_stack["omics"]
        self.state_dir = Path(os.environ["OMICS_TOOLKIT_HOME"]) / "local"
        self.settings = Settings(
            deployment=DEPLOYMENT,
            home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
            poll_interval_seconds=1,
            max_poll_interval_seconds=2,
            # Every run option the toolkit exposes, so every run of these tests carries them.
            storage_type="STATIC",
            storage_capacity_gib=2400,
            run_group_max_cpus=512,
            cache_behavior="CACHE_ON_FAILURE",
            retention_mode="REMOVE",
            log_level="ERROR",
            run_tags={"project": "faults", "sample": "not-overridden"},
        )
        demo = fetch_demo_data()
        self.dep = Provisioner(self.ctx, self.settings).apply(str(demo.reference))
        self.bucket = self.dep.names.input_bucket
        self.sm = self.dep.require("state_machine_arn")
        self.r1, self.r2 = bam_to_fastq_pair(demo.bam, tmp, "reads")
        self.s3 = self.ctx.client("s3")
        self.sfn = self.ctx.client("stepfunctions")
        self.omics = self.ctx.client("omics")
        self.uploaded: dict[str, str] = {}  # key -> ETag of everything any test uploaded

    # -- inputs --------------------------------------------------------------------------
    def put(self, key: str, body: bytes, tagging: str = "") -> str:
        etag = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, Tagging=tagging)["ETag"]
        self.uploaded[key] = etag
        return etag

    def put_pair(self, r1_key: str, r2_key: str) -> None:
        self.put(r1_key, self.r1.read_bytes())
        self.put(r2_key, self.r2.read_bytes())

    # -- executions ----------------------------------------------------------------------
    def executions(self, sample: str) -> list[dict[str, Any]]:
        found = []
        for item in list_executions(self.sfn, self.sm):
            ex = self.sfn.describe_execution(executionArn=item["executionArn"])
            if json.loads(ex["input"])["sample"] == sample:
                found.append(ex)
        return found

    def wait_started(self, sample: str, count: int = 1, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.executions(sample)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def finish(self, sample: str, timeout: float = 600) -> Any:
        """Wait for the sample's only execution to start and stop; return its status."""
        started = self.wait_started(sample)
        assert len(started) == 1, [e["name"] for e in started]
        return self.finish_execution(started[0]["executionArn"], timeout)

    def finish_execution(self, arn: str, timeout: float = 600) -> Any:
        wait_for_execution(self.sfn, arn, poll_seconds=0.5, timeout_seconds=timeout)
        return describe(self.sfn, arn, detail=True)

    # -- the invariants ------------------------------------------------------------------
    def assert_exactly_once(self, sample: str, executions: int = 1) -> None:
        found = self.executions(sample)
        assert len(found) == executions, [e["name"] for e in found]
        for ex in found:
            runs = self.omics.list_runs(name=ex["name"])["items"]
            assert len(runs) <= 1, (ex["name"], runs)

    def assert_inputs_unchanged(self) -> None:
        for key, etag in self.uploaded.items():
            assert self.s3.head_object(Bucket=self.bucket, Key=key)["ETag"] == etag, key

    def tags(self, key: str) -> dict[str, str]:
        tagset = self.s3.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]
        return {t["Key"]: t["Value"] for t in tagset}


@pytest.fixture(scope="module")
def pipeline(local_stack, tmp_path_factory):
    p = Pipeline(local_stack, tmp_path_factory.mktemp("fault-reads"))
    yield p
    control.clear_faults(p.omics_url)
    lambda_faults.clear_lambda_faults(p.state_dir)


@pytest.fixture(autouse=True)
def no_faults_left(pipeline):
    yield
    control.clear_faults(pipeline.omics_url)
    lambda_faults.clear_lambda_faults(pipeline.state_dir)
    pipeline.assert_inputs_unchanged()


@pytest.fixture(scope="module")
def notifications(pipeline):
    """SQS queues receiving the SNS topic's messages and the EventBridge failure events."""
    sqs, sns, events = (pipeline.ctx.client(s) for s in ("sqs", "sns", "events"))
    topic = pipeline.ctx.client("sns").list_topics()["Topics"]
    topic_arn = next(
        t["TopicArn"] for t in topic if t["TopicArn"].endswith("faults-pipeline-events")
    )
    queues = {}
    for name in ("sns", "events"):
        url = sqs.create_queue(QueueName=f"faults-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queues[name] = (url, arn)
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queues["sns"][1],
        Attributes={"RawMessageDelivery": "true"},
    )
    events.put_rule(
        Name="faults-failures",
        EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": [FAILED_DETAIL_TYPE]}),
    )
    events.put_targets(Rule="faults-failures", Targets=[{"Id": "q", "Arn": queues["events"][1]}])

    def received(kind: str) -> list[dict[str, Any]]:
        msgs = sqs.receive_message(QueueUrl=queues[kind][0], MaxNumberOfMessages=10).get(
            "Messages", []
        )
        bodies = [json.loads(m["Body"]) for m in msgs]
        return [b["detail"] if kind == "events" else b for b in bodies]

    return received


# ---- transient faults: retried, exactly once ------------------------------------------------


def test_throttling_and_5xx_on_every_healthomics_call_are_retried_exactly_once(pipeline):
    rules = [
        {"operation": op, "error": "ThrottlingException", "count": 1}
        for op in (
            "StartReadSetImportJob",
            "GetReadSetImportJob",
            "StartRun",
            "GetRun",
            "StartVariantImportJob",
            "GetVariantImportJob",
        )
    ]
    # 5xx after the work was done (the response is lost): the retry must find the same job/run.
    rules += [
        {"operation": op, "error": "InternalServerException", "when": "after", "count": 1}
        for op in ("StartReadSetImportJob", "StartRun")
    ]
    rules += [
        {"operation": op, "error": "InternalServerException", "count": 1}
        for op in ("GetReadSetImportJob", "GetRun", "GetVariantImportJob")
    ]
    control.add_faults(pipeline.omics_url, rules)
    pipeline.put("throttled/THR_R1.fastq.gz", pipeline.r1.read_bytes(), tagging="owner=lab-7")
    pipeline.put("throttled/THR_R2.fastq.gz", pipeline.r2.read_bytes())
    status = pipeline.finish("THR")
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    fired = {
        (r["operation"], r.get("when", "before")): r["fired"]
        for r in control.get_faults(pipeline.omics_url)
    }
    assert all(n >= 1 for n in fired.values()), fired
    pipeline.assert_exactly_once("THR")
    # One reads import (FASTQ read set) and one BAM read set for the sample, despite the lost
    # responses of StartReadSetImportJob.
    sets = pipeline.omics.list_read_sets(
        sequenceStoreId=pipeline.dep.sequence_store_id, filter={"sampleId": "THR"}
    )["readSets"]
    assert sorted(r["fileType"] for r in sets) == ["BAM", "FASTQ"]
    # The lifecycle tag is merged with the user's own tags.
    assert pipeline.tags("throttled/THR_R1.fastq.gz") == {
        "owner": "lab-7",
        LIFECYCLE_TAG: "processed",
    }


def test_a_lambda_timing_out_once_is_retried(pipeline):
    fn = pipeline.dep.names.function("run_outputs")
    lambda_faults.add_lambda_faults(
        pipeline.state_dir, [{"function": fn, "mode": "timeout_after_handler", "count": 1}]
    )
    detector = pipeline.dep.names.function("pair_detector")
    lambda_faults.add_lambda_faults(
        pipeline.state_dir, [{"function": detector, "mode": "timeout_after_handler", "count": 1}]
    )
    pipeline.put_pair("timeout/TMO_1.fq.gz", "timeout/TMO_2.fq.gz")
    status = pipeline.finish("TMO")
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    assert all(r["fired"] == 1 for r in lambda_faults.lambda_faults(pipeline.state_dir))
    pipeline.assert_exactly_once("TMO")


# ---- failures: recorded, notified, retried reusing completed steps --------------------------


def test_a_failed_run_is_recorded_notified_and_retried_reusing_the_read_sets(
    pipeline, notifications
):
    control.add_faults(
        pipeline.omics_url,
        [{"job": "run", "fail": "task CallVariants failed: out of memory", "count": 1}],
    )
    pipeline.put_pair("runfail/RUNF_R1.fastq.gz", "runfail/RUNF_R2.fastq.gz")
    status = pipeline.finish("RUNF")
    assert (status.status, status.error, status.step) == ("FAILED", "RunFailed", "Run")
    assert "out of memory" in status.cause
    assert any("/aws/omics/WorkflowLog" in where for where in status.logs)
    assert status.completed == ["ImportReads"]
    assert pipeline.tags("runfail/RUNF_R1.fastq.gz")[LIFECYCLE_TAG] == "failed"
    for kind in ("sns", "events"):
        [message] = [m for m in notifications(kind) if m["sample"] == "RUNF"]
        assert message["error"] == "RunFailed" and "out of memory" in message["cause"]

    plan = start_retry(
        pipeline.sfn, pipeline.sm, plan_retry(pipeline.sfn, pipeline.s3, pipeline.sm, "RUNF")
    )
    assert plan.started and plan.reused == ["ImportReads"]
    again = start_retry(pipeline.sfn, pipeline.sm, plan)
    assert not again.started  # the same retry twice starts it once
    retried = pipeline.finish_execution(execution_arn(pipeline.sm, plan.name))
    assert retried.status == "SUCCEEDED", (retried.step, retried.error, retried.cause)
    pipeline.assert_exactly_once("RUNF", executions=2)
    # The reads were imported once: the retry reused the read set.
    sets = pipeline.omics.list_read_sets(
        sequenceStoreId=pipeline.dep.sequence_store_id, filter={"sampleId": "RUNF"}
    )["readSets"]
    assert sorted(r["fileType"] for r in sets) == ["BAM", "FASTQ"]
    assert pipeline.tags("runfail/RUNF_R1.fastq.gz")[LIFECYCLE_TAG] == "processed"

    # The CLI: the failed execution shows its step, cause and logs; the sample is done now.
    failed = _cli("runs", "show", plan.failed)
    assert failed.returncode == 0, failed.stderr
    shown = json.loads(failed.stdout)
    assert (shown["status"], shown["step"], shown["error"]) == ("FAILED", "Run", "RunFailed")
    assert "out of memory" in shown["cause"] and shown["run_id"]
    listed = json.loads(_cli("runs").stdout)
    assert {(r["name"], r["status"]) for r in listed if r["sample"] == "RUNF"} == {
        (plan.failed, "FAILED"),
        (plan.name, "SUCCEEDED"),
    }
    refused = _cli("runs", "retry", "RUNF")
    assert refused.returncode == 1 and "nothing to retry" in refused.stderr, refused.stderr


def test_a_failed_bam_import_keeps_the_vcf_import_and_the_retry_imports_only_the_bam(pipeline):
    control.add_faults(
        pipeline.omics_url,
        [
            {
                "job": "read_set_import",
                "match": {"source_file_type": "BAM"},
                "fail": "BAM import refused",
                "count": 1,
            }
        ],
    )
    pipeline.put_pair("bamfail/BAMF_R1.fastq.gz", "bamfail/BAMF_R2.fastq.gz")
    status = pipeline.finish("BAMF")
    assert (status.status, status.step) == ("FAILED", "ImportBam"), (status.error, status.cause)
    assert "BAM import refused" in status.cause
    assert status.completed == ["ImportReads", "Run", "FindRunOutputs", "ImportVcf"]
    vcf_jobs = pipeline.omics.list_variant_import_jobs()["variantImportJobs"]
    before = len(vcf_jobs)

    plan = start_retry(
        pipeline.sfn, pipeline.sm, plan_retry(pipeline.sfn, pipeline.s3, pipeline.sm, "BAMF")
    )
    assert plan.reused == ["ImportReads", "Run", "FindRunOutputs", "ImportVcf"]
    retried = pipeline.finish_execution(execution_arn(pipeline.sm, plan.name))
    assert retried.status == "SUCCEEDED", (retried.step, retried.error, retried.cause)
    assert len(pipeline.omics.list_variant_import_jobs()["variantImportJobs"]) == before
    assert len(pipeline.omics.list_runs(name=plan.failed)["items"]) == 1
    pipeline.assert_exactly_once("BAMF", executions=2)


def test_a_failed_vcf_import_keeps_the_bam_and_a_retry_from_start_reuses_nothing(pipeline):
    """README "When things go wrong": when the VCF import fails the BAM import still completes
    and is kept; ``runs retry --from-start`` reuses nothing (reads, run and imports again)."""
    control.add_faults(
        pipeline.omics_url,
        [{"job": "variant_import", "fail": "VCF import refused", "count": 1}],
    )
    pipeline.put_pair("vcffail/VCFF_R1.fastq.gz", "vcffail/VCFF_R2.fastq.gz")
    status = pipeline.finish("VCFF")
    assert (status.status, status.step) == ("FAILED", "ImportVcf"), (status.error, status.cause)
    assert "VCF import refused" in status.cause
    assert status.completed == ["ImportReads", "Run", "FindRunOutputs", "ImportBam"]

    def read_sets() -> list[str]:
        found = pipeline.omics.list_read_sets(
            sequenceStoreId=pipeline.dep.sequence_store_id, filter={"sampleId": "VCFF"}
        )["readSets"]
        return sorted(r["fileType"] for r in found)

    assert read_sets() == ["BAM", "FASTQ"]  # the BAM import completed and is kept

    started = _cli("runs", "retry", "VCFF", "--from-start")
    assert started.returncode == 0, started.stderr
    plan = json.loads(started.stdout)
    assert (plan["failed"], plan["reused"], plan["started"]) == (status.name, [], True)
    ex = pipeline.sfn.describe_execution(executionArn=execution_arn(pipeline.sm, plan["execution"]))
    assert "resume" not in json.loads(ex["input"])
    retried = pipeline.finish_execution(ex["executionArn"])
    assert retried.status == "SUCCEEDED", (retried.step, retried.error, retried.cause)
    # Every step ran again: a second reads import, a second run, a second BAM.
    assert read_sets() == ["BAM", "BAM", "FASTQ", "FASTQ"]
    for name in (status.name, plan["execution"]):
        assert len(pipeline.omics.list_runs(name=name)["items"]) == 1, name
    pipeline.assert_exactly_once("VCFF", executions=2)


def test_replaced_files_are_not_retried_the_new_upload_has_its_own_execution(pipeline):
    """README "When things go wrong": a sample whose files were replaced (same key, new
    content) is not retried as the old files; the new upload has its own execution."""
    key1, key2 = "replaced/REPL_R1.fastq.gz", "replaced/REPL_R2.fastq.gz"
    pipeline.put(key1, _fastq(10))  # not gzip: fails fast at ImportReads
    pipeline.put(key2, gzip.compress(_fastq(10)))
    old = pipeline.finish("REPL", timeout=300)
    assert (old.status, old.step) == ("FAILED", "ImportReads"), (old.error, old.cause)

    pipeline.put(key1, _fastq(12))  # replaced: new content under the same key
    both = pipeline.wait_started("REPL", count=2)
    [new] = [e for e in both if e["name"] != old.name]
    assert new["name"] != old.name
    pipeline.finish_execution(new["executionArn"], timeout=300)

    refused = _cli("runs", "retry", old.name)
    assert refused.returncode == 1, refused.stdout
    assert "changed since this execution" in refused.stderr, refused.stderr
    assert "REPL_R1.fastq.gz" in refused.stderr, refused.stderr
    # Nothing was started for the old files; the sample's retry is the new upload's.
    assert not [e for e in pipeline.executions("REPL") if e["name"].startswith(f"{old.name}-r")]
    plan = plan_retry(pipeline.sfn, pipeline.s3, pipeline.sm, "REPL")
    assert plan.failed == new["name"]
    pipeline.assert_exactly_once("REPL", executions=2)


# ---- bad inputs: a recorded failure naming the file and the problem ------------------------


def _fastq(n: int, prefix: str = "r") -> bytes:
    return b"".join(f"@{prefix}{i}\nACGT\n+\nIIII\n".encode() for i in range(n))


BAD_INPUTS = {
    # sample: (R1 bytes, R2 bytes, words the cause must contain)
    "NOTGZ": (_fastq(10), _fastq(10), ["NOTGZ_R1.fastq.gz", "gzip"]),
    "TRUNC": (
        gzip.compress(_fastq(500))[:-40],
        gzip.compress(_fastq(500)),
        ["TRUNC_R1", "truncated"],
    ),
    "COUNT": (gzip.compress(_fastq(10)), gzip.compress(_fastq(9)), ["COUNT_R", "10", "9"]),
    "EMPTY": (b"", gzip.compress(_fastq(3)), ["EMPTY_R1.fastq.gz", "empty"]),
    "NOTFQ": (
        gzip.compress(b"sample,fastq_1\nx,y\n"),
        gzip.compress(_fastq(1)),
        ["NOTFQ_R1", "FASTQ"],
    ),
}


def test_bad_inputs_end_in_a_recorded_failure_naming_the_file_and_the_problem(pipeline):
    for sample, (one, two, _) in BAD_INPUTS.items():
        pipeline.put(f"bad/{sample}_R1.fastq.gz", one)
        pipeline.put(f"bad/{sample}_R2.fastq.gz", two)
    for sample, (_, _, words) in BAD_INPUTS.items():
        status = pipeline.finish(sample, timeout=300)
        assert (status.status, status.error, status.step) == (
            "FAILED",
            "ReadSetImportFailed",
            "ImportReads",
        ), (sample, status.cause)
        for word in words:
            assert word.lower() in status.cause.lower(), (sample, word, status.cause)
        assert pipeline.tags(f"bad/{sample}_R1.fastq.gz")[LIFECYCLE_TAG] == "failed"
        pipeline.assert_exactly_once(sample)


# ---- the history budget, measured ----------------------------------------------------------


def test_a_capped_poll_costs_the_events_the_budget_counts(pipeline):
    """Count the events between two capped polls of the run in a real history: the constant
    omics_toolkit.pipeline.history uses for its 72-hour calculation."""
    from omics_toolkit.pipeline.history import EVENTS_PER_STATE

    control.add_faults(
        pipeline.omics_url,
        [
            {"job": "run", "delay_seconds": 8, "count": 1},
            # Slow imports: every poll loop goes round more than once.
            {"job": "read_set_import", "delay_seconds": 4, "count": 2},
            {"job": "variant_import", "delay_seconds": 4, "count": 1},
        ],
    )
    pipeline.put_pair("slow/SLOW_R1.fastq.gz", "slow/SLOW_R2.fastq.gz")
    status = pipeline.finish("SLOW")
    assert status.status == "SUCCEEDED"
    events = history(pipeline.sfn, status.arn)
    waits = [
        e["id"]
        for e in events
        if e["type"] == "WaitStateEntered" and e["stateEnteredEventDetails"]["name"] == "WaitRun"
    ]
    gaps = [b - a for a, b in zip(waits, waits[1:], strict=False)]
    assert len(gaps) >= 3, gaps
    steady = EVENTS_PER_STATE["Wait"] + EVENTS_PER_STATE["Task"] + EVENTS_PER_STATE["Choice"]
    assert gaps[-1] == steady == 9, gaps
    pipeline.assert_exactly_once("SLOW")


# ---- real-world uploads through the real pipeline ------------------------------------------


def _split_fastq(path: Path, parts: int) -> list[bytes]:
    """The records of a (gzip) FASTQ dealt into ``parts`` gzip files, in order."""
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    records = [b"".join(lines[i : i + 4]) for i in range(0, len(lines), 4)]
    size = -(-len(records) // parts)
    return [gzip.compress(b"".join(records[i : i + size])) for i in range(0, len(records), size)]


def test_a_multi_lane_manifest_runs_once_with_every_lane_despite_duplicate_events(pipeline):
    lambda_faults.set_s3_duplicates(pipeline.state_dir, 20)  # every event delivered twice
    one, two = _split_fastq(pipeline.r1, 2), _split_fastq(pipeline.r2, 2)
    manifest = (
        "sample,lane,fastq_1,fastq_2\n"
        "MULTI,L001,MULTI_S1_L001_R1_001.fastq.gz,MULTI_S1_L001_R2_001.fastq.gz\n"
        "MULTI,L002,MULTI_S1_L002_R1_001.fastq.gz,MULTI_S1_L002_R2_001.fastq.gz\n"
    )
    pipeline.put("flowcell/samplesheet.csv", manifest.encode())  # the manifest first
    for lane, (a, b) in enumerate(zip(one, two, strict=True), 1):
        pipeline.put(f"flowcell/MULTI_S1_L00{lane}_R1_001.fastq.gz", a)
        pipeline.put(f"flowcell/MULTI_S1_L00{lane}_R2_001.fastq.gz", b)
    status = pipeline.finish("MULTI")
    assert status.status == "SUCCEEDED", (status.step, status.error, status.cause)
    assert lambda_faults.s3_faults(pipeline.state_dir)["duplicated"] >= 5
    lambda_faults.clear_s3_faults(pipeline.state_dir)
    pipeline.assert_exactly_once("MULTI")
    # One read set per lane; the run got both lanes, in order, with their read groups.
    sets = pipeline.omics.list_read_sets(
        sequenceStoreId=pipeline.dep.sequence_store_id, filter={"sampleId": "MULTI"}
    )["readSets"]
    assert sorted(r["fileType"] for r in sets) == ["BAM", "FASTQ", "FASTQ"]
    [run] = pipeline.omics.list_runs(name=status.name)["items"]
    params = pipeline.omics.get_run(id=run["id"])["parameters"]
    assert len(params["fastq_1"]) == len(params["fastq_2"]) == 2
    assert params["read_groups"] == ["L001", "L002"]
    assert pipeline.tags("flowcell/MULTI_S1_L002_R2_001.fastq.gz")[LIFECYCLE_TAG] == "processed"


def test_a_burst_of_pairs_runs_each_exactly_once(pipeline):
    """16 pairs (``$OMICS_TOOLKIT_BURST_PAIRS``) uploaded at once by 16 threads, mates in random
    order: one execution each, all SUCCEEDED (100 pairs, wall time and throughput:
    bench/burst.py). 32 uploads keep all 16 threads busy through the burst, so mates of one
    sample and events of different samples still race as with more pairs."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    one = _split_fastq(pipeline.r1, 20)[0]  # ~200 read pairs: the point is the orchestration
    two = _split_fastq(pipeline.r2, 20)[0]
    count = int(os.environ.get("OMICS_TOOLKIT_BURST_PAIRS", "16"))
    samples = [f"BURST{i:03d}" for i in range(count)]
    uploads = [
        (f"burst/{s}_R{m}.fastq.gz", one if m == 1 else two) for s in samples for m in (1, 2)
    ]
    random.Random(7).shuffle(uploads)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: pipeline.put(*kv), uploads))
    deadline = time.monotonic() + 1500
    while time.monotonic() < deadline:
        items = [
            e for e in list_executions(pipeline.sfn, pipeline.sm) if e["name"].startswith("BURST")
        ]
        if len(items) >= count and all(e["status"] != "RUNNING" for e in items):
            break
        time.sleep(1)
    names = sorted(e["name"] for e in items)
    assert len(names) == len(set(names)) == count, len(names)
    failed = [
        describe(pipeline.sfn, e["executionArn"]) for e in items if e["status"] != "SUCCEEDED"
    ]
    assert not failed, [(f.name, f.status, f.step, f.error, f.cause) for f in failed[:5]]
    assert sorted({n.rsplit("-", 1)[0] for n in names}) == samples
    runs = [
        r for page in pipeline.omics.get_paginator("list_runs").paginate() for r in page["items"]
    ]
    burst_runs = [r["name"] for r in runs if r["name"].startswith("BURST")]
    assert sorted(burst_runs) == names  # one run per execution


def test_runs_carry_the_configured_run_options(pipeline):
    """StartRun gets storage, run group, cache, retention, log level and tags from the settings."""
    pipeline.put_pair("options/OPTS_R1.fastq.gz", "options/OPTS_R2.fastq.gz")
    status = pipeline.finish("OPTS")
    assert status.status == "SUCCEEDED", (status.error, status.cause)
    [run] = pipeline.omics.list_runs(name=status.name)["items"]
    got = pipeline.omics.get_run(id=run["id"])
    group = pipeline.omics.list_run_groups(name=f"{DEPLOYMENT}-runs")["items"]
    caches = [
        c for c in pipeline.omics.list_run_caches()["items"] if c["name"] == f"{DEPLOYMENT}-cache"
    ]
    assert [g["id"] for g in group] == [got["runGroupId"]]
    assert pipeline.omics.get_run_group(id=got["runGroupId"])["maxCpus"] == 512
    assert [c["id"] for c in caches] == [got["cacheId"]]
    assert got["cacheBehavior"] == "CACHE_ON_FAILURE"
    cache = pipeline.omics.get_run_cache(id=got["cacheId"])
    assert cache["cacheS3Uri"] == f"s3://{pipeline.dep.names.output_bucket}/run-cache/"
    assert (got["storageType"], got["storageCapacity"]) == ("STATIC", 2400)
    assert (got["retentionMode"], got["logLevel"]) == ("REMOVE", "ERROR")
    assert got["tags"]["project"] == "faults"
    assert got["tags"]["sample"] == "OPTS"  # the pipeline's own tags win
