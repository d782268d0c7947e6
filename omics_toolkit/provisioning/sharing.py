"""A HealthOmics store's Glue database, shared into this account through AWS RAM.

HealthOmics keeps a variant or annotation store's database (``variant_<account>_<storeId>``,
``annotation_<account>_<storeId>``) in a HealthOmics-owned account and shares it into the store
owner's account through AWS RAM. Before Athena can read it (HealthOmics User Guide,
"Configuring Lake Formation to use HealthOmics", setting-up-lf.html, and "HealthOmics Resource
permissions", permissions-resource.html):

1. the caller is a Lake Formation data lake administrator (only administrators create resource
   links and grant on shared tables);
2. Lake Formation's "Use only IAM access control for new databases/tables" defaults are off (no
   ``IAM_ALLOWED_PRINCIPALS`` in ``CreateDatabaseDefaultPermissions`` /
   ``CreateTableDefaultPermissions``);
3. the RAM invitation is accepted (HealthOmics auto-accepts it when the caller may
   ``ram:GetResourceShareInvitations`` and ``ram:AcceptResourceShareInvitation``);
4. the database then appears as a FOREIGN database (Glue GetDatabases
   ``ResourceShareType=FOREIGN``) whose ``CatalogId`` is the owner's account: resource links
   (``TargetTable.CatalogId``) and grants (``Table.CatalogId``) name that catalog.

:func:`check_prerequisites` checks 1-2 read-only; :func:`ensure_shared_database` does 3-4 and
returns the owner's CatalogId. In a plan (``dry_run``) nothing is accepted.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from omics_toolkit.errors import UserError
from omics_toolkit.principals import data_lake_principal
from omics_toolkit.provisioning.core import AFTER_APPLY

if TYPE_CHECKING:
    from omics_toolkit.provisioning.core import Steps

#: How long to wait for an accepted share's database to appear (seconds).
SHARE_WAIT_SECONDS = 120.0

ALLOWED_IAM = "IAM_ALLOWED_PRINCIPALS"
SETTINGS_CONSOLE = "Lake Formation console > Administration > Data Catalog settings"
ADMINS_CONSOLE = "Lake Formation console > Administration > Administrative roles and tasks"


class SharingPrerequisiteError(UserError):
    """Lake Formation is not set up for HealthOmics stores; the message says what to change."""


class StoreNotSharedError(UserError):
    """The store's database is neither shared into this account nor offered by a RAM invitation."""


def _same_identity(admin: str, identity: str) -> bool:
    """An administrator entry names ``identity`` (role and user ARNs may carry a path)."""
    if admin == identity:
        return True
    kind = identity.split(":", 5)[-1].split("/", 1)[0]
    base = identity.split(":", 5)
    want = admin.split(":", 5)
    return (
        len(want) == 6
        and want[:5] == base[:5]
        and want[5].startswith(f"{kind}/")
        and want[5].rsplit("/", 1)[-1] == identity.rsplit("/", 1)[-1]
    )


def data_lake_admins(settings: dict[str, Any]) -> list[str]:
    """The data lake administrators of GetDataLakeSettings' ``DataLakeSettings``."""
    return [
        str(a.get("DataLakePrincipalIdentifier", "")) for a in settings.get("DataLakeAdmins") or []
    ]


def is_admin(settings: dict[str, Any], identity: str) -> bool:
    """Whether ``identity`` (as :func:`~omics_toolkit.principals.data_lake_principal` names it)
    is a data lake administrator in ``settings`` (an administrator entry may carry a path)."""
    return any(_same_identity(a, identity) for a in data_lake_admins(settings))


def iam_only_defaults(settings: dict[str, Any]) -> list[str]:
    """Which of ``CreateDatabaseDefaultPermissions`` / ``CreateTableDefaultPermissions`` still
    grant ``IAM_ALLOWED_PRINCIPALS`` ("Use only IAM access control" on); ``[]`` when off."""
    return [
        key
        for key in ("CreateDatabaseDefaultPermissions", "CreateTableDefaultPermissions")
        if any(
            p.get("Principal", {}).get("DataLakePrincipalIdentifier") == ALLOWED_IAM
            for p in settings.get(key) or []
        )
    ]


def check_prerequisites(prov: Steps) -> None:
    """Check that Lake Formation is set up for HealthOmics stores for the identity that creates
    the links and grants (read-only: STS GetCallerIdentity, IAM GetRole for an assumed role's
    path, Lake Formation GetDataLakeSettings; the caller as Lake Formation names it is
    :func:`omics_toolkit.principals.data_lake_principal`).

    Raises:
        SharingPrerequisiteError: the caller is not a data lake administrator, or the
            ``IAM_ALLOWED_PRINCIPALS`` defaults are on; the message gives the console path and
            the AWS CLI command that fix it.
        AwsError: from Lake Formation.
    """
    settings = prov.client("lakeformation").get_data_lake_settings()["DataLakeSettings"]
    identity = data_lake_principal(prov.ctx)
    admins = data_lake_admins(settings)
    problems = []
    if not is_admin(settings, identity):
        problems.append(
            f"{identity} is not a Lake Formation data lake administrator (administrators: "
            f"{', '.join(admins) or 'none'}); add it in the {ADMINS_CONSOLE} > Data lake "
            "administrators, or run: aws lakeformation get-data-lake-settings, add "
            f'{{"DataLakePrincipalIdentifier": "{identity}"}} to DataLakeAdmins and pass the '
            "result to aws lakeformation put-data-lake-settings --data-lake-settings file://settings.json"
        )
    on = iam_only_defaults(settings)
    if on:
        problems.append(
            f"Lake Formation still gives {ALLOWED_IAM} access to new databases and tables "
            f'({", ".join(on)}); in the {SETTINGS_CONSOLE}, uncheck "Use only IAM access '
            'control for new databases" and "... for new tables" and save, or run: aws '
            "lakeformation get-data-lake-settings, set CreateDatabaseDefaultPermissions and "
            "CreateTableDefaultPermissions to [] and pass the result to aws lakeformation "
            "put-data-lake-settings --data-lake-settings file://settings.json"
        )
    if problems:
        raise SharingPrerequisiteError(
            "HealthOmics stores cannot be queried until Lake Formation is set up "
            "(https://docs.aws.amazon.com/omics/latest/dev/setting-up-lf.html): "
            + "; and ".join(problems)
        )


def foreign_database(prov: Steps, database: str) -> str | None:
    """The owner CatalogId of the FOREIGN (shared) Glue database ``database``, or ``None``
    (Glue GetDatabases ``ResourceShareType=FOREIGN``, every page)."""
    glue = prov.client("glue")
    for page in glue.get_paginator("get_databases").paginate(ResourceShareType="FOREIGN"):
        for db in page.get("DatabaseList", []):
            if str(db.get("Name", "")).lower() == database.lower():
                return str(db["CatalogId"])
    return None


def pending_invitation(prov: Steps, database: str) -> dict[str, Any] | None:
    """The PENDING RAM invitation whose share offers the Glue database ``database`` of the
    sender's own catalog (RAM GetResourceShareInvitations, every page, then
    ListPendingInvitationResources per pending invitation), or ``None``."""
    ram = prov.client("ram")
    for page in ram.get_paginator("get_resource_share_invitations").paginate():
        for invitation in page.get("resourceShareInvitations", []):
            if invitation.get("status") != "PENDING":
                continue
            sender = invitation["senderAccountId"]
            wanted = f":glue:{prov.ctx.region}:{sender}:database/{database}".lower()
            token: str | None = None
            while True:
                listing = ram.list_pending_invitation_resources(
                    resourceShareInvitationArn=invitation["resourceShareInvitationArn"],
                    **({"nextToken": token} if token else {}),
                )
                if any(
                    str(r.get("arn", "")).lower().endswith(wanted) for r in listing["resources"]
                ):
                    return dict(invitation)
                token = listing.get("nextToken")
                if not token:
                    break
    return None


def ensure_shared_database(prov: Steps, database: str) -> str:
    """The owner's CatalogId of a store's database shared into this account: already FOREIGN
    (``unchanged``), or after accepting its pending RAM invitation
    (AcceptResourceShareInvitation) and waiting for the FOREIGN database (every
    ``ctx.job_poll_seconds``, at most :data:`SHARE_WAIT_SECONDS`). A plan reports ``create``
    and accepts nothing (owner :data:`AFTER_APPLY` when no invitation exists yet).

    Raises:
        StoreNotSharedError: no FOREIGN database and no pending invitation offering it (rejected,
            expired, or the store was made by another account), or the database did not appear.
        AwsError: from Glue or RAM.
    """
    owner = foreign_database(prov, database)
    if owner is not None:
        prov._record("ram share", database, "unchanged", f"catalog {owner}")
        return owner
    invitation = pending_invitation(prov, database)
    if invitation is None and prov.dry_run:
        # a store the plan would create has no share yet
        prov._record("ram share", database, "create", f"accept invitation: {AFTER_APPLY}")
        return AFTER_APPLY
    if invitation is None:
        raise StoreNotSharedError(
            f"the HealthOmics store database {database} is not shared with account "
            f"{prov.ctx.account_id} and no pending AWS RAM invitation offers it: check "
            "`aws ram get-resource-share-invitations` (a rejected or expired invitation cannot be "
            "accepted; recreate the store) and that the store belongs to this account"
        )
    owner = str(invitation["senderAccountId"])
    prov._record(
        "ram share",
        database,
        "create",
        f"accept invitation from {owner}: {invitation['resourceShareName']}",
    )
    if prov.dry_run:
        return owner
    prov.client("ram").accept_resource_share_invitation(
        resourceShareInvitationArn=invitation["resourceShareInvitationArn"],
        clientToken=invitation["resourceShareInvitationArn"].rsplit("/", 1)[-1],
    )
    deadline = time.monotonic() + SHARE_WAIT_SECONDS
    while True:
        found = foreign_database(prov, database)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise StoreNotSharedError(
                f"accepted the AWS RAM invitation for {database} but the database did not appear "
                f"as a shared (FOREIGN) Glue database within {SHARE_WAIT_SECONDS:.0f} s; run the "
                "command again"
            )
        prov._sleep(prov.ctx.job_poll_seconds)
