"""The Gantt chart (valid PNG and SVG, one bar per started task) and the task lookup that
`runs logs --task` uses, on hand-built runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from xml.etree import ElementTree

import pytest

from omics_toolkit.errors import UserError
from omics_toolkit.runs.insight import RunView, TaskView
from omics_toolkit.runs.timeline import plot_timeline

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _view(tasks: list[TaskView]) -> RunView:
    return RunView(
        "1234567",
        "demo",
        "RUNNING",
        "arn:aws:omics:us-east-1:1:run/1234567",
        None,
        None,
        _at(0),
        _at(0),
        None,
        None,
        None,
        "DYNAMIC",
        None,
        None,
        tasks,
    )


def _task(task_id: str, status: str, start: float | None, stop: float | None) -> TaskView:
    return TaskView(
        task_id,
        f"task{task_id}",
        status,
        2,
        4,
        0,
        "omics.c.large",
        _at(0),
        None if start is None else _at(start),
        None if stop is None else _at(stop),
    )


TASKS = [
    _task("1", "COMPLETED", 1, 5),
    _task("2", "FAILED", 2, 3),
    _task("3", "RUNNING", 4, None),  # drawn up to "now"
    _task("4", "PENDING", None, None),  # never started: not drawn
]


def test_png(tmp_path: Path) -> None:
    drawn = plot_timeline(_view(TASKS), tmp_path / "t.png", now=_at(9))
    assert drawn.path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (drawn.bars, drawn.skipped) == (["1", "2", "3"], ["4"])


def test_svg_has_one_bar_per_started_task(tmp_path: Path) -> None:
    drawn = plot_timeline(_view(TASKS), tmp_path / "t.svg", now=_at(9))
    root = ElementTree.fromstring(drawn.path.read_bytes())
    bars = sorted(el.get("id") for el in root.iter() if (el.get("id") or "").startswith("task-"))
    assert bars == ["task-1", "task-2", "task-3"]
    text = drawn.path.read_text()
    assert "minutes from run start" in text or "minutes" in text


def test_refuses_other_formats_and_empty_runs(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"\.png or \.svg"):
        plot_timeline(_view(TASKS), tmp_path / "t.pdf")
    with pytest.raises(UserError, match="no task that started"):
        plot_timeline(_view([_task("4", "PENDING", None, None)]), tmp_path / "t.svg")


def test_find_tasks_by_id_name_or_scatter_base_name() -> None:
    from omics_toolkit.runs.insight import find_tasks

    scattered = [_task("7", "COMPLETED", 1, 2), _task("8", "COMPLETED", 1, 2)]
    scattered[0].name, scattered[1].name = "shout-0-1", "shout-1-1"
    view = _view(TASKS + scattered)
    assert [t.task_id for t in find_tasks(view, "2")] == ["2"]
    assert [t.task_id for t in find_tasks(view, "task3")] == ["3"]
    assert [t.task_id for t in find_tasks(view, "shout")] == ["7", "8"]
    with pytest.raises(UserError, match="tasks: shout-0-1 \\(7\\), shout-1-1 \\(8\\), task1"):
        find_tasks(view, "nope")
