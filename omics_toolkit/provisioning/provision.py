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
from omics_toolkit.aws.session import AwsContext
from omics_toolkit.config import Settings
from omics_toolkit.constants import DEPLOYMENT_TAG, LIFECYCLE_TAG
from omics_toolkit.errors import ConfigError, ToolkitError, UserError
from omics_toolkit.provisioning import policies
from omics_toolkit.provisioning.names import Names
from omics_toolkit.provisioning.packaging import STATEMACHINES_DIR, code_sha256, lambda_zip

#: Lambda functions of the pipeline (directory under lambdas/).
FUNCTIONS = ("pair_detector", "run_outputs", "tag_objects")
FASTQ_SUFFIXES = (".fastq.gz", ".fq.gz", ".fastq", ".fq")
LAMBDA_RUNTIME = "python3.11"
DIGEST_TAG = "omics-toolkit:digest"
#: StartRun parameters the state machine fills from the execution (not settable by users).
PIPELINE_RUN_PARAMETERS = frozenset({"fastq_1", "fastq_2", "reference", "sample_name"})


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


def _tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _canon(doc: Any) -> str:
    if isinstance(doc, str):
        doc = json.loads(doc)
    return json.dumps(doc, sort_keys=True)


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
    """

    def __init__(
        self,
        ctx: AwsContext,
        settings: Settings,
        report: Reporter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ctx = ctx
        self.settings = settings
        self.names = Names(settings.deployment, ctx.account_id, ctx.region)
        self.tags = {DEPLOYMENT_TAG: settings.deployment}
        self.actions: list[Action] = []
        self._report = report or (lambda action: None)
        self._sleep = sleep
        self.partition = ctx.partition()
        self.poll_seconds = 1.0 if ctx.is_local else 15.0

    # ----------------------------------------------------------------- helpers
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
        s3 = self.ctx.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
            created = False
        except ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise UserError(f"bucket {bucket} exists but is not accessible: {exc}") from exc
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.ctx.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.ctx.region}
            s3.create_bucket(**kwargs)
            created = True
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
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
            changes.append("public access block")
        sse = {
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                    "BucketKeyEnabled": True,
                }
            ]
        }
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
                "Rules"
            ]
            current_sse = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        except ClientError:
            current_sse = None
        if current_sse != "AES256":
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=sse)
            changes.append("encryption")
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            changes.append("versioning")
        wanted_policy = policies.tls_only_bucket_policy(bucket, self.partition)
        try:
            current_policy = _canon(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError:
            current_policy = None
        if current_policy != _canon(wanted_policy):
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted_policy))
            changes.append("TLS-only policy")
        try:
            current_rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError:
            current_rules = []
        if _canon(current_rules) != _canon(lifecycle):
            s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": lifecycle}
            )
            changes.append("lifecycle rules")
        try:
            current_tags = {
                t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
            }
        except ClientError:
            current_tags = {}
        if {**current_tags, **self.tags} != current_tags:
            s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": _tags_list({**current_tags, **self.tags})}
            )
            changes.append("tags")
        self._record(
            "s3 bucket",
            bucket,
            "create" if created else ("update" if changes else "unchanged"),
            ", ".join(changes) if not created else "",
        )

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
    def ensure_role(self, name: str, service: str, statements: list[dict[str, Any]]) -> str:
        iam = self.ctx.client("iam")
        trust_doc = policies.trust(service, self.ctx.account_id)
        inline = policies.policy(*statements)
        try:
            role = iam.get_role(RoleName=name)["Role"]
            action = "unchanged"
            changes = []
            if _canon(role["AssumeRolePolicyDocument"]) != _canon(trust_doc):
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust_doc))
                changes.append("trust policy")
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            role = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust_doc),
                Description=f"omics-toolkit {self.names.deployment}: {service}",
                Tags=_tags_list(self.tags),
            )["Role"]
            action, changes = "create", []
        try:
            current = iam.get_role_policy(RoleName=name, PolicyName="least-privilege")[
                "PolicyDocument"
            ]
        except ClientError:
            current = None
        if current is None or _canon(current) != _canon(inline):
            iam.put_role_policy(
                RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(inline)
            )
            if action != "create":
                changes.append("inline policy")
        if changes:
            action = "update"
        self._record("iam role", name, action, ", ".join(changes))
        return str(role["Arn"])

    # ----------------------------------------------------------------- HealthOmics
    def _find_by_name(
        self, list_op: str, key: str, name: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        omics = self.ctx.client("omics")
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
        create = getattr(self.ctx.client("omics"), f"create_{kind}_store")
        store = create(name=name, tags=self.tags, clientToken=f"{name}-store")
        self._record(f"{kind} store", name, "create", store["id"])
        return str(store["id"])

    def ensure_reference_store(self) -> str:
        """The deployment's reference store (CreateReferenceStore); returns its id."""
        return self._ensure_store("reference")

    def ensure_reference(self, store_id: str, reference: str, role_arn: str) -> tuple[str, str]:
        """Import the reference FASTA once (found by name); returns ``(reference id, arn)``."""
        omics = self.ctx.client("omics")
        source = reference
        ref_name = reference_name(reference)
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
        if not reference.startswith("s3://"):
            path = Path(reference)
            if not path.is_file():
                raise UserError(
                    f"reference FASTA {path} does not exist; pass --reference FILE or s3://URI"
                )
            key = f"reference/{path.name}"
            self.ctx.client("s3").upload_file(str(path), self.names.output_bucket, key)
            source = f"s3://{self.names.output_bucket}/{key}"
        token = hashlib.sha256(f"{store_id}:{ref_name}:{source}".encode()).hexdigest()[:32]
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

    def ensure_variant_store(self, reference_arn: str) -> str:
        """The deployment's variant store (CreateVariantStore); returns its id."""
        return self._ensure_analytics_store(
            "variant", self.names.variant_store, reference={"referenceArn": reference_arn}
        )

    def ensure_annotation_store(self, reference_arn: str) -> str:
        """The deployment's VCF-format annotation store (CreateAnnotationStore); returns its id."""
        return self._ensure_analytics_store(
            "annotation",
            self.names.annotation_store,
            reference={"referenceArn": reference_arn},
            storeFormat="VCF",
        )

    def _ensure_analytics_store(self, kind: str, name: str, **create: Any) -> str:
        omics = self.ctx.client("omics")
        get = getattr(omics, f"get_{kind}_store")
        found = self._find_by_name(f"list_{kind}_stores", f"{kind}Stores", name, filter={})
        if not found:
            getattr(omics, f"create_{kind}_store")(
                name=name,
                description=f"omics-toolkit {self.names.deployment}",
                tags=self.tags,
                **create,
            )

        def status() -> tuple[str, str]:
            store = get(name=name)
            return str(store["status"]), str(store.get("statusMessage", ""))

        self._wait(f"{kind} store {name}", status, {"ACTIVE"})
        store = get(name=name)
        self._record(f"{kind} store", name, "unchanged" if found else "create", store["id"])
        return str(store["id"])

    def ensure_workflow(self) -> str:
        from omics_toolkit import workflows  # miniwdl: imported only when provisioning workflows

        omics = self.ctx.client("omics")
        directory = workflows.workflow_dir(self.settings.workflow)
        main = directory / "main.wdl"
        package = workflows.package_workflow(directory)
        digest = workflows.content_digest(package)
        name = self.names.workflow(self.settings.workflow)
        for page in omics.get_paginator("list_workflows").paginate(name=name, type="PRIVATE"):
            for item in page["items"]:
                if item.get("name") != name or item.get("status") in ("DELETED", "FAILED"):
                    continue
                tags = omics.list_tags_for_resource(resourceArn=item["arn"])["tags"]
                if tags.get(DIGEST_TAG) == digest:
                    self._record("workflow", name, "unchanged", item["id"])
                    return str(item["id"])
        created = omics.create_workflow(
            name=name,
            engine="WDL",
            main="main.wdl",
            definitionZip=package,
            parameterTemplate=workflows.parameter_template(main),
            description=f"{self.settings.workflow} (omics-toolkit {self.names.deployment})",
            storageType=self.settings.storage_type,
            **({"storageCapacity": 1200} if self.settings.storage_type == "STATIC" else {}),
            tags={**self.tags, DIGEST_TAG: digest},
            requestId=f"{name}-{digest[:32]}",
        )

        def status() -> tuple[str, str]:
            workflow = omics.get_workflow(id=created["id"])
            return str(workflow["status"]), str(workflow.get("statusMessage", ""))

        self._wait(f"workflow {name}", status, {"ACTIVE"})
        self._record("workflow", name, "create", f"{created['id']} digest {digest[:12]}")
        return str(created["id"])

    # ----------------------------------------------------------------- Lambda
    def ensure_function(
        self, function: str, role_arn: str, environment: dict[str, str], timeout_seconds: int = 60
    ) -> str:
        lam = self.ctx.client("lambda")
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
        if not self.ctx.is_local:
            config["Layers"] = [self.powertools_layer_arn()]
        try:
            current = lam.get_function_configuration(FunctionName=name)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            created = self._retry_iam_propagation(
                lambda: lam.create_function(
                    FunctionName=name,
                    Code={"ZipFile": code},
                    Tags=self.tags,
                    Description=f"omics-toolkit {self.names.deployment}: {function}",
                    **config,
                )
            )
            self._record("lambda function", name, "create")
            return str(created["FunctionArn"])
        changes = []
        if current.get("CodeSha256") != code_sha256(code):
            lam.update_function_code(FunctionName=name, ZipFile=code)
            changes.append("code")
            self._wait_function_updated(name)
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
            lam.update_function_configuration(FunctionName=name, **config)
            changes.append("configuration: " + ", ".join(sorted(differs)))
        self._record(
            "lambda function", name, "update" if changes else "unchanged", "; ".join(changes)
        )
        return str(current["FunctionArn"])

    def _wait_function_updated(self, name: str) -> None:
        """Lambda rejects a second update while ``LastUpdateStatus`` is InProgress."""
        lam = self.ctx.client("lambda")

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
        Layer"). The local stack needs no layer: handlers run with the toolkit's own environment.

        Raises:
            UserError: the parameter cannot be read (region without the layer, missing permission).
        """
        from importlib.metadata import version

        name = f"/aws/service/powertools/python/x86_64/{LAMBDA_RUNTIME}/{version('aws-lambda-powertools')}"
        try:
            return str(self.ctx.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
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
        lam = self.ctx.client("lambda")
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
        lam.add_permission(
            FunctionName=function_arn,
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=f"arn:{self.partition}:s3:::{bucket}",
            SourceAccount=self.ctx.account_id,
        )
        self._record("lambda permission", sid, "create")

    def ensure_notification(self, bucket: str, function_arn: str) -> None:
        """Merge this deployment's FASTQ notifications into the bucket's configuration."""
        s3 = self.ctx.client("s3")
        current = s3.get_bucket_notification_configuration(Bucket=bucket)
        current.pop("ResponseMetadata", None)
        ours = [
            {
                "Id": f"{self.names.deployment}-fastq{suffix.replace('.', '-')}",
                "LambdaFunctionArn": function_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": suffix}]}},
            }
            for suffix in FASTQ_SUFFIXES
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
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)
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

    def render_definition(
        self, substitutions: dict[str, str], run_parameters: dict[str, str]
    ) -> str:
        """Fill the ``${Name}`` placeholders of statemachines/germline.asl.json.

        ``run_parameters`` are extra fixed StartRun parameters (e.g. private ECR image URIs).
        """
        text = (STATEMACHINES_DIR / "germline.asl.json").read_text()
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", value)
        if "${" in text:
            missing = sorted(set(part.split("}")[0] for part in text.split("${")[1:]))
            raise ToolkitError(f"state machine placeholders without a value: {missing}")
        definition = json.loads(text)
        definition["States"]["StartRun"]["Parameters"]["Parameters"].update(run_parameters)
        return json.dumps(definition, indent=2, sort_keys=True)

    def ensure_log_group(self, name: str) -> str:
        logs = self.ctx.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        if not any(g["logGroupName"] == name for g in groups):
            logs.create_log_group(logGroupName=name, tags=self.tags)
            logs.put_retention_policy(logGroupName=name, retentionInDays=90)
            self._record("log group", name, "create")
        else:
            self._record("log group", name, "unchanged")
        return self.arn("logs", f"log-group:{name}:*")

    def ensure_state_machine(self, definition: str, role_arn: str, log_group_arn: str) -> str:
        sfn = self.ctx.client("stepfunctions")
        name = self.names.state_machine
        arn = self.arn("states", f"stateMachine:{name}")
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
            created = self._retry_iam_propagation(
                lambda: sfn.create_state_machine(
                    name=name,
                    definition=definition,
                    roleArn=role_arn,
                    type="STANDARD",
                    loggingConfiguration=logging_config,
                    tags=[{"key": k, "value": v} for k, v in self.tags.items()],
                )
            )
            self._record("state machine", name, "create")
            return str(created["stateMachineArn"])
        changes = []
        if _canon(current["definition"]) != _canon(definition):
            changes.append("definition")
        if current["roleArn"] != role_arn:
            changes.append("role")
        if changes:
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
        glue = self.ctx.client("glue")
        name = self.names.glue_database
        try:
            glue.get_database(Name=name)
            self._record("glue database", name, "unchanged")
        except ClientError as exc:
            if error_code(exc) != "EntityNotFoundException":
                raise
            glue.create_database(
                DatabaseInput={
                    "Name": name,
                    "Description": f"omics-toolkit {self.names.deployment}",
                },
                Tags=self.tags,
            )
            self._record("glue database", name, "create")

    def ensure_resource_link(self, link: str, target_database: str, target_table: str) -> None:
        """A Glue resource link (CreateTable with TargetTable) to a store's shared table."""
        glue = self.ctx.client("glue")
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
            glue.delete_table(DatabaseName=self.names.glue_database, Name=link)
            action = "update"
        except ClientError as exc:
            if error_code(exc) != "EntityNotFoundException":
                raise
            action = "create"
        glue.create_table(
            DatabaseName=self.names.glue_database, TableInput={"Name": link, "TargetTable": target}
        )
        self._record("glue resource link", link, action, f"-> {target_database}.{target_table}")

    def ensure_lake_formation_grants(
        self, principal_arn: str, grants: list[tuple[str, str, list[str]]]
    ) -> None:
        """Grant ``(database, table, permissions)`` to ``principal_arn`` unless already granted."""
        lf = self.ctx.client("lakeformation")
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
            lf.grant_permissions(Principal=principal, Resource=resource, Permissions=permissions)
            self._record("lake formation grant", label, "create", "+".join(permissions))

    def ensure_workgroup(self) -> None:
        athena = self.ctx.client("athena")
        name = self.names.workgroup
        config = {
            "ResultConfiguration": {
                "OutputLocation": self.names.athena_output_uri,
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
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
            athena.create_work_group(
                Name=name,
                Configuration=config,
                Tags=_tags_list(self.tags),
                Description=f"omics-toolkit {self.names.deployment}",
            )
            self._record("athena workgroup", name, "create")
            return
        location = (
            current.get("Configuration", {}).get("ResultConfiguration", {}).get("OutputLocation")
        )
        if location != self.names.athena_output_uri:
            athena.update_work_group(
                WorkGroup=name,
                ConfigurationUpdates={
                    "ResultConfigurationUpdates": {"OutputLocation": self.names.athena_output_uri},
                    "EnforceWorkGroupConfiguration": True,
                },
            )
            self._record("athena workgroup", name, "update", "result location")
            return
        self._record("athena workgroup", name, "unchanged")

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
            "omics.amazonaws.com",
            [
                policies.allow(
                    ["s3:GetObject"], [f"{in_arn}/*", f"{out_arn}/reference/*", f"{out_arn}/runs/*"]
                ),
                policies.allow(["s3:GetBucketLocation", "s3:ListBucket"], [in_arn, out_arn]),
            ],
        )
        ref_store = self.ensure_reference_store()
        existing = self._find_existing_reference(ref_store)
        if existing is None and reference is None:
            raise UserError(
                "the reference store has no reference yet: pass --reference FASTA (file or s3:// URI)"
            )
        ref_id, ref_arn = (
            existing
            if existing and reference is None
            else self.ensure_reference(ref_store, reference or "", import_role)
        )
        seq_store = self.ensure_sequence_store()
        variant_store = self.ensure_variant_store(ref_arn)
        annotation_store = self.ensure_annotation_store(ref_arn)
        workflow_id = self.ensure_workflow()

        omics = f"arn:{p}:omics:{region}:{account}"
        wf_log = f"arn:{p}:logs:{region}:{account}:log-group:/aws/omics/WorkflowLog"
        run_role = self.ensure_role(
            n.role("omics-run"),
            "omics.amazonaws.com",
            [
                policies.allow(["s3:GetObject"], [f"{in_arn}/*", f"{out_arn}/reference/*"]),
                policies.allow(["s3:PutObject"], [f"{out_arn}/runs/*"]),
                policies.allow(["s3:ListBucket", "s3:GetBucketLocation"], [in_arn, out_arn]),
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
                policies.allow(
                    [
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                    [f"arn:{p}:ecr:{region}:{account}:repository/*"],
                ),
            ],
        )
        fn_arn = {
            f: f"arn:{p}:lambda:{region}:{account}:function:{n.function(f)}" for f in FUNCTIONS
        }
        sm_arn = f"arn:{p}:states:{region}:{account}:stateMachine:{n.state_machine}"
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
                    [f"{omics}:workflow/{workflow_id}", f"{omics}:run/*"],
                ),
                policies.allow(["omics:GetRun"], [f"{omics}:run/*"]),
                policies.allow(
                    ["omics:StartVariantImportJob", "omics:GetVariantImportJob"],
                    [f"{omics}:variantStore/{n.variant_store}"],
                ),
                policies.allow(
                    ["iam:PassRole"],
                    [run_role, import_role],
                    {"StringEquals": {"iam:PassedToService": "omics.amazonaws.com"}},
                ),
                policies.allow(
                    ["lambda:InvokeFunction"], [fn_arn["run_outputs"], fn_arn["tag_objects"]]
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
            ],
            "run_outputs": [
                policies.allow(["omics:GetRun"], [f"{omics}:run/*"]),
                policies.allow(["s3:GetObject"], [f"{out_arn}/runs/*"]),
            ],
            "tag_objects": [
                policies.allow(
                    ["s3:GetObjectTagging", "s3:PutObjectTagging"],
                    [f"{in_arn}/*", f"{out_arn}/runs/*"],
                )
            ],
        }
        env = {
            "pair_detector": {
                "STATE_MACHINE_ARN": sm_arn,
                "POLL_INTERVAL_SECONDS": str(self.settings.poll_interval_seconds),
            }
        }
        for function, statements in roles.items():
            role = self.ensure_role(
                n.role(f"lambda-{function.replace('_', '-')}"),
                "lambda.amazonaws.com",
                [*statements, policies.lambda_logs(p, region, account, n.function(function))],
            )
            self.ensure_function(function, role, env.get(function, {}))

        log_group_arn = self.ensure_log_group(n.state_machine_log_group)
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
                "DeploymentTagKey": DEPLOYMENT_TAG,
                "Deployment": n.deployment,
                "LifecycleTagKey": LIFECYCLE_TAG,
            },
            run_parameters=self.run_parameters(),
        )
        self.ensure_state_machine(definition, sfn_role, log_group_arn)
        self.ensure_s3_invoke_permission(fn_arn["pair_detector"], n.input_bucket)
        self.ensure_notification(n.input_bucket, fn_arn["pair_detector"])

        self.ensure_glue_database()
        variant_db = f"variant_{account}_{variant_store}"
        annotation_db = f"annotation_{account}_{annotation_store}"
        self.ensure_resource_link("variants", variant_db, n.variant_store)
        self.ensure_resource_link("annotations", annotation_db, n.annotation_store)
        caller = str(self.ctx.client("sts").get_caller_identity()["Arn"])
        self.ensure_lake_formation_grants(
            caller,
            [
                (n.glue_database, "variants", ["DESCRIBE"]),
                (n.glue_database, "annotations", ["DESCRIBE"]),
                (variant_db, n.variant_store, ["DESCRIBE", "SELECT"]),
                (annotation_db, n.annotation_store, ["DESCRIBE", "SELECT"]),
            ],
        )
        self.ensure_workgroup()
        return Deployment(
            names=n,
            reference_store_id=ref_store,
            reference_id=ref_id,
            sequence_store_id=seq_store,
            workflow_id=workflow_id,
            state_machine_arn=sm_arn,
            variant_store_id=variant_store,
        )

    def _find_existing_reference(self, store_id: str) -> tuple[str, str] | None:
        omics = self.ctx.client("omics")
        for page in omics.get_paginator("list_references").paginate(referenceStoreId=store_id):
            for ref in page["references"]:
                if ref.get("status") == "ACTIVE":
                    return str(ref["id"]), str(ref["arn"])
        return None
