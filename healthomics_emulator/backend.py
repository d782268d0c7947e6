"""The emulator's backend: state, moto clients, worker threads and operation dispatch.

Operation handlers are plain functions ``handler(backend, params) -> dict``; ``params`` are
validated input members, the result is shaped by the output shape. The route table (operation
name -> handler) is :data:`healthomics_emulator.routes.OPERATIONS`, handed to the backend by
:func:`healthomics_emulator.routes.new_backend`: operation modules import this module, never the
reverse.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config

from healthomics_emulator.errors import OmicsError, not_implemented
from healthomics_emulator.faults import FaultRegistry
from healthomics_emulator.model import ServiceModel, now_iso
from healthomics_emulator.role_policy import RolePolicies, fetch_role_policies
from healthomics_emulator.state import Record, State

log = logging.getLogger(__name__)

Handler = Callable[["Backend", dict[str, Any]], dict[str, Any]]

#: Statuses that mean "work in flight" per collection; on reload they become FAILED.
IN_FLIGHT: dict[str, tuple[str, ...]] = {
    "referenceImportJobs": ("SUBMITTED", "IN_PROGRESS", "CANCELLING"),
    "readSetImportJobs": ("SUBMITTED", "IN_PROGRESS", "CANCELLING"),
    "readSetActivationJobs": ("SUBMITTED", "IN_PROGRESS", "CANCELLING"),
    "readSetExportJobs": ("SUBMITTED", "IN_PROGRESS", "CANCELLING"),
    "variantImportJobs": ("SUBMITTED", "IN_PROGRESS"),
    "annotationImportJobs": ("SUBMITTED", "IN_PROGRESS"),
    "runs": ("PENDING", "STARTING", "RUNNING", "STOPPING"),
}
INTERRUPTED = "interrupted by local stack stop"
#: Emulator options (control endpoint ``/_toolkit/options``), persisted in ``OPTIONS_FILE``.
#: ``evaluate_role_policies``: hold imports and runs to the identity policies of the role they are
#: given (:mod:`healthomics_emulator.role_policy`), as HealthOmics is; turning it off is the only
#: way to skip the check.
#: ``read_set_part_size_bytes``: the part size of read sets imported from then on (GetReadSet
#: ``partNumber``, ``files.*.partSize``); the service's is 100 MiB, tests set small parts.
DEFAULT_OPTIONS: dict[str, Any] = {
    "new_customer": False,
    "evaluate_role_policies": True,
    "read_set_part_size_bytes": 100 * 1024 * 1024,
}
OPTIONS_FILE = "options.json"
#: The HealthOmics-owned account that holds the stores' Glue databases and shares them into the
#: caller's account through AWS RAM (AWS does not publish its id; any 12-digit id other than the
#: caller's serves). Configurable per emulator (``service_account_id``).
SERVICE_ACCOUNT_ID = "444455556666"
#: moto server header that selects the account a request acts in (moto.core.responses
#: ``BaseResponse.get_current_account``: ``MOTO_ACCOUNT_ID`` env > this header > access key).
MOTO_ACCOUNT_HEADER = "x-moto-account-id"


class Runner(Protocol):
    """What the backend needs of the run executor (``run_exec.RunManager``)."""

    def kill_all(self) -> None:
        """Stop every run in flight (the emulator is shutting down)."""
        ...


class Backend:
    """Everything a handler needs.

    Args:
        state_dir: emulator state directory (metadata JSON, references, read sets, runs, stores).
        moto_endpoint: URL of the moto server (S3, Glue, CloudWatch Logs).
        account_id, region: used in ARNs, omics:// URIs and Glue database names.
        service_account_id: the HealthOmics-owned account whose Glue catalog holds the stores'
            databases (shared into ``account_id`` through AWS RAM).
        handlers: operation name -> handler (the route table).
        runner: makes the run executor from the backend (``None``: no runs execute).
    """

    def __init__(
        self,
        state_dir: Path,
        moto_endpoint: str,
        account_id: str,
        region: str,
        handlers: Mapping[str, Handler] | None = None,
        runner: Callable[[Backend], Any] | None = None,
        service_account_id: str = SERVICE_ACCOUNT_ID,
    ) -> None:
        if service_account_id == account_id:
            raise ValueError("the HealthOmics service account must differ from the caller's")
        self.state_dir = state_dir
        self.moto_endpoint = moto_endpoint
        self.account_id = account_id
        self.service_account_id = service_account_id
        self.region = region
        self.model = ServiceModel()
        self.state = State(state_dir)
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="omics-emu")
        self.stopping = threading.Event()
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self._clients: dict[str, Any] = {}
        self._client_lock = threading.Lock()
        self.runner: Any = runner(self) if runner is not None else None
        self.options = self._read_options()
        #: Fault injection rules (control endpoint ``/_toolkit/faults``); in memory only.
        self.faults = FaultRegistry(self.model)

    # ------------------------------------------------------------------ emulator options
    def _read_options(self) -> dict[str, Any]:
        path = self.state_dir / OPTIONS_FILE
        stored = json.loads(path.read_text()) if path.is_file() else {}
        return {**DEFAULT_OPTIONS, **{k: v for k, v in stored.items() if k in DEFAULT_OPTIONS}}

    def set_options(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change emulator options (persisted across restarts); returns all options.

        Options: ``new_customer`` (bool) -- refuse CreateVariantStore/CreateAnnotationStore as
        HealthOmics does for accounts that are new since 2025-11-07; ``evaluate_role_policies``
        (bool, default true) -- check the role's identity policies before imports and runs read
        or write S3 (false skips the check).

        Raises:
            ValueError: unknown option or a value of the wrong type.
        """
        for key, value in changes.items():
            if key not in DEFAULT_OPTIONS:
                raise ValueError(
                    f"unknown emulator option {key!r}; known: {sorted(DEFAULT_OPTIONS)}"
                )
            if type(value) is not type(DEFAULT_OPTIONS[key]):
                raise ValueError(
                    f"emulator option {key} must be {type(DEFAULT_OPTIONS[key]).__name__}"
                )
        self.options.update(changes)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / OPTIONS_FILE).write_text(json.dumps(self.options, indent=2))
        return dict(self.options)

    # ------------------------------------------------------------------ lifecycle
    def load(self) -> None:
        """Reload persisted state; mark in-flight jobs/runs FAILED (``interrupted by ...``)."""
        self.state.load()
        now = now_iso()
        for collection, statuses in IN_FLIGHT.items():
            for key, rec in self.state.items(collection):
                if rec.get("status") in statuses:
                    changes: dict[str, Any] = {"status": "FAILED", "statusMessage": INTERRUPTED}
                    if collection == "runs":
                        changes.update(stopTime=now, failureReason=INTERRUPTED)
                    else:
                        changes.update(completionTime=now, updateTime=now)
                    self.state.update(collection, key, **changes)
        for key, rec in self.state.items("readSets"):
            if rec.get("status") == "ACTIVATING":  # its activation job was interrupted
                self.state.update("readSets", key, status="ARCHIVED")
        for collection in ("sequenceStores", "variantStores", "annotationStores", "workflows"):
            for key, rec in self.state.items(collection):
                if rec.get("status") == "CREATING":
                    self.state.update(collection, key, status="ACTIVE")

    def shutdown(self) -> None:
        """Stop workers (runs are killed) and persist state."""
        self.stopping.set()
        if self.runner is not None:
            self.runner.kill_all()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.state.save()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker thread, logging (not raising) its exceptions."""

        def wrapped() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("background task %s failed", getattr(fn, "__name__", fn))

        self.executor.submit(wrapped)

    # ------------------------------------------------------------------ dispatch
    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run the handler of ``operation``; ``NotImplementedException`` if there is none."""
        handler = self.handlers.get(operation)
        if handler is None:
            raise not_implemented(operation)
        return handler(self, params)

    # ------------------------------------------------------------------ helpers
    def client(self, service: str) -> Any:
        """A boto3 client for a moto-served service (credentials testing/testing)."""
        with self._client_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service,
                    endpoint_url=self.moto_endpoint,
                    region_name=self.region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                )
            return self._clients[service]

    def role_policies(self, role_arn: str) -> RolePolicies | None:
        """The identity policies of ``role_arn`` from moto IAM, or ``None`` when the option
        ``evaluate_role_policies`` is off (nothing is checked then).

        Raises:
            AccessDenied: kind ``"assume"``: the role is missing or does not trust HealthOmics.
        """
        if not self.options.get("evaluate_role_policies", True):
            return None
        return fetch_role_policies(self.client("iam"), role_arn)

    def service_client(self, service: str) -> Any:
        """A boto3 client acting in the HealthOmics service account (``service_account_id``) on
        the moto server: every request carries moto's ``x-moto-account-id`` header."""
        key = f"service:{service}"
        with self._client_lock:
            if key not in self._clients:
                client = boto3.client(
                    service,
                    endpoint_url=self.moto_endpoint,
                    region_name=self.region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                )
                account = self.service_account_id

                def as_service(request: Any, **_: Any) -> None:
                    request.headers[MOTO_ACCOUNT_HEADER] = account

                client.meta.events.register("before-send", as_service)
                self._clients[key] = client
            return self._clients[key]

    def arn(self, resource: str) -> str:
        """``arn:aws:omics:<region>:<account>:<resource>``."""
        return f"arn:aws:omics:{self.region}:{self.account_id}:{resource}"

    def require(self, collection: str, key: str, kind: str) -> Record:
        """The record or ``ResourceNotFoundException`` naming ``kind``."""
        rec = self.state.get(collection, key)
        if rec is None or rec.get("_deleted"):
            raise OmicsError("ResourceNotFoundException", f"{kind} {key} not found")
        return rec

    def set_tags(self, arn: str, tags: dict[str, str] | None) -> None:
        """Merge ``tags`` into the tag set of ``arn``."""
        if not tags:
            return
        with self.state.lock:
            current = self.state.get("tags", arn) or {}
            current.update(tags)
            self.state.put("tags", arn, current)

    def tags_of(self, arn: str) -> dict[str, str]:
        return self.state.get("tags", arn) or {}
