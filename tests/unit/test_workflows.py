"""Workflow discovery, HealthOmics parameter templates, packaging and miniwdl checks."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import WDL
from typer.testing import CliRunner

from omics_toolkit import workflows
from omics_toolkit.cli.main import app
from omics_toolkit.errors import UserError
from omics_toolkit.provisioning.provision import PIPELINE_RUN_PARAMETERS
from omics_toolkit.workflows import (
    WORKFLOWS_DIR,
    WorkflowCheckError,
    build_package,
    check_workflow,
    content_digest,
    lint_workflows,
    package_workflow,
    parameter_template,
    resolve_main_wdl,
    resolve_workflow_dir,
    workflow_dir,
    workflow_name,
)

ALL_WDL = sorted(WORKFLOWS_DIR.glob("**/*.wdl"))
MAIN_WDL = sorted(WORKFLOWS_DIR.glob("*/main.wdl"))
GERMLINE_OUTPUTS = {"bam", "bam_index", "vcf", "vcf_index"}
GERMLINE_WORKFLOWS = ("bcftools-germline", "gatk-germline")

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
        "note": {"description": "String?", "optional": True},
        "flag": {"description": "Boolean", "optional": True},  # no parameter_meta: its type
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
    # task libraries (tasks/*.wdl) have no workflow section; entry points must have one
    assert check_workflow(wdl, require_workflow=wdl.name == "main.wdl") == []


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


def _undescribed_inputs(task: WDL.Tree.Task) -> list[str]:
    return [d.name for d in task.inputs or [] if d.name not in (task.parameter_meta or {})]


@pytest.mark.parametrize("wdl", MAIN_WDL, ids=lambda p: p.parent.name)
def test_every_task_input_is_described(wdl: Path) -> None:
    doc = WDL.load(str(wdl))
    tasks = list(doc.tasks) + [t for imp in doc.imports for t in imp.doc.tasks]
    assert len(tasks) >= 5
    undescribed = {t.name: _undescribed_inputs(t) for t in tasks}
    assert {name: missing for name, missing in undescribed.items() if missing} == {}


@pytest.mark.parametrize("wdl", MAIN_WDL, ids=lambda p: p.parent.name)
def test_parameter_template_matches_the_wdl_inputs(wdl: Path) -> None:
    """Names and optional flags, computed independently through miniwdl's input bindings."""
    wf = WDL.load(str(wdl)).workflow
    required = {b.name for b in wf.required_inputs if "." not in b.name}
    available = {b.name for b in wf.available_inputs if "." not in b.name}
    template = parameter_template(wdl)
    assert set(template) == available
    assert {name for name, entry in template.items() if not entry["optional"]} == required


def _interface(name: str) -> tuple[dict[str, str], dict[str, str]]:
    wf = WDL.load(str(workflow_dir(name) / "main.wdl")).workflow
    inputs = {d.name: str(d.type) for d in wf.inputs or []}
    outputs = {d.name: str(d.type) for d in wf.outputs or []}
    return inputs, outputs


@pytest.mark.parametrize(
    ("name", "workflow", "required", "images"),
    [
        (
            "bcftools-germline",
            "BcftoolsGermline",
            # fastq_1/fastq_2 default to [] since the aligned_reads input (issue 17)
            {"reference", "sample_name"},
            {"bwa_image", "samtools_image", "bcftools_image"},
        ),
        (
            "gatk-germline",
            "GatkGermline",
            {"fastq_1", "fastq_2", "reference", "sample_name"}
            | {"known_sites_vcfs", "known_sites_indices"},
            {"gatk_image", "bwa_image", "samtools_image"},
        ),
    ],
)
def test_germline_workflow_interface(
    name: str, workflow: str, required: set[str], images: set[str]
) -> None:
    wdl = workflow_dir(name) / "main.wdl"
    wf = WDL.load(str(wdl)).workflow
    assert wf.name == workflow
    assert {o.name for o in wf.outputs} == GERMLINE_OUTPUTS
    assert all(str(o.type) == "File" for o in wf.outputs)
    assert wf.meta.get("description")
    template = parameter_template(wdl)
    required_inputs = {n for n, entry in template.items() if not entry["optional"]}
    assert required_inputs == required
    assert images <= set(template)
    defaults = {d.name: d.expr.literal.value for d in wf.inputs if d.name in images}
    assert all(v.startswith("quay.io/biocontainers/") for v in defaults.values()), defaults


def test_gatk_shares_the_pipeline_interface_with_bcftools() -> None:
    """The state machine sets the same inputs and imports the same outputs, whichever runs."""
    bcf_inputs, bcf_outputs = _interface("bcftools-germline")
    gatk_inputs, gatk_outputs = _interface("gatk-germline")
    assert PIPELINE_RUN_PARAMETERS <= set(bcf_inputs)
    shared = {n: bcf_inputs[n] for n in PIPELINE_RUN_PARAMETERS}
    assert shared == {
        "fastq_1": "Array[File]",
        "fastq_2": "Array[File]",
        "read_groups": "Array[String]?",
        "reference": "File",
        "sample_name": "String",
    }
    assert {n: gatk_inputs[n] for n in PIPELINE_RUN_PARAMETERS} == shared
    assert gatk_outputs == bcf_outputs == dict.fromkeys(GERMLINE_OUTPUTS, "File")
    assert gatk_inputs["known_sites_vcfs"] == gatk_inputs["known_sites_indices"] == "Array[File]"
    assert gatk_inputs["calling_intervals"] == "File?"


def _upstream_calls(wf: WDL.Tree.Workflow) -> dict[str, set[str]]:
    """Call name -> names of the calls it waits for, directly or through scatters."""
    nodes: dict[str, WDL.Tree.WorkflowNode] = {d.workflow_node_id: d for d in wf.inputs or []}
    parent: dict[str, str] = {}

    def index(body: list[WDL.Tree.WorkflowNode], section: str | None) -> None:
        for node in body:
            nodes[node.workflow_node_id] = node
            if section:
                parent[node.workflow_node_id] = section
            if isinstance(node, WDL.Tree.WorkflowSection):
                index(node.body, node.workflow_node_id)
                for gather in node.gathers.values():
                    nodes[gather.workflow_node_id] = gather

    index(wf.body, None)
    upstream: dict[str, set[str]] = {}
    for node_id, node in nodes.items():
        if not isinstance(node, WDL.Tree.Call):
            continue
        seen: set[str] = set()
        stack = [node_id]
        while stack:
            current = stack.pop()
            deps = set(nodes[current].workflow_node_dependencies)
            deps |= {parent[current]} if current in parent else set()
            for dep in deps - seen:
                seen.add(dep)
                if dep in nodes:
                    stack.append(dep)
        upstream[node.name] = {nodes[d].name for d in seen if d.startswith("call-")}
    return upstream


def _calls_gatk(call: WDL.Tree.Call) -> bool:
    text = "".join(p for p in call.callee.command.parts if isinstance(p, str))
    return re.search(r"^\s*gatk\b", text, re.MULTILINE) is not None


def test_gatk_germline_runs_gatk_first() -> None:
    """Every call that waits for no other call runs gatk: without GATK the run fails at once."""
    wf = WDL.load(str(workflow_dir("gatk-germline") / "main.wdl")).workflow
    upstream = _upstream_calls(wf)
    calls = {c.name: c for c in _all_calls(wf.body)}
    assert set(upstream) == set(calls) and len(calls) >= 10
    roots = sorted(name for name, deps in upstream.items() if not deps)
    assert roots == ["CreateSequenceDictionary", "FastqToSam"]
    assert all(_calls_gatk(calls[name]) for name in roots)
    # the tools of the brief, in this order along the dependency chain
    assert upstream["BwaMem"] >= {"FastqToSam", "IndexReference"}
    assert "BwaMem" in upstream["MergeBamAlignment"]
    assert "MergeBamAlignment" in upstream["MarkDuplicates"]
    assert "MarkDuplicates" in upstream["SortAndIndex"]
    assert "BaseRecalibrator" in upstream["ApplyBQSR"]
    assert {"ApplyBQSR", "SplitIntervals"} <= upstream["HaplotypeCaller"]
    assert "HaplotypeCaller" in upstream["MergeVcfs"]


def _all_calls(body: list[WDL.Tree.WorkflowNode]) -> list[WDL.Tree.Call]:
    calls = []
    for node in body:
        if isinstance(node, WDL.Tree.Call):
            calls.append(node)
        elif isinstance(node, WDL.Tree.WorkflowSection):
            calls += _all_calls(node.body)
    return calls


def test_gatk_bwa_mem_settings() -> None:
    doc = WDL.load(str(workflow_dir("gatk-germline") / "main.wdl"))
    tasks = {t.name: t for imp in doc.imports for t in imp.doc.tasks}
    command = "".join(p for p in tasks["BwaMem"].command.parts if isinstance(p, str))
    assert "bwa mem -K 100000000" in command and " -Y " in command
    assert "| samtools view" in command


# ------------------------------------------------------------------------------ lint / package


def test_resolve_main_wdl_accepts_names_files_and_directories(demo_dir: Path) -> None:
    assert resolve_main_wdl("gatk-germline") == WORKFLOWS_DIR / "gatk-germline" / "main.wdl"
    assert resolve_main_wdl(demo_dir) == demo_dir / "main.wdl"
    assert resolve_main_wdl(demo_dir / "tasks" / "lib.wdl") == demo_dir / "tasks" / "lib.wdl"
    assert resolve_workflow_dir(str(demo_dir)) == demo_dir
    with pytest.raises(UserError, match="no main.wdl"):
        resolve_main_wdl(demo_dir / "tasks")
    with pytest.raises(UserError, match="no such file"):
        resolve_main_wdl(demo_dir / "missing.wdl")
    with pytest.raises(UserError, match="is a file"):
        resolve_workflow_dir(demo_dir / "main.wdl")
    with pytest.raises(UserError, match="available: .*gatk-germline"):
        resolve_workflow_dir("no-such-workflow")


def test_lint_workflows_defaults_to_every_shipped_workflow() -> None:
    results = lint_workflows()
    assert [r.path for r in results] == MAIN_WDL
    assert all(r.passed(strict=True) for r in results), [r.as_dict() for r in results]


def test_lint_task_library_needs_no_workflow_but_main_does(demo_dir: Path) -> None:
    (library,) = lint_workflows([str(demo_dir / "tasks" / "lib.wdl")])
    assert library.passed(strict=True)
    (demo_dir / "main.wdl").write_text(LIB_WDL)
    (entry,) = lint_workflows([str(demo_dir)])
    assert not entry.passed() and "no workflow section" in entry.errors[0]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_lint_exit_codes(tmp_path: Path, demo_dir: Path) -> None:
    broken = tmp_path / "broken.wdl"
    broken.write_text(
        "version 1.0\nworkflow Bad {\n  input { Int n }\n  output { String s = undefined_x }\n}\n"
    )
    warned = tmp_path / "warned.wdl"
    warned.write_text("version 1.0\nworkflow W {\n  input { Int n }\n  Int unused = 1\n}\n")

    assert _cli("workflows", "lint")[0] == 0
    assert _cli("workflows", "lint", "--strict", "gatk-germline")[0] == 0
    assert _cli("workflows", "lint", "gatk-germline", str(demo_dir))[0] == 0  # warnings only

    code, text = _cli("workflows", "lint", str(broken), "gatk-germline")
    assert code == 1
    assert f"{broken}:4:" in text and "undefined_x" in text and "FAILED" in text

    code, text = _cli("workflows", "lint", str(warned))
    assert code == 0 and "UnusedDeclaration" in text
    assert _cli("workflows", "lint", "--strict", str(warned))[0] == 1

    code, text = _cli("--json", "workflows", "lint", str(warned), str(broken))
    assert code == 1
    report = json.loads(text)
    assert [(Path(r["path"]).name, r["passed"]) for r in report] == [
        ("warned.wdl", True),
        ("broken.wdl", False),
    ]
    assert report[0]["errors"] == [] and "UnusedDeclaration" in report[0]["warnings"][0]
    assert ":4:" in report[1]["errors"][0]


def test_package_over_definition_zip_limit_needs_definition_uri(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = len(package_workflow(demo_dir))
    assert build_package(demo_dir).definition == "definitionZip"
    monkeypatch.setattr(workflows, "DEFINITION_ZIP_MAX_BYTES", size - 1)
    pkg = build_package(demo_dir)  # no longer an error: the caller uploads it to S3
    assert pkg.definition == "definitionUri" and pkg.size == size
    assert pkg.files == ("main.wdl", "tasks/lib.wdl")
    assert pkg.digest == content_digest(pkg.data)

    code, text = _cli("workflows", "package", str(demo_dir))
    assert code == 0 and "needs definitionUri" in text and pkg.digest in text


def test_package_over_definition_uri_limit_is_an_error(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = len(package_workflow(demo_dir))
    monkeypatch.setattr(workflows, "DEFINITION_URI_MAX_BYTES", size - 1)
    with pytest.raises(UserError, match="definitionUri"):
        package_workflow(demo_dir)


def test_package_command_writes_zip_and_template(tmp_path: Path) -> None:
    zip_path, template_path = tmp_path / "gatk.zip", tmp_path / "template.json"
    code, text = _cli(
        "--json",
        "workflows",
        "package",
        "gatk-germline",
        "--out",
        str(zip_path),
        "--template",
        str(template_path),
    )
    assert code == 0
    report = json.loads(text)
    data = zip_path.read_bytes()
    assert data == package_workflow(workflow_dir("gatk-germline"))
    assert report["sha256"] == content_digest(data) and report["size_bytes"] == len(data)
    assert report["files"] == ["main.wdl", "tasks/gatk.wdl"]
    assert report["definition"] == "definitionZip"
    template = json.loads(template_path.read_text())
    assert template == parameter_template(workflow_dir("gatk-germline") / "main.wdl")
    assert template["known_sites_vcfs"]["optional"] is False
    assert template["scatter_count"]["optional"] is True


@pytest.mark.parametrize("name", ["bcftools-germline", "gatk-germline"])
def test_parameter_descriptions_fit_createworkflow(name: str) -> None:
    """CreateWorkflow refuses a parameterTemplate description over 256 characters
    (WorkflowParameterDescription, botocore omics model): a long parameter_meta text fails
    provisioning (found when the aligned_reads input was added)."""
    template = parameter_template(workflow_dir(name) / "main.wdl")
    too_long = {
        n: len(e["description"]) for n, e in template.items() if len(e["description"]) > 256
    }
    assert too_long == {}
