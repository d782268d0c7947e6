"""HealthOmics instance types and run storage: the guide's numbers and its rules over them.

Source: HealthOmics User Guide, "Compute and memory requirements for HealthOmics tasks"
(https://docs.aws.amazon.com/omics/latest/dev/memory-and-compute-tasks.html, read 2026-11-21):
standard (``omics.m.*``), compute-optimized (``omics.c.*``) and memory-optimized (``omics.r.*``)
instances from ``large`` (2 vCPUs) to ``48xlarge`` (192 vCPUs) with 2, 4 and 8 GiB per vCPU for
c, m and r; the smallest instance that accommodates the requested memory and vCPUs is allocated;
fractional requests are rounded up; without any request a task gets 1 vCPU and 1 GiB; the
32xlarge and 48xlarge sizes exist only in us-east-1 and us-west-2. "Run storage types": STATIC
capacity defaults to and steps by 1200 GiB. Pricing: a task is billed for at least 60 seconds.

The rules are written once here (standard library only) for the emulator, which applies them to
the tasks it runs, and for the toolkit, which predicts them for run insight and cost.
"""

from __future__ import annotations

import math

#: vCPUs of each size, smallest first (the guide's tables).
SIZES: tuple[tuple[str, int], ...] = (
    ("large", 2),
    ("xlarge", 4),
    ("2xlarge", 8),
    ("4xlarge", 16),
    ("8xlarge", 32),
    ("12xlarge", 48),
    ("16xlarge", 64),
    ("24xlarge", 96),
    ("32xlarge", 128),
    ("48xlarge", 192),
)
#: GiB of memory per vCPU of each family, cheapest family first.
FAMILIES: tuple[tuple[str, int], ...] = (("c", 2), ("m", 4), ("r", 8))
#: Regions with the 32xlarge and 48xlarge sizes (the guide, per family table).
LARGEST_SIZES_REGIONS = frozenset({"us-east-1", "us-west-2"})
#: vCPUs above which a size exists only in :data:`LARGEST_SIZES_REGIONS`.
REGIONAL_ABOVE_CPUS = 96
#: The smallest request HealthOmics accepts (and its default): 1 vCPU, 1 GiB.
MIN_CPUS = 1
MIN_MEMORY_GIB = 1
#: HealthOmics bills every task for at least this many seconds.
TASK_MINIMUM_SECONDS = 60
#: STATIC run storage: default and step of the capacity, GiB.
STATIC_STEP_GIB = 1200

#: ``(vCPUs, family rank, name, GiB)`` of every CPU instance type, in the order HealthOmics
#: considers them: fewest vCPUs first, then least memory (c before m before r).
TYPES: tuple[tuple[int, int, str, int], ...] = tuple(
    sorted(
        (cpus, rank, f"omics.{family}.{size}", cpus * per_cpu)
        for size, cpus in SIZES
        for rank, (family, per_cpu) in enumerate(FAMILIES)
    )
)


def requested(cpus: float | None, memory_gib: float | None) -> tuple[int, int]:
    """``(vCPUs, GiB)`` HealthOmics reserves for a request: fractions rounded up, at least 1 and 1."""
    return max(MIN_CPUS, math.ceil(cpus or 0)), max(MIN_MEMORY_GIB, math.ceil(memory_gib or 0))


def smallest_type(
    cpus: float | None, memory_gib: float | None, region: str | None = None
) -> str | None:
    """Name of the smallest instance type that fits the request (``"omics.r.2xlarge"``).

    Without a region every size counts; with one, the sizes above :data:`REGIONAL_ABOVE_CPUS`
    vCPUs only in :data:`LARGEST_SIZES_REGIONS`. ``None`` when nothing fits (HealthOmics then
    rejects the task).
    """
    want_cpus, want_mem = requested(cpus, memory_gib)
    for type_cpus, _, name, memory in TYPES:
        if region and type_cpus > REGIONAL_ABOVE_CPUS and region not in LARGEST_SIZES_REGIONS:
            continue
        if type_cpus >= want_cpus and memory >= want_mem:
            return name
    return None


def static_capacity_gib(requested_gib: float | None) -> int:
    """The STATIC run storage HealthOmics provisions for ``storageCapacity`` (GiB).

    The request is rounded up to a multiple of 1200 GiB; 1200 GiB when absent. (The guide adds
    that when that size is not available it is rounded up to a multiple of 2400 GiB: not
    predictable, so not modelled.)
    """
    if not requested_gib or requested_gib <= STATIC_STEP_GIB:
        return STATIC_STEP_GIB
    return int(math.ceil(requested_gib / STATIC_STEP_GIB) * STATIC_STEP_GIB)
