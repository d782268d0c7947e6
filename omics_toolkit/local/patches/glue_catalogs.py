"""Glue Data Catalog catalogs (CreateCatalog, GetCatalog, DeleteCatalog) for moto, which has none.

Only what the S3 Tables integration needs: the federated catalog ``s3tablescatalog``
(``FederatedCatalog {Identifier: arn:aws:s3tables:<region>:<account>:bucket/*,
ConnectionName: aws:s3tables}``). The local Athena (:mod:`omics_toolkit.local.athena.s3tables`)
answers ``CATALOG_NOT_FOUND`` for ``s3tablescatalog/<bucket>`` until this catalog exists, as Athena
does before the integration. Catalogs are kept on the Glue backend
(:func:`omics_toolkit.local.athena.catalogs.catalogs`: name -> GetCatalog ``Catalog`` shape).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from omics_toolkit.local.athena.catalogs import catalogs
from omics_toolkit.local.patches.guard import Needs

#: The moto class this module adds methods to (checked by tests/unit/local/test_patches_*).
TARGET = "moto.glue.responses.GlueResponse"

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs("moto.glue.responses.GlueResponse._get_param", params=("self", "param_name")),
    Needs("moto.glue.responses.GlueResponse.glue_backend"),
    Needs("moto.glue.models.glue_backends"),
    Needs("moto.glue.exceptions.AlreadyExistsException"),
    Needs("moto.glue.exceptions.EntityNotFoundException"),
    Needs("moto.glue.exceptions.InvalidInputException"),
    Needs("moto.core.responses.ActionResult"),
    Needs("moto.core.responses.EmptyResult"),
)


def create_catalog(self: Any) -> Any:
    from moto.core.responses import EmptyResult
    from moto.glue.exceptions import AlreadyExistsException, InvalidInputException

    name = self._get_param("Name")
    spec = self._get_param("CatalogInput") or {}
    known = catalogs(self.glue_backend)
    if name in known:
        raise AlreadyExistsException("Catalog")
    federated = spec.get("FederatedCatalog") or {}
    if federated and federated.get("ConnectionName") != "aws:s3tables":
        raise InvalidInputException(
            "CreateCatalog",
            "the local stack federates S3 Tables (ConnectionName aws:s3tables) only",
        )
    now = dt.datetime.now(dt.UTC).timestamp()
    known[name] = {
        "CatalogId": f"{self.current_account}:{name}",
        "Name": name,
        "ResourceArn": f"arn:aws:glue:{self.region}:{self.current_account}:catalog/{name}",
        "Description": spec.get("Description", ""),
        "Parameters": spec.get("Parameters", {}),
        "CreateTime": now,
        "UpdateTime": now,
        **({"FederatedCatalog": federated} if federated else {}),
        "CreateTableDefaultPermissions": spec.get("CreateTableDefaultPermissions", []),
        "CreateDatabaseDefaultPermissions": spec.get("CreateDatabaseDefaultPermissions", []),
        "AllowFullTableExternalDataAccess": spec.get("AllowFullTableExternalDataAccess", "False"),
    }
    return EmptyResult()


def _find(self: Any) -> dict[str, Any]:
    from moto.glue.exceptions import EntityNotFoundException

    cid = str(self._get_param("CatalogId") or "")
    name = cid.split(":", 1)[-1]
    found = catalogs(self.glue_backend).get(name)
    if found is None:
        raise EntityNotFoundException(f"Catalog {cid} not found.")
    return found


def get_catalog(self: Any) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult({"Catalog": _find(self)})


def delete_catalog(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    catalogs(self.glue_backend).pop(_find(self)["Name"], None)
    return EmptyResult()


def apply() -> None:
    """Add the operations to moto's GlueResponse (idempotent)."""
    from moto.glue.responses import GlueResponse

    GlueResponse.create_catalog = create_catalog  # type: ignore[attr-defined]
    GlueResponse.get_catalog = get_catalog  # type: ignore[attr-defined]
    GlueResponse.delete_catalog = delete_catalog  # type: ignore[attr-defined]
