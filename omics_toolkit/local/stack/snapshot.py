"""Save and restore the moto side of the local stack across stop/start (pickled backends).

moto 5.2.x backends pickle, with one exception handled here: Lambda keeps
``weakref.WeakValueDictionary`` indexes, pickled as plain dicts and rebuilt. All services go into
one pickle so that objects shared between backends (a Lambda function's logs backend, ...) keep
their identity. If the combined pickle fails, each service is pickled on its own and the ones that
fail are reported.

Layout (``<local_dir>/moto/``): ``backends.pickle`` (or ``<service>.pickle`` per service) and
``manifest.json`` ``{"moto_version": str, "saved_at": iso, "services": [...], "not_saved": [...]}``.

Restoring installs the saved backend objects into moto's registries directly: no API call is
replayed, so restored S3 objects never fire bucket notifications again.

Not restored: Step Functions executions that were RUNNING at stop (their threads are gone; they are
marked ABORTED), and anything of a service that failed to pickle (listed in ``not_restored``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import pickle
import threading
import weakref
from collections import defaultdict
from pathlib import Path
from typing import Any

from omics_toolkit.constants import MOTO_SERVICES

LOG = logging.getLogger(__name__)

COMBINED = "backends.pickle"
MANIFEST = "manifest.json"
#: Always true after a restore; shown to users by the CLI.


def _rebuild_weak(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


_LOCK_TYPES_FACTORY: dict[type, Any] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
}
_LOCK_TYPES = tuple(_LOCK_TYPES_FACTORY)


def _rebuild_defaultdict(factory: type, items: dict[Any, Any]) -> defaultdict[Any, Any]:
    return defaultdict(factory, items)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):
            # a lock is never held while the server is stopped: restore a fresh one
            return _LOCK_TYPES_FACTORY[type(obj)], ()
        if isinstance(obj, weakref.WeakValueDictionary):
            return _rebuild_weak, (dict(obj.items()),)
        if (
            isinstance(obj, defaultdict)
            and getattr(obj.default_factory, "__name__", "") == "<lambda>"
        ):
            # e.g. moto Lambda's ``defaultdict(lambda: {})``: replace the lambda by the type it builds
            sample = obj.default_factory()  # type: ignore[misc]
            if type(sample) in (dict, list, set, int, str) and sample == type(sample)():
                return _rebuild_defaultdict, (type(sample), dict(obj))
        return NotImplemented


def _dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


#: Saved in addition to MOTO_SERVICES: the backend moto uses when Step Functions really executes.
PARSER = "stepfunctions_parser"


def _backend_dict(service: str) -> Any:
    if service == PARSER:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        return stepfunctions_parser_backends
    from moto.backends import get_backend

    return get_backend(service)  # type: ignore[call-overload]


def _collect(service: str) -> dict[str, dict[str, Any]]:
    backend_dict = _backend_dict(service)
    return {
        account: dict(dict.items(per_account))
        for account, per_account in dict.items(backend_dict)
        if len(per_account)
    }


def _install(service: str, data: dict[str, dict[str, Any]]) -> None:
    backend_dict = _backend_dict(service)
    for account, regions in data.items():
        per_account = backend_dict[account]
        for region, backend in regions.items():
            dict.__setitem__(per_account, region, backend)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save(moto_dir: Path, services: tuple[str, ...] = (*MOTO_SERVICES, PARSER)) -> list[str]:
    """Pickle moto's backends for ``services`` into ``moto_dir``.

    Call after the moto server has stopped serving (no request in flight).

    Returns:
        the services that could not be saved (empty when everything was saved).
    """
    import moto

    moto_dir.mkdir(parents=True, exist_ok=True)
    for old in moto_dir.glob("*.pickle"):
        old.unlink()
    state = {svc: _collect(svc) for svc in services}
    not_saved: list[str] = []
    try:
        _write_atomic(moto_dir / COMBINED, _dumps(state))
    except Exception as exc:  # noqa: BLE001 - fall back to one pickle per service
        LOG.warning("combined moto snapshot failed (%s); saving services one by one", exc)
        (moto_dir / COMBINED).unlink(missing_ok=True)
        for svc, data in state.items():
            try:
                _write_atomic(moto_dir / f"{svc}.pickle", _dumps({svc: data}))
            except Exception as svc_exc:  # noqa: BLE001
                LOG.warning("could not save moto %s state: %s", svc, svc_exc)
                not_saved.append(svc)
    manifest = {
        "moto_version": moto.__version__,
        "saved_at": dt.datetime.now(dt.UTC).isoformat(),
        "services": [s for s in services if s not in not_saved],
        "not_saved": not_saved,
    }
    _write_atomic(moto_dir / MANIFEST, json.dumps(manifest, indent=2).encode())
    return not_saved


def _abort_running_executions() -> list[str]:
    """Mark executions that were RUNNING at stop as ABORTED; return their names."""
    from moto.core.utils import utcnow

    aborted: list[str] = []
    for service in ("stepfunctions", PARSER):
        for per_account in dict.values(_backend_dict(service)):
            for backend in dict.values(per_account):
                for machine in getattr(backend, "state_machines", []):
                    for execution in getattr(machine, "executions", []):
                        if getattr(execution, "status", None) == "RUNNING":
                            execution.status = "ABORTED"
                            execution.stop_date = utcnow()
                            aborted.append(str(getattr(execution, "name", "?")))
    return aborted


def restore(moto_dir: Path) -> tuple[list[str], list[str]]:
    """Install the backends saved in ``moto_dir`` (before the server starts serving).

    Returns:
        ``(restored services, not restored descriptions)``; both empty when there is no snapshot.
    """
    import moto

    manifest_path = moto_dir / MANIFEST
    if not manifest_path.is_file():
        return [], []
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        aside = moto_dir.with_name(
            f"{moto_dir.name}.unreadable-{int(dt.datetime.now().timestamp())}"
        )
        LOG.warning("moto snapshot manifest unreadable (%s); moved to %s", exc, aside)
        moto_dir.rename(aside)
        return [], [f"all moto state (unreadable snapshot kept in {aside})"]
    not_restored = [f"{svc} (could not be saved)" for svc in manifest.get("not_saved", [])]
    if manifest.get("moto_version") != moto.__version__:
        LOG.warning(
            "moto snapshot was saved by moto %s, running %s: not restored",
            manifest.get("moto_version"),
            moto.__version__,
        )
        return [], [f"all moto state (saved by moto {manifest.get('moto_version')})"]
    files = (
        [moto_dir / COMBINED]
        if (moto_dir / COMBINED).is_file()
        else sorted(moto_dir.glob("*.pickle"))
    )
    restored: list[str] = []
    for path in files:
        try:
            state = pickle.loads(path.read_bytes())
        except Exception as exc:  # noqa: BLE001
            LOG.warning("could not load %s: %s", path, exc)
            not_restored.append(f"{path.stem} (unreadable snapshot)")
            continue
        for svc, data in state.items():
            try:
                _install(svc, data)
                restored.append(svc)
            except Exception as exc:  # noqa: BLE001
                LOG.warning("could not restore moto %s: %s", svc, exc)
                not_restored.append(svc)
    if "stepfunctions" in restored or PARSER in restored:
        aborted = sorted(set(_abort_running_executions()))
        if aborted:
            not_restored.append(
                f"{len(aborted)} Step Functions execution(s) running at stop, now ABORTED: "
                + ", ".join(aborted)
            )
    return restored, not_restored
