"""The toolkit's WDL workflows: where they live, their HealthOmics parameter template, packaging.

Each workflow is a directory ``workflows/<name>/`` whose entry point is ``main.wdl`` (the
``main`` of HealthOmics CreateWorkflow). Everything here reads WDL through miniwdl (``WDL.load``),
so what HealthOmics is sent is exactly what ``miniwdl check`` accepted.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import WDL
import WDL.Lint

from omics_toolkit.errors import UserError
from omics_toolkit.ziputil import deterministic_zip

logger = logging.getLogger(__name__)

MAIN_WDL = "main.wdl"
WORKFLOWS_DIR_ENV = "OMICS_TOOLKIT_WORKFLOWS_DIR"
#: CreateWorkflow ``definitionZip`` limit (HealthOmics quotas: 4.4 MB); larger -> definitionUri.
DEFINITION_ZIP_MAX_BYTES = 4_400_000
#: Largest workflow definition HealthOmics accepts from S3 as ``definitionUri`` (quota: 100 MB).
DEFINITION_URI_MAX_BYTES = 100_000_000

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


def resolve_main_wdl(name_or_path: str | Path) -> Path:
    """The WDL document a user named: a shipped workflow's name, a ``.wdl`` file, or a directory
    holding ``main.wdl``.

    Raises:
        UserError: it is none of these; the message lists the available workflow names.
    """
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / MAIN_WDL).is_file():
            return path / MAIN_WDL
        raise UserError(f"{path} has no {MAIN_WDL}; name its entry point .wdl file instead")
    if str(name_or_path).endswith(".wdl") or os.sep in str(name_or_path):
        raise UserError(f"{path}: no such file or directory")
    return workflow_dir(str(name_or_path)) / MAIN_WDL


def resolve_workflow_dir(name_or_dir: str | Path) -> Path:
    """Directory of a workflow given by name (``workflows/<name>``) or as a directory holding
    ``main.wdl`` (HealthOmics packages a directory: ``main.wdl`` and its imports).

    Raises:
        UserError: not a shipped workflow name nor a directory with ``main.wdl``.
    """
    path = Path(name_or_dir).expanduser()
    if path.is_dir():
        if not (path / MAIN_WDL).is_file():
            raise UserError(f"{path} has no {MAIN_WDL} (the entry point HealthOmics runs)")
        return path
    if path.is_file():
        raise UserError(f"{path} is a file; give the workflow directory holding {MAIN_WDL}")
    if os.sep in str(name_or_dir):
        raise UserError(f"{path}: no such directory")
    return workflow_dir(str(name_or_dir))


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


def _lint_warnings(doc: WDL.Tree.Document) -> list[str]:
    WDL.Lint.lint(doc)
    warnings = []
    for pos, linter, message, suppressed in WDL.Lint.collect(doc):
        if suppressed:
            continue
        name = getattr(linter, "__name__", str(linter))
        warnings.append(f"{pos.abspath or pos.uri}:{pos.line}:{pos.column}: {name}: {message}")
    return warnings


def check_workflow(
    main_wdl: Path, strict: bool = False, require_workflow: bool = True
) -> list[str]:
    """Run miniwdl's checker (load + type-check + lint) on a WDL document and its imports.

    Args:
        main_wdl: the document to check.
        strict: lint warnings are errors.
        require_workflow: the document must have a ``workflow`` (an entry point); ``False`` for
            task libraries that a ``main.wdl`` imports.

    Returns:
        The unsuppressed lint warnings as ``file:line:column: LinterName: message`` strings
        (shellcheck findings only if ``shellcheck`` is installed).

    Raises:
        WorkflowCheckError: the document does not load or type-check, has no workflow (with
            ``require_workflow``), or (with ``strict=True``) has any lint warning.
    """
    path = Path(main_wdl)
    doc = load_wdl(path)
    if require_workflow:
        _workflow(doc, path)
    warnings = _lint_warnings(doc)
    for warning in warnings:
        logger.warning("%s", warning)
    if strict and warnings:
        raise WorkflowCheckError(path, warnings)
    return warnings


@dataclass
class LintResult:
    """miniwdl's verdict on one WDL document (and its imports).

    Attributes:
        path: the document.
        errors: ``file:line:column: message`` of every load/type error (nothing else is checked
            when there is one).
        warnings: ``file:line:column: LinterName: message`` of every unsuppressed lint warning.
    """

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def passed(self, strict: bool = False) -> bool:
        """No error (and, when ``strict``, no warning)."""
        return not self.errors and not (strict and self.warnings)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "errors": self.errors, "warnings": self.warnings}


def lint_workflows(targets: list[str] | None = None) -> list[LintResult]:
    """Load, type-check and lint WDL documents with miniwdl (as ``miniwdl check`` does).

    Args:
        targets: workflow names, ``.wdl`` files or directories holding ``main.wdl``
            (see :func:`resolve_main_wdl`); default every shipped workflow. A workflow's imports
            are checked with it. A ``main.wdl`` must have a workflow section; any other ``.wdl``
            file may be a task library.

    Returns:
        One :class:`LintResult` per target, in order.

    Raises:
        UserError: a target is neither a workflow name nor an existing file or directory, or
            there are no shipped workflows to check.
    """
    if not targets:
        targets = available_workflows()
        if not targets:
            raise UserError(f"no workflows in {WORKFLOWS_DIR} (directories with {MAIN_WDL})")
    results = []
    for target in targets:
        path = resolve_main_wdl(target)
        result = LintResult(path)
        try:
            doc = load_wdl(path)
            if path.name == MAIN_WDL:
                _workflow(doc, path)
            result.warnings = _lint_warnings(doc)
        except WorkflowCheckError as exn:
            result.errors = exn.messages
        results.append(result)
    return results


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
    its WDL type (e.g. ``"Array[File]"``); ``optional`` is true when the input has a default or an optional (``?``) type.
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
            # WorkflowParameterDescription must not be empty (botocore model: min length 1):
            # without parameter_meta the description is the input's WDL type, as HealthOmics
            # derives it.
            "description": _meta_description(meta.get(decl.name)) or str(decl.type),
            "optional": decl.expr is not None or decl.type.optional,
        }
    return template


def input_choices(main_wdl: Path, name: str) -> tuple[Any, ...] | None:
    """The values a workflow input may take, from its ``parameter_meta`` entry's ``choices``.

    E.g. ``ploidy: {description: "...", choices: [1, 2]}`` gives ``(1, 2)``.

    Returns:
        The literal values in order; ``None`` when the input has no ``choices`` (or no such
        input is described).

    Raises:
        WorkflowCheckError: the document does not load or has no workflow.
    """
    path = Path(main_wdl)
    entry = (_workflow(load_wdl(path), path).parameter_meta or {}).get(name)
    if not isinstance(entry, dict) or not isinstance(entry.get("choices"), list):
        return None
    return tuple(getattr(v, "value", v) for v in entry["choices"])


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
    same :func:`content_digest`). For HealthOmics CreateWorkflow with ``main="main.wdl"``: as
    ``definitionZip`` up to :data:`DEFINITION_ZIP_MAX_BYTES`, else uploaded to S3 and passed as
    ``definitionUri`` (the caller decides; see :func:`fits_definition_zip`).

    Raises:
        WorkflowCheckError: ``main.wdl`` does not load.
        UserError: an import lies outside ``directory`` (HealthOmics resolves imports inside the
            zip only), or the zip exceeds :data:`DEFINITION_URI_MAX_BYTES`, the largest
            definition HealthOmics accepts at all.
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
    if len(data) > DEFINITION_URI_MAX_BYTES:
        raise UserError(
            f"workflow zip of {root} is {len(data):,} bytes, over the "
            f"{DEFINITION_URI_MAX_BYTES:,}-byte limit of a HealthOmics workflow definition "
            "(definitionUri); make the WDL files smaller (split out or drop embedded data)"
        )
    return data


def fits_definition_zip(zip_bytes: bytes) -> bool:
    """True when a packaged workflow can be sent inline as CreateWorkflow ``definitionZip``
    (at most :data:`DEFINITION_ZIP_MAX_BYTES`); otherwise it goes to S3 as ``definitionUri``."""
    return len(zip_bytes) <= DEFINITION_ZIP_MAX_BYTES


@dataclass(frozen=True)
class Package:
    """A packaged workflow (:func:`build_package`).

    Attributes:
        directory: the workflow directory.
        data: the zip's bytes.
        digest: :func:`content_digest` of ``data`` (sha256, hex).
        files: the zip's entry names (``main.wdl`` and its imports, sorted).
        definition: ``"definitionZip"`` (sent inline) or ``"definitionUri"`` (needs S3).
    """

    directory: Path
    data: bytes
    digest: str
    files: tuple[str, ...]
    definition: str

    @property
    def size(self) -> int:
        """Size of the zip, bytes."""
        return len(self.data)

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "size_bytes": self.size,
            "sha256": self.digest,
            "files": list(self.files),
            "definition": self.definition,
            "definition_zip_max_bytes": DEFINITION_ZIP_MAX_BYTES,
            "definition_uri_max_bytes": DEFINITION_URI_MAX_BYTES,
        }


def build_package(directory: Path) -> Package:
    """:func:`package_workflow` with its digest, entries and how HealthOmics must receive it.

    Raises:
        WorkflowCheckError, UserError: as :func:`package_workflow`.
    """
    data = package_workflow(directory)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = tuple(info.filename for info in archive.infolist())
    return Package(
        directory=Path(directory),
        data=data,
        digest=content_digest(data),
        files=files,
        definition="definitionZip" if fits_definition_zip(data) else "definitionUri",
    )


def content_digest(zip_bytes: bytes) -> str:
    """sha256 (hex, 64 characters) of a packaged workflow, for change detection and tags."""
    return hashlib.sha256(zip_bytes).hexdigest()
