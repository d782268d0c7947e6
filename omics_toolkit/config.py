"""Effective settings: flag > ``OMICS_TOOLKIT_*`` environment > ``omics-toolkit.toml`` > defaults.

Every setting has a unit in its name where it has one (``poll_interval_seconds``).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from omics_toolkit.errors import ConfigError, LocalStackError

ENV_PREFIX = "OMICS_TOOLKIT_"
CONFIG_FILE = "omics-toolkit.toml"


def default_home() -> Path:
    """Directory holding the toolkit's state: the local stack, downloaded data, caches."""
    return Path(os.environ.get("OMICS_TOOLKIT_HOME", Path.home() / ".omics-toolkit"))


#: Defaults that depend on ``target``: the embedded stack finishes a demo-size import or run in
#: seconds, so it is polled every 1, 2, 2, ... s; AWS jobs take minutes to hours (60 s doubling
#: to 600 s keeps a 72-hour run within Step Functions' history limit). An explicit value wins.
TARGET_DEFAULTS: dict[str, dict[str, int]] = {
    "local": {"poll_interval_seconds": 1, "max_poll_interval_seconds": 2},
    "aws": {"poll_interval_seconds": 60, "max_poll_interval_seconds": 600},
}


@dataclass(frozen=True)
class Settings:
    """The toolkit's effective configuration.

    Attributes:
        deployment: prefix of every resource name; also the value of the deployment tag.
        target: ``"local"`` (the embedded stack) or ``"aws"`` (the account of ``profile``).
        region: AWS region; ``None`` lets boto3 resolve it from the profile/environment.
        profile: AWS named profile, for ``target="aws"``.
        home: state directory (local stack state lives in ``home/local``).
        workflow: name of the directory under ``workflows/`` that the pipeline runs.
        ploidy: copies of every contig in a sample, passed to the workflow's ``ploidy`` input
            (``bcftools call --ploidy``, HaplotypeCaller ``-ploidy``): 2 (diploid: human,
            most animals), 1 (haploid: viruses, bacteria; GT ``1`` instead of ``1/1``), up to 8
            for polyploids (gatk-germline only: bcftools calls ploidy 1 or 2).
        poll_interval_seconds: how long the state machine waits before its first status poll
            of an import job or run; each further wait doubles, up to ``max_poll_interval_seconds``.
            Default per target (:data:`TARGET_DEFAULTS`): 1 on ``local`` (its jobs take
            seconds), 60 on ``aws``; ``None`` given here means that default.
        max_poll_interval_seconds: the longest wait between two polls (keeps a 72-hour run far
            below Step Functions' 25,000-event history limit: see
            :mod:`omics_toolkit.pipeline.history`). Default per target: 2 on ``local``, 600 on
            ``aws``, and never below ``poll_interval_seconds``.
        storage_type: HealthOmics run storage type, ``DYNAMIC`` or ``STATIC``.
        variant_backend: where imported variants live: ``"stores"`` (HealthOmics variant and
            annotation stores; refused to accounts new since 2025-11-07), ``"s3tables"`` (Apache
            Iceberg tables in an S3 table bucket, AWS's recommended replacement), ``"none"``
            (VCFs stay in the output bucket, no SQL), or ``"auto"`` (stores where the account
            can create them, else ``"s3tables"``). The same SQL runs on either.
        kms_key_arn: customer-managed KMS key for the buckets (SSE-KMS) and the Athena results;
            ``None`` means SSE-S3.
        pair_pattern: a regular expression matched against the whole base name of an uploaded
            FASTQ object (extension included), with named groups ``sample`` and ``mate`` (matching
            ``1``/``2`` or ``R1``/``R2``) and optionally ``lane``; tried before the built-in naming
            conventions (see :mod:`omics_toolkit.pipeline.pairs`). ``None``: built-in only.
        run_parameters: fixed StartRun parameters added to every run, e.g. private ECR image
            URIs ``{"bwa_image": "<account>.dkr.ecr.<region>.amazonaws.com/bwa:0.7.17"}``
            (config file ``[run_parameters]`` table only). Each must be a workflow input.
        storage_capacity_gib: STATIC run storage in GiB (HealthOmics rounds up to a multiple of
            1200; default 1200); only with ``storage_type = "STATIC"``.
        run_group_max_cpus, run_group_max_runs, run_group_max_duration_minutes,
            run_group_max_gpus: limits of the deployment's run group ``<deployment>-runs``
            (CreateRunGroup ``maxCpus``, ``maxRuns`` concurrent runs, ``maxDuration`` minutes,
            ``maxGpus``); setting any of them puts every run in that group. ``None``: no group.
        cache_behavior: HealthOmics run cache (call caching) for the pipeline's runs: ``"off"``,
            ``"CACHE_ON_FAILURE"`` (keep task outputs of failed runs, so a retry reuses them) or
            ``"CACHE_ALWAYS"``; the cache is ``<deployment>-cache`` in
            ``s3://<output bucket>/run-cache/``.
        retention_mode: StartRun ``retentionMode``: ``"RETAIN"`` (runs kept until deleted) or
            ``"REMOVE"`` (HealthOmics deletes the oldest runs' metadata when the run quota is
            reached).
        log_level: StartRun ``logLevel``: ``ALL``, ``ERROR``, ``FATAL`` or ``OFF``.
        run_tags: tags added to every run (config file ``[run_tags]`` table only); the
            deployment and ``sample`` tags are always set and cannot be overridden.
        known_sites: VCFs of known variant sites for base quality recalibration (GATK workflow
            inputs ``known_sites_vcfs`` / ``known_sites_indices``): local paths or ``s3://``
            URIs of bgzipped VCFs, each with its ``.tbi`` beside it (config file: a list;
            environment: comma-separated). Required by ``gatk-germline``.
        log_execution_data: whether the state machine's CloudWatch log events carry execution
            data (inputs and outputs: sample ids, S3 URIs, possibly protected health
            information); ``False`` by default (Step Functions ``includeExecutionData``).
        log_retention_days: retention of the state machine's log group, one of CloudWatch Logs'
            values (PutRetentionPolicy ``retentionInDays``: 1, 3, 5, 7, 14, 30, 60, 90, ...).
        noncurrent_version_days: days after which the buckets' noncurrent object versions
            (overwritten or deleted objects; the buckets are versioned) are expired
            (lifecycle ``NoncurrentVersionExpiration``).
        data_lake_principal: who provisioning and annotation imports grant Lake Formation
            read access to (an IAM role or user ARN, with its path; see
            :func:`omics_toolkit.principals.check_principal`); ``None``: the caller, an assumed
            role's session resolved to the role (:func:`omics_toolkit.principals.data_lake_principal`).
    """

    deployment: str = "omics-toolkit"
    target: str = "local"
    region: str | None = None
    profile: str | None = None
    home: Path = field(default_factory=default_home)
    workflow: str = "bcftools-germline"
    ploidy: int = 2
    poll_interval_seconds: int = None  # type: ignore[assignment]  # per target: __post_init__
    max_poll_interval_seconds: int = None  # type: ignore[assignment]  # per target: __post_init__
    storage_type: str = "DYNAMIC"
    variant_backend: str = "auto"
    kms_key_arn: str | None = None
    pair_pattern: str | None = None
    run_parameters: dict[str, str] = field(default_factory=dict)
    storage_capacity_gib: int | None = None
    run_group_max_cpus: int | None = None
    run_group_max_runs: int | None = None
    run_group_max_duration_minutes: int | None = None
    run_group_max_gpus: int | None = None
    cache_behavior: str = "off"
    retention_mode: str = "RETAIN"
    log_level: str = "ALL"
    run_tags: dict[str, str] = field(default_factory=dict)
    known_sites: tuple[str, ...] = ()
    log_execution_data: bool = False
    log_retention_days: int = 90
    noncurrent_version_days: int = 30
    data_lake_principal: str | None = None

    def __post_init__(self) -> None:
        defaults = TARGET_DEFAULTS.get(self.target, TARGET_DEFAULTS["aws"])
        if self.poll_interval_seconds is None:
            object.__setattr__(self, "poll_interval_seconds", defaults["poll_interval_seconds"])
        if self.max_poll_interval_seconds is None:
            longest = max(defaults["max_poll_interval_seconds"], self.poll_interval_seconds)
            object.__setattr__(self, "max_poll_interval_seconds", longest)

    @property
    def run_group_limits(self) -> dict[str, int]:
        """CreateRunGroup limits from the ``run_group_*`` settings (empty: no run group)."""
        limits = {
            "maxCpus": self.run_group_max_cpus,
            "maxRuns": self.run_group_max_runs,
            "maxDuration": self.run_group_max_duration_minutes,
            "maxGpus": self.run_group_max_gpus,
        }
        return {k: v for k, v in limits.items() if v is not None}

    @property
    def local_dir(self) -> Path:
        return self.home / "local"

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with the non-``None`` overrides applied (CLI flags)."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **clean)


def _coerce(name: str, value: Any, source: str = "") -> Any:
    """``value`` as the type of setting ``name``; ``source`` (``env …``) is named in the error."""
    origin = f" (from {source})" if source else ""
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = str(kinds[name])
    if kind.startswith("tuple"):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
            raise ConfigError(
                f'setting {name} must be a list of strings, e.g. {name} = ["a", "b"]{origin}'
            )
        return tuple(v.strip() for v in items if v.strip())
    if kind.startswith("dict"):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(
                f'setting {name} must be a table of strings, e.g. [{name}] key = "value"{origin}'
            )
        return dict(value)
    if kind.startswith("bool"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"setting {name}={value!r}{origin} must be true or false")
    try:
        if "int" in kind and "str" not in kind:
            return int(value)
        if "Path" in kind:
            return Path(value).expanduser()
    except (TypeError, ValueError) as exc:
        what = "a whole number" if "int" in kind else f"a valid {kind}"
        raise ConfigError(f"setting {name}={value!r}{origin} is not {what}") from exc
    return value


_DEPLOYMENT = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


#: Bucket-name prefixes S3 reserves (S3 User Guide, "General purpose bucket naming rules"); a
#: deployment name starting with one would give invalid names to every bucket.
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")


def check_deployment_name(name: str, source: str = "") -> None:
    """Deployment names prefix bucket names: 3-32 of a-z, 0-9 and '-', starting with a letter.

    Raises:
        ConfigError: the name does not fit, or starts with a prefix S3 reserves for bucket names
            (``xn--``, ``sthree-``, ``amzn-s3-demo-``).
    """
    origin = f" (from {source})" if source else ""
    if not _DEPLOYMENT.match(name):
        raise ConfigError(
            f"deployment name {name!r}{origin} must be 3-32 characters of a-z, 0-9 and '-', "
            "starting with a letter and not ending with '-' (it prefixes bucket names)"
        )
    reserved = next((p for p in RESERVED_BUCKET_PREFIXES if name.startswith(p)), None)
    if reserved:
        raise ConfigError(
            f"deployment name {name!r}{origin} must not start with {reserved!r}: S3 reserves that "
            "prefix for bucket names, and the deployment name prefixes its buckets"
        )


#: Named groups a ``pair_pattern`` must have, and the one it may have.
PAIR_PATTERN_GROUPS = ("sample", "mate")
PAIR_PATTERN_OPTIONAL_GROUPS = ("lane",)


def compile_pair_pattern(pattern: str, source: str = "") -> re.Pattern[str]:
    """Compile a ``pair_pattern`` (see :class:`Settings`) and check its named groups.

    Raises:
        ConfigError: it does not compile, lacks the ``sample`` or ``mate`` group, or has a named
            group other than ``sample``, ``mate`` and ``lane`` (a typo would go unnoticed).
    """
    origin = f" (from {source})" if source else ""
    example = r"e.g. (?P<sample>[^_]+)_(?P<lane>L\d+)_(?P<mate>R[12])\.fastq\.gz"
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"pair_pattern {pattern!r}{origin} is not a valid regular expression: {exc}; {example}"
        ) from exc
    groups = set(compiled.groupindex)
    missing = [g for g in PAIR_PATTERN_GROUPS if g not in groups]
    if missing:
        raise ConfigError(
            f"pair_pattern {pattern!r}{origin} has no named group(s) "
            f"{', '.join(f'(?P<{g}>...)' for g in missing)}: it needs (?P<sample>...) and "
            f"(?P<mate>...) (matching 1/2 or R1/R2), optionally (?P<lane>...); {example}"
        )
    unknown = sorted(groups - set(PAIR_PATTERN_GROUPS) - set(PAIR_PATTERN_OPTIONAL_GROUPS))
    if unknown:
        raise ConfigError(
            f"pair_pattern {pattern!r}{origin} has unknown named group(s) {unknown}: only "
            "sample, mate and lane are used (write other groups as (?:...))"
        )
    return compiled


#: Values each setting may take (checked after resolution).
CHOICES: dict[str, tuple[str, ...]] = {
    "target": ("local", "aws"),
    "storage_type": ("DYNAMIC", "STATIC"),
    "variant_backend": ("auto", "stores", "s3tables", "none"),
    "cache_behavior": ("off", "CACHE_ON_FAILURE", "CACHE_ALWAYS"),
    "retention_mode": ("RETAIN", "REMOVE"),
    "log_level": ("ALL", "ERROR", "FATAL", "OFF"),
}
#: Integer settings and their allowed range (StartRun / CreateRunGroup limits, botocore model;
#: ploidy: the toolkit's bound, octoploids at most).
RANGES: dict[str, tuple[int, int]] = {
    "ploidy": (1, 8),
    "storage_capacity_gib": (1, 100_000),
    "run_group_max_cpus": (1, 100_000),
    "run_group_max_runs": (1, 100_000),
    "run_group_max_duration_minutes": (1, 100_000),
    "run_group_max_gpus": (1, 100_000),
    "noncurrent_version_days": (1, 100_000),
}
#: CloudWatch Logs PutRetentionPolicy ``retentionInDays`` values (botocore ``logs`` model).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096)
LOG_RETENTION_DAYS += (1827, 2192, 2557, 2922, 3288, 3653)


def resolve_settings(
    config_file: Path | None = None, **flags: Any
) -> tuple[Settings, dict[str, str]]:
    """Resolve settings and say where each value came from.

    Precedence: flag > ``OMICS_TOOLKIT_<NAME>`` environment > config file > defaults
    (``region`` also falls back to ``AWS_REGION`` before the file's value is overridden by flags).

    Args:
        config_file: explicit TOML file; default ``./omics-toolkit.toml`` when it exists.
        **flags: values given on the command line; ``None`` means "not given".

    Returns:
        ``(settings, sources)``; ``sources[name]`` is ``"flag"``, ``"env OMICS_TOOLKIT_..."``,
        ``"file <path>"`` or ``"default"``.

    Raises:
        ConfigError: unknown key in the file, a value of the wrong type or outside its choices.
    """
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path = config_file or Path(CONFIG_FILE)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        unknown = set(data) - names
        if unknown:
            raise ConfigError(
                f"{path}: unknown setting(s) {sorted(unknown)}; known: {sorted(names)}"
            )
        values.update(data)
        sources.update({k: f"file {path}" for k in data})
    elif config_file is not None:
        raise ConfigError(f"config file {config_file} does not exist")
    for name in names - {"run_parameters", "run_tags"}:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None:
            values[name] = env
            sources[name] = f"env {ENV_PREFIX}{name.upper()}"
    if "region" not in values and os.environ.get("AWS_REGION"):
        values["region"] = os.environ["AWS_REGION"]
        sources["region"] = "env AWS_REGION"
    given = {k: v for k, v in flags.items() if v is not None}
    values.update(given)
    sources.update({k: "flag" for k in given})
    settings = Settings(**{k: _coerce(k, v, sources.get(k, "")) for k, v in values.items()})
    per_target = f"default ({settings.target})"
    sources = {
        name: sources.get(name, per_target if name in TARGET_DEFAULTS["aws"] else "default")
        for name in sorted(names)
    }
    check_settings(settings, sources)
    return settings, sources


def check_settings(settings: Settings, sources: dict[str, str] | None = None) -> None:
    """Check choices, ranges and combinations of effective settings.

    Args:
        settings: the settings to check.
        sources: where each value came from (named in the error messages).

    Raises:
        ConfigError: a value outside its choices or range, or settings that do not go together.
    """
    sources = sources or {}
    for name, allowed in CHOICES.items():
        if getattr(settings, name) not in allowed:
            raise ConfigError(
                f"{name} must be one of {', '.join(allowed)}, not {getattr(settings, name)!r} "
                f"(from {sources.get(name, 'default')})"
            )
    for name, (low, high) in RANGES.items():
        value = getattr(settings, name)
        if value is not None and not low <= value <= high:
            raise ConfigError(
                f"{name} must be between {low} and {high}, not {value} "
                f"(from {sources.get(name, 'default')})"
            )
    if settings.storage_capacity_gib is not None and settings.storage_type != "STATIC":
        raise ConfigError(
            f"storage_capacity_gib (from {sources.get('storage_capacity_gib')}) applies to STATIC "
            f"run storage only; storage_type is {settings.storage_type} "
            f'(from {sources.get("storage_type", "default")}): set storage_type = "STATIC" '
            "or drop storage_capacity_gib"
        )
    if settings.log_retention_days not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"log_retention_days must be one of {', '.join(map(str, LOG_RETENTION_DAYS))} "
            f"(CloudWatch Logs retention periods), not {settings.log_retention_days} "
            f"(from {sources.get('log_retention_days', 'default')})"
        )
    check_deployment_name(settings.deployment, sources.get("deployment", "default"))
    if settings.pair_pattern:
        compile_pair_pattern(settings.pair_pattern, sources.get("pair_pattern", "default"))


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Resolve settings from flags, environment, config file and defaults (in that order).

    See :func:`resolve_settings`.

    Raises:
        ConfigError: unknown key in the file, or a value of the wrong type.
    """
    return resolve_settings(config_file, **flags)[0]


def read_local_endpoints(local_dir: Path) -> dict[str, Any]:
    """Read the running local stack's record (``local_dir/stack.json``).

    Returns:
        ``{"pid": int, "moto": "http://127.0.0.1:PORT", "omics": "http://127.0.0.1:PORT", ...}``

    Raises:
        LocalStackError: no stack record, or its process is gone.
    """
    record = local_dir / "stack.json"
    if not record.is_file():
        raise LocalStackError(
            f"the local stack is not running (no {record}); start it with `omics-toolkit local start`"
        )
    try:
        data = json.loads(record.read_text())
        os.kill(int(data["pid"]), 0)
    except PermissionError:
        pass  # the pid exists (owned by another user): trust the record, the endpoints will tell
    except (ProcessLookupError, KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise LocalStackError(
            f"the local stack recorded in {record} is not running; restart it with "
            "`omics-toolkit local start`"
        ) from exc
    return data
