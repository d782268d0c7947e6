"""Who Lake Formation grants go to: the caller as Lake Formation accepts it, and checks of
principals given by the user.

Lake Formation's ``DataLakePrincipalIdentifier`` names a long-lived identity, never a session:
an STS ARN (``arn:aws:sts::<account>:assumed-role/<role>/<session>``, what
``sts:GetCallerIdentity`` returns for IAM Identity Center (SSO) users, CI roles and every other
role session) is refused with ``InvalidInputException: Unsupported principal
identifier:<arn>. Arns identifying principals with temporary credentials are not supported.``
The grant must name the role itself, with its path: IAM Identity Center permission-set roles
live under ``/aws-reserved/sso.amazonaws.com/<region>/``, so
``arn:aws:iam::<account>:role/AWSReservedSSO_<set>_<hex>`` without the path names no role.

Accepted identifiers (Lake Formation Developer Guide, "Lake Formation permissions reference",
"Granting data location permissions", "Integrating IAM Identity Center"; API reference
``DataLakePrincipal``: 1-255 characters):

- IAM role or user ARN: ``arn:aws:iam::<account>:role/<path><name>``, ``...:user/<path><name>``;
- SAML user or group: ``arn:aws:iam::<account>:saml-provider/<provider>:user/<name>`` /
  ``...:group/<name>``;
- IAM Identity Center user or group: ``arn:aws:identitystore:::user/<id>`` / ``group/<id>``;
- QuickSight user or group: ``arn:aws:quicksight:<region>:<account>:user/<ns>/<name>`` /
  ``group/<ns>/<name>``;
- an AWS account (``123456789012``), its IAM principals (``123456789012:IAMPrincipals``), an
  organization (``arn:aws:organizations::<account>:organization/o-...``) or an OU
  (``...:ou/o-.../ou-...``); and ``IAM_ALLOWED_PRINCIPALS``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from omics_toolkit.errors import AccessDeniedError, AwsError, UserError

if TYPE_CHECKING:
    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.config import Settings

__all__ = ["check_principal", "data_lake_principal", "grantee", "principal_kind"]

_P = r"arn:aws(?:-cn|-us-gov|-iso|-iso-b)?"
#: Identifier patterns Lake Formation accepts, by kind (first match wins).
_ACCEPTED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iam role", re.compile(rf"^{_P}:iam::\d{{12}}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{{1,64}}$")),
    ("iam user", re.compile(rf"^{_P}:iam::\d{{12}}:user/(?:[\w+=,.@-]+/)*[\w+=,.@-]{{1,64}}$")),
    (
        "saml user",
        re.compile(rf"^{_P}:iam::\d{{12}}:saml-provider/[\w.-]{{1,128}}:user/\S+$"),
    ),
    (
        "saml group",
        re.compile(rf"^{_P}:iam::\d{{12}}:saml-provider/[\w.-]{{1,128}}:group/\S+$"),
    ),
    ("identity center user", re.compile(rf"^{_P}:identitystore:::user/[\w-]+$")),
    ("identity center group", re.compile(rf"^{_P}:identitystore:::group/[\w-]+$")),
    ("quicksight user", re.compile(rf"^{_P}:quicksight:[a-z0-9-]+:\d{{12}}:user/[^/]+/\S+$")),
    ("quicksight group", re.compile(rf"^{_P}:quicksight:[a-z0-9-]+:\d{{12}}:group/[^/]+/\S+$")),
    ("account", re.compile(r"^\d{12}$")),
    ("account iam principals", re.compile(r"^\d{12}:IAMPrincipals$")),
    (
        "organization",
        re.compile(rf"^{_P}:organizations::\d{{12}}:organization/o-[a-z0-9]{{10,32}}$"),
    ),
    (
        "organizational unit",
        re.compile(
            rf"^{_P}:organizations::\d{{12}}:ou/o-[a-z0-9]{{10,32}}/ou-[a-z0-9]{{4,32}}-[a-z0-9]{{8,32}}$"
        ),
    ),
    ("iam allowed principals", re.compile(r"^IAM_ALLOWED_PRINCIPALS$")),
)
_ASSUMED_ROLE = re.compile(rf"^({_P}):sts::(\d{{12}}):assumed-role/([\w+=,.@-]+)/(.+)$")
_STS = re.compile(rf"^{_P}:sts::")
_ROOT = re.compile(rf"^{_P}:iam::\d{{12}}:root$")
_GROUP = re.compile(rf"^{_P}:iam::\d{{12}}:group/")

_WHAT_TO_DO = (
    "name the IAM role or user ARN (with its path) to grant: `--principal ARN` (access), "
    "`--data-lake-principal ARN` (provision), or data_lake_principal in omics-toolkit.toml / "
    "OMICS_TOOLKIT_DATA_LAKE_PRINCIPAL"
)


def principal_kind(identifier: str) -> str | None:
    """The kind of Lake Formation principal ``identifier`` names (``"iam role"``,
    ``"saml group"``, ``"account"``...; see the module docstring), ``None`` if none."""
    for kind, pattern in _ACCEPTED:
        if pattern.match(identifier):
            return kind
    return None


def check_principal(arn: str) -> str:
    """Check that Lake Formation accepts ``arn`` as a ``DataLakePrincipalIdentifier``.

    Args:
        arn: an identifier of one of the kinds in the module docstring.

    Returns:
        ``arn`` without surrounding white space.

    Raises:
        UserError: an STS session ARN (the message names the role ARN form to use instead), an
            account root, an IAM group (Lake Formation does not grant to IAM groups), or
            anything else that is not an accepted identifier.
    """
    value = arn.strip()
    if principal_kind(value) and len(value) <= 255:
        return value
    session = _ASSUMED_ROLE.match(value)
    if session:
        partition, account, role, _ = session.groups()
        raise UserError(
            f"{value} is a role session (temporary credentials); Lake Formation only grants to "
            f"the role itself: use its ARN with its path, e.g. "
            f"{partition}:iam::{account}:role/<path>{role} (`aws iam get-role --role-name {role} "
            "--query Role.Arn` prints it)"
        )
    if _STS.match(value):
        raise UserError(
            f"{value} is an STS identity (temporary credentials), which Lake Formation does not "
            "accept: grant to the IAM role or user behind it (arn:aws:iam::<account>:role/... "
            "or :user/...)"
        )
    if _ROOT.match(value):
        raise UserError(
            f"{value} is an account root; Lake Formation grants to the account as its 12-digit "
            "id, or to an IAM role or user of it"
        )
    if _GROUP.match(value):
        raise UserError(
            f"{value} is an IAM group; Lake Formation does not grant to IAM groups: grant to the "
            "roles or users, or to a SAML / IAM Identity Center group"
        )
    raise UserError(
        f"{value!r} is not a principal Lake Formation accepts: use an IAM role or user ARN "
        "(arn:aws:iam::<account>:role/<path><name>), a SAML user or group "
        "(arn:aws:iam::<account>:saml-provider/<provider>:user/<name> or :group/<name>), an IAM "
        "Identity Center user or group (arn:aws:identitystore:::user/<id> or group/<id>) or a "
        "12-digit account id"
    )


def data_lake_principal(ctx: AwsContext) -> str:
    """The caller as Lake Formation accepts it (STS GetCallerIdentity; IAM GetRole).

    - an IAM user: its ARN as is;
    - a role session (``arn:aws:sts::<account>:assumed-role/<role>/<session>``: SSO users, CI
      roles, EC2/Lambda roles): the role's ARN with its path, read with ``iam:GetRole`` (the
      session ARN carries no path);
    - anything else (root, a federated user, ...): an error saying what to do.

    The answer is remembered in ``ctx.memo`` for the context's lifetime.

    Returns:
        An identifier :func:`check_principal` accepts.

    Raises:
        UserError: the caller is not one Lake Formation can grant to, or its role cannot be read
            (``iam:GetRole`` denied): the message says to pass ``--principal`` or set
            ``data_lake_principal``.
        AwsError: other STS or IAM errors.
    """
    key = "data_lake_principal"
    if key in ctx.memo:
        return str(ctx.memo[key])
    caller = str(ctx.client("sts").get_caller_identity()["Arn"])
    session = _ASSUMED_ROLE.match(caller)
    if session:
        role = session.group(3)
        try:
            found = str(ctx.client("iam").get_role(RoleName=role)["Role"]["Arn"])
        except AccessDeniedError as exc:
            raise UserError(
                f"you are signed in as a session of role {role} ({caller}); Lake Formation grants "
                f"to the role's ARN, with its path, and iam:GetRole on it was denied "
                f"({exc.message}): {_WHAT_TO_DO}"
            ) from exc
        except AwsError as exc:
            if exc.code != "NoSuchEntity":
                raise
            raise UserError(
                f"you are signed in as a session of role {role} ({caller}), but this account has "
                f"no such IAM role (a role of another account?): {_WHAT_TO_DO}"
            ) from exc
        principal = check_principal(found)
    elif principal_kind(caller) in ("iam user", "iam role"):
        principal = caller
    else:
        raise UserError(
            f"Lake Formation cannot grant to the identity you are signed in as ({caller}: "
            f"not an IAM user or role session): {_WHAT_TO_DO}"
        )
    ctx.memo[key] = principal
    return principal


def grantee(ctx: AwsContext, settings: Settings) -> str:
    """Who provisioning and annotation imports grant to: ``settings.data_lake_principal``
    when set (checked), else :func:`data_lake_principal`.

    Raises:
        UserError: from :func:`check_principal` or :func:`data_lake_principal`.
    """
    if settings.data_lake_principal:
        return check_principal(settings.data_lake_principal)
    return data_lake_principal(ctx)
