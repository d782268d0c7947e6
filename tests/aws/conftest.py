"""Fixtures of the real-AWS tests: opt-in, one unique deployment in the caller's account.

Every test under ``tests/aws/`` is marked ``aws`` and skipped unless ``OMICS_TOOLKIT_AWS_TESTS=1``
(see ``test_real_account.py`` for how to run them and what they cost). Once enabled, missing
credentials or region are failures, not skips: a user who asked for the proof gets told why there
is none.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ENABLED = os.environ.get("OMICS_TOOLKIT_AWS_TESTS") == "1"
SKIP_REASON = (
    "real-AWS test (creates billable resources): set OMICS_TOOLKIT_AWS_TESTS=1 and AWS credentials "
    "to run it; see tests/aws/test_real_account.py"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under ``tests/aws/`` ``aws``; skip them unless enabled."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.aws)
            if not ENABLED:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="session")
def aws_settings() -> Any:
    """Settings for ``target=aws`` with a unique deployment name.

    ``./omics-toolkit.toml`` and ``OMICS_TOOLKIT_<SETTING>`` apply as for the CLI (e.g. the
    ``[run_parameters]`` image URIs); ``OMICS_TOOLKIT_AWS_PROFILE``, ``OMICS_TOOLKIT_AWS_REGION``
    and ``OMICS_TOOLKIT_AWS_DEPLOYMENT`` override profile, region and deployment name.
    """
    from omics_toolkit.config import load_settings

    deployment = os.environ.get("OMICS_TOOLKIT_AWS_DEPLOYMENT") or f"ot-test-{secrets.token_hex(3)}"
    return load_settings(
        target="aws",
        profile=os.environ.get("OMICS_TOOLKIT_AWS_PROFILE") or None,
        region=os.environ.get("OMICS_TOOLKIT_AWS_REGION") or None,
        deployment=deployment,
        poll_interval_seconds=30,
    )


@pytest.fixture(scope="session")
def aws_context(aws_settings: Any) -> Any:
    """An :class:`omics_toolkit.aws.session.AwsContext` for the real account (checked)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from omics_toolkit.aws.session import make_context

    ctx = make_context(aws_settings)
    if not ctx.session.region_name:
        pytest.fail("no AWS region: set OMICS_TOOLKIT_AWS_REGION (or AWS_REGION, or the profile's)")
    try:
        ctx.account_id  # noqa: B018 - sts:GetCallerIdentity proves the credentials
    except (BotoCoreError, ClientError) as exc:
        pytest.fail(f"AWS credentials do not work (profile {aws_settings.profile}): {exc}")
    return ctx
