"""`omics-toolkit` command line: thin commands over the core modules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from omics_toolkit import __version__
from omics_toolkit.cli import (
    access_cmd,
    annotations_cmd,
    commands,
    config_cmd,
    contigs_cmd,
    local,
    report_cmd,
    runs_cmd,
    workflows_cmd,
)
from omics_toolkit.cli.common import State, err
from omics_toolkit.config import resolve_settings
from omics_toolkit.errors import ToolkitError, UserError

app = typer.Typer(
    name="omics-toolkit",
    help="Stand up and run an AWS HealthOmics secondary-analysis pipeline (local stack by default).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(local.app, name="local")
app.add_typer(config_cmd.app, name="config")
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(annotations_cmd.app, name="annotations")
app.add_typer(workflows_cmd.app, name="workflows")
app.add_typer(access_cmd.app, name="access")
commands.register(app)
app.command()(contigs_cmd.contigs)
report_cmd.register(app)


def _version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", "-d", help="Deployment name (prefixes every resource)."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="'local' (embedded stack) or 'aws'.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region.")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS named profile (target aws).")] = None,
    config: Annotated[
        Path | None, typer.Option(help="Config file (default ./omics-toolkit.toml).")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON on stdout.")
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks for every error.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    settings, sources = resolve_settings(
        config, deployment=deployment, target=target, region=region, profile=profile
    )
    ctx.obj = State(settings=settings, json_output=json_output, debug=debug, sources=sources)


def run() -> None:
    """Console entry point: one line for user errors, a traceback (and a bug-report plea) otherwise."""
    debug = "--debug" in sys.argv
    try:
        result = app(standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)  # typer.Exit(n) is returned, not raised, without standalone mode
    except UserError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
    except ToolkitError as exc:
        from omics_toolkit.aws.errors import is_sdk_error

        if is_sdk_error(exc):  # an AWS error nobody handled: as any unexpected error
            _unexpected(exc, debug)
            raise
        if debug:
            raise
        err.print(f"[red]failed:[/red] {exc}")
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except Exception as exc:  # click usage errors come through here in standalone_mode=False
        # Usage errors (unknown option, bad value): click's ClickException, which typer >= 0.20
        # vendors as typer._click.exceptions.ClickException (a different class): duck-typed.
        if callable(getattr(exc, "show", None)) and isinstance(
            getattr(exc, "exit_code", None), int
        ):
            exc.show()
            sys.exit(exc.exit_code)
        _unexpected(exc, debug)
        raise


def _unexpected(exc: BaseException, debug: bool) -> None:
    """One line and exit 1 for SDK errors a user can fix; else the bug-report plea (caller re-raises)."""
    from omics_toolkit.aws.errors import user_message

    message = None if debug else user_message(exc)
    if message:
        err.print(f"[red]error:[/red] {message}")
        sys.exit(1)
    err.print(
        "[red]internal error[/red] (a bug in omics-toolkit: please report it with the traceback)"
    )
