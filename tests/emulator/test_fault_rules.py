"""Fault rules of the HealthOmics emulator: validation against the model, matching, counting."""

from __future__ import annotations

import pytest

from healthomics_emulator.faults import FaultRegistry, FaultRuleError
from healthomics_emulator.model import ServiceModel


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return ServiceModel()


@pytest.fixture
def registry(model: ServiceModel) -> FaultRegistry:
    return FaultRegistry(model)


def test_added_rules_get_ids_defaults_and_counters(registry: FaultRegistry) -> None:
    added = registry.add(
        [
            {"operation": "StartRun", "error": "ThrottlingException"},
            {"job": "run", "fail": "boom", "count": None, "match": {"name": "r1"}},
        ]
    )
    assert added == [
        {
            "kind": "api",
            "operation": "StartRun",
            "error": "ThrottlingException",
            "message": None,
            "when": "before",
            "id": "f1",
            "count": 1,
            "remaining": 1,
            "fired": 0,
            "active": True,
            "delay_seconds": 0.0,
            "match": {},
        },
        {
            "kind": "job",
            "job": "run",
            "fail": "boom",
            "id": "f2",
            "count": None,
            "remaining": None,
            "fired": 0,
            "active": True,
            "delay_seconds": 0.0,
            "match": {"name": "r1"},
        },
    ]
    assert registry.describe() == added
    assert registry.clear() == 2
    assert registry.describe() == []
    assert registry.add([{"operation": "*", "delay_seconds": 1}])[0]["id"] == "f3"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"operation": "StartRuns", "error": "ThrottlingException"}, "did you mean StartRun"),
        ({"operation": "StartRun", "error": "Throttled"}, "not an error of the omics model"),
        (
            {"operation": "CreateSequenceStore", "error": "ConflictException"},
            "CreateSequenceStore does not declare ConflictException; it declares: "
            "AccessDeniedException, InternalServerException",
        ),
        ({"operation": "StartRun", "error": "ThrottlingException", "when": "later"}, "when must"),
        ({"operation": "StartRun"}, "give an error, a delay_seconds, or both"),
        ({"operation": "StartRun", "error": "ThrottlingException", "count": 0}, "count must"),
        ({"operation": "StartRun", "delay_seconds": -1}, "delay_seconds must be between"),
        (
            {"operation": "StartRun", "error": "ThrottlingException", "match": {"nme": "x"}},
            "StartRun has no request parameter(s) nme",
        ),
        ({"operation": "StartRun", "job": "run", "fail": "x"}, 'either "operation"'),
        ({"operation": "StartRun", "fail": "x"}, "unknown field(s) fail"),
        ({"job": "batch", "fail": "x"}, "job must be one of run, read_set_import"),
        ({"job": "run"}, "give fail (a status message), delay_seconds, or both"),
        ({"job": "run", "fail": "two\nlines"}, "one line of printable characters"),
        ({"job": "run", "fail": "x", "match": {"sample": "s"}}, "runs have no field(s) sample"),
        (
            {"job": "variant_import", "fail": "x", "match": {"source_file_type": "VCF"}},
            "variant_import jobs match on source_contains only",
        ),
        (
            {"job": "read_set_import", "fail": "x", "match": {"source_file_type": "VCF"}},
            "source_file_type must be one of FASTQ, BAM, CRAM, UBAM",
        ),
    ],
)
def test_invalid_rules_are_rejected_with_the_reason(
    registry: FaultRegistry, rule: dict[str, object], expected: str
) -> None:
    with pytest.raises(FaultRuleError) as exc:
        registry.add([{"operation": "GetRun", "error": "ThrottlingException"}, rule])
    assert str(exc.value).startswith("rule 2: ")
    assert expected in str(exc.value)
    assert registry.describe() == []  # all or none


def test_api_rules_match_operation_and_params_and_count_down(registry: FaultRegistry) -> None:
    registry.add(
        [
            {"operation": "StartRun", "error": "ThrottlingException", "match": {"name": "a"}},
            {"operation": "*", "error": "InternalServerException", "count": None},
        ]
    )
    hit = registry.take_api("StartRun", {"name": "a"})
    assert hit is not None and hit.id == "f1"
    err = hit.api_error("StartRun")
    assert err is not None and err.code == "ThrottlingException" and "f1" in err.message
    # f1 is used up: the catch-all fires from now on, for any operation, without end
    for _ in range(3):
        again = registry.take_api("StartRun", {"name": "a"})
        assert again is not None and again.id == "f2"
    shown = {r["id"]: r for r in registry.describe()}
    assert (shown["f1"]["remaining"], shown["f1"]["fired"], shown["f1"]["active"]) == (0, 1, False)
    assert (shown["f2"]["remaining"], shown["f2"]["fired"]) == (None, 3)


def test_job_rules_match_run_fields_and_import_sources(registry: FaultRegistry) -> None:
    registry.add(
        [
            {"job": "run", "fail": "x", "match": {"name": "r1", "requestId": "q"}},
            {
                "job": "read_set_import",
                "fail": "y",
                "match": {"source_contains": "bam", "source_file_type": "BAM"},
            },
            {"job": "variant_import", "delay_seconds": 1},
        ]
    )
    assert registry.take_job("run", fields={"name": "r1"}) is None
    assert registry.take_job("run", fields={"name": "r1", "requestId": "q"}) is not None
    fastq = (["s3://b/x.bam.fastq.gz"], "FASTQ")
    bam = (["s3://b/x.bam"], "BAM")
    assert registry.take_job("read_set_import", sources=[fastq]) is None
    hit = registry.take_job("read_set_import", sources=[fastq, bam])
    assert hit is not None and hit.source_index == 1 and hit.fail == "y"
    assert registry.take_job("read_set_import", sources=[bam]) is None  # count 1: used up
    hit = registry.take_job("variant_import", sources=[(["s3://b/a.vcf"], None)])
    assert hit is not None and hit.source_index == 0 and hit.fail is None
    assert registry.take_job("annotation_import", sources=[(["s3://b/a.vcf"], None)]) is None
