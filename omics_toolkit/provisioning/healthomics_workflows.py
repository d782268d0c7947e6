"""HealthOmics workflow steps: the private workflow (with its container registry map) and its
versions, the run group, the run cache and the fixed run parameters (known sites, settings);
and their deletion on teardown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omics_toolkit.errors import AwsError, ConfigError
from omics_toolkit.identity import DIGEST_TAG
from omics_toolkit.provisioning.core import (
    AFTER_APPLY,
    canon,
    token,
)
from omics_toolkit.provisioning.iam import IamSteps

#: StartRun parameters the state machine fills from the execution (not settable by users).
PIPELINE_RUN_PARAMETERS = frozenset(
    {"fastq_1", "fastq_2", "read_groups", "reference", "sample_name"}
)
#: StartRun parameters that a setting of the same name fills (not settable in run_parameters).
SETTING_RUN_PARAMETERS = frozenset({"ploidy"})


class WorkflowSteps(IamSteps):
    """HealthOmics workflows, run group and run cache of a deployment (omics CreateWorkflow,
    CreateWorkflowVersion, Create/UpdateRunGroup, Create/UpdateRunCache; Delete* on teardown)."""

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
            (workflows.content_digest(package) + canon(settings)).encode()
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
                requestId=token(self.ctx.account_id, self.ctx.region, name, digest),
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
        except AwsError as exc:
            if exc.code != "ResourceNotFoundException":
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
            requestId=token(self.ctx.account_id, self.ctx.region, name, version),
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
                requestId=token(self.ctx.account_id, self.ctx.region, name, canon(limits)),
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
                requestId=token(self.ctx.account_id, self.ctx.region, name),
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
        from omics_toolkit.files import sha256_file

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
                except AwsError as exc:
                    if exc.code not in ("404", "NoSuchKey", "NotFound"):
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

    def setting_parameters(self) -> dict[str, Any]:
        """Run parameters that settings fill: ``ploidy`` (copies of every contig).

        Passed on every run of a workflow with a ``ploidy`` input (the default 2 too, so each
        run records what it was called with: GetRun ``parameters``).

        Returns:
            ``{"ploidy": int}``, or ``{}`` for a workflow without a ``ploidy`` input when the
            setting is the diploid default.

        Raises:
            ConfigError: ``ploidy`` is not 2 and the workflow has no ``ploidy`` input, or it is
                not one of the input's ``choices`` (``parameter_meta``; bcftools-germline: 1, 2).
        """
        from omics_toolkit import workflows

        ploidy = self.settings.ploidy
        main = workflows.workflow_dir(self.settings.workflow) / "main.wdl"
        if "ploidy" not in workflows.parameter_template(main):
            if ploidy != 2:
                raise ConfigError(
                    f"ploidy is {ploidy} but workflow {self.settings.workflow} has no ploidy "
                    "input (it calls every sample diploid): use --workflow bcftools-germline or "
                    "gatk-germline, or drop the ploidy setting"
                )
            return {}
        choices = workflows.input_choices(main, "ploidy")
        if choices is not None and ploidy not in choices:
            raise ConfigError(
                f"workflow {self.settings.workflow} calls ploidy "
                f"{' or '.join(map(str, choices))} only, not {ploidy}: set ploidy to one of "
                "these, or use --workflow gatk-germline (HaplotypeCaller -ploidy) for polyploid "
                "samples"
            )
        return {"ploidy": ploidy}

    def run_parameters(self) -> dict[str, str]:
        """The settings' fixed StartRun parameters, checked against the workflow's inputs.

        Raises:
            ConfigError: a parameter is not an input of the workflow, is one the pipeline sets,
                or is one a setting sets (``ploidy``).
        """
        from omics_toolkit import workflows

        fixed = dict(self.settings.run_parameters)
        if not fixed:
            return fixed
        owned = sorted(SETTING_RUN_PARAMETERS & set(fixed))
        if owned:
            raise ConfigError(
                f"run_parameters {owned} are settings: drop them from [run_parameters] and set "
                f"{', '.join(f'{k} = ...' for k in owned)} at the top level of omics-toolkit.toml "
                f"(or --{owned[0]} on provision)"
            )
        main = workflows.workflow_dir(self.settings.workflow) / "main.wdl"
        template = workflows.parameter_template(main)
        settable = sorted(set(template) - PIPELINE_RUN_PARAMETERS - SETTING_RUN_PARAMETERS)
        wrong = sorted(set(fixed) - set(settable))
        if wrong:
            raise ConfigError(
                f"run_parameters {wrong} cannot be set for workflow {self.settings.workflow}; "
                f"settable inputs: {settable}"
            )
        return fixed

    def delete_workflows(self) -> None:
        """Delete every private workflow of the deployment (the pipeline's and any
        ``workflows register``-ed one): named ``<deployment>-...`` and tagged by this deployment
        (ListWorkflows, ListTagsForResource, then :meth:`delete_workflow`).

        Raises:
            AwsError: from HealthOmics.
        """
        omics = self.client("omics")
        for page in omics.get_paginator("list_workflows").paginate(type="PRIVATE"):
            for wf in page["items"]:
                if str(wf.get("name", "")).startswith(f"{self.names.deployment}-") and self._ours(
                    self._omics_tags(wf["arn"])
                ):
                    self.delete_workflow(wf)

    def delete_workflow(self, wf: dict[str, Any]) -> None:
        """Delete a workflow's versions, then the workflow (ListWorkflowVersions,
        DeleteWorkflowVersion, DeleteWorkflow).

        Args:
            wf: the workflow's ListWorkflows item (``id``, ``name``).

        Raises:
            AwsError: from HealthOmics.
        """
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

    def delete_run_group_and_cache(self) -> None:
        """Delete the deployment's run group and run cache if this deployment tagged them
        (ListRunGroups, ListRunCaches, ListTagsForResource, DeleteRunGroup, DeleteRunCache).

        Reports ``absent`` for a missing one, ``kept`` for one not tagged by this deployment.
        The cache's objects live in the output bucket (``run-cache/``) and go with it.

        Raises:
            AwsError: from HealthOmics.
        """
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
