"""docs/aws-operations.md and omics_toolkit/aws_operations.json are what the code gives."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "aws_operations", ROOT / "scripts" / "aws_operations.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["aws_operations"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_files_are_current(gen) -> None:  # type: ignore[no-untyped-def]
    markdown, data, problems = gen.build()
    assert problems == []
    assert gen.DOC.read_text() == markdown, "run: python scripts/aws_operations.py"
    assert gen.DATA.read_text() == data, "run: python scripts/aws_operations.py"


def test_check_fails_when_a_call_is_added_without_regenerating(gen, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert gen.main(["--check"]) == 0
    # a new call in a scanned file changes the table: --check must say the files are stale
    extra = ROOT / "omics_toolkit" / "_test_new_call.py"
    extra.write_text(
        'def f(ctx):\n    ctx.client("omics").create_share(resourceArn="a", principalSubscriber="b", shareName="c")\n'
    )
    try:
        assert gen.main(["--check"]) == 1
    finally:
        extra.unlink()


def test_unknown_operation_names_are_errors(gen, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "x.py"
    source.write_text(
        "def f(ctx, omics):\n"
        '    s3 = ctx.client("s3")\n'
        '    s3.put_objekt(Bucket="b", Key="k")\n'
        '    s3.get_paginator("list_objects_v3")\n'
        '    omics.start_run(workflowId="1")\n'
        '    s3.upload_file("f", "b", "k")\n'
    )
    gen_root = gen.ROOT
    try:
        gen.ROOT = tmp_path
        calls, problems, _ = gen.scan_python(source)
    finally:
        gen.ROOT = gen_root
    assert ("omics", "StartRun", "call") in calls
    assert ("s3", "PutObject", "transfer") in calls
    assert sorted(problems) == [
        "x.py: s3.get_paginator('list_objects_v3') is not an operation",
        "x.py: s3.put_objekt is not an operation",
    ]
    machine = tmp_path / "m.json"
    machine.write_text(
        json.dumps(
            {
                "States": {
                    "A": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:omics:startRunn"}
                }
            }
        )
    )
    gen.ROOT = tmp_path
    try:
        calls, problems = gen.scan_state_machine(machine)
    finally:
        gen.ROOT = gen_root
    assert calls == []
    assert problems == ["m.json: arn:aws:states:::aws-sdk:omics:startRunn names no operation"]


def test_iam_action_mapping(gen) -> None:  # type: ignore[no-untyped-def]
    assert gen.iam_actions("s3", "ListObjectsV2") == ["s3:ListBucket"]
    assert gen.iam_actions("stepfunctions", "StartExecution") == ["states:StartExecution"]
    assert gen.iam_actions("sts", "GetCallerIdentity") == []
    with pytest.raises(LookupError, match="add it to IAM_ACTIONS"):
        gen.iam_actions("s3", "PutBucketNotificationConfigurationX")


def test_provision_actions_include_pass_role_and_no_reads_missing(gen) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(gen.DATA.read_text())
    actions = set(data["provision_actions"])
    assert {
        "iam:PassRole",
        "omics:CreateWorkflow",
        "lambda:CreateFunction",
        "states:CreateStateMachine",
    } <= actions
    # the provision list is the union of the provisioning modules' rows
    rows = [
        o
        for o in data["operations"]
        if any(f.startswith("omics_toolkit/provisioning/") for f in o["files"])
    ]
    assert actions == {a for o in rows for a in o["iam_actions"] + o["dependent_actions"]}
