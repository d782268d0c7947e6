"""The service-agnostic validator: Java patterns in Python, and every constraint botocore skips."""

from __future__ import annotations

import io
import warnings

import pytest

from healthomics_emulator.botocore_model import (
    ShapeValidator,
    compile_pattern,
    load_service_model,
    translate_pattern,
    validator_for,
)


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        # IAM and STS tag keys and values: Unicode letters, separators, numbers
        (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", "Owner: ü/1 = a+b@c", "a*b"),
        # Glue, Lake Formation, Athena: any XML character, astral ones as a UTF-16 surrogate pair
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "x 😀\t", "x\n"),
        # CloudWatch Logs: "-" after \w in a class is a literal in Java
        (r"[\w-_]*", "a-_b", "a b"),
        (r"\p{ASCII}*", "abc~", "ü"),
        (r"[\P{C}]+", "any text ü", "tab\there"),
        (r"(?:(?!\$\{[a-zA-Z]+:)[\P{C}])*", "plain", "${ssm:x}"),
        (r"[\p{L}||\p{M}||\p{Z}||\p{S}||\p{N}||\p{P}]+", "a|b", "a\x00b"),
        (r"abc\z", "abc", "abcd"),
    ],
)
def test_java_patterns_are_translated(pattern: str, good: str, bad: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning for "||" and friends
        compiled = compile_pattern(pattern)
    assert compiled is not None, translate_pattern(pattern)
    assert compiled.fullmatch(good)
    assert not compiled.fullmatch(bad)


def test_untranslatable_patterns_are_skipped_and_counted() -> None:
    pattern = r"[\p{Print}&&[^|:/]]+"  # class intersection: no Python equivalent
    with pytest.raises(ValueError):
        translate_pattern(pattern)
    assert compile_pattern(pattern) is None
    model = {
        "operations": {"Op": {"input": {"shape": "In"}}},
        "shapes": {
            "In": {"type": "structure", "members": {"name": {"shape": "Name"}}},
            "Name": {"type": "string", "pattern": pattern},
        },
    }
    validator = ShapeValidator(model)
    assert validator.validate_operation("Op", {"name": "anything"}) == []
    assert validator.unchecked_patterns == {pattern}


def test_models_of_the_provisioned_services_have_no_untranslated_pattern() -> None:
    services = ("iam", "s3", "lambda", "stepfunctions", "logs", "omics", "glue", "athena")
    services += ("lakeformation", "sts", "ecr", "kms")
    skipped = {
        s: [p for p in validator_for(s).patterns() if compile_pattern(p) is None] for s in services
    }
    assert not any(skipped.values()), skipped


def test_constraints_botocore_does_not_check() -> None:
    iam = validator_for("iam")
    assert (
        iam.validate_operation(
            "PutRolePolicy", {"RoleName": "r-1", "PolicyName": "p", "PolicyDocument": "{}"}
        )
        == []
    )
    problems = iam.validate_operation(
        "PutRolePolicy", {"RoleName": "has space", "PolicyName": "p" * 129}
    )
    assert problems == [
        "Value null at 'PolicyDocument' failed to satisfy constraint: Member must not be null",
        "Value 'has space' at 'RoleName' failed to satisfy constraint: Member must satisfy "
        r"regular expression pattern: [\w+=,.@-]+",
        f"Value '{'p' * 129}' at 'PolicyName' failed to satisfy constraint: Member must have "
        "length less than or equal to 128",
    ]
    sfn = validator_for("stepfunctions")
    (problem,) = sfn.validate_operation(
        "CreateStateMachine",
        {"name": "sm", "definition": "{}", "roleArn": "arn:aws:iam::1:role/r", "type": "BULK"},
    )
    assert "Value 'BULK' at 'type'" in problem and "enum value set: [STANDARD, EXPRESS]" in problem
    lam = validator_for("lambda")
    (problem,) = lam.validate_operation(
        "CreateFunction",
        {
            "FunctionName": "f",
            "Role": "arn:aws:iam::123456789012:role/r",
            "Code": {},
            "Timeout": 5401,
        },
    )
    assert "Value '5401' at 'Timeout'" in problem and "less than or equal to 5400" in problem


def test_nested_members_types_unknown_members_and_operations() -> None:
    iam = validator_for("iam")
    problems = iam.validate_operation(
        "CreateRole",
        {
            "RoleName": "r",
            "AssumeRolePolicyDocument": "{}",
            "Tags": [{"Key": "k*", "Value": "v"}, {"Key": "k"}],
            "MaxSessionDuration": "3600",
            "Bogus": 1,
        },
    )
    assert sorted(problems) == sorted(
        [
            "Value 'k*' at 'Tags.1.member.Key' failed to satisfy constraint: Member must satisfy "
            r"regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+",
            "Value null at 'Tags.2.member.Value' failed to satisfy constraint: Member must not be null",
            "Value '3600' at 'MaxSessionDuration' failed to satisfy constraint: Member must be of "
            "type integer",
            "Member 'Bogus' failed to satisfy constraint: Member must be one of the members of "
            "CreateRoleRequest",
        ]
    )
    assert iam.validate_operation("NoSuchThing", {}) == [
        "Operation NoSuchThing does not exist in the IAM model"
    ]
    # Blobs: bytes are measured, file objects (S3 bodies) are not read.
    kms = validator_for("kms")
    assert kms.validate_operation("Encrypt", {"KeyId": "k", "Plaintext": b"x" * 4097}) == [
        "Value '<blob>' at 'Plaintext' failed to satisfy constraint: Member must have length "
        "less than or equal to 4096"
    ]
    assert (
        validator_for("s3").validate_operation(
            "PutObject", {"Bucket": "b", "Key": "k", "Body": io.BytesIO(b"")}
        )
        == []
    )


def test_unions_need_exactly_one_member() -> None:
    omics = ShapeValidator(load_service_model("omics"))
    base = {"name": "store", "storeFormat": "TSV"}
    ok = {**base, "storeOptions": {"tsvStoreOptions": {}}}
    assert omics.validate_operation("CreateAnnotationStore", ok) == []
    (problem,) = omics.validate_operation("CreateAnnotationStore", {**base, "storeOptions": {}})
    assert problem == (
        "Value at 'storeOptions' failed to satisfy constraint: Member must have exactly one "
        "member set, found 0"
    )
