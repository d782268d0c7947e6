"""Lake Formation table grants: what a reader holds, granting and revoking it idempotently.

A :class:`Grant` is one ``Table`` resource and the permissions a reader needs on it; which
grants a deployment's readers need is :meth:`omics_toolkit.provisioning.analytics.AnalyticsSteps.reader_grants`.
Calls: Lake Formation ListPermissions (by resource, every page; the principal is filtered here,
because ListPermissions refuses some principals as a filter, e.g. IAM Identity Center users),
GrantPermissions, RevokePermissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.provisioning.core import AFTER_APPLY

if TYPE_CHECKING:
    from omics_toolkit.provisioning.core import Steps

#: What a reader of a table needs: see its definition, read its rows.
READ = ("DESCRIBE", "SELECT")
#: What a reader of a resource link needs (the link's target is granted :data:`READ`).
DESCRIBE = ("DESCRIBE",)


@dataclass(frozen=True)
class Grant:
    """Permissions on one Glue Data Catalog table (Lake Formation ``Resource.Table``).

    Attributes:
        catalog_id: the table's catalog: an account id, or ``<account>:s3tablescatalog/<bucket>``.
        database: database (S3 Tables: namespace) name.
        table: table or resource link name.
        permissions: Lake Formation permissions (``DESCRIBE``, ``SELECT``).
        label: how reports name the table (``<database>.<table>`` by default).
    """

    catalog_id: str
    database: str
    table: str
    permissions: tuple[str, ...]
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or f"{self.database}.{self.table}"

    @property
    def resource(self) -> dict[str, Any]:
        """The Lake Formation ``Resource`` of the table."""
        return {
            "Table": {
                "CatalogId": self.catalog_id,
                "DatabaseName": self.database,
                "Name": self.table,
            }
        }

    def matches(self, resource: dict[str, Any], account: str) -> bool:
        """Whether a ListPermissions ``Resource`` (``Table`` or ``TableWithColumns``) is this
        table (a missing ``CatalogId`` is ``account``'s catalog)."""
        table = resource.get("Table") or resource.get("TableWithColumns") or {}
        return (
            str(table.get("CatalogId") or account) == self.catalog_id
            and table.get("DatabaseName") == self.database
            and table.get("Name") == self.table
        )


def _pages(steps: Steps, **params: Any) -> list[dict[str, Any]]:
    """Every ``PrincipalResourcePermissions`` of ListPermissions (botocore has no paginator)."""
    lf = steps.client("lakeformation")
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = lf.list_permissions(**params, **({"NextToken": token} if token else {}))
        found += page.get("PrincipalResourcePermissions", []) or []
        token = page.get("NextToken")
        if not token:
            return found


def holders(steps: Steps, grant: Grant) -> dict[str, set[str]]:
    """Principal identifier -> permissions it holds on ``grant``'s table (nobody's, without a
    call, when the table's catalog is not known before apply: a plan before the store's RAM
    share is accepted)."""
    held: dict[str, set[str]] = {}
    if grant.catalog_id == AFTER_APPLY:
        return held
    for perm in _pages(steps, Resource=grant.resource):
        if not grant.matches(perm.get("Resource", {}), steps.ctx.account_id):
            continue
        who = str(perm.get("Principal", {}).get("DataLakePrincipalIdentifier", ""))
        held.setdefault(who, set()).update(perm.get("Permissions", []) or [])
    return held


def ensure_grants(
    steps: Steps,
    principal: str,
    grants: Iterable[Grant],
    held: Mapping[Grant, dict[str, set[str]]] | None = None,
) -> None:
    """Grant each of ``grants`` to ``principal`` unless it already holds the permissions;
    reports one ``lake formation grant`` action per table (``create`` or ``unchanged``).
    ``held``: :func:`holders` of each grant, when the caller has read them already (one
    ListPermissions per table however many principals are granted).

    Raises:
        UserError: Lake Formation refused the principal (``InvalidInputException``: a session
            ARN, a role or user that does not exist, e.g. a role ARN without its path).
        AwsError: any other Lake Formation error.
    """
    lf = steps.client("lakeformation")
    for grant in grants:
        have = (held[grant] if held is not None else holders(steps, grant)).get(principal, set())
        detail = f"{'+'.join(grant.permissions)} to {principal}"
        if set(grant.permissions) <= have:
            steps._record("lake formation grant", grant.name, "unchanged", detail)
            continue
        steps._record("lake formation grant", grant.name, "create", detail)
        if steps.dry_run:
            continue
        try:
            lf.grant_permissions(
                Principal={"DataLakePrincipalIdentifier": principal},
                Resource=grant.resource,
                Permissions=list(grant.permissions),
            )
        except AwsError as exc:
            if exc.code != "InvalidInputException" or "principal" not in exc.message.lower():
                raise
            raise UserError(
                f"Lake Formation refused principal {principal}: {exc.message} (an IAM role's "
                "ARN must include its path, e.g. arn:aws:iam::<account>:role/aws-reserved/"
                "sso.amazonaws.com/<region>/AWSReservedSSO_...: `aws iam get-role --role-name "
                "NAME --query Role.Arn` prints it)"
            ) from exc


def revoke_from(steps: Steps, principal: str, grants: Iterable[Grant]) -> int:
    """Revoke from ``principal`` whichever of each grant's permissions it holds (reported
    ``delete``); returns how many tables lost a permission (0: it held none)."""
    lf = steps.client("lakeformation")
    revoked = 0
    for grant in grants:
        held = holders(steps, grant).get(principal, set()) & set(grant.permissions)
        if not held:
            continue
        revoked += 1
        permissions = sorted(held)
        steps._delete(
            "lake formation grant",
            grant.name,
            f"{'+'.join(permissions)} from {principal}",
            lambda grant=grant, permissions=permissions: lf.revoke_permissions(
                Principal={"DataLakePrincipalIdentifier": principal},
                Resource=grant.resource,
                Permissions=permissions,
            ),
        )
    return revoked
