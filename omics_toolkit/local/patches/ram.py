"""AWS RAM invitations for moto, and Glue / Lake Formation that honour what a share makes visible.

This is how HealthOmics hands a variant or annotation store to its owner: the store's Glue
database lives in a HealthOmics-owned account and is shared into the caller's account through
AWS RAM; the caller accepts the invitation (or HealthOmics auto-accepts it when the caller may
``ram:GetResourceShareInvitations`` and ``ram:AcceptResourceShareInvitation``), then sees the
database as a FOREIGN database of the owner's catalog, links to it and grants on it with the
owner's CatalogId (HealthOmics User Guide, "Configuring Lake Formation to use HealthOmics"
setting-up-lf.html and "HealthOmics Resource permissions" permissions-resource.html).

- RAM (state in :mod:`omics_toolkit.local.shares`): CreateResourceShare with another account as
  principal sends it a ``PENDING`` invitation; DeleteResourceShare expires pending ones; added
  operations GetResourceShareInvitations, AcceptResourceShareInvitation,
  RejectResourceShareInvitation, ListPendingInvitationResources (shapes of botocore's ``ram``
  model, errors ``ResourceShareInvitationArnNotFoundException``,
  ``ResourceShareInvitationAlreadyAcceptedException``, ``...AlreadyRejectedException``,
  ``...ExpiredException``, ``MalformedArnException``) and GetResourceShares with
  ``resourceOwner=OTHER-ACCOUNTS`` (moto raises NotImplementedError).
- Glue: GetDatabases with ``ResourceShareType`` ``FOREIGN`` (shared databases only) or ``ALL``;
  GetDatabase, GetTable and GetTables with another account's ``CatalogId`` answer from that
  account's catalog when the database is shared with the caller and accepted, else
  ``EntityNotFoundException`` (moto ignored CatalogId and answered from the caller's catalog).
- Lake Formation: GrantPermissions on a ``Database``, ``Table`` or ``TableWithColumns`` whose
  database is neither in the caller's catalog nor shared with it (by the resource's
  ``CatalogId``, the caller's by default) is refused with ``EntityNotFoundException``, as Lake
  Formation does; federated catalogs (``<account>:s3tablescatalog/...``) are not checked.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from omics_toolkit.local import shares
from omics_toolkit.local.patches.guard import Needs

#: The moto names this module wraps or adds to.
TARGETS = (
    "moto.ram.models.ResourceAccessManagerBackend.create_resource_share",
    "moto.ram.models.ResourceAccessManagerBackend.delete_resource_share",
    "moto.ram.responses.ResourceAccessManagerResponse",
    "moto.ram.urls.url_paths",
    "moto.glue.responses.GlueResponse",
    "moto.lakeformation.responses.LakeFormationResponse.grant_permissions",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.ram.models.ResourceAccessManagerBackend.create_resource_share",
        params=("self",),
        source=("self.resource_shares.append(resource)",),
    ),
    Needs(
        "moto.ram.models.ResourceAccessManagerBackend.delete_resource_share",
        params=("self", "resource_share_arn"),
    ),
    Needs("moto.ram.models.ResourceAccessManagerBackend.get_resource_shares", params=("self",)),
    Needs("moto.ram.models.ResourceShare.describe"),
    Needs("moto.ram.models.ram_backends"),
    Needs("moto.ram.responses.ResourceAccessManagerResponse.ram_backend"),
    Needs("moto.ram.responses.ResourceAccessManagerResponse._get_param"),
    Needs("moto.ram.urls.url_paths"),
    Needs("moto.core.exceptions.JsonRESTError"),
    Needs("moto.glue.responses.GlueResponse.get_database", params=("self",)),
    Needs("moto.glue.responses.GlueResponse.get_databases", params=("self",)),
    Needs("moto.glue.responses.GlueResponse.get_table", params=("self",)),
    Needs("moto.glue.responses.GlueResponse.get_tables", params=("self",)),
    Needs("moto.glue.responses.GlueResponse.glue_backend"),
    Needs("moto.glue.models.glue_backends"),
    Needs("moto.glue.exceptions.EntityNotFoundException"),
    Needs("moto.core.responses.ActionResult"),
    Needs(
        "moto.lakeformation.responses.LakeFormationResponse.grant_permissions",
        params=("self",),
        source=('self._get_param("Resource")',),
    ),
)

#: Routes of the added RAM operations (REST-JSON, POST, as in botocore's model).
ROUTES = (
    "getresourceshareinvitations",
    "acceptresourceshareinvitation",
    "rejectresourceshareinvitation",
    "listpendinginvitationresources",
)


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    err = JsonRESTError(code, message)
    err.code = 400
    return err


# ---------------------------------------------------------------------- RAM models
def _wrap_create(current: Any) -> Any:
    @functools.wraps(current)
    def create_resource_share(self: Any, **kwargs: Any) -> dict[str, Any]:
        result = current(self, **kwargs)
        arn = result["resourceShare"]["resourceShareArn"]
        share = next(s for s in self.resource_shares if s.arn == arn)
        shares.invite(share)
        return dict(result)

    return create_resource_share


def _wrap_delete(current: Any) -> Any:
    @functools.wraps(current)
    def delete_resource_share(self: Any, resource_share_arn: str | None) -> dict[str, Any]:
        result = current(self, resource_share_arn)
        share = next((s for s in self.resource_shares if s.arn == resource_share_arn), None)
        if share is not None:
            shares.expire(share)
        return dict(result)

    return delete_resource_share


# ---------------------------------------------------------------------- RAM wire
def _wire(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "invitationTimestamp": record["invitationTimestamp"].timestamp()}


def _page(items: list[Any], max_results: Any, token: Any) -> tuple[list[Any], str | None]:
    start = int(token or 0)
    size = int(max_results or 100)
    if not 1 <= size <= 500:
        raise _error("InvalidMaxResultsException", "maxResults must be between 1 and 500")
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _own_invitation(self: Any) -> dict[str, Any]:
    arn = self._get_param("resourceShareInvitationArn")
    if not arn or not str(arn).startswith("arn:") or ":resource-share-invitation/" not in arn:
        raise _error(
            "MalformedArnException",
            f"The specified resource share invitation ARN {arn} is not valid.",
        )
    record = shares.invitations(self.current_account, self.region).get(arn)
    if record is None:
        raise _error(
            "ResourceShareInvitationArnNotFoundException",
            f"ResourceShareInvitation {arn} could not be found.",
        )
    return record


def _answer(self: Any, record: dict[str, Any], status: str) -> str:
    arn = record["resourceShareInvitationArn"]
    if record["status"] == "ACCEPTED":
        raise _error(
            "ResourceShareInvitationAlreadyAcceptedException",
            f"The resource share invitation {arn} was already accepted.",
        )
    if record["status"] == "REJECTED":
        raise _error(
            "ResourceShareInvitationAlreadyRejectedException",
            f"The resource share invitation {arn} was already rejected.",
        )
    if record["status"] == "EXPIRED":
        raise _error(
            "ResourceShareInvitationExpiredException",
            f"The resource share invitation {arn} has expired.",
        )
    record["status"] = status
    out: dict[str, Any] = {"resourceShareInvitation": _wire(record)}
    token = self._get_param("clientToken")
    if token:
        out["clientToken"] = token
    return json.dumps(out)


def get_resource_share_invitations(self: Any) -> str:
    wanted = set(self._get_param("resourceShareInvitationArns") or [])
    share_arns = set(self._get_param("resourceShareArns") or [])
    records = [
        _wire(r)
        for arn, r in shares.invitations(self.current_account, self.region).items()
        if (not wanted or arn in wanted) and (not share_arns or r["resourceShareArn"] in share_arns)
    ]
    records.sort(key=lambda r: r["invitationTimestamp"])
    page, token = _page(records, self._get_param("maxResults"), self._get_param("nextToken"))
    return json.dumps({"resourceShareInvitations": page, **({"nextToken": token} if token else {})})


def accept_resource_share_invitation(self: Any) -> str:
    return _answer(self, _own_invitation(self), "ACCEPTED")


def reject_resource_share_invitation(self: Any) -> str:
    return _answer(self, _own_invitation(self), "REJECTED")


def list_pending_invitation_resources(self: Any) -> str:
    record = _own_invitation(self)
    if record["status"] == "REJECTED":
        raise _error(
            "ResourceShareInvitationAlreadyRejectedException",
            f"The resource share invitation {record['resourceShareInvitationArn']} was rejected.",
        )
    if record["status"] == "EXPIRED":
        raise _error(
            "ResourceShareInvitationExpiredException",
            f"The resource share invitation {record['resourceShareInvitationArn']} has expired.",
        )
    share = shares.share_of(record, self.region)
    stamp = record["invitationTimestamp"].timestamp()
    resources = [
        {
            "arn": arn,
            "type": _resource_type(arn),
            "resourceShareArn": record["resourceShareArn"],
            "status": "AVAILABLE",
            "creationTime": stamp,
            "lastUpdatedTime": stamp,
            "resourceRegionScope": "REGIONAL",
        }
        for arn in (share.resource_arns if share is not None else [])
    ]
    page, token = _page(resources, self._get_param("maxResults"), self._get_param("nextToken"))
    return json.dumps({"resources": page, **({"nextToken": token} if token else {})})


def _resource_type(arn: str) -> str:
    """``glue:Database`` for ``arn:aws:glue:...:database/x`` (RAM's ``service:Type``)."""
    parts = arn.split(":", 5)
    kind = parts[5].split("/", 1)[0] if len(parts) > 5 else ""
    return f"{parts[2]}:{kind[:1].upper()}{kind[1:]}" if len(parts) > 2 else ""


def _wrap_get_shares(current: Any) -> Any:
    @functools.wraps(current)
    def get_resource_shares(self: Any) -> str:
        if self._get_param("resourceOwner") != "OTHER-ACCOUNTS":
            return str(current(self))
        found = []
        for record in shares.invitations(self.current_account, self.region).values():
            share = shares.share_of(record, self.region)
            if record["status"] == "ACCEPTED" and share is not None:
                found.append(share.describe())
        return json.dumps({"resourceShares": found})

    return get_resource_shares


# ---------------------------------------------------------------------- Glue
def _foreign_catalog(self: Any) -> str | None:
    """The request's CatalogId when it names another 12-digit account, else None."""
    catalog = str(self._get_param("CatalogId") or "")
    if shares.ACCOUNT_ID.match(catalog) and catalog != self.current_account:
        return catalog
    return None


def _shared_database(self: Any, owner: str, name: str) -> Any:
    """The owner's FakeDatabase ``name`` if shared with the caller, else EntityNotFoundException."""
    from moto.glue.exceptions import EntityNotFoundException
    from moto.glue.models import glue_backends

    if shares.is_shared(self.current_account, self.region, owner, name):
        backend = glue_backends[owner][self.region]
        found = next((d for k, d in backend.databases.items() if k.lower() == name.lower()), None)
        if found is not None:
            return found
    raise EntityNotFoundException(f"Database {name} not found.")


def _wrap_glue(name: str, current: Any) -> Any:
    @functools.wraps(current)
    def handler(self: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.glue.exceptions import EntityNotFoundException

        owner = _foreign_catalog(self)
        if name == "get_databases":
            kind = self._get_param("ResourceShareType")
            if kind not in ("FOREIGN", "ALL"):
                return current(self)
            own = [d.as_dict() for d in self.glue_backend.get_databases()] if kind == "ALL" else []
            foreign = [
                _shared_database(self, o, d).as_dict()
                for o, d in shares.shared_databases(self.current_account, self.region)
            ]
            return ActionResult({"DatabaseList": own + foreign})
        if owner is None:
            return current(self)
        if name == "get_database":
            return ActionResult(
                {"Database": _shared_database(self, owner, self._get_param("Name")).as_dict()}
            )
        db = _shared_database(self, owner, self._get_param("DatabaseName"))
        if name == "get_tables":
            return ActionResult({"TableList": [t.as_dict() for t in db.tables.values()]})
        table_name = str(self._get_param("Name"))
        table = next((t for k, t in db.tables.items() if k.lower() == table_name.lower()), None)
        if table is None:
            raise EntityNotFoundException(f"Table {table_name} not found.")
        return ActionResult({"Table": table.as_dict()})

    handler._omics_toolkit_ram = True  # type: ignore[attr-defined]
    return handler


# ---------------------------------------------------------------------- Lake Formation
def check_grant_resource(account_id: str, region: str, resource: dict[str, Any]) -> None:
    """Refuse a grant on a database or table that ``account_id`` cannot see.

    Raises:
        JsonRESTError: ``EntityNotFoundException`` naming the database (or table) and catalog.
    """
    from moto.glue.models import glue_backends

    entry = resource.get("Table") or resource.get("TableWithColumns")
    database = entry.get("DatabaseName") if entry else None
    if entry is None and resource.get("Database"):
        entry = resource["Database"]
        database = entry.get("Name")
    if not entry or not database:
        return
    catalog = str(entry.get("CatalogId") or account_id)
    if not shares.ACCOUNT_ID.match(catalog):
        return  # a federated catalog (<account>:s3tablescatalog/<bucket>): not Glue databases
    backend = glue_backends[catalog][region]
    found = next((d for k, d in backend.databases.items() if k.lower() == database.lower()), None)
    if found is None or not shares.is_shared(account_id, region, catalog, database):
        raise _error(
            "EntityNotFoundException", f"Database {database} not found in catalog {catalog}."
        )
    table = entry.get("Name") if entry is not resource.get("Database") else None
    if table and not any(k.lower() == table.lower() for k in found.tables):
        raise _error("EntityNotFoundException", f"Table {table} not found in {catalog}:{database}.")


def _wrap_grant(current: Any) -> Any:
    @functools.wraps(current)
    def grant_permissions(self: Any) -> str:
        check_grant_resource(self.current_account, self.region, self._get_param("Resource") or {})
        return str(current(self))

    grant_permissions._omics_toolkit_ram = True  # type: ignore[attr-defined]
    return grant_permissions


def apply() -> None:
    """Add the RAM operations and routes, wrap the share model, Glue reads and LF grants
    (idempotent)."""
    from moto.glue.responses import GlueResponse
    from moto.lakeformation.responses import LakeFormationResponse
    from moto.ram import urls
    from moto.ram.models import ResourceAccessManagerBackend
    from moto.ram.responses import ResourceAccessManagerResponse

    if getattr(LakeFormationResponse.grant_permissions, "_omics_toolkit_ram", False):
        return
    ResourceAccessManagerBackend.create_resource_share = _wrap_create(  # type: ignore[method-assign]
        ResourceAccessManagerBackend.create_resource_share
    )
    ResourceAccessManagerBackend.delete_resource_share = _wrap_delete(  # type: ignore[method-assign]
        ResourceAccessManagerBackend.delete_resource_share
    )
    response = ResourceAccessManagerResponse
    response.get_resource_share_invitations = get_resource_share_invitations  # type: ignore[attr-defined]
    response.accept_resource_share_invitation = accept_resource_share_invitation  # type: ignore[attr-defined]
    response.reject_resource_share_invitation = reject_resource_share_invitation  # type: ignore[attr-defined]
    response.list_pending_invitation_resources = list_pending_invitation_resources  # type: ignore[attr-defined]
    response.get_resource_shares = _wrap_get_shares(response.get_resource_shares)  # type: ignore[method-assign]
    for route in ROUTES:
        urls.url_paths[f"{{0}}/{route}$"] = ResourceAccessManagerResponse.dispatch
    for name in ("get_database", "get_databases", "get_table", "get_tables"):
        setattr(GlueResponse, name, _wrap_glue(name, getattr(GlueResponse, name)))
    LakeFormationResponse.grant_permissions = _wrap_grant(  # type: ignore[method-assign]
        LakeFormationResponse.grant_permissions
    )
