"""Which HealthOmics instance type a task gets, and the STATIC run storage a run is given.

The emulator's own reading of the service rules, from the facts in
:mod:`healthomics_facts.instances` (HealthOmics User Guide, "Compute and memory requirements for
HealthOmics tasks" and "Run storage types"): the smallest instance (fewest vCPUs, then least
memory) that fits the request, fractions rounded up, at least 1 vCPU and 1 GiB; STATIC storage
rounded up to a multiple of 1200 GiB.
"""

from __future__ import annotations

import math

from healthomics_facts.instances import (
    FAMILIES,
    LARGEST_SIZES_REGIONS,
    MIN_CPUS,
    MIN_MEMORY_GIB,
    REGIONAL_ABOVE_CPUS,
    SIZES,
    STATIC_STEP_GIB,
)

#: ``(cpus, family rank, name, memory GiB)`` of every CPU instance type, smallest first.
_TYPES: list[tuple[int, int, str, int]] = sorted(
    (cpus, rank, f"omics.{family}.{size}", cpus * per_cpu)
    for size, cpus in SIZES
    for rank, (family, per_cpu) in enumerate(FAMILIES)
)


def requested(cpus: float | None, memory_gib: float | None) -> tuple[int, int]:
    """``(vCPUs, GiB)`` reserved for a request: fractions rounded up, at least 1 and 1."""
    return max(MIN_CPUS, math.ceil(cpus or 0)), max(MIN_MEMORY_GIB, math.ceil(memory_gib or 0))


def instance_type(cpus: float | None, memory_gib: float | None, region: str | None) -> str | None:
    """Name of the smallest instance type fitting the request (``omics.c.large``...).

    With a region, the largest sizes count only where they exist. ``None`` when nothing fits.
    """
    want_cpus, want_mem = requested(cpus, memory_gib)
    for type_cpus, _, name, memory in _TYPES:
        if region and type_cpus > REGIONAL_ABOVE_CPUS and region not in LARGEST_SIZES_REGIONS:
            continue
        if type_cpus >= want_cpus and memory >= want_mem:
            return name
    return None


def static_capacity_gib(requested_gib: float | None) -> int:
    """STATIC run storage for ``storageCapacity`` GiB: 1200 GiB steps, 1200 GiB when absent."""
    if not requested_gib or requested_gib <= STATIC_STEP_GIB:
        return STATIC_STEP_GIB
    return int(math.ceil(requested_gib / STATIC_STEP_GIB) * STATIC_STEP_GIB)
