"""Resource tags: TagResource, UntagResource, ListTagsForResource.

Tags are kept per ARN (``tags`` collection); create calls that accept ``tags`` merge them in too.
The ARN must name an existing emulated resource (ResourceNotFoundException otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from healthomics_emulator.errors import OmicsError

if TYPE_CHECKING:
    from healthomics_emulator.backend import Backend

#: collection -> record key holding the ARN
_ARN_FIELDS = {
    "referenceStores": "arn",
    "references": "arn",
    "sequenceStores": "arn",
    "readSets": "arn",
    "workflows": "arn",
    "workflowVersions": "arn",
    "runs": "arn",
    "runGroups": "arn",
    "runCaches": "arn",
    "variantStores": "storeArn",
    "annotationStores": "storeArn",
}


def _require_resource(b: Backend, arn: str) -> None:
    for collection, key in _ARN_FIELDS.items():
        if any(rec.get(key) == arn for rec in b.state.values(collection)):
            return
    raise OmicsError("ResourceNotFoundException", f"Resource {arn} not found")


def tag_resource(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """TagResource: merge tags (existing keys are overwritten, others kept)."""
    _require_resource(b, p["resourceArn"])
    b.set_tags(p["resourceArn"], p["tags"])
    return {}


def untag_resource(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """UntagResource: remove ``tagKeys``."""
    _require_resource(b, p["resourceArn"])
    with b.state.lock:
        current = b.tags_of(p["resourceArn"])
        for key in p["tagKeys"]:
            current.pop(key, None)
        b.state.put("tags", p["resourceArn"], current)
    return {}


def list_tags_for_resource(b: Backend, p: dict[str, Any]) -> dict[str, Any]:
    """ListTagsForResource."""
    _require_resource(b, p["resourceArn"])
    return {"tags": b.tags_of(p["resourceArn"])}


OPERATIONS = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
