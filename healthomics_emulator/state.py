"""Emulator metadata: collections of JSON records persisted under ``<state_dir>/meta/``.

Each collection (``referenceStores``, ``runs``, ...) maps an id to a record, a dict whose keys are
the API member names (camelCase) plus private keys starting with ``_``. Every mutation rewrites the
collection file atomically, so a crash loses at most the mutation in progress.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Record = dict[str, Any]


class State:
    """Thread-safe collections of records with JSON persistence.

    Args:
        root: emulator state directory; records live in ``root/meta/<collection>.json``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = root / "meta"
        self.lock = threading.RLock()
        self._data: dict[str, dict[str, Record]] = {}

    def load(self) -> None:
        """Read every ``meta/*.json`` collection file (missing directory: empty state)."""
        with self.lock:
            self._data = {}
            if not self.meta.is_dir():
                return
            for path in sorted(self.meta.glob("*.json")):
                try:
                    self._data[path.stem] = json.loads(path.read_text())
                except (OSError, ValueError) as exc:
                    log.warning("ignoring unreadable state file %s: %s", path, exc)

    def save(self, collection: str | None = None) -> None:
        """Write one collection (or all) atomically."""
        with self.lock:
            self.meta.mkdir(parents=True, exist_ok=True)
            names = [collection] if collection else list(self._data)
            for name in names:
                path = self.meta / f"{name}.json"
                tmp = path.with_suffix(".json.tmp")
                tmp.write_text(json.dumps(self._data.get(name, {}), indent=1, sort_keys=True))
                os.replace(tmp, path)

    def get(self, collection: str, key: str) -> Record | None:
        """A deep copy of one record, or ``None``."""
        with self.lock:
            rec = self._data.get(collection, {}).get(key)
            return copy.deepcopy(rec) if rec is not None else None

    def put(self, collection: str, key: str, record: Record) -> Record:
        """Insert or replace a record and persist the collection."""
        with self.lock:
            self._data.setdefault(collection, {})[key] = copy.deepcopy(record)
            self.save(collection)
            return record

    def update(self, collection: str, key: str, **changes: Any) -> Record | None:
        """Merge ``changes`` into a record (``None`` values delete keys); return the new copy."""
        with self.lock:
            rec = self._data.get(collection, {}).get(key)
            if rec is None:
                return None
            for k, v in changes.items():
                if v is None:
                    rec.pop(k, None)
                else:
                    rec[k] = copy.deepcopy(v)
            self.save(collection)
            return copy.deepcopy(rec)

    def delete(self, collection: str, key: str) -> Record | None:
        """Remove a record; return it (or ``None``)."""
        with self.lock:
            rec = self._data.get(collection, {}).pop(key, None)
            self.save(collection)
            return rec

    def values(self, collection: str) -> list[Record]:
        """Deep copies of all records of a collection, in insertion order."""
        with self.lock:
            return copy.deepcopy(list(self._data.get(collection, {}).values()))

    def items(self, collection: str) -> Iterator[tuple[str, Record]]:
        """(key, copy) pairs of a collection."""
        with self.lock:
            pairs = copy.deepcopy(list(self._data.get(collection, {}).items()))
        return iter(pairs)

    def new_numeric_id(self, collection: str, digits: int) -> str:
        """A random decimal id of ``digits`` digits (no leading zero) unused in ``collection``."""
        with self.lock:
            while True:
                ident = str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))
                if ident not in self._data.get(collection, {}):
                    return ident
