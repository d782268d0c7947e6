"""A deployment's identity: its resource names and the tags that mark its resources.

Names are ``<deployment>-...`` everywhere, so several deployments coexist in one account. The
tags are read back by the code that finds a deployment's resources (teardown, Athena, the
workflow registry), so they live here, apart from the provisioning code that writes them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

from omics_toolkit.config import RESERVED_BUCKET_PREFIXES, check_deployment_name
from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.errors import ConfigError

__all__ = [
    "DEPLOYMENT_TAG",
    "DIGEST_TAG",
    "VARIANT_BACKEND_TAG",
    "Names",
    "bucket_name_problem",
    "table_bucket_name_problem",
]

#: Workflow tag: the content digest of the workflow package registered as its current version.
DIGEST_TAG = "omics-toolkit:digest"
#: State machine tag recording where variants went (``stores``, ``s3tables`` or ``none``) at the
#: last apply.
VARIANT_BACKEND_TAG = "omics-toolkit:variant-backend"

#: S3 general purpose bucket naming rules (S3 User Guide, "General purpose bucket naming rules",
#: bucketnamingrules.html): 3-63 characters, reserved prefixes and suffixes.
BUCKET_NAME_MAX = 63
BUCKET_RESERVED_PREFIXES = RESERVED_BUCKET_PREFIXES
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
#: S3 table bucket naming rules (S3 User Guide, "Amazon S3 table bucket, table, and namespace
#: naming rules", s3-tables-buckets-naming.html); namespaces must not start with ``aws`` either.
TABLE_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-", "aws")
TABLE_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_TABLE_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
#: Hex digits of sha256(region) that stand for the region in a bucket name too long to spell it.
REGION_DIGEST_CHARS = 8


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` breaks S3's general purpose bucket naming rules, or ``None`` if it is valid.

    Source: S3 User Guide, "General purpose bucket naming rules" (bucketnamingrules.html).
    """
    if not 3 <= len(name) <= BUCKET_NAME_MAX:
        return f"is {len(name)} characters long (S3 allows 3-{BUCKET_NAME_MAX})"
    if not _BUCKET_CHARS.match(name):
        return (
            "must be lowercase letters, digits, '.' and '-', beginning and ending with a letter "
            "or digit"
        )
    if ".." in name:
        return "must not contain two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "must not be formatted as an IP address"
    for prefix in BUCKET_RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"must not start with the reserved prefix {prefix!r}"
    for suffix in BUCKET_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"must not end with the reserved suffix {suffix!r}"
    return None


def table_bucket_name_problem(name: str) -> str | None:
    """Why ``name`` breaks the S3 table bucket naming rules, or ``None`` if it is valid.

    Source: S3 User Guide, "Amazon S3 table bucket, table, and namespace naming rules"
    (s3-tables-buckets-naming.html): 3-63 of a-z, 0-9 and '-', no reserved prefix (including
    ``aws``) or suffix.
    """
    if not 3 <= len(name) <= BUCKET_NAME_MAX:
        return f"is {len(name)} characters long (S3 Tables allows 3-{BUCKET_NAME_MAX})"
    if not _TABLE_BUCKET_CHARS.match(name):
        return (
            "must be lowercase letters, digits and '-', beginning and ending with a letter or digit"
        )
    for prefix in TABLE_BUCKET_RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"must not start with the reserved prefix {prefix!r}"
    for suffix in TABLE_BUCKET_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"must not end with the reserved suffix {suffix!r}"
    return None


@dataclass(frozen=True)
class Names:
    """Every physical name derived from a deployment name, account and region."""

    deployment: str
    account: str
    region: str

    def __post_init__(self) -> None:
        """Check the deployment name and that both general purpose bucket names are valid.

        Raises:
            ConfigError: the deployment name is invalid, or a bucket name derived from it would
                break S3's naming rules (the message names the bucket and the rule).
        """
        check_deployment_name(self.deployment)
        for bucket in (self.input_bucket, self.output_bucket):
            problem = bucket_name_problem(bucket)
            if problem:
                raise ConfigError(
                    f"deployment {self.deployment!r}: its bucket name {bucket!r} {problem}; "
                    "choose another deployment name"
                )

    def _bucket(self, purpose: str) -> str:
        """``<deployment>-<purpose>-<account>-<region>``, or, when that exceeds 63 characters,
        ``<deployment>-<purpose>-<account>-<first 8 hex of sha256(region)>``.

        General purpose bucket names are global, so the account and the region are in the name.
        The spelled-out form is kept whenever it fits, so a deployment's existing buckets keep
        their names; only names S3 would have refused take the digest form (at most
        32 + 8 + 12 + 1 + 8 = 61 characters). The digests of every AWS region differ.
        """
        long = f"{self.deployment}-{purpose}-{self.account}-{self.region}"
        if len(long) <= BUCKET_NAME_MAX:
            return long
        digest = hashlib.sha256(self.region.encode()).hexdigest()[:REGION_DIGEST_CHARS]
        return f"{self.deployment}-{purpose}-{self.account}-{digest}"

    @property
    def snake(self) -> str:
        return self.deployment.replace("-", "_")

    @property
    def input_bucket(self) -> str:
        """S3 bucket the FASTQ pairs are uploaded to (see :meth:`_bucket` for the form)."""
        return self._bucket("input")

    @property
    def output_bucket(self) -> str:
        """S3 bucket of run outputs, Athena results and layers (see :meth:`_bucket`)."""
        return self._bucket("output")

    @property
    def reference_store(self) -> str:
        return f"{self.deployment}-references"

    @property
    def sequence_store(self) -> str:
        return f"{self.deployment}-sequences"

    @property
    def variant_store(self) -> str:
        return f"{self.snake}_variants"

    @property
    def annotation_store(self) -> str:
        return f"{self.snake}_annotations"

    def workflow(self, name: str) -> str:
        return f"{self.deployment}-{name}"

    @property
    def run_group(self) -> str:
        """HealthOmics run group holding the pipeline's runs (when limits are configured)."""
        return f"{self.deployment}-runs"

    @property
    def run_cache(self) -> str:
        """HealthOmics run cache of the pipeline's runs (when call caching is on)."""
        return f"{self.deployment}-cache"

    @property
    def run_cache_uri(self) -> str:
        """Where the run cache keeps task outputs."""
        return f"s3://{self.output_bucket}/run-cache/"

    @property
    def known_sites_prefix(self) -> str:
        """Output-bucket prefix of uploaded known-sites VCFs (readable by the run role)."""
        return "reference/known-sites/"

    def role(self, purpose: str) -> str:
        return f"{self.deployment}-{purpose}"

    def function(self, name: str) -> str:
        return f"{self.deployment}-{name.replace('_', '-')}"

    @property
    def state_machine(self) -> str:
        return f"{self.deployment}-germline"

    @property
    def topic(self) -> str:
        """SNS topic the pipeline publishes failures to."""
        return f"{self.deployment}-pipeline-events"

    @property
    def state_machine_log_group(self) -> str:
        return f"/aws/vendedlogs/states/{self.state_machine}"

    @property
    def glue_database(self) -> str:
        return self.snake

    @property
    def workgroup(self) -> str:
        return self.deployment

    @property
    def run_output_uri(self) -> str:
        return f"s3://{self.output_bucket}/runs/"

    @property
    def table_bucket(self) -> str:
        """S3 table bucket of the S3 Tables variant back end: ``<deployment>-tables``.

        Table bucket names are unique per account and region only, so at most 39 characters.

        Raises:
            ConfigError: the name breaks the S3 Tables naming rules (a deployment name starting
                with ``aws``, reserved for table buckets and namespaces).
        """
        name = f"{self.deployment}-tables"
        problem = table_bucket_name_problem(name)
        if problem:
            raise ConfigError(
                f"deployment {self.deployment!r}: its S3 table bucket name {name!r} {problem} "
                "(S3 Tables naming rules); choose another deployment name or "
                "variant_backend = 'stores'"
            )
        return name

    @property
    def table_namespace(self) -> str:
        """Namespace (Athena database) of the S3 Tables back end's tables.

        Raises:
            ConfigError: as :attr:`table_bucket` (namespaces must not start with ``aws`` either).
        """
        _ = self.table_bucket  # the same deployment-name rule applies
        return self.snake

    @property
    def athena_catalog(self) -> str:
        """Athena catalog of the S3 Tables back end (the Glue federated catalog's child)."""
        return f"s3tablescatalog/{self.table_bucket}"

    @property
    def athena_output_uri(self) -> str:
        return f"s3://{self.output_bucket}/athena-results/"
