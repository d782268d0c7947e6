"""Routing, parsing, validation and output shaping from the botocore omics model (no servers)."""

from __future__ import annotations

import re

import pytest

from healthomics_emulator.errors import OmicsError, ValidationError
from healthomics_emulator.model import ServiceModel, compile_pattern


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return ServiceModel()


def test_every_operation_routes_to_itself(model: ServiceModel) -> None:
    assert len(model.routes) == 107
    for route in model.routes:
        path = re.sub(r"\{[^}]+\}", "1234567890", route.template)
        found, labels = model.match(route.method, path)
        assert found.operation == route.operation
        assert all(v == "1234567890" for v in labels.values())


def test_literal_segment_wins_and_labels_are_decoded(model: ServiceModel) -> None:
    route, labels = model.match("POST", "/sequencestore/1234567890/readset/batch/delete")
    assert route.operation == "BatchDeleteReadSet"
    route, labels = model.match(
        "GET", "/tags/arn%3Aaws%3Aomics%3Aus-east-1%3A123456789012%3Arun%2F1234567"
    )
    assert route.operation == "ListTagsForResource"
    assert labels == {"resourceArn": "arn:aws:omics:us-east-1:123456789012:run/1234567"}


def test_unknown_path_and_wrong_method(model: ServiceModel) -> None:
    with pytest.raises(OmicsError) as exc:
        model.match("GET", "/nothing/here")
    assert exc.value.code == "UnknownOperationException"
    with pytest.raises(OmicsError) as exc:
        model.match("PATCH", "/run/123")
    assert exc.value.status == 405


def _validate(model: ServiceModel, op: str, params: dict) -> str:
    with pytest.raises(ValidationError) as exc:
        model.validate(op, params)
    assert exc.value.code == "ValidationException"
    return exc.value.message


def test_missing_required_member(model: ServiceModel) -> None:
    msg = _validate(model, "CreateReferenceStore", {})
    assert msg == (
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_bad_enum_pattern_length_and_range(model: ServiceModel) -> None:
    msg = _validate(model, "ListRuns", {"status": "DONE", "maxResults": 0})
    assert msg.startswith("2 validation errors detected: ")
    assert (
        "Value 'DONE' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [PENDING,"
        in msg
    )
    assert (
        "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
        in msg
    )
    msg = _validate(model, "GetReferenceStore", {"id": "12345"})
    assert "Member must have length greater than or equal to 10" in msg
    msg = _validate(model, "GetReferenceStore", {"id": "abcdefghijkl"})
    assert "Member must satisfy regular expression pattern: [0-9]+" in msg


def test_nested_list_items_are_checked(model: ServiceModel) -> None:
    params = {
        "sequenceStoreId": "1234567890",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "sources": [
            {"sourceFiles": {"source1": "http://x/y"}, "sourceFileType": "FASTQ", "subjectId": "s"}
        ],
    }
    msg = _validate(model, "StartReadSetImportJob", params)
    assert "Value null at 'sources.1.member.sampleId'" in msg
    assert "Value 'http://x/y' at 'sources.1.member.sourceFiles.source1'" in msg


def test_valid_request_passes_and_java_unicode_classes_compile(model: ServiceModel) -> None:
    model.validate("CreateSequenceStore", {"name": "my store ü-1", "tags": {"k": "v"}})
    pattern = compile_pattern(r"[\p{L}||\p{M}||\p{Z}||\p{S}||\p{N}||\p{P}]+")
    assert (
        pattern is not None
        and pattern.fullmatch("any name: ok/ü")
        and not pattern.fullmatch("tab\there")
    )


def test_parse_converts_query_uri_and_blob_members(model: ServiceModel) -> None:
    route, labels = model.match("GET", "/run/1234567/task")
    parsed = model.parse(route, labels, "maxResults=5&status=RUNNING", {}, b"")
    assert parsed.params == {"id": "1234567", "maxResults": 5, "status": "RUNNING"}
    route, labels = model.match("POST", "/workflow")
    parsed = model.parse(
        route, labels, "", {}, b'{"definitionZip": "UEsDBA==", "requestId": "r", "bogus": 1}'
    )
    assert parsed.params == {"definitionZip": b"PK\x03\x04", "requestId": "r"}
    with pytest.raises(ValidationError) as exc:
        model.parse(route, labels, "", {}, b'{"storageCapacity": "ten"}')
    assert "Member must be of type integer" in exc.value.message


def test_serialize_keeps_only_output_members_and_formats_timestamps(model: ServiceModel) -> None:
    body, headers = model.serialize(
        "GetReferenceStore",
        {"id": "1234567890", "arn": "arn:x", "creationTime": 0, "_private": 1, "unknown": 2},
    )
    assert body == {
        "id": "1234567890",
        "arn": "arn:x",
        "creationTime": "1970-01-01T00:00:00.000000Z",
    }
    assert headers == {}


def test_error_status_from_model(model: ServiceModel) -> None:
    assert model.error_status("ConflictException") == 409
    assert model.error_status("ResourceNotFoundException") == 404
    assert model.error_status("ValidationException") == 400
