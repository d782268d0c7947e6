"""``omics-toolkit workflows lint|package|register|list``: the WDL workflows and their HealthOmics copies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from omics_toolkit.cli.common import emit_json, err, out, print_action, state

app = typer.Typer(
    help="WDL workflows: check them, package them for HealthOmics, register and list them.",
    no_args_is_help=True,
)


@app.command()
def lint(
    ctx: typer.Context,
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Workflow names, .wdl files or directories with main.wdl (default: all shipped).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Lint warnings fail too.")] = False,
) -> None:
    """Load, type-check and lint WDL with miniwdl (and shellcheck, when installed).

    Exit status 1 when a document has an error (or, with --strict, a warning).
    """
    from omics_toolkit.workflows import lint_workflows

    results = lint_workflows(targets)
    failed = [r for r in results if not r.passed(strict)]
    if state(ctx).json_output:
        emit_json([{**r.as_dict(), "passed": r.passed(strict)} for r in results])
    else:
        for r in results:
            verdict = "[green]ok[/green]" if r.passed(strict) else "[red]FAILED[/red]"
            counts = f"{len(r.errors)} error(s), {len(r.warnings)} warning(s)"
            out.print(f"{verdict} {r.path}: {counts}", highlight=False)
            for message in r.errors:
                out.print(f"  error: {message}", markup=False, highlight=False)
            for message in r.warnings:
                out.print(f"  warning: {message}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def package(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Workflow name or directory with main.wdl.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the zip here (FILE.zip).")
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option("--template", help="Write the HealthOmics parameterTemplate here (JSON)."),
    ] = None,
) -> None:
    """Package main.wdl and its imports as the deterministic zip HealthOmics is sent.

    Shows its size, sha256 digest and files, and whether it fits CreateWorkflow definitionZip
    (4.4 MB) or must go through S3 as definitionUri (up to 100 MB).
    """
    from omics_toolkit import workflows

    directory = workflows.resolve_workflow_dir(target)
    pkg = workflows.build_package(directory)
    if out_file is not None:
        out_file.write_bytes(pkg.data)
        err.print(f"wrote {out_file} ({pkg.size:,} bytes)", highlight=False)
    params: dict[str, Any] | None = None
    if template is not None:
        params = workflows.parameter_template(directory / workflows.MAIN_WDL)
        template.write_text(json.dumps(params, indent=2) + "\n")
        err.print(f"wrote {template} ({len(params)} parameters)", highlight=False)
    if state(ctx).json_output:
        emit_json(
            {
                **pkg.as_dict(),
                "out": str(out_file) if out_file else None,
                "template": str(template) if template else None,
            }
        )
        return
    limit = workflows.DEFINITION_ZIP_MAX_BYTES
    if pkg.definition == "definitionZip":
        fits = f"fits definitionZip (<= {limit:,} bytes)"
    else:
        fits = (
            f"over the {limit:,}-byte definitionZip limit: needs definitionUri (an S3 zip, <= "
            f"{workflows.DEFINITION_URI_MAX_BYTES:,} bytes); `workflows register` uploads it "
            "to the deployment's output bucket"
        )
    _fields(
        [
            ("workflow", str(directory)),
            ("size", f"{pkg.size:,} bytes"),
            ("sha256", pkg.digest),
            ("files", ", ".join(pkg.files)),
            ("definition", fits),
        ]
    )


def _fields(rows: list[tuple[str, str]]) -> None:
    """``name: value`` lines on stdout, never cut (digests must stay whole for copy and paste)."""
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        out.print(f"{name + ':':<{width}}{value}", markup=False, highlight=False, soft_wrap=True)


def _columns(headers: list[str], rows: list[list[str]]) -> None:
    """Space-aligned columns on stdout, never cut or wrapped (ids and versions stay whole)."""
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *rows, strict=True)]
    for row in [headers, *rows]:
        line = "  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=True)).rstrip()
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def _context(ctx: typer.Context) -> Any:
    from omics_toolkit.aws.session import make_context

    return make_context(state(ctx).settings)


@app.command()
def register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Workflow name (directory under workflows/).")],
) -> None:
    """Register a workflow in the deployment: created the first time, a new version when its
    content digest changed, unchanged otherwise.

    The pipeline keeps starting the configured workflow (setting `workflow`); to make it run
    this one, set workflow = NAME and run `omics-toolkit provision`.
    """
    from omics_toolkit.workflow_registry import register_workflow

    st = state(ctx)
    reg = register_workflow(
        _context(ctx),
        st.settings,
        name,
        report=None if st.json_output else print_action,
    )
    if st.json_output:
        emit_json(reg.as_dict())
        return
    status = {"create": "created", "create version": "new version"}.get(reg.action, reg.action)
    _fields(
        [
            ("workflow", f"{reg.name} ({reg.workflow})"),
            ("id", reg.workflow_id),
            ("version", reg.version or "- (the workflow's own definition)"),
            ("status", status),
            ("digest", reg.digest or "-"),
            ("zip sha256", reg.zip_sha256),
            ("definition", reg.definition),
        ]
    )
    if reg.pipeline is not None and not reg.started_by_pipeline:
        running = reg.pipeline.workflow_id or "?"
        if reg.pipeline.version:
            running += f" version {reg.pipeline.version}"
        err.print(
            f"the pipeline starts workflow {running}; to run {reg.workflow} instead, set "
            f'workflow = "{reg.workflow}" and run `omics-toolkit provision`',
            highlight=False,
        )


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The deployment's HealthOmics workflows and versions, and which one the pipeline starts."""
    from omics_toolkit.workflow_registry import list_workflows

    st = state(ctx)
    entries, pipeline = list_workflows(_context(ctx), st.settings)
    if st.json_output:
        emit_json(
            {
                "workflows": [e.as_dict() for e in entries],
                "pipeline": None
                if pipeline is None
                else {
                    "state_machine_arn": pipeline.state_machine_arn,
                    "workflow_id": pipeline.workflow_id,
                    "version": pipeline.version,
                },
            }
        )
        return
    if not entries:
        out.print(
            f"no workflows in deployment {st.settings.deployment!r}; "
            "`omics-toolkit provision` or `omics-toolkit workflows register NAME` makes one"
        )
        return
    _columns(
        ["WORKFLOW", "ID", "VERSION", "STATUS", "CREATED", "DIGEST", "PIPELINE"],
        [
            [
                e.workflow,
                e.workflow_id,
                e.version or "-",
                e.status,
                e.created.strftime("%Y-%m-%d %H:%M:%S") if e.created else "-",
                (e.digest or "-")[:16],
                "runs" if e.pipeline else "",
            ]
            for e in entries
        ],
    )
    if pipeline is None:
        err.print(f"deployment {st.settings.deployment!r} has no pipeline state machine")
