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

#: Console width when a stream is not a terminal and COLUMNS is not set: wide enough that no
#: line is ever wrapped (rich would wrap at 80 columns), so messages, bucket names and table rows
#: stay whole in pipes, logs and CI output; tables keep their natural width.
UNWRAPPED_WIDTH = 100_000


def console_width(stream: Any) -> int | None:
    """Width for a console on ``stream``: ``None`` (rich's own: the terminal's, or ``COLUMNS``)
    on a terminal or when ``COLUMNS`` is set, else :data:`UNWRAPPED_WIDTH`."""
    isatty = getattr(stream, "isatty", None)
    if os.environ.get("COLUMNS") or (callable(isatty) and isatty()):
        return None
    return UNWRAPPED_WIDTH


out = Console(width=console_width(sys.stdout))
err = Console(stderr=True, width=console_width(sys.stderr))


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
