"""The pair detector's core on the local stack's real S3 and Step Functions: exactly one execution
per content, whatever the order, duplication or concurrency of the events.

Every test runs on its own bucket and its own trivial state machine (one Pass state), and ends by
checking that exactly the expected executions exist and that every input object is still there,
unchanged (same ETag).
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit.aws.stepfunctions import list_executions
from omics_toolkit.pipeline.trigger import handle_s3_event
from omics_toolkit.pipeline.upload import upload_manifest

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}
ROLE = "arn:aws:iam::123456789012:role/trigger-test"
_ids = itertools.count()


class Rig:
    """A bucket, a state machine and the event handler wired to them."""

    def __init__(self, aws: Any, definition: dict[str, Any] = PASS) -> None:
        n = next(_ids)
        self.s3, self.sfn = aws.client("s3"), aws.client("stepfunctions")
        self.bucket = f"trigger-{n}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.arn = self.sfn.create_state_machine(
            name=f"trigger-{n}", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        self.etags: dict[str, str] = {}

    def put(self, key: str, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.etags[key] = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)["ETag"]

    def handle(self, *raw_keys: str, pattern: str | None = None) -> list[dict[str, Any]]:
        """Deliver one event with a record per key (keys as S3 events encode them)."""
        event = {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": self.bucket}, "object": {"key": k}},
                }
                for k in raw_keys
            ]
        }
        return handle_s3_event(
            event,
            self.s3,
            self.sfn,
            state_machine_arn=self.arn,
            poll_interval_seconds=1,
            pair_pattern=pattern,
        )

    def executions(self) -> dict[str, dict[str, Any]]:
        """Every execution by name, with its input; fails on a name seen twice."""
        listed = list_executions(self.sfn, self.arn)
        names = [e["name"] for e in listed]
        assert len(names) == len(set(names)), f"duplicate executions: {sorted(names)}"
        return {
            e["name"]: json.loads(
                self.sfn.describe_execution(executionArn=e["executionArn"])["input"]
            )
            for e in listed
        }

    def assert_inputs_unchanged(self) -> None:
        """Every object put is still there with its ETag (nothing moved, deleted or rewritten)."""
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            found.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
        assert found == self.etags


@pytest.fixture
def rig(aws: Any) -> Rig:
    return Rig(aws)


def _encode(key: str) -> str:
    """A key as S3 event notifications carry it (URL-encoded, '+' for spaces)."""
    from urllib.parse import quote_plus

    return quote_plus(key, safe="/")


def test_duplicate_and_mate_events_start_exactly_one_running_execution(aws):
    rig = Rig(aws, WAIT)
    rig.put("in/my sample_R1.fq.gz", "r1")
    first = rig.handle("in/my+sample_R1.fq.gz")
    assert [(r["action"], r["waiting_for"]) for r in first] == [
        ("waiting", ["in/my sample_R2.fq.gz"])
    ]
    rig.put("in/my sample_R2.fq.gz", "r2")
    rig.put("in/notes.txt", "x")
    # Both mates' events, a duplicate, and a non-FASTQ object in one batch, while it runs.
    results = rig.handle(
        "in/my+sample_R2.fq.gz",
        "in/my+sample_R1.fq.gz",
        "in/my+sample_R2.fq.gz",
        "in/notes.txt",
    )
    assert [r["action"] for r in results] == [
        "started",
        "already-started",
        "already-started",
        "ignored",
    ]
    name = results[0]["execution_name"]
    assert {r["execution_name"] for r in results[:3]} == {name}
    executions = rig.executions()
    assert list(executions) == [name]
    started = executions[name]
    assert started["lanes"] == [
        {
            "lane": "1",
            "fastq1": f"s3://{rig.bucket}/in/my sample_R1.fq.gz",
            "fastq2": f"s3://{rig.bucket}/in/my sample_R2.fq.gz",
        }
    ]
    assert started["sample"] == started["subjectId"] == "my sample" and started["token"] == name
    assert started["source"] == {
        "kind": "pair",
        "objects": [
            {"key": "in/my sample_R1.fq.gz", "etag": rig.etags["in/my sample_R1.fq.gz"]},
            {"key": "in/my sample_R2.fq.gz", "etag": rig.etags["in/my sample_R2.fq.gz"]},
        ],
    }
    status = rig.sfn.describe_execution(
        executionArn=f"{rig.arn}:{name}".replace(":stateMachine:", ":execution:")
    )["status"]
    assert status == "RUNNING"
    rig.sfn.stop_execution(executionArn=list_executions(rig.sfn, rig.arn)[0]["executionArn"])
    # the duplicate after it stopped still starts nothing
    assert [r["action"] for r in rig.handle("in/my+sample_R1.fq.gz")] == ["already-started"]
    assert list(rig.executions()) == [name]
    rig.assert_inputs_unchanged()


def test_r2_before_r1(rig):
    rig.put("NA12878_R2.fastq.gz", "two")
    assert rig.handle("NA12878_R2.fastq.gz")[0]["action"] == "waiting"
    assert rig.executions() == {}
    rig.put("NA12878_R1.fastq.gz", "one")
    [r] = rig.handle("NA12878_R1.fastq.gz")
    assert r["action"] == "started"
    [r2] = rig.handle("NA12878_R2.fastq.gz")  # R2's event delivered again, late
    assert (r2["action"], r2["execution_name"]) == ("already-started", r["execution_name"])
    assert list(rig.executions()) == [r["execution_name"]]
    rig.assert_inputs_unchanged()


def test_mates_handled_concurrently_start_exactly_one_execution(aws):
    rig = Rig(aws, WAIT)  # still RUNNING when the second StartExecution arrives
    samples = [f"S{i}" for i in range(8)]
    for s in samples:
        rig.put(f"c/{s}_R1.fq.gz", f"{s}-1")
        rig.put(f"c/{s}_R2.fq.gz", f"{s}-2")
    outcomes: dict[str, list[dict[str, Any]]] = {s: [] for s in samples}
    for s in samples:
        barrier = threading.Barrier(2)

        def deliver(key: str, sample: str = s, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            outcomes[sample].extend(rig.handle(key))

        threads = [threading.Thread(target=deliver, args=(f"c/{s}_R{m}.fq.gz",)) for m in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    executions = rig.executions()
    assert len(executions) == len(samples)
    for s in samples:
        results = outcomes[s]
        assert len(results) == 2
        assert {r["execution_name"] for r in results} == {results[0]["execution_name"]}
        assert results[0]["execution_name"] in executions
        # both may see it absent and send StartExecution: AWS (and moto) answer the second
        # with the running execution, or ExecutionAlreadyExists
        assert {r["action"] for r in results} <= {"started", "already-started"}
        assert "started" in {r["action"] for r in results}
    for e in list_executions(rig.sfn, rig.arn):
        rig.sfn.stop_execution(executionArn=e["executionArn"])
    rig.assert_inputs_unchanged()


def test_prefix_sample_names(rig):
    rig.put("p/NA12878_R1.fq", "a")
    rig.put("p/NA12878_R2.fq", "b")
    rig.put("p/NA1_R1.fq", "c")
    # NA1's R1 never pairs with NA12878's R2
    assert rig.handle("p/NA1_R1.fq")[0]["waiting_for"] == ["p/NA1_R2.fq"]
    [big] = rig.handle("p/NA12878_R2.fq")
    rig.put("p/NA1_R2.fq", "d")
    [small] = rig.handle("p/NA1_R2.fq")
    assert (big["sample"], small["sample"]) == ("NA12878", "NA1")
    assert small["supersedes"] == [] and big["supersedes"] == []
    executions = rig.executions()
    assert set(executions) == {big["execution_name"], small["execution_name"]}
    assert executions[small["execution_name"]]["lanes"][0]["fastq1"].endswith("/p/NA1_R1.fq")
    rig.assert_inputs_unchanged()


def test_unicode_and_space_keys(rig):
    keys = ["données/échantillon n°1_R1.fq.gz", "données/échantillon n°1_R2.fq.gz"]
    for k in keys:
        rig.put(k, k)
    results = rig.handle(*(_encode(k) for k in keys))
    assert [(r["key"], r["action"]) for r in results] == [
        (keys[0], "started"),
        (keys[1], "already-started"),
    ]
    [(name, started)] = rig.executions().items()
    assert started["sample"] == "échantillon n°1"
    assert started["lanes"][0]["fastq2"] == f"s3://{rig.bucket}/{keys[1]}"
    assert name.startswith("-chantillon-n-1-")
    rig.assert_inputs_unchanged()


CONVENTIONS = [
    ("S_R1.fastq.gz", "S_R2.fastq.gz", "S", "1", None),
    ("S_1.fq", "S_2.fq", "S", "1", None),
    ("S.R1.fastq", "S.R2.fastq", "S", "1", None),
    ("S_R1.fq.gz", "S_R2.fq.gz", "S", "1", None),
    ("S_S4_L003_R1_001.fastq.gz", "S_S4_L003_R2_001.fastq.gz", "S", "L003", None),
    (
        "S-lane7-mate1.fastq.gz",
        "S-lane7-mate2.fastq.gz",
        "S",
        "7",
        r"(?P<sample>[^-]+)-lane(?P<lane>\d+)-mate(?P<mate>[12])\.fastq\.gz",
    ),
]


@pytest.mark.parametrize(("k1", "k2", "sample", "lane", "pattern"), CONVENTIONS)
def test_every_convention(rig, k1, k2, sample, lane, pattern):
    rig.put(f"conv/{k2}", "2")
    assert rig.handle(f"conv/{k2}", pattern=pattern)[0]["action"] == "waiting"
    rig.put(f"conv/{k1}", "1")
    [r] = rig.handle(f"conv/{k1}", pattern=pattern)
    assert (r["action"], r["sample"]) == ("started", sample)
    assert rig.executions()[r["execution_name"]]["lanes"] == [
        {
            "lane": lane,
            "fastq1": f"s3://{rig.bucket}/conv/{k1}",
            "fastq2": f"s3://{rig.bucket}/conv/{k2}",
        }
    ]
    rig.assert_inputs_unchanged()


MANIFEST = (
    "sample,lane,fastq_1,fastq_2\n"
    "NA12878,L001,NA12878_S1_L001_R1_001.fastq.gz,NA12878_S1_L001_R2_001.fastq.gz\n"
    "NA12878,L002,NA12878_S1_L002_R1_001.fastq.gz,NA12878_S1_L002_R2_001.fastq.gz\n"
    "NA1,,NA1_R1.fq,NA1_R2.fq\n"
)
FILES = [
    "NA12878_S1_L001_R1_001.fastq.gz",
    "NA12878_S1_L001_R2_001.fastq.gz",
    "NA12878_S1_L002_R1_001.fastq.gz",
    "NA12878_S1_L002_R2_001.fastq.gz",
    "NA1_R1.fq",
    "NA1_R2.fq",
]


def _check_na12878(rig: Rig, started: dict[str, Any], manifest: str) -> None:
    assert started["sample"] == "NA12878"
    assert started["lanes"] == [
        {
            "lane": lane,
            "fastq1": f"s3://{rig.bucket}/batch/NA12878_S1_{lane}_R1_001.fastq.gz",
            "fastq2": f"s3://{rig.bucket}/batch/NA12878_S1_{lane}_R2_001.fastq.gz",
        }
        for lane in ("L001", "L002")
    ]
    assert started["source"] == {
        "kind": "manifest",
        "manifest": f"s3://{rig.bucket}/batch/{manifest}",
        "objects": [{"key": f"batch/{f}", "etag": rig.etags[f"batch/{f}"]} for f in FILES[:4]],
    }


def test_multi_lane_manifest_first_then_fastqs(rig):
    rig.put("batch/samplesheet.csv", MANIFEST)
    assert [r["action"] for r in rig.handle("batch/samplesheet.csv")] == ["waiting", "waiting"]
    started = []
    for f in FILES:
        rig.put(f"batch/{f}", f)
        # every event delivered twice
        for r in rig.handle(f"batch/{f}", f"batch/{f}"):
            assert r["kind"] == "manifest" and r["action"] != "ignored"
            if r["action"] == "started":
                started.append((f, r["sample"]))
    # the last file of each sample starts it, once
    assert started == [(FILES[3], "NA12878"), (FILES[5], "NA1")]
    executions = rig.executions()
    assert len(executions) == 2
    [na12878] = [v for k, v in executions.items() if k.startswith("NA12878-")]
    _check_na12878(rig, na12878, "samplesheet.csv")
    # the manifest's event again: nothing new
    assert [r["action"] for r in rig.handle("batch/samplesheet.csv")] == ["already-started"] * 2
    assert len(rig.executions()) == 2
    rig.assert_inputs_unchanged()


def test_fastqs_first_then_manifest_last(rig):
    for f in FILES:
        rig.put(f"batch/{f}", f)
    # before the manifest, these are plain pair uploads: one run per lane
    per_pair = rig.handle(*(f"batch/{f}" for f in FILES))
    pair_runs = {r["execution_name"] for r in per_pair if r["action"] == "started"}
    assert len(pair_runs) == 3  # NA12878 L001, NA12878 L002, NA1
    manifest = {
        "samples": [
            {
                "sample": "NA12878",
                "lanes": [
                    {"fastq_1": FILES[0], "fastq_2": FILES[1], "lane": "L001"},
                    {
                        "fastq_1": f"s3://{rig.bucket}/batch/{FILES[2]}",
                        "fastq_2": FILES[3],
                        "lane": "L002",
                    },
                ],
            },
            {"sample": "NA1", "lanes": [{"fastq_1": FILES[4], "fastq_2": FILES[5]}]},
        ]
    }
    rig.put("batch/run.manifest.json", json.dumps(manifest))
    results = rig.handle("batch/run.manifest.json")
    by_sample = {r["sample"]: r for r in results}
    assert by_sample["NA12878"]["action"] == "started"
    # the manifest run supersedes both per-lane runs of NA12878
    assert sorted(by_sample["NA12878"]["supersedes"]) == sorted(
        n for n in pair_runs if n.startswith("NA12878-")
    )
    # NA1's single pair with lane "1": the same content as its pair run, nothing new
    assert by_sample["NA1"]["action"] == "already-started"
    assert by_sample["NA1"]["execution_name"] in pair_runs
    executions = rig.executions()
    assert set(executions) == pair_runs | {by_sample["NA12878"]["execution_name"]}
    _check_na12878(rig, executions[by_sample["NA12878"]["execution_name"]], "run.manifest.json")
    # later FASTQ events in what is now a manifest folder start nothing new
    assert {r["action"] for r in rig.handle(*(f"batch/{f}" for f in FILES))} == {"already-started"}
    assert len(rig.executions()) == 4
    rig.assert_inputs_unchanged()


def test_reupload_same_content_starts_nothing_new_content_supersedes(rig):
    rig.put("re/NA1_R1.fq.gz", "one")
    rig.put("re/NA1_R2.fq.gz", "two")
    rig.put("re/NA12878_R1.fq.gz", "other sample")
    rig.put("re/NA12878_R2.fq.gz", "other sample 2")
    [first] = rig.handle("re/NA1_R2.fq.gz")
    [other] = rig.handle("re/NA12878_R1.fq.gz")
    # the same bytes again: same ETags, same execution name
    rig.put("re/NA1_R1.fq.gz", "one")
    rig.put("re/NA1_R2.fq.gz", "two")
    assert [r["action"] for r in rig.handle("re/NA1_R1.fq.gz", "re/NA1_R2.fq.gz")] == [
        "already-started",
        "already-started",
    ]
    assert set(rig.executions()) == {first["execution_name"], other["execution_name"]}
    # new content for NA1: a new execution that says what it supersedes (not NA12878's)
    rig.put("re/NA1_R2.fq.gz", "two, corrected")
    [new] = rig.handle("re/NA1_R2.fq.gz")
    assert new["action"] == "started" and new["supersedes"] == [first["execution_name"]]
    executions = rig.executions()
    assert set(executions) == {
        first["execution_name"],
        other["execution_name"],
        new["execution_name"],
    }
    assert executions[new["execution_name"]]["source"]["objects"][1] == {
        "key": "re/NA1_R2.fq.gz",
        "etag": rig.etags["re/NA1_R2.fq.gz"],
    }
    rig.assert_inputs_unchanged()


def test_upload_manifest_uploads_manifest_first_skips_unchanged_and_reports(rig, tmp_path: Path):
    local = tmp_path / "batch"
    local.mkdir()
    (local / "samplesheet.csv").write_text(MANIFEST)
    for f in FILES:
        (local / f).write_bytes(f.encode() * 10)
    order: list[tuple[str, str]] = []
    first = upload_manifest(
        rig.s3,
        rig.bucket,
        local / "samplesheet.csv",
        sfn=rig.sfn,
        state_machine_arn=rig.arn,
        report=lambda action, uri: order.append((action, uri)),
    )
    prefix = f"s3://{rig.bucket}/fastq/batch/"
    assert order == [("upload", prefix + "samplesheet.csv")] + [
        ("upload", prefix + f) for f in FILES
    ]
    assert first["manifest"] == prefix + "samplesheet.csv" and first["unchanged"] == []
    assert [(e["sample"], e["lanes"], e["status"]) for e in first["executions"]] == [
        ("NA12878", ["L001", "L002"], "will start"),
        ("NA1", ["1"], "will start"),
    ]
    for uri in first["uploaded"]:
        key = uri[len(f"s3://{rig.bucket}/") :]
        rig.etags[key] = rig.s3.head_object(Bucket=rig.bucket, Key=key)["ETag"]
    # the events, in upload order
    results = rig.handle(*(_encode(u[len(f"s3://{rig.bucket}/") :]) for u in first["uploaded"]))
    started = {r["execution_name"] for r in results if r["action"] == "started"}
    assert started == {e["execution_name"] for e in first["executions"]}
    assert set(rig.executions()) == started
    # again: nothing uploaded but the manifest (re-put last, its event re-checks), nothing new
    order.clear()
    second = upload_manifest(
        rig.s3,
        rig.bucket,
        local / "samplesheet.csv",
        sfn=rig.sfn,
        state_machine_arn=rig.arn,
        report=lambda action, uri: order.append((action, uri)),
    )
    assert second["uploaded"] == [] and order[-1] == ("unchanged", prefix + "samplesheet.csv")
    assert [e["status"] for e in second["executions"]] == ["exists", "exists"]
    assert [r["action"] for r in rig.handle("fastq/batch/samplesheet.csv")] == [
        "already-started"
    ] * 2
    # one file changed: only it is uploaded, and its sample's new run supersedes the old one
    (local / FILES[5]).write_bytes(b"@r\nACGT\n+\nIIII\n")
    third = upload_manifest(
        rig.s3, rig.bucket, local / "samplesheet.csv", sfn=rig.sfn, state_machine_arn=rig.arn
    )
    assert third["uploaded"] == [prefix + FILES[5]]
    na1 = third["executions"][1]
    old_na1 = first["executions"][1]["execution_name"]
    assert (na1["status"], na1["supersedes"]) == ("will start", [old_na1])
    rig.etags[f"fastq/batch/{FILES[5]}"] = rig.s3.head_object(
        Bucket=rig.bucket, Key=f"fastq/batch/{FILES[5]}"
    )["ETag"]
    [r] = rig.handle(f"fastq/batch/{FILES[5]}")
    assert (r["action"], r["execution_name"], r["supersedes"]) == (
        "started",
        na1["execution_name"],
        [old_na1],
    )
    assert set(rig.executions()) == started | {na1["execution_name"]}
    rig.assert_inputs_unchanged()
