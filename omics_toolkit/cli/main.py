"""`omics-toolkit` command line: thin commands over the core modules."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from omics_toolkit import __version__
from omics_toolkit.cli import (
    access_cmd,
    annotations_cmd,
    commands,
    config_cmd,
    contigs_cmd,
    local,
    reads_cmd,
    report_cmd,
    results_cmd,
    runs_cmd,
    workflows_cmd,
)
from omics_toolkit.cli.common import State, err
from omics_toolkit.config import resolve_settings
from omics_toolkit.errors import AwsError, NotProvisionedError, ToolkitError

app = typer.Typer(
    name="omics-toolkit",
    help="Stand up and run an AWS HealthOmics secondary-analysis pipeline (local stack by default).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # plain help (click's): paragraphs re-wrapped to the width, <name> placeholders kept
    rich_markup_mode=None,
    add_completion=False,
)
app.add_typer(local.app, name="local")
app.add_typer(config_cmd.app, name="config")
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(annotations_cmd.app, name="annotations")
app.add_typer(workflows_cmd.app, name="workflows")
app.add_typer(access_cmd.app, name="access")
app.add_typer(reads_cmd.app, name="reads")
app.add_typer(results_cmd.app, name="results")
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
    global _state
    ctx.obj = _state = State(
        settings=settings, json_output=json_output, debug=debug, sources=sources
    )


#: The running command's state, for the error boundary (the click context is gone by then).
_state: State | None = None


def run() -> None:
    """Console entry point: the one error boundary of every command.

    Whatever a user can cause (bad input, no deployment, the local stack stopped, an endpoint
    refusing connections or answering HTML, missing/expired credentials, throttling, access
    denied: every toolkit, AWS SDK and file error) prints one ``error:`` line on stderr saying
    what happened and what to do, and exits 1. Anything else is a bug: a traceback and a plea to
    report it. ``--debug`` re-raises every error with its traceback.
    """
    global _state
    _state = None
    debug = "--debug" in sys.argv
    if not debug:
        # PyAthena logs a failed query with its traceback before raising; the raised error is
        # what the boundary reports.
        logging.getLogger("pyathena").setLevel(logging.CRITICAL)
    try:
        result = app(standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)  # typer.Exit(n) is returned, not raised, without standalone mode
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
        if debug:
            raise
        message = failure_message(exc, _state)
        if message is not None:
            err.print(Text.assemble(("error:", "red"), " ", message))
            sys.exit(1)
        err.print(
            "[red]internal error[/red] (a bug in omics-toolkit: please report it with the traceback)"
        )
        raise


def failure_message(exc: BaseException, st: State | None) -> str | None:
    """The ``error:`` line's text for a failure a user can cause or fix, ``None`` for a bug.

    - An AWS error saying a resource does not exist, also wrapped (boto3's
      ``S3UploadFailedError``, PyAthena's ``DatabaseError``, a toolkit error raised from it), when
      the deployment's state machine does not exist either:
      :class:`~omics_toolkit.errors.NotProvisionedError`.
    - :class:`~omics_toolkit.errors.ToolkitError` raised by the toolkit: its message.
    - Every other AWS error, wrapped or not: :func:`omics_toolkit.aws.errors.user_message`.
    - ``OSError`` about a named file (a path the user gave): ``strerror: filename``.
    """
    from omics_toolkit.aws.errors import says_missing, sdk_cause, user_message

    cause = sdk_cause(exc)
    if cause is not None and st is not None and says_missing(cause):
        missing = _not_provisioned(st)
        if missing is not None:
            return str(missing)
    if isinstance(exc, ToolkitError) and not isinstance(exc, AwsError):
        return str(exc)  # raised on purpose, worded for the user (also when it wraps an AWS error)
    if cause is not None:
        return user_message(cause)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return None


def _not_provisioned(st: State) -> NotProvisionedError | None:
    """The not-provisioned error when the deployment's state machine is missing too, else ``None``
    (the deployment exists: the missing resource is something else, e.g. a run id)."""
    from omics_toolkit.aws.session import make_context
    from omics_toolkit.provisioning.core import is_provisioned

    try:
        aws = make_context(st.settings)
        if is_provisioned(aws, st.settings):
            return None
        return NotProvisionedError(st.settings.deployment, st.settings.target, aws.region)
    except Exception:  # noqa: BLE001 - the probe only refines the message of the first error
        return None
