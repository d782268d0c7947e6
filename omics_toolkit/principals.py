"""Who the caller is, as each service that authorizes it names it.

Minimal version for ``omics-toolkit doctor --target aws`` (branch i15-lf owns the full module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omics_toolkit.aws.session import AwsContext


def data_lake_principal(ctx: AwsContext) -> str:
    """The caller's ARN as Lake Formation names a principal (``DataLakePrincipalIdentifier``).

    An IAM user's ARN is returned as is. An assumed-role session
    (``arn:aws:sts::<account>:assumed-role/<role>/<session>``) becomes its role's ARN with the
    role's path (``arn:aws:iam::<account>:role/<path>/<role>``, from ``iam:GetRole``): Lake
    Formation refuses STS session ARNs as principals (setting-up-lf.html). Any other ARN (root,
    federated user) is returned as is.

    Source: sts GetCallerIdentity, iam GetRole.

    Raises:
        AwsError: from STS or IAM (``AccessDeniedError`` without ``iam:GetRole`` on the role).
    """
    arn = str(ctx.client("sts").get_caller_identity()["Arn"])
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role_name = parts[5].split("/")[1]
        return str(ctx.client("iam").get_role(RoleName=role_name)["Role"]["Arn"])
    return arn
