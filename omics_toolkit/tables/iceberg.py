"""The Iceberg side of the S3 Tables back end: table layout and idempotent row replacement.

Layout (both chosen for the queries in ``queries/``):

- ``variants``: partitioned by ``identity(sampleid)`` (per-sample queries read one partition;
  re-importing a sample replaces whole files), sorted by ``contigname, start`` (region queries
  skip files and row groups by the column bounds Iceberg keeps per data file);
- ``annotations_<name>``: unpartitioned, sorted by ``contigname, start``.

Works with any pyiceberg catalog; the toolkit uses
:class:`omics_toolkit.aws.s3tables.S3TablesCatalog`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, In
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionField, PartitionSpec
from pyiceberg.schema import assign_fresh_schema_ids
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import IdentityTransform

from omics_toolkit.tables.schema import Column, arrow_schema

log = logging.getLogger(__name__)

#: Rows per Iceberg append inside one import transaction (bounded memory, few files).
APPEND_ROWS = 262_144
#: Commit attempts when another writer moved the table meanwhile.
COMMIT_ATTEMPTS = 5


@dataclass(frozen=True)
class ReplaceResult:
    """What one import did. ``rows``: rows written; ``files``: data files in the table after
    the commit; ``snapshot_id``: the table's snapshot after the commit; ``attempts``: commits
    tried."""

    rows: int
    files: int
    snapshot_id: int | None
    attempts: int


def ensure_table(
    catalog: Any,
    namespace: str,
    name: str,
    columns: list[Column],
    partition_by: str | None = None,
) -> Any:
    """Load table ``namespace.name``, creating it (namespace too) with the layout above.

    Args:
        columns: the table's columns (:mod:`omics_toolkit.tables.schema`).
        partition_by: a column partitioned by identity (``"sampleid"`` for ``variants``).

    Returns:
        The pyiceberg ``Table``.
    """
    try:
        return catalog.load_table((namespace, name))
    except NoSuchTableError:
        pass
    if (namespace,) not in catalog.list_namespaces():
        try:
            catalog.create_namespace(namespace)
        except Exception as exc:  # created meanwhile by another writer
            if (namespace,) not in catalog.list_namespaces():
                raise exc
    # Arrow -> Iceberg gives every field id -1; real ids are needed to name the partition
    # source and sort fields (pyiceberg re-assigns them by field on create).
    schema = assign_fresh_schema_ids(catalog._convert_schema_if_needed(arrow_schema(columns)))
    spec = UNPARTITIONED_PARTITION_SPEC
    if partition_by:
        field = schema.find_field(partition_by)
        spec = PartitionSpec(
            PartitionField(
                source_id=field.field_id,
                field_id=1000,
                transform=IdentityTransform(),
                name=partition_by,
            )
        )
    order = SortOrder(
        SortField(source_id=schema.find_field("contigname").field_id),
        SortField(source_id=schema.find_field("start").field_id),
    )
    try:
        return catalog.create_table(
            (namespace, name),
            schema,
            partition_spec=spec,
            sort_order=order,
            properties={"write.parquet.compression-codec": "zstd"},
        )
    except TableAlreadyExistsError:
        return catalog.load_table((namespace, name))


def _groups(batches: Iterable[pa.RecordBatch]) -> Iterable[pa.Table]:
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= APPEND_ROWS:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def replace_rows(
    catalog: Any,
    namespace: str,
    name: str,
    batches: Callable[[], Iterable[pa.RecordBatch]],
    match: tuple[str, list[str]] | None,
    snapshot_properties: dict[str, str] | None = None,
) -> ReplaceResult:
    """Replace rows atomically: delete the rows ``match`` selects, append ``batches()``, one commit.

    Readers see the old rows or the new ones, never both or neither. Importing the same data
    again gives the same rows (no duplicates). When another writer commits first, the
    transaction is redone from a fresh table state (``batches`` is called again), up to
    :data:`COMMIT_ATTEMPTS` times.

    Args:
        batches: produces the new rows as Arrow record batches in the table's schema.
        match: ``(column, values)``: rows whose ``column`` is in ``values`` are replaced
            (``("sampleid", [samples of the VCF])``); ``None`` replaces every row.
        snapshot_properties: added to the summary of the snapshots the import writes.

    Raises:
        CommitFailedException: still conflicting after the last attempt.
        pyiceberg/pyarrow errors: rows that do not fit the table's schema.
    """
    delete_filter: BooleanExpression = AlwaysTrue() if match is None else In(match[0], match[1])
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        table = catalog.load_table((namespace, name))
        rows = 0
        try:
            with table.transaction() as tx, warnings.catch_warnings():
                # "Delete operation did not match any records": a first import.
                warnings.simplefilter("ignore", UserWarning)
                tx.delete(delete_filter)
                for group in _groups(batches()):
                    if "contigname" in group.column_names:
                        group = group.sort_by([("contigname", "ascending"), ("start", "ascending")])
                    tx.append(group, snapshot_properties=snapshot_properties or {})
                    rows += group.num_rows
            # The commit updated `table` in place: its snapshot summary counts the data files.
            snapshot = table.current_snapshot()
            summary = (
                snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
            )
            files = int(summary.get("total-data-files", 0))
            return ReplaceResult(rows, files, snapshot.snapshot_id if snapshot else None, attempt)
        except CommitFailedException:
            if attempt == COMMIT_ATTEMPTS:
                raise
            log.info(
                "%s.%s changed meanwhile; redoing the import (attempt %d)",
                namespace,
                name,
                attempt + 1,
            )
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def table_rows(catalog: Any, namespace: str, name: str, row_filter: str | None = None) -> pa.Table:
    """All rows of a table (optionally filtered, pyiceberg expression syntax) as Arrow."""
    table = catalog.load_table((namespace, name))
    scan = table.scan(row_filter=row_filter) if row_filter else table.scan()
    return scan.to_arrow()
