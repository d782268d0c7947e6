"""Analytics steps: the Glue database and its resource links, Lake Formation grants and
the Athena workgroup (the S3 Tables catalog lives in :mod:`omics_toolkit.provisioning.s3tables`).
"""

from __future__ import annotations

from typing import Any

from omics_toolkit.errors import AwsError
from omics_toolkit.provisioning import s3tables
from omics_toolkit.provisioning.core import (
    tags_list,
)
from omics_toolkit.provisioning.iam import IamSteps


class AnalyticsSteps(IamSteps):
    """Glue, Lake Formation and Athena resources of a deployment."""

    def ensure_glue_database(self) -> None:
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

    def ensure_resource_link(self, link: str, target_database: str, target_table: str) -> None:
        """A Glue resource link (CreateTable with TargetTable) to a store's shared table."""
        glue = self.client("glue")
        target = {
            "CatalogId": self.ctx.account_id,
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
        self, principal_arn: str, grants: list[tuple[str, str, list[str]]]
    ) -> None:
        """Grant ``(database, table, permissions)`` to ``principal_arn`` unless already granted."""
        lf = self.client("lakeformation")
        principal = {"DataLakePrincipalIdentifier": principal_arn}
        for database, table, permissions in grants:
            resource = {
                "Table": {"CatalogId": self.ctx.account_id, "DatabaseName": database, "Name": table}
            }
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
        """What Athena needs to query the variants: the Glue database, the stores' resource
        links and Lake Formation grants (variant stores) or the S3 Tables catalog integration,
        then the workgroup. The caller (STS GetCallerIdentity) gets the grants."""
        n = self.names
        account = self.ctx.account_id
        self.ensure_glue_database()
        if variant_store and annotation_store:
            variant_db = f"variant_{account}_{variant_store}"
            annotation_db = f"annotation_{account}_{annotation_store}"
            self.ensure_resource_link("variants", variant_db, n.variant_store)
            self.ensure_resource_link("annotations", annotation_db, n.annotation_store)
            caller = str(self.client("sts").get_caller_identity()["Arn"])
            self.ensure_lake_formation_grants(
                caller,
                [
                    (n.glue_database, "variants", ["DESCRIBE"]),
                    (n.glue_database, "annotations", ["DESCRIBE"]),
                    (variant_db, n.variant_store, ["DESCRIBE", "SELECT"]),
                    (annotation_db, n.annotation_store, ["DESCRIBE", "SELECT"]),
                ],
            )
        if use_tables:
            caller = str(self.client("sts").get_caller_identity()["Arn"])
            s3tables.ensure_catalog_integration(self, caller)
        self.ensure_workgroup()
