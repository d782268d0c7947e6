"""Export a read set's files (BAM/CRAM with index, FASTQ pair, uBAM) to a local folder.

The files are read through the sequence store's S3 access point
(``files.{source1,source2,index}.s3Access.s3Uri``) with
:func:`omics_toolkit.transfer.download`: parallel ranged GetObject parts, resumable, verified
against S3's checksum or ETag. Each file keeps its object's base name (the name it was imported
with; the index is that name plus ``.bai``/``.crai``).

Source: HealthOmics developer guide, "Accessing HealthOmics read sets with Amazon S3 URIs".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from omics_toolkit.reads.locate import FILE_SLOTS, ReadSet, require_readable
from omics_toolkit.reads.ranged import split_s3_uri
from omics_toolkit.transfer import (
    DEFAULT_PART_SIZE,
    DEFAULT_WORKERS,
    DownloadResult,
    Progress,
    download,
)


def export_read_set(
    s3: Any,
    rs: ReadSet,
    out_dir: Path,
    *,
    workers: int = DEFAULT_WORKERS,
    part_size: int = DEFAULT_PART_SIZE,
    overwrite: bool = False,
    progress: Callable[[str, int], Progress | None] | None = None,
) -> list[tuple[str, DownloadResult]]:
    """Download every file of ``rs`` into ``out_dir/<object base name>``.

    Args:
        progress: ``progress(label, size_bytes)`` returns the progress callback of that file's
            download (or ``None``); called once per file before it starts.

    Returns:
        ``[(slot, DownloadResult)]`` in ``source1``, ``source2``, ``index`` order.

    Raises:
        ReadSetArchivedError: the read set is ARCHIVED or ACTIVATING.
        UserError, ChecksumMismatchError, AwsError: as :func:`omics_toolkit.transfer.download`.
    """
    uris = require_readable(rs)
    done = []
    for slot in FILE_SLOTS:
        if slot not in uris:
            continue
        bucket, key = split_s3_uri(uris[slot])
        name = key.rsplit("/", 1)[-1]
        size = rs.files[slot].content_length or 0
        done.append(
            (
                slot,
                download(
                    s3,
                    bucket,
                    key,
                    out_dir / name,
                    part_size=part_size,
                    workers=workers,
                    overwrite=overwrite,
                    progress=progress(name, size) if progress else None,
                ),
            )
        )
    return done
