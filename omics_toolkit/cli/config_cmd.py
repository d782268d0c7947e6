"""`omics-toolkit config show`: the effective settings and where each came from."""

from __future__ import annotations

from dataclasses import fields

import typer

from omics_toolkit.cli.common import emit_json, state, table

app = typer.Typer(help="Inspect the toolkit's settings.", no_args_is_help=True)


@app.command()
def show(ctx: typer.Context) -> None:
    """Print every setting, its effective value and its source.

    Precedence: flag > OMICS_TOOLKIT_<NAME> environment > omics-toolkit.toml > defaults.
    """
    st = state(ctx)
    rows = []
    for f in fields(st.settings):
        value = getattr(st.settings, f.name)
        rows.append(
            {
                "setting": f.name,
                "value": str(value) if value is not None and not isinstance(value, dict) else value,
                "source": st.sources.get(f.name, "default"),
            }
        )
    if st.json_output:
        emit_json(rows)
        return
    table(
        "effective settings (flag > env OMICS_TOOLKIT_* > omics-toolkit.toml > defaults)",
        ["setting", "value", "source"],
        [[r["setting"], r["value"], r["source"]] for r in rows],
    )
