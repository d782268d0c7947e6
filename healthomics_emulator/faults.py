"""Fault injection on demand: rules that make API calls or background jobs fail or slow down.

Rules are added through the control endpoint ``/_toolkit/faults`` (``POST {"rules": [...]}``
adds, ``GET`` lists, ``DELETE`` clears; client in :mod:`healthomics_emulator.control`). They
live in memory only: a restart of the emulator (``omics-toolkit local stop``/``start``) clears them.

API fault (an ``operation`` key)::

    {"operation": "StartRun" | "*", "error": "ThrottlingException", "message": "...",
     "when": "before" | "after", "count": 1, "delay_seconds": 0, "match": {"name": "x"}}

- ``operation``: a botocore operation name of the ``omics`` model, or ``"*"`` for every operation.
- ``error``: an error shape of the model (``ThrottlingException`` 429, ``InternalServerException``
  500, ...) that the operation declares (any model error for ``"*"``); answered as the emulator
  answers real errors: the shape's ``httpStatusCode``, header ``x-amzn-ErrorType``, body
  ``{"message": ...}``. Optional when ``delay_seconds`` is given (a slow API).
- ``when``: ``"before"`` (default) rejects the request, nothing is done; ``"after"`` performs the
  operation (whatever its outcome), then answers the error -- the lost response that idempotency
  tokens exist for.
- ``count``: how many matching requests fire (default 1; ``null`` = until cleared).
- ``delay_seconds``: sleep before answering (``before``: before the operation; ``after``: after it).
- ``match``: equality on top-level request parameters after parsing (``name``, ``requestId``,
  ``sequenceStoreId``, ...); a request without the parameter does not match.

Job fault (a ``job`` key)::

    {"job": "run" | "read_set_import" | "variant_import" | "annotation_import"
            | "reference_import",
     "fail": "status message", "count": 1, "delay_seconds": 0, "match": {...}}

It fires when a matching job has been accepted and reached IN_PROGRESS (runs: RUNNING), where the
real work would fail: after ``delay_seconds`` more in that status, the job ends FAILED with ``fail``
as its status message (runs: ``failureReason`` and ``statusMessage`` as for other run failures;
read set and reference imports: every source FAILED and the job FAILED; variant and annotation
imports: the matching item FAILED, the others CANCELLED, the job FAILED). Without ``fail`` the job
is only slowed down. ``match``: for runs, equality on run fields (``name``, ``workflowId``,
``runGroupId``, ``requestId``, ...); for imports ``source_contains`` (substring of any source URI)
and, for read set imports, ``source_file_type`` (``FASTQ``/``BAM``/``CRAM``/``UBAM``); both given =
the same source must satisfy both.

When several rules match one request or job, the oldest active one fires (one rule per request).
"""

from __future__ import annotations

import difflib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from healthomics_emulator.errors import OmicsError

if TYPE_CHECKING:
    from healthomics_emulator.model import ServiceModel

log = logging.getLogger(__name__)

#: Job kinds a job fault can target.
JOB_KINDS = ("run", "read_set_import", "variant_import", "annotation_import", "reference_import")
WHEN = ("before", "after")
API_FIELDS = ("operation", "error", "message", "when", "count", "delay_seconds", "match")
JOB_FIELDS = ("job", "fail", "count", "delay_seconds", "match")
#: Match keys of import job faults.
IMPORT_MATCH_KEYS = ("source_contains", "source_file_type")
#: Longest delay a rule may ask for (keeps a forgotten rule from hanging a client for hours).
MAX_DELAY_SECONDS = 3600.0


class FaultRuleError(ValueError):
    """A rule was rejected; ``str()`` says which rule (1-based) and why (HTTP 400 at the endpoint)."""


@dataclass
class Rule:
    """One fault rule and its counters (``remaining`` is ``None`` for unlimited)."""

    id: str
    kind: str  # "api" | "job"
    target: str  # operation name, "*" or job kind
    count: int | None
    delay_seconds: float
    match: dict[str, Any]
    error: str | None = None
    message: str | None = None
    when: str = "before"
    fail: str | None = None
    fired: int = 0
    remaining: int | None = field(default=None)

    def __post_init__(self) -> None:
        self.remaining = self.count

    @property
    def active(self) -> bool:
        return self.remaining is None or self.remaining > 0

    def describe(self) -> dict[str, Any]:
        """The rule as the control endpoint shows it (input fields + ``id``, counters)."""
        common = {
            "id": self.id,
            "count": self.count,
            "remaining": self.remaining,
            "fired": self.fired,
            "active": self.active,
            "delay_seconds": self.delay_seconds,
            "match": dict(self.match),
        }
        if self.kind == "api":
            return {
                "kind": "api",
                "operation": self.target,
                "error": self.error,
                "message": self.message,
                "when": self.when,
                **common,
            }
        return {"kind": "job", "job": self.target, "fail": self.fail, **common}

    def api_error(self, operation: str) -> OmicsError | None:
        """The error to answer for ``operation`` (``None`` for a delay-only rule)."""
        if self.error is None:
            return None
        text = self.message or f"injected fault {self.id}: {self.error} on {operation}"
        return OmicsError(self.error, text)

    def pause(self, interrupted: Callable[[], bool] | None = None) -> bool:
        """Sleep ``delay_seconds``; return ``True`` early if ``interrupted()`` becomes true."""
        return pause(self.delay_seconds, interrupted)


@dataclass(frozen=True)
class JobHit:
    """A job fault that fired: the rule and, for imports, the index of the matching source."""

    rule: Rule
    source_index: int | None = None

    @property
    def fail(self) -> str | None:
        return self.rule.fail


def pause(seconds: float, interrupted: Callable[[], bool] | None = None) -> bool:
    """Sleep ``seconds`` in small steps; ``True`` as soon as ``interrupted()`` is true."""
    deadline = time.monotonic() + seconds
    while True:
        if interrupted is not None and interrupted():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, 0.05))


class FaultRegistry:
    """The emulator's fault rules (in memory), validated against the service model.

    Args:
        model: the ``omics`` service model (operations, error shapes, shapes of run fields).
    """

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self._rules: list[Rule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._errors = sorted(n for n, s in model.shapes.items() if s.get("exception"))
        run_shape = model.shapes[model.output_shape_name("GetRun") or ""]
        self._run_fields = sorted({*run_shape["members"], "requestId"})
        self._file_types = list(model.shapes["FileType"]["enum"])

    # ------------------------------------------------------------------ control endpoint
    def add(self, rules: Any) -> list[dict[str, Any]]:
        """Validate and add rules (all or none); return them with their ids.

        Raises:
            FaultRuleError: the body is not a list of rule objects, or a rule is invalid.
        """
        if not isinstance(rules, list) or not rules:
            raise FaultRuleError('the body must be {"rules": [rule, ...]} with at least one rule')
        parsed = [self._parse(n, raw) for n, raw in enumerate(rules, 1)]
        with self._lock:
            for rule in parsed:
                rule.id = f"f{next(self._ids)}"
                self._rules.append(rule)
        for rule in parsed:
            log.info("fault rule added: %s", rule.describe())
        return [r.describe() for r in parsed]

    def describe(self) -> list[dict[str, Any]]:
        """Every rule added since the last clear (exhausted ones with ``active: false``)."""
        with self._lock:
            return [r.describe() for r in self._rules]

    def clear(self) -> int:
        """Remove every rule; return how many there were."""
        with self._lock:
            count = len(self._rules)
            self._rules.clear()
        return count

    # ------------------------------------------------------------------ firing
    def take_api(self, operation: str, params: dict[str, Any]) -> Rule | None:
        """The oldest active API rule matching ``operation`` and ``params``, consumed once."""
        with self._lock:
            for rule in self._rules:
                if (
                    rule.kind == "api"
                    and rule.active
                    and rule.target in ("*", operation)
                    and _fields_match(rule.match, params)
                ):
                    self._consume(rule)
                    break
            else:
                return None
        log.info("fault %s fires on %s (%s)", rule.id, operation, rule.when)
        return rule

    def take_job(
        self,
        job: str,
        *,
        fields: dict[str, Any] | None = None,
        sources: Sequence[tuple[Sequence[str], str | None]] = (),
    ) -> JobHit | None:
        """The oldest active job rule for ``job`` that matches, consumed once.

        Args:
            job: one of :data:`JOB_KINDS`.
            fields: the run record (runs).
            sources: per import source, its URIs and file type (``None`` when the job kind has
                none); a rule matches when one source satisfies every import match key.
        """
        with self._lock:
            for rule in self._rules:
                if rule.kind != "job" or not rule.active or rule.target != job:
                    continue
                if job == "run":
                    if not _fields_match(rule.match, fields or {}):
                        continue
                    hit = JobHit(rule)
                else:
                    index = _source_index(rule.match, sources)
                    if index is None:
                        continue
                    hit = JobHit(rule, index)
                self._consume(rule)
                break
            else:
                return None
        log.info("fault %s fires on a %s job", rule.id, job)
        return hit

    @staticmethod
    def _consume(rule: Rule) -> None:
        rule.fired += 1
        if rule.remaining is not None:
            rule.remaining -= 1

    # ------------------------------------------------------------------ validation
    def _parse(self, n: int, raw: Any) -> Rule:
        if not isinstance(raw, dict):
            raise FaultRuleError(f"rule {n}: must be a JSON object, not {type(raw).__name__}")
        if ("operation" in raw) == ("job" in raw):
            raise FaultRuleError(
                f'rule {n}: give either "operation" (an API fault) or "job" (a job fault)'
            )
        kind = "api" if "operation" in raw else "job"
        known = API_FIELDS if kind == "api" else JOB_FIELDS
        unknown = sorted(set(raw) - set(known))
        if unknown:
            misplaced = [k for k in unknown if k in IMPORT_MATCH_KEYS]
            hint = f' ({", ".join(misplaced)} go(es) under "match")' if misplaced else ""
            raise FaultRuleError(
                f"rule {n}: unknown field(s) {', '.join(unknown)}{hint}; "
                f"{'API' if kind == 'api' else 'job'} fault fields: {', '.join(known)}"
            )
        count = raw.get("count", 1)
        if count is not None and (type(count) is not int or count < 1):
            raise FaultRuleError(f"rule {n}: count must be an integer >= 1 or null (until cleared)")
        delay = raw.get("delay_seconds", 0) or 0
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise FaultRuleError(f"rule {n}: delay_seconds must be a number")
        if not 0 <= delay <= MAX_DELAY_SECONDS:
            raise FaultRuleError(
                f"rule {n}: delay_seconds must be between 0 and {MAX_DELAY_SECONDS:g}"
            )
        match = raw.get("match") or {}
        if not isinstance(match, dict):
            raise FaultRuleError(f"rule {n}: match must be a JSON object")
        if kind == "api":
            return self._parse_api(n, raw, count, float(delay), match)
        return self._parse_job(n, raw, count, float(delay), match)

    def _parse_api(
        self, n: int, raw: dict[str, Any], count: int | None, delay: float, match: dict[str, Any]
    ) -> Rule:
        operation = raw["operation"]
        operations = self.model.operations
        if not isinstance(operation, str) or (operation != "*" and operation not in operations):
            close = difflib.get_close_matches(str(operation), list(operations), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise FaultRuleError(
                f'rule {n}: unknown operation {operation!r} (an omics API operation or "*"){hint}'
            )
        error = raw.get("error")
        if error is not None:
            if error not in self._errors:
                raise FaultRuleError(
                    f"rule {n}: error {error!r} is not an error of the omics model; "
                    f"known: {', '.join(self._errors)}"
                )
            if operation != "*":
                declared = [e["shape"] for e in operations[operation].get("errors", [])]
                if error not in declared:
                    raise FaultRuleError(
                        f"rule {n}: {operation} does not declare {error}; "
                        f"it declares: {', '.join(sorted(declared))}"
                    )
        elif not delay:
            raise FaultRuleError(f"rule {n}: give an error, a delay_seconds, or both")
        when = raw.get("when", "before")
        if when not in WHEN:
            raise FaultRuleError(f'rule {n}: when must be "before" or "after", not {when!r}')
        message = raw.get("message")
        if message is not None and not isinstance(message, str):
            raise FaultRuleError(f"rule {n}: message must be a string")
        if operation != "*":
            members = self.model.shapes[self.model.input_shape_name(operation) or ""]["members"]
            unknown = sorted(set(match) - set(members))
            if unknown:
                raise FaultRuleError(
                    f"rule {n}: {operation} has no request parameter(s) {', '.join(unknown)}; "
                    f"its parameters: {', '.join(members)}"
                )
        return Rule(
            id="",
            kind="api",
            target=operation,
            count=count,
            delay_seconds=delay,
            match=match,
            error=error,
            message=message,
            when=when,
        )

    def _parse_job(
        self, n: int, raw: dict[str, Any], count: int | None, delay: float, match: dict[str, Any]
    ) -> Rule:
        job = raw["job"]
        if job not in JOB_KINDS:
            raise FaultRuleError(
                f"rule {n}: job must be one of {', '.join(JOB_KINDS)}, not {job!r}"
            )
        fail = raw.get("fail")
        if fail is not None and (not isinstance(fail, str) or not fail.strip()):
            raise FaultRuleError(f"rule {n}: fail must be a non-empty status message")
        if fail is None and not delay:
            raise FaultRuleError(f"rule {n}: give fail (a status message), delay_seconds, or both")
        if fail is not None and any(not ch.isprintable() for ch in fail):
            raise FaultRuleError(f"rule {n}: fail must be one line of printable characters")
        if job == "run":
            unknown = sorted(set(match) - set(self._run_fields))
            if unknown:
                raise FaultRuleError(
                    f"rule {n}: runs have no field(s) {', '.join(unknown)}; "
                    f"run fields: {', '.join(self._run_fields)}"
                )
        else:
            allowed = IMPORT_MATCH_KEYS if job == "read_set_import" else IMPORT_MATCH_KEYS[:1]
            unknown = sorted(set(match) - set(allowed))
            if unknown:
                raise FaultRuleError(
                    f"rule {n}: {job} jobs match on {', '.join(allowed)} only, "
                    f"not {', '.join(unknown)}"
                )
            if not isinstance(match.get("source_contains", ""), str):
                raise FaultRuleError(f"rule {n}: match.source_contains must be a string")
            file_type = match.get("source_file_type")
            if file_type is not None and file_type not in self._file_types:
                raise FaultRuleError(
                    f"rule {n}: match.source_file_type must be one of "
                    f"{', '.join(self._file_types)}, not {file_type!r}"
                )
        return Rule(
            id="", kind="job", target=job, count=count, delay_seconds=delay, match=match, fail=fail
        )


def _fields_match(match: dict[str, Any], fields: dict[str, Any]) -> bool:
    return all(fields.get(key) == value for key, value in match.items())


def _source_index(
    match: dict[str, Any], sources: Sequence[tuple[Sequence[str], str | None]]
) -> int | None:
    """Index of the first source satisfying every import match key (no keys: the first source)."""
    needle = match.get("source_contains")
    file_type = match.get("source_file_type")
    for index, (uris, kind) in enumerate(sources):
        if needle is not None and not any(needle in uri for uri in uris):
            continue
        if file_type is not None and kind != file_type:
            continue
        return index
    return None
