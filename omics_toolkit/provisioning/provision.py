"""Create (idempotently) everything a deployment needs: :meth:`Provisioner.apply`.

Every ``ensure_*`` step reads the current state first and mutates only what differs, so a second
``provision`` makes no mutating call. Every resource carries the tag
``omics-toolkit:deployment=<deployment>``; ``teardown`` deletes only resources with that tag.
The steps live in one module per area (:mod:`~omics_toolkit.provisioning.storage`,
:mod:`~omics_toolkit.provisioning.iam`, :mod:`~omics_toolkit.provisioning.healthomics`,
:mod:`~omics_toolkit.provisioning.healthomics_workflows`,
:mod:`~omics_toolkit.provisioning.functions`, :mod:`~omics_toolkit.provisioning.orchestration`,
:mod:`~omics_toolkit.provisioning.analytics`, :mod:`~omics_toolkit.provisioning.s3tables`), each
beside its deletion; :meth:`Provisioner.apply` runs them in order (and
:meth:`~omics_toolkit.provisioning.teardown.Teardown.run` the deletions).
"""

from __future__ import annotations

from omics_toolkit.constants import (
    DEPLOYMENT_TAG,
    HEALTHOMICS_LOG_GROUP,
    HEALTHOMICS_PRINCIPAL,
    LIFECYCLE_TAG,
)
from omics_toolkit.identity import VARIANT_BACKEND_TAG
from omics_toolkit.provisioning import containers, iam, s3tables
from omics_toolkit.provisioning.analytics import AnalyticsSteps
from omics_toolkit.provisioning.core import (
    AFTER_APPLY,
    Action,
    Deployment,
    PlanMutationError,
    Reporter,
    token_prefix,
)
from omics_toolkit.provisioning.functions import (
    FASTQ_SUFFIXES,
    FUNCTIONS,
    MANIFEST_SUFFIXES,
    TABLES_FUNCTIONS,
    UPLOAD_SUFFIXES,
    FunctionSteps,
)
from omics_toolkit.provisioning.healthomics import HealthOmicsSteps, reference_name
from omics_toolkit.provisioning.healthomics_workflows import (
    PIPELINE_RUN_PARAMETERS,
    WorkflowSteps,
)
from omics_toolkit.provisioning.layers import LAMBDA_RUNTIME
from omics_toolkit.provisioning.orchestration import OrchestrationSteps
from omics_toolkit.provisioning.reference import (
    PreparedReference,
    check_reference_binding,
    ensure_contig_names,
    prepare_reference,
    record_reference_contigs,
)
from omics_toolkit.provisioning.storage import StorageSteps

__all__ = [
    "AFTER_APPLY",
    "FASTQ_SUFFIXES",
    "FUNCTIONS",
    "LAMBDA_RUNTIME",
    "MANIFEST_SUFFIXES",
    "PIPELINE_RUN_PARAMETERS",
    "TABLES_FUNCTIONS",
    "UPLOAD_SUFFIXES",
    "Action",
    "Deployment",
    "PlanMutationError",
    "Provisioner",
    "Reporter",
    "reference_name",
]


class Provisioner(
    StorageSteps,
    HealthOmicsSteps,
    WorkflowSteps,
    FunctionSteps,
    OrchestrationSteps,
    AnalyticsSteps,
):
    """Apply one deployment: the steps of every area, run in order by :meth:`apply`.

    Args: as :class:`~omics_toolkit.provisioning.core.Steps` (``ctx``, ``settings``, ``report``,
    ``sleep``, ``dry_run``, ``target``).
    """

    def apply(self, reference: str | PreparedReference | None) -> Deployment:
        """Provision every resource of the deployment (idempotent).

        Args:
            reference: FASTA file or ``s3://`` URI imported into the reference store, checked
                first (:func:`~omics_toolkit.provisioning.reference.prepare_reference`), or one
                already prepared (possibly renamed, ``--rename-contigs``); may be ``None`` when
                the reference is already there.

        Returns:
            The :class:`Deployment` identifiers.

        Raises:
            UserError: missing reference, a reference with problems (listed), invalid names;
                AwsError/ClientError from the services.
        """
        prepared = (
            prepare_reference(self, self.settings, reference, write=not self.dry_run)
            if isinstance(reference, str)
            else reference
        )
        source = prepared.source if prepared else None
        n = self.names
        p, region, account = self.partition, self.ctx.region, self.ctx.account_id
        in_arn, out_arn = f"arn:{p}:s3:::{n.input_bucket}", f"arn:{p}:s3:::{n.output_bucket}"
        omics = f"arn:{p}:omics:{region}:{account}"
        states = f"arn:{p}:states:{region}:{account}"
        kms = self.kms_statements()

        if prepared is not None:  # before anything is created
            store = self.find_store("reference")
            existing = self._find_existing_reference(store["id"]) if store else None
            check_reference_binding(self, prepared, existing[2] if existing else None)

        # Storage, the HealthOmics stores and the reference
        self.ensure_bucket(n.input_bucket, self.lifecycle_rules(30))
        self.ensure_bucket(n.output_bucket, self.lifecycle_rules(30))
        ensure_contig_names(self, prepared)
        # Objects of other buckets the roles must read (a reference FASTA, known-sites VCFs,
        # s3:// run parameters): granted one by one, not copied (a copy of a genome-sized file
        # per deployment costs time and storage; the grant is read-only and exact).
        import_name, run_name = n.role("omics-import"), n.role("omics-run")
        import_reads = self.grant_reads(
            import_name,
            iam.uris_outside(
                [source or ""], iam.import_role_reads(n.input_bucket, n.output_bucket)
            ),
        )
        import_role = self.ensure_role(
            import_name,
            HEALTHOMICS_PRINCIPAL,
            iam.import_role_statements(in_arn, out_arn, kms) + import_reads,
        )
        ref_store, ref_id, ref_arn = self.ensure_reference_genome(source, import_role)
        record_reference_contigs(self, prepared)
        seq_store = self.ensure_sequence_store()
        previous = self._state_machine_tags().get(VARIANT_BACKEND_TAG)
        variant_store, annotation_store, use_tables = self.ensure_variant_stores(ref_arn, previous)
        table_bucket_arn = None
        if use_tables:
            table_bucket_arn = s3tables.ensure_table_bucket(self)
            s3tables.ensure_variants_table(self, table_bucket_arn)

        # The workflow and how it runs
        workflow_id, workflow_version = self.ensure_workflow(self.container_registry_map())
        run_group_id = self.ensure_run_group()
        run_cache_id = self.ensure_run_cache()
        known_sites = self.known_sites_parameters()
        run_parameters = self.run_parameters()
        setting_parameters = self.setting_parameters()
        values = [*known_sites.values(), *run_parameters.values()]
        run_reads = self.grant_reads(
            run_name,
            iam.uris_outside(
                values,  # searched recursively: dicts and nested lists too
                iam.run_role_reads(n.input_bucket, n.output_bucket),
            ),
        )
        run_role = self.ensure_role(
            run_name,
            HEALTHOMICS_PRINCIPAL,
            iam.run_role_statements(
                in_arn=in_arn,
                out_arn=out_arn,
                omics=omics,
                workflow_log_group=f"arn:{p}:logs:{region}:{account}:log-group:{HEALTHOMICS_LOG_GROUP}",
                reference=f"{ref_store}/reference/{ref_id}",
                sequence_store_id=seq_store,
                run_cache=bool(run_cache_id),
                containers=iam.ecr_run_role_statement(
                    p,
                    account,
                    region,
                    containers.namespace(n.deployment),
                    self.private_image_repositories(),
                ),
                kms=kms,
            )
            + run_reads,
        )

        # The Step Functions role, the functions, the state machine and its triggers
        fn_arn = {
            f: f"arn:{p}:lambda:{region}:{account}:function:{n.function(f)}"
            for f in (*FUNCTIONS, *TABLES_FUNCTIONS)
        }
        sm_arn = f"{states}:stateMachine:{n.state_machine}"
        topic_arn = self.ensure_topic()
        sfn_role = self.ensure_role(
            n.role("states"),
            "states.amazonaws.com",
            iam.states_role_statements(
                omics=omics,
                sequence_store_id=seq_store,
                workflow_id=workflow_id,
                workflow_version=workflow_version,
                run_group_id=run_group_id,
                run_cache_id=run_cache_id,
                variant_store=n.variant_store if variant_store else None,
                passed_roles=[run_role, import_role],
                functions=[
                    fn_arn["run_outputs"],
                    fn_arn["tag_objects"],
                    fn_arn["failure_handler"],
                    *([fn_arn["variant_loader"]] if use_tables else []),
                ],
            ),
        )
        loader_bucket = table_bucket_arn if use_tables else None
        self.ensure_pipeline_functions(
            iam.function_role_statements(
                in_arn=in_arn,
                out_arn=out_arn,
                omics=omics,
                states=states,
                state_machine=n.state_machine,
                topic_arn=topic_arn,
                event_bus_arn=f"arn:{p}:events:{region}:{account}:event-bus/default",
                table_bucket_arn=loader_bucket,
                kms=kms,
            ),
            self.function_environment(sm_arn, topic_arn, loader_bucket),
        )
        self.ensure_pipeline_state_machine(
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
                "TokenPrefix": token_prefix(n.deployment, self.incarnation()),
                "LifecycleTagKey": LIFECYCLE_TAG,
                "VariantLoaderFunctionArn": fn_arn["variant_loader"],
            },
            {**known_sites, **run_parameters, **setting_parameters},
            sfn_role,
            workflow_version=workflow_version,
            vcf_destination="stores" if variant_store else "s3tables" if use_tables else "none",
            run_group_id=run_group_id,
            run_cache_id=run_cache_id,
        )
        self.ensure_s3_invoke_permission(fn_arn["pair_detector"], n.input_bucket)
        self.ensure_notification(n.input_bucket, fn_arn["pair_detector"])

        # Queries
        self.ensure_query_access(variant_store, annotation_store, use_tables)
        return Deployment(
            names=n,
            reference_store_id=ref_store,
            reference_id=ref_id,
            sequence_store_id=seq_store,
            workflow_id=workflow_id,
            workflow_version=workflow_version,
            state_machine_arn=sm_arn,
            variant_store_id=variant_store,
            target=self.settings.target,
        )
