"""Rendering of downloads shared by ``results download`` and ``reads export``: a rich progress
bar per file on stderr, and the table row of a finished download."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
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
