"""What is left of a deployment: every resource that still carries its tag, of every kind
provisioning creates (for teardown tests).

Every listing is read to its last page (botocore paginators where the service has one,
``NextToken``/``Marker`` loops otherwise), so a resource on page two is not missed. Lake
Formation grants carry no tags: a grant is the deployment's when its table is in the
deployment's Glue database, is one of its stores' tables, or is in its S3 table bucket's catalog
(the grants ``provision`` makes and ``teardown`` revokes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.identity import Names
from omics_toolkit.provisioning.containers import namespace


def _pages(client: Any, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every page of ``operation`` (the botocore paginator)."""
    yield from client.get_paginator(operation).paginate(**kwargs)


def _token_pages(
    call: Any, token_in: str = "NextToken", token_out: str = "NextToken", **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Every page of an operation without a botocore paginator."""
    token = None
    while True:
        page = call(**kwargs, **({token_in: token} if token else {}))
        yield page
        token = page.get(token_out)
        if not token:
            return


def _tag_dict(tags: Any) -> dict[str, str]:
    """``[{"Key"|"key": .., "Value"|"value": ..}]`` or a plain dict, as a dict."""
    if isinstance(tags, dict):
        return dict(tags)
    return {(t.get("Key") or t.get("key")): (t.get("Value") or t.get("value")) for t in tags}


def lake_formation_grants(ctx: Any, deployment: str) -> list[str]:
    """The deployment's Lake Formation grants, as ``"<catalog>:<database>.<table> <perms>"``
    (ListPermissions to the last page)."""
    names = Names(deployment, ctx.account_id, ctx.region)
    table_catalog = f"{ctx.account_id}:s3tablescatalog/{names.table_bucket}"
    found = []
    lf = ctx.client("lakeformation")
    for page in _token_pages(lf.list_permissions):
        for perm in page.get("PrincipalResourcePermissions", []):
            table = perm.get("Resource", {}).get("Table") or perm.get("Resource", {}).get(
                "TableWithColumns", {}
            )
            if not table:
                continue
            name = str(table.get("Name", ""))
            ours = (
                table.get("DatabaseName") == names.glue_database
                or name in (names.variant_store, names.annotation_store)
                or name.startswith(f"{names.snake}_ann_")
                or table.get("CatalogId") == table_catalog
            )
            if ours:
                found.append(
                    f"{table.get('CatalogId')}:{table.get('DatabaseName')}.{name} "
                    + "+".join(sorted(perm.get("Permissions", [])))
                )
    return found


def tagged_resources(ctx: Any, deployment: str) -> list[str]:
    """Resources of every kind that still carry the deployment's tag, plus its Lake Formation
    grants; each as ``"<kind> <name>"``."""
    left = []
    s3 = ctx.client("s3")
    for page in _pages(s3, "list_buckets"):
        for b in page["Buckets"]:
            try:
                tags = _tag_dict(s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"])
            except Exception:
                tags = {}
            if tags.get(DEPLOYMENT_TAG) == deployment:
                left.append(f"bucket {b['Name']}")
    iam = ctx.client("iam")
    for page in _pages(iam, "list_roles"):
        for role in page["Roles"]:
            tags = _tag_dict(iam.list_role_tags(RoleName=role["RoleName"])["Tags"])
            if tags.get(DEPLOYMENT_TAG) == deployment:
                left.append(f"role {role['RoleName']}")
    lam = ctx.client("lambda")
    for page in _pages(lam, "list_functions"):
        for fn in page["Functions"]:
            if lam.list_tags(Resource=fn["FunctionArn"])["Tags"].get(DEPLOYMENT_TAG) == deployment:
                left.append(f"function {fn['FunctionName']}")
    for page in _pages(lam, "list_layers"):
        for layer in page["Layers"]:
            if layer["LayerName"] in (f"{deployment}-toolkit", f"{deployment}-tables"):
                left.append(f"lambda layer {layer['LayerName']}")
    sfn = ctx.client("stepfunctions")
    for page in _pages(sfn, "list_state_machines"):
        for sm in page["stateMachines"]:
            tags = _tag_dict(sfn.list_tags_for_resource(resourceArn=sm["stateMachineArn"])["tags"])
            if tags.get(DEPLOYMENT_TAG) == deployment:
                left.append(f"state machine {sm['name']}")
    ecr = ctx.client("ecr")
    for page in _pages(ecr, "describe_pull_through_cache_rules"):
        for rule in page["pullThroughCacheRules"]:
            if rule["ecrRepositoryPrefix"].startswith(f"{namespace(deployment)}/"):
                left.append(f"ecr rule {rule['ecrRepositoryPrefix']}")
    for page in _pages(ecr, "describe_repository_creation_templates"):
        for template in page["repositoryCreationTemplates"]:
            if template["prefix"].startswith(f"{namespace(deployment)}/"):
                left.append(f"ecr template {template['prefix']}")
    omics = ctx.client("omics")
    for op, key in (
        ("list_reference_stores", "referenceStores"),
        ("list_sequence_stores", "sequenceStores"),
        ("list_variant_stores", "variantStores"),
        ("list_annotation_stores", "annotationStores"),
        ("list_workflows", "items"),
        ("list_run_groups", "items"),
        ("list_run_caches", "items"),
    ):
        kind = {"list_run_groups": "runGroups", "list_run_caches": "runCaches"}.get(op, key)
        for page in _pages(omics, op):
            for item in page[key]:
                arn = item.get("arn") or item.get("storeArn")
                tags = omics.list_tags_for_resource(resourceArn=arn)["tags"]
                if tags.get(DEPLOYMENT_TAG) == deployment:
                    left.append(f"{kind} {item['name']}")
    s3tables = ctx.client("s3tables")
    for page in _pages(s3tables, "list_table_buckets"):
        for bucket in page["tableBuckets"]:
            # Found by name: the local S3 Tables (moto) keeps no tags on table buckets.
            if bucket["name"] == f"{deployment}-tables":
                left.append(f"table bucket {bucket['name']}")
    glue = ctx.client("glue")
    account = ctx.account_id
    for page in _pages(glue, "get_databases"):
        for db in page["DatabaseList"]:
            arn = f"arn:aws:glue:{ctx.region}:{account}:database/{db['Name']}"
            if glue.get_tags(ResourceArn=arn).get("Tags", {}).get(DEPLOYMENT_TAG) == deployment:
                left.append(f"glue database {db['Name']}")
    left += [f"lake formation grant {g}" for g in lake_formation_grants(ctx, deployment)]
    athena = ctx.client("athena")
    for page in _token_pages(athena.list_work_groups):
        for wg in page["WorkGroups"]:
            arn = f"arn:aws:athena:{ctx.region}:{account}:workgroup/{wg['Name']}"
            tags = _tag_dict(athena.list_tags_for_resource(ResourceARN=arn).get("Tags", []))
            if tags.get(DEPLOYMENT_TAG) == deployment:
                left.append(f"athena workgroup {wg['Name']}")
    sns = ctx.client("sns")
    for page in _pages(sns, "list_topics"):
        for topic in page["Topics"]:
            tags = _tag_dict(sns.list_tags_for_resource(ResourceArn=topic["TopicArn"])["Tags"])
            if tags.get(DEPLOYMENT_TAG) == deployment:
                left.append(f"sns topic {topic['TopicArn'].rsplit(':', 1)[-1]}")
    logs = ctx.client("logs")
    for page in _pages(logs, "describe_log_groups"):
        for group in page["logGroups"]:
            tags = logs.list_tags_log_group(logGroupName=group["logGroupName"]).get("tags", {})
            if tags.get(DEPLOYMENT_TAG) == deployment:
                left.append(f"log group {group['logGroupName']}")
    return left
