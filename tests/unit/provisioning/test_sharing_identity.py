"""Which IAM identity Lake Formation knows a caller by, and when an administrator entry names it."""

from __future__ import annotations

import pytest

from omics_toolkit.provisioning.sharing import _same_identity


@pytest.mark.parametrize(
    ("admin", "identity", "same"),
    [
        ("arn:aws:iam::123456789012:role/Admin", "arn:aws:iam::123456789012:role/Admin", True),
        # an administrator role entry may carry the role's path; the session ARN does not
        (
            "arn:aws:iam::123456789012:role/team/Admin",
            "arn:aws:iam::123456789012:role/Admin",
            True,
        ),
        ("arn:aws:iam::123456789012:role/Other", "arn:aws:iam::123456789012:role/Admin", False),
        ("arn:aws:iam::123456789012:user/Admin", "arn:aws:iam::123456789012:role/Admin", False),
        ("arn:aws:iam::210987654321:role/Admin", "arn:aws:iam::123456789012:role/Admin", False),
        ("IAM_ALLOWED_PRINCIPALS", "arn:aws:iam::123456789012:role/Admin", False),
    ],
)
def test_administrator_entry_names_the_identity(admin: str, identity: str, same: bool) -> None:
    assert _same_identity(admin, identity) is same
