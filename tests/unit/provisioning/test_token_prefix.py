"""The idempotency-token prefix: one per incarnation of a deployment's output bucket."""

from omics_toolkit.provisioning.core import TOKEN_PREFIX_MAX, token_prefix


def test_same_incarnation_same_prefix_across_re_provisions() -> None:
    first = token_prefix("demo", "0a1b2c3d")
    assert first == "demo/0a1b2c3d" == token_prefix("demo", "0a1b2c3d")


def test_a_bucket_made_anew_gives_a_new_prefix() -> None:
    first = token_prefix("demo", "0a1b2c3d")
    assert token_prefix("demo", "99887766") != first
    assert token_prefix("other", "0a1b2c3d") != first
    assert token_prefix("demo", None) not in (first, token_prefix("other", None))


def test_long_deployments_are_hashed_within_the_api_limits() -> None:
    long = token_prefix("d" * 32, "0a1b2c3d")  # the longest deployment name settings allow
    assert len(long) == TOKEN_PREFIX_MAX and "/" not in long
    # <prefix>/<80-character execution name>-reads: StartReadSetImportJob clientToken max 127
    assert len(f"{long}/{'x' * 80}-reads") <= 127
