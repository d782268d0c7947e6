"""Client of the emulator's control endpoints (urllib, no boto3): fault injection
``/_toolkit/faults`` and read-set archiving ``/_toolkit/readsets/archive``.

Used by tests of the pipeline under faults and by the ``local`` CLI::

    add_faults(url, [{"operation": "StartRun", "error": "InternalServerException", "when": "after"}])
    get_faults(url)    # every rule with "remaining" and "fired"
    clear_faults(url)  # in a test's finaliser

Rules (schema in :mod:`healthomics_emulator.faults`) live in the emulator's memory: a restart
clears them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from healthomics_emulator.errors import EmulatorControlError
from healthomics_emulator.server import ARCHIVE_PATH, FAULTS_PATH

TIMEOUT_SECONDS = 10.0


def add_faults(emulator_url: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add fault rules (``POST /_toolkit/faults``); all are added or none.

    Args:
        emulator_url: the emulator's base URL (``stack.json`` ``"omics"``).
        rules: rule objects (API faults with ``operation``, job faults with ``job``).

    Returns:
        The rules as added: the input fields with defaults filled in, plus ``id``, ``kind``
        (``api``/``job``), ``remaining``, ``fired`` and ``active``.

    Raises:
        EmulatorControlError: a rule was rejected (``status`` 400, the message says which rule
            and why) or the emulator does not answer (``status`` ``None``).
    """
    answer = _call(emulator_url, "POST", {"rules": rules})
    return list(answer["rules"])


def get_faults(emulator_url: str) -> list[dict[str, Any]]:
    """Every rule added since the last clear, exhausted ones included (``GET /_toolkit/faults``).

    Raises:
        EmulatorControlError: the emulator does not answer.
    """
    return list(_call(emulator_url, "GET")["rules"])


def clear_faults(emulator_url: str) -> int:
    """Remove every rule (``DELETE /_toolkit/faults``); return how many there were.

    Raises:
        EmulatorControlError: the emulator does not answer.
    """
    return int(_call(emulator_url, "DELETE")["cleared"])


def _call(
    emulator_url: str, method: str, body: dict[str, Any] | None = None, path: str = FAULTS_PATH
) -> dict[str, Any]:
    url = emulator_url.rstrip("/") + path
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        try:
            message = str(json.loads(exc.read() or b"{}").get("message") or exc)
        except ValueError:
            message = str(exc)
        raise EmulatorControlError(
            url, exc.code, f"the emulator refused {method} {path}: {message}"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EmulatorControlError(
            url,
            None,
            f"the local HealthOmics emulator at {emulator_url} does not answer ({reason}); "
            "start the local stack with `omics-toolkit local start`",
        ) from exc


def archive_read_sets(
    emulator_url: str, sequence_store_id: str, read_set_ids: list[str]
) -> list[dict[str, Any]]:
    """Archive read sets now (``POST /_toolkit/readsets/archive``), as HealthOmics does after 30
    days without access: they lose S3 access until StartReadSetActivationJob restores them.

    Returns:
        ``[{"id", "status": "ARCHIVED"}, ...]``.

    Raises:
        EmulatorControlError: an unknown store or read set (``status`` 404, nothing changed), a
            malformed request (400) or an emulator that does not answer (``None``).
    """
    body = {"sequenceStoreId": sequence_store_id, "readSetIds": list(read_set_ids)}
    answer = _call(emulator_url, "POST", body, path=ARCHIVE_PATH)
    return list(answer["readSets"])
