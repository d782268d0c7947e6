"""Enforce S3's bucket naming rules on CreateBucket and S3 Tables' on CreateTableBucket.

moto 5.2 checks only the length of a general purpose bucket name (3-63): it creates ``Upper_Case``,
``a..b``, ``192.168.5.4``, ``xn--x`` or ``x--table-s3`` where S3 answers ``InvalidBucketName``.
Its table bucket check (``moto.s3tables.models._validate_table_bucket_name``) matches a pattern
without an end anchor (so any length passes), allows ``_``, and misses the ``aws`` prefix and the
``--table-s3`` suffix; its namespace check accepts ``aws...`` and empty names.

Replaces ``moto.s3.models.S3Backend.create_bucket`` (the name is checked, then moto's own
``create_bucket`` runs: ``BucketAlreadyExists`` keeps precedence over an invalid name only when the
name exists, as before) and ``moto.s3tables.models._validate_table_bucket_name`` /
``_validate_namespace_name`` (looked up by name at call time by ``create_table_bucket`` and
``Namespace.__init__``).

The rules are written here from the S3 User Guide ("General purpose bucket naming rules",
bucketnamingrules.html; "Amazon S3 table bucket, table, and namespace naming rules",
s3-tables-buckets-naming.html), not imported from :mod:`omics_toolkit.identity`: the local stack
stands in for S3, and a rule the toolkit got wrong must not be the rule its stand-in applies.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from omics_toolkit.local.patches.guard import Needs

#: The moto symbols this module replaces.
TARGETS = (
    "moto.s3.models.S3Backend.create_bucket",
    "moto.s3tables.models._validate_table_bucket_name",
    "moto.s3tables.models._validate_namespace_name",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs("moto.s3.models.S3Backend.create_bucket", params=("self", "bucket_name")),
    Needs("moto.s3.exceptions.InvalidBucketName"),
    Needs("moto.s3tables.models._validate_table_bucket_name", params=("name",)),
    Needs("moto.s3tables.models._validate_namespace_name", params=("name",)),
    Needs(
        "moto.s3tables.models.S3TablesBackend.create_table_bucket",
        source=("_validate_table_bucket_name(",),
    ),
    Needs("moto.s3tables.models.Namespace.__init__", source=("_validate_namespace_name(",)),
    Needs("moto.s3tables.exceptions.InvalidTableBucketName"),
    Needs("moto.s3tables.exceptions.InvalidNamespaceName"),
)

_GENERAL = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_GENERAL_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_GENERAL_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_TABLE = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_TABLE_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-", "aws")
_TABLE_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
_NAMESPACE = re.compile(r"[a-z0-9]([a-z0-9_]{0,253}[a-z0-9])?")

_originals: dict[str, Any] = {}


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def general_purpose_name_ok(name: str) -> bool:
    """Whether S3 accepts ``name`` for a general purpose bucket."""
    return bool(
        _GENERAL.fullmatch(name)
        and ".." not in name
        and not _is_ip(name)
        and not name.startswith(_GENERAL_PREFIXES)
        and not name.endswith(_GENERAL_SUFFIXES)
    )


def table_bucket_name_ok(name: str) -> bool:
    """Whether S3 Tables accepts ``name`` for a table bucket."""
    return bool(
        _TABLE.fullmatch(name)
        and not name.startswith(_TABLE_PREFIXES)
        and not name.endswith(_TABLE_SUFFIXES)
    )


def namespace_name_ok(name: str) -> bool:
    """Whether S3 Tables accepts ``name`` for a namespace (1-255 of a-z, 0-9, '_'; not ``aws...``)."""
    return bool(_NAMESPACE.fullmatch(name) and not name.startswith("aws"))


def create_bucket(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
    from moto.s3.exceptions import InvalidBucketName

    if not general_purpose_name_ok(bucket_name):
        raise InvalidBucketName()
    return _originals["create_bucket"](self, bucket_name, *args, **kwargs)


def validate_table_bucket_name(name: str) -> None:
    from moto.s3tables.exceptions import InvalidTableBucketName

    if not table_bucket_name_ok(name):
        raise InvalidTableBucketName()


def validate_namespace_name(name: str) -> None:
    from moto.s3tables.exceptions import InvalidNamespaceName

    if not namespace_name_ok(name):
        raise InvalidNamespaceName()


def apply() -> None:
    """Install the replacements (idempotent)."""
    from moto.s3 import models as s3_models
    from moto.s3tables import models as tables_models

    if s3_models.S3Backend.create_bucket is not create_bucket:
        _originals["create_bucket"] = s3_models.S3Backend.create_bucket
        s3_models.S3Backend.create_bucket = create_bucket  # type: ignore[method-assign]
    tables_models._validate_table_bucket_name = validate_table_bucket_name
    tables_models._validate_namespace_name = validate_namespace_name
