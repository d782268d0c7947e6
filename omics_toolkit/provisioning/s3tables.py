"""Provisioning of the S3 Tables variant back end (``variant_backend = "s3tables"``).

AWS's recommended replacement for variant stores (closed to new customers since 2025-11-07):

- an S3 table bucket ``<deployment>-tables`` (CreateTableBucket; SSE-KMS with the deployment's
  key when one is set) and a namespace ``<deployment_snake>`` (CreateNamespace);
- the Iceberg table ``variants`` (CreateTable + its first metadata file, through
  :class:`omics_toolkit.aws.s3tables.S3TablesCatalog`), partitioned by ``sampleid`` and sorted
  by ``contigname, start`` (:mod:`omics_toolkit.tables.iceberg`);
- the analytics integration: the Glue federated catalog ``s3tablescatalog`` (CreateCatalog,
  ``FederatedCatalog {Identifier: arn:aws:s3tables:<region>:<account>:bucket/*, ConnectionName:
  aws:s3tables}``), the table buckets registered with Lake Formation (RegisterResource
  ``WithFederation`` with the account-wide data-access role ``omics-toolkit-s3tables-lakeformation``),
  and Lake Formation grants (DESCRIBE, SELECT) on the tables to the provisioning principal
  and every reader (:mod:`omics_toolkit.provisioning.analytics`).
  Athena then reads ``"s3tablescatalog/<bucket>"."<namespace>"."variants"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omics_toolkit.errors import AwsError
from omics_toolkit.provisioning import iam
from omics_toolkit.tables.schema import VARIANT_COLUMNS, VARIANTS_TABLE

if TYPE_CHECKING:
    from omics_toolkit.provisioning.iam import IamSteps

FEDERATED_CATALOG = "s3tablescatalog"
CONNECTION = "aws:s3tables"
#: The account-wide role Lake Formation uses for the table buckets (kept by teardown: shared).
LAKE_FORMATION_ROLE = "omics-toolkit-s3tables-lakeformation"
SHARED_TAG = "omics-toolkit:shared"


def table_bucket_arn(prov: IamSteps) -> str:
    """``arn:<partition>:s3tables:<region>:<account>:bucket/<deployment>-tables``."""
    return prov.arn("s3tables", f"bucket/{prov.names.table_bucket}")


def find_table_bucket(prov: IamSteps) -> str | None:
    """The ARN of the deployment's table bucket, or ``None`` (ListTableBuckets by prefix)."""
    client = prov.client("s3tables")
    for page in client.get_paginator("list_table_buckets").paginate(prefix=prov.names.table_bucket):
        for bucket in page.get("tableBuckets", []):
            if bucket["name"] == prov.names.table_bucket:
                return str(bucket["arn"])
    return None


def ensure_table_bucket(prov: IamSteps) -> str:
    """Table bucket and namespace; returns the bucket ARN (a placeholder in a dry run)."""
    client = prov.client("s3tables")
    name = prov.names.table_bucket
    arn = find_table_bucket(prov)
    if arn:
        prov._record("s3 table bucket", name, "unchanged")
    else:
        prov._record("s3 table bucket", name, "create", "Apache Iceberg tables for variants")
        if prov.dry_run:
            return table_bucket_arn(prov)
        kwargs = {}
        if prov.settings.kms_key_arn:
            kwargs["encryptionConfiguration"] = {
                "sseAlgorithm": "aws:kms",
                "kmsKeyArn": prov.settings.kms_key_arn,
            }
        arn = str(client.create_table_bucket(name=name, **kwargs)["arn"])
    namespace = prov.names.table_namespace
    have = set()
    if not prov.dry_run or find_table_bucket(prov):
        for page in client.get_paginator("list_namespaces").paginate(tableBucketARN=arn):
            have.update(n["namespace"][0] for n in page.get("namespaces", []))
    if namespace in have:
        prov._record("s3 tables namespace", namespace, "unchanged")
    else:
        prov._record("s3 tables namespace", namespace, "create")
        if not prov.dry_run:
            client.create_namespace(tableBucketARN=arn, namespace=[namespace])
    return arn


def ensure_variants_table(prov: IamSteps, bucket_arn: str) -> None:
    """The ``variants`` Iceberg table (created empty with its layout when missing)."""
    from pyiceberg.exceptions import NoSuchTableError

    from omics_toolkit.aws.s3tables import S3TablesCatalog
    from omics_toolkit.tables import iceberg

    label = f"{prov.names.table_namespace}.{VARIANTS_TABLE}"
    if prov.dry_run and not find_table_bucket(prov):
        prov._record("iceberg table", label, "create", "partitioned by sampleid")
        return
    catalog = S3TablesCatalog(prov.ctx, bucket_arn)
    try:
        catalog.load_table((prov.names.table_namespace, VARIANTS_TABLE))
        prov._record("iceberg table", label, "unchanged")
        return
    except NoSuchTableError:
        prov._record("iceberg table", label, "create", "partitioned by sampleid")
    if not prov.dry_run:
        iceberg.ensure_table(
            catalog, prov.names.table_namespace, VARIANTS_TABLE, VARIANT_COLUMNS, "sampleid"
        )


def ensure_catalog_integration(prov: IamSteps) -> None:
    """Glue catalog ``s3tablescatalog`` and the Lake Formation registration of the account's
    table buckets (the grants on the tables are
    :meth:`omics_toolkit.provisioning.analytics.AnalyticsSteps.reader_grants`)."""
    glue = prov.client("glue")
    account, region = prov.ctx.account_id, prov.ctx.region
    buckets = f"arn:{prov.partition}:s3tables:{region}:{account}:bucket/*"
    try:
        glue.get_catalog(CatalogId=f"{account}:{FEDERATED_CATALOG}")
        prov._record("glue catalog", FEDERATED_CATALOG, "unchanged")
    except AwsError as exc:
        if exc.code != "EntityNotFoundException":
            raise
        prov._record("glue catalog", FEDERATED_CATALOG, "create", "S3 Tables integration")
        if not prov.dry_run:
            glue.create_catalog(
                Name=FEDERATED_CATALOG,
                CatalogInput={
                    "FederatedCatalog": {"Identifier": buckets, "ConnectionName": CONNECTION},
                    "CreateDatabaseDefaultPermissions": [],
                    "CreateTableDefaultPermissions": [],
                    # Full-table access lets engines outside Lake Formation's integration
                    # (e.g. EMR, third-party Spark) get credentials without session-tag checks,
                    # bypassing fine-grained grants (Lake Formation guide, "Application
                    # integration for full table access"). Athena is integrated and the variant
                    # loader writes through the S3 Tables API, so neither needs it. An existing
                    # catalog is account-wide and left as it is.
                    "AllowFullTableExternalDataAccess": "False",
                },
            )
    lf = prov.client("lakeformation")
    registered = {
        r.get("ResourceArn") for r in lf.list_resources().get("ResourceInfoList", []) or []
    }
    if buckets in registered:
        prov._record("lake formation resource", buckets, "unchanged")
    else:
        # Federated S3 Tables locations are registered with a data-access role (the service-linked
        # role is for S3 paths): Lake Formation vends credentials for the tables through it.
        role = prov.ensure_role(
            LAKE_FORMATION_ROLE,
            "lakeformation.amazonaws.com",
            iam.s3tables_lake_formation_role_statements(buckets),
            tags={SHARED_TAG: "s3tables-integration"},
        )
        prov._record("lake formation resource", buckets, "create", f"with federation, {role}")
        if not prov.dry_run:
            lf.register_resource(ResourceArn=buckets, RoleArn=role, WithFederation=True)
