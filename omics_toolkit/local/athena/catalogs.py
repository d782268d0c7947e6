"""The catalogs the local Athena knows: Glue's ``AwsDataCatalog`` and ``s3tablescatalog/<bucket>``.

Glue catalogs made by CreateCatalog (the moto patch :mod:`omics_toolkit.local.patches.glue_catalogs`)
are kept on moto's Glue backend (``otk_catalogs``: name -> GetCatalog ``Catalog`` shape). The store
lives here, below both the patch that writes it and the local Athena that reads it, so neither
imports the other: the S3 Tables catalog answers ``CATALOG_NOT_FOUND`` for
``s3tablescatalog/<bucket>`` until the federated catalog ``s3tablescatalog`` exists, as Athena
does before the integration is set up.
"""

from __future__ import annotations

from typing import Any

from omics_toolkit.local.athena.errors import QueryFailed

#: The Glue Data Catalog's name in QueryExecutionContext.Catalog and three-part table names.
GLUE_CATALOG = "awsdatacatalog"
#: Prefix of the S3 Tables integration catalogs (``s3tablescatalog/<table bucket>``).
S3TABLES_CATALOG_PREFIX = "s3tablescatalog/"


def catalog_kind(catalog: str) -> str:
    """``"glue"`` or ``"s3tables"`` for a catalog name (case-insensitive).

    Raises:
        QueryFailed: CATALOG_NOT_FOUND for any other name.
    """
    lowered = catalog.lower()
    if lowered == GLUE_CATALOG:
        return "glue"
    if lowered.startswith(S3TABLES_CATALOG_PREFIX) and len(lowered) > len(S3TABLES_CATALOG_PREFIX):
        return "s3tables"
    raise QueryFailed(f"CATALOG_NOT_FOUND: Catalog '{catalog}' does not exist")


def catalogs(backend: Any) -> dict[str, dict[str, Any]]:
    """The Glue backend's catalogs (created on first use)."""
    if not hasattr(backend, "otk_catalogs"):
        backend.otk_catalogs = {}
    return backend.otk_catalogs  # type: ignore[no-any-return]


def has_catalog(account_id: str, region: str, name: str) -> bool:
    """True when the Glue catalog ``name`` exists in moto's Glue backend of account and region."""
    from moto.glue.models import glue_backends

    return name in catalogs(glue_backends[account_id][region])
