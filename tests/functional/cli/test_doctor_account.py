"""`omics-toolkit doctor --target local|aws`: the account checks on the real local stack.

Each check is made to pass, then to fail the way an account would (no Lake Formation admin, a
caller whose policy lacks actions, a run group above the quota, variant stores closed, a region
without HealthOmics), and the report must say which check failed and its fix. Every call the
checks make is a read (Get/List/Describe/Simulate).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from support.omics_roles import imported_reference

from omics_toolkit.account_checks import (
    AccountCheck,
    provision_actions,
    region_checks,
    run_account_checks,
)
from omics_toolkit.aws.session import AwsContext, local_context
from omics_toolkit.config import Settings
from omics_toolkit.identity import VARIANT_BACKEND_TAG, Names
from omics_toolkit.local.stack import lifecycle

DEPLOYMENT = "ft-doctor"
READ_PREFIXES = ("Get", "List", "Describe", "Simulate")
CHECK_NAMES = [
    "region: omics",
    "region: s3tables",
    "healthomics: variant stores",
    "caller",
    "lake formation: administrator",
    "lake formation: default permissions",
    "ram: share invitations",
    "iam: provisioning permissions",
    "quota: healthomics concurrent runs",
    "quota: healthomics concurrent tasks",
    "quota: healthomics concurrent CPUs",
    "quota: lambda concurrent executions",
]


def _settings(**overrides: Any) -> Settings:
    return Settings(deployment=DEPLOYMENT, home=Path(os.environ["OMICS_TOOLKIT_HOME"]), **overrides)


def _by_name(checks: list[AccountCheck]) -> dict[str, AccountCheck]:
    return {c.name: c for c in checks}


def _reads_only(ctx: AwsContext) -> None:
    writes = [c for c in ctx.calls if not c.split(":", 1)[1].startswith(READ_PREFIXES)]
    assert writes == []
    assert ctx.calls, "the checks made no call"


@pytest.fixture
def lake_formation(aws: Any) -> Iterator[Any]:
    """The Lake Formation client; the account's data lake settings are restored afterwards."""
    lf = aws.client("lakeformation")
    before = lf.get_data_lake_settings()["DataLakeSettings"]
    yield lf
    lf.put_data_lake_settings(DataLakeSettings=before)


def _governed_by_lake_formation(lf: Any, admin: str) -> None:
    lf.put_data_lake_settings(
        DataLakeSettings={
            "DataLakeAdmins": [{"DataLakePrincipalIdentifier": admin}],
            "CreateDatabaseDefaultPermissions": [],
            "CreateTableDefaultPermissions": [],
        }
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMICS_TOOLKIT_DEPLOYMENT": DEPLOYMENT},
        timeout=300,
    )


def _accept_pending_invitations(ram: Any) -> None:
    """Accept every PENDING RAM share invitation: a ready account has accepted HealthOmics'
    shares (earlier test files of this session's stack may have left some waiting)."""
    pages = ram.get_paginator("get_resource_share_invitations").paginate()
    for invitation in [i for page in pages for i in page["resourceShareInvitations"]]:
        if invitation["status"] == "PENDING":
            ram.accept_resource_share_invitation(
                resourceShareInvitationArn=invitation["resourceShareInvitationArn"]
            )


def test_every_check_passes_on_a_ready_account_with_reads_only(
    local_stack: dict[str, Any], aws: Any, lake_formation: Any
) -> None:
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    caller = str(ctx.client("sts").get_caller_identity()["Arn"])
    _governed_by_lake_formation(lake_formation, caller)
    _accept_pending_invitations(aws.client("ram"))
    checks = run_account_checks(ctx, _settings())
    _reads_only(ctx)
    assert [c.name for c in checks] == CHECK_NAMES
    found = _by_name(checks)
    assert {c.status for n, c in found.items() if n != "healthomics: variant stores"} == {"ok"}, [
        c for c in checks if c.status != "ok"
    ]
    # no refusal recorded: "ok" when the account holds variant stores (earlier tests of the
    # session may have made some), else unknown (AWS has no read-only answer)
    has_stores = bool(ctx.client("omics").list_variant_stores(maxResults=1)["variantStores"])
    assert found["healthomics: variant stores"].status == ("ok" if has_stores else "unknown")
    # the local stack's RAM answers invitations as AWS does; none waits on a ready account
    ram = found["ram: share invitations"]
    assert ram.status == "ok" and ram.detail.endswith("none pending"), ram
    assert found["caller"].detail == caller
    assert (
        f"{len(provision_actions())} actions allowed"
        in found["iam: provisioning permissions"].detail
    )
    assert found["quota: lambda concurrent executions"].detail.endswith("(L-B99A9384) = 1000")

    # the command line: JSON report, exit status 0 (nothing failed)
    r = _cli("--json", "doctor", "--target", "local")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert [c["name"] for c in report] == CHECK_NAMES
    assert set(report[0]) == {"name", "status", "detail", "fix"}


def test_caller_not_a_data_lake_admin_fails_with_the_fix(
    local_stack: dict[str, Any], lake_formation: Any
) -> None:
    lake_formation.put_data_lake_settings(
        DataLakeSettings={
            "DataLakeAdmins": [
                {"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/someone-else"}
            ],
            "CreateDatabaseDefaultPermissions": [
                {
                    "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                    "Permissions": ["ALL"],
                }
            ],
            "CreateTableDefaultPermissions": [],
        }
    )
    ctx = local_context(local_stack["moto"], local_stack["omics"])
    found = _by_name(run_account_checks(ctx, _settings()))
    admin = found["lake formation: administrator"]
    assert admin.status == "fail"
    assert (
        "arn:aws:iam::123456789012:user/omics-toolkit-local is not a data lake administrator"
        in admin.detail
    )
    assert admin.fix.startswith(
        "add arn:aws:iam::123456789012:user/omics-toolkit-local as a data lake administrator"
    )
    defaults = found["lake formation: default permissions"]
    assert defaults.status == "fail"
    assert "on for new databases (CreateDatabaseDefaultPermissions" in defaults.detail
    assert "CreateDatabaseDefaultPermissions=[]" in defaults.fix

    r = _cli("--json", "doctor", "--target", "local")
    assert r.returncode == 1
    statuses = {c["name"]: c["status"] for c in json.loads(r.stdout)}
    assert statuses["lake formation: administrator"] == "fail"


def _limited_principal(aws: Any, name: str, allowed: list[str]) -> tuple[str, dict[str, str]]:
    """An IAM user allowed only ``allowed``; returns (ARN, its access key)."""
    iam = aws.client("iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="limited",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": allowed, "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, key


def _context_as(local_stack: dict[str, Any], key: dict[str, str]) -> AwsContext:
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name="us-east-1",
    )
    return AwsContext(
        session=session, endpoints={"default": local_stack["moto"], "omics": local_stack["omics"]}
    )


def test_a_caller_whose_policy_lacks_actions_fails_permissions_and_ram(
    local_stack: dict[str, Any], aws: Any, lake_formation: Any
) -> None:
    everything_but_omics = sorted(
        {a for a in provision_actions() if not a.startswith(("omics:", "ram:"))}
    )
    arn, key = _limited_principal(aws, "ft-doctor-limited", everything_but_omics)
    ctx = _context_as(local_stack, key)
    _governed_by_lake_formation(lake_formation, arn)
    found = _by_name(run_account_checks(ctx, _settings()))
    _reads_only(ctx)
    assert found["caller"].detail == arn
    assert found["lake formation: administrator"].status == "ok"
    perms = found["iam: provisioning permissions"]
    assert perms.status == "fail"
    omics_actions = sorted(a for a in provision_actions() if a.startswith(("omics:", "ram:")))
    assert perms.detail.endswith(": " + ", ".join(omics_actions)), perms.detail
    assert f"{len(omics_actions)} of {len(provision_actions())} actions" in perms.detail
    assert perms.fix.startswith(f"grant {arn} these actions")
    ram = found["ram: share invitations"]
    assert ram.status == "fail"
    assert ram.fix == (
        f"grant {arn} ram:GetResourceShareInvitations, ram:AcceptResourceShareInvitation on *"
    )


def test_pass_role_is_simulated_per_service_and_an_assumed_role_is_its_role(
    local_stack: dict[str, Any], aws: Any, lake_formation: Any
) -> None:
    iam = aws.client("iam")
    actions = [a for a in provision_actions() if a != "iam:PassRole"]
    role = iam.create_role(
        RoleName="ft-doctor-deployer",
        Path="/deploy/",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    iam.put_role_policy(
        RoleName="ft-doctor-deployer",
        PolicyName="deploy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [*actions, "ram:Get*", "ram:Accept*"],
                        "Resource": "*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {
                                "iam:PassedToService": [
                                    "lambda.amazonaws.com",
                                    "states.amazonaws.com",
                                ]
                            }
                        },
                    },
                ],
            }
        ),
    )
    creds = aws.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    ctx = _context_as(
        local_stack,
        {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"]},
    )
    ctx.session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    found = _by_name(run_account_checks(ctx, _settings()))
    _reads_only(ctx)
    assert role["Arn"] == "arn:aws:iam::123456789012:role/deploy/ft-doctor-deployer"
    assert found["caller"].detail == role["Arn"]
    perms = found["iam: provisioning permissions"]
    assert perms.status == "fail"
    assert perms.detail.endswith(": iam:PassRole (to omics.amazonaws.com)"), perms.detail


def test_run_group_above_the_quota_fails_with_the_increase_command(aws: Any) -> None:
    found = _by_name(
        run_account_checks(aws, _settings(run_group_max_runs=50, run_group_max_cpus=100))
    )
    runs = found["quota: healthomics concurrent runs"]
    assert runs.status == "fail"
    assert runs.detail == (
        "Workflows - Maximum concurrent runs (L-LOCAL-OMICS-RUNS) = 10, below the run group's "
        "limit of 50"
    )
    assert runs.fix.endswith(
        "--service-code omics --quota-code L-LOCAL-OMICS-RUNS --desired-value 50"
    )
    assert found["quota: healthomics concurrent CPUs"].status == "ok"


def test_variant_stores_closed_fail_when_the_deployment_insists_on_stores(
    local_stack: dict[str, Any], aws: Any
) -> None:
    local_dir = Path(os.environ["OMICS_TOOLKIT_HOME"]) / "local"
    before = lifecycle.emulator_options(local_dir)
    lifecycle.emulator_options(local_dir, new_customer=True)
    # what `provision` records on the state machine when HealthOmics refuses the variant store
    names = Names(DEPLOYMENT, aws.account_id, aws.region)
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=names.state_machine,
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/ft-doctor-sfn",
        tags=[{"key": VARIANT_BACKEND_TAG, "value": "s3tables"}],
    )["stateMachineArn"]
    try:
        ctx = local_context(local_stack["moto"], local_stack["omics"])
        found = _by_name(run_account_checks(ctx, _settings(variant_backend="stores")))
        check = found["healthomics: variant stores"]
        assert check.status == "fail"
        assert "refused a variant store to deployment ft-doctor earlier" in check.detail
        assert check.fix == 'set variant_backend = "s3tables" (or "auto") in omics-toolkit.toml'
        # the same account with variant_backend auto: nothing to fix
        found = _by_name(run_account_checks(ctx, _settings()))
        assert found["healthomics: variant stores"].status == "ok"
    finally:
        sfn.delete_state_machine(stateMachineArn=arn)
        lifecycle.emulator_options(local_dir, **before)


def test_a_region_without_healthomics_fails(local_stack: dict[str, Any]) -> None:
    ctx = local_context(local_stack["moto"], local_stack["omics"], region="ap-east-1")
    found = _by_name(run_account_checks(ctx, _settings()))
    check = found["region: omics"]
    assert check.status == "fail"
    assert check.detail == "HealthOmics is not offered in ap-east-1 (botocore's endpoint data)"
    assert "us-east-1" in check.fix and check.fix.startswith("choose a region with HealthOmics")


FASTA = ">chr1\n" + "ACGT" * 60 + "\n"
OTHER_ACCOUNT = "111122223333"


def test_a_pending_invitation_past_the_first_page_is_reported(
    local_stack: dict[str, Any], aws: Any, lake_formation: Any
) -> None:
    ram = aws.client("ram")
    # 100 answered invitations from another account fill GetResourceShareInvitations' first page
    creds = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/ft-doctor-sharer", RoleSessionName="sharer"
    )["Credentials"]
    other = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=aws.region,
    ).client("ram", endpoint_url=local_stack["moto"])
    for i in range(100):
        other.create_resource_share(name=f"ft-doctor-old-{i}", principals=[aws.account_id])
    old = [
        i
        for page in ram.get_paginator("get_resource_share_invitations").paginate()
        for i in page["resourceShareInvitations"]
        if i["status"] == "PENDING"
    ]
    assert len(old) >= 100
    for invitation in old:
        ram.reject_resource_share_invitation(
            resourceShareInvitationArn=invitation["resourceShareInvitationArn"]
        )
    # a variant store: HealthOmics shares its database through RAM (a PENDING invitation)
    omics = aws.client("omics")
    omics.create_variant_store(
        name="ft_doctor_variants",
        reference={"referenceArn": imported_reference(aws, "ft-doctor", FASTA)},
    )
    deadline = time.monotonic() + 60
    while omics.get_variant_store(name="ft_doctor_variants")["status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    pending = [
        i
        for page in ram.get_paginator("get_resource_share_invitations").paginate()
        for i in page["resourceShareInvitations"]
        if i["status"] == "PENDING"
    ]
    assert len(pending) == 1
    arn = pending[0]["resourceShareInvitationArn"]
    try:
        first_page = ram.get_resource_share_invitations()["resourceShareInvitations"]
        assert arn not in [i["resourceShareInvitationArn"] for i in first_page]
        ctx = local_context(local_stack["moto"], local_stack["omics"])
        check = _by_name(run_account_checks(ctx, _settings()))["ram: share invitations"]
        assert check.status == "warn", check
        assert check.detail == f"1 pending invitation(s): {arn}"
        assert check.fix.startswith("accept the ones from HealthOmics")
    finally:
        ram.reject_resource_share_invitation(resourceShareInvitationArn=arn)
        omics.delete_variant_store(name="ft_doctor_variants", force=True)


def test_a_region_botocore_does_not_list_is_probed_with_the_service_itself(
    local_stack: dict[str, Any],
) -> None:
    # botocore lists no HealthOmics endpoint in the aws-cn partition: the check asks HealthOmics
    ctx = local_context(local_stack["moto"], local_stack["omics"], region="cn-north-1")
    check = region_checks(ctx, _settings())[0]
    assert check == AccountCheck(
        "region: omics", "ok", "HealthOmics in cn-north-1 (omics ListWorkflows answered)"
    )
    assert ctx.calls[0] == "omics:ListWorkflows"
    # no answer at all (here: nothing listens on the endpoint) is no proof either way
    ctx = AwsContext(
        session=ctx.session,
        endpoints={"default": local_stack["moto"], "omics": "http://127.0.0.1:9"},
    )
    check = region_checks(ctx, _settings())[0]
    assert check.name == "region: omics" and check.status == "unknown", check
    assert check.detail.startswith("omics ListWorkflows got no answer in cn-north-1")
    assert "EndpointConnectionError" in check.detail
    assert "the network and the credentials" in check.fix


def test_a_caller_whose_role_cannot_be_read_still_gets_the_other_checks(
    local_stack: dict[str, Any], aws: Any
) -> None:
    """GetRole on the caller's own role fails (denied for many SSO users; here: the session's
    role is in another account, where the local stack answers NoSuchEntity): only the checks
    that need the caller's principal are skipped, and doctor does not crash."""
    creds = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/ft-doctor-sso", RoleSessionName="sso-user"
    )["Credentials"]
    ctx = AwsContext(
        session=boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name="us-east-1",
        ),
        endpoints={"default": local_stack["moto"], "omics": local_stack["omics"]},
    )
    checks = run_account_checks(ctx, _settings())
    assert [c.name for c in checks] == CHECK_NAMES
    found = _by_name(checks)
    caller = found["caller"]
    assert caller.status == "unknown", caller
    assert caller.detail.startswith("the caller's role cannot be read: NoSuchEntity: ")
    # what needs the principal is skipped, saying why ...
    for name in (
        "lake formation: administrator",
        "ram: share invitations",
        "iam: provisioning permissions",
    ):
        assert found[name].status == "unknown", found[name]
        assert found[name].detail.startswith("skipped: the caller's principal"), found[name]
        assert found[name].fix == "fix the 'caller' check, then run doctor again"
    # ... the rest is still checked (a fresh account has Lake Formation's IAM-only defaults)
    defaults = found["lake formation: default permissions"]
    assert defaults.status == "fail" and "grant IAM_ALLOWED_PRINCIPALS" in defaults.detail
    assert found["quota: lambda concurrent executions"].status == "ok"
    assert found["quota: healthomics concurrent runs"].status == "ok"


def _least_privilege_policy(lacking: str | None = None) -> dict[str, Any]:
    """What an administrator writes for deployment ft-doctor: the services whose resources
    provisioning names (iam, s3, lambda, logs, states, sns, athena, glue, s3tables) on the
    deployment's ARNs only; actions without resource types, and services whose resources get
    ids from AWS (omics, ecr, ...), on ``*``. ``lacking``: an action left out."""
    data = json.loads((Path(__file__).parents[3] / "omics_toolkit/aws_operations.json").read_text())
    actions = [a for a in provision_actions() if a != lacking]
    scoped = ("iam", "s3", "lambda", "logs", "states", "sns", "athena", "glue", "s3tables")
    anywhere = [a for a in actions if not a.startswith(scoped) or data["resource_arns"][a] == ["*"]]
    acct, region = "123456789012", "us-east-1"
    on = {
        "iam": [f"arn:aws:iam::{acct}:role/ft-doctor-*"],
        "s3": ["arn:aws:s3:::ft-doctor-*", "arn:aws:s3:::ft-doctor-*/*"],
        "lambda": [
            f"arn:aws:lambda:{region}:{acct}:function:ft-doctor-*",
            f"arn:aws:lambda:{region}:{acct}:layer:ft-doctor-*",
        ],
        "logs": [
            f"arn:aws:logs:{region}:{acct}:log-group:/aws/vendedlogs/states/ft-doctor-*",
            f"arn:aws:logs:{region}:{acct}:log-group:/aws/lambda/ft-doctor-*",
        ],
        "states": [f"arn:aws:states:{region}:{acct}:stateMachine:ft-doctor-*"],
        "sns": [f"arn:aws:sns:{region}:{acct}:ft-doctor-*"],
        "athena": [f"arn:aws:athena:{region}:{acct}:workgroup/ft-doctor"],
        "glue": [
            f"arn:aws:glue:{region}:{acct}:catalog",
            f"arn:aws:glue:{region}:{acct}:database/ft_doctor",
            f"arn:aws:glue:{region}:{acct}:table/ft_doctor/*",
        ],
        "s3tables": [
            f"arn:aws:s3tables:{region}:{acct}:bucket/ft-doctor-tables",
            f"arn:aws:s3tables:{region}:{acct}:bucket/ft-doctor-tables/table/*",
        ],
    }
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": anywhere, "Resource": "*"},
        {"Effect": "Allow", "Action": [*RAM_ACTIONS_ALLOWED], "Resource": "*"},
    ]
    for prefix, resources in on.items():
        mine = [
            a
            for a in actions
            if a.split(":")[0] == prefix and a not in anywhere and a != "iam:PassRole"
        ]
        statements.append({"Effect": "Allow", "Action": mine, "Resource": resources})
    statements.append(
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": on["iam"],
            "Condition": {
                "StringEquals": {
                    "iam:PassedToService": [
                        "lambda.amazonaws.com",
                        "states.amazonaws.com",
                        "omics.amazonaws.com",
                    ]
                }
            },
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


RAM_ACTIONS_ALLOWED = ("ram:GetResourceShareInvitations", "ram:AcceptResourceShareInvitation")


def test_a_caller_allowed_exactly_the_deployments_arns_passes(
    local_stack: dict[str, Any], aws: Any, lake_formation: Any
) -> None:
    iam = aws.client("iam")
    for user, lacking in (
        ("ft-doctor-least", None),
        ("ft-doctor-least-nf", "lambda:CreateFunction"),
    ):
        arn = iam.create_user(UserName=user)["User"]["Arn"]
        iam.put_user_policy(
            UserName=user,
            PolicyName="least-privilege",
            PolicyDocument=json.dumps(_least_privilege_policy(lacking)),
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        ctx = _context_as(local_stack, key)
        _governed_by_lake_formation(lake_formation, arn)
        found = _by_name(run_account_checks(ctx, _settings()))
        _reads_only(ctx)
        perms = found["iam: provisioning permissions"]
        if lacking is None:
            assert perms.status == "ok", perms
            assert perms.detail == (
                f"{len(provision_actions())} actions allowed to {arn} (on deployment ft-doctor's "
                "resource ARNs, else *)"
            )
        else:
            assert perms.status == "fail", perms
            assert perms.detail.endswith(": lambda:CreateFunction"), perms.detail
        # the ARNs were really asked about (SimulatePrincipalPolicy ResourceArns)
        asked = {
            r
            for req in ctx.requests
            if req.operation == "SimulatePrincipalPolicy"
            for r in req.params.get("ResourceArns", [])
        }
        assert "arn:aws:iam::123456789012:role/ft-doctor-states" in asked
        assert "arn:aws:s3:::ft-doctor-output-123456789012-us-east-1/*" in asked


def test_a_deny_for_want_of_request_context_is_unknown_not_fail(
    local_stack: dict[str, Any], aws: Any, lake_formation: Any
) -> None:
    """lambda:CreateFunction allowed only with a request tag: the simulator cannot know the
    request's tags (MissingContextValues), so the check cannot say it fails."""
    others = [a for a in provision_actions() if a != "lambda:CreateFunction"]
    arn, key = _limited_principal(aws, "ft-doctor-tagged", [*others, *RAM_ACTIONS_ALLOWED])
    aws.client("iam").put_user_policy(
        UserName="ft-doctor-tagged",
        PolicyName="tagged",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "lambda:CreateFunction",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:RequestTag/team": "genomics"}},
                    }
                ],
            }
        ),
    )
    _governed_by_lake_formation(lake_formation, arn)
    found = _by_name(run_account_checks(_context_as(local_stack, key), _settings()))
    perms = found["iam: provisioning permissions"]
    assert perms.status == "unknown", perms
    assert perms.detail.startswith(
        f"1 of {len(provision_actions())} actions depend on conditions only the real request "
        "answers (MissingContextValues"
    )
    assert perms.detail.endswith(": lambda:CreateFunction")
