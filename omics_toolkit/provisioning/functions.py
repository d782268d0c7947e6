"""Lambda steps: the pipeline's functions, their layers (toolkit, tables, AWS Powertools),
the S3 invoke permission and the input bucket's notifications; and their removal on teardown.
"""

from __future__ import annotations

import json
from typing import Any

from omics_toolkit.errors import AwsError, UserError
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
from omics_toolkit.provisioning.packaging import code_sha256, lambda_zip
from omics_toolkit.provisioning.tables_layer import ensure_tables_layer
from omics_toolkit.provisioning.tables_layer import layer_name as tables_layer_name

#: Lambda functions of the pipeline (directory under lambdas/).
FUNCTIONS = ("pair_detector", "run_outputs", "tag_objects", "failure_handler")
#: Functions of the S3 Tables variant back end only.
TABLES_FUNCTIONS = ("variant_loader",)
FASTQ_SUFFIXES = (".fastq.gz", ".fq.gz", ".fastq", ".fq")
#: Object names that are sample manifests (see omics_toolkit/pipeline/manifest.py).
MANIFEST_SUFFIXES = ("manifest.csv", "manifest.json", "samplesheet.csv")


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
        except AwsError as exc:
            raise UserError(
                f"cannot resolve the Powertools layer from SSM parameter {name}: {exc}; "
                "check ssm:GetParameter permission and that the region offers the layer"
            ) from exc

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
            for kind, suffixes in (("fastq", FASTQ_SUFFIXES), ("manifest-", MANIFEST_SUFFIXES))
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
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=current
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
                **({"PAIR_PATTERN": pattern} if (pattern := self.settings.pair_pattern) else {}),
            },
            "failure_handler": {"TOPIC_ARN": topic_arn, "EVENT_BUS_NAME": "default"},
        }
        if table_bucket_arn:
            env["variant_loader"] = {
                "TABLE_BUCKET_ARN": table_bucket_arn,
                "NAMESPACE": self.names.table_namespace,
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
                ``variant_loader`` (S3 Tables) also gets the tables layer and 900 s.
            environment: function -> environment (:meth:`function_environment`).
        """
        n = self.names
        p, region, account = self.partition, self.ctx.region, self.ctx.account_id
        function_layers = [ensure_toolkit_layer(self)]
        if self.ctx.managed_powertools_layer:
            function_layers.append(self.powertools_layer_arn())
        layers_of = {f: function_layers for f in statements}
        timeouts: dict[str, int] = {}
        if "variant_loader" in statements:
            layers_of["variant_loader"] = [
                function_layers[0],
                ensure_tables_layer(self, n.output_bucket),
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
