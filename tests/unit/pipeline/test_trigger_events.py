"""The pair detector's core on in-memory S3 and Step Functions fakes (the functional tests run it
on the local stack): which record starts what, the execution input contract, supersedes."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from omics_toolkit.errors import ConfigError
from omics_toolkit.pipeline.pairs import LanePair, execution_name
from omics_toolkit.pipeline.trigger import ACTIONS, TriggerResult, execution_input, handle_s3_event

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:sm"
BUCKET = "in"


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class FakeS3:
    """Objects by key; ETag = md5 of the body; ListObjectsV2 pages of ``page_size``."""

    def __init__(self, page_size: int = 1000) -> None:
        self.objects: dict[str, bytes] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.page_size = page_size

    def put(self, key: str, body: bytes | str = b"") -> None:
        self.objects[key] = body.encode() if isinstance(body, str) else body

    def etag(self, key: str) -> str:
        return hashlib.md5(self.objects[key], usedforsecurity=False).hexdigest()

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.calls.append(("HeadObject", {"Key": Key}))
        if Key not in self.objects:
            raise _error("404", "HeadObject")
        return {"ETag": f'"{self.etag(Key)}"', "ContentLength": len(self.objects[Key])}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.calls.append(("GetObject", {"Key": Key}))
        if Key not in self.objects:
            raise _error("NoSuchKey", "GetObject")
        body = self.objects[Key]

        class Body:
            def read(self) -> bytes:
                return body

        return {"Body": Body()}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        s3 = self

        class Paginator:
            def paginate(self, Bucket: str, Prefix: str, Delimiter: str) -> Any:
                s3.calls.append(("ListObjectsV2", {"Prefix": Prefix, "Delimiter": Delimiter}))
                keys = sorted(
                    k for k in s3.objects if k.startswith(Prefix) and "/" not in k[len(Prefix) :]
                )
                for i in range(0, max(len(keys), 1), s3.page_size):
                    yield {"Contents": [{"Key": k} for k in keys[i : i + s3.page_size]]}

        return Paginator()


@dataclass
class _Execution:
    name: str
    input: str
    start: datetime


class FakeSfn:
    """Executions by name; StartExecution of an existing name fails like a finished one."""

    def __init__(self) -> None:
        self.executions: dict[str, _Execution] = {}
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        name = executionArn.rsplit(":", 1)[1]
        if name not in self.executions:
            raise _error("ExecutionDoesNotExist", "DescribeExecution")
        return {"name": name, "input": self.executions[name].input}

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        assert stateMachineArn == ARN
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name)
        if name in self.executions:
            raise _error("ExecutionAlreadyExists", "StartExecution")
        self.clock += timedelta(seconds=1)
        self.executions[name] = _Execution(name, input, self.clock)
        return {"executionArn": f"{ARN}:{name}"}

    def add(self, name: str) -> None:
        self.clock += timedelta(seconds=1)
        self.executions[name] = _Execution(name, "{}", self.clock)

    def get_paginator(self, name: str) -> Any:
        assert name == "list_executions"
        execs = [
            {"name": e.name, "executionArn": f"{ARN}:{e.name}", "startDate": e.start}
            for e in self.executions.values()
        ]
        # two pages: the caller must paginate
        return _Pages([{"executions": execs[::2]}, {"executions": execs[1::2]}])

    def input(self, name: str) -> dict[str, Any]:
        return json.loads(self.executions[name].input)


def _event(*keys: str, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "Records": [
            {"eventName": event_name, "s3": {"bucket": {"name": BUCKET}, "object": {"key": k}}}
            for k in keys
        ]
    }


def _handle(s3: FakeS3, sfn: FakeSfn, *keys: str, pattern: str | None = None) -> list[dict]:
    return handle_s3_event(
        _event(*keys),
        s3,
        sfn,
        state_machine_arn=ARN,
        poll_interval_seconds=7,
        pair_pattern=pattern,
    )


@pytest.fixture
def s3() -> FakeS3:
    return FakeS3()


@pytest.fixture
def sfn() -> FakeSfn:
    return FakeSfn()


def test_execution_input_contract():
    lanes = [
        LanePair("L002", ("f/S_L002_R1.fq", '"e3"'), ("f/S_L002_R2.fq", '"e4"')),
        LanePair("L001", ("f/S_L001_R1.fq", "e1"), ("f/S_L001_R2.fq", "e2")),
    ]
    name = execution_name("S", lanes)
    assert execution_input("S", "b", lanes, name, 9, manifest="s3://b/f/manifest.csv") == {
        "sample": "S",
        "subjectId": "S",
        "lanes": [
            {"lane": "L001", "fastq1": "s3://b/f/S_L001_R1.fq", "fastq2": "s3://b/f/S_L001_R2.fq"},
            {"lane": "L002", "fastq1": "s3://b/f/S_L002_R1.fq", "fastq2": "s3://b/f/S_L002_R2.fq"},
        ],
        "token": name,
        "pollIntervalSeconds": 9,
        "source": {
            "kind": "manifest",
            "manifest": "s3://b/f/manifest.csv",
            "objects": [
                {"key": "f/S_L001_R1.fq", "etag": "e1"},
                {"key": "f/S_L001_R2.fq", "etag": "e2"},
                {"key": "f/S_L002_R1.fq", "etag": '"e3"'},
                {"key": "f/S_L002_R2.fq", "etag": '"e4"'},
            ],
        },
    }
    pair = execution_input("S", "b", lanes[:1], "n", 9)
    assert pair["source"] == {
        "kind": "pair",
        "objects": [
            {"key": "f/S_L002_R1.fq", "etag": '"e3"'},
            {"key": "f/S_L002_R2.fq", "etag": '"e4"'},
        ],
    }


def test_trigger_result_fields():
    assert list(TriggerResult("k", "ignored").__dict__) == [
        "key",
        "action",
        "sample",
        "execution_name",
        "kind",
        "manifest",
        "waiting_for",
        "supersedes",
        "detail",
    ]
    assert ACTIONS == ("ignored", "waiting", "started", "already-started", "invalid-manifest")


def test_pair_waits_for_its_mate_then_starts_once(s3, sfn):
    s3.put("in/NA12878_R2.fastq.gz", "r2")
    [waiting] = _handle(s3, sfn, "in/NA12878_R2.fastq.gz")
    assert waiting["action"] == "waiting" and waiting["waiting_for"] == ["in/NA12878_R1.fastq.gz"]
    assert waiting["kind"] == "pair" and waiting["sample"] == "NA12878"
    s3.put("in/NA12878_R1.fastq.gz", "r1")
    results = _handle(s3, sfn, "in/NA12878_R1.fastq.gz", "in/NA12878_R2.fastq.gz")
    assert [r["action"] for r in results] == ["started", "already-started"]
    name = results[0]["execution_name"]
    assert results[1]["execution_name"] == name and list(sfn.executions) == [name]
    assert sfn.input(name) == {
        "sample": "NA12878",
        "subjectId": "NA12878",
        "lanes": [
            {
                "lane": "1",
                "fastq1": f"s3://{BUCKET}/in/NA12878_R1.fastq.gz",
                "fastq2": f"s3://{BUCKET}/in/NA12878_R2.fastq.gz",
            }
        ],
        "token": name,
        "pollIntervalSeconds": 7,
        "source": {
            "kind": "pair",
            "objects": [
                {"key": "in/NA12878_R1.fastq.gz", "etag": f'"{s3.etag("in/NA12878_R1.fastq.gz")}"'},
                {"key": "in/NA12878_R2.fastq.gz", "etag": f'"{s3.etag("in/NA12878_R2.fastq.gz")}"'},
            ],
        },
    }


def test_every_record_is_handled_and_others_ignored(s3, sfn):
    for key in ("a_R1.fq", "a_R2.fq", "b_1.fq", "b_2.fq", "notes.txt", "c.fastq.gz"):
        s3.put(key, key)
    results = _handle(s3, sfn, "a_R1.fq", "notes.txt", "b_2.fq", "c.fastq.gz")
    assert [(r["action"], r["sample"]) for r in results] == [
        ("started", "a"),
        ("ignored", None),
        ("started", "b"),
        ("ignored", None),
    ]
    assert "neither FASTQ nor a manifest" in results[1]["detail"]
    assert "mate marker" in results[3]["detail"]
    assert len(sfn.executions) == 2
    # other event types are skipped
    assert (
        handle_s3_event(
            _event("a_R1.fq", event_name="ObjectRemoved:Delete"),
            s3,
            sfn,
            state_machine_arn=ARN,
            poll_interval_seconds=1,
        )
        == []
    )


def test_url_encoded_keys_are_decoded(s3, sfn):
    s3.put("in/my sample é_R1.fq.gz", "1")
    s3.put("in/my sample é_R2.fq.gz", "2")
    [r] = _handle(s3, sfn, "in/my+sample+%C3%A9_R1.fq.gz")
    assert (r["key"], r["sample"], r["action"]) == (
        "in/my sample é_R1.fq.gz",
        "my sample é",
        "started",
    )
    assert r["execution_name"].startswith("my-sample---")
    started = sfn.input(r["execution_name"])
    assert started["lanes"][0]["fastq2"] == f"s3://{BUCKET}/in/my sample é_R2.fq.gz"


def test_prefix_sample_waits_for_its_own_mate(s3, sfn):
    s3.put("NA12878_R1.fq", "x")
    s3.put("NA12878_R2.fq", "y")
    s3.put("NA1_R1.fq", "z")
    [r] = _handle(s3, sfn, "NA1_R1.fq")
    assert (r["action"], r["waiting_for"]) == ("waiting", ["NA1_R2.fq"])
    assert sfn.executions == {}


def test_configurable_pattern_reaches_the_detector(s3, sfn):
    pattern = r"(?P<sample>[^.]+)\.(?P<lane>\d)\.(?P<mate>[12])\.fq"
    s3.put("d/S7.3.1.fq", "a")
    s3.put("d/S7.3.2.fq", "b")
    [r] = _handle(s3, sfn, "d/S7.3.2.fq", pattern=pattern)
    assert (r["action"], r["sample"]) == ("started", "S7")
    assert sfn.input(r["execution_name"])["lanes"][0]["lane"] == "3"
    with pytest.raises(ConfigError, match="mate"):
        _handle(s3, sfn, "d/S7.3.2.fq", pattern=r"(?P<sample>.+)")


def test_new_content_supersedes_earlier_runs_of_that_sample_only(s3, sfn):
    s3.put("NA1_R1.fq", "old1")
    s3.put("NA1_R2.fq", "old2")
    [first] = _handle(s3, sfn, "NA1_R1.fq")
    s3.put("NA12878_R1.fq", "p")
    s3.put("NA12878_R2.fq", "q")
    _handle(s3, sfn, "NA12878_R1.fq")
    sfn.add(first["execution_name"] + "-r1")  # a retry of the first run
    sfn.add("NA1-manual")  # not a name the trigger makes
    [same] = _handle(s3, sfn, "NA1_R2.fq")
    assert same["action"] == "already-started" and same["supersedes"] == []
    s3.put("NA1_R2.fq", "new2")
    [new] = _handle(s3, sfn, "NA1_R2.fq")
    assert new["action"] == "started" and new["execution_name"] != first["execution_name"]
    assert new["supersedes"] == [first["execution_name"]]
    # and the next one supersedes both, newest first
    s3.put("NA1_R1.fq", "new1")
    [newer] = _handle(s3, sfn, "NA1_R1.fq")
    assert newer["supersedes"] == [new["execution_name"], first["execution_name"]]


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


def test_manifest_first_then_files_last_file_starts_each_sample(s3, sfn):
    s3.put("b/samplesheet.csv", MANIFEST)
    results = _handle(s3, sfn, "b/samplesheet.csv")
    assert [(r["sample"], r["action"], len(r["waiting_for"])) for r in results] == [
        ("NA12878", "waiting", 4),
        ("NA1", "waiting", 2),
    ]
    actions = []
    for name in FILES:
        s3.put("b/" + name, name)
        actions.extend((r["sample"], r["action"]) for r in _handle(s3, sfn, "b/" + name))
    assert actions == [
        ("NA12878", "waiting"),
        ("NA12878", "waiting"),
        ("NA12878", "waiting"),
        ("NA12878", "started"),
        ("NA1", "waiting"),
        ("NA1", "started"),
    ]
    assert len(sfn.executions) == 2
    [na12878] = [sfn.input(n) for n in sfn.executions if n.startswith("NA12878-")]
    assert [lane["lane"] for lane in na12878["lanes"]] == ["L001", "L002"]
    assert na12878["source"]["kind"] == "manifest"
    assert na12878["source"]["manifest"] == f"s3://{BUCKET}/b/samplesheet.csv"
    assert [o["key"] for o in na12878["source"]["objects"]] == ["b/" + f for f in FILES[:4]]
    # the manifest's own event again, and a re-upload of the same manifest: nothing new
    s3.put("b/samplesheet.csv", MANIFEST + "\n")
    again = _handle(s3, sfn, "b/samplesheet.csv", "b/NA1_R1.fq")
    assert [r["action"] for r in again] == ["already-started"] * 3
    assert len(sfn.executions) == 2


def test_files_first_then_manifest(s3, sfn):
    for name in FILES[:4]:
        s3.put("b/" + name, name)
    per_pair = _handle(s3, sfn, *("b/" + f for f in FILES[:4]))
    # no manifest yet: plain pair uploads, one run per lane (the second names the first)
    assert [r["action"] for r in per_pair] == [
        "started",
        "already-started",
        "started",
        "already-started",
    ]
    assert per_pair[2]["supersedes"] == [per_pair[0]["execution_name"]]
    lanes = {r["execution_name"] for r in per_pair if r["action"] == "started"}
    s3.put(
        "b/run.manifest.json",
        json.dumps(
            {
                "samples": [
                    {
                        "sample": "NA12878",
                        "lanes": [
                            {
                                "fastq_1": f"s3://{BUCKET}/b/{FILES[0]}",
                                "fastq_2": FILES[1],
                                "lane": "L001",
                            },
                            {"fastq_1": FILES[2], "fastq_2": FILES[3], "lane": "L002"},
                        ],
                    }
                ]
            }
        ),
    )
    [r] = _handle(s3, sfn, "b/run.manifest.json")
    assert (r["action"], r["kind"]) == ("started", "manifest")
    assert sorted(r["supersedes"]) == sorted(lanes)
    assert len(sfn.executions) == 3


def test_single_lane_manifest_after_its_pair_ran_starts_nothing_new(s3, sfn):
    s3.put("c/NA1_R1.fq", "1")
    s3.put("c/NA1_R2.fq", "2")
    [pair] = _handle(s3, sfn, "c/NA1_R2.fq")
    s3.put("c/manifest.csv", "sample,fastq_1,fastq_2\nNA1,NA1_R1.fq,NA1_R2.fq\n")
    [r] = _handle(s3, sfn, "c/manifest.csv")
    assert (r["action"], r["execution_name"]) == ("already-started", pair["execution_name"])


def test_fastq_in_a_manifest_folder_never_starts_a_pair_run(s3, sfn):
    s3.put("b/manifest.csv", "sample,fastq_1,fastq_2\nS,a.fq,b.fq\n")
    s3.put("b/X_R1.fq", "1")
    s3.put("b/X_R2.fq", "2")
    [r] = _handle(s3, sfn, "b/X_R2.fq")
    assert r["action"] == "ignored" and "listed by none" in r["detail"]
    assert sfn.executions == {}
    # the subfolder is not a manifest folder
    s3.put("b/sub/X_R1.fq", "1")
    s3.put("b/sub/X_R2.fq", "2")
    assert _handle(s3, sfn, "b/sub/X_R2.fq")[0]["action"] == "started"


def test_invalid_manifest_blocks_its_folder_and_says_why(s3, sfn):
    s3.put("b/manifest.csv", "sample,fastq_1\nS,a.fq\n")
    s3.put("b/S_R1.fq", "1")
    s3.put("b/S_R2.fq", "2")
    results = _handle(s3, sfn, "b/manifest.csv", "b/S_R1.fq")
    assert [r["action"] for r in results] == ["invalid-manifest"] * 2
    assert results[0]["manifest"] == f"s3://{BUCKET}/b/manifest.csv"
    assert "line 1: missing column(s) fastq_2" in results[0]["detail"]
    assert sfn.executions == {}
    # two manifests of one folder listing one sample
    s3.put("b/manifest.csv", "sample,fastq_1,fastq_2\nS,S_R1.fq,S_R2.fq\n")
    s3.put("b/x.manifest.csv", "sample,fastq_1,fastq_2\nS,a.fq,b.fq\n")
    [r] = _handle(s3, sfn, "b/x.manifest.csv")
    assert r["action"] == "invalid-manifest" and "sample S is also listed" in r["detail"]


def test_manifest_in_another_bucket_is_a_clear_error(s3, sfn):
    s3.put("manifest.csv", "sample,fastq_1,fastq_2\nS,s3://elsewhere/a.fq,b.fq\n")
    [r] = _handle(s3, sfn, "manifest.csv")
    assert r["action"] == "invalid-manifest"
    assert "line 2: fastq_1 s3://elsewhere/a.fq is in bucket 'elsewhere'" in r["detail"]


def test_deleted_manifest_is_ignored(s3, sfn):
    [r] = _handle(s3, sfn, "gone/manifest.json")
    assert r["action"] == "ignored" and "no longer exists" in r["detail"]


def test_manifests_are_found_with_one_bounded_listing(s3, sfn):
    s3.put("b/manifest.csv", "sample,fastq_1,fastq_2\nS,S_R1.fq,S_R2.fq\n")
    for i in range(5):
        s3.put(f"b/deeper/{i}/manifest.csv", "not even valid")
    s3.put("b/S_R1.fq", "1")
    s3.calls.clear()
    _handle(s3, sfn, "b/S_R1.fq")
    listings = [c for c in s3.calls if c[0] == "ListObjectsV2"]
    assert listings == [("ListObjectsV2", {"Prefix": "b/", "Delimiter": "/"})]
    assert [c[1]["Key"] for c in s3.calls if c[0] == "GetObject"] == ["b/manifest.csv"]


def test_manifest_past_the_first_page_of_a_large_folder_is_found(sfn):
    s3 = FakeS3(page_size=3)
    for i in range(7):
        s3.put(f"b/A{i}_R1.fq", "x")
    s3.put("b/samplesheet.csv", "sample,fastq_1,fastq_2\nS,S_R1.fq,S_R2.fq\n")
    s3.put("b/S_R1.fq", "1")
    s3.put("b/S_R2.fq", "2")
    [r] = _handle(s3, sfn, "b/S_R2.fq")
    assert (r["action"], r["kind"]) == ("started", "manifest")


def _load_handler() -> Any:
    path = Path(__file__).parents[3] / "lambdas" / "pair_detector" / "app.py"
    spec = importlib.util.spec_from_file_location("pair_detector_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    function_name: str = "pair-detector"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:pair-detector"
    aws_request_id: str = "req-1"


def test_lambda_handler_reads_its_environment(s3, sfn, monkeypatch):
    app = _load_handler()

    class Ctx:
        def client(self, service: str) -> Any:
            return {"s3": s3, "stepfunctions": sfn}[service]

    monkeypatch.setattr(app, "_aws", Ctx())
    monkeypatch.setenv("STATE_MACHINE_ARN", ARN)
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "11")
    monkeypatch.setenv("PAIR_PATTERN", r"(?P<sample>\w+)-(?P<mate>[12])\.fq")
    s3.put("k/NA1-1.fq", "a")
    s3.put("k/NA1-2.fq", "b")
    out = app.lambda_handler(_event("k/NA1-2.fq"), LambdaContext())
    [r] = out["results"]
    assert (r["action"], r["sample"]) == ("started", "NA1")
    assert sfn.input(r["execution_name"])["pollIntervalSeconds"] == 11
    monkeypatch.setenv("PAIR_PATTERN", r"(?P<sample>\w+)")
    with pytest.raises(ConfigError, match="Lambda environment PAIR_PATTERN"):
        app.lambda_handler(_event("k/NA1-2.fq"), LambdaContext())


def test_a_started_run_is_not_undone_by_a_failed_listing(s3, sfn, monkeypatch, caplog):
    s3.put("NA1_R1.fq", "old")
    s3.put("NA1_R2.fq", "x")
    _handle(s3, sfn, "NA1_R1.fq")
    s3.put("NA1_R1.fq", "new")

    def denied(name: str) -> Any:
        raise _error("AccessDeniedException", "ListExecutions")

    monkeypatch.setattr(sfn, "get_paginator", denied)
    [r] = _handle(s3, sfn, "NA1_R1.fq")
    assert (r["action"], r["supersedes"]) == ("started", [])
    assert len(sfn.executions) == 2
    assert "earlier ones not listed" in caplog.text
