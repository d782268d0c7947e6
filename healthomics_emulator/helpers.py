"""Helpers shared by the operation modules: pagination, idempotency tokens, import-job lists.

None of them is an operation; they take the :class:`~healthomics_emulator.backend.Backend` and
the request's validated members.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from healthomics_emulator.errors import OmicsError, invalid
from healthomics_emulator.model import parse_iso
from healthomics_emulator.state import Record

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

#: Message of the refusal; the real service's exact wording is not published (assumed).
NEW_CUSTOMER_MESSAGE = (
    "AWS HealthOmics variant stores and annotation stores are no longer open to new customers "
    "(since 2025-11-07); use Amazon S3 Tables (Apache Iceberg) with Amazon Athena instead"
)


def paginate(
    items: list[Record], max_results: int | None, token: str | None, default: int = 100
) -> tuple[list[Record], str | None]:
    """Slice ``items`` for a List* call; tokens are decimal offsets.

    Raises ``ValidationException`` for a malformed token.
    """
    start = 0
    if token:
        if not token.isdigit():
            raise invalid(f"invalid pagination token {token!r}")
        start = int(token)
    size = max_results or default
    page = items[start : start + size]
    nxt = str(start + size) if start + size < len(items) else None
    return page, nxt


def created_between(rec: Record, flt: dict[str, Any], key: str = "creationTime") -> bool:
    """True if ``rec[key]`` is within ``createdAfter``/``createdBefore`` of a List filter."""
    when = parse_iso(rec[key]) if rec.get(key) else None
    if when is None:
        return True
    if flt.get("createdAfter") is not None and when < flt["createdAfter"]:
        return False
    if flt.get("createdBefore") is not None and when > flt["createdBefore"]:
        return False
    return True


def find_by_client_token(
    b: Backend, collection: str, token: str | None, field: str = "_clientToken", **match: str
) -> Record | None:
    """The record an earlier call with the same idempotency token created.

    ``field`` is where the token was stored (``_clientToken``, or ``_requestId`` for StartRun and
    CreateWorkflow); ``match`` narrows the search (e.g. ``referenceStoreId=...``: import-job tokens
    are scoped to a store).
    """
    if not token:
        return None
    for rec in b.state.values(collection):
        if rec.get(field) == token and all(rec.get(k) == v for k, v in match.items()):
            return rec
    return None


def get_store_job(
    b: Backend, jobs: str, job_id: str, store_key: str, store_id: str, label: str
) -> Record:
    """Get*ImportJob for a job that must belong to the store given in the request.

    Raises ``ResourceNotFoundException`` for an unknown job or one of another store.
    """
    job = b.require(jobs, job_id, label)
    if job[store_key] != store_id:
        raise OmicsError("ResourceNotFoundException", f"{label} {job_id} not found")
    return job


def list_store_jobs(
    b: Backend, p: dict[str, Any], *, jobs: str, stores: str, store_key: str, store_label: str
) -> dict[str, Any]:
    """List*ImportJobs of one store, with ``filter`` status/createdAfter/createdBefore."""
    b.require(stores, p[store_key], store_label)
    flt = p.get("filter") or {}
    items = [
        j
        for j in b.state.values(jobs)
        if j[store_key] == p[store_key]
        and (not flt.get("status") or j["status"] == flt["status"])
        and created_between(j, flt)
    ]
    page, nxt = paginate(items, p.get("maxResults"), p.get("nextToken"))
    return {"importJobs": page, "nextToken": nxt}
