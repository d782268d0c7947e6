import inspect
import json

from omics_toolkit.local.patches import s3_bucket_policy
from omics_toolkit.provisioning.iam import tls_only_bucket_policy


def test_patched_moto_symbol_exists_with_expected_signature():
    from moto.s3.models import FakeBucket

    target = getattr(FakeBucket, "get_permission", None)
    assert target is not None, (
        f"moto moved {s3_bucket_policy.TARGET}: update omics_toolkit/local/patches/s3_bucket_policy.py"
    )
    params = list(inspect.signature(target).parameters)
    assert params[:3] == ["self", "action", "resource"], (
        f"{s3_bucket_policy.TARGET} signature changed: {params}"
    )


def test_condition_evaluation():
    holds = s3_bucket_policy.condition_holds
    assert not holds({"Bool": {"aws:SecureTransport": "false"}})
    assert holds({"Bool": {"aws:SecureTransport": "true"}})
    assert not holds({"StringEquals": {"aws:SourceVpce": "vpce-1"}})
    assert holds({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}})


class _Bucket:
    def __init__(self, policy):
        self.policy = json.dumps(policy).encode()


def test_tls_only_policy_allows_sdk_requests_but_unconditional_deny_still_denies():
    from moto.iam.access_control import PermissionResult

    arn = "arn:aws:s3:::b/k"
    assert (
        s3_bucket_policy.get_permission(_Bucket(tls_only_bucket_policy("b")), "s3:PutObject", arn)
        == PermissionResult.NEUTRAL
    )
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
        ],
    }
    assert (
        s3_bucket_policy.get_permission(_Bucket(deny_all), "s3:PutObject", arn)
        == PermissionResult.DENIED
    )
