"""Which identifiers Lake Formation accepts as principals: the toolkit's check
(omics_toolkit.principals.check_principal) and the local stack's independent one
(omics_toolkit.local.patches.lakeformation.refusal) must agree on every case."""

from __future__ import annotations

import pytest

from omics_toolkit.errors import UserError
from omics_toolkit.local.patches.lakeformation import refusal
from omics_toolkit.principals import check_principal, principal_kind

SSO_ROLE = (
    "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_Analyst_0123456789abcdef"
)
ACCEPTED = [
    ("arn:aws:iam::111122223333:role/analyst", "iam role"),
    (SSO_ROLE, "iam role"),
    ("arn:aws:iam::111122223333:user/alice", "iam user"),
    ("arn:aws:iam::111122223333:user/division/alice@example.com", "iam user"),
    ("arn:aws:iam::111122223333:saml-provider/Okta:user/alice@example.com", "saml user"),
    ("arn:aws:iam::111122223333:saml-provider/Okta:group/genomics", "saml group"),
    (
        "arn:aws:identitystore:::user/9067a4c2e1-5f6a7b8c-1234-4bcd-9ef0-123456789abc",
        "identity center user",
    ),
    ("arn:aws:identitystore:::group/9067a4c2e1-aaaa-bbbb", "identity center group"),
    ("arn:aws:quicksight:eu-west-1:111122223333:group/default/analysts", "quicksight group"),
    ("111122223333", "account"),
    ("111122223333:IAMPrincipals", "account iam principals"),
    ("arn:aws:organizations::111122223333:organization/o-abcdefghij", "organization"),
    ("arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdefgh34", "organizational unit"),
    ("IAM_ALLOWED_PRINCIPALS", "iam allowed principals"),
    ("arn:aws-cn:iam::111122223333:role/analyst", "iam role"),
]
REFUSED = [
    (
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Analyst_0123456789abcdef/alice",
        "arn:aws:iam::111122223333:role/<path>AWSReservedSSO_Analyst_0123456789abcdef",
    ),
    ("arn:aws:sts::111122223333:federated-user/bob", "STS identity"),
    ("arn:aws:sts::111122223333:user/moto", "STS identity"),
    ("arn:aws:iam::111122223333:root", "account root"),
    ("arn:aws:iam::111122223333:group/analysts", "IAM group"),
    ("analyst", "not a principal Lake Formation accepts"),
    ("arn:aws:iam::1111:role/analyst", "not a principal Lake Formation accepts"),
    ("arn:aws:s3:::bucket", "not a principal Lake Formation accepts"),
    ("", "not a principal Lake Formation accepts"),
]


@pytest.mark.parametrize(("arn", "kind"), ACCEPTED)
def test_accepted_principals(arn, kind):
    assert principal_kind(arn) == kind
    assert check_principal(f"  {arn}\n") == arn
    # The local Lake Formation accepts them too (IAM entities of another account are not looked up).
    assert refusal(arn, "999999999999") is None


@pytest.mark.parametrize(("arn", "says"), REFUSED)
def test_refused_principals_say_what_to_use(arn, says):
    with pytest.raises(UserError) as exc:
        check_principal(arn)
    assert says in str(exc.value)
    assert refusal(arn, "999999999999") is not None


def test_local_lake_formation_messages():
    session = "arn:aws:sts::111122223333:assumed-role/ci/run-42"
    assert refusal(session, "111122223333") == (
        f"Unsupported principal identifier:{session}. Arns identifying principals with "
        "temporary credentials are not supported."
    )
    assert refusal("analyst", "111122223333") == "Unsupported principal identifier:analyst."
    # Revokes do not look the role up; grants in the backend's account do (see the
    # functional test for a role that exists only with its path).
    assert refusal("arn:aws:iam::111122223333:role/gone", "111122223333", must_exist=False) is None


def test_principal_longer_than_the_api_allows_is_refused():
    arn = "arn:aws:iam::111122223333:role/" + "/".join(["p" * 60] * 4) + "/r"
    assert len(arn) > 255
    with pytest.raises(UserError):
        check_principal(arn)
