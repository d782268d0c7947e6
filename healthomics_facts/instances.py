"""HealthOmics instance types and run storage steps, as data.

Source: HealthOmics User Guide, "Compute and memory requirements for HealthOmics tasks"
(https://docs.aws.amazon.com/omics/latest/dev/memory-and-compute-tasks.html, read 2026-11-21):
standard (``omics.m.*``), compute-optimized (``omics.c.*``) and memory-optimized (``omics.r.*``)
instances from ``large`` (2 vCPUs) to ``48xlarge`` (192 vCPUs) with 2, 4 and 8 GiB per vCPU for
c, m and r; the smallest instance that accommodates the requested memory and vCPUs is allocated;
fractional requests are rounded up; without any request a task gets 1 vCPU and 1 GiB; the
32xlarge and 48xlarge sizes exist only in us-east-1 and us-west-2. "Run storage types": STATIC
capacity defaults to and steps by 1200 GiB. Pricing: a task is billed for at least 60 seconds.
"""

from __future__ import annotations

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
