"""The local Athena's S3 Tables catalog: ``s3tablescatalog/<table bucket>`` over moto's S3 Tables.

Athena reaches S3 Tables through the catalog ``s3tablescatalog/<bucket>``; the database is the
bucket's namespace. Here (inside the moto server process) a table is resolved through moto's S3
Tables backend to its current Iceberg metadata file; pyiceberg plans the scan (snapshot,
manifests, deletes applied at file level) reading metadata straight from moto's S3 backend, and
the data files of the current snapshot become one DuckDB view. Data files are immutable in
Iceberg, so each is copied out of moto once per process and reused.

Limits (the query FAILS rather than answering wrongly): tables with row-level delete files
(position or equality deletes; pyiceberg itself writes none) are refused with NOT_SUPPORTED.
"""

from __future__ import annotations

import io
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pyiceberg.io import FileIO, InputFile, InputStream, OutputFile

from omics_toolkit.local.athena.catalogs import has_catalog
from omics_toolkit.local.athena.errors import QueryFailed

_cache_lock = threading.Lock()
_cache_dir: Path | None = None


def _moto_key(account_id: str, uri: str) -> Any:
    from moto.s3.models import s3_backends

    parsed = urlparse(uri)
    backend = s3_backends[account_id]["aws"]
    bucket = backend.table_buckets.get(parsed.netloc) or backend.buckets.get(parsed.netloc)
    if bucket is None:
        return None
    return bucket.keys.get(parsed.path.lstrip("/"))


class _MotoInputFile(InputFile):
    def __init__(self, location: str, account_id: str) -> None:
        super().__init__(location)
        self._account_id = account_id

    def _key(self) -> Any:
        key = _moto_key(self._account_id, self.location)
        if key is None:
            raise FileNotFoundError(self.location)
        return key

    def __len__(self) -> int:
        return int(self._key().size)

    def exists(self) -> bool:
        return _moto_key(self._account_id, self.location) is not None

    def open(self, seekable: bool = True) -> InputStream:
        return io.BytesIO(self._key().value)


class MotoFileIO(FileIO):
    """Read-only pyiceberg FileIO over moto's in-process S3 backend (``moto.account`` property)."""

    def new_input(self, location: str) -> InputFile:
        return _MotoInputFile(location, self.properties["moto.account"])

    def new_output(self, location: str) -> OutputFile:
        raise PermissionError("the local Athena reads S3 Tables; it never writes them")

    def delete(self, location: str | InputFile | OutputFile) -> None:
        raise PermissionError("the local Athena reads S3 Tables; it never deletes")


def _local_copy(account_id: str, uri: str) -> str:
    global _cache_dir
    with _cache_lock:
        if _cache_dir is None:
            _cache_dir = Path(tempfile.mkdtemp(prefix="omics-toolkit-s3tables-"))
    parsed = urlparse(uri)
    target = _cache_dir / parsed.netloc / parsed.path.lstrip("/")
    if not target.is_file():
        key = _moto_key(account_id, uri)
        if key is None:
            raise QueryFailed(f"ICEBERG_MISSING_DATA: data file {uri} does not exist")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + f".{threading.get_ident()}.partial")
        partial.write_bytes(key.value)
        partial.replace(target)
    return str(target)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def register_view(
    con: Any, view: str, catalog: str, database: str, table: str, account_id: str, region: str
) -> None:
    """Create DuckDB view ``view`` over ``catalog.database.table`` (an S3 Tables Iceberg table).

    Args:
        con: the DuckDB connection of the query.
        catalog: ``s3tablescatalog/<table bucket name>`` (case-insensitive prefix).
        database: the namespace; table: the table name (both lowercase in S3 Tables).

    Raises:
        QueryFailed: ``CATALOG_NOT_FOUND`` (no such table bucket), ``SCHEMA_NOT_FOUND`` (no such
            namespace), ``TABLE_NOT_FOUND``, ``NOT_SUPPORTED`` (row-level deletes).
    """
    from moto.s3tables.models import s3tables_backends
    from pyiceberg.serializers import FromInputFile
    from pyiceberg.table import StaticTable

    if not has_catalog(account_id, region, "s3tablescatalog"):
        raise QueryFailed(
            f"CATALOG_NOT_FOUND: Catalog '{catalog}' does not exist (the account has no Glue "
            "catalog s3tablescatalog: the S3 Tables integration is not set up)"
        )
    bucket_name = catalog.split("/", 1)[1] if "/" in catalog else ""
    backend = s3tables_backends[account_id][region]
    bucket = next((b for b in backend.table_buckets.values() if b.name == bucket_name), None)
    if bucket is None:
        raise QueryFailed(f"CATALOG_NOT_FOUND: Catalog '{catalog}' does not exist")
    ns = bucket.namespaces.get(database.lower())
    if ns is None:
        raise QueryFailed(f"SCHEMA_NOT_FOUND: Schema '{database}' does not exist")
    entry = ns.tables.get(table.lower())
    if entry is None or not entry.metadata_location:
        raise QueryFailed(f"TABLE_NOT_FOUND: Table '{database}.{table}' does not exist")
    properties = {"py-io-impl": f"{__name__}.MotoFileIO", "moto.account": account_id}
    file_io = MotoFileIO(properties)
    metadata = FromInputFile.table_metadata(file_io.new_input(entry.metadata_location))
    iceberg = StaticTable(
        identifier=(database, table),
        metadata=metadata,
        metadata_location=entry.metadata_location,
        io=file_io,
        catalog=None,  # type: ignore[arg-type]
    )
    tasks = list(iceberg.scan().plan_files()) if iceberg.current_snapshot() else []
    if any(task.delete_files for task in tasks):
        raise QueryFailed(
            f"NOT_SUPPORTED: the local Athena cannot read Iceberg row-level deletes ({database}.{table})"
        )
    files = [_local_copy(account_id, task.file.file_path) for task in tasks]
    if files:
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"CREATE VIEW {_quote(view)} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)"
        )
    else:
        empty = iceberg.schema().as_arrow().empty_table()
        con.register(view + "__empty", empty)
        con.execute(f"CREATE VIEW {_quote(view)} AS SELECT * FROM {_quote(view + '__empty')}")
