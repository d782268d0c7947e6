"""The AWS tables layer really built from PyPI for the function's runtime (opt-in: needs PyPI).

Run with ``OMICS_TOOLKIT_PYPI_TESTS=1`` (about 40 s and 75 MB of downloads); skipped otherwise so
the default suite stays offline and fast.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from omics_toolkit.lambda_facts import UNZIPPED_LIMIT_BYTES, WheelTags, runtime
from omics_toolkit.provisioning import tables_layer
from omics_toolkit.provisioning.layers import LAMBDA_RUNTIME

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("OMICS_TOOLKIT_PYPI_TESTS") != "1",
        reason="downloads wheels from PyPI: set OMICS_TOOLKIT_PYPI_TESTS=1",
    ),
]


def test_aws_layer_holds_only_wheels_for_the_runtime(tmp_path: Path) -> None:
    path, unzipped = tables_layer.layer_zip(tmp_path, for_aws=True)
    facts = runtime(LAMBDA_RUNTIME)
    assert facts is not None
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert unzipped == sum(i.file_size for i in archive.infolist())
        wheels = [n for n in names if n.endswith(".dist-info/WHEEL")]
        assert "python/numpy-2.5.5.dist-info/WHEEL" in wheels
        for name in wheels:
            tags = WheelTags.from_wheel_metadata(name, archive.read(name).decode())
            assert tags.problem(facts) is None, name
    extensions = [n for n in names if n.endswith(".so") and ".cpython-" in n]
    assert extensions and all(".cpython-313-x86_64-linux-gnu.so" in n for n in extensions)
    assert unzipped < UNZIPPED_LIMIT_BYTES
    # the same pins again: the cached zip, not a second download
    assert tables_layer.layer_zip(tmp_path, for_aws=True) == (path, unzipped)
