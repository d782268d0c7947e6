"""Glue tables as DuckDB views: Glue resolution (resource links followed) and the view over Parquet.

A table ``database.name`` is looked up in moto's Glue backend (names case-insensitive), resource
links (``TargetTable {CatalogId, DatabaseName, Name}``) are followed (into another account's
catalog only when that database is shared with the account through an accepted AWS RAM
invitation, :mod:`omics_toolkit.local.shares`), and a DuckDB view is
registered over every ``*.parquet`` under ``StorageDescriptor.Location``; a table without data
files is an empty view with the Glue columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omics_toolkit.local import shares
from omics_toolkit.local.athena.errors import QueryFailed


@dataclass
class ResolvedTable:
    """A Glue table resolved to its data. ``location`` is the StorageDescriptor.Location."""

    database: str
    name: str
    location: str
    columns: list[tuple[str, str]]
    partition_keys: list[tuple[str, str]]


def _glue_table(
    account_id: str, region: str, database: str, name: str, display: str
) -> dict[str, Any]:
    from moto.glue.models import glue_backends

    backend = glue_backends[account_id][region]
    db = next((d for k, d in backend.databases.items() if k.lower() == database.lower()), None)
    if db is None:
        raise QueryFailed(f"SCHEMA_NOT_FOUND: Schema '{database}' does not exist")
    table = next((t for k, t in db.tables.items() if k.lower() == name.lower()), None)
    if table is None:
        raise QueryFailed(f"TABLE_NOT_FOUND: Table '{display}' does not exist")
    return dict(table.as_dict())


def resolve_table(account_id: str, region: str, database: str, name: str) -> ResolvedTable:
    """Resolve ``database.name`` through Glue, following resource links (at most 5 hops).

    Raises:
        QueryFailed: SCHEMA_NOT_FOUND / TABLE_NOT_FOUND, or a table without a location.
    """
    display = f"{database}.{name}".lower()
    for _ in range(5):
        table = _glue_table(account_id, region, database, name, display)
        target = table.get("TargetTable")
        if target:
            owner = target.get("CatalogId") or account_id
            region = target.get("Region") or region
            database, name = target["DatabaseName"], target["Name"]
            if not shares.is_shared(account_id, region, owner, database):
                # Lake Formation sees no such database: not (or no longer) shared with the caller
                raise QueryFailed(
                    f"SCHEMA_NOT_FOUND: Schema '{database}' of catalog {owner} is not shared "
                    f"with account {account_id} (resource link '{display}')"
                )
            account_id = owner
            continue
        sd = table.get("StorageDescriptor") or {}
        location = sd.get("Location")
        if not location:
            raise QueryFailed(
                f"HIVE_METASTORE_ERROR: Table '{display}' has no StorageDescriptor.Location"
            )
        cols = [(c["Name"].lower(), c.get("Type", "string")) for c in sd.get("Columns", [])]
        parts = [
            (c["Name"].lower(), c.get("Type", "string")) for c in table.get("PartitionKeys", [])
        ]
        return ResolvedTable(database.lower(), name.lower(), location, cols, parts)
    raise QueryFailed(f"HIVE_METASTORE_ERROR: too many resource-link hops resolving '{display}'")


def _duck_type(glue_type: str) -> str:
    import sqlglot
    from sqlglot import exp

    try:
        return exp.DataType.build(glue_type, dialect="hive").sql(dialect="duckdb")
    except (sqlglot.errors.ParseError, ValueError):
        return "VARCHAR"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def register_view(con: Any, view: str, table: ResolvedTable, files: list[str]) -> None:
    """Create DuckDB view ``view`` over ``files`` (Parquet), or empty with the Glue columns."""
    if files:
        listing = ", ".join(_sql_str(f) for f in files)
        hive = ", hive_partitioning = true" if table.partition_keys else ""
        con.execute(
            f"CREATE VIEW {_quote(view)} AS SELECT * FROM read_parquet([{listing}], union_by_name = true{hive})"
        )
    else:
        cols = table.columns + table.partition_keys
        select = (
            ", ".join(f"CAST(NULL AS {_duck_type(t)}) AS {_quote(c)}" for c, t in cols)
            or "NULL AS _"
        )
        con.execute(f"CREATE VIEW {_quote(view)} AS SELECT {select} WHERE false")
