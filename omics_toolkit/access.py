"""Read access to a deployment's tables for other people, through Lake Formation.

``omics-toolkit access grant|revoke|list``. What a reader needs is the same list provisioning
grants to the provisioning principal (:meth:`~omics_toolkit.provisioning.analytics.AnalyticsSteps.reader_grants`):

- ``stores`` back end: DESCRIBE on the Glue database's resource links (``variants``,
  ``annotations``, ``annotations_<name>``) and DESCRIBE+SELECT on the tables they link to;
- ``s3tables`` back end: DESCRIBE+SELECT on every table of the deployment's namespace in
  ``s3tablescatalog/<bucket>``;
- ``none``: no tables, a :class:`~omics_toolkit.errors.UserError`.

Readers keep their access across re-provisioning and annotation imports (both grant the
deployment's tables again to every principal holding something on them) and lose it at
teardown (every grant on the deployment's tables is revoked with them). Lake Formation calls:
ListPermissions, GrantPermissions, RevokePermissions; Glue GetTables; S3 Tables ListTables.

The principal must be one Lake Formation accepts (:func:`omics_toolkit.principals.check_principal`:
IAM role or user ARN with its path, SAML or IAM Identity Center user or group, account...);
without one, the caller (:func:`omics_toolkit.principals.grantee`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from omics_toolkit.errors import NotProvisionedError
from omics_toolkit.principals import check_principal, grantee

if TYPE_CHECKING:
    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.config import Settings
    from omics_toolkit.provisioning.analytics import AnalyticsSteps


@dataclass(frozen=True)
class AccessChange:
    """The outcome of a grant or revoke.

    Attributes:
        principal: the Lake Formation principal identifier.
        deployment, backend: the deployment and its variant back end.
        changed: tables whose grants changed (granted or revoked), as ``<db>.<table>``.
        unchanged: tables where the principal already held what a reader needs (grant only).
    """

    principal: str
    deployment: str
    backend: str
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TableAccess:
    """One principal's permissions on one of the deployment's tables (``access list``)."""

    principal: str
    table: str
    permissions: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _steps(ctx: AwsContext, settings: Settings) -> tuple[AnalyticsSteps, str, list[Any]]:
    from omics_toolkit.athena import variant_backend
    from omics_toolkit.provisioning.provision import Provisioner

    backend = variant_backend(ctx, settings)
    prov = Provisioner(ctx, settings)
    return prov, backend, prov.reader_grants(backend)


def _principal(ctx: AwsContext, settings: Settings, principal: str | None) -> str:
    return check_principal(principal) if principal else grantee(ctx, settings)


def grant_access(ctx: AwsContext, settings: Settings, principal: str | None) -> AccessChange:
    """Give ``principal`` (default: the caller) read access to the deployment's tables.

    Idempotent: tables where it already holds the permissions are reported ``unchanged``.

    Raises:
        UserError: the principal is not one Lake Formation accepts, the back end keeps no
            tables, or the deployment has none yet (``omics-toolkit provision`` first).
        AwsError: from Lake Formation, Glue or S3 Tables (e.g. ``AccessDeniedException`` for a
            caller who is not a data lake administrator).
    """
    from omics_toolkit.provisioning.grants import ensure_grants

    prov, backend, grants = _steps(ctx, settings)
    who = _principal(ctx, settings, principal)
    if not grants:
        raise NotProvisionedError(settings.deployment, settings.target, ctx.region, "tables")
    ensure_grants(prov, who, grants)
    return AccessChange(
        who,
        settings.deployment,
        backend,
        changed=[a.name for a in prov.actions if a.action == "create"],
        unchanged=[a.name for a in prov.actions if a.action == "unchanged"],
    )


def revoke_access(ctx: AwsContext, settings: Settings, principal: str | None) -> AccessChange:
    """Take read access to the deployment's tables away from ``principal`` (default: the
    caller): each DESCRIBE/SELECT it holds on them is revoked. ``changed`` is empty when it
    held none.

    Raises:
        UserError: the principal is not one Lake Formation accepts, or the back end keeps no
            tables.
        NotProvisionedError: the deployment has no tables (not provisioned, or torn down).
        AwsError: from Lake Formation, Glue or S3 Tables.
    """
    from omics_toolkit.provisioning.grants import revoke_from

    prov, backend, grants = _steps(ctx, settings)
    who = _principal(ctx, settings, principal)
    if not grants:
        raise NotProvisionedError(settings.deployment, settings.target, ctx.region, "tables")
    revoke_from(prov, who, grants)
    return AccessChange(
        who,
        settings.deployment,
        backend,
        changed=[a.name for a in prov.actions if a.action == "delete"],
    )


def list_access(ctx: AwsContext, settings: Settings) -> list[TableAccess]:
    """Every principal's permissions on the deployment's tables, sorted by principal, table.

    Raises:
        NotProvisionedError: the deployment has no tables (not provisioned, or torn down).
        AwsError: from Lake Formation, Glue or S3 Tables.
    """
    from omics_toolkit.provisioning.grants import holders

    prov, _, grants = _steps(ctx, settings)
    if not grants:
        raise NotProvisionedError(settings.deployment, settings.target, ctx.region, "tables")
    rows = [
        TableAccess(who, grant.name, sorted(perms))
        for grant in grants
        for who, perms in holders(prov, grant).items()
        if perms
    ]
    return sorted(rows, key=lambda r: (r.principal, r.table))
