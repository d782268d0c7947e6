"""The AWS tables layer is downloaded with ``python -m pip``; pip is no dependency of the toolkit,
so its absence is a UserError that says how to install it, not a pip traceback."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from omics_toolkit.errors import UserError
from omics_toolkit.provisioning import tables_layer


def test_missing_pip_is_a_user_error_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def without_pip(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "pip" else real(name, *args, **kwargs)  # type: ignore[arg-type]

    # an environment without pip (uv venvs have none unless asked): find_spec says so
    monkeypatch.setattr(importlib.util, "find_spec", without_pip)
    with pytest.raises(UserError) as info:
        tables_layer.aws_layer_dir(home=tmp_path)
    message = str(info.value)
    assert "pip, which is not installed" in message
    assert f"{sys.executable} -m ensurepip" in message
    assert not (tmp_path / "cache" / "tables-layer").exists()
