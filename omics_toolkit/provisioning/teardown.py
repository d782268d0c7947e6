"""Delete what ``provision`` made: only resources tagged with this deployment, dependents first.

Buckets, sequence stores and variant stores that still hold data are kept unless
``force_delete_data`` is set; every kept resource is reported with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.provisioning.containers import remove_container_registry
from omics_toolkit.provisioning.core import Action, Deployment
from omics_toolkit.provisioning.functions import FUNCTIONS, TABLES_FUNCTIONS
from omics_toolkit.provisioning.healthomics import HealthOmicsSteps
from omics_toolkit.provisioning.layers import delete_layer, delete_toolkit_layer
from omics_toolkit.provisioning.tables_layer import layer_name as tables_layer_name


class Teardown(HealthOmicsSteps):
    """Reverse of :class:`Provisioner`; reports ``delete``/``kept``/``absent`` actions."""

    def _ours(self, tags: dict[str, str] | None) -> bool:
        return bool(tags) and tags.get(DEPLOYMENT_TAG) == self.names.deployment  # type: ignore[union-attr]

    def _omics_tags(self, arn: str) -> dict[str, str]:
        return dict(self.client("omics").list_tags_for_resource(resourceArn=arn)["tags"])

    def run(self, force_delete_data: bool = False) -> list[Action]:
        """Delete the deployment, dependents first; with ``dry_run`` only report the plan.

        Order: S3 notifications, Lambda functions, state machine, SNS topic, logs, Athena workgroup, Glue
        and Lake Formation, workflows (versions first), variant/annotation stores (imports
        cancelled first), sequence store (imports finished, read sets first), reference store
        (references first), IAM roles, buckets. Safe to re-run after an interruption: every step
        reads what is left first.

        Returns:
            The actions (``delete``, ``kept`` with the reason, ``absent``, ``wait``, ``cancel``).

        Raises:
            UserError: pipeline executions are still running (stop them first).
        """
        n = self.names
        running = self.running_executions()
        if running:
            raise UserError(
                f"{len(running)} pipeline execution(s) still running ({', '.join(running[:5])}); "
                "wait for them or stop them (aws stepfunctions stop-execution) before teardown"
            )
        self._notifications()
        lam = self.client("lambda")
        for function in (*FUNCTIONS, *TABLES_FUNCTIONS):
            name = n.function(function)
            try:
                fn = lam.get_function(FunctionName=name)
            except AwsError:
                self._record("lambda function", name, "absent")
                continue
            if self._ours(fn.get("Tags")):
                self._delete(
                    "lambda function",
                    name,
                    "",
                    lambda name=name: lam.delete_function(FunctionName=name),
                )
            else:
                self._record("lambda function", name, "kept", "not tagged by this deployment")
        delete_toolkit_layer(self)
        delete_layer(self, tables_layer_name(n.deployment))
        self._state_machine()
        self._topic()
        self._log_group(n.state_machine_log_group)
        self._workgroup()
        self._glue()
        omics = self.client("omics")
        # Every workflow of the deployment (the pipeline's and any `workflows register`-ed one).
        for page in omics.get_paginator("list_workflows").paginate(type="PRIVATE"):
            for wf in page["items"]:
                if str(wf.get("name", "")).startswith(f"{n.deployment}-") and self._ours(
                    self._omics_tags(wf["arn"])
                ):
                    self._workflow(wf)
        self._run_group_and_cache()
        remove_container_registry(self)
        self._table_bucket(force_delete_data)
        self._analytics_store("variant", n.variant_store, force_delete_data)
        self._analytics_store("annotation", n.annotation_store, force_delete_data)
        for store in self._annotation_set_stores():
            self._analytics_store("annotation", store, force_delete_data)
        self._sequence_store(force_delete_data)
        self._reference_store()
        for role in (
            "omics-import",
            "omics-run",
            "states",
            *(f"lambda-{f.replace('_', '-')}" for f in (*FUNCTIONS, *TABLES_FUNCTIONS)),
        ):
            self._role(n.role(role))
        for bucket in (n.input_bucket, n.output_bucket):
            self._bucket(bucket, force_delete_data)
        return self.actions

    def _delete(self, kind: str, name: str, detail: str, call: Callable[[], Any]) -> None:
        """Report ``delete`` and make ``call`` (unless this is a dry run)."""
        self._record(kind, name, "delete", detail)
        if not self.dry_run:
            call()

    def _run_group_and_cache(self) -> None:
        """Delete the deployment's run group and run cache (DeleteRunGroup, DeleteRunCache).

        The cache's objects live in the output bucket (``run-cache/``) and go with it."""
        omics = self.client("omics")
        for kind, paginator, name, delete in (
            ("run group", "list_run_groups", self.names.run_group, omics.delete_run_group),
            ("run cache", "list_run_caches", self.names.run_cache, omics.delete_run_cache),
        ):
            found = [
                item
                for page in omics.get_paginator(paginator).paginate()
                for item in page["items"]
                if item.get("name") == name
            ]
            if not found:
                self._record(kind, name, "absent")
            for item in found:
                if self._ours(self._omics_tags(item["arn"])):
                    self._delete(kind, name, item["id"], lambda i=item["id"], d=delete: d(id=i))
                else:
                    self._record(kind, name, "kept", "not tagged by this deployment")

    def _workflow(self, wf: dict[str, Any]) -> None:
        """Delete a workflow's versions (DeleteWorkflowVersion), then the workflow."""
        omics = self.client("omics")
        for page in omics.get_paginator("list_workflow_versions").paginate(workflowId=wf["id"]):
            for version in page["items"]:
                if version.get("status") in ("DELETED",):
                    continue
                self._delete(
                    "workflow version",
                    f"{wf['name']}/{version['versionName']}",
                    wf["id"],
                    lambda version=version: omics.delete_workflow_version(
                        workflowId=wf["id"], versionName=version["versionName"]
                    ),
                )
        self._delete("workflow", wf["name"], wf["id"], lambda: omics.delete_workflow(id=wf["id"]))

    def _finish_imports(self, kind: str, store_id: str, store_name: str) -> None:
        """Wait for the store's running import jobs (variant/annotation imports are cancelled:
        CancelVariantImportJob/CancelAnnotationImportJob; read-set and reference imports have no
        cancel operation, so they are waited for)."""
        omics = self.client("omics")
        running = ("SUBMITTED", "IN_PROGRESS", "QUEUED", "CANCELLING", "RUNNING")
        if kind in ("read set", "reference"):
            op = "list_read_set_import_jobs" if kind == "read set" else "list_reference_import_jobs"
            key = "sequenceStoreId" if kind == "read set" else "referenceStoreId"
            get = (
                omics.get_read_set_import_job
                if kind == "read set"
                else omics.get_reference_import_job
            )
            jobs = [
                job["id"]
                for page in omics.get_paginator(op).paginate(**{key: store_id})
                for job in page["importJobs"]
                if job["status"] in running
            ]
            for job_id in jobs:
                self._record(f"{kind} import", job_id, "wait", f"running in {store_name}")
                if not self.dry_run:
                    self._wait(
                        f"{kind} import {job_id}",
                        lambda job_id=job_id: self._job_status(get(id=job_id, **{key: store_id})),
                        {"COMPLETED", "FAILED", "CANCELLED", "COMPLETED_WITH_FAILURES"},
                    )
            return
        op = f"list_{kind}_import_jobs"
        jobs = [
            job["id"]
            for page in omics.get_paginator(op).paginate(filter={"storeName": store_name})
            for job in page[f"{kind}ImportJobs"]
            if job["status"] in running
        ]
        for job_id in jobs:
            self._record(f"{kind} import", job_id, "cancel", f"running into {store_name}")
            if not self.dry_run:
                getattr(omics, f"cancel_{kind}_import_job")(jobId=job_id)

    def running_executions(self) -> list[str]:
        """Names of the deployment's RUNNING pipeline executions (ListExecutions)."""
        sfn = self.client("stepfunctions")
        arn = self.arn("states", f"stateMachine:{self.names.state_machine}")
        try:
            return [
                e["name"]
                for page in sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=arn, statusFilter="RUNNING"
                )
                for e in page["executions"]
            ]
        except AwsError as exc:
            if exc.code in ("StateMachineDoesNotExist", "ResourceNotFound"):
                return []
            raise

    def _notifications(self) -> None:
        s3 = self.client("s3")
        bucket = self.names.input_bucket
        try:
            current = s3.get_bucket_notification_configuration(Bucket=bucket)
        except AwsError:
            return
        current.pop("ResponseMetadata", None)
        prefix = f"{self.names.deployment}-fastq"
        configs = current.get("LambdaFunctionConfigurations", [])
        kept = [c for c in configs if not str(c.get("Id", "")).startswith(prefix)]
        if len(kept) != len(configs):
            current["LambdaFunctionConfigurations"] = kept
            self._delete(
                "s3 notification",
                bucket,
                f"kept {len(kept)} other configuration(s)",
                lambda: s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration=current
                ),
            )

    def _state_machine(self) -> None:
        sfn = self.client("stepfunctions")
        arn = self.arn("states", f"stateMachine:{self.names.state_machine}")
        try:
            tags = {
                t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]
            }
            sfn.describe_state_machine(stateMachineArn=arn)
        except AwsError:
            self._record("state machine", self.names.state_machine, "absent")
            return
        if self._ours(tags):
            self._delete(
                "state machine",
                self.names.state_machine,
                "",
                lambda: sfn.delete_state_machine(stateMachineArn=arn),
            )

    def _topic(self) -> None:
        sns = self.client("sns")
        arn = self.arn("sns", self.names.topic)
        try:
            tags = {
                t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
            }
            sns.get_topic_attributes(TopicArn=arn)
        except AwsError:
            self._record("sns topic", self.names.topic, "absent")
            return
        if self._ours(tags):
            self._delete("sns topic", self.names.topic, "", lambda: sns.delete_topic(TopicArn=arn))
        else:
            self._record("sns topic", self.names.topic, "kept", "not tagged by this deployment")

    def _log_group(self, name: str) -> None:
        logs = self.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        if any(g["logGroupName"] == name for g in groups):
            tags = logs.list_tags_log_group(logGroupName=name).get("tags", {})
            if self._ours(tags):
                self._delete(
                    "log group", name, "", lambda: logs.delete_log_group(logGroupName=name)
                )

    def _workgroup(self) -> None:
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

    def _glue(self) -> None:
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
        self._revoke_grants(
            lambda table: (
                table.get("DatabaseName") == db
                or str(table.get("Name", ""))
                in (self.names.variant_store, self.names.annotation_store)
                or str(table.get("Name", "")).startswith(f"{self.names.snake}_ann_")
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

    def _revoke_grants(self, matches: Callable[[dict[str, Any]], bool]) -> None:
        """Revoke every Lake Formation grant on a table that ``matches`` (its ``Table``
        resource); ListPermissions is read to the last page (botocore has no paginator)."""
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

    def _table_bucket(self, force: bool) -> None:
        """The S3 table bucket: kept while a table holds rows (unless ``force``), else its tables,
        namespaces and the bucket are deleted, and the Lake Formation grants on its tables
        revoked. The account-wide Glue catalog ``s3tablescatalog`` and its Lake Formation
        registration are kept (other deployments share them)."""
        from omics_toolkit.provisioning.s3tables import FEDERATED_CATALOG, find_table_bucket

        name = self.names.table_bucket
        arn = find_table_bucket(self)
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
        catalog_id = f"{self.ctx.account_id}:{FEDERATED_CATALOG}/{name}"
        self._revoke_grants(lambda table: table.get("CatalogId") == catalog_id)
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

    def _annotation_set_stores(self) -> list[str]:
        """Annotation stores made by ``annotations import`` (``<snake>_ann_<name>_<digest>``)."""
        prefix = f"{self.names.snake}_ann_"
        omics = self.client("omics")
        return [
            store["name"]
            for page in omics.get_paginator("list_annotation_stores").paginate()
            for store in page["annotationStores"]
            if store["name"].startswith(prefix)
        ]

    def _analytics_store(self, kind: str, name: str, force: bool) -> None:
        omics = self.client("omics")
        get = getattr(omics, f"get_{kind}_store")
        try:
            store = get(name=name)
        except AwsError:
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
        self._finish_imports(kind, store["id"], name)
        self._delete(
            f"{kind} store",
            name,
            store["id"],
            lambda: getattr(omics, f"delete_{kind}_store")(name=name, force=True),
        )

    def _sequence_store(self, force: bool) -> None:
        omics = self.client("omics")
        found = self.find_store("sequence")
        if not found or not self._ours(self._omics_tags(found["arn"])):
            return
        # Imports first: a read set an import adds after the listing would keep the store alive.
        self._finish_imports("read set", found["id"], found["name"])
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

        def delete_read_sets() -> None:
            for i in range(0, len(read_sets), 100):
                omics.batch_delete_read_set(sequenceStoreId=found["id"], ids=read_sets[i : i + 100])

        if read_sets:
            self._delete(
                "read sets", found["name"], f"{len(read_sets)} read set(s)", delete_read_sets
            )
        self._delete(
            "sequence store",
            found["name"],
            found["id"],
            lambda: omics.delete_sequence_store(id=found["id"]),
        )

    def _reference_store(self) -> None:
        omics = self.client("omics")
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
        self._finish_imports("reference", found["id"], found["name"])
        for page in omics.get_paginator("list_references").paginate(referenceStoreId=found["id"]):
            for ref in page["references"]:
                if ref.get("status") in ("DELETING", "DELETED"):
                    continue
                self._delete(
                    "reference",
                    ref["name"],
                    ref["id"],
                    lambda ref=ref: omics.delete_reference(
                        id=ref["id"], referenceStoreId=found["id"]
                    ),
                )
        self._delete(
            "reference store",
            found["name"],
            found["id"],
            lambda: omics.delete_reference_store(id=found["id"]),
        )

    def _role(self, name: str) -> None:
        iam = self.client("iam")
        try:
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
        except AwsError as exc:
            if exc.code == "NoSuchEntity":
                return
            raise
        if not self._ours(tags):
            self._record("iam role", name, "kept", "not tagged by this deployment")
            return

        def delete_role() -> None:
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
            iam.delete_role(RoleName=name)

        self._delete("iam role", name, "", delete_role)

    def _bucket(self, bucket: str, force: bool) -> None:
        s3 = self.client("s3")
        try:
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        except AwsError as exc:
            if exc.code in ("NoSuchBucket", "404"):
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

        def delete_bucket() -> None:
            for i in range(0, len(versions), 1000):
                s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": versions[i : i + 1000], "Quiet": True}
                )
            s3.delete_bucket(Bucket=bucket)

        self._delete("s3 bucket", bucket, f"{len(versions)} object version(s)", delete_bucket)


def discover(prov: HealthOmicsSteps) -> Deployment:
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
    except AwsError:
        dep.state_machine_arn = None
    return dep
