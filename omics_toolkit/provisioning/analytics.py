"""Analytics steps: the Glue database and its resource links, Lake Formation grants and
the Athena workgroup (the S3 Tables catalog lives in :mod:`omics_toolkit.provisioning.s3tables`);
and, on teardown, their deletion with the S3 table bucket (its tables' grants are revoked here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omics_toolkit.errors import AwsError
from omics_toolkit.provisioning import s3tables, sharing
from omics_toolkit.provisioning.core import (
    AFTER_APPLY,
    tags_list,
)
from omics_toolkit.provisioning.iam import IamSteps


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

    def ensure_lake_formation_grants(
        self,
        principal_arn: str,
        grants: list[tuple[str, str, list[str]]],
        owners: Mapping[str, str] | None = None,
    ) -> None:
        """Grant ``(database, table, permissions)`` to ``principal_arn`` unless already granted
        (Lake Formation ListPermissions, GrantPermissions on ``Table {CatalogId, DatabaseName,
        Name}``). ``owners`` maps a shared database to its owner's CatalogId (the stores'
        databases, shared through RAM); other databases are this account's.

        Raises:
            AwsError: from Lake Formation (``EntityNotFoundException`` for a table its catalog
                does not hold or has not shared with this account).
        """
        lf = self.client("lakeformation")
        principal = {"DataLakePrincipalIdentifier": principal_arn}
        for database, table, permissions in grants:
            catalog = (owners or {}).get(database) or self.ctx.account_id
            resource = {"Table": {"CatalogId": catalog, "DatabaseName": database, "Name": table}}
            label = f"{database}.{table}"
            if catalog == AFTER_APPLY:  # a plan: the store's share does not exist yet
                self._record("lake formation grant", label, "create", "+".join(permissions))
                continue
            existing = lf.list_permissions(Principal=principal, Resource=resource).get(
                "PrincipalResourcePermissions", []
            )
            have = {p for e in existing for p in e.get("Permissions", [])}
            label = f"{database}.{table}"
            if set(permissions) <= have:
                self._record("lake formation grant", label, "unchanged", "+".join(permissions))
                continue
            if not self.dry_run:
                lf.grant_permissions(
                    Principal=principal, Resource=resource, Permissions=permissions
                )
            self._record("lake formation grant", label, "create", "+".join(permissions))

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
        accepted), resource links into the owner's catalog and Lake Formation grants
        (:mod:`omics_toolkit.provisioning.sharing`); or the S3 Tables catalog integration; then
        the workgroup. The caller (STS GetCallerIdentity) gets the grants.

        Raises:
            SharingPrerequisiteError: Lake Formation is not set up for HealthOmics stores.
            StoreNotSharedError: a store's database is not shared and no invitation offers it.
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
            caller = str(self.client("sts").get_caller_identity()["Arn"])
            self.ensure_lake_formation_grants(
                caller,
                [
                    (n.glue_database, "variants", ["DESCRIBE"]),
                    (n.glue_database, "annotations", ["DESCRIBE"]),
                    (variant_db, n.variant_store, ["DESCRIBE", "SELECT"]),
                    (annotation_db, n.annotation_store, ["DESCRIBE", "SELECT"]),
                ],
                owners,
            )
        if use_tables:
            caller = str(self.client("sts").get_caller_identity()["Arn"])
            s3tables.ensure_catalog_integration(self, caller)
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
