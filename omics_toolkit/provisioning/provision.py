"""Create (idempotently) and delete everything a deployment needs.

Every ``ensure_*`` step reads the current state first and mutates only what differs, so a second
``provision`` makes no mutating call. Every resource carries the tag
``omics-toolkit:deployment=<deployment>``; ``teardown`` deletes only resources with that tag.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from omics_toolkit.aws.errors import error_code
from omics_toolkit.aws.s3 import parse_s3_uri
from omics_toolkit.aws.session import AwsContext, is_read
from omics_toolkit.config import Settings
from omics_toolkit.constants import (
    DEPLOYMENT_TAG,
    HEALTHOMICS_LOG_GROUP,
    HEALTHOMICS_PRINCIPAL,
    LIFECYCLE_TAG,
)
from omics_toolkit.errors import ConfigError, ToolkitError, UserError
from omics_toolkit.identity import DIGEST_TAG, VARIANT_BACKEND_TAG, Names
from omics_toolkit.provisioning import containers, policies, statemachine
from omics_toolkit.provisioning import s3tables as s3tables_prov
from omics_toolkit.provisioning.layers import ensure_toolkit_layer
from omics_toolkit.provisioning.packaging import code_sha256, lambda_zip
from omics_toolkit.provisioning.tables_layer import ensure_tables_layer

#: Lambda functions of the pipeline (directory under lambdas/).
FUNCTIONS = ("pair_detector", "run_outputs", "tag_objects", "failure_handler")
#: Functions of the S3 Tables variant back end only.
TABLES_FUNCTIONS = ("variant_loader",)
FASTQ_SUFFIXES = (".fastq.gz", ".fq.gz", ".fastq", ".fq")
#: Object names that are sample manifests (see omics_toolkit/pipeline/manifest.py).
MANIFEST_SUFFIXES = ("manifest.csv", "manifest.json", "samplesheet.csv")
LAMBDA_RUNTIME = "python3.11"
#: Placeholder for identifiers a plan cannot know before the resource exists.
AFTER_APPLY = "(known after apply)"
#: StartRun parameters the state machine fills from the execution (not settable by users).
PIPELINE_RUN_PARAMETERS = frozenset(
    {"fastq_1", "fastq_2", "read_groups", "reference", "sample_name"}
)


@dataclass
class Action:
    """One line of the provisioning report: ``create``, ``update``, ``unchanged`` or ``delete``."""

    kind: str
    name: str
    action: str
    detail: str = ""


@dataclass
class Deployment:
    """Identifiers of a provisioned deployment, discovered by name (nothing is cached locally)."""

    names: Names
    reference_store_id: str | None = None
    reference_id: str | None = None
    sequence_store_id: str | None = None
    workflow_id: str | None = None
    workflow_version: str | None = None
    state_machine_arn: str | None = None
    variant_store_id: str | None = None

    def require(self, attr: str) -> str:
        value = getattr(self, attr)
        if not value:
            raise UserError(
                f"deployment {self.names.deployment!r} has no {attr.replace('_', ' ')}; "
                "run `omics-toolkit provision` first"
            )
        return str(value)


Reporter = Callable[[Action], None]


class PlanMutationError(ToolkitError):
    """A dry run (``omics-toolkit plan``) tried to change something: a bug in the toolkit."""


def _tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _canon(doc: Any) -> str:
    if isinstance(doc, str):
        doc = json.loads(doc)
    return json.dumps(doc, sort_keys=True)


def _token(*parts: str) -> str:
    """Deterministic idempotency token (``clientToken``/``requestId``) from the given parts."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _statement_diff(current: Any, wanted: dict[str, Any]) -> str:
    """``+N/-M statements`` between two policy documents (for plan details)."""
    if isinstance(current, str):
        current = json.loads(current)
    have = {_canon(st) for st in (current or {}).get("Statement", [])}
    want = {_canon(st) for st in wanted.get("Statement", [])}
    return f"+{len(want - have)}/-{len(have - want)} statements"


def reference_name(reference: str) -> str:
    """Reference name in the store: the FASTA's file name without ``.fa[sta][.gz]``.

    HealthOmics reference names have at least 3 characters (ReferenceName shape), so short stems
    get a ``reference-`` prefix (``q.fa`` -> ``reference-q``).
    """
    name = Path(parse_s3_uri(reference)[1] if reference.startswith("s3://") else reference).name
    for suffix in (".gz", ".fasta", ".fa", ".fna"):
        name = name.removesuffix(suffix)
    return name if len(name) >= 3 else f"reference-{name}"


class Provisioner:
    """Apply or tear down one deployment.

    Args:
        ctx: AWS clients (local stack or real account).
        settings: effective settings (deployment name, workflow, storage type, poll interval).
        report: called with every :class:`Action` as it happens (progress display).
        sleep: injectable for tests; used while waiting for asynchronous HealthOmics jobs.
        dry_run: plan only: read the current state and report what would change; any mutating
            call raises :class:`PlanMutationError` (a bug) before it is sent.
    """

    def __init__(
        self,
        ctx: AwsContext,
        settings: Settings,
        report: Reporter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        dry_run: bool = False,
    ) -> None:
        self.ctx = ctx
        self.dry_run = dry_run
        self._guarded: set[str] = set()
        self.settings = settings
        self.names = Names(settings.deployment, ctx.account_id, ctx.region)
        self.tags = {DEPLOYMENT_TAG: settings.deployment}
        self.actions: list[Action] = []
        self._report = report or (lambda action: None)
        self._sleep = sleep
        self.partition = ctx.partition()
        self.poll_seconds = 1.0 if ctx.is_local else 15.0

    # ----------------------------------------------------------------- helpers
    def client(self, service: str) -> Any:
        """The context's client for ``service``; in a dry run, mutating calls are refused."""
        client = self.ctx.client(service)
        if self.dry_run and service not in self._guarded:
            client.meta.events.register(
                "before-call", self._refuse_mutation, unique_id=f"plan-guard-{id(self)}"
            )
            self._guarded.add(service)
        return client

    def _refuse_mutation(self, model: Any, **_: Any) -> None:
        if self.dry_run and not is_read(model.name):
            raise PlanMutationError(
                f"plan attempted {model.service_model.service_name}:{model.name} (a bug: plans only read)"
            )

    def end_plan(self) -> None:
        """Unregister the dry-run guard from the shared clients (the context may be reused)."""
        for service in self._guarded:
            self.ctx.client(service).meta.events.unregister(
                "before-call", unique_id=f"plan-guard-{id(self)}"
            )
        self._guarded.clear()

    def _change(self, changes: list[str], label: str, call: Callable[[], Any]) -> None:
        """Record ``label`` as a differing field and make ``call`` unless this is a dry run."""
        changes.append(label)
        if not self.dry_run:
            call()

    def _record(self, kind: str, name: str, action: str, detail: str = "") -> None:
        item = Action(kind, name, action, detail)
        self.actions.append(item)
        self._report(item)

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        reg = self.ctx.region if region else ""
        account = self.ctx.account_id if service not in ("s3",) else ""
        return f"arn:{self.partition}:{service}:{reg}:{account}:{resource}"

    def _wait(
        self,
        what: str,
        get_status: Callable[[], tuple[str, str]],
        done: set[str],
        timeout_seconds: float = 3600,
    ) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            status, message = get_status()
            if status in done:
                return
            if status in {"FAILED", "CANCELLED", "DELETED", "COMPLETED_WITH_FAILURES"}:
                raise ToolkitError(f"{what} ended {status}: {message}")
            if time.monotonic() > deadline:
                raise ToolkitError(f"{what} still {status} after {timeout_seconds:.0f} s")
            self._sleep(self.poll_seconds)

    # ----------------------------------------------------------------- S3
    def ensure_bucket(self, bucket: str, lifecycle: list[dict[str, Any]]) -> None:
        """A private bucket: block public access, SSE-S3 (or SSE-KMS with ``kms_key_arn``),
        versioning, TLS-only policy, the lifecycle rules and the deployment tag (merged with the
        bucket's other tags). Reports the differing fields.

        Raises:
            UserError: the bucket exists but this account cannot read it (another owner).
        """
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=self.ctx.account_id)
        except ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise UserError(
                    f"bucket {bucket} exists but is not accessible to account "
                    f"{self.ctx.account_id} ({error_code(exc)}); choose another --deployment name"
                ) from exc
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.ctx.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.ctx.region}
            self._record("s3 bucket", bucket, "create", self._bucket_summary())
            if self.dry_run:
                return
            s3.create_bucket(**kwargs)
            self._configure_bucket(bucket, lifecycle)
            return
        changes = self._configure_bucket(bucket, lifecycle)
        self._record("s3 bucket", bucket, "update" if changes else "unchanged", ", ".join(changes))

    def _bucket_summary(self) -> str:
        sse = f"SSE-KMS {self.settings.kms_key_arn}" if self.settings.kms_key_arn else "SSE-S3"
        return f"{sse}, versioned, TLS-only, public access blocked, lifecycle rules"

    def _sse_rule(self) -> dict[str, Any]:
        default: dict[str, Any] = {"SSEAlgorithm": "AES256"}
        if self.settings.kms_key_arn:
            default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.settings.kms_key_arn}
        return {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}

    def _configure_bucket(self, bucket: str, lifecycle: list[dict[str, Any]]) -> list[str]:
        """Bring an existing bucket's settings to the wanted state; returns the changed fields."""
        s3 = self.client("s3")
        changes: list[str] = []
        block = {
            k: True
            for k in (
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            )
        }
        try:
            current_block = s3.get_public_access_block(Bucket=bucket)[
                "PublicAccessBlockConfiguration"
            ]
        except ClientError:
            current_block = {}
        if current_block != block:
            self._change(
                changes,
                "public access block",
                lambda: s3.put_public_access_block(
                    Bucket=bucket, PublicAccessBlockConfiguration=block
                ),
            )
        rule = self._sse_rule()
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
                "Rules"
            ]
            current_sse = rules[0]["ApplyServerSideEncryptionByDefault"]
        except (ClientError, IndexError, KeyError):
            current_sse = {}
        wanted_sse = rule["ApplyServerSideEncryptionByDefault"]
        if {k: current_sse.get(k) for k in wanted_sse} != wanted_sse:
            self._change(
                changes,
                "encryption",
                lambda: s3.put_bucket_encryption(
                    Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]}
                ),
            )
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            self._change(
                changes,
                "versioning",
                lambda: s3.put_bucket_versioning(
                    Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
                ),
            )
        wanted_policy = policies.tls_only_bucket_policy(bucket, self.partition)
        try:
            current_policy = _canon(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError:
            current_policy = None
        if current_policy != _canon(wanted_policy):
            self._change(
                changes,
                "TLS-only policy",
                lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted_policy)),
            )
        try:
            current_rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError:
            current_rules = []
        if _canon(current_rules) != _canon(lifecycle):
            self._change(
                changes,
                "lifecycle rules",
                lambda: s3.put_bucket_lifecycle_configuration(
                    Bucket=bucket, LifecycleConfiguration={"Rules": lifecycle}
                ),
            )
        try:
            current_tags = {
                t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
            }
        except ClientError:
            current_tags = {}
        if {**current_tags, **self.tags} != current_tags:
            self._change(
                changes,
                "tags",
                lambda: s3.put_bucket_tagging(
                    Bucket=bucket, Tagging={"TagSet": _tags_list({**current_tags, **self.tags})}
                ),
            )
        return changes

    def lifecycle_rules(self, prefix_days: int) -> list[dict[str, Any]]:
        """Processed objects (tagged by the pipeline) move to Glacier Instant Retrieval; never expire."""
        return [
            {
                "ID": "processed-to-glacier-ir",
                "Status": "Enabled",
                "Filter": {"Tag": {"Key": LIFECYCLE_TAG, "Value": "processed"}},
                "Transitions": [{"Days": prefix_days, "StorageClass": "GLACIER_IR"}],
            },
            {
                "ID": "abort-incomplete-uploads",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            },
        ]

    # ----------------------------------------------------------------- IAM
    def ensure_role(
        self,
        name: str,
        service: str,
        statements: list[dict[str, Any]],
        tags: dict[str, str] | None = None,
    ) -> str:
        """An IAM role assumable by ``service`` (this account only) with one inline policy
        ``least-privilege``; returns its ARN (predictable, so a plan can use it too).

        ``tags`` replace the deployment's tags (an account-wide role that teardown keeps)."""
        iam = self.client("iam")
        trust_doc = policies.trust(service, self.ctx.account_id)
        inline = policies.policy(*statements)
        arn = f"arn:{self.partition}:iam::{self.ctx.account_id}:role/{name}"
        changes: list[str] = []
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            self._record("iam role", name, "create", f"trusts {service}")
            if self.dry_run:
                return arn
            role = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust_doc),
                Description=f"omics-toolkit {self.names.deployment}: {service}",
                Tags=_tags_list(self.tags if tags is None else tags),
            )["Role"]
            iam.put_role_policy(
                RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(inline)
            )
            return str(role["Arn"])
        if _canon(role["AssumeRolePolicyDocument"]) != _canon(trust_doc):
            self._change(
                changes,
                "trust policy",
                lambda: iam.update_assume_role_policy(
                    RoleName=name, PolicyDocument=json.dumps(trust_doc)
                ),
            )
        try:
            current = iam.get_role_policy(RoleName=name, PolicyName="least-privilege")[
                "PolicyDocument"
            ]
        except ClientError:
            current = None
        if current is None or _canon(current) != _canon(inline):
            self._change(
                changes,
                "inline policy" + (f" ({_statement_diff(current, inline)})" if current else ""),
                lambda: iam.put_role_policy(
                    RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(inline)
                ),
            )
        self._record("iam role", name, "update" if changes else "unchanged", ", ".join(changes))
        return str(role["Arn"])

    # ----------------------------------------------------------------- HealthOmics
    def _find_by_name(
        self, list_op: str, key: str, name: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        omics = self.client("omics")
        for page in omics.get_paginator(list_op).paginate(**kwargs):
            for item in page[key]:
                if item.get("name") == name and item.get("status") not in (
                    "DELETING",
                    "DELETED",
                    "FAILED",
                ):
                    return dict(item)
        return None

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
            clientToken=_token(self.ctx.account_id, self.ctx.region, name, "store"),
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
        token = _token(store_id, ref_name, source)
        job = omics.start_reference_import_job(
            referenceStoreId=store_id,
            roleArn=role_arn,
            clientToken=token,
            sources=[{"sourceFile": source, "name": ref_name, "tags": self.tags}],
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
            except ClientError as exc:
                if error_code(exc) != "AccessDeniedException":
                    raise
                reason = exc.response.get("Error", {}).get("Message", "access denied")
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

    def ensure_workflow(self, registry_map: dict[str, Any] | None = None) -> tuple[str, str | None]:
        """The deployment's private workflow (CreateWorkflow), or a new version of it
        (CreateWorkflowVersion) when its digest changed.

        The digest covers the packaged WDL (main.wdl and its imports) and every creation setting
        (parameter template, storage, container registry map). Definitions up to 4.4 MB go as
        ``definitionZip``; larger ones are uploaded to the output bucket and passed as
        ``definitionUri``. Workflows and versions are immutable, so nothing is ever updated in
        place.

        Args:
            registry_map: ``containerRegistryMap`` (ECR pull-through prefixes of the upstream
                registries the WDL's images come from), or ``None``.

        Returns:
            ``(workflow id, version name)``; the version is ``None`` for the workflow's own
            definition (the first one provisioned).
        """
        from omics_toolkit import workflows  # miniwdl: imported only when provisioning workflows

        omics = self.client("omics")
        directory = workflows.workflow_dir(self.settings.workflow)
        package = workflows.package_workflow(directory)
        settings: dict[str, Any] = {
            "engine": "WDL",
            "main": "main.wdl",
            "parameterTemplate": workflows.parameter_template(directory / "main.wdl"),
            "storageType": self.settings.storage_type,
        }
        if self.settings.storage_type == "STATIC":
            settings["storageCapacity"] = self.settings.storage_capacity_gib or 1200
        if registry_map:
            settings["containerRegistryMap"] = registry_map
        digest = hashlib.sha256(
            (workflows.content_digest(package) + _canon(settings)).encode()
        ).hexdigest()
        name = self.names.workflow(self.settings.workflow)
        found = None
        for page in omics.get_paginator("list_workflows").paginate(name=name, type="PRIVATE"):
            for item in page["items"]:
                if item.get("name") == name and item.get("status") not in ("DELETED", "FAILED"):
                    found = item
        if found is None:
            self._record("workflow", name, "create", f"digest {digest[:12]}")
            if self.dry_run:
                return AFTER_APPLY, None
            created = omics.create_workflow(
                name=name,
                description=f"{self.settings.workflow} (omics-toolkit {self.names.deployment})",
                tags={**self.tags, DIGEST_TAG: digest},
                requestId=_token(self.ctx.account_id, self.ctx.region, name, digest),
                **self._workflow_definition(name, package, digest),
                **settings,
            )
            self._wait_workflow(name, lambda: omics.get_workflow(id=created["id"]))
            return str(created["id"]), None
        workflow_id = str(found["id"])
        tags = omics.list_tags_for_resource(resourceArn=found["arn"])["tags"]
        if tags.get(DIGEST_TAG) == digest:
            self._record("workflow", name, "unchanged", f"{workflow_id} digest {digest[:12]}")
            return workflow_id, None
        version = f"sha256-{digest[:16]}"
        try:
            omics.get_workflow_version(workflowId=workflow_id, versionName=version)
            self._record("workflow version", f"{name}/{version}", "unchanged", workflow_id)
            return workflow_id, version
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        self._record(
            "workflow version",
            f"{name}/{version}",
            "create",
            f"content digest {str(tags.get(DIGEST_TAG, '?'))[:12]} -> {digest[:12]}",
        )
        if self.dry_run:
            return workflow_id, version
        omics.create_workflow_version(
            workflowId=workflow_id,
            versionName=version,
            description=f"{self.settings.workflow} digest {digest[:12]}",
            tags={**self.tags, DIGEST_TAG: digest},
            requestId=_token(self.ctx.account_id, self.ctx.region, name, version),
            **self._workflow_definition(name, package, digest),
            **settings,
        )
        self._wait_workflow(
            f"{name}/{version}",
            lambda: omics.get_workflow_version(workflowId=workflow_id, versionName=version),
        )
        return workflow_id, version

    def ensure_run_group(self) -> str | None:
        """The deployment's run group ``<deployment>-runs`` with the ``run_group_*`` limits
        (CreateRunGroup, or UpdateRunGroup when the limits changed); ``None`` when no limit is
        configured (runs start outside any group; an existing group is left for teardown).

        Returns:
            The run group id (``AFTER_APPLY`` in a dry run that would create it).
        """
        limits = self.settings.run_group_limits
        if not limits:
            return None
        omics = self.client("omics")
        name = self.names.run_group
        found = None
        for page in omics.get_paginator("list_run_groups").paginate(name=name):
            found = next((g for g in page["items"] if g.get("name") == name), found)
        detail = ", ".join(f"{k}={v}" for k, v in sorted(limits.items()))
        if found is None:
            self._record("run group", name, "create", detail)
            if self.dry_run:
                return AFTER_APPLY
            created = omics.create_run_group(
                name=name,
                requestId=_token(self.ctx.account_id, self.ctx.region, name, _canon(limits)),
                tags=self.tags,
                **limits,
            )
            return str(created["id"])
        group = omics.get_run_group(id=found["id"])
        changed = {k: v for k, v in limits.items() if group.get(k) != v}
        if not changed:
            self._record("run group", name, "unchanged", f"{found['id']} {detail}")
            return str(found["id"])
        self._record("run group", name, "update", f"{found['id']} {detail}")
        if not self.dry_run:
            omics.update_run_group(id=found["id"], **changed)
        return str(found["id"])

    def ensure_run_cache(self) -> str | None:
        """The deployment's run cache ``<deployment>-cache`` in ``s3://<output>/run-cache/``
        (CreateRunCache, or UpdateRunCache when the behaviour changed); ``None`` when
        ``cache_behavior = "off"``.

        Returns:
            The run cache id (``AFTER_APPLY`` in a dry run that would create it).
        """
        behavior = self.settings.cache_behavior
        if behavior == "off":
            return None
        omics = self.client("omics")
        name = self.names.run_cache
        found = None
        for page in omics.get_paginator("list_run_caches").paginate():
            found = next((c for c in page["items"] if c.get("name") == name), found)
        if found is None:
            self._record("run cache", name, "create", f"{behavior} in {self.names.run_cache_uri}")
            if self.dry_run:
                return AFTER_APPLY
            created = omics.create_run_cache(
                name=name,
                description=f"omics-toolkit {self.names.deployment} call cache",
                cacheS3Location=self.names.run_cache_uri,
                cacheBehavior=behavior,
                cacheBucketOwnerId=self.ctx.account_id,
                requestId=_token(self.ctx.account_id, self.ctx.region, name),
                tags=self.tags,
            )
            return str(created["id"])
        cache = omics.get_run_cache(id=found["id"])
        if cache.get("cacheBehavior") == behavior:
            self._record("run cache", name, "unchanged", f"{found['id']} {behavior}")
        else:
            self._record("run cache", name, "update", f"{cache.get('cacheBehavior')} -> {behavior}")
            if not self.dry_run:
                omics.update_run_cache(id=found["id"], cacheBehavior=behavior)
        return str(found["id"])

    def known_sites_parameters(self) -> dict[str, Any]:
        """Run parameters ``known_sites_vcfs`` / ``known_sites_indices`` for workflows that take
        them (GATK base quality recalibration), from the ``known_sites`` setting.

        Local files (bgzipped VCF + ``.tbi`` beside it) are uploaded once to
        ``s3://<output bucket>/reference/known-sites/<sha256[:16]>/`` (the run role may read
        ``reference/``); ``s3://`` URIs are passed as they are, with ``<uri>.tbi`` as the index.

        Returns:
            ``{}`` when the workflow has no ``known_sites_vcfs`` input.

        Raises:
            ConfigError: the workflow needs known sites and none are configured (neither
                ``known_sites`` nor ``run_parameters``), both are, a file or its ``.tbi`` is
                missing, or a file is not a bgzipped VCF.
        """
        from omics_toolkit import workflows
        from omics_toolkit.data import sha256_file

        main = workflows.workflow_dir(self.settings.workflow) / "main.wdl"
        template = workflows.parameter_template(main)
        if "known_sites_vcfs" not in template:
            if self.settings.known_sites:
                raise ConfigError(
                    f"known_sites is set but workflow {self.settings.workflow} has no "
                    "known_sites_vcfs input; drop known_sites or use --workflow gatk-germline"
                )
            return {}
        given = sorted(
            {"known_sites_vcfs", "known_sites_indices"} & set(self.settings.run_parameters)
        )
        if given and self.settings.known_sites:
            raise ConfigError(
                f"known_sites and run_parameters {given} both set the known sites: keep one"
            )
        if not self.settings.known_sites:
            if given:
                return {}
            raise ConfigError(
                f"workflow {self.settings.workflow} recalibrates base qualities against known "
                "variant sites: set known_sites to bgzipped VCFs with a .tbi beside each (e.g. "
                'known_sites = ["dbsnp.vcf.gz", "Mills_and_1000G_gold_standard.indels.vcf.gz"] in '
                "omics-toolkit.toml, or OMICS_TOOLKIT_KNOWN_SITES=a.vcf.gz,b.vcf.gz), matching "
                "the reference's contig names"
            )
        vcfs: list[str] = []
        indices: list[str] = []
        s3 = self.client("s3")
        for source in self.settings.known_sites:
            if source.startswith("s3://"):
                vcfs.append(source)
                indices.append(source + ".tbi")
                continue
            path = Path(source).expanduser()
            index = path.with_name(path.name + ".tbi")
            for f in (path, index):
                if not f.is_file():
                    raise ConfigError(
                        f"known_sites file {f} does not exist (each VCF needs its tabix index "
                        f"beside it: tabix -p vcf {path})"
                    )
            with path.open("rb") as fh:
                if fh.read(4) != b"\x1f\x8b\x08\x04":
                    raise ConfigError(
                        f"known_sites file {path} is not bgzipped: bgzip it and index it "
                        f"(bgzip {path.name} && tabix -p vcf {path.name}.gz)"
                    )
            prefix = f"{self.names.known_sites_prefix}{sha256_file(path)[:16]}/"
            uris = []
            for f in (path, index):
                key = prefix + f.name
                uris.append(f"s3://{self.names.output_bucket}/{key}")
                try:
                    s3.head_object(
                        Bucket=self.names.output_bucket,
                        Key=key,
                        ExpectedBucketOwner=self.ctx.account_id,
                    )
                    self._record("known sites", key, "unchanged")
                except ClientError as exc:
                    if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                        raise
                    self._record("known sites", key, "create", str(f))
                    if not self.dry_run:
                        s3.upload_file(
                            str(f),
                            self.names.output_bucket,
                            key,
                            ExtraArgs={"ExpectedBucketOwner": self.ctx.account_id},
                        )
            vcfs.append(uris[0])
            indices.append(uris[1])
        return {"known_sites_vcfs": vcfs, "known_sites_indices": indices}

    def kms_statements(self) -> list[dict[str, Any]]:
        """kms:Decrypt/GenerateDataKey on the customer-managed key, when one is configured."""
        if not self.settings.kms_key_arn:
            return []
        return [policies.allow(["kms:Decrypt", "kms:GenerateDataKey"], [self.settings.kms_key_arn])]

    def container_registry_map(self) -> dict[str, Any] | None:
        """ECR pull-through cache rules, repository creation templates and the registry policy
        for the upstream registries the workflow's images come from (see
        :mod:`omics_toolkit.provisioning.containers`); returns the ``containerRegistryMap`` for
        CreateWorkflow, or ``None`` when every image is already in private ECR."""
        from omics_toolkit import workflows
        from omics_toolkit.provisioning import containers

        wdl = workflows.workflow_dir(self.settings.workflow) / "main.wdl"
        return containers.ensure_container_registry(self, wdl) or None

    def private_image_repositories(self) -> list[str]:
        """Repositories of the images given in this account's private ECR (run parameters)."""
        from omics_toolkit import workflows
        from omics_toolkit.provisioning import containers

        wdl = workflows.workflow_dir(self.settings.workflow) / "main.wdl"
        images = containers.workflow_images(wdl, self.settings.run_parameters)
        plan = containers.plan_images(images, self.ctx.account_id, self.ctx.region)
        return sorted({ref.repository for ref in plan.private})

    def _workflow_definition(self, name: str, package: bytes, digest: str) -> dict[str, Any]:
        """``definitionZip`` up to 4.4 MB, else the zip in the output bucket as ``definitionUri``."""
        from omics_toolkit.workflows import fits_definition_zip

        if fits_definition_zip(package):
            return {"definitionZip": package}
        key = f"workflows/{name}/{digest}.zip"
        self.client("s3").put_object(
            Bucket=self.names.output_bucket,
            Key=key,
            Body=package,
            ExpectedBucketOwner=self.ctx.account_id,
        )
        return {"definitionUri": f"s3://{self.names.output_bucket}/{key}"}

    def _wait_workflow(self, label: str, get: Callable[[], dict[str, Any]]) -> None:
        def status() -> tuple[str, str]:
            workflow = get()
            return str(workflow["status"]), str(workflow.get("statusMessage", ""))

        self._wait(f"workflow {label}", status, {"ACTIVE"})

    # ----------------------------------------------------------------- Lambda
    def ensure_function(
        self,
        function: str,
        role_arn: str,
        environment: dict[str, str],
        layers: list[str],
        timeout_seconds: int = 60,
    ) -> str:
        """Lambda function ``lambdas/<function>/`` (handler only) with ``layers`` (the toolkit's
        own wheel as a layer, then the AWS-managed Powertools layer in AWS); returns its ARN."""
        lam = self.client("lambda")
        name = self.names.function(function)
        code = lambda_zip(function)
        config = {
            "Runtime": LAMBDA_RUNTIME,
            "Role": role_arn,
            "Handler": "app.lambda_handler",
            "Timeout": timeout_seconds,
            "MemorySize": 256,
            "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": function, **environment}},
        }
        config["Layers"] = list(layers)
        try:
            current = lam.get_function_configuration(FunctionName=name)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            self._record("lambda function", name, "create", f"{len(code)} bytes")
            if self.dry_run:
                return self.arn("lambda", f"function:{name}")
            created = self._retry_iam_propagation(
                lambda: lam.create_function(
                    FunctionName=name,
                    Code={"ZipFile": code},
                    Tags=self.tags,
                    Description=f"omics-toolkit {self.names.deployment}: {function}",
                    **config,
                )
            )
            return str(created["FunctionArn"])
        changes: list[str] = []
        if current.get("CodeSha256") != code_sha256(code):

            def update_code() -> None:
                lam.update_function_code(FunctionName=name, ZipFile=code)
                self._wait_function_updated(name)

            self._change(changes, "code", update_code)
        layers = config.pop("Layers", [])
        differs = {
            k
            for k, v in config.items()
            if (
                current.get(k)
                if k != "Environment"
                else {"Variables": current.get("Environment", {}).get("Variables", {})}
            )
            != v
        }
        if [layer["Arn"] for layer in current.get("Layers", [])] != layers:
            differs.add("Layers")
        config["Layers"] = layers
        if differs:
            self._change(
                changes,
                "configuration: " + ", ".join(sorted(differs)),
                lambda: lam.update_function_configuration(FunctionName=name, **config),
            )
        self._record(
            "lambda function", name, "update" if changes else "unchanged", "; ".join(changes)
        )
        return str(current["FunctionArn"])

    def _wait_function_updated(self, name: str) -> None:
        """Lambda rejects a second update while ``LastUpdateStatus`` is InProgress."""
        lam = self.client("lambda")

        def status() -> tuple[str, str]:
            conf = lam.get_function_configuration(FunctionName=name)
            state = str(conf.get("LastUpdateStatus", "Successful"))
            return (
                "COMPLETED" if state == "Successful" else "FAILED" if state == "Failed" else state,
                str(conf.get("LastUpdateStatusReason", "")),
            )

        self._wait(f"lambda function {name} update", status, {"COMPLETED"}, timeout_seconds=300)

    def powertools_layer_arn(self) -> str:
        """ARN of the AWS-managed Powertools layer matching the installed powertools version.

        Source: the public SSM parameter
        ``/aws/service/powertools/python/x86_64/<runtime>/<version>`` (Powertools docs, "Lambda
        Layer"). The local stack needs no layer: its Lambda runtime provides boto3 and powertools
        (as the managed runtime and layer do in AWS); the toolkit itself comes from its layer.

        Raises:
            UserError: the parameter cannot be read (region without the layer, missing permission).
        """
        from importlib.metadata import version

        name = f"/aws/service/powertools/python/x86_64/{LAMBDA_RUNTIME}/{version('aws-lambda-powertools')}"
        try:
            return str(self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as exc:
            raise UserError(
                f"cannot resolve the Powertools layer from SSM parameter {name}: {exc}; "
                "check ssm:GetParameter permission and that the region offers the layer"
            ) from exc

    def _retry_iam_propagation(self, call: Callable[[], Any]) -> Any:
        """Retry a create call while a new IAM role has not propagated yet (real AWS: ~10 s)."""
        for attempt in range(8):
            try:
                return call()
            except ClientError as exc:
                if (
                    error_code(exc) != "InvalidParameterValueException"
                    or "role" not in str(exc).lower()
                    or attempt == 7
                ):
                    raise
                self._sleep(2 ** min(attempt, 3))
        raise AssertionError("unreachable")

    def ensure_s3_invoke_permission(self, function_arn: str, bucket: str) -> None:
        lam = self.client("lambda")
        sid = f"{self.names.deployment}-s3-invoke"
        try:
            statements = json.loads(lam.get_policy(FunctionName=function_arn)["Policy"])[
                "Statement"
            ]
        except ClientError:
            statements = []
        if any(s.get("Sid") == sid for s in statements):
            self._record("lambda permission", sid, "unchanged")
            return
        self._record("lambda permission", sid, "create", f"s3:{bucket} may invoke")
        if self.dry_run:
            return
        lam.add_permission(
            FunctionName=function_arn,
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=f"arn:{self.partition}:s3:::{bucket}",
            SourceAccount=self.ctx.account_id,
        )

    def ensure_notification(self, bucket: str, function_arn: str) -> None:
        """Merge this deployment's FASTQ and manifest notifications into the bucket's configuration."""
        s3 = self.client("s3")
        try:
            current = s3.get_bucket_notification_configuration(Bucket=bucket)
        except ClientError as exc:
            if not (self.dry_run and error_code(exc) in ("NoSuchBucket", "404")):
                raise
            current = {}
        current.pop("ResponseMetadata", None)
        ours = [
            {
                "Id": f"{self.names.deployment}-{kind}{suffix.replace('.', '-')}",
                "LambdaFunctionArn": function_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": suffix}]}},
            }
            for kind, suffixes in (("fastq", FASTQ_SUFFIXES), ("manifest-", MANIFEST_SUFFIXES))
            for suffix in suffixes
        ]
        our_ids = {c["Id"] for c in ours}
        others = [
            c for c in current.get("LambdaFunctionConfigurations", []) if c.get("Id") not in our_ids
        ]
        mine = sorted(
            (c for c in current.get("LambdaFunctionConfigurations", []) if c.get("Id") in our_ids),
            key=lambda c: c["Id"],
        )

        def norm(configs: list[dict[str, Any]]) -> str:
            return _canon(
                [
                    {
                        "Id": c["Id"],
                        "Arn": c["LambdaFunctionArn"],
                        "Events": sorted(c["Events"]),
                        "Rules": sorted(
                            (r["Name"].lower(), r["Value"])
                            for r in c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
                        ),
                    }
                    for c in sorted(configs, key=lambda c: c["Id"])
                ]
            )

        if norm(mine) == norm(ours):
            self._record("s3 notification", bucket, "unchanged")
            return
        current["LambdaFunctionConfigurations"] = others + ours
        if not self.dry_run:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=current
            )
        self._record(
            "s3 notification",
            bucket,
            "update" if mine else "create",
            f"kept {len(others)} other configuration(s)",
        )

    # ----------------------------------------------------------------- Step Functions
    def run_parameters(self) -> dict[str, str]:
        """The settings' fixed StartRun parameters, checked against the workflow's inputs.

        Raises:
            ConfigError: a parameter is not an input of the workflow, or is one the pipeline sets.
        """
        from omics_toolkit import workflows

        fixed = dict(self.settings.run_parameters)
        if not fixed:
            return fixed
        main = workflows.workflow_dir(self.settings.workflow) / "main.wdl"
        template = workflows.parameter_template(main)
        settable = sorted(set(template) - PIPELINE_RUN_PARAMETERS)
        wrong = sorted(set(fixed) - set(settable))
        if wrong:
            raise ConfigError(
                f"run_parameters {wrong} cannot be set for workflow {self.settings.workflow}; "
                f"settable inputs: {settable}"
            )
        return fixed

    def run_options(
        self, run_group_id: str | None = None, run_cache_id: str | None = None
    ) -> dict[str, Any]:
        """StartRun fields from the run settings (:func:`statemachine.run_options`)."""
        return statemachine.run_options(self.settings, run_group_id, run_cache_id)

    def render_definition(
        self,
        substitutions: dict[str, str],
        run_parameters: dict[str, str],
        workflow_version: str | None = None,
        vcf_destination: str = "stores",
        run_group_id: str | None = None,
        run_cache_id: str | None = None,
    ) -> str:
        """The state machine definition for this deployment's run settings (see
        :func:`omics_toolkit.provisioning.statemachine.render`).

        Args:
            substitutions: placeholder name -> value.
            run_parameters: extra fixed StartRun parameters (e.g. private ECR image URIs).
            workflow_version: StartRun ``workflowVersionName`` (``None``: the workflow itself).
            run_group_id: StartRun ``runGroupId`` (``None``: no run group).
            run_cache_id: StartRun ``cacheId`` (``None``: no call caching).
            vcf_destination: ``"stores"`` (StartVariantImportJob into the variant store),
                ``"s3tables"`` (the VCF branch becomes the ``LoadVariants`` Lambda task, which
                replaces the sample's rows in the Iceberg ``variants`` table) or ``"none"`` (a
                Pass state: the VCF stays in the output bucket).
        """
        return statemachine.render(
            substitutions,
            run_parameters,
            self.run_options(run_group_id, run_cache_id),
            self.settings.run_tags,
            workflow_version=workflow_version,
            vcf_destination=vcf_destination,
        )

    def ensure_topic(self) -> str:
        """The SNS topic failures are published to (SNS CreateTopic/TagResource); returns its ARN.

        Encrypted with the deployment's KMS key when one is configured, else ``alias/aws/sns``.
        """
        sns = self.client("sns")
        name = self.names.topic
        arn = self.arn("sns", name)
        key = self.settings.kms_key_arn or "alias/aws/sns"
        try:
            attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        except ClientError as exc:
            if error_code(exc) not in ("NotFound", "NotFoundException"):
                raise
            self._record("sns topic", name, "create", f"encrypted with {key}")
            if not self.dry_run:
                sns.create_topic(
                    Name=name,
                    Attributes={"KmsMasterKeyId": key},
                    Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
                )
            return arn
        tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        changes = []
        if attributes.get("KmsMasterKeyId") != key:
            changes.append(f"encrypted with {key}")
            if not self.dry_run:
                sns.set_topic_attributes(
                    TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=key
                )
        if any(tags.get(k) != v for k, v in self.tags.items()):
            changes.append("tags")
            if not self.dry_run:
                sns.tag_resource(
                    ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()]
                )
        self._record("sns topic", name, "update" if changes else "unchanged", ", ".join(changes))
        return arn

    def ensure_log_group(self, name: str) -> str:
        logs = self.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        group = next((g for g in groups if g["logGroupName"] == name), None)
        if group is None:
            self._record("log group", name, "create", "retention 90 days")
            if not self.dry_run:
                logs.create_log_group(logGroupName=name, tags=self.tags)
                logs.put_retention_policy(logGroupName=name, retentionInDays=90)
        elif group.get("retentionInDays") != 90:
            self._record("log group", name, "update", "retention 90 days")
            if not self.dry_run:
                logs.put_retention_policy(logGroupName=name, retentionInDays=90)
        else:
            self._record("log group", name, "unchanged")
        return self.arn("logs", f"log-group:{name}:*")

    def _state_machine_tags(self) -> dict[str, str]:
        """Tags of the deployment's state machine; ``{}`` when it does not exist yet."""
        sfn = self.client("stepfunctions")
        try:
            tags = sfn.list_tags_for_resource(
                resourceArn=self.arn("states", f"stateMachine:{self.names.state_machine}")
            )["tags"]
        except ClientError:
            return {}
        return {t["key"]: t["value"] for t in tags}

    def ensure_state_machine(
        self,
        definition: str,
        role_arn: str,
        log_group_arn: str,
        extra_tags: dict[str, str] | None = None,
    ) -> str:
        sfn = self.client("stepfunctions")
        name = self.names.state_machine
        arn = self.arn("states", f"stateMachine:{name}")
        wanted_tags = {**self.tags, **(extra_tags or {})}
        logging_config = {
            "level": "ERROR",
            "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
        }
        try:
            current = sfn.describe_state_machine(stateMachineArn=arn)
        except ClientError as exc:
            if error_code(exc) != "StateMachineDoesNotExist":
                raise
            self._record("state machine", name, "create", "STANDARD, logging ERROR")
            if self.dry_run:
                return arn
            created = self._retry_iam_propagation(
                lambda: sfn.create_state_machine(
                    name=name,
                    definition=definition,
                    roleArn=role_arn,
                    type="STANDARD",
                    loggingConfiguration=logging_config,
                    tags=[{"key": k, "value": v} for k, v in wanted_tags.items()],
                )
            )
            return str(created["stateMachineArn"])
        changes = []
        if _canon(current["definition"]) != _canon(definition):
            changes.append("definition")
        if current["roleArn"] != role_arn:
            changes.append("role")
        if _canon(current.get("loggingConfiguration", {})) != _canon(logging_config):
            changes.append("logging")
        have_tags = {
            t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]
        }
        if {**have_tags, **wanted_tags} != have_tags:
            self._change(
                changes,
                "tags",
                lambda: sfn.tag_resource(
                    resourceArn=arn,
                    tags=[{"key": k, "value": v} for k, v in wanted_tags.items()],
                ),
            )
        if changes and not self.dry_run:
            sfn.update_state_machine(
                stateMachineArn=arn,
                definition=definition,
                roleArn=role_arn,
                loggingConfiguration=logging_config,
            )
        self._record(
            "state machine", name, "update" if changes else "unchanged", ", ".join(changes)
        )
        return arn

    # ----------------------------------------------------------------- Glue, Lake Formation, Athena
    def ensure_glue_database(self) -> None:
        glue = self.client("glue")
        name = self.names.glue_database
        try:
            glue.get_database(Name=name)
            self._record("glue database", name, "unchanged")
        except ClientError as exc:
            if error_code(exc) != "EntityNotFoundException":
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
        except ClientError as exc:
            if error_code(exc) != "EntityNotFoundException":
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
        except ClientError:
            current = None
        if current is None:
            self._record("athena workgroup", name, "create", "engine version 3, encrypted results")
            if not self.dry_run:
                athena.create_work_group(
                    Name=name,
                    Configuration=config,
                    Tags=_tags_list(self.tags),
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

    # ----------------------------------------------------------------- the whole deployment
    def apply(self, reference: str | None) -> Deployment:
        """Provision every resource of the deployment (idempotent).

        Args:
            reference: FASTA file or ``s3://`` URI imported into the reference store; may be
                ``None`` when the reference is already there.

        Returns:
            The :class:`Deployment` identifiers.

        Raises:
            UserError: missing reference, invalid names; AwsError/ClientError from the services.
        """
        n = self.names
        p, region, account = self.partition, self.ctx.region, self.ctx.account_id
        self.ensure_bucket(n.input_bucket, self.lifecycle_rules(30))
        self.ensure_bucket(n.output_bucket, self.lifecycle_rules(30))
        in_arn, out_arn = f"arn:{p}:s3:::{n.input_bucket}", f"arn:{p}:s3:::{n.output_bucket}"

        import_role = self.ensure_role(
            n.role("omics-import"),
            HEALTHOMICS_PRINCIPAL,
            [
                policies.allow(
                    ["s3:GetObject"],
                    [
                        f"{in_arn}/*",
                        f"{out_arn}/reference/*",
                        f"{out_arn}/runs/*",
                        f"{out_arn}/annotations/*",
                    ],
                ),
                policies.allow(["s3:GetBucketLocation", "s3:ListBucket"], [in_arn, out_arn]),
                *self.kms_statements(),
            ],
        )
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
        seq_store = self.ensure_sequence_store()
        variant_store = annotation_store = None
        backend = self.settings.variant_backend
        previous = self._state_machine_tags().get(VARIANT_BACKEND_TAG)
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
            variant_store = self.ensure_variant_store(ref_arn)
            if variant_store is not None:
                annotation_store = self.ensure_annotation_store(ref_arn)
            else:
                use_tables = True
                self._record("annotation store", n.annotation_store, "skipped", "no variant store")
        table_bucket_arn = None
        if use_tables:
            table_bucket_arn = s3tables_prov.ensure_table_bucket(self)
            s3tables_prov.ensure_variants_table(self, table_bucket_arn)
        workflow_id, workflow_version = self.ensure_workflow(self.container_registry_map())
        run_group_id = self.ensure_run_group()
        run_cache_id = self.ensure_run_cache()
        known_sites = self.known_sites_parameters()

        omics = f"arn:{p}:omics:{region}:{account}"
        wf_log = f"arn:{p}:logs:{region}:{account}:log-group:{HEALTHOMICS_LOG_GROUP}"
        run_role = self.ensure_role(
            n.role("omics-run"),
            HEALTHOMICS_PRINCIPAL,
            [
                policies.allow(["s3:GetObject"], [f"{in_arn}/*", f"{out_arn}/reference/*"]),
                policies.allow(["s3:PutObject"], [f"{out_arn}/runs/*"]),
                policies.allow(["s3:ListBucket", "s3:GetBucketLocation"], [in_arn, out_arn]),
                *(
                    # The run cache: HealthOmics reads and writes cached task outputs as the run
                    # role (HealthOmics "Call caching" permissions).
                    [policies.allow(["s3:GetObject", "s3:PutObject"], [f"{out_arn}/run-cache/*"])]
                    if run_cache_id
                    else []
                ),
                policies.allow(
                    ["omics:GetReference", "omics:GetReferenceMetadata"],
                    [f"{omics}:referenceStore/{ref_store}/reference/{ref_id}"],
                ),
                policies.allow(
                    ["omics:GetReadSet", "omics:GetReadSetMetadata"],
                    [f"{omics}:sequenceStore/{seq_store}/readSet/*"],
                ),
                policies.allow(["logs:CreateLogGroup"], [f"{wf_log}:*"]),
                policies.allow(
                    ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                    [f"{wf_log}:log-stream:*"],
                ),
                containers.run_role_statement(
                    n.deployment, p, account, region, self.private_image_repositories()
                ),
                *self.kms_statements(),
            ],
        )
        fn_arn = {
            f: f"arn:{p}:lambda:{region}:{account}:function:{n.function(f)}"
            for f in (*FUNCTIONS, *TABLES_FUNCTIONS)
        }
        sm_arn = f"arn:{p}:states:{region}:{account}:stateMachine:{n.state_machine}"
        execution_arns = f"arn:{p}:states:{region}:{account}:execution:{n.state_machine}:*"
        topic_arn = self.ensure_topic()
        sfn_role = self.ensure_role(
            n.role("states"),
            "states.amazonaws.com",
            [
                policies.allow(
                    ["omics:StartReadSetImportJob", "omics:GetReadSetImportJob"],
                    [f"{omics}:sequenceStore/{seq_store}", f"{omics}:sequenceStore/{seq_store}/*"],
                ),
                policies.allow(
                    ["omics:StartRun", "omics:TagResource"],
                    [
                        f"{omics}:workflow/{workflow_id}",
                        f"{omics}:run/*",
                        *([f"{omics}:runGroup/{run_group_id}"] if run_group_id else []),
                        *([f"{omics}:runCache/{run_cache_id}"] if run_cache_id else []),
                    ],
                ),
                policies.allow(["omics:GetRun"], [f"{omics}:run/*"]),
                *(
                    [
                        policies.allow(
                            ["omics:StartVariantImportJob"],
                            [f"{omics}:variantStore/{n.variant_store}"],
                        ),
                        # GetVariantImportJob has no resource type in the IAM reference: "*".
                        policies.allow(["omics:GetVariantImportJob"], ["*"]),
                    ]
                    if variant_store
                    else []
                ),
                policies.allow(
                    ["iam:PassRole"],
                    [run_role, import_role],
                    {"StringEquals": {"iam:PassedToService": HEALTHOMICS_PRINCIPAL}},
                ),
                policies.allow(
                    ["lambda:InvokeFunction"],
                    [
                        fn_arn["run_outputs"],
                        fn_arn["tag_objects"],
                        fn_arn["failure_handler"],
                        *([fn_arn["variant_loader"]] if use_tables else []),
                    ],
                ),
                policies.allow(
                    [
                        "logs:CreateLogDelivery",
                        "logs:GetLogDelivery",
                        "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery",
                        "logs:ListLogDeliveries",
                        "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies",
                        "logs:DescribeLogGroups",
                    ],
                    ["*"],
                ),
            ],
        )
        roles = {
            "pair_detector": [
                policies.allow(["s3:GetObject"], [f"{in_arn}/*"]),
                # Without ListBucket, HeadObject of a mate not yet uploaded is 403, not 404.
                policies.allow(["s3:ListBucket"], [in_arn]),
                policies.allow(["states:StartExecution"], [sm_arn]),
                # ListExecutions names two resource types (state machine, map run).
                policies.allow(
                    ["states:ListExecutions"],
                    [sm_arn, f"arn:{p}:states:{region}:{account}:mapRun:{n.state_machine}/*"],
                ),
                policies.allow(["states:DescribeExecution"], [execution_arns]),
                *self.kms_statements(),  # GetObject of manifests under SSE-KMS
            ],
            "run_outputs": [
                policies.allow(["omics:GetRun"], [f"{omics}:run/*"]),
                policies.allow(["s3:GetObject"], [f"{out_arn}/runs/*"]),
                *self.kms_statements(),
            ],
            "tag_objects": [
                policies.allow(
                    ["s3:GetObjectTagging", "s3:PutObjectTagging"],
                    [f"{in_arn}/*", f"{out_arn}/runs/*"],
                )
            ],
            "failure_handler": [
                policies.allow(["s3:GetObjectTagging", "s3:PutObjectTagging"], [f"{in_arn}/*"]),
                policies.allow(["sns:Publish"], [topic_arn]),
                policies.allow(
                    ["events:PutEvents"], [f"arn:{p}:events:{region}:{account}:event-bus/default"]
                ),
                *self.kms_statements(),
            ],
        }
        env = {
            "pair_detector": {
                "STATE_MACHINE_ARN": sm_arn,
                "POLL_INTERVAL_SECONDS": str(self.settings.poll_interval_seconds),
                **({"PAIR_PATTERN": pattern} if (pattern := self.settings.pair_pattern) else {}),
            },
            "failure_handler": {"TOPIC_ARN": topic_arn, "EVENT_BUS_NAME": "default"},
        }
        function_layers = [ensure_toolkit_layer(self)]
        if not self.ctx.is_local:
            function_layers.append(self.powertools_layer_arn())
        layers_of = {f: function_layers for f in roles}
        timeouts: dict[str, int] = {}
        if use_tables and table_bucket_arn:
            tables = f"{table_bucket_arn}/table/*"
            roles["variant_loader"] = [
                policies.allow(["s3:GetObject"], [f"{out_arn}/runs/*"]),
                # The Iceberg table: its metadata pointer and its data (S3 API on table storage).
                policies.allow(
                    [
                        "s3tables:GetTable",
                        "s3tables:GetTableMetadataLocation",
                        "s3tables:UpdateTableMetadataLocation",
                        "s3tables:GetTableData",
                        "s3tables:PutTableData",
                    ],
                    [tables],
                ),
                *self.kms_statements(),
            ]
            env["variant_loader"] = {
                "TABLE_BUCKET_ARN": table_bucket_arn,
                "NAMESPACE": n.table_namespace,
            }
            layers_of["variant_loader"] = [
                function_layers[0],
                ensure_tables_layer(self, n.output_bucket),
                *function_layers[1:],
            ]
            timeouts["variant_loader"] = 900
        for function, statements in roles.items():
            role = self.ensure_role(
                n.role(f"lambda-{function.replace('_', '-')}"),
                "lambda.amazonaws.com",
                [*statements, policies.lambda_logs(p, region, account, n.function(function))],
            )
            self.ensure_function(
                function,
                role,
                env.get(function, {}),
                layers_of[function],
                timeout_seconds=timeouts.get(function, 60),
            )

        log_group_arn = self.ensure_log_group(n.state_machine_log_group)
        chosen = "stores" if variant_store else "s3tables" if use_tables else "none"
        definition = self.render_definition(
            {
                "SequenceStoreId": seq_store,
                "ImportRoleArn": import_role,
                "ReferenceArn": ref_arn,
                "ReferenceUri": f"omics://{account}.storage.{region}.amazonaws.com/{ref_store}/reference/{ref_id}",
                "ReadSetUriPrefix": f"omics://{account}.storage.{region}.amazonaws.com/{seq_store}/readSet/",
                "WorkflowId": workflow_id,
                "RunRoleArn": run_role,
                "OutputUri": n.run_output_uri,
                "StorageType": self.settings.storage_type,
                "VariantStoreName": n.variant_store,
                "RunOutputsFunctionArn": fn_arn["run_outputs"],
                "TagObjectsFunctionArn": fn_arn["tag_objects"],
                "FailureHandlerFunctionArn": fn_arn["failure_handler"],
                "MaxPollIntervalSeconds": str(self.settings.max_poll_interval_seconds),
                "DeploymentTagKey": DEPLOYMENT_TAG,
                "Deployment": n.deployment,
                "LifecycleTagKey": LIFECYCLE_TAG,
                "VariantLoaderFunctionArn": fn_arn["variant_loader"],
            },
            run_parameters={**known_sites, **self.run_parameters()},
            workflow_version=workflow_version,
            vcf_destination=chosen,
            run_group_id=run_group_id,
            run_cache_id=run_cache_id,
        )
        self.ensure_state_machine(
            definition, sfn_role, log_group_arn, {VARIANT_BACKEND_TAG: chosen}
        )
        self.ensure_s3_invoke_permission(fn_arn["pair_detector"], n.input_bucket)
        self.ensure_notification(n.input_bucket, fn_arn["pair_detector"])

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
            s3tables_prov.ensure_catalog_integration(self, caller)
        self.ensure_workgroup()
        return Deployment(
            names=n,
            reference_store_id=ref_store,
            reference_id=ref_id,
            sequence_store_id=seq_store,
            workflow_id=workflow_id,
            workflow_version=workflow_version,
            state_machine_arn=sm_arn,
            variant_store_id=variant_store,
        )

    def _find_existing_reference(self, store_id: str) -> tuple[str, str, str] | None:
        """The store's first ACTIVE reference as ``(id, arn, name)``, or ``None``."""
        omics = self.client("omics")
        for page in omics.get_paginator("list_references").paginate(referenceStoreId=store_id):
            for ref in page["references"]:
                if ref.get("status") == "ACTIVE":
                    return str(ref["id"]), str(ref["arn"]), str(ref["name"])
        return None
