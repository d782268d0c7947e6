"""HealthOmics store steps: the reference store and its reference, the sequence store, the
variant and annotation stores; and their deletion on teardown (import jobs finished first).
The workflow, run group and run cache are in
:mod:`~omics_toolkit.provisioning.healthomics_workflows`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omics_toolkit.aws.s3 import parse_s3_uri
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.provisioning.core import (
    AFTER_APPLY,
    token,
)
from omics_toolkit.provisioning.iam import IamSteps

#: Phrases of HealthOmics' refusal of stores to accounts new since 2025-11-07 (docs page
#: "variant-store-availability-change": "no longer open to new customers"). The exact wording of
#: the API error is not published; these phrases are the ones AWS uses for the change.
NEW_CUSTOMER_PHRASES = ("new customer", "no longer open", "no longer available")
#: How IAM words an explicit or implicit deny ("User: arn:... is not authorized to perform:
#: omics:CreateVariantStore ... because no identity-based policy allows ...").
IAM_DENY_PHRASE = "not authorized to perform"


def is_new_customer_refusal(message: str) -> bool:
    """Whether an ``AccessDeniedException`` message is HealthOmics closing stores to new customers.

    An IAM, SCP or permissions-boundary deny (``... is not authorized to perform: ...``) is not,
    whatever else it says; a message without any :data:`NEW_CUSTOMER_PHRASES` is not either, so
    an unknown refusal never switches a deployment's variant back end.
    """
    text = message.lower()
    if IAM_DENY_PHRASE in text:
        return False
    return any(phrase in text for phrase in NEW_CUSTOMER_PHRASES)


def reference_name(reference: str) -> str:
    """Reference name in the store: the FASTA's file name without ``.fa[sta][.gz]``.

    HealthOmics reference names have at least 3 characters (ReferenceName shape), so short stems
    get a ``reference-`` prefix (``q.fa`` -> ``reference-q``).
    """
    name = Path(parse_s3_uri(reference)[1] if reference.startswith("s3://") else reference).name
    for suffix in (".gz", ".fasta", ".fa", ".fna"):
        name = name.removesuffix(suffix)
    return name if len(name) >= 3 else f"reference-{name}"


class HealthOmicsSteps(IamSteps):
    """HealthOmics stores of a deployment (omics List*/Create*/Get* calls; Delete* on teardown)."""

    def find_store(self, kind: str) -> dict[str, Any] | None:
        """The deployment's ``reference`` or ``sequence`` store, found by name (List*Stores)."""
        name = getattr(self.names, f"{kind}_store")
        key = f"{kind}Stores"
        return self._find_by_name(f"list_{kind}_stores", key, name, filter={"name": name})

    def _ensure_store(self, kind: str) -> str:
        """Create the ``reference`` or ``sequence`` store unless it exists; returns its id."""
        name = getattr(self.names, f"{kind}_store")
        found = self.find_store(kind)
        if found:
            self._record(f"{kind} store", name, "unchanged", found["id"])
            return str(found["id"])
        if self.dry_run:
            self._record(f"{kind} store", name, "create")
            return AFTER_APPLY
        create = getattr(self.client("omics"), f"create_{kind}_store")
        store = create(
            name=name,
            tags=self.tags,
            clientToken=token(self.ctx.account_id, self.ctx.region, name, "store"),
            **self._store_sse(),
        )
        self._record(f"{kind} store", name, "create", store["id"])
        return str(store["id"])

    def _store_sse(self) -> dict[str, Any]:
        if not self.settings.kms_key_arn:
            return {}
        return {"sseConfig": {"type": "KMS", "keyArn": self.settings.kms_key_arn}}

    def ensure_reference_store(self) -> str:
        """The deployment's reference store (CreateReferenceStore); returns its id."""
        return self._ensure_store("reference")

    def ensure_reference(self, store_id: str, reference: str, role_arn: str) -> tuple[str, str]:
        """Import the reference FASTA once (found by name); returns ``(reference id, arn)``."""
        omics = self.client("omics")
        source = reference
        ref_name = reference_name(reference)
        if store_id == AFTER_APPLY:
            self._record("reference", ref_name, "create", f"import {reference}")
            return AFTER_APPLY, AFTER_APPLY
        found = self._find_by_name(
            "list_references",
            "references",
            ref_name,
            referenceStoreId=store_id,
            filter={"name": ref_name},
        )
        if found and found.get("status") == "ACTIVE":
            self._record("reference", ref_name, "unchanged", found["id"])
            return str(found["id"]), str(found["arn"])
        if self.dry_run:
            self._record("reference", ref_name, "create", f"import {reference}")
            return AFTER_APPLY, AFTER_APPLY
        if not reference.startswith("s3://"):
            path = Path(reference)
            if not path.is_file():
                raise UserError(
                    f"reference FASTA {path} does not exist; pass --reference FILE or s3://URI"
                )
            key = f"reference/{path.name}"
            self.client("s3").upload_file(str(path), self.names.output_bucket, key)
            source = f"s3://{self.names.output_bucket}/{key}"
        client_token = token(store_id, ref_name, source)
        # the import role may have been created moments ago; the client token makes a retry
        # after a lost response start no second job
        job = self._retry_iam_propagation(
            lambda: omics.start_reference_import_job(
                referenceStoreId=store_id,
                roleArn=role_arn,
                clientToken=client_token,
                sources=[{"sourceFile": source, "name": ref_name, "tags": self.tags}],
            )
        )
        self._wait(
            f"reference import {job['id']}",
            lambda: self._job_status(
                omics.get_reference_import_job(id=job["id"], referenceStoreId=store_id)
            ),
            {"COMPLETED"},
        )
        detail = omics.get_reference_import_job(id=job["id"], referenceStoreId=store_id)
        ref_id = detail["sources"][0]["referenceId"]
        meta = omics.get_reference_metadata(id=ref_id, referenceStoreId=store_id)
        self._record("reference", ref_name, "create", ref_id)
        return str(ref_id), str(meta["arn"])

    @staticmethod
    def _job_status(job: dict[str, Any]) -> tuple[str, str]:
        return str(job["status"]), str(job.get("statusMessage", ""))

    def ensure_sequence_store(self) -> str:
        """The deployment's sequence store (CreateSequenceStore); returns its id."""
        return self._ensure_store("sequence")

    def ensure_variant_store(self, reference_arn: str) -> str | None:
        """The deployment's variant store (CreateVariantStore); returns its id.

        Returns ``None`` (and reports ``skipped``) when ``variant_backend`` is ``auto`` and the
        account may not create stores (new customers since 2025-11-07).

        Raises:
            UserError: ``variant_backend = "stores"`` and HealthOmics refuses to create stores.
        """
        return self._ensure_analytics_store(
            "variant", self.names.variant_store, reference={"referenceArn": reference_arn}
        )

    def ensure_annotation_store(self, reference_arn: str) -> str | None:
        """The deployment's VCF-format annotation store (CreateAnnotationStore); see
        :meth:`ensure_variant_store` for the ``None`` return and errors."""
        return self._ensure_analytics_store(
            "annotation",
            self.names.annotation_store,
            reference={"referenceArn": reference_arn},
            storeFormat="VCF",
        )

    def _ensure_analytics_store(self, kind: str, name: str, **create: Any) -> str | None:
        """Find or create a variant/annotation store; see :meth:`ensure_variant_store`.

        Only HealthOmics' "closed to new customers" refusal (:func:`is_new_customer_refusal`)
        skips the store; any other ``AccessDeniedException`` (an IAM or SCP deny) is a
        :class:`UserError` naming the action to allow, and nothing is switched.
        """
        omics = self.client("omics")
        get = getattr(omics, f"get_{kind}_store")
        found = self._find_by_name(f"list_{kind}_stores", f"{kind}Stores", name, filter={})
        if found and self.dry_run:
            self._record(f"{kind} store", name, "unchanged", found["id"])
            return str(found["id"])
        if not found:
            if self.dry_run:
                self._record(
                    f"{kind} store",
                    name,
                    "create",
                    "refused to accounts new since 2025-11-07; then skipped"
                    if self.settings.variant_backend == "auto"
                    else "",
                )
                return AFTER_APPLY
            try:
                getattr(omics, f"create_{kind}_store")(
                    name=name,
                    description=f"omics-toolkit {self.names.deployment}",
                    tags=self.tags,
                    **self._store_sse(),
                    **create,
                )
            except AwsError as exc:
                if exc.code != "AccessDeniedException":
                    raise
                reason = exc.message or "access denied"
                if not is_new_customer_refusal(reason):
                    action = f"omics:Create{kind.capitalize()}Store"
                    raise UserError(
                        f"HealthOmics denied {action} for the {kind} store {name}: {reason}. "
                        f'Allow {action} (and omics:TagResource) on Resource "*" to the identity '
                        "that provisions (CreateVariantStore/CreateAnnotationStore have no "
                        "resource type), or check a service control policy or permissions "
                        'boundary that denies it; or set variant_backend = "s3tables" or "none" '
                        "to do without stores. Nothing was switched: this refusal is not "
                        "HealthOmics closing stores to new customers"
                    ) from exc
                if self.settings.variant_backend == "stores":
                    raise UserError(
                        f"HealthOmics refused to create the {kind} store {name}: {reason}. "
                        'Accounts new since 2025-11-07 cannot have stores: set variant_backend = "none" '
                        '(VCFs stay in the output bucket) or "auto" in omics-toolkit.toml'
                    ) from exc
                alternative = (
                    "" if "S3 Tables" in reason else " (AWS recommends S3 Tables with Athena)"
                )
                self._record(
                    f"{kind} store",
                    name,
                    "skipped",
                    f"{reason}{alternative}; VCFs stay in s3://{self.names.output_bucket}/runs/",
                )
                return None

        def status() -> tuple[str, str]:
            store = get(name=name)
            return str(store["status"]), str(store.get("statusMessage", ""))

        self._wait(f"{kind} store {name}", status, {"ACTIVE"})
        store = get(name=name)
        self._record(f"{kind} store", name, "unchanged" if found else "create", store["id"])
        return str(store["id"])

    def _find_existing_reference(self, store_id: str) -> tuple[str, str, str] | None:
        """The store's first ACTIVE reference as ``(id, arn, name)``, or ``None``."""
        omics = self.client("omics")
        for page in omics.get_paginator("list_references").paginate(referenceStoreId=store_id):
            for ref in page["references"]:
                if ref.get("status") == "ACTIVE":
                    return str(ref["id"]), str(ref["arn"]), str(ref["name"])
        return None

    def ensure_reference_genome(
        self, reference: str | None, import_role: str
    ) -> tuple[str, str, str]:
        """The reference store and its reference; returns ``(store id, reference id, ARN)``.

        Imports ``reference`` (a FASTA file or ``s3://`` URI) unless the store already holds an
        ACTIVE reference and ``reference`` is ``None``.

        Raises:
            UserError: the store has no reference and ``reference`` is ``None``.
        """
        ref_store = self.ensure_reference_store()
        existing = None if ref_store == AFTER_APPLY else self._find_existing_reference(ref_store)
        if existing is None and reference is None:
            raise UserError(
                "the reference store has no reference yet: pass --reference FASTA (file or s3:// URI)"
            )
        if existing and reference is None:
            ref_id, ref_arn, ref_name = existing
            self._record("reference", ref_name, "unchanged", ref_id)
        else:
            ref_id, ref_arn = self.ensure_reference(ref_store, reference or "", import_role)
        return ref_store, ref_id, ref_arn

    def ensure_variant_stores(
        self, reference_arn: str, previous: str | None
    ) -> tuple[str | None, str | None, bool]:
        """The variant and annotation stores, or the decision to use S3 Tables instead.

        Args:
            reference_arn: the reference the stores are bound to.
            previous: the back end recorded at the last apply (the state machine's
                ``VARIANT_BACKEND_TAG``), ``None`` on the first.

        Returns:
            ``(variant store id, annotation store id, use S3 Tables)``; the ids are ``None``
            when the stores are skipped or refused (ListVariantStores, CreateVariantStore...).
        """
        n = self.names
        variant_store = annotation_store = None
        backend = self.settings.variant_backend
        use_tables = False
        if backend in ("none", "s3tables") or (
            backend == "auto"
            and previous in ("none", "s3tables")
            and not self._find_by_name(
                "list_variant_stores", "variantStores", n.variant_store, filter={}
            )
        ):
            use_tables = backend != "none"
            why = (
                f'variant_backend = "{backend}"'
                if backend != "auto"
                else "HealthOmics refused stores to this account earlier (new customers since "
                '2025-11-07): variants go to S3 Tables; set variant_backend = "stores" to try again'
            )
            for kind, name in (("variant", n.variant_store), ("annotation", n.annotation_store)):
                self._record(f"{kind} store", name, "skipped", why)
        else:
            variant_store = self.ensure_variant_store(reference_arn)
            if variant_store is not None:
                annotation_store = self.ensure_annotation_store(reference_arn)
            else:
                use_tables = True
                self._record("annotation store", n.annotation_store, "skipped", "no variant store")
        return variant_store, annotation_store, use_tables

    def finish_imports(self, kind: str, store_id: str, store_name: str) -> None:
        """Finish the running import jobs into a store before it is deleted.

        Variant and annotation imports (``kind`` ``"variant"``/``"annotation"``) are cancelled
        (ListVariantImportJobs/ListAnnotationImportJobs, CancelVariantImportJob/
        CancelAnnotationImportJob; reported ``cancel``). Read-set and reference imports
        (``"read set"``/``"reference"``) have no cancel operation, so they are waited for
        (ListReadSetImportJobs/ListReferenceImportJobs, GetReadSetImportJob/
        GetReferenceImportJob; reported ``wait``). A dry run only reports.

        Raises:
            ToolkitError: a waited-for job did not end within the wait's timeout.
            AwsError: from HealthOmics.
        """
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

    def annotation_set_stores(self) -> list[str]:
        """Annotation stores made by ``annotations import`` (``<snake>_ann_<name>_<digest>``;
        ListAnnotationStores)."""
        prefix = f"{self.names.snake}_ann_"
        omics = self.client("omics")
        return [
            store["name"]
            for page in omics.get_paginator("list_annotation_stores").paginate()
            for store in page["annotationStores"]
            if store["name"].startswith(prefix)
        ]

    def delete_analytics_store(self, kind: str, name: str, force: bool) -> None:
        """Delete the ``variant`` or ``annotation`` store ``name`` if this deployment tagged it,
        its running imports cancelled first (GetVariantStore/GetAnnotationStore,
        ListTagsForResource, :meth:`finish_imports`, DeleteVariantStore/DeleteAnnotationStore
        with ``force``).

        Reports ``kept`` for a store not tagged by this deployment, or one holding imported data
        while ``force`` is false; nothing for a missing store.

        Raises:
            AwsError: from HealthOmics (a missing store is not an error).
        """
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
        self.finish_imports(kind, store["id"], name)
        self._delete(
            f"{kind} store",
            name,
            store["id"],
            lambda: getattr(omics, f"delete_{kind}_store")(name=name, force=True),
        )

    def delete_variant_stores(self, force: bool) -> None:
        """Delete the variant store, the annotation store and the annotation-set stores, in that
        order (:meth:`delete_analytics_store`, :meth:`annotation_set_stores`).

        Raises:
            AwsError: from HealthOmics.
        """
        n = self.names
        self.delete_analytics_store("variant", n.variant_store, force)
        self.delete_analytics_store("annotation", n.annotation_store, force)
        for store in self.annotation_set_stores():
            self.delete_analytics_store("annotation", store, force)

    def delete_sequence_store(self, force: bool) -> None:
        """Delete the deployment's sequence store and its read sets, if this deployment tagged
        it; running read-set imports are waited for first (ListSequenceStores,
        ListTagsForResource, :meth:`finish_imports`, ListReadSets, BatchDeleteReadSet,
        DeleteSequenceStore).

        Reports ``kept`` while the store holds read sets and ``force`` is false.

        Raises:
            ToolkitError: a read-set import did not end in time.
            AwsError: from HealthOmics.
        """
        omics = self.client("omics")
        found = self.find_store("sequence")
        if not found or not self._ours(self._omics_tags(found["arn"])):
            return
        # Imports first: a read set an import adds after the listing would keep the store alive.
        self.finish_imports("read set", found["id"], found["name"])
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

    def delete_reference_store(self) -> None:
        """Delete the deployment's reference store and its references, if this deployment tagged
        it; running reference imports are waited for first (ListReferenceStores,
        ListTagsForResource, :meth:`finish_imports`, ListReferences, DeleteReference,
        DeleteReferenceStore).

        Reports ``kept`` while a store already reported ``kept`` in this teardown (sequence,
        variant or annotation) may use its references.

        Raises:
            ToolkitError: a reference import did not end in time.
            AwsError: from HealthOmics.
        """
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
        self.finish_imports("reference", found["id"], found["name"])
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
