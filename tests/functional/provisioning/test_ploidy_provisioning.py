"""The ``ploidy`` setting at provisioning, on the local stack: the run parameter each workflow
gets, the values each accepts, and a new workflow version for a workflow registered before it
had a ``ploidy`` input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from omics_toolkit import workflows
from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.errors import ConfigError
from omics_toolkit.provisioning.provision import Provisioner


def _prov(stack: dict[str, Any], **settings: Any) -> Provisioner:
    return Provisioner(
        local_context(stack["moto"], stack["omics"]),
        Settings(
            deployment=settings.pop("deployment", "ft-ploidy"),
            home=Path(os.environ["OMICS_TOOLKIT_HOME"]),
            **settings,
        ),
    )


def _without_ploidy(dest: Path) -> Path:
    """A copy of the shipped workflows whose bcftools-germline has no ``ploidy`` input (as
    before the setting existed): its CallVariants is called with a literal 2."""
    shutil.copytree(workflows.WORKFLOWS_DIR, dest)
    main = dest / "bcftools-germline" / "main.wdl"
    text = main.read_text()
    start = text.index("    ploidy: {")
    text = text[:start] + text[text.index("    }\n", start) + 6 :]
    text = text.replace("    Int ploidy = 2\n", "").replace("ploidy = ploidy,", "ploidy = 2,")
    main.write_text(text)
    assert "ploidy" not in workflows.parameter_template(main)
    return dest


def test_every_run_gets_the_ploidy_setting(local_stack: dict[str, Any]) -> None:
    assert _prov(local_stack).setting_parameters() == {"ploidy": 2}
    assert _prov(local_stack, ploidy=1).setting_parameters() == {"ploidy": 1}
    gatk = _prov(local_stack, ploidy=4, workflow="gatk-germline")
    assert gatk.setting_parameters() == {"ploidy": 4}


def test_bcftools_takes_ploidy_1_or_2_only(local_stack: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        _prov(local_stack, ploidy=4).setting_parameters()
    assert str(caught.value) == (
        "workflow bcftools-germline calls ploidy 1 or 2 only, not 4: set ploidy to one of these, "
        "or use --workflow gatk-germline (HaplotypeCaller -ploidy) for polyploid samples"
    )


def test_ploidy_is_a_setting_not_a_run_parameter(local_stack: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"run_parameters \['ploidy'\] are settings"):
        _prov(local_stack, run_parameters={"ploidy": "1"}).run_parameters()


def test_a_workflow_without_ploidy_input(
    local_stack: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workflows, "WORKFLOWS_DIR", _without_ploidy(tmp_path / "workflows"))
    assert _prov(local_stack).setting_parameters() == {}  # diploid: nothing to pass
    with pytest.raises(ConfigError, match="has no ploidy input"):
        _prov(local_stack, ploidy=1).setting_parameters()


def test_a_workflow_registered_without_ploidy_gets_a_new_version(
    local_stack: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Provisioned before the setting existed, then again: the second provision creates a
    workflow version whose parameter template has ``ploidy`` (StartRun would otherwise refuse
    the parameter), and the state machine starts that version."""
    old_dir = _without_ploidy(tmp_path / "workflows")
    new_dir = workflows.WORKFLOWS_DIR
    monkeypatch.setattr(workflows, "WORKFLOWS_DIR", old_dir)
    prov = _prov(local_stack, deployment="ft-ploidy-ver")
    workflow_id, version = prov.ensure_workflow()
    assert version is None
    omics = prov.client("omics")
    assert "ploidy" not in omics.get_workflow(id=workflow_id)["parameterTemplate"]

    monkeypatch.setattr(workflows, "WORKFLOWS_DIR", new_dir)
    same_id, version = prov.ensure_workflow()
    assert same_id == workflow_id and version is not None
    template = omics.get_workflow_version(workflowId=workflow_id, versionName=version)[
        "parameterTemplate"
    ]
    assert template["ploidy"] == {
        "description": "Copies of every contig in the sample: 2 (diploid) or 1 (haploid: "
        "viruses, bacteria); bcftools call --ploidy.",
        "optional": True,
    }
