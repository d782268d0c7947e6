"""Workflow discovery, HealthOmics parameter templates, packaging and miniwdl checks."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import WDL

from omics_toolkit import workflows
from omics_toolkit.errors import UserError
from omics_toolkit.workflows import (
    WORKFLOWS_DIR,
    WorkflowCheckError,
    check_workflow,
    content_digest,
    package_workflow,
    parameter_template,
    workflow_dir,
    workflow_name,
)

ALL_WDL = sorted(WORKFLOWS_DIR.glob("**/*.wdl"))
MAIN_WDL = sorted(WORKFLOWS_DIR.glob("*/main.wdl"))
GERMLINE_OUTPUTS = {"bam", "bam_index", "vcf", "vcf_index"}

LIB_WDL = """version 1.0
task Echo {
  input { String text }
  command <<< echo "~{text}" >>>
  output { String out = read_string(stdout()) }
  runtime { docker: "ubuntu:22.04" cpu: 1 memory: "1 GiB" }
}
"""

MAIN_SOURCE = """version 1.0
import "tasks/lib.wdl" as lib

workflow Demo {
  input {
    File reads
    String sample
    Int threads = 4
    String? note
    Boolean flag = false
  }
  parameter_meta {
    reads: "Reads, FASTQ."
    sample: { description: "Sample id.", help: "ignored" }
    threads: "Threads."
  }
  call lib.Echo { input: text = sample }
  output { String out = Echo.out }
}
"""


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "lib.wdl").write_text(LIB_WDL)
    (tmp_path / "main.wdl").write_text(MAIN_SOURCE)
    (tmp_path / "README.md").write_text("not packaged\n")
    return tmp_path


def test_parameter_template_optional_and_descriptions(demo_dir: Path) -> None:
    assert parameter_template(demo_dir / "main.wdl") == {
        "reads": {"description": "Reads, FASTQ.", "optional": False},
        "sample": {"description": "Sample id.", "optional": False},
        "threads": {"description": "Threads.", "optional": True},
        "note": {"description": "", "optional": True},
        "flag": {"description": "", "optional": True},
    }


def test_workflow_name(demo_dir: Path) -> None:
    assert workflow_name(demo_dir / "main.wdl") == "Demo"


def test_package_is_deterministic_and_holds_imports(demo_dir: Path) -> None:
    first = package_workflow(demo_dir)
    # touching the files (new mtimes) must not change the bytes
    for path in demo_dir.rglob("*.wdl"):
        path.write_text(path.read_text())
    second = package_workflow(demo_dir)
    assert first == second
    assert content_digest(first) == content_digest(second)
    assert len(content_digest(first)) == 64

    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["main.wdl", "tasks/lib.wdl"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}
        assert archive.read("tasks/lib.wdl").decode() == LIB_WDL


def test_package_changes_when_source_changes(demo_dir: Path) -> None:
    before = content_digest(package_workflow(demo_dir))
    lib = demo_dir / "tasks" / "lib.wdl"
    lib.write_text(lib.read_text().replace("1 GiB", "2 GiB"))
    assert content_digest(package_workflow(demo_dir)) != before


def test_package_rejects_import_outside_directory(tmp_path: Path) -> None:
    (tmp_path / "lib.wdl").write_text(LIB_WDL)
    wf = tmp_path / "wf"
    wf.mkdir()
    (wf / "main.wdl").write_text(MAIN_SOURCE.replace("tasks/lib.wdl", "../lib.wdl"))
    with pytest.raises(UserError, match="outside"):
        package_workflow(wf)


def test_packaged_zip_loads_with_miniwdl(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(io.BytesIO(package_workflow(demo_dir))) as archive:
        archive.extractall(out)
    assert WDL.load(str(out / "main.wdl")).workflow.name == "Demo"


def test_check_workflow_reports_errors(tmp_path: Path) -> None:
    bad = tmp_path / "main.wdl"
    bad.write_text(
        "version 1.0\nworkflow Bad {\n  input { Int n }\n  output { String s = undefined_x }\n}\n"
    )
    with pytest.raises(WorkflowCheckError) as info:
        check_workflow(bad)
    assert info.value.messages and "undefined_x" in info.value.messages[0]
    assert ":4:" in info.value.messages[0]
    assert isinstance(info.value, UserError)


def test_check_workflow_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "main.wdl"
    bad.write_text("version 1.0\nworkflow {\n")
    with pytest.raises(WorkflowCheckError):
        check_workflow(bad)


def test_check_workflow_strict_lint(tmp_path: Path) -> None:
    wdl = tmp_path / "main.wdl"
    wdl.write_text("version 1.0\nworkflow W {\n  input { Int n }\n  Int unused = 1\n}\n")
    assert any("UnusedDeclaration" in w for w in check_workflow(wdl))
    with pytest.raises(WorkflowCheckError):
        check_workflow(wdl, strict=True)


def test_workflow_dir_unknown_lists_available() -> None:
    with pytest.raises(UserError, match="bcftools-germline"):
        workflow_dir("no-such-workflow")
    assert workflow_dir("bcftools-germline") == WORKFLOWS_DIR / "bcftools-germline"
    assert "bcftools-germline" in workflows.available_workflows()


def test_workflows_dir_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(workflows.WORKFLOWS_DIR_ENV, str(tmp_path))
    assert workflows._find_workflows_dir() == tmp_path


@pytest.mark.parametrize("wdl", ALL_WDL, ids=lambda p: str(p.relative_to(WORKFLOWS_DIR)))
def test_every_wdl_passes_miniwdl_check(wdl: Path) -> None:
    check_workflow(wdl)


@pytest.mark.parametrize("wdl", MAIN_WDL, ids=lambda p: p.parent.name)
def test_every_workflow_is_healthomics_ready(wdl: Path) -> None:
    """Every task declares docker/cpu/memory; every workflow input is described; zip fits."""
    doc = WDL.load(str(wdl))
    tasks = list(doc.tasks) + [t for imp in doc.imports for t in imp.doc.tasks]
    for task in tasks:
        assert {"docker", "cpu", "memory"} <= set(task.runtime), task.name
    template = parameter_template(wdl)
    assert template and all(entry["description"] for entry in template.values())
    assert len(template) <= 2000
    package_workflow(wdl.parent)


def test_germline_workflow_interface() -> None:
    wdl = workflow_dir("bcftools-germline") / "main.wdl"
    wf = WDL.load(str(wdl)).workflow
    assert wf.name == "BcftoolsGermline"
    assert {o.name for o in wf.outputs} == GERMLINE_OUTPUTS
    assert all(str(o.type) == "File" for o in wf.outputs)
    template = parameter_template(wdl)
    required = {name for name, entry in template.items() if not entry["optional"]}
    assert required == {"fastq_1", "fastq_2", "reference", "sample_name"}
    assert {"bwa_image", "samtools_image", "bcftools_image"} <= set(template)
