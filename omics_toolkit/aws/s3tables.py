"""Apache Iceberg tables in an S3 table bucket, through the S3 Tables API.

:class:`S3TablesCatalog` is a pyiceberg catalog whose metastore is the S3 Tables control plane,
the design of AWS's own "Amazon S3 Tables Catalog for Apache Iceberg" client library:

- a table's current metadata file is ``GetTableMetadataLocation`` (``metadataLocation``,
  ``versionToken``); data and metadata files live under its ``warehouseLocation``
  (written with the S3 object API);
- a commit writes the new metadata file, then ``UpdateTableMetadataLocation`` with the version
  token it read: optimistic concurrency. A concurrent writer makes S3 Tables answer
  ``ConflictException`` and the commit raises pyiceberg's ``CommitFailedException`` (nothing is
  lost: the table still points at the other writer's metadata);
- ``CreateTable`` (format ``ICEBERG``) allocates the storage; the first metadata file is written
  there and registered.

Everything else (schemas, partition specs, manifests, snapshots, scans) is pyiceberg's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from omics_toolkit.aws.session import AwsContext

from pyiceberg.catalog import MetastoreCatalog, PropertiesUpdateSummary
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.io import load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.serializers import FromInputFile, ToOutputFile
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties

#: S3 Tables names: 3-63 characters, lowercase letters, digits and ``_`` (namespaces, tables).
NOT_FOUND = ("NotFoundException", "NoSuchTableException", "NoSuchNamespaceException")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def file_io_properties(ctx: AwsContext) -> dict[str, str]:
    """pyiceberg FileIO properties (PyArrow S3) for the context's credentials and S3 endpoint."""
    creds = ctx.session.get_credentials()
    props = {"s3.region": ctx.region, "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO"}
    if creds is not None:
        frozen = creds.get_frozen_credentials()
        props["s3.access-key-id"] = frozen.access_key
        props["s3.secret-access-key"] = frozen.secret_key
        if frozen.token:
            props["s3.session-token"] = frozen.token
    # An explicit endpoint (local stack): the context's, or the one botocore reads from the
    # environment (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, as in the local Lambda runtime).
    endpoint = (
        ctx.endpoints.get("s3")
        or ctx.endpoints.get("default")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    if endpoint:
        props["s3.endpoint"] = endpoint
        props["s3.force-virtual-addressing"] = "false"
    return props


class S3TablesCatalog(MetastoreCatalog):
    """A pyiceberg catalog over one S3 table bucket (namespaces are one level deep).

    Args:
        ctx: AWS context (credentials, region, endpoints).
        table_bucket_arn: ``arn:aws:s3tables:<region>:<account>:bucket/<name>``.

    API operations: CreateNamespace, GetNamespace, ListNamespaces, DeleteNamespace, CreateTable,
    GetTable, GetTableMetadataLocation, UpdateTableMetadataLocation, ListTables, DeleteTable,
    RenameTable (S3 Tables, 2018-05-10 model). Errors map to pyiceberg's exceptions
    (``NoSuchTableError``, ``NoSuchNamespaceError``, ``TableAlreadyExistsError``,
    ``CommitFailedException``); other ``ClientError`` propagate.
    """

    def __init__(self, ctx: AwsContext, table_bucket_arn: str) -> None:
        super().__init__("s3tables", **file_io_properties(ctx))
        self.ctx = ctx
        self.table_bucket_arn = table_bucket_arn
        self.client = ctx.client("s3tables")

    # ------------------------------------------------------------------ helpers
    def _split(self, identifier: str | Identifier) -> tuple[str, str]:
        parts = self.identifier_to_tuple(identifier)
        if len(parts) != 2:
            raise NoSuchTableError(f"S3 Tables identifiers are namespace.table, not {parts}")
        return parts[0], parts[1]

    def _metadata_location(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            return dict(
                self.client.get_table_metadata_location(
                    tableBucketARN=self.table_bucket_arn, namespace=namespace, name=name
                )
            )
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                raise NoSuchTableError(f"table {namespace}.{name} does not exist") from exc
            raise

    def _read(self, identifier: tuple[str, str], location: str) -> Table:
        io = load_file_io(self.properties, location)
        metadata = FromInputFile.table_metadata(io.new_input(location))
        return Table(
            identifier=identifier,
            metadata=metadata,
            metadata_location=location,
            io=self._load_file_io(metadata.properties, location),
            catalog=self,
        )

    def _write(self, metadata: Any, io: Any, path: str) -> None:
        # Table storage supports no ListObjects: write without the existence check.
        ToOutputFile.table_metadata(metadata, io.new_output(path), overwrite=True)

    def _update_location(self, namespace: str, name: str, token: str, location: str) -> None:
        try:
            self.client.update_table_metadata_location(
                tableBucketARN=self.table_bucket_arn,
                namespace=namespace,
                name=name,
                versionToken=token,
                metadataLocation=location,
            )
        except ClientError as exc:
            if _code(exc) == "ConflictException":
                raise CommitFailedException(
                    f"{namespace}.{name} was changed by another writer; retry the import"
                ) from exc
            raise

    # ------------------------------------------------------------------ tables
    def create_table(
        self,
        identifier: str | Identifier,
        schema: Schema | Any,
        location: str | None = None,
        partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
        sort_order: SortOrder = UNSORTED_SORT_ORDER,
        properties: Properties = EMPTY_DICT,
    ) -> Table:
        """CreateTable (ICEBERG), write the first metadata file, UpdateTableMetadataLocation."""
        namespace, name = self._split(identifier)
        if location is not None:
            raise ValueError("S3 Tables chooses the table location; do not pass one")
        try:
            self.client.create_table(
                tableBucketARN=self.table_bucket_arn,
                namespace=namespace,
                name=name,
                format="ICEBERG",
            )
        except ClientError as exc:
            if _code(exc) == "ConflictException":
                raise TableAlreadyExistsError(f"table {namespace}.{name} already exists") from exc
            if _code(exc) in NOT_FOUND:
                raise NoSuchNamespaceError(f"namespace {namespace} does not exist") from exc
            raise
        current = self._metadata_location(namespace, name)
        staged = self._create_staged_table(
            (namespace, name),
            schema,
            current["warehouseLocation"],
            partition_spec,
            sort_order,
            properties,
        )
        self._write(staged.metadata, staged.io, staged.metadata_location)
        self._update_location(namespace, name, current["versionToken"], staged.metadata_location)
        return self.load_table((namespace, name))

    def load_table(self, identifier: str | Identifier) -> Table:
        """The table at its current metadata file (GetTableMetadataLocation).

        Raises:
            NoSuchTableError: no such table, or a table created but never given metadata.
        """
        namespace, name = self._split(identifier)
        current = self._metadata_location(namespace, name)
        if not current.get("metadataLocation"):
            raise NoSuchTableError(f"table {namespace}.{name} has no Iceberg metadata yet")
        return self._read((namespace, name), current["metadataLocation"])

    def commit_table(
        self, table: Table, requirements: tuple[Any, ...], updates: tuple[Any, ...]
    ) -> CommitTableResponse:
        """Write the updated metadata and move the table's pointer to it (version token check)."""
        namespace, name = self._split(table.name())
        current_pointer = self._metadata_location(namespace, name)
        current = self._read((namespace, name), current_pointer["metadataLocation"])
        staged = self._update_and_stage_table(current, (namespace, name), requirements, updates)
        if staged.metadata == current.metadata:
            return CommitTableResponse(
                metadata=current.metadata, metadata_location=current.metadata_location
            )
        self._write(staged.metadata, staged.io, staged.metadata_location)
        self._update_location(
            namespace, name, current_pointer["versionToken"], staged.metadata_location
        )
        return CommitTableResponse(
            metadata=staged.metadata, metadata_location=staged.metadata_location
        )

    def register_table(
        self, identifier: str | Identifier, metadata_location: str, overwrite: bool = False
    ) -> Table:
        raise NotImplementedError("S3 Tables register tables with CreateTable only")

    def drop_table(self, identifier: str | Identifier) -> None:
        """DeleteTable (S3 Tables deletes the table's storage)."""
        namespace, name = self._split(identifier)
        try:
            self.client.delete_table(
                tableBucketARN=self.table_bucket_arn, namespace=namespace, name=name
            )
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                raise NoSuchTableError(f"table {namespace}.{name} does not exist") from exc
            raise

    def rename_table(
        self, from_identifier: str | Identifier, to_identifier: str | Identifier
    ) -> Table:
        namespace, name = self._split(from_identifier)
        new_namespace, new_name = self._split(to_identifier)
        self.client.rename_table(
            tableBucketARN=self.table_bucket_arn,
            namespace=namespace,
            name=name,
            newNamespaceName=new_namespace,
            newName=new_name,
        )
        return self.load_table((new_namespace, new_name))

    def list_tables(self, namespace: str | Identifier) -> list[Identifier]:
        ns = self.namespace_to_string(namespace)
        out: list[Identifier] = []
        for page in self.client.get_paginator("list_tables").paginate(
            tableBucketARN=self.table_bucket_arn, namespace=ns
        ):
            out.extend((ns, t["name"]) for t in page.get("tables", []))
        return out

    # ------------------------------------------------------------------ namespaces
    def create_namespace(
        self, namespace: str | Identifier, properties: Properties = EMPTY_DICT
    ) -> None:
        ns = self.namespace_to_string(namespace)
        try:
            self.client.create_namespace(tableBucketARN=self.table_bucket_arn, namespace=[ns])
        except ClientError as exc:
            if _code(exc) == "ConflictException":
                raise NamespaceAlreadyExistsError(f"namespace {ns} already exists") from exc
            raise

    def drop_namespace(self, namespace: str | Identifier) -> None:
        ns = self.namespace_to_string(namespace)
        try:
            self.client.delete_namespace(tableBucketARN=self.table_bucket_arn, namespace=ns)
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                raise NoSuchNamespaceError(f"namespace {ns} does not exist") from exc
            raise

    def list_namespaces(self, namespace: str | Identifier = ()) -> list[Identifier]:
        if namespace:
            return []
        out: list[Identifier] = []
        for page in self.client.get_paginator("list_namespaces").paginate(
            tableBucketARN=self.table_bucket_arn
        ):
            out.extend(tuple(n["namespace"]) for n in page.get("namespaces", []))
        return out

    def load_namespace_properties(self, namespace: str | Identifier) -> Properties:
        ns = self.namespace_to_string(namespace)
        try:
            got = self.client.get_namespace(tableBucketARN=self.table_bucket_arn, namespace=ns)
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                raise NoSuchNamespaceError(f"namespace {ns} does not exist") from exc
            raise
        return {"created_at": str(got.get("createdAt", ""))}

    def update_namespace_properties(
        self,
        namespace: str | Identifier,
        removals: set[str] | None = None,
        updates: Properties = EMPTY_DICT,
    ) -> PropertiesUpdateSummary:
        raise NotImplementedError("S3 Tables namespaces have no properties")

    # ------------------------------------------------------------------ views
    def list_views(self, namespace: str | Identifier) -> list[Identifier]:
        return []

    def drop_view(self, identifier: str | Identifier) -> None:
        raise NotImplementedError("S3 Tables have no Iceberg views")

    def view_exists(self, identifier: str | Identifier) -> bool:
        return False

    def load_view(self, identifier: str | Identifier) -> Any:
        raise NotImplementedError("S3 Tables have no Iceberg views")

    def register_view(self, identifier: str | Identifier, metadata_location: str) -> Any:
        raise NotImplementedError("S3 Tables have no Iceberg views")
