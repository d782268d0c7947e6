"""The patches' moto needs are checked before anything is patched; a moved internal stops the stack.

Checks run in child interpreters: this test process may already hold patched moto classes, whose
sources are the replacements, not moto's.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from omics_toolkit.local.patches import guard, modules

ROOT = Path(__file__).resolve().parents[3]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_patch_declares_its_needs() -> None:
    for module in modules():
        needs = getattr(module, "NEEDS", ())
        assert needs, f"{module.__name__} declares no NEEDS"
        assert all(isinstance(n, guard.Needs) for n in needs)


def test_installed_moto_meets_every_need() -> None:
    result = _run(
        """
        from omics_toolkit.local.patches import guard, modules
        for m in modules():
            for problem in guard.problems_of(m.NEEDS):
                print(m.__name__, problem)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", f"moto {guard.moto_version()} misses:\n{result.stdout}"


def test_a_moved_internal_refuses_before_patching() -> None:
    result = _run(
        """
        import moto.glue.responses as responses
        del responses.GlueResponse.glue_backend
        from omics_toolkit.local.patches import apply_all
        from omics_toolkit.local.patches.guard import MotoInternalsError
        try:
            apply_all()
        except MotoInternalsError as exc:
            print(exc)
            print("patched:", hasattr(responses.GlueResponse, "get_catalog"))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "patch glue_catalogs: moto.glue.responses.GlueResponse.glue_backend is gone" in (
        result.stdout
    )
    assert f"moto{guard.SUPPORTED_MOTO}" in result.stdout
    assert f"pip install 'moto[server]{guard.SUPPORTED_MOTO}'" in result.stdout
    assert "patched: False" in result.stdout


def test_signature_and_source_changes_are_problems() -> None:
    need = guard.Needs("json.dumps", params=("x", "y"), source=("no such text",))
    problems = guard.problems_of([need])
    assert any("json.dumps takes (obj" in p and "expected (x, y" in p for p in problems)
    assert any("no longer contains 'no such text'" in p for p in problems)
    assert guard.problems_of([guard.Needs("json.no_such_name")]) == [
        "json.no_such_name is gone (json has no attribute 'no_such_name')"
    ]
    assert guard.problems_of([guard.Needs("no_such_module_x.y")]) == [
        "no_such_module_x.y is gone (module no_such_module_x cannot be imported)"
    ]


def test_supported_range_is_the_local_extra_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    moto = [r for r in project["optional-dependencies"]["local"] if r.startswith("moto")]
    assert moto == [f"moto[server]{guard.SUPPORTED_MOTO}"]


@pytest.mark.timeout(120)
def test_stack_start_refuses_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real stack process, with one internal removed at interpreter start (sitecustomize)."""
    from omics_toolkit.errors import LocalStackError
    from omics_toolkit.local.stack import lifecycle as stack

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import moto.glue.responses as r\ndel r.GlueResponse.glue_backend\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    with pytest.raises(LocalStackError) as refused:
        stack.start(tmp_path / "local", with_omics=False, timeout_seconds=60)
    message = str(refused.value)
    assert "exited with status 1" in message
    assert "patch glue_catalogs" in message and f"moto{guard.SUPPORTED_MOTO}" in message
