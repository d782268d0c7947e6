"""Orchestration steps: the Step Functions state machine (rendered by
:mod:`omics_toolkit.provisioning.statemachine`), its log group and the failure SNS topic; and,
on teardown, the check for running executions and their deletion.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from omics_toolkit import workflows
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.identity import VARIANT_BACKEND_TAG
from omics_toolkit.provisioning import iam, statemachine
from omics_toolkit.provisioning.core import (
    Steps,
    canon,
)


class OrchestrationSteps(Steps):
    """The state machine, its log group and the SNS topic of a deployment (Step Functions, SNS
    and CloudWatch Logs Create*/Update*/Tag* calls; Delete* on teardown)."""

    def run_options(
        self, run_group_id: str | None = None, run_cache_id: str | None = None
    ) -> dict[str, Any]:
        """StartRun fields from the run settings (:func:`statemachine.run_options`)."""
        return statemachine.run_options(self.settings, run_group_id, run_cache_id)

    def render_definition(
        self,
        substitutions: dict[str, str],
        run_parameters: dict[str, Any],
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
            aligned_refusal=aligned_refusal(self.settings.workflow),
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
        except AwsError as exc:
            if exc.code not in ("NotFound", "NotFoundException"):
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
        """The state machine's CloudWatch Logs group; returns its ARN with the ``:*`` suffix the
        Step Functions logging configuration takes.

        Kept ``log_retention_days`` (PutRetentionPolicy) and, with ``kms_key_arn``, encrypted
        with that key (CreateLogGroup ``kmsKeyId``, AssociateKmsKey for an existing group; a
        group's key is never removed here). API: DescribeLogGroups, CreateLogGroup,
        PutRetentionPolicy, AssociateKmsKey.

        Raises:
            UserError: CloudWatch Logs may not use the key: the message gives the key policy
                statement to add (:func:`~omics_toolkit.provisioning.iam.logs_key_policy_statement`).
        """
        logs = self.client("logs")
        days = self.settings.log_retention_days
        key = self.settings.kms_key_arn
        groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        group = next((g for g in groups if g["logGroupName"] == name), None)
        detail = f"retention {days} days" + (f", encrypted with {key}" if key else "")
        if group is None:
            self._record("log group", name, "create", detail)
            if not self.dry_run:
                with self._logs_key_errors(name):
                    logs.create_log_group(
                        logGroupName=name, tags=self.tags, **({"kmsKeyId": key} if key else {})
                    )
                logs.put_retention_policy(logGroupName=name, retentionInDays=days)
            return self.arn("logs", f"log-group:{name}:*")
        changes = []
        if group.get("retentionInDays") != days:
            self._change(
                changes,
                f"retention {days} days",
                lambda: logs.put_retention_policy(logGroupName=name, retentionInDays=days),
            )
        if key and group.get("kmsKeyId") != key:
            with self._logs_key_errors(name):
                self._change(
                    changes,
                    f"encrypted with {key}",
                    lambda: logs.associate_kms_key(logGroupName=name, kmsKeyId=key),
                )
        self._record("log group", name, "update" if changes else "unchanged", ", ".join(changes))
        return self.arn("logs", f"log-group:{name}:*")

    @contextlib.contextmanager
    def _logs_key_errors(self, log_group: str) -> Iterator[None]:
        """Turn CloudWatch Logs' refusal of the KMS key into a UserError with the statement to add."""
        try:
            yield
        except AwsError as exc:
            if exc.code not in ("AccessDeniedException", "InvalidParameterException"):
                raise
            statement = iam.logs_key_policy_statement(
                self.partition, self.ctx.region, self.ctx.account_id, log_group
            )
            raise UserError(
                f"CloudWatch Logs cannot encrypt the log group {log_group} with "
                f"{self.settings.kms_key_arn}: {exc.message}. Add this statement to the key "
                f"policy (the toolkit does not change keys it does not own): "
                f"{json.dumps(statement)}"
            ) from exc

    def _state_machine_tags(self) -> dict[str, str]:
        """Tags of the deployment's state machine; ``{}`` when it does not exist yet."""
        sfn = self.client("stepfunctions")
        try:
            tags = sfn.list_tags_for_resource(
                resourceArn=self.arn("states", f"stateMachine:{self.names.state_machine}")
            )["tags"]
        except AwsError:
            return {}
        return {t["key"]: t["value"] for t in tags}

    def ensure_state_machine(
        self,
        definition: str,
        role_arn: str,
        log_group_arn: str,
        extra_tags: dict[str, str] | None = None,
    ) -> str:
        """Create or update the pipeline's state machine; returns its ARN.

        Args:
            definition: the rendered ASL (JSON text).
            role_arn: the execution role.
            log_group_arn: where ERROR-level execution logs go.
            extra_tags: tags beside the deployment's (e.g. the variant back end's).

        API: DescribeStateMachine, ListTagsForResource, then CreateStateMachine or
        UpdateStateMachine/TagResource with only what differs.
        """
        sfn = self.client("stepfunctions")
        name = self.names.state_machine
        arn = self.arn("states", f"stateMachine:{name}")
        wanted_tags = {**self.tags, **(extra_tags or {})}
        logging_config = {
            "level": "ERROR",
            # Execution data holds sample ids and S3 URIs (possibly protected health
            # information): logged only when the user opts in.
            "includeExecutionData": self.settings.log_execution_data,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
        }
        try:
            current = sfn.describe_state_machine(stateMachineArn=arn)
        except AwsError as exc:
            if exc.code != "StateMachineDoesNotExist":
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
        if canon(current["definition"]) != canon(definition):
            changes.append("definition")
        if current["roleArn"] != role_arn:
            changes.append("role")
        if canon(current.get("loggingConfiguration", {})) != canon(logging_config):
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
            self._retry_iam_propagation(
                lambda: sfn.update_state_machine(
                    stateMachineArn=arn,
                    definition=definition,
                    roleArn=role_arn,
                    loggingConfiguration=logging_config,
                )
            )
        self._record(
            "state machine", name, "update" if changes else "unchanged", ", ".join(changes)
        )
        return arn

    def ensure_pipeline_state_machine(
        self,
        substitutions: dict[str, str],
        run_parameters: dict[str, Any],
        role_arn: str,
        *,
        workflow_version: str | None,
        vcf_destination: str,
        run_group_id: str | None,
        run_cache_id: str | None,
    ) -> str:
        """The log group, then the state machine rendered for ``vcf_destination`` and tagged
        with it (:data:`VARIANT_BACKEND_TAG`); returns the state machine's ARN.

        Args: as :meth:`render_definition`; ``role_arn`` is the state machine's role.
        """
        log_group_arn = self.ensure_log_group(self.names.state_machine_log_group)
        definition = self.render_definition(
            substitutions,
            run_parameters=run_parameters,
            workflow_version=workflow_version,
            vcf_destination=vcf_destination,
            run_group_id=run_group_id,
            run_cache_id=run_cache_id,
        )
        return self.ensure_state_machine(
            definition, role_arn, log_group_arn, {VARIANT_BACKEND_TAG: vcf_destination}
        )

    def running_executions(self) -> list[str]:
        """Names of the deployment's RUNNING pipeline executions (Step Functions ListExecutions);
        ``[]`` when the state machine does not exist.

        Raises:
            AwsError: from ListExecutions, other than a missing state machine.
        """
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

    def refuse_running_executions(self) -> None:
        """Stop a teardown before it deletes anything while pipeline executions still run
        (:meth:`running_executions`).

        Raises:
            UserError: executions are running (names the first five).
        """
        running = self.running_executions()
        if running:
            raise UserError(
                f"{len(running)} pipeline execution(s) still running ({', '.join(running[:5])}); "
                "wait for them or stop them (aws stepfunctions stop-execution) before teardown"
            )

    def delete_state_machine(self) -> None:
        """Delete the deployment's state machine if this deployment tagged it (Step Functions
        ListTagsForResource, DescribeStateMachine, DeleteStateMachine).

        Reports ``absent`` when it does not exist; an untagged one is left without a report.

        Raises:
            AwsError: from DeleteStateMachine (failing reads count as ``absent``).
        """
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

    def delete_topic(self) -> None:
        """Delete the deployment's failure topic if this deployment tagged it (SNS
        ListTagsForResource, GetTopicAttributes, DeleteTopic).

        Reports ``absent`` when it does not exist, ``kept`` when it is not tagged by this
        deployment.

        Raises:
            AwsError: from DeleteTopic (failing reads count as ``absent``).
        """
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

    def delete_log_group(self, name: str) -> None:
        """Delete log group ``name`` if it exists and this deployment tagged it (CloudWatch Logs
        DescribeLogGroups, ListTagsLogGroup, DeleteLogGroup); otherwise report nothing.

        Raises:
            AwsError: from CloudWatch Logs.
        """
        logs = self.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        if any(g["logGroupName"] == name for g in groups):
            tags = logs.list_tags_log_group(logGroupName=name).get("tags", {})
            if self._ours(tags):
                self._delete(
                    "log group", name, "", lambda: logs.delete_log_group(logGroupName=name)
                )


def aligned_refusal(workflow: str) -> str | None:
    """Why an aligned (BAM/CRAM) upload cannot run on ``workflow``, or ``None`` when its
    ``main.wdl`` takes ``aligned_reads`` (bcftools-germline does; gatk-germline takes FASTQ
    pairs only)."""
    template = workflows.parameter_template(workflows.workflow_dir(workflow) / workflows.MAIN_WDL)
    if "aligned_reads" in template:
        return None
    return (
        f"this deployment runs workflow {workflow}, which takes FASTQ pairs only: convert the "
        "BAM/CRAM (samtools collate + samtools fastq -1 R1.fastq.gz -2 R2.fastq.gz) and upload "
        "the pair, or upload it to a deployment provisioned with --workflow bcftools-germline"
    )
