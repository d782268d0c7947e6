"""Rendering of downloads shared by ``results download`` and ``reads export``: a rich progress
bar per file on stderr, and the table row of a finished download."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omics_toolkit.cli.common import err


@contextlib.contextmanager
def download_progress(quiet: bool) -> Iterator[Callable[[str, int], Any]]:
    """Yields ``start(label, size_bytes) -> progress callback`` for one file's download; the
    bars (bytes, speed, time left) go to stderr unless ``quiet`` (``--json``)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
    ) as progress:

        def start(label: str, size: int) -> Any:
            task = progress.add_task(label, total=size)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return advance

        yield start


@contextlib.contextmanager
def resumable(out_dir: Path) -> Iterator[None]:
    """Ctrl-C during a download says that finished parts are kept and how to resume (exit 130,
    as a shell reports an interrupt), instead of stopping silently."""
    import typer

    try:
        yield
    except KeyboardInterrupt:
        err.print(
            f"interrupted: the parts fetched so far are kept in {out_dir} (*.part); run the same "
            "command again to resume without fetching them again",
            highlight=False,
        )
        raise typer.Exit(130) from None


def download_row(result: Any) -> tuple[str, str]:
    """``(verified by, status)`` of a :class:`omics_toolkit.transfer.DownloadResult`."""
    if result.skipped:
        how = "already there"
    elif result.parts_reused:
        how = f"resumed: {result.parts_reused} of {result.parts_total} parts were on disk"
    else:
        how = "downloaded" + (f" (started over: {result.restarted})" if result.restarted else "")
    verified = result.checksum_kind if result.verified else "NOT verified (size only)"
    return verified, how
