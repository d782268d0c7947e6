"""Delete what ``provision`` made: only resources tagged with this deployment, dependents first.

Buckets, sequence stores and variant stores that still hold data are kept unless
``force_delete_data`` is set; every kept resource is reported with the reason.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from omics_toolkit.aws.errors import error_code
from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.provisioning.provision import FUNCTIONS, Action, Deployment, Provisioner


class Teardown(Provisioner):
    """Reverse of :class:`Provisioner`; reports ``delete``/``kept``/``absent`` actions."""

    def _ours(self, tags: dict[str, str] | None) -> bool:
        return bool(tags) and tags.get(DEPLOYMENT_TAG) == self.names.deployment  # type: ignore[union-attr]

    def _omics_tags(self, arn: str) -> dict[str, str]:
        return dict(self.ctx.client("omics").list_tags_for_resource(resourceArn=arn)["tags"])

    def run(self, force_delete_data: bool = False) -> list[Action]:
        """Delete the deployment. Returns the actions taken (also passed to the reporter)."""
        n = self.names
        self._notifications()
        lam = self.ctx.client("lambda")
        for function in FUNCTIONS:
            name = n.function(function)
            try:
                fn = lam.get_function(FunctionName=name)
            except ClientError:
                self._record("lambda function", name, "absent")
                continue
            if self._ours(fn.get("Tags")):
                lam.delete_function(FunctionName=name)
                self._record("lambda function", name, "delete")
            else:
                self._record("lambda function", name, "kept", "not tagged by this deployment")
        self._state_machine()
        self._log_group(n.state_machine_log_group)
        self._workgroup()
        self._glue()
        omics = self.ctx.client("omics")
        for page in omics.get_paginator("list_workflows").paginate(
            name=n.workflow(self.settings.workflow), type="PRIVATE"
        ):
            for wf in page["items"]:
                if self._ours(self._omics_tags(wf["arn"])):
                    omics.delete_workflow(id=wf["id"])
                    self._record("workflow", wf["name"], "delete", wf["id"])
        self._analytics_store("variant", n.variant_store, force_delete_data)
        self._analytics_store("annotation", n.annotation_store, force_delete_data)
        self._sequence_store(force_delete_data)
        self._reference_store()
        for role in (
            "omics-import",
            "omics-run",
            "states",
            *(f"lambda-{f.replace('_', '-')}" for f in FUNCTIONS),
        ):
            self._role(n.role(role))
        for bucket in (n.input_bucket, n.output_bucket):
            self._bucket(bucket, force_delete_data)
        return self.actions

    def _notifications(self) -> None:
        s3 = self.ctx.client("s3")
        bucket = self.names.input_bucket
        try:
            current = s3.get_bucket_notification_configuration(Bucket=bucket)
        except ClientError:
            return
        current.pop("ResponseMetadata", None)
        prefix = f"{self.names.deployment}-fastq"
        configs = current.get("LambdaFunctionConfigurations", [])
        kept = [c for c in configs if not str(c.get("Id", "")).startswith(prefix)]
        if len(kept) != len(configs):
            current["LambdaFunctionConfigurations"] = kept
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=current
            )
            self._record(
                "s3 notification", bucket, "delete", f"kept {len(kept)} other configuration(s)"
            )

    def _state_machine(self) -> None:
        sfn = self.ctx.client("stepfunctions")
        arn = self.arn("states", f"stateMachine:{self.names.state_machine}")
        try:
            tags = {
                t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]
            }
            sfn.describe_state_machine(stateMachineArn=arn)
        except ClientError:
            self._record("state machine", self.names.state_machine, "absent")
            return
        if self._ours(tags):
            sfn.delete_state_machine(stateMachineArn=arn)
            self._record("state machine", self.names.state_machine, "delete")

    def _log_group(self, name: str) -> None:
        logs = self.ctx.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        if any(g["logGroupName"] == name for g in groups):
            tags = logs.list_tags_log_group(logGroupName=name).get("tags", {})
            if self._ours(tags):
                logs.delete_log_group(logGroupName=name)
                self._record("log group", name, "delete")

    def _workgroup(self) -> None:
        athena = self.ctx.client("athena")
        name = self.names.workgroup
        try:
            if not athena.get_work_group(WorkGroup=name).get("WorkGroup"):
                return
        except ClientError:
            return
        arn = self.arn("athena", f"workgroup/{name}")
        tags = {
            t["Key"]: t["Value"]
            for t in athena.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
        }
        if self._ours(tags):
            athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)
            self._record("athena workgroup", name, "delete")

    def _glue(self) -> None:
        glue = self.ctx.client("glue")
        lf = self.ctx.client("lakeformation")
        db = self.names.glue_database
        try:
            glue.get_database(Name=db)
        except ClientError:
            return
        tags = glue.get_tags(ResourceArn=self.arn("glue", f"database/{db}")).get("Tags", {})
        if not self._ours(tags):
            self._record("glue database", db, "kept", "not tagged by this deployment")
            return
        permissions, token = [], None
        while True:  # ListPermissions has no paginator in botocore
            page = lf.list_permissions(**({"NextToken": token} if token else {}))
            permissions += page.get("PrincipalResourcePermissions", [])
            token = page.get("NextToken")
            if not token:
                break
        for perm in permissions:
            table = perm.get("Resource", {}).get("Table", {})
            if table.get("DatabaseName") == db or str(table.get("Name", "")) in (
                self.names.variant_store,
                self.names.annotation_store,
            ):
                lf.revoke_permissions(
                    Principal=perm["Principal"],
                    Resource=perm["Resource"],
                    Permissions=perm["Permissions"],
                )
                self._record(
                    "lake formation grant",
                    f"{table.get('DatabaseName')}.{table.get('Name')}",
                    "delete",
                )
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=db):
            for table in page["TableList"]:
                glue.delete_table(DatabaseName=db, Name=table["Name"])
                self._record("glue table", f"{db}.{table['Name']}", "delete")
        glue.delete_database(Name=db)
        self._record("glue database", db, "delete")

    def _analytics_store(self, kind: str, name: str, force: bool) -> None:
        omics = self.ctx.client("omics")
        get = getattr(omics, f"get_{kind}_store")
        try:
            store = get(name=name)
        except ClientError:
            return
        if not self._ours(self._omics_tags(store["storeArn"])):
            self._record(f"{kind} store", name, "kept", "not tagged by this deployment")
            return
        if store.get("storeSizeBytes", 0) and not force:
            self._record(
                f"{kind} store",
                name,
                "kept",
                f"holds {store['storeSizeBytes']} bytes of imported data; use --force-delete-data",
            )
            return
        getattr(omics, f"delete_{kind}_store")(name=name, force=True)
        self._record(f"{kind} store", name, "delete")

    def _sequence_store(self, force: bool) -> None:
        omics = self.ctx.client("omics")
        found = self.find_store("sequence")
        if not found or not self._ours(self._omics_tags(found["arn"])):
            return
        read_sets = [
            r["id"]
            for page in omics.get_paginator("list_read_sets").paginate(sequenceStoreId=found["id"])
            for r in page["readSets"]
            if r.get("status") not in ("DELETING", "DELETED")
        ]
        if read_sets and not force:
            self._record(
                "sequence store",
                found["name"],
                "kept",
                f"holds {len(read_sets)} read set(s); use --force-delete-data",
            )
            return
        for i in range(0, len(read_sets), 100):
            omics.batch_delete_read_set(sequenceStoreId=found["id"], ids=read_sets[i : i + 100])
        if read_sets:
            self._record("read sets", found["name"], "delete", f"{len(read_sets)} read set(s)")
        omics.delete_sequence_store(id=found["id"])
        self._record("sequence store", found["name"], "delete", found["id"])

    def _reference_store(self) -> None:
        omics = self.ctx.client("omics")
        found = self.find_store("reference")
        if not found or not self._ours(self._omics_tags(found["arn"])):
            return
        users = [
            a.name
            for a in self.actions
            if a.action == "kept"
            and a.kind in ("sequence store", "variant store", "annotation store")
        ]
        if users:
            self._record(
                "reference store",
                found["name"],
                "kept",
                f"its references are used by kept store(s) {', '.join(users)}",
            )
            return
        for page in omics.get_paginator("list_references").paginate(referenceStoreId=found["id"]):
            for ref in page["references"]:
                omics.delete_reference(id=ref["id"], referenceStoreId=found["id"])
                self._record("reference", ref["name"], "delete", ref["id"])
        omics.delete_reference_store(id=found["id"])
        self._record("reference store", found["name"], "delete", found["id"])

    def _role(self, name: str) -> None:
        iam = self.ctx.client("iam")
        try:
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return
            raise
        if not self._ours(tags):
            self._record("iam role", name, "kept", "not tagged by this deployment")
            return
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)
        self._record("iam role", name, "delete")

    def _bucket(self, bucket: str, force: bool) -> None:
        s3 = self.ctx.client("s3")
        try:
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        except ClientError as exc:
            if error_code(exc) in ("NoSuchBucket", "404"):
                return
            tags = {}
        if not self._ours(tags):
            self._record("s3 bucket", bucket, "kept", "not tagged by this deployment")
            return
        versions: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            versions += [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
        if versions and not force:
            self._record(
                "s3 bucket",
                bucket,
                "kept",
                f"holds {len(versions)} object version(s); use --force-delete-data",
            )
            return
        for i in range(0, len(versions), 1000):
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": versions[i : i + 1000], "Quiet": True}
            )
        s3.delete_bucket(Bucket=bucket)
        self._record("s3 bucket", bucket, "delete", f"{len(versions)} object version(s)")


def discover(prov: Provisioner) -> Deployment:
    """Find a deployment's identifiers by name (List* calls only; nothing is stored locally).

    Raises:
        UserError: via :meth:`Deployment.require` when a caller needs a part that is missing.
    """
    n = prov.names
    dep = Deployment(names=n)
    ref = prov.find_store("reference")
    dep.reference_store_id = ref["id"] if ref else None
    seq = prov.find_store("sequence")
    dep.sequence_store_id = seq["id"] if seq else None
    sfn = prov.ctx.client("stepfunctions")
    arn = prov.arn("states", f"stateMachine:{n.state_machine}")
    try:
        sfn.describe_state_machine(stateMachineArn=arn)
        dep.state_machine_arn = arn
    except ClientError:
        dep.state_machine_arn = None
    return dep
