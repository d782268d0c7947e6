"""The local credentials belong to an IAM user, as long-lived credentials do in AWS.

moto answers GetCallerIdentity for an access key it did not issue with
``arn:aws:sts::<account>:user/moto``, a shape AWS never returns (an STS ARN that is no session)
and one Lake Formation would refuse as a principal. moto reads the key id from the
``Authorization`` header only when it is 20 upper-case characters; the local key (``testing``)
is not, so moto takes every such request as made with key :data:`MOTO_FALLBACK_KEY`
(``BaseResponse.get_access_key``). :func:`seed` (called by the stack after the moto snapshot is
restored) makes that key a key of the IAM user :data:`LOCAL_USER` (path ``/``) in the local
account, with an administrator inline policy, so GetCallerIdentity answers
``arn:aws:iam::<account>:user/omics-toolkit-local``, IAM GetUser finds that user and
SimulatePrincipalPolicy allows it everything; keys moto issued (AssumeRole, CreateAccessKey) keep their own identity.
Idempotent: a restored snapshot already holding the key is left as it is.

Nothing is replaced in moto; :data:`NEEDS` lists the IAM internals :func:`seed` uses.
"""

from __future__ import annotations

import json

from omics_toolkit.constants import LOCAL_ACCOUNT_ID
from omics_toolkit.local.patches.guard import Needs

#: The IAM user owning the local access key.
LOCAL_USER = "omics-toolkit-local"
#: The inline policy of :data:`LOCAL_USER` (everything allowed, as AdministratorAccess).
ADMINISTRATOR_POLICY_NAME = "administrator"
ADMINISTRATOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
#: The key id moto assumes for a request whose key id it cannot read (e.g. ``testing``).
MOTO_FALLBACK_KEY = "AKIAEXAMPLE"

TARGETS: tuple[str, ...] = ()
NEEDS = (
    Needs("moto.iam.models.iam_backends"),
    Needs("moto.iam.models.IAMBackend.create_user", params=("self", "region_name", "user_name")),
    Needs("moto.iam.models.IAMBackend.create_access_key", params=("self", "user_name")),
    Needs(
        "moto.iam.models.IAMBackend.put_user_policy",
        params=("self", "user_name", "policy_name", "policy_json"),
    ),
    Needs("moto.iam.models.IAMBackend.get_user_from_access_key_id"),
    Needs("moto.iam.models.AccessKey.physical_resource_id"),
    Needs(
        "moto.core.responses.BaseResponse.get_access_key",
        params=("self",),
        source=(f'"{MOTO_FALLBACK_KEY}"',),
    ),
)


def apply() -> None:
    """Nothing to install (state is seeded by :func:`seed` once the snapshot is restored)."""


def seed(region: str, account_id: str = LOCAL_ACCOUNT_ID) -> str:
    """Give moto's fallback key (the local key as moto reads it) to IAM user
    :data:`LOCAL_USER`; returns the user's ARN."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["aws"]
    owner = iam.get_user_from_access_key_id(MOTO_FALLBACK_KEY)
    if owner is not None:
        return str(owner.arn)
    user = iam.users.get(LOCAL_USER) or iam.create_user(region, LOCAL_USER)
    # The local account's administrator, as the identity a user provisions with usually is:
    # IAM SimulatePrincipalPolicy (patch iam_simulate) evaluates this policy like any other.
    iam.put_user_policy(LOCAL_USER, ADMINISTRATOR_POLICY_NAME, json.dumps(ADMINISTRATOR_POLICY))
    key = iam.create_access_key(LOCAL_USER)
    iam.access_keys.pop(key.physical_resource_id, None)
    key.access_key_id = MOTO_FALLBACK_KEY
    iam.access_keys[key.physical_resource_id] = key
    return str(user.arn)
