"""CloudWatch Logs AssociateKmsKey / DisassociateKmsKey, which moto 5.2 does not implement.

moto keeps a log group's ``kmsKeyId`` from CreateLogGroup and shows it in DescribeLogGroups, but
has no AssociateKmsKey: provisioning a KMS key onto an existing log group failed on the local
stack. Adds ``moto.logs.responses.LogsResponse.associate_kms_key`` / ``disassociate_kms_key``
(moto dispatches an action to the response method of its snake_case name), which set or clear
the group's ``kms_key_id`` (``ResourceNotFoundException`` for a missing group, as the API). Like
moto's CreateLogGroup, the key is not checked: the local stack has no KMS key policies.
"""

from __future__ import annotations

from typing import Any

from omics_toolkit.local.patches.guard import Needs

#: The moto symbols this module adds.
TARGETS = (
    "moto.logs.responses.LogsResponse.associate_kms_key",
    "moto.logs.responses.LogsResponse.disassociate_kms_key",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs("moto.logs.responses.LogsResponse._get_param"),
    Needs("moto.logs.responses.LogsResponse.logs_backend"),
    Needs("moto.logs.models.LogGroup.to_describe_dict", source=("self.kms_key_id",)),
    Needs("moto.logs.exceptions.ResourceNotFoundException"),
)


def _group(self: Any) -> Any:
    from moto.logs.exceptions import ResourceNotFoundException

    name = self._get_param("logGroupName")
    group = self.logs_backend.groups.get(name)
    if group is None:
        raise ResourceNotFoundException()
    return group


def associate_kms_key(self: Any) -> str:
    _group(self).kms_key_id = self._get_param("kmsKeyId")
    return ""


def disassociate_kms_key(self: Any) -> str:
    _group(self).kms_key_id = None
    return ""


def apply() -> None:
    """Add the two actions (idempotent)."""
    from moto.logs.responses import LogsResponse

    LogsResponse.associate_kms_key = associate_kms_key  # type: ignore[attr-defined]
    LogsResponse.disassociate_kms_key = disassociate_kms_key  # type: ignore[attr-defined]
