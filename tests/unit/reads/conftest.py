"""Fixtures of the tests of ``omics_toolkit.reads`` (the files: tests/support/read_files.py)."""

from __future__ import annotations

import pytest

from tests.support.read_files import ReadFiles, build_read_files


@pytest.fixture(scope="session")
def read_files(tmp_path_factory: pytest.TempPathFactory) -> ReadFiles:
    """Real BAM/CRAM/VCF files and their indexes, made once per session."""
    return build_read_files(tmp_path_factory)
