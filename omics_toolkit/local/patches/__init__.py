"""Patches that make moto's server behave like the AWS services the pipeline uses.

Each module has an idempotent ``apply()``, names the moto symbols it replaces in ``TARGET`` /
``TARGETS`` and lists every moto internal it relies on in ``NEEDS``. :func:`apply_all` checks
them all first (:mod:`.guard`) and refuses to start the stack on a moto that moved one, naming
the patch and the supported moto versions (``guard.SUPPORTED_MOTO``).

- :mod:`.lambda_exec`: Lambda handlers run in a child Python process (no Docker); fault rules in
  ``<state dir>/faults/lambda.json`` fail or time out invocations on purpose; an import of a layer's
  compiled wheel that the declared runtime's OS cannot load fails as in AWS.
- :mod:`.lambda_limits`: CreateFunction / Update* refuse blocked runtimes and code + layers over
  Lambda's unzipped limit, with Lambda's error messages.
- :mod:`.s3_notifications`: S3 -> Lambda notifications and ``Invoke(InvocationType=Event)`` go to
  an asynchronous queue with Lambda's retries, event age, destinations; dropped events are written
  to ``<state dir>/async-failures.jsonl``.
- :mod:`.sfn_aws_sdk`: Step Functions ``aws-sdk:*`` tasks take PascalCase parameters, return
  PascalCase output, send ``omics`` calls to the HealthOmics emulator.
- :mod:`.athena_sql`: Athena queries really run, in the local Athena
  (:mod:`omics_toolkit.local.athena`: sqlglot -> DuckDB over Glue tables' Parquet).
- :mod:`.athena_protocols`: Athena answers both wire protocols, AWS JSON 1.1 (``X-Amz-Target``)
  and REST-JSON (routes from botocore's model), with the model's error shapes.
- :mod:`.sfn_json_path`: definite JSONPaths (``$.a[0].b``) yield a value, not a one-item list.
- :mod:`.sfn_start_execution`: concurrent StartExecution calls with one name start one execution.
- :mod:`.s3_bucket_policy`: conditional ``Deny`` statements (TLS-only policies) apply only when
  their condition holds, as in S3.
- :mod:`.s3_bucket_names`: CreateBucket and CreateTableBucket/CreateNamespace enforce S3's and S3
  Tables' naming rules (``InvalidBucketName``, ``BadRequestException``); moto checks little.
- :mod:`.logs_kms`: CloudWatch Logs AssociateKmsKey/DisassociateKmsKey (a KMS key on an existing
  log group).
- :mod:`.glue_catalogs`: Glue CreateCatalog/GetCatalog/DeleteCatalog (the S3 Tables federated
  catalog ``s3tablescatalog``).
- :mod:`.lakeformation`: Lake Formation grants refuse the principals AWS refuses (STS session
  ARNs, IAM roles/users that do not exist, malformed identifiers).
- :mod:`.local_identity`: the local access key belongs to an IAM user (seeded after the snapshot
  is restored), so GetCallerIdentity answers an IAM user ARN as for long-lived AWS keys.
- :mod:`.ecr_pull_through`: ECR pull through cache rules and repository creation templates; a pull
  through a rule creates the repository from its template (model in
  :mod:`.ecr_pull_through_models`).
- :mod:`.iam_simulate`: IAM SimulatePrincipalPolicy over the principal's own identity policies
  (moto's default identity, the local caller, is the account's administrator).
- :mod:`.service_quotas`: Service Quotas for HealthOmics and Lambda (moto knows only VPC),
  ListServiceQuotas.
- :mod:`.s3_access_points`: S3 requests to a sequence store's access point alias
  (``<...>-s3alias`` buckets: read sets by GetObject/HeadObject/ListObjectsV2 and presigned URLs)
  are forwarded to the HealthOmics emulator, which answers them as S3.
- :mod:`.ram`: AWS RAM invitations (a share to another account is PENDING until accepted), Glue
  reads of a shared database in its owner's catalog (``CatalogId``, ``ResourceShareType``), Lake
  Formation grants refused on databases the caller cannot see (state in
  :mod:`omics_toolkit.local.shares`).
"""

from __future__ import annotations

from types import ModuleType

#: Set once the moto internals have been checked in this process (before the first apply; a
#: second check would look at the replacements instead of moto's own functions).
_checked = False


def modules() -> tuple[ModuleType, ...]:
    """Every patch module, in the order :func:`apply_all` applies them."""
    from omics_toolkit.local.patches import (
        athena_protocols,
        athena_sql,
        ecr_pull_through,
        glue_catalogs,
        iam_simulate,
        lakeformation,
        lambda_exec,
        lambda_limits,
        local_identity,
        logs_kms,
        ram,
        s3_access_points,
        s3_bucket_names,
        s3_bucket_policy,
        s3_notifications,
        service_quotas,
        sfn_aws_sdk,
        sfn_json_path,
        sfn_start_execution,
    )

    return (
        lambda_exec,
        lambda_limits,
        sfn_aws_sdk,
        athena_sql,
        athena_protocols,
        s3_bucket_policy,
        s3_bucket_names,
        sfn_json_path,
        sfn_start_execution,
        ecr_pull_through,
        glue_catalogs,
        iam_simulate,
        service_quotas,
        ram,
        logs_kms,
        lakeformation,
        local_identity,
        s3_access_points,
        s3_notifications,
    )


def apply_all() -> None:
    """Check what every patch needs of moto, then apply every patch (idempotent).

    Raises:
        MotoInternalsError: the installed moto lacks internals a patch relies on (nothing is
            patched; the message names the patches and the supported moto versions).
    """
    global _checked
    from omics_toolkit.local.patches import guard

    patches = modules()
    if not _checked:
        guard.check(patches)
        _checked = True
    for patch in patches:
        patch.apply()
