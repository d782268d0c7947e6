"""Patches that make moto's server behave like the AWS services the pipeline uses.

Each module has an idempotent ``apply()`` and names the moto symbols it replaces in ``TARGET`` /
``TARGETS``; ``tests/unit/local/test_patches_*.py`` fail loudly when moto moves them.

- :mod:`.lambda_exec`: Lambda handlers run in a child Python process (no Docker); fault rules in
  ``<state dir>/faults/lambda.json`` fail or time out invocations on purpose.
- :mod:`.s3_notifications`: S3 -> Lambda notifications and ``Invoke(InvocationType=Event)`` go to
  an asynchronous queue with Lambda's retries, event age, destinations; dropped events are written
  to ``<state dir>/async-failures.jsonl``.
- :mod:`.sfn_aws_sdk`: Step Functions ``aws-sdk:*`` tasks take PascalCase parameters, return
  PascalCase output, send ``omics`` calls to the HealthOmics emulator.
- :mod:`.athena_sql`: Athena queries really run (sqlglot -> DuckDB over Glue tables' Parquet).
- :mod:`.athena_protocols`: Athena answers both wire protocols, AWS JSON 1.1 (``X-Amz-Target``)
  and REST-JSON (routes from botocore's model), with the model's error shapes.
- :mod:`.sfn_json_path`: definite JSONPaths (``$.a[0].b``) yield a value, not a one-item list.
- :mod:`.sfn_start_execution`: concurrent StartExecution calls with one name start one execution.
- :mod:`.s3_bucket_policy`: conditional ``Deny`` statements (TLS-only policies) apply only when
  their condition holds, as in S3.
- :mod:`.glue_catalogs`: Glue CreateCatalog/GetCatalog/DeleteCatalog (the S3 Tables federated
  catalog ``s3tablescatalog``).
- :mod:`.ecr_pull_through`: ECR pull through cache rules and repository creation templates; a pull
  through a rule creates the repository from its template.
"""

from __future__ import annotations


def apply_all() -> None:
    """Apply every patch (idempotent). Requires moto >=5.2.5,<5.3."""
    from omics_toolkit.local.patches import (
        athena_protocols,
        athena_sql,
        ecr_pull_through,
        glue_catalogs,
        lambda_exec,
        s3_bucket_policy,
        s3_notifications,
        sfn_aws_sdk,
        sfn_json_path,
        sfn_start_execution,
    )

    lambda_exec.apply()
    sfn_aws_sdk.apply()
    athena_sql.apply()
    athena_protocols.apply()
    s3_bucket_policy.apply()
    sfn_json_path.apply()
    sfn_start_execution.apply()
    ecr_pull_through.apply()
    glue_catalogs.apply()
    s3_notifications.apply()
