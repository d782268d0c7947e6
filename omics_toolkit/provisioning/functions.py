"""Lambda steps: the pipeline's functions, their layers (toolkit, tables, AWS Powertools),
the S3 invoke permission and the input bucket's notifications; and their removal on teardown.
"""

from __future__ import annotations

import io
import json
import logging
import re
import urllib.request
import zipfile
from dataclasses import dataclass
from typing import Any

from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.lambda_facts import MAX_EPHEMERAL_STORAGE_MB, UNZIPPED_LIMIT_BYTES
from omics_toolkit.pipeline.aligned import ALIGNED_EXTENSIONS
from omics_toolkit.pipeline.vcf_upload import VCF_EXTENSIONS
from omics_toolkit.provisioning import iam
from omics_toolkit.provisioning.core import (
    canon,
)
from omics_toolkit.provisioning.iam import IamSteps
from omics_toolkit.provisioning.layers import (
    LAMBDA_RUNTIME,
    delete_layer,
    delete_toolkit_layer,
    ensure_toolkit_layer,
)
from omics_toolkit.provisioning.layers import layer_name as toolkit_layer_name
from omics_toolkit.provisioning.packaging import code_sha256, lambda_zip, toolkit_layer_zip
from omics_toolkit.provisioning.tables_layer import ensure_tables_layer, layer_zip
from omics_toolkit.provisioning.tables_layer import layer_name as tables_layer_name

LOG = logging.getLogger(__name__)

#: Lambda functions of the pipeline (directory under lambdas/).
FUNCTIONS = ("pair_detector", "run_outputs", "tag_objects", "failure_handler")
#: Functions of the S3 Tables variant back end only.
TABLES_FUNCTIONS = ("variant_loader",)
FASTQ_SUFFIXES = (".fastq.gz", ".fq.gz", ".fastq", ".fq")
#: Object names that are sample manifests (see omics_toolkit/pipeline/manifest.py).
MANIFEST_SUFFIXES = ("manifest.csv", "manifest.json", "samplesheet.csv")
#: Aligned uploads (BAM, CRAM) and VCF uploads, as the pair detector recognises them.
ALIGNED_SUFFIXES = ALIGNED_EXTENSIONS
VCF_SUFFIXES = VCF_EXTENSIONS
#: Every upload suffix besides FASTQs and manifests.
UPLOAD_SUFFIXES = ALIGNED_SUFFIXES + VCF_SUFFIXES


@dataclass(frozen=True)
class Sizing:
    """Memory and ``/tmp`` of a function (Lambda ``MemorySize``, ``EphemeralStorage.Size``, MB)."""

    memory_mb: int = 256
    ephemeral_mb: int = 512


#: The variant loader downloads the run's whole VCF to ``/tmp`` (cyvcf2/htslib reads a local
#: file) and streams it into Iceberg in groups of 262,144 rows, so its memory is bounded by the
#: group, not the file: ``/tmp`` at Lambda's maximum (10,240 MB: a bgzipped 30x whole-genome
#: single-sample VCF is 0.1-1 GB, a gVCF several GB), and 3,008 MB of memory: measured peak RSS
#: 722 MB reading, sorting and writing Parquet for 1,133,000 rows (10-sample chr22 VCF, 14 MB,
#: 43 s on this machine), so about 4x headroom, and the CPU share that comes with memory
#: (1,769 MB = one vCPU). Loads beyond ~900 s (the timeout) need the VCF split by contig.
LOADER_SIZING = Sizing(memory_mb=3008, ephemeral_mb=MAX_EPHEMERAL_STORAGE_MB)
SIZINGS: dict[str, Sizing] = {"variant_loader": LOADER_SIZING}


def zip_unzipped_bytes(data: bytes) -> int:
    """Sum of the uncompressed sizes of the files in zip ``data``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def check_combined_size(function: str, parts: dict[str, int]) -> None:
    """Lambda's limit on a function's code plus all its layers, unzipped (262,144,000 bytes).

    Args:
        function: the function's name (for the message).
        parts: what the function unzips into ``/var/task`` and ``/opt``: name -> bytes.

    Raises:
        UserError: the sum is over the limit; the message lists each part's size.

    Source: Lambda developer guide, "Lambda quotas" (250 MB unzipped, function and all layers).
    """
    total = sum(parts.values())
    if total <= UNZIPPED_LIMIT_BYTES:
        return
    listing = "\n".join(
        f"  {name}: {size:,} bytes" for name, size in sorted(parts.items(), key=lambda kv: -kv[1])
    )
    raise UserError(
        f"Lambda function {function} would unzip to {total:,} bytes of code and layers, over "
        f"Lambda's limit of {UNZIPPED_LIMIT_BYTES:,} bytes (250 MiB, function and all layers):\n"
        f'{listing}\nshrink the largest part or use variant_backend = "stores" where the account '
        "has stores"
    )


def layer_unzipped_bytes(lam: Any, arn: str) -> int:
    """Unzipped size (bytes) of the published layer version ``arn``
    (``arn:aws:lambda:<region>:<account>:layer:<name>:<version>``): Lambda GetLayerVersion with
    the layer's ARN as ``LayerName`` (an AWS-managed layer of another account is named so), then
    its ``Content.Location``, a presigned HTTPS URL valid for 10 minutes.

    Lambda reports only the zipped ``CodeSize``, so the zip is fetched (the Powertools layer: a
    few MB). Where no HTTPS location is given (the local stack's moto answers ``s3://``), the
    zipped ``CodeSize`` is counted and a warning logged: a lower bound.
    """
    layer, _, number = arn.rpartition(":")
    content = lam.get_layer_version(LayerName=layer, VersionNumber=int(number))["Content"]
    location = str(content.get("Location") or "")
    if not location.startswith(("https://", "http://")):
        LOG.warning(
            "layer %s has no download location (%r): counted at its zipped size", arn, location
        )
        return int(content.get("CodeSize") or 0)
    with urllib.request.urlopen(location, timeout=120) as response:  # noqa: S310 - https from AWS
        return zip_unzipped_bytes(response.read())


class FunctionSteps(IamSteps):
    """Lambda functions of a deployment and what triggers them (Lambda Create/UpdateFunction*,
    AddPermission, S3 PutBucketNotificationConfiguration; DeleteFunction on teardown)."""

    def ensure_function(
        self,
        function: str,
        role_arn: str,
        environment: dict[str, str],
        layers: list[str],
        timeout_seconds: int = 60,
        sizing: Sizing | None = None,
    ) -> str:
        """Lambda function ``lambdas/<function>/`` (handler only) with ``layers`` (the toolkit's
        own wheel as a layer, then the AWS-managed Powertools layer in AWS); returns its ARN.

        ``sizing``: MemorySize and EphemeralStorage (default 256 MB, 512 MB)."""
        lam = self.client("lambda")
        name = self.names.function(function)
        code = lambda_zip(function)
        sizing = sizing or Sizing()
        config = {
            "Runtime": LAMBDA_RUNTIME,
            "Role": role_arn,
            "Handler": "app.lambda_handler",
            "Timeout": timeout_seconds,
            "MemorySize": sizing.memory_mb,
            "EphemeralStorage": {"Size": sizing.ephemeral_mb},
            "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": function, **environment}},
        }
        config["Layers"] = list(layers)
        try:
            current = lam.get_function_configuration(FunctionName=name)
        except AwsError as exc:
            if exc.code != "ResourceNotFoundException":
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
                lambda: self._retry_iam_propagation(
                    lambda: lam.update_function_configuration(FunctionName=name, **config)
                ),
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
        """ARN of the AWS-managed Powertools layer for the installed powertools version.

        Source: the public SSM parameters ``/aws/service/powertools/python/<arch>/<runtime>/<version>``
        where ``<version>`` is a release (``3.37.0``) or ``latest`` (Powertools docs, "Lambda
        Layer"; the value is ``arn:aws:lambda:<region>:017000801446:layer:
        AWSLambdaPowertoolsPython<V3>-<python313>-<arch>:<n>``). The scheme:

        1. the installed version's parameter: the release the toolkit is tested with;
        2. when that parameter does not exist (AWS publishes them after PyPI, and has missed
           one: powertools-lambda-python issue 7689), ``latest``, if its layer is of the installed
           major version (``...PythonV3-...``): the same API by semantic versioning. The choice
           and its reason are reported as the action ``powertools layer``.

        No major-version parameter exists (only releases and ``latest``). The local stack needs
        no layer: its Lambda runtime provides powertools (as the managed layer does in AWS).

        Raises:
            UserError: neither parameter can be read (region without the layer, missing
                ssm:GetParameter permission), or ``latest`` is another major version.
        """
        from importlib.metadata import version

        installed = version("aws-lambda-powertools")
        prefix = f"/aws/service/powertools/python/x86_64/{LAMBDA_RUNTIME}"
        ssm = self.client("ssm")
        try:
            arn = str(ssm.get_parameter(Name=f"{prefix}/{installed}")["Parameter"]["Value"])
            self._record("powertools layer", arn, "unchanged", f"installed version {installed}")
            return arn
        except AwsError as exc:
            if exc.code != "ParameterNotFound":
                raise UserError(
                    f"cannot resolve the Powertools layer from SSM parameter {prefix}/{installed}: "
                    f"{exc}; check ssm:GetParameter permission and that the region offers the layer"
                ) from exc
        try:
            arn = str(ssm.get_parameter(Name=f"{prefix}/latest")["Parameter"]["Value"])
        except AwsError as exc:
            raise UserError(
                f"cannot resolve the Powertools layer: neither {prefix}/{installed} nor "
                f"{prefix}/latest can be read ({exc}); check ssm:GetParameter permission and that "
                "the region offers the layer"
            ) from exc
        major = installed.split(".")[0]
        found = re.search(r":layer:AWSLambdaPowertoolsPythonV(\d+)-", arn)
        if not found or found.group(1) != major:
            raise UserError(
                f"Powertools {installed} has no layer parameter {prefix}/{installed}, and "
                f"{prefix}/latest is {arn}, not major version {major}: install a published "
                "aws-lambda-powertools version"
            )
        self._record(
            "powertools layer",
            arn,
            "unchanged",
            f"no parameter for the installed {installed}; using latest, same major version {major}",
        )
        return arn

    def ensure_s3_invoke_permission(self, function_arn: str, bucket: str) -> None:
        """Let S3 invoke ``function_arn`` for ``bucket`` in this account (Lambda AddPermission).

        The statement (``<deployment>-s3-invoke``) is looked for first (GetPolicy) and added
        (AddPermission) only when the function's policy lacks it.
        """
        lam = self.client("lambda")
        sid = f"{self.names.deployment}-s3-invoke"
        try:
            statements = json.loads(lam.get_policy(FunctionName=function_arn)["Policy"])[
                "Statement"
            ]
        except AwsError:
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
            **iam.lambda_s3_invoke_permission(bucket, self.partition, self.ctx.account_id),
        )

    def _notification_ids(self) -> dict[str, str]:
        """Key suffix -> ``Id`` of this deployment's notification configuration for it (FASTQ
        and manifest suffixes; the ids :meth:`ensure_notification` writes and
        :meth:`remove_notifications` removes)."""
        return {
            suffix: f"{self.names.deployment}-{kind}{suffix.replace('.', '-')}"
            for kind, suffixes in (
                ("fastq", FASTQ_SUFFIXES),
                ("manifest-", MANIFEST_SUFFIXES),
                ("aligned", ALIGNED_SUFFIXES),
                ("vcf", VCF_SUFFIXES),
            )
            for suffix in suffixes
        }

    def ensure_notification(self, bucket: str, function_arn: str) -> None:
        """Merge this deployment's FASTQ and manifest notifications into the bucket's configuration."""
        s3 = self.client("s3")
        try:
            current = s3.get_bucket_notification_configuration(Bucket=bucket)
        except AwsError as exc:
            if not (self.dry_run and exc.code in ("NoSuchBucket", "404")):
                raise
            current = {}
        current.pop("ResponseMetadata", None)
        ours = [
            {
                "Id": config_id,
                "LambdaFunctionArn": function_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": suffix}]}},
            }
            for suffix, config_id in self._notification_ids().items()
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
            return canon(
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
            self._retry_iam_propagation(
                lambda: s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration=current
                )
            )
        self._record(
            "s3 notification",
            bucket,
            "update" if mine else "create",
            f"kept {len(others)} other configuration(s)",
        )

    def remove_notifications(self) -> None:
        """Remove this deployment's configurations (the FASTQ and manifest ids of
        :meth:`_notification_ids`) from the input bucket's notification configuration, keeping
        the others (S3 GetBucketNotificationConfiguration, PutBucketNotificationConfiguration).

        Reports ``delete`` with the number of configurations kept; nothing when the bucket is
        missing or holds none of ours.

        Raises:
            AwsError: from PutBucketNotificationConfiguration.
        """
        s3 = self.client("s3")
        bucket = self.names.input_bucket
        try:
            current = s3.get_bucket_notification_configuration(Bucket=bucket)
        except AwsError:
            return
        current.pop("ResponseMetadata", None)
        ours = set(self._notification_ids().values())
        configs = current.get("LambdaFunctionConfigurations", [])
        kept = [c for c in configs if c.get("Id") not in ours]
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

    def function_environment(
        self, state_machine_arn: str, topic_arn: str, table_bucket_arn: str | None
    ) -> dict[str, dict[str, str]]:
        """Function -> environment variables (functions without any are absent)."""
        env = {
            "pair_detector": {
                "STATE_MACHINE_ARN": state_machine_arn,
                "POLL_INTERVAL_SECONDS": str(self.settings.poll_interval_seconds),
                "OUTPUT_BUCKET": self.names.output_bucket,
                **({"PAIR_PATTERN": pattern} if (pattern := self.settings.pair_pattern) else {}),
            },
            "failure_handler": {"TOPIC_ARN": topic_arn, "EVENT_BUS_NAME": "default"},
        }
        if table_bucket_arn:
            env["variant_loader"] = {
                "TABLE_BUCKET_ARN": table_bucket_arn,
                "NAMESPACE": self.names.table_namespace,
                "OUTPUT_BUCKET": self.names.output_bucket,
            }
        return env

    def ensure_pipeline_functions(
        self,
        statements: dict[str, list[dict[str, Any]]],
        environment: dict[str, dict[str, str]],
    ) -> None:
        """The layers, then each function's role and the function, in ``statements`` order.

        Args:
            statements: function -> its role's statements (:func:`iam.function_role_statements`);
                ``variant_loader`` (S3 Tables) also gets the tables layer, 900 s and
                :data:`LOADER_SIZING`.
            environment: function -> environment (:meth:`function_environment`).

        Raises:
            UserError: a function's code plus its layers would unzip over Lambda's limit
                (:func:`check_combined_size`, checked before anything is published), or a layer
                cannot be built.
        """
        n = self.names
        p, region, account = self.partition, self.ctx.region, self.ctx.account_id
        # every part's size first: nothing is published for a function Lambda would refuse
        toolkit_zip = toolkit_layer_zip(self.settings.home)
        parts = {f"layer {toolkit_layer_name(n.deployment)}": zip_unzipped_bytes(toolkit_zip)}
        powertools = None
        if self.ctx.managed_powertools_layer:
            powertools = self.powertools_layer_arn()
            parts[f"layer {powertools}"] = layer_unzipped_bytes(self.client("lambda"), powertools)
        tables = None
        if "variant_loader" in statements:
            tables = layer_zip(self.settings.home, for_aws=self.ctx.lambda_limits_enforced)
        for function in statements:
            mine = {f"function code lambdas/{function}": zip_unzipped_bytes(lambda_zip(function))}
            if function == "variant_loader" and tables is not None:
                mine[f"layer {tables_layer_name(n.deployment)}"] = tables[1]
            check_combined_size(n.function(function), {**mine, **parts})

        function_layers = [ensure_toolkit_layer(self, toolkit_zip)]
        if powertools is not None:
            function_layers.append(powertools)
        layers_of = {f: function_layers for f in statements}
        timeouts: dict[str, int] = {}
        if "variant_loader" in statements:
            layers_of["variant_loader"] = [
                function_layers[0],
                ensure_tables_layer(self, n.output_bucket, tables),
                *function_layers[1:],
            ]
            timeouts["variant_loader"] = 900
        for function, function_statements in statements.items():
            role = self.ensure_role(
                n.role(f"lambda-{function.replace('_', '-')}"),
                "lambda.amazonaws.com",
                [*function_statements, iam.lambda_logs(p, region, account, n.function(function))],
            )
            self.ensure_function(
                function,
                role,
                environment.get(function, {}),
                layers_of[function],
                timeout_seconds=timeouts.get(function, 60),
                sizing=SIZINGS.get(function),
            )

    def delete_functions(self) -> None:
        """Delete the pipeline's functions (:data:`FUNCTIONS`, :data:`TABLES_FUNCTIONS`) that this
        deployment tagged (Lambda GetFunction, DeleteFunction).

        Reports ``absent`` for a missing function, ``kept`` for one not tagged by this
        deployment.

        Raises:
            AwsError: from DeleteFunction (a failing GetFunction counts as ``absent``).
        """
        lam = self.client("lambda")
        for function in (*FUNCTIONS, *TABLES_FUNCTIONS):
            name = self.names.function(function)
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

    def delete_function_layers(self) -> None:
        """Delete every version of the toolkit layer, then of the tables layer (Lambda
        ListLayerVersions, DeleteLayerVersion; see :func:`~omics_toolkit.provisioning.layers.delete_layer`).

        Raises:
            AwsError: from Lambda.
        """
        delete_toolkit_layer(self)
        delete_layer(self, tables_layer_name(self.names.deployment))
