"""Analytics steps: the Glue database and its resource links, Lake Formation grants and
the Athena workgroup (the S3 Tables catalog lives in :mod:`omics_toolkit.provisioning.s3tables`);
and, on teardown, their deletion with the S3 table bucket (its tables' grants are revoked here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.principals import grantee
from omics_toolkit.provisioning import s3tables, sharing
from omics_toolkit.provisioning.core import tags_list
from omics_toolkit.provisioning.grants import DESCRIBE, READ, Grant, ensure_grants, holders
from omics_toolkit.provisioning.iam import IamSteps
from omics_toolkit.tables.schema import VARIANTS_TABLE


class AnalyticsSteps(IamSteps):
    """Glue, Lake Formation and Athena resources of a deployment (and, on teardown, the S3
    table bucket, whose Lake Formation grants go with it)."""

    def ensure_glue_database(self) -> None:
        """The deployment's Glue database (GetDatabase, CreateDatabase); created when absent.

        Raises:
            AwsError: any Glue error other than ``EntityNotFoundException`` on the read.
        """
        glue = self.client("glue")
        name = self.names.glue_database
        try:
            glue.get_database(Name=name)
            self._record("glue database", name, "unchanged")
        except AwsError as exc:
            if exc.code != "EntityNotFoundException":
                raise
            self._record("glue database", name, "create")
            if self.dry_run:
                return
            glue.create_database(
                DatabaseInput={
                    "Name": name,
                    "Description": f"omics-toolkit {self.names.deployment}",
                },
                Tags=self.tags,
            )

    def ensure_resource_link(
        self,
        link: str,
        target_database: str,
        target_table: str,
        catalog_id: str | None = None,
    ) -> None:
        """A Glue resource link (GetTable; CreateTable with ``TargetTable {CatalogId,
        DatabaseName, Name}``, after DeleteTable when it pointed elsewhere) in the deployment's
        database to ``target_database.target_table`` of catalog ``catalog_id`` (the store
        database's owner, :func:`sharing.ensure_shared_database`; this account by default).

        Raises:
            AwsError: from Glue (other than ``EntityNotFoundException`` on the read).
        """
        glue = self.client("glue")
        target = {
            "CatalogId": catalog_id or self.ctx.account_id,
            "DatabaseName": target_database,
            "Name": target_table,
        }
        try:
            table = glue.get_table(DatabaseName=self.names.glue_database, Name=link)["Table"]
            if table.get("TargetTable") == target:
                self._record(
                    "glue resource link", link, "unchanged", f"-> {target_database}.{target_table}"
                )
                return
            action = "update"
            if not self.dry_run:
                glue.delete_table(DatabaseName=self.names.glue_database, Name=link)
        except AwsError as exc:
            if exc.code != "EntityNotFoundException":
                raise
            action = "create"
        if not self.dry_run:
            glue.create_table(
                DatabaseName=self.names.glue_database,
                TableInput={"Name": link, "TargetTable": target},
            )
        self._record("glue resource link", link, action, f"-> {target_database}.{target_table}")

    def reader_grants(
        self, backend: str, pending: dict[str, dict[str, str]] | None = None
    ) -> list[Grant]:
        """The Lake Formation grants a reader of the deployment's tables needs on ``backend``.

        - ``stores``: DESCRIBE on every resource link of the deployment's Glue database
          (``variants``, ``annotations``, ``annotations_<name>``) and DESCRIBE+SELECT on the
          table each links to (its ``TargetTable``, whatever catalog that is in); Glue
          GetTables. ``pending`` (link name -> ``TargetTable``) stands for links this plan
          creates or repoints (a dry run has not made them).
        - ``s3tables``: DESCRIBE+SELECT on every table of the deployment's namespace in
          ``s3tablescatalog/<bucket>`` (S3 Tables ListTables); ``variants`` when the bucket does
          not exist yet (a dry run).

        Returns:
            Grants sorted by table (links before their targets); empty when nothing exists.

        Raises:
            UserError: ``backend`` keeps no tables (``none``).
            AwsError: from Glue or S3 Tables.
        """
        account = self.ctx.account_id
        if backend == "stores":
            db = self.names.glue_database
            links: dict[str, dict[str, str]] = {}
            try:
                for page in (
                    self.client("glue").get_paginator("get_tables").paginate(DatabaseName=db)
                ):
                    for table in page["TableList"]:
                        if table.get("TargetTable"):
                            links[table["Name"]] = table["TargetTable"]
            except AwsError as exc:
                if exc.code != "EntityNotFoundException":
                    raise
            links.update(pending or {})
            grants: list[Grant] = []
            for link, target in sorted(links.items()):
                grants.append(Grant(account, db, link, DESCRIBE))
                grants.append(
                    Grant(
                        str(target.get("CatalogId") or account),
                        target["DatabaseName"],
                        target["Name"],
                        READ,
                    )
                )
            return grants
        if backend == "s3tables":
            namespace = self.names.table_namespace
            catalog = f"{account}:{s3tables.FEDERATED_CATALOG}/{self.names.table_bucket}"
            arn = s3tables.find_table_bucket(self)
            tables = {VARIANTS_TABLE} if arn is None else set()
            if arn is not None:
                client = self.client("s3tables")
                try:
                    for page in client.get_paginator("list_tables").paginate(
                        tableBucketARN=arn, namespace=namespace
                    ):
                        tables.update(t["name"] for t in page.get("tables", []))
                except AwsError as exc:
                    if exc.code != "NotFoundException":
                        raise
            prefix = f"{self.names.athena_catalog}.{namespace}"
            return [
                Grant(catalog, namespace, t, READ, label=f"{prefix}.{t}") for t in sorted(tables)
            ]
        raise UserError(
            f"deployment {self.names.deployment!r} keeps no variant tables (variant_backend "
            f'{backend!r}): Lake Formation access needs variant_backend = "stores" or "s3tables"'
        )

    def readers(
        self, grants: list[Grant], held: dict[Grant, dict[str, set[str]]] | None = None
    ) -> dict[str, dict[str, set[str]]]:
        """Who holds permissions on the deployment's tables: principal -> table name ->
        permissions (Lake Formation ListPermissions per table of ``grants``, unless ``held``
        gives :func:`~omics_toolkit.provisioning.grants.holders` of each). On the ``stores``
        back end only the resource links count (the stores' tables are shared with others)."""
        if held is None:
            held = {grant: holders(self, grant) for grant in grants}
        found: dict[str, dict[str, set[str]]] = {}
        for grant in grants:
            for who, perms in held[grant].items():
                found.setdefault(who, {})[grant.name] = perms
        links = {g.name for g in grants if g.permissions == DESCRIBE}
        if links:  # stores: a reader is whoever holds something on a link
            found = {w: t for w, t in found.items() if set(t) & links}
        return found

    def grant_readers(self, grants: list[Grant], principal: str) -> None:
        """Grant ``grants`` to ``principal`` and to every principal already reading the
        deployment (:meth:`readers`), so access given with ``omics-toolkit access grant``
        follows tables that provisioning or an annotation import (re)creates or repoints."""
        # IAM_ALLOWED_PRINCIPALS (Glue's default permissions, IAM-only access control) is
        # not someone given access: never widened to the tables' targets.
        held = {grant: holders(self, grant) for grant in grants}
        current = set(self.readers(grants, held)) - {"IAM_ALLOWED_PRINCIPALS"}
        for who in [principal, *sorted(current - {principal})]:
            ensure_grants(self, who, grants, held)

    def ensure_workgroup(self) -> None:
        """Athena workgroup on engine version 3, results encrypted (SSE-S3 or SSE-KMS) in the
        output bucket, configuration enforced."""
        athena = self.client("athena")
        name = self.names.workgroup
        encryption: dict[str, Any] = {"EncryptionOption": "SSE_S3"}
        if self.settings.kms_key_arn:
            encryption = {"EncryptionOption": "SSE_KMS", "KmsKey": self.settings.kms_key_arn}
        config = {
            "ResultConfiguration": {
                "OutputLocation": self.names.athena_output_uri,
                "EncryptionConfiguration": encryption,
            },
            "EnforceWorkGroupConfiguration": True,
            "PublishCloudWatchMetricsEnabled": True,
            "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
        }
        try:
            current = athena.get_work_group(WorkGroup=name).get("WorkGroup")
        except AwsError:
            current = None
        if current is None:
            self._record("athena workgroup", name, "create", "engine version 3, encrypted results")
            if not self.dry_run:
                athena.create_work_group(
                    Name=name,
                    Configuration=config,
                    Tags=tags_list(self.tags),
                    Description=f"omics-toolkit {self.names.deployment}",
                )
            return
        have = current.get("Configuration", {})
        result = have.get("ResultConfiguration", {})
        changes: list[str] = []
        if result.get("OutputLocation") != self.names.athena_output_uri:
            changes.append("result location")
        if {k: result.get("EncryptionConfiguration", {}).get(k) for k in encryption} != encryption:
            changes.append("result encryption")
        if not have.get("EnforceWorkGroupConfiguration", False):
            changes.append("enforce configuration")
        engine = have.get("EngineVersion", {}).get("SelectedEngineVersion")
        if engine not in (None, "Athena engine version 3"):
            changes.append("engine version")
        if changes and not self.dry_run:
            athena.update_work_group(
                WorkGroup=name,
                ConfigurationUpdates={
                    "ResultConfigurationUpdates": {
                        "OutputLocation": self.names.athena_output_uri,
                        "EncryptionConfiguration": encryption,
                    },
                    "EnforceWorkGroupConfiguration": True,
                    "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                },
            )
        self._record(
            "athena workgroup", name, "update" if changes else "unchanged", ", ".join(changes)
        )

    def ensure_query_access(
        self, variant_store: str | None, annotation_store: str | None, use_tables: bool
    ) -> None:
        """What Athena needs to query the variants: the Glue database; for variant stores, the
        Lake Formation prerequisites, the stores' databases shared through AWS RAM (invitations
        accepted) and resource links into the owner's catalog
        (:mod:`omics_toolkit.provisioning.sharing`); or the S3 Tables catalog integration; then
        the Lake Formation grants a reader needs (:meth:`reader_grants`) to the provisioning
        principal (:func:`omics_toolkit.principals.grantee`: ``data_lake_principal`` or the
        caller, an assumed role resolved to the role's ARN) and again to every principal already
        reading the deployment; then the workgroup.

        Raises:
            SharingPrerequisiteError: Lake Formation is not set up for HealthOmics stores.
            StoreNotSharedError: a store's database is not shared and no invitation offers it.
            UserError: the caller is not a principal Lake Formation can grant to and no
                ``data_lake_principal`` is set.
            AwsError: from Glue, Lake Formation, RAM or Athena.
        """
        n = self.names
        account = self.ctx.account_id
        self.ensure_glue_database()
        if variant_store and annotation_store:
            variant_db = f"variant_{account}_{variant_store}"
            annotation_db = f"annotation_{account}_{annotation_store}"
            sharing.check_prerequisites(self)
            owners = {
                variant_db: sharing.ensure_shared_database(self, variant_db),
                annotation_db: sharing.ensure_shared_database(self, annotation_db),
            }
            self.ensure_resource_link("variants", variant_db, n.variant_store, owners[variant_db])
            self.ensure_resource_link(
                "annotations", annotation_db, n.annotation_store, owners[annotation_db]
            )
            # What the links point at once applied (a plan has not repointed them).
            pending = {
                "variants": {
                    "CatalogId": owners[variant_db],
                    "DatabaseName": variant_db,
                    "Name": n.variant_store,
                },
                "annotations": {
                    "CatalogId": owners[annotation_db],
                    "DatabaseName": annotation_db,
                    "Name": n.annotation_store,
                },
            }
            self.grant_readers(
                self.reader_grants("stores", pending if self.dry_run else None),
                grantee(self.ctx, self.settings),
            )
        if use_tables:
            s3tables.ensure_catalog_integration(self)
            self.grant_readers(self.reader_grants("s3tables"), grantee(self.ctx, self.settings))
        self.ensure_workgroup()

    def delete_workgroup(self) -> None:
        """Delete the deployment's Athena workgroup with its saved queries, if this deployment
        tagged it (Athena GetWorkGroup, ListTagsForResource, DeleteWorkGroup with
        ``RecursiveDeleteOption``); nothing is reported for a missing or untagged one.

        Raises:
            AwsError: from ListTagsForResource or DeleteWorkGroup.
        """
        athena = self.client("athena")
        name = self.names.workgroup
        try:
            if not athena.get_work_group(WorkGroup=name).get("WorkGroup"):
                return
        except AwsError:
            return
        arn = self.arn("athena", f"workgroup/{name}")
        tags = {
            t["Key"]: t["Value"]
            for t in athena.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
        }
        if self._ours(tags):
            self._delete(
                "athena workgroup",
                name,
                "",
                lambda: athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True),
            )

    def delete_glue_database(self) -> None:
        """Delete the deployment's Glue database and its tables (resource links), if this
        deployment tagged it, after revoking the Lake Formation grants on them and on the
        stores' tables (Glue GetDatabase, GetTags, GetTables, DeleteTable, DeleteDatabase;
        :meth:`revoke_grants`).

        Reports ``kept`` for a database not tagged by this deployment; nothing for a missing one.

        Raises:
            AwsError: from Glue or Lake Formation (a missing database is not an error).
        """
        glue = self.client("glue")
        db = self.names.glue_database
        try:
            glue.get_database(Name=db)
        except AwsError:
            return
        tags = glue.get_tags(ResourceArn=self.arn("glue", f"database/{db}")).get("Tags", {})
        if not self._ours(tags):
            self._record("glue database", db, "kept", "not tagged by this deployment")
            return
        # the stores' tables live in the HealthOmics owner's catalog (any CatalogId), in
        # databases named variant_/annotation_<this account>_<store id>
        account = self.ctx.account_id
        store_dbs = (f"variant_{account}_", f"annotation_{account}_")
        self.revoke_grants(
            lambda table: (
                table.get("DatabaseName") == db
                or (
                    str(table.get("DatabaseName", "")).startswith(store_dbs)
                    and (
                        str(table.get("Name", ""))
                        in (self.names.variant_store, self.names.annotation_store)
                        or str(table.get("Name", "")).startswith(f"{self.names.snake}_ann_")
                    )
                )
            )
        )
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=db):
            for table in page["TableList"]:
                self._delete(
                    "glue table",
                    f"{db}.{table['Name']}",
                    "",
                    lambda table=table: glue.delete_table(DatabaseName=db, Name=table["Name"]),
                )
        self._delete("glue database", db, "", lambda: glue.delete_database(Name=db))

    def revoke_grants(self, matches: Callable[[dict[str, Any]], bool]) -> None:
        """Revoke every Lake Formation grant on a table that ``matches`` (its ``Table``
        resource); ListPermissions is read to the last page (botocore has no paginator), then
        RevokePermissions per grant (reported ``delete``).

        Raises:
            AwsError: from Lake Formation.
        """
        lf = self.client("lakeformation")
        permissions, token = [], None
        while True:
            page = lf.list_permissions(**({"NextToken": token} if token else {}))
            permissions += page.get("PrincipalResourcePermissions", [])
            token = page.get("NextToken")
            if not token:
                break
        for perm in permissions:
            table = perm.get("Resource", {}).get("Table", {})
            if table and matches(table):
                self._delete(
                    "lake formation grant",
                    f"{table.get('DatabaseName')}.{table.get('Name')}",
                    "+".join(perm["Permissions"]),
                    lambda perm=perm: lf.revoke_permissions(
                        Principal=perm["Principal"],
                        Resource=perm["Resource"],
                        Permissions=perm["Permissions"],
                    ),
                )

    def delete_table_bucket(self, force: bool) -> None:
        """Delete the deployment's S3 table bucket: kept while a table holds rows (unless
        ``force``), else the Lake Formation grants on its tables are revoked and its tables,
        namespaces and the bucket deleted (S3 Tables ListTableBuckets, ListTables,
        ListNamespaces, DeleteTable, DeleteNamespace, DeleteTableBucket; the Iceberg metadata is
        read to count rows; :meth:`revoke_grants`). The account-wide Glue catalog
        ``s3tablescatalog`` and its Lake Formation registration are kept (other deployments share
        them). Nothing is reported when the bucket does not exist.

        Raises:
            AwsError: from S3 Tables or Lake Formation.
        """
        name = self.names.table_bucket
        arn = s3tables.find_table_bucket(self)
        if arn is None:
            return
        client = self.client("s3tables")
        tables = [
            t
            for page in client.get_paginator("list_tables").paginate(tableBucketARN=arn)
            for t in page.get("tables", [])
        ]
        if not force:
            with_data = [t["name"] for t in tables if self._table_has_rows(arn, t)]
            if with_data:
                self._record(
                    "s3 table bucket",
                    name,
                    "kept",
                    f"tables {', '.join(with_data)} hold rows; use --force-delete-data",
                )
                return
        catalog_id = f"{self.ctx.account_id}:{s3tables.FEDERATED_CATALOG}/{name}"
        self.revoke_grants(lambda table: table.get("CatalogId") == catalog_id)
        for t in tables:
            ns = t["namespace"][0]
            self._delete(
                "iceberg table",
                f"{ns}.{t['name']}",
                "",
                lambda ns=ns, t=t: client.delete_table(
                    tableBucketARN=arn, namespace=ns, name=t["name"]
                ),
            )
        for page in client.get_paginator("list_namespaces").paginate(tableBucketARN=arn):
            for item in page.get("namespaces", []):
                ns = item["namespace"][0]
                self._delete(
                    "s3 tables namespace",
                    ns,
                    "",
                    lambda ns=ns: client.delete_namespace(tableBucketARN=arn, namespace=ns),
                )
        self._delete(
            "s3 table bucket", name, arn, lambda: client.delete_table_bucket(tableBucketARN=arn)
        )

    def _table_has_rows(self, arn: str, table: dict[str, Any]) -> bool:
        """Whether the Iceberg table's current snapshot counts any record (``total-records``)."""
        from pyiceberg.exceptions import NoSuchTableError

        from omics_toolkit.aws.s3tables import S3TablesCatalog

        try:
            loaded = S3TablesCatalog(self.ctx, arn).load_table(
                (table["namespace"][0], table["name"])
            )
        except NoSuchTableError:
            return False
        snapshot = loaded.current_snapshot()
        summary = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
        return int(summary.get("total-records", 0)) > 0
