"""Cost arithmetic on hand-computed examples, with the shipped price table; the table itself."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from omics_toolkit.runs.insight import RunView, TaskView, price_run, right_size
from omics_toolkit.runs.instances import BY_NAME
from omics_toolkit.runs.manifest import TaskUsage, parse_manifest
from omics_toolkit.runs.pricing import (
    PriceTable,
    billed_seconds,
    static_capacity_gib,
    storage_cost,
    task_cost,
)

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
REGION = "us-east-1"
MISSING = "(https://aws.amazon.com/healthomics/pricing/, prices of 2026-08-24)"


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _task(task_id: str, name: str, itype: str, start: float, stop: float) -> TaskView:
    t = BY_NAME[itype]
    return TaskView(
        task_id, name, "COMPLETED", t.cpus, t.memory_gib, 0, itype, _at(0), _at(start), _at(stop)
    )


def _view(tasks: list[TaskView], storage: str, capacity: int | None, seconds: float) -> RunView:
    return RunView(
        run_id="1234567",
        name="example",
        status="COMPLETED",
        arn=f"arn:aws:omics:{REGION}:123456789012:run/1234567",
        uuid="5b5c6b9e-0000-4000-8000-000000000001",
        workflow_id="7654321",
        creation=_at(0),
        start=_at(0),
        stop=_at(seconds),
        failure_reason=None,
        status_message=None,
        storage_type=storage,
        storage_capacity=capacity,
        output_uri="s3://bucket/out/",
        tasks=tasks,
    )


def _manifest_line(task: TaskView, cpus_max: float, mem_max: float, seconds: float) -> str:
    return json.dumps(
        {
            "arn": f"arn:aws:omics:{REGION}:123456789012:task/{task.task_id}",
            "name": task.name,
            "status": "COMPLETED",
            "cpus": task.cpus,
            "memory": task.memory_gib,
            "instanceType": task.instance_type,
            "startTime": "2026-11-01T08:00:00.000Z",
            "stopTime": "2026-11-01T08:00:10.000Z",  # runningSeconds wins over start/stop
            "metrics": {
                "cpusReserved": task.cpus,
                "memoryReservedGiB": task.memory_gib,
                "cpusMaximum": cpus_max,
                "cpusAverage": cpus_max / 2,
                "memoryMaximumGiB": mem_max,
                "memoryAverageGiB": mem_max / 2,
                "runningSeconds": seconds,
            },
        }
    )


def test_task_and_storage_formulas() -> None:
    assert billed_seconds(1) == 60 and billed_seconds(61.5) == 61.5
    assert task_cost(30, 0.1148) == pytest.approx(60 * 0.1148 / 3600)
    assert task_cost(7200, 0.2592) == pytest.approx(0.5184)
    assert static_capacity_gib(None) == 1200
    assert static_capacity_gib(1000) == 1200
    assert static_capacity_gib(1201) == 2400
    assert static_capacity_gib(4800) == 4800
    assert storage_cost(1200, 9000, 0.0001918) == pytest.approx(0.5754)


def test_run_cost_hand_computed_with_the_shipped_table() -> None:
    prices = PriceTable.load()
    a = _task("1000001", "align", "omics.c.large", 0, 30)
    b = _task("1000002", "call", "omics.m.xlarge", 0, 7200)
    c = _task("1000003", "joint", "omics.r.8xlarge", 0, 90)
    d = _task("1000004", "qc", "omics.c.xlarge", 0, 100)
    view = _view([a, b, c, d], "STATIC", 1000, 9000)
    manifest = parse_manifest(
        "manifest/run/1234567/uuid",
        [
            json.dumps(
                {
                    "arn": view.arn,
                    "storageType": "STATIC",
                    "storageCapacity": 1000,
                    "metrics": {"runningSeconds": 9000},
                }
            ),
            _manifest_line(a, 0.5, 0.5, 30),
            _manifest_line(b, 1.5, 2.5, 7200),
            _manifest_line(c, 20, 100, 90),
            _manifest_line(d, 1, 1, 100),
            "not json: skipped",
        ],
    )
    report = price_run(view, manifest, prices, headroom=0.2, now=_at(9000))

    # align: 30 s billed as 60 s on omics.c.large at $0.1148/h        = 0.00191333
    # call:  7200 s on omics.m.xlarge at $0.2592/h                    = 0.51840000
    # joint: 90 s on omics.r.8xlarge at $2.7216/h                     = 0.06804000
    # qc:    omics.c.xlarge has no price in the table                 = (left out)
    # storage: STATIC 1000 GiB -> 1200 GiB x 2.5 h x $0.0001918/GB-h  = 0.57540000
    costs = {t.name: t.usd for t in report.tasks}
    assert costs["align"] == pytest.approx(0.0019133333)
    assert costs["call"] == pytest.approx(0.5184)
    assert costs["joint"] == pytest.approx(0.06804)
    assert costs["qc"] is None
    assert report.storage.gib == 1200 and report.storage.usd == pytest.approx(0.5754)
    assert report.compute_usd == pytest.approx(0.5883533333)
    assert report.total_usd == pytest.approx(1.1637533333)
    assert not report.complete
    assert report.missing == [f"no price for omics.c.xlarge in us-east-1 in the table {MISSING}"]

    advice = {x.name: x for x in report.advice}
    # call used 1.5 vCPUs / 2.5 GiB: +20 % -> 2 vCPUs / 3 GiB -> omics.c.large
    assert (advice["call"].request_cpus, advice["call"].request_memory_gib) == (2, 3)
    assert advice["call"].recommended == "omics.c.large"
    assert advice["call"].saving_usd == pytest.approx(0.5184 - 7200 * 0.1148 / 3600)  # 0.2888
    # align already fits the smallest type
    assert (advice["align"].recommended, advice["align"].saving_usd) == ("omics.c.large", 0.0)
    # joint would fit omics.m.8xlarge (24 vCPUs / 120 GiB), which the table has no price for
    assert advice["joint"].recommended == "omics.m.8xlarge"
    assert advice["joint"].saving_usd is None
    assert f"no price for omics.m.8xlarge in us-east-1 in the table {MISSING}" in (
        advice["joint"].note or ""
    )
    assert report.saving_usd == pytest.approx(0.2888)


def test_dynamic_storage_is_billed_on_the_average_used() -> None:
    prices = PriceTable.load()
    view = _view([], "DYNAMIC", None, 3600)
    manifest = parse_manifest(
        "m",
        [
            json.dumps(
                {
                    "arn": view.arn,
                    "storageType": "DYNAMIC",
                    "metrics": {
                        "runningSeconds": 3600,
                        "storageMaximumGiB": 80,
                        "storageAverageGiB": 50,
                    },
                }
            )
        ],
    )
    report = price_run(view, manifest, prices)
    assert report.storage.usd == pytest.approx(50 * 1 * 0.0004110)
    without = price_run(view, None, prices)
    assert without.storage.usd is None and "not written yet" in (without.storage.note or "")
    assert report.complete and not without.complete
    assert any("no run manifest" in n for n in without.notes)


def test_a_region_without_prices_says_so() -> None:
    prices = PriceTable.load()
    view = _view([_task("1", "a", "omics.c.large", 0, 10)], "DYNAMIC", None, 10)
    view.arn = view.arn.replace("us-east-1", "eu-west-1")
    report = price_run(view, None, prices)
    assert report.tasks[0].usd is None
    assert report.missing[0] == f"no price for omics.c.large in eu-west-1 in the table {MISSING}"
    assert any("has no region eu-west-1" in n for n in report.notes)


def test_using_more_than_reserved_is_flagged() -> None:
    usage = TaskUsage.from_event(
        {
            "arn": "arn:aws:omics:us-east-1:123456789012:task/9",
            "name": "greedy",
            "cpus": 1,
            "memory": 1,
            "instanceType": "omics.c.large",
            "metrics": {"cpusMaximum": 0.9, "memoryMaximumGiB": 1.5, "runningSeconds": 120},
        }
    )
    advice = right_size(usage, REGION, PriceTable.load(), headroom=0.0)
    assert advice is not None and advice.recommended == "omics.c.large"
    assert "uses more than it reserves" in (advice.note or "")


def test_negative_headroom_is_refused() -> None:
    from omics_toolkit.errors import UserError

    with pytest.raises(UserError):
        price_run(_view([], "DYNAMIC", None, 1), None, PriceTable.load(), headroom=-0.1)


def test_shipped_table_names_a_source_and_date_for_every_price() -> None:
    prices = PriceTable.load()
    data = prices.data
    assert prices.url == "https://aws.amazon.com/healthomics/pricing/"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices.date)
    assert "us-east-1" in prices.regions()
    for region, entry in data["regions"].items():
        for name, price in entry["instances"].items():
            assert name in BY_NAME, name
            source = data["sources"][price["source"]]
            assert source["url"].startswith("https://") and source["date"]
            assert prices.instance(region, name).usd == price["usd_per_hour"] > 0
        for kind in ("STATIC", "DYNAMIC"):
            assert prices.storage(region, kind).usd > 0
    assert prices.instance("us-east-1", "omics.m.large") is None  # not found: not guessed
