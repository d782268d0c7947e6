"""Dry runs: what ``provision`` or ``teardown`` would do, from read calls only."""

from __future__ import annotations

from omics_toolkit.aws.session import AwsContext
from omics_toolkit.config import Settings
from omics_toolkit.provisioning.core import Action, Reporter
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.reference import PreparedReference
from omics_toolkit.provisioning.teardown import Teardown


def plan(
    ctx: AwsContext,
    settings: Settings,
    reference: str | PreparedReference | None = None,
    *,
    destroy: bool = False,
    force_delete_data: bool = False,
    report: Reporter | None = None,
) -> list[Action]:
    """The actions ``provision`` (or, with ``destroy``, ``teardown``) would take.

    Args:
        ctx: AWS clients; shared clients are left without the dry-run guard afterwards.
        settings: effective settings.
        reference: FASTA that provision would import (``None``: the store's reference), checked
            first, or one prepared by
            :func:`~omics_toolkit.provisioning.reference.prepare_reference`.
        destroy: plan the teardown instead.
        force_delete_data: for ``destroy``: plan deleting buckets and stores that hold data.
        report: called with every :class:`Action` as it is planned.

    Returns:
        One :class:`Action` per resource (create / update / unchanged / skipped, or delete /
        kept / absent / wait / cancel for ``destroy``), plus one ``grant`` (kind ``s3 read``)
        per object of another bucket a HealthOmics role is granted to read.

    Raises:
        PlanMutationError: the planning code tried a mutating call (a bug).
        UserError: as :meth:`Provisioner.apply` and :meth:`Teardown.run`.
    """
    if destroy:
        teardown = Teardown(ctx, settings, report=report, dry_run=True)
        try:
            teardown.run(force_delete_data=force_delete_data)
        finally:
            teardown.end_plan()
        return teardown.actions
    provisioner = Provisioner(ctx, settings, report=report, dry_run=True)
    try:
        provisioner.apply(reference)
    finally:
        provisioner.end_plan()
    return provisioner.actions
