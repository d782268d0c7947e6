"""A Gantt chart of a run's tasks (matplotlib, Agg backend): one bar per task from its start to its
stop, coloured by status, on a time axis in minutes from the run's start.

Each bar carries the SVG id ``task-<taskId>`` (matplotlib ``gid``), so an SVG can be checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from omics_toolkit.errors import UserError
from omics_toolkit.runs.insight import RunView

#: Bar colour of each task status (anything else: grey).
STATUS_COLOURS = {
    "COMPLETED": "#2e7d32",
    "FAILED": "#c62828",
    "CANCELLED": "#757575",
    "RUNNING": "#1565c0",
    "STARTING": "#f9a825",
    "PENDING": "#f9a825",
    "STOPPING": "#ef6c00",
}
FORMATS = (".png", ".svg")


@dataclass
class Timeline:
    """What was drawn.

    Attributes:
        path: the file written.
        bars: task ids drawn, in order from the top.
        skipped: task ids not drawn (never started).
    """

    path: Path
    bars: list[str]
    skipped: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "bars": self.bars, "skipped": self.skipped}


def default_path(run_id: str) -> Path:
    return Path(f"run-{run_id}-timeline.png")


def plot_timeline(view: RunView, out: Path, now: dt.datetime | None = None) -> Timeline:
    """Draw the tasks of ``view`` to ``out`` (``.png`` or ``.svg``).

    Time zero is the run's start (its earliest task start when the run has none); a task still
    running ends at ``now``.

    Raises:
        UserError: another file type, or no task has started.
    """
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"timeline file must end in .png or .svg, not {out.name!r}")
    now = now or dt.datetime.now(dt.UTC)
    started = [t for t in view.tasks if t.start is not None]
    skipped = [t.task_id for t in view.tasks if t.start is None]
    if not started:
        raise UserError(f"run {view.run_id} has no task that started: nothing to draw")
    started.sort(key=lambda t: (t.start, t.name))
    assert started[0].start is not None
    zero = min(x for x in (view.start, started[0].start) if x is not None)

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    height = max(2.5, 0.45 * len(started) + 1.6)
    fig = Figure(figsize=(10, height))
    ax = fig.add_subplot(1, 1, 1)
    labels = []
    end = 0.0
    for row, task in enumerate(started):
        assert task.start is not None
        stop = task.stop or view.stop or now
        begin = (task.start - zero).total_seconds() / 60.0
        width = max((stop - task.start).total_seconds() / 60.0, 0.0)
        colour = STATUS_COLOURS.get(task.status, "#9e9e9e")
        bars = ax.barh(row, width, left=begin, height=0.6, color=colour, edgecolor="black")
        bars.patches[0].set_gid(f"task-{task.task_id}")
        seconds = (stop - task.start).total_seconds()
        ax.text(
            begin + width,
            row,
            f" {seconds:.1f} s {task.instance_type or ''}"
            if seconds < 10
            else f" {seconds:.0f} s {task.instance_type or ''}",
            va="center",
            fontsize=8,
        )
        labels.append(task.name)
        end = max(end, begin + width)
    ax.set_yticks(range(len(started)), labels=labels)
    ax.invert_yaxis()
    ax.set_xlabel("minutes from run start")
    ax.set_xlim(0, end * 1.3 or 1.0)  # room for the labels at the bars' ends
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    ax.set_title(f"run {view.run_id} {view.name or ''} ({view.status})".replace("  ", " "))
    statuses = sorted({t.status for t in started})
    ax.legend(
        handles=[Patch(color=STATUS_COLOURS.get(s, "#9e9e9e"), label=s) for s in statuses],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title="task status",
        title_fontsize=8,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format=out.suffix.lower().lstrip("."))
    return Timeline(out, [t.task_id for t in started], skipped)
