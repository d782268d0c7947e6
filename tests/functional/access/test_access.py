"""Lake Formation principals on the local stack: provisioning as an IAM Identity Center (SSO)
user, ``access grant|revoke|list`` for an analyst on both variant back ends, and the local Lake
Formation refusing what AWS refuses.

The SSO user is what AWS gives a permission-set user: role ``AWSReservedSSO_Analyst_abc`` under
``/aws-reserved/sso.amazonaws.com/eu-west-1/``, credentials from sts:AssumeRole, so
GetCallerIdentity answers ``arn:aws:sts::<account>:assumed-role/AWSReservedSSO_Analyst_abc/alice``.
The local Athena does not enforce Lake Formation (docs: fidelity gaps), so whether the analyst
can then query is not tested here; the grants themselves are read back from Lake Formation.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from omics_toolkit.annotations import import_annotations
from omics_toolkit.aws.session import AwsContext, local_context
from omics_toolkit.config import Settings
from omics_toolkit.data import fetch_demo_data
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.teardown import Teardown

ACCOUNT = "123456789012"
SSO_PATH = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
SSO_ROLE = f"arn:aws:iam::{ACCOUNT}:role{SSO_PATH}AWSReservedSSO_Analyst_abc"
ANALYST = f"arn:aws:iam::{ACCOUNT}:role/teams/genomics/analyst"
LOCAL_USER = f"arn:aws:iam::{ACCOUNT}:user/omics-toolkit-local"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
}
DEPLOYMENTS = {"stores": "acc-stores", "s3tables": "acc-tables"}
VCF = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="significance">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "q\t186\trs1\tA\tG\t.\t.\tCLNSIG=Benign\n"
)


def _role(ctx: AwsContext, name: str, path: str) -> str:
    iam = ctx.client("iam")
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except AwsError:
        return str(
            iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(TRUST))[
                "Role"
            ]["Arn"]
        )


def _sso_context(stack: dict[str, Any]) -> AwsContext:
    """An AwsContext signed in as SSO user alice (sts:AssumeRole into the permission-set role)."""
    base = local_context(stack["moto"], stack["omics"])
    assert _role(base, "AWSReservedSSO_Analyst_abc", SSO_PATH) == SSO_ROLE
    creds = base.client("sts").assume_role(RoleArn=SSO_ROLE, RoleSessionName="alice")["Credentials"]
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=base.region,
    )
    session._session.get_component("config_store").set_config_variable(
        "endpoint_url", stack["moto"]
    )
    return AwsContext(
        session=session,
        endpoints=dict(base.endpoints),
        job_poll_seconds=1.0,
        query_poll_seconds=0.2,
        lambda_limits_enforced=False,
        managed_powertools_layer=False,
    )


def _settings(backend: str) -> Settings:
    return Settings(
        deployment=DEPLOYMENTS[backend],
        home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
        poll_interval_seconds=1,
        variant_backend=backend,
    )


def _grants(ctx: AwsContext, principal: str) -> dict[str, set[str]]:
    """``<db>.<table>`` -> permissions ``principal`` holds (ListPermissions, every page)."""
    lf, found, token = ctx.client("lakeformation"), {}, None
    while True:
        page = lf.list_permissions(**({"NextToken": token} if token else {}))
        for p in page["PrincipalResourcePermissions"]:
            if p["Principal"]["DataLakePrincipalIdentifier"] == principal:
                t = p["Resource"].get("Table", {})
                found.setdefault(f"{t.get('DatabaseName')}.{t.get('Name')}", set()).update(
                    p["Permissions"]
                )
        token = page.get("NextToken")
        if not token:
            return found


@pytest.fixture(scope="module")
def provisioned(local_stack: dict[str, Any]) -> dict[str, Any]:
    """Both back ends provisioned by SSO user alice; yields {"sso": ctx, "local": ctx, backend: dep}."""
    sso = _sso_context(local_stack)
    reference = str(fetch_demo_data().reference)
    found: dict[str, Any] = {
        "sso": sso,
        "local": local_context(local_stack["moto"], local_stack["omics"]),
    }
    # The account's administrator makes alice's role a data lake administrator, as the
    # HealthOmics Lake Formation setup asks of whoever provisions stores (setting-up-lf.html).
    lf = found["local"].client("lakeformation")
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    admins = settings.get("DataLakeAdmins") or []
    if {"DataLakePrincipalIdentifier": SSO_ROLE} not in admins:
        settings["DataLakeAdmins"] = [*admins, {"DataLakePrincipalIdentifier": SSO_ROLE}]
        lf.put_data_lake_settings(DataLakeSettings=settings)
    for backend in DEPLOYMENTS:
        found[backend] = Provisioner(sso, _settings(backend), sleep=lambda s: None).apply(reference)
    _role(found["local"], "analyst", "/teams/genomics/")
    return found


def test_provisioning_as_an_sso_user_grants_the_role_with_its_path(provisioned):
    sso = provisioned["sso"]
    caller = sso.client("sts").get_caller_identity()["Arn"]
    assert caller == f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Analyst_abc/alice"
    grants = _grants(sso, SSO_ROLE)
    stores = provisioned["stores"].names
    variant_db = f"variant_{ACCOUNT}_{provisioned['stores'].variant_store_id}"
    assert grants[f"{stores.glue_database}.variants"] == {"DESCRIBE"}
    assert grants[f"{stores.glue_database}.annotations"] == {"DESCRIBE"}
    assert grants[f"{variant_db}.{stores.variant_store}"] == {"DESCRIBE", "SELECT"}
    tables = provisioned["s3tables"].names
    assert grants[f"{tables.table_namespace}.variants"] == {"DESCRIBE", "SELECT"}
    # Nothing went to the session ARN (the local Lake Formation would refuse it, as AWS does).
    assert _grants(sso, caller) == {}


def test_local_lake_formation_refuses_sts_and_pathless_principals(provisioned):
    lf = provisioned["local"].client("lakeformation")
    names = provisioned["stores"].names
    resource = {"Table": {"DatabaseName": names.glue_database, "Name": "variants"}}
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Analyst_abc/alice"
    with pytest.raises(AwsError) as exc:
        lf.grant_permissions(
            Principal={"DataLakePrincipalIdentifier": session},
            Resource=resource,
            Permissions=["DESCRIBE"],
        )
    assert exc.value.code == "InvalidInputException"
    assert exc.value.message == (
        f"Unsupported principal identifier:{session}. Arns identifying principals with "
        "temporary credentials are not supported."
    )
    pathless = f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Analyst_abc"
    with pytest.raises(AwsError, match=f"Invalid principal, arn: {pathless}"):
        lf.grant_permissions(
            Principal={"DataLakePrincipalIdentifier": pathless},
            Resource=resource,
            Permissions=["DESCRIBE"],
        )
    answer = lf.batch_grant_permissions(
        Entries=[
            {
                "Id": "1",
                "Principal": {"DataLakePrincipalIdentifier": session},
                "Resource": resource,
                "Permissions": ["DESCRIBE"],
            },
            {
                "Id": "2",
                "Principal": {"DataLakePrincipalIdentifier": SSO_ROLE},
                "Resource": resource,
                "Permissions": ["DESCRIBE"],
            },
        ]
    )
    assert [(f["RequestEntry"]["Id"], f["Error"]["ErrorCode"]) for f in answer["Failures"]] == [
        ("1", "InvalidInputException")
    ]
    assert _grants(provisioned["local"], session) == {}


def _cli(*args: str, backend: str) -> Any:
    from omics_toolkit.cli.main import app

    return CliRunner().invoke(
        app,
        ["--deployment", DEPLOYMENTS[backend], "access", *args],
        env={"OMICS_TOOLKIT_VARIANT_BACKEND": backend},
        catch_exceptions=False,
    )


@pytest.mark.parametrize("backend", list(DEPLOYMENTS))
def test_access_grant_list_revoke_for_an_analyst(provisioned, backend, tmp_path):
    local, names = provisioned["local"], provisioned[backend].names
    if backend == "stores":
        target = f"variant_{ACCOUNT}_{provisioned['stores'].variant_store_id}.{names.variant_store}"
        expected = {
            f"{names.glue_database}.annotations": ["DESCRIBE"],
            f"{names.glue_database}.variants": ["DESCRIBE"],
            target: ["DESCRIBE", "SELECT"],
        }
    else:
        expected = {
            f"{names.athena_catalog}.{names.table_namespace}.variants": ["DESCRIBE", "SELECT"]
        }

    granted = _cli("grant", "--principal", ANALYST, "--json", backend=backend)
    assert granted.exit_code == 0, granted.output
    body = json.loads(granted.stdout)
    assert (body["principal"], body["backend"], body["unchanged"]) == (ANALYST, backend, [])
    assert set(body["changed"]) >= set(expected)

    again = _cli("grant", "--principal", ANALYST, backend=backend)
    assert again.exit_code == 0 and "already read" in again.stdout, again.output

    listed = json.loads(_cli("list", "--json", backend=backend).stdout)
    mine = {r["table"]: r["permissions"] for r in listed if r["principal"] == ANALYST}
    assert {t: p for t, p in mine.items() if t in expected} == expected
    assert {r["principal"] for r in listed} >= {ANALYST, SSO_ROLE}

    # A table made later (an annotation set) is granted to the analyst too.
    vcf = tmp_path / "tiny.vcf"
    vcf.write_text(VCF)
    ctx = provisioned["sso"]
    import_annotations(ctx, _settings(backend), "tiny", vcf)
    after = {
        r["table"]
        for r in json.loads(_cli("list", "--json", backend=backend).stdout)
        if r["principal"] == ANALYST
    }
    assert any(t.endswith(".annotations_tiny") for t in after), after

    # Re-provisioning keeps the analyst's grants.
    Provisioner(ctx, _settings(backend), sleep=lambda s: None).apply(
        str(fetch_demo_data().reference)
    )
    kept = {
        r["table"]
        for r in json.loads(_cli("list", "--json", backend=backend).stdout)
        if r["principal"] == ANALYST
    }
    assert kept == after

    revoked = _cli("revoke", "--principal", ANALYST, "--json", backend=backend)
    assert revoked.exit_code == 0, revoked.output
    assert set(json.loads(revoked.stdout)["changed"]) == after
    assert _grants(local, ANALYST) == {}
    twice = _cli("revoke", "--principal", ANALYST, backend=backend)
    assert twice.exit_code == 0 and "had no access" in twice.stdout, twice.output

    # Without --principal: the caller (the local credentials are IAM user omics-toolkit-local).
    me = json.loads(_cli("grant", "--json", backend=backend).stdout)
    assert me["principal"] == LOCAL_USER and me["changed"]


def test_access_refuses_principals_lake_formation_refuses(provisioned):
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Analyst_abc/alice"
    with pytest.raises(UserError, match="role session") as exc:
        _cli("grant", "--principal", session, backend="stores")
    assert f"arn:aws:iam::{ACCOUNT}:role/<path>AWSReservedSSO_Analyst_abc" in str(exc.value)
    # Well-formed, but no such role: the local Lake Formation refuses it as AWS does.
    pathless = f"arn:aws:iam::{ACCOUNT}:role/analyst"
    with pytest.raises(UserError, match=f"refused principal {pathless}: Invalid principal"):
        _cli("grant", "--principal", pathless, backend="stores")
    assert _grants(provisioned["local"], pathless) == {}


def test_access_on_a_deployment_without_tables_says_so(local_stack):
    from omics_toolkit.cli.main import app

    result = CliRunner().invoke(
        app,
        ["--deployment", "acc-none", "access", "list"],
        env={"OMICS_TOOLKIT_VARIANT_BACKEND": "none"},
    )
    assert isinstance(result.exception, UserError)
    assert 'variant_backend = "stores" or "s3tables"' in str(result.exception)


def test_teardown_revokes_every_readers_grants(provisioned):
    local = provisioned["local"]
    for backend in DEPLOYMENTS:
        assert _cli("grant", "--principal", ANALYST, backend=backend).exit_code == 0
    assert _grants(local, ANALYST)
    for backend in DEPLOYMENTS:
        Teardown(provisioned["sso"], _settings(backend)).run(force_delete_data=True)
    assert _grants(local, ANALYST) == {}
    assert _grants(local, SSO_ROLE) == {}
