"""Fixtures of the ``reads``/``results`` command tests (helpers: tests/support/demo_sample.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.demo_sample import DemoSample, start_demo_sample


@pytest.fixture(scope="session")
def demo_sample(aws: Any, tmp_path_factory: pytest.TempPathFactory) -> DemoSample:
    """The ft-reads deployment with the demo sample run to SUCCEEDED (once per session)."""
    return start_demo_sample(aws, tmp_path_factory)
