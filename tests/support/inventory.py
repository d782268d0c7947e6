"""What is left of a deployment: every resource that still carries its tag, of every kind
provisioning creates (for teardown tests)."""

from __future__ import annotations

from typing import Any

from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.provisioning.containers import namespace


def tagged_resources(ctx: Any, deployment: str) -> list[str]:
    """Resources of every kind that still carry the deployment's tag."""
    left = []
    s3 = ctx.client("s3")
    for b in s3.list_buckets()["Buckets"]:
        try:
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"]}
        except Exception:
            tags = {}
        if tags.get(DEPLOYMENT_TAG) == deployment:
            left.append(f"bucket {b['Name']}")
    iam = ctx.client("iam")
    for role in iam.list_roles()["Roles"]:
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
        if tags.get(DEPLOYMENT_TAG) == deployment:
            left.append(f"role {role['RoleName']}")
    lam = ctx.client("lambda")
    for fn in lam.list_functions()["Functions"]:
        if lam.list_tags(Resource=fn["FunctionArn"])["Tags"].get(DEPLOYMENT_TAG) == deployment:
            left.append(f"function {fn['FunctionName']}")
    sfn = ctx.client("stepfunctions")
    for sm in sfn.list_state_machines()["stateMachines"]:
        tags = sfn.list_tags_for_resource(resourceArn=sm["stateMachineArn"])["tags"]
        if {t["key"]: t["value"] for t in tags}.get(DEPLOYMENT_TAG) == deployment:
            left.append(f"state machine {sm['name']}")
    ecr = ctx.client("ecr")
    for rule in ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]:
        if rule["ecrRepositoryPrefix"].startswith(f"{namespace(deployment)}/"):
            left.append(f"ecr rule {rule['ecrRepositoryPrefix']}")
    for template in ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]:
        if template["prefix"].startswith(f"{namespace(deployment)}/"):
            left.append(f"ecr template {template['prefix']}")
    omics = ctx.client("omics")
    for op, key in (
        ("list_reference_stores", "referenceStores"),
        ("list_sequence_stores", "sequenceStores"),
        ("list_variant_stores", "variantStores"),
        ("list_annotation_stores", "annotationStores"),
        ("list_workflows", "items"),
    ):
        for item in getattr(omics, op)()[key]:
            arn = item.get("arn") or item.get("storeArn")
            tags = omics.list_tags_for_resource(resourceArn=arn)["tags"]
            if tags.get(DEPLOYMENT_TAG) == deployment:
                left.append(f"{key} {item['name']}")
    glue = ctx.client("glue")
    account = ctx.account_id
    for db in glue.get_databases()["DatabaseList"]:
        arn = f"arn:aws:glue:{ctx.region}:{account}:database/{db['Name']}"
        if glue.get_tags(ResourceArn=arn).get("Tags", {}).get(DEPLOYMENT_TAG) == deployment:
            left.append(f"glue database {db['Name']}")
    athena = ctx.client("athena")
    for wg in athena.list_work_groups()["WorkGroups"]:
        arn = f"arn:aws:athena:{ctx.region}:{account}:workgroup/{wg['Name']}"
        tags = athena.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
        if {t["Key"]: t["Value"] for t in tags}.get(DEPLOYMENT_TAG) == deployment:
            left.append(f"athena workgroup {wg['Name']}")
    sns = ctx.client("sns")
    for topic in sns.list_topics()["Topics"]:
        tags = sns.list_tags_for_resource(ResourceArn=topic["TopicArn"])["Tags"]
        if {t["Key"]: t["Value"] for t in tags}.get(DEPLOYMENT_TAG) == deployment:
            left.append(f"sns topic {topic['TopicArn'].rsplit(':', 1)[-1]}")
    logs = ctx.client("logs")
    for group in logs.describe_log_groups()["logGroups"]:
        tags = logs.list_tags_log_group(logGroupName=group["logGroupName"]).get("tags", {})
        if tags.get(DEPLOYMENT_TAG) == deployment:
            left.append(f"log group {group['logGroupName']}")
    lam = ctx.client("lambda")
    for layer in lam.list_layers()["Layers"]:
        if layer["LayerName"] == f"{deployment}-toolkit":
            left.append(f"lambda layer {layer['LayerName']}")
    return left
