"""AWS RAM resource-share invitations of the local stack, and what an accepted share makes visible.

moto's RAM keeps resource shares but no invitations: a share with another account as principal
is ACTIVE at once and nothing reaches the receiving account. In AWS, a share from an account
outside the receiver's organization sends the receiver an invitation (``PENDING``) that it accepts
(AcceptResourceShareInvitation) or rejects; only after acceptance does the receiver see the shared
Glue database as a FOREIGN database of the owner's catalog (AWS RAM User Guide, "Accepting and
rejecting invitations"; Lake Formation Developer Guide, "Accessing and viewing shared Data Catalog
tables and databases"). This module keeps those invitations on moto's RAM backend of the
receiving account (attribute ``toolkit_invitations``, pickled with moto's snapshot) and answers,
for the Glue, Lake Formation and Athena patches, which databases an account has been shared.

Invitation record (the botocore ``ResourceShareInvitation`` shape, ``invitationTimestamp`` a
datetime): ``resourceShareInvitationArn``, ``resourceShareName``, ``resourceShareArn``,
``senderAccountId``, ``receiverAccountId``, ``invitationTimestamp``, ``status``
(``PENDING`` | ``ACCEPTED`` | ``REJECTED`` | ``EXPIRED``).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

#: ``arn:<partition>:glue:<region>:<owner>:database/<name>`` (a RAM-shareable Glue database).
DATABASE_ARN = re.compile(r"^arn:[\w-]+:glue:([a-z0-9-]+):(\d{12}):database/(.+)$")
ACCOUNT_ID = re.compile(r"^\d{12}$")


def _ram_backend(account_id: str, region: str) -> Any:
    from moto.ram.models import ram_backends

    return ram_backends[account_id][region]


def invitations(account_id: str, region: str) -> dict[str, dict[str, Any]]:
    """The invitations received by ``account_id`` in ``region`` (ARN -> record; mutable)."""
    backend = _ram_backend(account_id, region)
    found: dict[str, dict[str, Any]] | None = getattr(backend, "toolkit_invitations", None)
    if found is None:
        found = {}
        backend.toolkit_invitations = found
    return found


def invite(share: Any) -> list[dict[str, Any]]:
    """Send the invitations of a new moto ``ResourceShare``: one ``PENDING`` invitation per
    principal that is another 12-digit account id (organization, OU and IAM principals get none,
    as in AWS within an organization). Returns the records created."""
    made = []
    for principal in share.principals:
        if not ACCOUNT_ID.match(principal) or principal == share.owning_account_id:
            continue
        arn = (
            f"arn:{share.partition}:ram:{share.region}:{principal}:"
            f"resource-share-invitation/{uuid.uuid4()}"
        )
        record = {
            "resourceShareInvitationArn": arn,
            "resourceShareName": share.name,
            "resourceShareArn": share.arn,
            "senderAccountId": share.owning_account_id,
            "receiverAccountId": principal,
            "invitationTimestamp": dt.datetime.now(dt.UTC),
            "status": "PENDING",
        }
        invitations(principal, share.region)[arn] = record
        made.append(record)
    return made


def expire(share: Any) -> None:
    """A deleted share: its invitations still ``PENDING`` become ``EXPIRED``."""
    for principal in share.principals:
        if ACCOUNT_ID.match(principal):
            for record in invitations(principal, share.region).values():
                if record["resourceShareArn"] == share.arn and record["status"] == "PENDING":
                    record["status"] = "EXPIRED"


def share_of(invitation: dict[str, Any], region: str) -> Any | None:
    """The moto ``ResourceShare`` an invitation is for (``None`` once it is gone)."""
    backend = _ram_backend(invitation["senderAccountId"], region)
    return next(
        (s for s in backend.resource_shares if s.arn == invitation["resourceShareArn"]), None
    )


def shared_databases(account_id: str, region: str) -> list[tuple[str, str]]:
    """``(owner account, database name)`` of every Glue database shared with ``account_id``
    through an ACCEPTED invitation to a share that is still ACTIVE."""
    found = []
    for record in invitations(account_id, region).values():
        if record["status"] != "ACCEPTED":
            continue
        share = share_of(record, region)
        if share is None or share.status != "ACTIVE":
            continue
        for arn in share.resource_arns:
            match = DATABASE_ARN.match(arn)
            if match and match.group(1) == region and match.group(2) == share.owning_account_id:
                found.append((match.group(2), match.group(3)))
    return found


def is_shared(account_id: str, region: str, owner: str, database: str) -> bool:
    """Whether ``owner``'s Glue ``database`` is visible to ``account_id`` (its own, or shared
    and accepted). Names compare case-insensitively, as Glue's do."""
    if owner == account_id:
        return True
    return any(
        o == owner and d.lower() == database.lower()
        for o, d in shared_databases(account_id, region)
    )
