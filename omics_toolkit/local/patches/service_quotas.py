"""Service Quotas for HealthOmics (``omics``) and Lambda (``lambda``) on moto, which knows only VPC.

Adds those two services to ListAWSDefaultServiceQuotas and GetServiceQuota, and adds
ListServiceQuotas (the account's applied values; here the defaults, as in an account that never
asked for an increase). Quota codes other than Lambda's are the local stack's own
(``L-LOCAL-...``): the toolkit finds HealthOmics quotas by name, never by a hard-coded code, and
the values are the local stack's, not a promise of AWS's defaults. Lambda's ``Concurrent
executions`` is ``L-B99A9384`` with AWS's documented default of 1,000.
"""

from __future__ import annotations

import json
from typing import Any

from omics_toolkit.local.patches.guard import Needs

#: The moto classes this module changes.
TARGETS = (
    "moto.servicequotas.models.ServiceQuotasBackend",
    "moto.servicequotas.responses.ServiceQuotasResponse",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.servicequotas.models.ServiceQuotasBackend.list_aws_default_service_quotas",
        params=("self", "service_code"),
    ),
    Needs(
        "moto.servicequotas.models.ServiceQuotasBackend.get_service_quota",
        params=("self", "service_code", "quota_code"),
    ),
    Needs("moto.servicequotas.responses.ServiceQuotasResponse.backend"),
    Needs("moto.servicequotas.exceptions.NoSuchResource"),
)

_SERVICES = {
    "omics": "AWS HealthOmics",
    "lambda": "AWS Lambda",
}
#: (service code, quota code, name, value, unit, adjustable)
_QUOTAS = (
    ("omics", "L-LOCAL-OMICS-RUNS", "Workflows - Maximum concurrent runs", 10.0, "None", True),
    ("omics", "L-LOCAL-OMICS-TASKS", "Workflows - Maximum concurrent tasks", 25.0, "None", True),
    ("omics", "L-LOCAL-OMICS-CPUS", "Workflows - Maximum concurrent CPUs", 3000.0, "None", True),
    ("omics", "L-LOCAL-OMICS-VSTORES", "Analytics - Maximum variant stores", 10.0, "None", True),
    ("lambda", "L-B99A9384", "Concurrent executions", 1000.0, "None", True),
)


def quotas(service_code: str, region: str, account: str = "") -> list[dict[str, Any]]:
    """The ``ServiceQuota`` shapes of ``service_code`` (``[]`` for a service not listed here)."""
    return [
        {
            "ServiceCode": code,
            "ServiceName": _SERVICES[code],
            "QuotaArn": f"arn:aws:servicequotas:{region}:{account}:{code}/{quota}",
            "QuotaCode": quota,
            "QuotaName": name,
            "Value": value,
            "Unit": unit,
            "Adjustable": adjustable,
            "GlobalQuota": False,
        }
        for code, quota, name, value, unit, adjustable in _QUOTAS
        if code == service_code
    ]


def _wrap_defaults(original: Any) -> Any:
    def list_aws_default_service_quotas(self: Any, service_code: str) -> list[dict[str, Any]]:
        if service_code in _SERVICES:
            return quotas(service_code, self.region_name)
        return list(original(self, service_code))

    list_aws_default_service_quotas.__wrapped__ = original  # type: ignore[attr-defined]
    return list_aws_default_service_quotas


def _wrap_get(original: Any) -> Any:
    def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        from moto.servicequotas.exceptions import NoSuchResource

        if service_code in _SERVICES:
            for quota in quotas(service_code, self.region_name, self.account_id):
                if quota["QuotaCode"] == quota_code:
                    return quota
            raise NoSuchResource
        return dict(original(self, service_code, quota_code))

    get_service_quota.__wrapped__ = original  # type: ignore[attr-defined]
    return get_service_quota


def list_service_quotas(self: Any) -> str:
    """ListServiceQuotas: the applied values (the defaults here), one page."""
    from moto.servicequotas.exceptions import NoSuchResource

    params = json.loads(self.body)
    code = str(params.get("ServiceCode"))
    if code not in _SERVICES:
        raise NoSuchResource
    return json.dumps({"Quotas": quotas(code, self.region, self.current_account)})


def apply() -> None:
    """Patch moto's Service Quotas (idempotent)."""
    from moto.servicequotas.models import ServiceQuotasBackend
    from moto.servicequotas.responses import ServiceQuotasResponse

    for name, wrap in (
        ("list_aws_default_service_quotas", _wrap_defaults),
        ("get_service_quota", _wrap_get),
    ):
        current = getattr(ServiceQuotasBackend, name)
        if not hasattr(current, "__wrapped__"):
            setattr(ServiceQuotasBackend, name, wrap(current))
    ServiceQuotasResponse.list_service_quotas = list_service_quotas  # type: ignore[attr-defined]
