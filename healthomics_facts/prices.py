"""The shipped HealthOmics price table: ``healthomics_prices.json`` next to this module.

The document names, for every number, the public source it was read from and a date (see the
file's ``source``/``sources``); prices are never extrapolated.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

#: The price table shipped with the package.
PRICES_FILE = "healthomics_prices.json"


@lru_cache(maxsize=1)
def load_prices() -> dict[str, Any]:
    """The parsed price table (cached; do not mutate). Raises ``OSError``/``ValueError`` if broken."""
    return json.loads(resources.files(__package__).joinpath(PRICES_FILE).read_text())
