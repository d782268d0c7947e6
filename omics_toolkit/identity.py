"""A deployment's identity: its resource names and the tags that mark its resources.

Names are ``<deployment>-...`` everywhere, so several deployments coexist in one account. The
tags are read back by the code that finds a deployment's resources (teardown, Athena, the
workflow registry), so they live here, apart from the provisioning code that writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from omics_toolkit.config import check_deployment_name
from omics_toolkit.constants import DEPLOYMENT_TAG

__all__ = ["DEPLOYMENT_TAG", "DIGEST_TAG", "VARIANT_BACKEND_TAG", "Names"]

#: Workflow tag: the content digest of the workflow package registered as its current version.
DIGEST_TAG = "omics-toolkit:digest"
#: State machine tag recording where variants went (``stores``, ``s3tables`` or ``none``) at the
#: last apply.
VARIANT_BACKEND_TAG = "omics-toolkit:variant-backend"


@dataclass(frozen=True)
class Names:
    """Every physical name derived from a deployment name, account and region."""

    deployment: str
    account: str
    region: str

    def __post_init__(self) -> None:
        check_deployment_name(self.deployment)

    @property
    def snake(self) -> str:
        return self.deployment.replace("-", "_")

    @property
    def input_bucket(self) -> str:
        return f"{self.deployment}-input-{self.account}-{self.region}"

    @property
    def output_bucket(self) -> str:
        return f"{self.deployment}-output-{self.account}-{self.region}"

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
        """S3 table bucket of the S3 Tables variant back end."""
        return f"{self.deployment}-tables"

    @property
    def table_namespace(self) -> str:
        """Namespace (Athena database) of the S3 Tables back end's tables."""
        return self.snake

    @property
    def athena_catalog(self) -> str:
        """Athena catalog of the S3 Tables back end (the Glue federated catalog's child)."""
        return f"s3tablescatalog/{self.table_bucket}"

    @property
    def athena_output_uri(self) -> str:
        return f"s3://{self.output_bucket}/athena-results/"
