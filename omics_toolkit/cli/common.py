"""Shared CLI plumbing: global options, output (data to stdout, progress to stderr), errors."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from omics_toolkit.config import Settings

#: Without a terminal (pipes, CI logs) rich would wrap tables at 80 columns; tables of runs, tasks
#: and costs stay readable at 160 unless COLUMNS says otherwise.
_PIPE_WIDTH = None if os.environ.get("COLUMNS") or sys.stdout.isatty() else 160
out = Console(width=_PIPE_WIDTH)
err = Console(stderr=True)


@dataclass
class State:
    settings: Settings
    json_output: bool = False
    debug: bool = False
    #: Where each setting's value came from (``flag``, ``env ...``, ``file ...``, ``default``).
    sources: dict[str, str] = field(default_factory=dict)


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj  # type: ignore[no-any-return]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    out.print(t)


ACTION_STYLE = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "unchanged": "dim",
    "kept": "magenta",
    "absent": "dim",
    "skipped": "yellow",
    "wait": "cyan",
    "cancel": "yellow",
    "grant": "cyan",
}


def print_action(action: Any, console: Console | None = None) -> None:
    """One line per resource on stderr: ``   create  s3 bucket: name  detail``."""
    style = ACTION_STYLE.get(action.action, "")
    detail = f"  [dim]{action.detail}[/dim]" if action.detail else ""
    (console or err).print(
        f"  [{style}]{action.action:>9}[/{style}]  {action.kind}: {action.name}{detail}"
    )
