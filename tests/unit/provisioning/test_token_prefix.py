"""The idempotency-token prefix: one per incarnation of a deployment's output bucket."""

from datetime import UTC, datetime, timedelta, timezone

from omics_toolkit.provisioning.core import TOKEN_PREFIX_MAX, token_prefix

CREATED = datetime(2026, 12, 7, 1, 44, 39, tzinfo=UTC)


def test_same_bucket_same_prefix_across_re_provisions() -> None:
    first = token_prefix("demo", CREATED)
    assert first.startswith("demo/") and len(first) == len("demo/") + 8
    # the same date read back in another zone or with microseconds: the same incarnation
    again = CREATED.astimezone(timezone(timedelta(hours=2))).replace(microsecond=0)
    assert token_prefix("demo", again) == first


def test_a_bucket_made_anew_gives_a_new_prefix() -> None:
    first = token_prefix("demo", CREATED)
    assert token_prefix("demo", CREATED + timedelta(minutes=3)) != first
    assert token_prefix("other", CREATED) != first
    assert token_prefix("demo", None) not in (first, token_prefix("other", None))


def test_long_deployments_are_hashed_within_the_api_limits() -> None:
    long = token_prefix("d" * 60, CREATED)
    assert len(long) == TOKEN_PREFIX_MAX and "/" not in long
    # <prefix>/<80-character execution name>-reads: StartReadSetImportJob clientToken max 127
    assert len(f"{long}/{'x' * 80}-reads") <= 127
