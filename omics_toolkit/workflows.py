"""The toolkit's WDL workflows: where they live, their HealthOmics parameter template, packaging.

Each workflow is a directory ``workflows/<name>/`` whose entry point is ``main.wdl`` (the
``main`` of HealthOmics CreateWorkflow). Everything here reads WDL through miniwdl (``WDL.load``),
so what HealthOmics is sent is exactly what ``miniwdl check`` accepted.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import WDL
import WDL.Lint

from omics_toolkit.errors import UserError
from omics_toolkit.ziputil import deterministic_zip

logger = logging.getLogger(__name__)

MAIN_WDL = "main.wdl"
WORKFLOWS_DIR_ENV = "OMICS_TOOLKIT_WORKFLOWS_DIR"

_PACKAGE_DIR = Path(__file__).resolve().parent
_CANDIDATE_DIRS = (
    _PACKAGE_DIR / "_data" / "workflows",  # shipped as package data (wheel)
    _PACKAGE_DIR.parent / "workflows",  # source checkout / editable install
)


class WorkflowCheckError(UserError):
    """A WDL document failed to load or type-check.

    Attributes:
        path: the WDL document that was checked.
        messages: one ``file:line:column: message`` string per error.
    """

    def __init__(self, path: Path, messages: list[str]) -> None:
        super().__init__(f"{path} failed miniwdl check:\n" + "\n".join(messages))
        self.path = path
        self.messages = messages


def _find_workflows_dir() -> Path:
    override = os.environ.get(WORKFLOWS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    for candidate in _CANDIDATE_DIRS:
        if candidate.is_dir():
            return candidate
    return _CANDIDATE_DIRS[-1]


WORKFLOWS_DIR: Path = _find_workflows_dir()
"""Directory holding ``<name>/main.wdl``: ``$OMICS_TOOLKIT_WORKFLOWS_DIR``, else the package data
copy ``omics_toolkit/_data/workflows``, else the repository's ``workflows/``."""


def available_workflows() -> list[str]:
    """Names of the workflow directories (those with a ``main.wdl``), sorted."""
    if not WORKFLOWS_DIR.is_dir():
        return []
    return sorted(p.parent.name for p in WORKFLOWS_DIR.glob(f"*/{MAIN_WDL}"))


def workflow_dir(name: str) -> Path:
    """Directory of workflow ``name`` (e.g. ``"bcftools-germline"``).

    Raises:
        UserError: no ``<WORKFLOWS_DIR>/<name>/main.wdl``; the message lists the available names.
    """
    path = WORKFLOWS_DIR / name
    if not (path / MAIN_WDL).is_file():
        names = ", ".join(available_workflows()) or "none"
        raise UserError(f"unknown workflow {name!r} (no {path / MAIN_WDL}); available: {names}")
    return path


def _format_error(exn: BaseException) -> str:
    pos = getattr(exn, "pos", None)
    if pos is not None:
        return f"{pos.abspath or pos.uri}:{pos.line}:{pos.column}: {exn}"
    return str(exn)


def load_wdl(main_wdl: Path) -> WDL.Tree.Document:
    """Load, parse and type-check a WDL document and its imports with miniwdl.

    Raises:
        WorkflowCheckError: syntax, import or validation errors (every one of them).
    """
    path = Path(main_wdl)
    try:
        return WDL.load(str(path), check_quant=True)
    except WDL.Error.MultipleValidationErrors as exn:
        raise WorkflowCheckError(path, [_format_error(e) for e in exn.exceptions]) from exn
    except (WDL.Error.SyntaxError, WDL.Error.ImportError, WDL.Error.ValidationError) as exn:
        raise WorkflowCheckError(path, [_format_error(exn)]) from exn
    except FileNotFoundError as exn:
        raise WorkflowCheckError(path, [f"{path}: file not found"]) from exn


def _workflow(doc: WDL.Tree.Document, path: Path) -> WDL.Tree.Workflow:
    if doc.workflow is None:
        raise WorkflowCheckError(path, [f"{path}: document has no workflow section"])
    return doc.workflow


def check_workflow(main_wdl: Path, strict: bool = False) -> list[str]:
    """Run miniwdl's checker (load + type-check + lint) on a WDL document and its imports.

    Returns:
        The unsuppressed lint warnings as ``file:line:column: LinterName: message`` strings
        (shellcheck findings only if ``shellcheck`` is installed).

    Raises:
        WorkflowCheckError: the document does not load or type-check, has no workflow, or (with
            ``strict=True``) has any lint warning.
    """
    path = Path(main_wdl)
    doc = load_wdl(path)
    _workflow(doc, path)
    WDL.Lint.lint(doc)
    warnings = []
    for pos, linter, message, suppressed in WDL.Lint.collect(doc):
        if suppressed:
            continue
        name = getattr(linter, "__name__", str(linter))
        warnings.append(f"{pos.abspath or pos.uri}:{pos.line}:{pos.column}: {name}: {message}")
    for warning in warnings:
        logger.warning("%s", warning)
    if strict and warnings:
        raise WorkflowCheckError(path, warnings)
    return warnings


def workflow_name(main_wdl: Path) -> str:
    """Name of the WDL ``workflow`` (the prefix of ``<Workflow>.<input>`` keys).

    Raises:
        WorkflowCheckError: the document does not load or has no workflow.
    """
    path = Path(main_wdl)
    return _workflow(load_wdl(path), path).name


def _meta_description(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("description", "help"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return ""


def parameter_template(main_wdl: Path) -> dict[str, dict[str, Any]]:
    """HealthOmics ``parameterTemplate`` for a WDL workflow's inputs.

    One entry per declaration in the workflow's ``input {}`` section (call inputs are not run
    parameters on HealthOmics):
    ``{name: {"description": str, "optional": bool}}``. ``description`` is the input's
    ``parameter_meta`` string (or its ``description`` key when the entry is an object), else
    ``""``; ``optional`` is true when the input has a default or an optional (``?``) type.
    Source: CreateWorkflow ``parameterTemplate`` (map of WorkflowParameter, at most 2000 entries).

    Raises:
        WorkflowCheckError: the document does not load or has no workflow.
    """
    path = Path(main_wdl)
    wf = _workflow(load_wdl(path), path)
    meta = wf.parameter_meta or {}
    template: dict[str, dict[str, Any]] = {}
    for decl in wf.inputs or []:
        template[decl.name] = {
            "description": _meta_description(meta.get(decl.name)),
            "optional": decl.expr is not None or decl.type.optional,
        }
    return template


def _collect_documents(doc: WDL.Tree.Document, seen: dict[str, WDL.Tree.Document]) -> None:
    abspath = os.path.abspath(doc.pos.abspath)
    if abspath in seen:
        return
    seen[abspath] = doc
    for imported in doc.imports:
        if imported.doc is not None:
            _collect_documents(imported.doc, seen)


def wdl_files(main_wdl: Path) -> list[Path]:
    """``main_wdl`` and every WDL it imports, transitively, as absolute paths (main first).

    Raises:
        WorkflowCheckError: the document does not load.
    """
    seen: dict[str, WDL.Tree.Document] = {}
    _collect_documents(load_wdl(Path(main_wdl)), seen)
    return [Path(p) for p in seen]


def package_workflow(directory: Path) -> bytes:
    """Deterministic zip of ``directory/main.wdl`` and every WDL it imports.

    Entries are named relative to ``directory``, sorted, with fixed timestamp (1980-01-01),
    permissions (0644) and deflate level, so the same sources always give the same bytes (and the
    same :func:`content_digest`). Suitable for HealthOmics CreateWorkflow ``definitionZip`` with
    ``main="main.wdl"``.

    Raises:
        WorkflowCheckError: ``main.wdl`` does not load.
        UserError: an import lies outside ``directory`` (HealthOmics resolves imports inside the
            zip only), or the zip exceeds the 4.4 MB ``definitionZip`` limit.
    """
    root = Path(directory).resolve()
    files = wdl_files(root / MAIN_WDL)
    entries: dict[str, Path] = {}
    for path in files:
        real = path.resolve()
        if not real.is_relative_to(root):
            raise UserError(
                f"{path} is imported by {root / MAIN_WDL} but lies outside {root}; "
                "move it into the workflow directory"
            )
        entries[real.relative_to(root).as_posix()] = real

    data = deterministic_zip((name, path.read_bytes()) for name, path in entries.items())
    if len(data) > 4_400_000:
        raise UserError(
            f"workflow zip of {root} is {len(data)} bytes, over the 4.4 MB definitionZip limit; "
            "upload it to S3 and use definitionUri"
        )
    return data


def content_digest(zip_bytes: bytes) -> str:
    """sha256 (hex, 64 characters) of a packaged workflow, for change detection and tags."""
    return hashlib.sha256(zip_bytes).hexdigest()
