"""Reproducible zip archives: the same files always give the same bytes (and digest)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

#: Earliest date a zip can hold; used for every entry so archives do not depend on mtimes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644


def deterministic_zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """Zip ``(archive name, content)`` pairs sorted by name, with fixed timestamps and mode 0644.

    Used for Lambda deployment packages (stable ``CodeSha256``) and HealthOmics workflow
    ``definitionZip`` archives (stable content digest).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in sorted(entries, key=lambda item: item[0]):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (0o100000 | FILE_MODE) << 16
            archive.writestr(info, content, compresslevel=9)
    return buffer.getvalue()
