"""``omics-toolkit access grant|revoke|list``: read access to the deployment's tables for other
people, through Lake Formation (core: :mod:`omics_toolkit.access`)."""

from __future__ import annotations

from typing import Annotated

import typer

from omics_toolkit.cli.common import emit_json, err, out, state, table

app = typer.Typer(
    help="Who may query the deployment's tables (Lake Formation grants).",
    no_args_is_help=True,
)

Principal = Annotated[
    str | None,
    typer.Option(
        "--principal",
        help="IAM role or user ARN (with its path), SAML or IAM Identity Center user/group ARN, "
        "or account id; default: you (an assumed role's session counts as the role).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]


@app.command("grant")
def grant(ctx: typer.Context, principal: Principal = None, json_output: Json = False) -> None:
    """Let PRINCIPAL read the variant and annotation tables (DESCRIBE, SELECT)."""
    from omics_toolkit.access import grant_access
    from omics_toolkit.aws.session import make_context

    settings = state(ctx).settings
    result = grant_access(make_context(settings), settings, principal)
    if json_output or state(ctx).json_output:
        emit_json(result.to_dict())
        return
    if not result.changed:
        out.print(f"{result.principal} can already read {result.deployment}'s tables; unchanged")
        return
    err.print(f"granted {result.principal} read access to {result.deployment} ({result.backend}):")
    for name in result.changed:
        out.print(f"  {name}")


@app.command("revoke")
def revoke(ctx: typer.Context, principal: Principal = None, json_output: Json = False) -> None:
    """Take PRINCIPAL's read access to the tables away."""
    from omics_toolkit.access import revoke_access
    from omics_toolkit.aws.session import make_context

    settings = state(ctx).settings
    result = revoke_access(make_context(settings), settings, principal)
    if json_output or state(ctx).json_output:
        emit_json(result.to_dict())
        return
    if not result.changed:
        out.print(
            f"{result.principal} had no access to {result.deployment}'s tables; nothing revoked"
        )
        return
    err.print(f"revoked {result.principal}'s access to {result.deployment} ({result.backend}):")
    for name in result.changed:
        out.print(f"  {name}")


@app.command("list")
def list_(ctx: typer.Context, json_output: Json = False) -> None:
    """Principals and their permissions on the deployment's tables."""
    from omics_toolkit.access import list_access
    from omics_toolkit.aws.session import make_context

    settings = state(ctx).settings
    rows = list_access(make_context(settings), settings)
    if json_output or state(ctx).json_output:
        emit_json([r.to_dict() for r in rows])
        return
    if not rows:
        out.print("nobody holds Lake Formation permissions on the deployment's tables")
        return
    table(
        "lake formation access",
        ["principal", "table", "permissions"],
        [[r.principal, r.table, "+".join(r.permissions)] for r in rows],
    )
