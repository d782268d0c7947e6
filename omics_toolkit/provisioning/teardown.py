"""Delete what ``provision`` made: only resources tagged with this deployment, dependents first.

Buckets, sequence stores and variant stores that still hold data are kept unless
``force_delete_data`` is set; every kept resource is reported with the reason. Each resource's
deletion lives beside its creation, in the area module that makes it
(:mod:`~omics_toolkit.provisioning.storage`, :mod:`~omics_toolkit.provisioning.iam`,
:mod:`~omics_toolkit.provisioning.healthomics`,
:mod:`~omics_toolkit.provisioning.healthomics_workflows`,
:mod:`~omics_toolkit.provisioning.functions`, :mod:`~omics_toolkit.provisioning.orchestration`,
:mod:`~omics_toolkit.provisioning.analytics`, :mod:`~omics_toolkit.provisioning.containers`);
:meth:`Teardown.run` runs them in order.
"""

from __future__ import annotations

from omics_toolkit.errors import AwsError
from omics_toolkit.provisioning.analytics import AnalyticsSteps
from omics_toolkit.provisioning.containers import remove_container_registry
from omics_toolkit.provisioning.core import Action, Deployment
from omics_toolkit.provisioning.functions import FUNCTIONS, TABLES_FUNCTIONS, FunctionSteps
from omics_toolkit.provisioning.healthomics import HealthOmicsSteps
from omics_toolkit.provisioning.healthomics_workflows import WorkflowSteps
from omics_toolkit.provisioning.orchestration import OrchestrationSteps
from omics_toolkit.provisioning.storage import StorageSteps


class Teardown(
    StorageSteps,
    HealthOmicsSteps,
    WorkflowSteps,
    FunctionSteps,
    OrchestrationSteps,
    AnalyticsSteps,
):
    """Reverse of :class:`~omics_toolkit.provisioning.provision.Provisioner` (the same area
    steps); reports ``delete``/``kept``/``absent`` actions.

    Args: as :class:`~omics_toolkit.provisioning.core.Steps` (``ctx``, ``settings``, ``report``,
    ``sleep``, ``dry_run``, ``target``).
    """

    def run(self, force_delete_data: bool = False) -> list[Action]:
        """Delete the deployment, dependents first; with ``dry_run`` only report the plan.

        Order: S3 notifications, Lambda functions and layers, state machine, SNS topic, logs,
        Athena workgroup, Glue and Lake Formation, workflows (versions first), run group and
        cache, container registry, S3 table bucket, variant/annotation stores (imports cancelled
        first), sequence store (imports finished, read sets first), reference store (references
        first), IAM roles, buckets. Safe to re-run after an interruption: every step reads what
        is left first.

        Returns:
            The actions (``delete``, ``kept`` with the reason, ``absent``, ``wait``, ``cancel``).

        Raises:
            UserError: pipeline executions are still running (stop them first).
        """
        n = self.names
        force = force_delete_data
        self.refuse_running_executions()
        self.remove_notifications()
        self.delete_functions()
        self.delete_function_layers()
        self.delete_state_machine()
        self.delete_topic()
        self.delete_log_group(n.state_machine_log_group)
        self.delete_workgroup()
        self.delete_glue_database()
        self.delete_workflows()
        self.delete_run_group_and_cache()
        remove_container_registry(self)
        self.delete_table_bucket(force)
        self.delete_variant_stores(force)
        self.delete_sequence_store(force)
        self.delete_reference_store()
        self.delete_renamed_references()
        for role in (
            "omics-import",
            "omics-run",
            "states",
            *(f"lambda-{f.replace('_', '-')}" for f in (*FUNCTIONS, *TABLES_FUNCTIONS)),
        ):
            self.delete_role(n.role(role))
        for bucket in (n.input_bucket, n.output_bucket):
            self.delete_bucket(bucket, force)
        return self.actions

    def delete_renamed_references(self) -> None:
        """Delete ``<home>/references/<deployment>/``: the renamed reference copies and their
        mappings (``--rename-contigs``), derived from the user's file, which is never touched.
        Reported as kind ``renamed references``; a dry run only reports."""
        import shutil

        from omics_toolkit.provisioning.reference import renamed_dir

        folder = renamed_dir(self.settings)
        if not folder.is_dir():
            return
        count = sum(1 for p in folder.iterdir() if p.is_file())
        if not self.dry_run:
            shutil.rmtree(folder)
        self._record("renamed references", str(folder), "delete", f"{count} file(s), local")


def discover(prov: HealthOmicsSteps) -> Deployment:
    """Find a deployment's identifiers by name (List* calls only; nothing is stored locally).

    Raises:
        UserError: via :meth:`Deployment.require` when a caller needs a part that is missing.
    """
    n = prov.names
    dep = Deployment(names=n, target=prov.settings.target)
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
