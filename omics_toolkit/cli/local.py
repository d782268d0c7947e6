"""`omics-toolkit local start|status|stop`: the embedded local stack."""

from __future__ import annotations

from typing import Annotated

import typer

from omics_toolkit.cli.common import emit_json, err, out, state
from omics_toolkit.constants import DEFAULT_REGION

app = typer.Typer(
    help="The embedded local stack (moto + HealthOmics emulator) on loopback.", no_args_is_help=True
)


@app.command()
def start(
    ctx: typer.Context,
    new_customer: Annotated[
        bool | None,
        typer.Option(
            "--new-customer/--existing-customer",
            help="Act as an AWS account that is new since 2025-11-07: HealthOmics refuses to "
            "create variant and annotation stores (kept across restarts; default: unchanged).",
        ),
    ] = None,
) -> None:
    """Start the local stack in the background (no-op when it is already running)."""
    from omics_toolkit.local.stack import lifecycle

    st = state(ctx)
    record = lifecycle.start(st.settings.local_dir, region=st.settings.region or DEFAULT_REGION)
    if new_customer is not None:
        record["emulator_options"] = lifecycle.emulator_options(
            st.settings.local_dir, new_customer=new_customer
        )
    if st.json_output:
        emit_json(record)
        return
    out.print(
        f"local stack running (pid {record['pid']})\n  moto:  {record['moto']}\n  omics: {record['omics']}"
    )
    if record.get("not_restored"):
        err.print(
            f"[yellow]not restored from the previous run:[/yellow] {', '.join(record['not_restored'])}"
        )


@app.command()
def status(ctx: typer.Context) -> None:
    """Show whether the local stack runs, its endpoints and state directory."""
    from omics_toolkit.local.stack import lifecycle

    st = state(ctx)
    record = lifecycle.status(st.settings.local_dir)
    if st.json_output:
        emit_json(record)
        return
    if not record:
        out.print(f"local stack not running (state in {st.settings.local_dir})")
        raise typer.Exit(3)
    for key, value in record.items():
        out.print(f"{key:>12}: {value}")


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the local stack; its state is saved in the state directory."""
    from omics_toolkit.local.stack import lifecycle

    st = state(ctx)
    stopped = lifecycle.stop(st.settings.local_dir)
    out.print("local stack stopped" if stopped else "local stack was not running")


@app.command("archive-read-set")
def archive_read_set(
    ctx: typer.Context,
    read_set_ids: Annotated[list[str], typer.Argument(help="Read set ids to archive.")],
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="The sequence store holding the read sets (its id); default: the deployment's.",
        ),
    ] = None,
) -> None:
    """Archive read sets in the local emulator now, as HealthOmics does after 30 days unread.

    An archived read set has no S3 access until `omics-toolkit reads activate` activates it
    again; use this to try that path locally.
    """
    from omics_toolkit.cli.reads_cmd import reads_context
    from omics_toolkit.local.stack import lifecycle

    st = state(ctx)
    if store is None:
        store = reads_context(ctx).store_id
    records = lifecycle.archive_read_sets(st.settings.local_dir, store, read_set_ids)
    if st.json_output:
        emit_json({"readSets": records})
        return
    for record in records:
        out.print(f"{record['id']}: {record['status']}")
