"""The HealthOmics instance types and the choice of one for a request, as the guide's tables say
("Compute and memory requirements for HealthOmics tasks")."""

from __future__ import annotations

import pytest

from omics_toolkit.runs.instances import BY_NAME, INSTANCE_TYPES, instance_for, requested

# The guide's three tables (instance, vCPUs, memory GiB), largest and smallest rows of each.
GUIDE_ROWS = [
    ("omics.m.large", 2, 8),
    ("omics.m.4xlarge", 16, 64),
    ("omics.m.48xlarge", 192, 768),
    ("omics.c.large", 2, 4),
    ("omics.c.12xlarge", 48, 96),
    ("omics.c.48xlarge", 192, 384),
    ("omics.r.large", 2, 16),
    ("omics.r.24xlarge", 96, 768),
    ("omics.r.48xlarge", 192, 1536),
]


@pytest.mark.parametrize(("name", "cpus", "memory"), GUIDE_ROWS)
def test_table_matches_the_guide(name: str, cpus: int, memory: int) -> None:
    assert (BY_NAME[name].cpus, BY_NAME[name].memory_gib) == (cpus, memory)


def test_thirty_cpu_types_smallest_first() -> None:
    assert len(INSTANCE_TYPES) == 30
    assert [t.name for t in INSTANCE_TYPES[:4]] == [
        "omics.c.large",
        "omics.m.large",
        "omics.r.large",
        "omics.c.xlarge",
    ]


@pytest.mark.parametrize(
    ("cpus", "memory", "expected"),
    [
        (8, 64, "omics.r.2xlarge"),  # the guide's own example
        (None, None, "omics.c.large"),  # no request: 1 vCPU, 1 GiB on omics.c.large
        (1, 1, "omics.c.large"),
        (0.5, 0.2, "omics.c.large"),  # fractions round up, at least 1 and 1
        (2, 4, "omics.c.large"),
        (2, 4.1, "omics.m.large"),
        (2, 9, "omics.r.large"),
        (2, 17, "omics.r.xlarge"),
        (3, 4, "omics.c.xlarge"),
        (4, 16, "omics.m.xlarge"),
        (17, 1, "omics.c.8xlarge"),
        (192, 1536, "omics.r.48xlarge"),
        (193, 1, None),
        (2, 1537, None),
    ],
)
def test_smallest_type_that_fits(cpus, memory, expected) -> None:
    found = instance_for(cpus, memory)
    assert (found.name if found else None) == expected


def test_largest_sizes_only_where_they_exist() -> None:
    assert instance_for(128, 8, "us-east-1").name == "omics.c.32xlarge"
    assert instance_for(128, 8, "us-west-2").name == "omics.c.32xlarge"
    assert instance_for(128, 8, "eu-west-1") is None
    assert instance_for(96, 768, "eu-west-1").name == "omics.r.24xlarge"


def test_requested_rounds_up() -> None:
    assert requested(None, None) == (1, 1)
    assert requested(1.2, 0.25) == (2, 1)
    assert requested(4, 3.7252903) == (4, 4)  # "4 GB" in GiB
