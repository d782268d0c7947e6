"""Run groups and run caches.

API operations: CreateRunGroup, GetRunGroup, ListRunGroups, UpdateRunGroup, DeleteRunGroup,
CreateRunCache, GetRunCache, ListRunCaches, UpdateRunCache, DeleteRunCache.

A run group caps the runs started in it (``maxRuns`` concurrent runs, ``maxCpus``, ``maxGpus``,
``maxDuration`` in minutes); a run cache names an S3 location where task results are kept for
reuse (``cacheBehavior`` CACHE_ON_FAILURE or CACHE_ALWAYS). StartRun checks that the
``runGroupId`` and ``cacheId`` it is given exist (ResourceNotFoundException otherwise, as the
service does) and that a cache is given with a behaviour only when a cache exists.

Same ``requestId`` returns the resource an earlier call created (the idempotency the API
documents). A cache's ``cacheS3Location`` must be an ``s3://`` URI of a bucket that exists in
moto S3 (ValidationException otherwise). DeleteRunGroup / DeleteRunCache while a run that uses the
group or cache is active is a ConflictException.

At run time: a run of a group with ``maxRuns`` stays PENDING while the group already has that
many runs STARTING or RUNNING; ``maxCpus``, ``maxGpus`` and ``maxDuration`` are recorded, not
enforced. A run with a cache uses miniwdl's call cache for the cache (per task; see
``run_tasks.call_cache_dir``): CACHE_ALWAYS keeps every task's outputs, CACHE_ON_FAILURE drops a
completed run's entries, and GetRunTask ``cacheHit`` says when a task's outputs were reused.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from healthomics_emulator.errors import conflict, invalid
from healthomics_emulator.helpers import find_by_client_token, paginate
from healthomics_emulator.model import now_iso
from healthomics_emulator.run_model import ACTIVE, RUNS
from healthomics_emulator.s3io import SourceError, split_s3_uri

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

RUN_GROUPS = "runGroups"
RUN_CACHES = "runCaches"
_GROUP_LIMITS = ("maxCpus", "maxRuns", "maxDuration", "maxGpus")


def _active_runs_using(b: Backend, field: str, ident: str) -> list[str]:

    return sorted(
        r["id"] for r in b.state.values(RUNS) if r.get(field) == ident and r["status"] in ACTIVE
    )


# ---------------------------------------------------------------------- run groups
def create_run_group(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateRunGroup (same ``requestId`` -> the same group)."""
    existing = find_by_client_token(b, RUN_GROUPS, p["requestId"], field="_requestId")
    if existing:
        existing["tags"] = b.tags_of(existing["arn"])
        return existing
    ident = b.state.new_numeric_id(RUN_GROUPS, 7)
    rec: dict[str, Any] = {
        "id": ident,
        "arn": b.arn(f"runGroup/{ident}"),
        "name": p.get("name"),
        "creationTime": now_iso(),
        "_requestId": p["requestId"],
    }
    rec.update({k: p[k] for k in _GROUP_LIMITS if p.get(k) is not None})
    b.state.put(RUN_GROUPS, ident, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def get_run_group(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetRunGroup."""
    rec = b.require(RUN_GROUPS, p["id"], "Run group")
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def list_run_groups(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListRunGroups (filter by ``name``), in creation order."""
    items = [g for g in b.state.values(RUN_GROUPS) if not p.get("name") or g["name"] == p["name"]]
    page, nxt = paginate(items, p.get("maxResults"), p.get("startingToken"))
    return {"items": page, "nextToken": nxt}


def update_run_group(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """UpdateRunGroup: the given name and limits replace the stored ones."""
    b.require(RUN_GROUPS, p["id"], "Run group")
    changes = {k: p[k] for k in ("name", *_GROUP_LIMITS) if p.get(k) is not None}
    b.state.update(RUN_GROUPS, p["id"], **changes)
    return {}


def delete_run_group(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteRunGroup; ConflictException while a run of the group is active."""
    b.require(RUN_GROUPS, p["id"], "Run group")
    active = _active_runs_using(b, "runGroupId", p["id"])
    if active:
        raise conflict(f"Run group {p['id']} has active runs: {', '.join(active)}")
    b.state.delete(RUN_GROUPS, p["id"])
    return {}


# ---------------------------------------------------------------------- run caches
def create_run_cache(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """CreateRunCache: ``cacheS3Location`` must be an existing moto S3 bucket (and prefix)."""
    existing = find_by_client_token(b, RUN_CACHES, p["requestId"], field="_requestId")
    if existing:
        existing["tags"] = b.tags_of(existing["arn"])
        return existing
    location = p["cacheS3Location"]
    try:
        bucket, _key = split_s3_uri(location)
    except SourceError as exc:
        raise invalid(f"cacheS3Location {location} is not an s3:// URI") from exc
    owner = p.get("cacheBucketOwnerId") or b.account_id
    try:
        b.client("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    except ClientError as exc:
        raise invalid(
            f"cacheS3Location {location}: bucket {bucket} is not accessible ({exc})"
        ) from exc
    ident = b.state.new_numeric_id(RUN_CACHES, 7)
    rec: dict[str, Any] = {
        "id": ident,
        "arn": b.arn(f"runCache/{ident}"),
        "name": p.get("name"),
        "description": p.get("description"),
        "cacheBehavior": p.get("cacheBehavior") or "CACHE_ON_FAILURE",
        "cacheS3Uri": location.rstrip("/") + "/",
        "cacheBucketOwnerId": owner,
        "status": "ACTIVE",
        "creationTime": now_iso(),
        "uuid": str(uuid.uuid4()),
        "_requestId": p["requestId"],
    }
    b.state.put(RUN_CACHES, ident, rec)
    b.set_tags(rec["arn"], p.get("tags"))
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def get_run_cache(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """GetRunCache."""
    rec = b.require(RUN_CACHES, p["id"], "Run cache")
    rec["tags"] = b.tags_of(rec["arn"])
    return rec


def list_run_caches(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListRunCaches, in creation order."""
    page, nxt = paginate(b.state.values(RUN_CACHES), p.get("maxResults"), p.get("startingToken"))
    return {"items": page, "nextToken": nxt}


def update_run_cache(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """UpdateRunCache: name, description, default cache behaviour."""
    b.require(RUN_CACHES, p["id"], "Run cache")
    changes = {k: p[k] for k in ("name", "description", "cacheBehavior") if p.get(k) is not None}
    b.state.update(RUN_CACHES, p["id"], **changes)
    return {}


def delete_run_cache(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteRunCache (the cached objects stay in S3, as with the service); ConflictException
    while an active run uses the cache."""
    b.require(RUN_CACHES, p["id"], "Run cache")
    active = _active_runs_using(b, "cacheId", p["id"])
    if active:
        raise conflict(f"Run cache {p['id']} is used by active runs: {', '.join(active)}")
    b.state.delete(RUN_CACHES, p["id"])
    return {}


def resolve_run_options(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """StartRun's run group and cache fields, checked: ``{runGroupId, cacheId, cacheBehavior}``.

    Raises:
        OmicsError: ResourceNotFoundException for an unknown group or cache; ValidationException
            for a ``cacheBehavior`` without a ``cacheId``.
    """
    fields: dict[str, Any] = {}
    if p.get("runGroupId"):
        b.require(RUN_GROUPS, p["runGroupId"], "Run group")
        fields["runGroupId"] = p["runGroupId"]
    if p.get("cacheBehavior") and not p.get("cacheId"):
        raise invalid("cacheBehavior requires a cacheId")
    if p.get("cacheId"):
        cache = b.require(RUN_CACHES, p["cacheId"], "Run cache")
        fields["cacheId"] = p["cacheId"]
        fields["cacheBehavior"] = p.get("cacheBehavior") or cache["cacheBehavior"]
    return fields


OPERATIONS = {
    "CreateRunGroup": create_run_group,
    "GetRunGroup": get_run_group,
    "ListRunGroups": list_run_groups,
    "UpdateRunGroup": update_run_group,
    "DeleteRunGroup": delete_run_group,
    "CreateRunCache": create_run_cache,
    "GetRunCache": get_run_cache,
    "ListRunCaches": list_run_caches,
    "UpdateRunCache": update_run_cache,
    "DeleteRunCache": delete_run_cache,
}
