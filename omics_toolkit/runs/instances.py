"""HealthOmics instance types and the one a task is given.

Source: HealthOmics User Guide, "Compute and memory requirements for HealthOmics tasks"
(https://docs.aws.amazon.com/omics/latest/dev/memory-and-compute-tasks.html, read 2026-11-21):
standard (``omics.m.*``), compute-optimized (``omics.c.*``) and memory-optimized (``omics.r.*``)
instances from ``large`` (2 vCPUs) to ``48xlarge`` (192 vCPUs) with 2, 4 and 8 GiB per vCPU for
c, m and r; "HealthOmics allocates the smallest omics instance that accommodates the requested
memory and vCPUs" (the page's example: 8 vCPUs and 64 GiB get ``omics.r.2xlarge``); fractional
requests are rounded up; without any request a task gets 1 vCPU and 1 GiB (on ``omics.c.large``);
the 32xlarge and 48xlarge sizes exist only in us-east-1 and us-west-2. Accelerated (GPU) instances
are not modelled.

The numbers are :mod:`healthomics_facts.instances` (shared with the emulator).
"""

from __future__ import annotations

from dataclasses import dataclass

from healthomics_facts.instances import (
    FAMILIES,
    LARGEST_SIZES_REGIONS,
    MIN_CPUS,
    MIN_MEMORY_GIB,
    SIZES,
    TYPES,
    requested,
    smallest_type,
)

__all__ = [
    "BY_NAME",
    "FAMILIES",
    "INSTANCE_TYPES",
    "LARGEST_SIZES_REGIONS",
    "MIN_CPUS",
    "MIN_MEMORY_GIB",
    "SIZES",
    "InstanceType",
    "instance_for",
    "requested",
]


@dataclass(frozen=True, order=True)
class InstanceType:
    """One HealthOmics instance type.

    Attributes:
        cpus: vCPUs.
        family_rank: 0 (c), 1 (m), 2 (r): orders types of equal size by memory (and cost).
        name: ``omics.<family>.<size>``.
        memory_gib: GiB of memory.
    """

    cpus: int
    family_rank: int
    name: str
    memory_gib: int

    @property
    def family(self) -> str:
        return self.name.split(".")[1]


#: Every CPU instance type, in the order HealthOmics considers them (smallest first).
INSTANCE_TYPES: tuple[InstanceType, ...] = tuple(InstanceType(*t) for t in TYPES)
BY_NAME: dict[str, InstanceType] = {t.name: t for t in INSTANCE_TYPES}


def instance_for(
    cpus: float | None, memory_gib: float | None, region: str | None = None
) -> InstanceType | None:
    """The smallest instance type that fits ``cpus`` vCPUs and ``memory_gib`` GiB.

    Smallest means fewest vCPUs, then least memory (c before m before r). Without a region every
    size is considered; with one, 32xlarge/48xlarge only where they exist
    (:func:`healthomics_facts.instances.smallest_type`).

    Returns:
        The type, or ``None`` when the request exceeds the largest type (HealthOmics rejects the
        workflow then).
    """
    name = smallest_type(cpus, memory_gib, region)
    return BY_NAME[name] if name else None
