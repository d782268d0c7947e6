"""HealthOmics' run-time container image check, as the host backend applies it to each task.

A task's evaluated ``runtime.docker`` is resolved through the workflow's ``containerRegistryMap``
and must name a private ECR image of the run's region that HealthOmics may pull (repository
policy, or a pull through cache rule with its registry policy and repository creation template),
checked in moto ECR. Source: HealthOmics "Container images" and "Run failure reasons".
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from WDL import Error

from healthomics_emulator.images import DOCKER_HUB, ECR_HOST, parse_image
from healthomics_facts.service import HEALTHOMICS_PRINCIPAL

try:  # psutil comes with miniwdl; keep the backend usable without it
    import psutil
except ImportError:  # pragma: no cover - exercised only on unusual installs
    psutil = None  # type: ignore[assignment]

from healthomics_emulator.host_files import IMAGE_CHECK_ENV

# ---------------------------------------------------------------------------------- image check
#: HealthOmics run failure reasons and descriptions (HealthOmics "Run failure reasons",
#: https://docs.aws.amazon.com/omics/latest/dev/workflows-run-errors.html).
INVALID_ECR_IMAGE_URI = "INVALID_ECR_IMAGE_URI"
ECR_PERMISSION_ERROR = "ECR_PERMISSION_ERROR"
SERVICE_ERROR = "SERVICE_ERROR"
_DESCRIPTIONS = {
    INVALID_ECR_IMAGE_URI: "Amazon ECR image URI structure is invalid. Provide a valid URI and try again.",
    ECR_PERMISSION_ERROR: "HealthOmics doesn't have permission to access the image URI. Confirm that "
    "the Amazon ECR private repository exists and has granted access to the HealthOmics service "
    "principal.",
    SERVICE_ERROR: "A transient error occurred in the service. Try the workflow run again.",
}
#: Repository actions HealthOmics must be allowed: the HealthOmics docs grant these two plus
#: ecr:BatchCheckLayerAvailability; AWS's HealthOmics tooling treats these two as required.
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
#: Registry policy actions for pulling through the cache (ECR "Private registry permissions").
PTC_ACTIONS = ("ecr:CreateRepository", "ecr:BatchImportUpstreamImage")


class ImageCheckError(Error.RuntimeError):
    """A task's image is not one HealthOmics could pull: ``failure_reason`` is the run's
    ``failureReason`` (``INVALID_ECR_IMAGE_URI`` / ``ECR_PERMISSION_ERROR``)."""

    def __init__(self, failure_reason: str, message: str) -> None:
        super().__init__(message)
        self.failure_reason = failure_reason


def split_image(image: str) -> tuple[str, str, str | None, str | None]:
    """``[registry/]path[:tag][@digest]`` -> (registry, path, tag, digest), Docker-normalised
    (see :func:`healthomics_emulator.images.parse_image`).

    Raises:
        ValueError: empty reference or one containing whitespace.
    """
    ref = parse_image(image)
    return ref.registry, ref.repository, ref.tag, ref.digest


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if service in _as_list(principal.get("Service")):
        return True
    return "*" in _as_list(principal.get("AWS"))


_CONDITION_OPERATORS = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": lambda actual, expected: fnmatch.fnmatchcase(actual, expected),
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnLike": lambda actual, expected: fnmatch.fnmatchcase(actual, expected),
}


def condition_holds(condition: dict[str, Any] | None, context: dict[str, str]) -> bool:
    """Whether an IAM ``Condition`` holds for ``context`` (lower-case keys).

    Supports the String/Arn equality and ``Like`` operators (and ``...IfExists``); any other
    operator, or a key absent from ``context`` (without ``IfExists``), does not hold.
    """
    for operator, tests in (condition or {}).items():
        test = _CONDITION_OPERATORS.get(operator.removesuffix("IfExists"))
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            if test is None or not any(test(actual, str(e)) for e in _as_list(expected)):
                return False
    return True


def policy_allows(
    policy_text: str | None,
    actions: tuple[str, ...],
    resource: str,
    context: dict[str, str],
    service: str = HEALTHOMICS_PRINCIPAL,
) -> bool:
    """Whether a resource policy allows the service principal every one of ``actions`` on
    ``resource``: each action needs a matching ``Allow`` and no matching ``Deny``.

    Statements with ``NotPrincipal``/``NotAction``/``NotResource`` are not evaluated (they match
    nothing); a statement without ``Resource`` (repository policies) applies to the resource.
    """
    if not policy_text:
        return False
    try:
        doc = json.loads(policy_text)
    except ValueError:
        return False
    allowed: set[str] = set()
    for stmt in _as_list(doc.get("Statement")):
        if not isinstance(stmt, dict) or {"NotPrincipal", "NotAction", "NotResource"} & set(stmt):
            continue
        if not _principal_matches(stmt.get("Principal"), service):
            continue
        if "Resource" in stmt and not any(
            fnmatch.fnmatchcase(resource, str(r)) for r in _as_list(stmt["Resource"])
        ):
            continue
        if not condition_holds(stmt.get("Condition"), context):
            continue
        patterns = [str(a).lower() for a in _as_list(stmt.get("Action"))]
        for action in actions:
            if any(fnmatch.fnmatchcase(action.lower(), p) for p in patterns):
                if stmt.get("Effect") == "Deny":
                    return False
                if stmt.get("Effect") == "Allow":
                    allowed.add(action)
    return set(actions) <= allowed


def resolve_image(image: str, registry_map: dict[str, Any], account: str, region: str) -> str:
    """The image HealthOmics pulls for ``image`` under a workflow's ``containerRegistryMap``.

    ``imageMappings`` replace an exact ``sourceImage`` (compared as written and
    Docker-normalised); otherwise the ``registryMappings`` entry of the image's registry (the
    longest matching ``upstreamRepositoryPrefix`` first) rewrites it to
    ``<ecrAccountId or account>.dkr.ecr.<region>.amazonaws.com/<ecrRepositoryPrefix>/<path>``,
    dropping the ``upstreamRepositoryPrefix`` from the path; anything else is unchanged.
    Source: HealthOmics "Adding private or third-party containers during workflow creation"
    (https://docs.aws.amazon.com/omics/latest/dev/containers-workflow-creation.html); the prefix
    rewrite for ``upstreamRepositoryPrefix`` is an assumption modelled on ECR pull through cache.
    """
    try:
        registry, path, tag, digest = split_image(image)
    except ValueError:
        return image
    for mapping in registry_map.get("imageMappings") or []:
        source = mapping.get("sourceImage")
        if not source or not mapping.get("destinationImage"):
            continue
        try:
            s_reg, s_path, s_tag, s_digest = split_image(source)
        except ValueError:
            continue
        if source == image or (s_reg, s_path, s_tag, s_digest) == (registry, path, tag, digest):
            return str(mapping["destinationImage"])
    best: tuple[int, dict[str, Any], str] | None = None
    for mapping in registry_map.get("registryMappings") or []:
        upstream = str(mapping.get("upstreamRegistryUrl") or "").removeprefix("https://")
        upstream = upstream.rstrip("/")
        if upstream in ("docker.io", "index.docker.io"):
            upstream = DOCKER_HUB
        if upstream != registry or not mapping.get("ecrRepositoryPrefix"):
            continue
        up_prefix = str(mapping.get("upstreamRepositoryPrefix") or "").strip("/")
        rest = path
        if up_prefix and up_prefix != "ROOT":
            if not path.startswith(up_prefix + "/"):
                continue
            rest = path[len(up_prefix) + 1 :]
        rank = len(up_prefix) if up_prefix != "ROOT" else 0
        if best is None or rank > best[0]:
            best = (rank, mapping, rest)
    if best is None:
        return image
    _, mapping, rest = best
    owner = mapping.get("ecrAccountId") or account
    prefix = str(mapping["ecrRepositoryPrefix"]).strip("/")
    uri = f"{owner}.dkr.ecr.{region}.amazonaws.com/{prefix}/{rest}"
    return uri + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


@dataclass
class ImageCheck:
    """HealthOmics' rule for task images, checked against the local stack's (moto) ECR.

    An image passes when, after :func:`resolve_image`, it is
    ``<account>.dkr.ecr.<run region>.amazonaws.com/<repository>[:tag|@digest]`` and either

    - the repository exists and its policy lets ``omics.amazonaws.com`` ``ecr:BatchGetImage`` and
      ``ecr:GetDownloadUrlForLayer``; or
    - it does not exist, an ECR pull through cache rule covers its name, the registry policy lets
      ``omics.amazonaws.com`` ``ecr:CreateRepository`` and ``ecr:BatchImportUpstreamImage`` on it,
      and the repository creation template for the rule's prefix (``PULL_THROUGH_CACHE``) gives
      it such a policy. The repository is then created through the cache (``BatchGetImage``).

    Otherwise the failure reason is ``INVALID_ECR_IMAGE_URI`` (not a private ECR URI) or
    ``ECR_PERMISSION_ERROR`` (another region, missing repository, missing permission), or
    ``SERVICE_ERROR`` when moto ECR cannot be asked.
    Sources: https://docs.aws.amazon.com/omics/latest/dev/permissions-ecr.html,
    https://docs.aws.amazon.com/omics/latest/dev/workflows-run-errors.html. Assumptions: an ECR
    image of another region fails with ``ECR_PERMISSION_ERROR``; whether the image (tag) exists is
    not checked (nothing is pushed to the local stack); policy conditions are evaluated with
    ``aws:SourceAccount`` = the run's account and ``aws:SourceArn`` = the run's ARN.
    """

    account: str
    region: str
    ecr_endpoint: str
    registry_map: dict[str, Any] = field(default_factory=dict)
    run_arn: str = ""
    _client: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def from_environment() -> ImageCheck | None:
        """The check configured by ``$OMICS_TOOLKIT_IMAGE_CHECK``, or ``None`` (no check)."""
        path = os.environ.get(IMAGE_CHECK_ENV)
        return _load_check(path) if path else None

    @property
    def context(self) -> dict[str, str]:
        return {"aws:sourceaccount": self.account, "aws:sourcearn": self.run_arn}

    def ecr(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "ecr",
                    endpoint_url=self.ecr_endpoint,
                    region_name=self.region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                )
            return self._client

    def check(self, image: str) -> dict[str, Any]:
        """``{"sourceImage", "image", "failureReason", "message"}`` for one task image."""
        resolved = resolve_image(image, self.registry_map, self.account, self.region)
        result: dict[str, Any] = {
            "sourceImage": image,
            "image": resolved,
            "failureReason": None,
            "message": None,
        }
        try:
            problem = self._problem(resolved)
        except Exception as exc:  # noqa: BLE001 - ECR of the local stack unreachable or broken
            problem = (SERVICE_ERROR, f"the image could not be checked in ECR: {exc}")
        if problem is not None:
            reason, detail = problem
            shown = image if resolved == image else f"{image} (resolved to {resolved})"
            result["failureReason"] = reason
            result["message"] = f"{_DESCRIPTIONS[reason]} Image {shown}: {detail}"
        return result

    def _problem(self, image: str) -> tuple[str, str] | None:
        from botocore.exceptions import ClientError

        try:
            registry, path, tag, digest = split_image(image)
        except ValueError as exc:
            return INVALID_ECR_IMAGE_URI, str(exc)
        m = ECR_HOST.match(registry)
        if m is None:
            return (
                INVALID_ECR_IMAGE_URI,
                f"HealthOmics pulls only from private Amazon ECR "
                f"(<account>.dkr.ecr.{self.region}.amazonaws.com/...); {registry} is not; map it "
                "with the workflow's containerRegistryMap or use a private ECR image",
            )
        if m["region"] != self.region:
            return (
                ECR_PERMISSION_ERROR,
                f"the repository is in {m['region']}; the run is in {self.region}, and the "
                "private repository and the workflow must be in the same Region",
            )
        owner = m["account"]
        arn = f"arn:aws:ecr:{self.region}:{owner}:repository/{path}"
        ecr = self.ecr()
        try:
            ecr.describe_repositories(registryId=owner, repositoryNames=[path])
            exists = True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "RepositoryNotFoundException":
                raise
            exists = False
        if exists:
            try:
                policy = ecr.get_repository_policy(registryId=owner, repositoryName=path)[
                    "policyText"
                ]
            except ClientError:
                policy = None
            if not policy_allows(policy, PULL_ACTIONS, arn, self.context):
                return (
                    ECR_PERMISSION_ERROR,
                    f"the policy of repository {path} does not allow {HEALTHOMICS_PRINCIPAL} "
                    f"{', '.join(PULL_ACTIONS)}",
                )
            return None
        rule = self._rule_for(path) if owner == self.account else None
        if rule is None:
            return (
                ECR_PERMISSION_ERROR,
                f"repository {path} does not exist in the ECR registry {owner} in {self.region} "
                "and no pull through cache rule covers it",
            )
        prefix = rule["ecrRepositoryPrefix"]
        if not policy_allows(self._registry_policy(), PTC_ACTIONS, arn, self.context):
            return (
                ECR_PERMISSION_ERROR,
                f"repository {path} would be created by pull through cache rule {prefix}, but the "
                f"registry policy does not allow {HEALTHOMICS_PRINCIPAL} {', '.join(PTC_ACTIONS)} "
                f"on {arn}",
            )
        template = self._template_for(path)
        if template is None or not policy_allows(
            template.get("repositoryPolicy"), PULL_ACTIONS, arn, self.context
        ):
            return (
                ECR_PERMISSION_ERROR,
                f"repository {path} would be created by pull through cache rule {prefix}, but no "
                f"repository creation template for {prefix} (PULL_THROUGH_CACHE) gives it a "
                f"policy allowing {HEALTHOMICS_PRINCIPAL} {', '.join(PULL_ACTIONS)}",
            )
        image_id = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
        try:  # the first pull through the cache creates the repository
            ecr.batch_get_image(repositoryName=path, imageIds=[image_id])
        except ClientError:
            pass
        return None

    def _all(self, operation: str, key: str) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        ecr = self.ecr()
        items: list[dict[str, Any]] = []
        token = None
        try:
            while True:
                page = getattr(ecr, operation)(**({"nextToken": token} if token else {}))
                items += page.get(key, [])
                token = page.get("nextToken")
                if not token:
                    return items
        except ClientError:
            return items

    def _rule_for(self, repository: str) -> dict[str, Any] | None:
        rules = [
            r
            for r in self._all("describe_pull_through_cache_rules", "pullThroughCacheRules")
            if _covers(r["ecrRepositoryPrefix"], repository)
        ]
        rules.sort(
            key=lambda r: (r["ecrRepositoryPrefix"] != "ROOT", len(r["ecrRepositoryPrefix"]))
        )
        return rules[-1] if rules else None

    def _template_for(self, repository: str) -> dict[str, Any] | None:
        templates = [
            t
            for t in self._all(
                "describe_repository_creation_templates", "repositoryCreationTemplates"
            )
            if "PULL_THROUGH_CACHE" in t.get("appliedFor", []) and _covers(t["prefix"], repository)
        ]
        templates.sort(key=lambda t: (t["prefix"] != "ROOT", len(t["prefix"])))
        return templates[-1] if templates else None

    def _registry_policy(self) -> str | None:
        from botocore.exceptions import ClientError

        try:
            return str(self.ecr().get_registry_policy()["policyText"])
        except ClientError:
            return None


def _covers(prefix: str, repository: str) -> bool:
    return prefix == "ROOT" or repository.startswith(prefix.rstrip("/") + "/")


@functools.lru_cache(maxsize=4)
def _load_check(path: str) -> ImageCheck:
    with open(path) as fh:
        conf = json.load(fh)
    return ImageCheck(
        account=str(conf["account"]),
        region=str(conf["region"]),
        ecr_endpoint=str(conf["ecrEndpoint"]),
        registry_map=dict(conf.get("registryMap") or {}),
        run_arn=str(conf.get("runArn") or ""),
    )
