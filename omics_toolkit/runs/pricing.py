"""The shipped HealthOmics price table and the cost arithmetic of a run.

The table (``healthomics_prices.json`` of :mod:`healthomics_facts.prices`) names, for every number, the public
source it was read from and a date; it is never extrapolated: an instance type (or region) that is
not in it has no price, and the cost report says so (:meth:`PriceTable.missing`).

Billing rules (HealthOmics pricing, as applied by AWS's own run analyzer,
``awslabs/aws-healthomics-tools`` ``omics/cli/run_analyzer``):

- a task is billed per second of running time with a 60-second minimum, at the hourly price of
  its instance type: ``max(seconds, 60) * usd_per_hour / 3600``;
- STATIC run storage is billed on its capacity (at least 1200 GiB, in 1200 GiB steps) for the
  run's running time; DYNAMIC run storage on the storage actually used (the run manifest's
  ``storageAverageGiB``) for the same time: ``GiB * seconds / 3600 * usd_per_gb_hour``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from healthomics_facts.instances import STATIC_STEP_GIB as STATIC_STEP_GIB
from healthomics_facts.instances import TASK_MINIMUM_SECONDS as TASK_MINIMUM_SECONDS
from healthomics_facts.instances import static_capacity_gib as static_capacity_gib
from healthomics_facts.prices import load_prices


@dataclass(frozen=True)
class Price:
    """One price from the table.

    Attributes:
        usd: USD per hour (instances) or per GB-hour (run storage).
        source: the table's source key; ``url`` and ``date`` say where and when it was read.
    """

    usd: float
    source: str
    url: str
    date: str


class PriceTable:
    """A dated price table (see the module docstring for the file's shape).

    Args:
        data: the parsed JSON document.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.url = str(data["source"]["url"])
        self.date = str(data["source"]["date"])
        self.currency = str(data.get("currency", "USD"))

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The table at ``path``, or the one shipped with omics-toolkit."""
        if path is not None:
            return cls(json.loads(Path(path).read_text()))
        return _shipped()

    def regions(self) -> list[str]:
        return sorted(self.data.get("regions", {}))

    def _price(self, entry: dict[str, Any] | None, key: str) -> Price | None:
        if not entry:
            return None
        source = self.data.get("sources", {}).get(entry.get("source"), {})
        return Price(
            usd=float(entry[key]),
            source=str(entry.get("source")),
            url=str(source.get("url", self.url)),
            date=str(source.get("date", self.date)),
        )

    def instance(self, region: str, instance_type: str) -> Price | None:
        """Hourly price of ``instance_type`` in ``region``, or ``None`` if the table has none."""
        region_data = self.data.get("regions", {}).get(region, {})
        return self._price(region_data.get("instances", {}).get(instance_type), "usd_per_hour")

    def storage(self, region: str, storage_type: str) -> Price | None:
        """GB-hour price of ``STATIC``/``DYNAMIC`` run storage in ``region``, or ``None``."""
        region_data = self.data.get("regions", {}).get(region, {})
        return self._price(region_data.get("run_storage", {}).get(storage_type), "usd_per_gb_hour")

    def describe(self) -> str:
        """``"<url>, prices of <date>"`` for messages."""
        return f"{self.url}, prices of {self.date}"

    def missing(self, what: str, region: str | None = None) -> str:
        """The message for a price the table lacks (never a guess)."""
        where = f" in {region}" if region else ""
        return f"no price for {what}{where} in the table ({self.describe()})"


@lru_cache(maxsize=1)
def _shipped() -> PriceTable:
    return PriceTable(load_prices())


def billed_seconds(seconds: float) -> float:
    """Seconds HealthOmics bills for a task that ran ``seconds`` (60-second minimum)."""
    return max(float(seconds), float(TASK_MINIMUM_SECONDS))


def task_cost(seconds: float, usd_per_hour: float) -> float:
    """USD for one task: ``max(seconds, 60) * usd_per_hour / 3600``."""
    return billed_seconds(seconds) * usd_per_hour / 3600.0


def storage_cost(gib: float, seconds: float, usd_per_gb_hour: float) -> float:
    """USD for ``gib`` of run storage held for ``seconds``."""
    return float(gib) * float(seconds) / 3600.0 * usd_per_gb_hour
