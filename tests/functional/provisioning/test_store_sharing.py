"""HealthOmics store databases live in the service's catalog and reach the account through AWS RAM.

On the real local stack: the emulator creates each store's Glue database in its HealthOmics
service account and shares it to the caller (a PENDING RAM invitation); provisioning checks the
Lake Formation prerequisites, accepts the invitation, links and grants with the owner's
CatalogId; Athena then reads the variants through the link; teardown revokes the grants.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.omics_roles import imported_reference

from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.identity import Names
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.sharing import SharingPrerequisiteError, StoreNotSharedError
from omics_toolkit.provisioning.teardown import Teardown

SERVICE_ACCOUNT = "444455556666"  # healthomics_emulator.backend.SERVICE_ACCOUNT_ID
ACCOUNT = "123456789012"
FASTA = ">chr1\n" + "ACGT" * 60 + "\n"
VCF = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=240>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
chr1\t6\trs6\tC\tT\t50\tPASS\t.\tGT\t0/1
chr1\t11\t.\tA\tG\t40\tPASS\t.\tGT\t1/1
"""


def _ctx(stack: dict[str, Any]) -> Any:
    return local_context(stack["moto"], stack["omics"])


def _settings(deployment: str) -> Settings:
    return Settings(
        deployment=deployment,
        home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
        poll_interval_seconds=1,
    )


def _wait(fetch: Callable[[], dict[str, Any]], done: set[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if got["status"] in done:
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.2)


@pytest.fixture(scope="module")
def reference_arn(local_stack: dict[str, Any]) -> str:
    """The reference the stores use; bucket ft-share-src also holds ``s1.vcf.gz``, which the
    import role ft-share-import may read."""
    ctx = _ctx(local_stack)
    arn = imported_reference(ctx, "ft-share", FASTA)
    ctx.client("s3").put_object(
        Bucket="ft-share-src", Key="s1.vcf.gz", Body=gzip.compress(VCF.encode())
    )
    return arn


def _stores(ctx: Any, deployment: str, reference_arn: str) -> tuple[Names, str, str]:
    """The deployment's variant and annotation stores (ACTIVE); returns names and both ids."""
    names = Names(deployment, ctx.account_id, ctx.region)
    omics = ctx.client("omics")
    variant = omics.create_variant_store(
        name=names.variant_store, reference={"referenceArn": reference_arn}
    )
    annotation = omics.create_annotation_store(
        name=names.annotation_store, reference={"referenceArn": reference_arn}, storeFormat="VCF"
    )
    _wait(lambda: omics.get_variant_store(name=names.variant_store), {"ACTIVE"})
    _wait(lambda: omics.get_annotation_store(name=names.annotation_store), {"ACTIVE"})
    ctx.client("s3").create_bucket(Bucket=names.output_bucket)
    return names, variant["id"], annotation["id"]


def _invitations(ctx: Any, database: str) -> list[dict[str, Any]]:
    pages = ctx.client("ram").get_paginator("get_resource_share_invitations").paginate()
    found = [i for page in pages for i in page["resourceShareInvitations"]]
    return [i for i in found if i["resourceShareName"] == database]


def _foreign(ctx: Any) -> dict[str, str]:
    dbs = ctx.client("glue").get_databases(ResourceShareType="FOREIGN")["DatabaseList"]
    return {d["Name"]: d["CatalogId"] for d in dbs}


def test_store_database_is_shared_from_the_service_account_not_in_the_callers_catalog(
    local_stack: dict[str, Any], reference_arn: str
) -> None:
    ctx = _ctx(local_stack)
    names, variant_id, _ = _stores(ctx, "ft-share-a", reference_arn)
    db = f"variant_{ACCOUNT}_{variant_id}"
    glue, lf = ctx.client("glue"), ctx.client("lakeformation")

    with pytest.raises(AwsError) as exc:
        glue.get_database(Name=db)
    assert exc.value.code == "EntityNotFoundException"
    [invitation] = _invitations(ctx, db)
    assert invitation["status"] == "PENDING"
    assert invitation["senderAccountId"] == SERVICE_ACCOUNT
    assert invitation["receiverAccountId"] == ACCOUNT
    resources = ctx.client("ram").list_pending_invitation_resources(
        resourceShareInvitationArn=invitation["resourceShareInvitationArn"]
    )["resources"]
    assert [(r["arn"], r["type"]) for r in resources] == [
        (f"arn:aws:glue:{ctx.region}:{SERVICE_ACCOUNT}:database/{db}", "glue:Database")
    ]
    # not visible before acceptance, neither listed nor readable in the owner's catalog
    assert db not in _foreign(ctx)
    with pytest.raises(AwsError) as exc:
        glue.get_table(CatalogId=SERVICE_ACCOUNT, DatabaseName=db, Name=names.variant_store)
    assert exc.value.code == "EntityNotFoundException"
    # Lake Formation refuses a grant naming the caller's own catalog (the database is not there)
    principal = {"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:user/omics-toolkit-local"}
    for catalog in (ACCOUNT, SERVICE_ACCOUNT):
        with pytest.raises(AwsError) as exc:
            lf.grant_permissions(
                Principal=principal,
                Resource={
                    "Table": {"CatalogId": catalog, "DatabaseName": db, "Name": names.variant_store}
                },
                Permissions=["SELECT"],
            )
        assert exc.value.code == "EntityNotFoundException", catalog


def test_plan_reports_the_invitation_and_accepts_nothing(
    local_stack: dict[str, Any], reference_arn: str
) -> None:
    ctx = _ctx(local_stack)
    names, variant_id, annotation_id = _stores(ctx, "ft-share-p", reference_arn)
    ctx = _ctx(local_stack)  # a fresh context records only the plan's calls
    plan = Provisioner(ctx, _settings("ft-share-p"), dry_run=True)
    try:
        plan.ensure_query_access(variant_id, annotation_id, use_tables=False)
    finally:
        plan.end_plan()
    shares = [a for a in plan.actions if a.kind == "ram share"]
    assert [(a.action, a.detail.split(":")[0]) for a in shares] == [
        ("create", f"accept invitation from {SERVICE_ACCOUNT}")
    ] * 2
    assert ctx.mutating_calls() == []
    assert _invitations(ctx, f"variant_{ACCOUNT}_{variant_id}")[0]["status"] == "PENDING"


def test_provision_accepts_links_the_owner_catalog_queries_and_tears_down(
    local_stack: dict[str, Any], reference_arn: str
) -> None:
    from omics_toolkit.athena import run_query

    ctx = _ctx(local_stack)
    settings = _settings("ft-share-b")
    names, variant_id, annotation_id = _stores(ctx, "ft-share-b", reference_arn)
    variant_db = f"variant_{ACCOUNT}_{variant_id}"
    annotation_db = f"annotation_{ACCOUNT}_{annotation_id}"

    Provisioner(ctx, settings).ensure_query_access(variant_id, annotation_id, use_tables=False)

    for db in (variant_db, annotation_db):
        assert [i["status"] for i in _invitations(ctx, db)] == ["ACCEPTED"]
        assert _foreign(ctx)[db] == SERVICE_ACCOUNT
    glue = ctx.client("glue")
    link = glue.get_table(DatabaseName=names.glue_database, Name="variants")["Table"]
    assert link["TargetTable"] == {
        "CatalogId": SERVICE_ACCOUNT,
        "DatabaseName": variant_db,
        "Name": names.variant_store,
    }
    shared = glue.get_table(
        CatalogId=SERVICE_ACCOUNT, DatabaseName=variant_db, Name=names.variant_store
    )
    assert shared["Table"]["StorageDescriptor"]["Location"].endswith(f"/{variant_id}/data/")
    grants = ctx.client("lakeformation").list_permissions()["PrincipalResourcePermissions"]
    on_store = sorted(
        (g["Resource"]["Table"]["CatalogId"], g["Resource"]["Table"]["DatabaseName"], p)
        for g in grants
        if g["Resource"].get("Table", {}).get("DatabaseName") in (variant_db, annotation_db)
        for p in g["Permissions"]
    )
    assert on_store == sorted(
        (SERVICE_ACCOUNT, db, p)
        for db in (variant_db, annotation_db)
        for p in ("DESCRIBE", "SELECT")
    )

    omics = ctx.client("omics")
    job = omics.start_variant_import_job(
        destinationName=names.variant_store,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/ft-share-import",
        items=[{"source": "s3://ft-share-src/s1.vcf.gz"}],
    )
    _wait(lambda: omics.get_variant_import_job(jobId=job["jobId"]), {"COMPLETED"})
    rows = run_query(
        ctx,
        settings,
        'SELECT contigname, start, "end", sampleid FROM variants ORDER BY start',
    )
    assert rows.values.tolist() == [["chr1", 5, 6, "S1"], ["chr1", 10, 11, "S1"]]

    # a second provision changes nothing
    again_ctx = _ctx(local_stack)
    again = Provisioner(again_ctx, settings)
    again.ensure_query_access(variant_id, annotation_id, use_tables=False)
    assert again_ctx.mutating_calls() == []
    assert {a.action for a in again.actions} == {"unchanged"}, again.actions

    # once HealthOmics deletes the store (and its share), the link leads nowhere
    omics.delete_variant_store(name=names.variant_store)
    with pytest.raises(
        UserError, match=f"{variant_db}' of catalog {SERVICE_ACCOUNT} is not shared"
    ):
        run_query(ctx, settings, "SELECT count(*) FROM variants")

    Teardown(_ctx(local_stack), settings).delete_glue_database()
    left = ctx.client("lakeformation").list_permissions()["PrincipalResourcePermissions"]
    assert not [
        g
        for g in left
        if g["Resource"].get("Table", {}).get("DatabaseName")
        in (variant_db, annotation_db, names.glue_database)
    ]


@pytest.fixture
def lake_formation_settings(local_stack: dict[str, Any]) -> Iterator[Callable[..., None]]:
    """Change the account's Lake Formation settings for one test; restored afterwards."""
    lf = _ctx(local_stack).client("lakeformation")
    before = lf.get_data_lake_settings()["DataLakeSettings"]

    def change(**fields: Any) -> None:
        lf.put_data_lake_settings(DataLakeSettings={**before, **fields})

    yield change
    lf.put_data_lake_settings(DataLakeSettings=before)


IAM_ONLY = [
    {"Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}, "Permissions": ["ALL"]}
]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"DataLakeAdmins": []},
            [
                f"arn:aws:iam::{ACCOUNT}:user/omics-toolkit-local is not a Lake Formation data lake administrator",
                "Administrative roles and tasks",
                "put-data-lake-settings",
            ],
        ),
        (
            {
                "CreateDatabaseDefaultPermissions": IAM_ONLY,
                "CreateTableDefaultPermissions": IAM_ONLY,
            },
            [
                "IAM_ALLOWED_PRINCIPALS access to new databases and tables "
                "(CreateDatabaseDefaultPermissions, CreateTableDefaultPermissions)",
                "Data Catalog settings",
                'uncheck "Use only IAM access control for new databases"',
                "put-data-lake-settings",
            ],
        ),
    ],
    ids=["not-admin", "iam-only-defaults"],
)
def test_lake_formation_prerequisites_fail_with_what_to_change(
    local_stack: dict[str, Any],
    reference_arn: str,
    lake_formation_settings: Callable[..., None],
    fields: dict[str, Any],
    expected: list[str],
) -> None:
    ctx = _ctx(local_stack)
    deployment = f"ft-share-{len(fields)}"
    names, variant_id, annotation_id = _stores(ctx, deployment, reference_arn)
    lake_formation_settings(**fields)
    for dry_run in (True, False):
        prov = Provisioner(_ctx(local_stack), _settings(deployment), dry_run=dry_run)
        with pytest.raises(SharingPrerequisiteError) as exc:
            prov.ensure_query_access(variant_id, annotation_id, use_tables=False)
        prov.end_plan()
        for text in expected:
            assert text in str(exc.value), str(exc.value)
    # nothing was accepted
    assert _invitations(ctx, f"variant_{ACCOUNT}_{variant_id}")[0]["status"] == "PENDING"


def test_a_rejected_invitation_says_the_store_is_not_shared(
    local_stack: dict[str, Any], reference_arn: str
) -> None:
    ctx = _ctx(local_stack)
    names, variant_id, annotation_id = _stores(ctx, "ft-share-r", reference_arn)
    db = f"variant_{ACCOUNT}_{variant_id}"
    ram = ctx.client("ram")
    arn = _invitations(ctx, db)[0]["resourceShareInvitationArn"]
    ram.reject_resource_share_invitation(resourceShareInvitationArn=arn)
    with pytest.raises(AwsError) as exc:
        ram.accept_resource_share_invitation(resourceShareInvitationArn=arn)
    assert exc.value.code == "ResourceShareInvitationAlreadyRejectedException"
    with pytest.raises(StoreNotSharedError, match=f"{db} is not shared with account {ACCOUNT}"):
        Provisioner(ctx, _settings("ft-share-r")).ensure_query_access(
            variant_id, annotation_id, use_tables=False
        )
    assert db not in _foreign(ctx)
