"""Run insight on the local stack: task fields, the run manifest, "command not found" failures, and
``omics-toolkit runs show|logs|cost|timeline`` on a completed and on a failed real miniwdl run.

The CLI runs in-process (typer's runner) against this module's moto + emulator, through a
``stack.json`` record in a temporary OMICS_TOOLKIT_HOME.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from omics_toolkit.cli.main import app
from omics_toolkit.errors import UserError
from omics_toolkit.pipeline.status import ExecutionStatus
from omics_toolkit.runs.insight import resolve_run
from omics_toolkit.runs.logs import LOG_GROUP
from omics_toolkit.runs.pricing import PriceTable
from tests.support.omics_helpers import ROLE, wait_for, zip_wdl

RUN_DONE = {"COMPLETED", "FAILED", "CANCELLED"}

# burn: a busy single thread for ~1.6 s holding ~80 MiB (measurable cpu and memory);
# bigmem: asks for 4 vCPUs and 16 GiB (omics.m.xlarge) and uses almost nothing;
# tally: reads burn's output.
INSIGHT_WDL = """version 1.0
workflow Insight {
  input { String word }
  call burn { input: word = word }
  call bigmem
  call tally { input: part = burn.out, other = bigmem.out }
  output { File result = tally.out }
}
task burn {
  input { String word }
  command <<<
    set -euo pipefail
    python3 -c "
import time
block = bytearray(80 * 1024 * 1024)
end = time.time() + 1.6
n = 0
while time.time() < end:
    n += 1
print(len(block) > 0)
"
    echo "~{word}" > burn.txt
    echo "burned" >&2
  >>>
  output { File out = "burn.txt" }
  runtime { cpu: 2  memory: "4 GiB"  docker: "IMAGE" }
}
task bigmem {
  command <<<
    echo big > big.txt
  >>>
  output { File out = "big.txt" }
  runtime { cpu: 4  memory: "16 GiB"  docker: "IMAGE" }
}
task tally {
  input { File part  File other }
  command <<<
    cat ~{part} ~{other} > tally.txt
    echo "tallied $(wc -l < tally.txt) lines"
  >>>
  output { File out = "tally.txt" }
  runtime { cpu: 1  memory: "1 GiB"  docker: "IMAGE" }
}
"""

# A task that calls GATK, which this machine does not have.
GATK_WDL = """version 1.0
workflow Germline {
  input { String sample }
  call call_variants { input: sample = sample }
  output { File vcf = call_variants.vcf }
}
task call_variants {
  input { String sample }
  command <<<
    set -euo pipefail
    echo "calling ~{sample}" >&2
    gatk HaplotypeCaller -R ref.fa -I ~{sample}.bam -O ~{sample}.vcf
  >>>
  output { File vcf = "~{sample}.vcf" }
  runtime { cpu: 1  memory: "1 GiB"  docker: "IMAGE" }
}
"""


def _workflow(omics: Any, name: str, text: str, image: str) -> str:
    wf = omics.create_workflow(
        name=name, engine="WDL", definitionZip=zip_wdl(text.replace("IMAGE", image)), requestId=name
    )
    done = wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE", "FAILED"})
    assert done["status"] == "ACTIVE", done
    return wf["id"]


def _run(omics: Any, workflow_id: str, bucket: str, params: dict[str, Any], key: str) -> dict:
    run = omics.start_run(
        workflowId=workflow_id,
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/insight/",
        parameters=params,
        requestId=key,
        name=key,
        storageType="DYNAMIC",
    )
    return wait_for(lambda: omics.get_run(id=run["id"]), "status", RUN_DONE, timeout=90)


@pytest.fixture(scope="module")
def completed(omics: Any, bucket: str, private_image: str) -> dict[str, Any]:
    wf = _workflow(omics, "insight", INSIGHT_WDL, private_image)
    run = _run(omics, wf, bucket, {"word": "hello"}, "insight-1")
    assert run["status"] == "COMPLETED", run
    return run


@pytest.fixture(scope="module")
def gatk_workflow(omics: Any, private_image: str) -> str:
    return _workflow(omics, "germline-gatk", GATK_WDL, private_image)


@pytest.fixture(scope="module")
def failed(omics: Any, bucket: str, gatk_workflow: str) -> dict[str, Any]:
    run = _run(omics, gatk_workflow, bucket, {"sample": "NA12878"}, "gatk-missing")
    assert run["status"] == "FAILED", run
    return run


@pytest.fixture(scope="module")
def cli(moto_url: str, emulator: Any, tmp_path_factory: pytest.TempPathFactory):
    """Run ``omics-toolkit <args>`` in-process against this module's stack; return the result."""
    home = tmp_path_factory.mktemp("insight-home")
    (home / "local").mkdir()
    (home / "local" / "stack.json").write_text(
        json.dumps(
            {"pid": os.getpid(), "moto": moto_url, "omics": emulator.url, "region": "us-east-1"}
        )
    )
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        env = {"OMICS_TOOLKIT_HOME": str(home), "OMICS_TOOLKIT_TARGET": "local", "COLUMNS": "250"}
        return runner.invoke(app, list(args), env=env, catch_exceptions=True)

    return invoke


def _tasks(omics: Any, run_id: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in omics.list_run_tasks(id=run_id)["items"]}


def _manifest(logs: Any, run: dict[str, Any]) -> list[dict[str, Any]]:
    events = logs.get_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=f"manifest/run/{run['id']}/{run['uuid']}",
        startFromHead=True,
    )["events"]
    return [json.loads(e["message"]) for e in events]


# ---------------------------------------------------------------------------- emulator fidelity
def test_tasks_carry_reserved_resources_and_the_instance_type_of_the_guide(
    omics: Any, completed: dict[str, Any]
) -> None:
    tasks = _tasks(omics, completed["id"])
    # omics.c.large (2 vCPU, 4 GiB) fits 2/4 and 1/1; 4 vCPUs/16 GiB needs omics.m.xlarge, even
    # though miniwdl capped the request to this host's cores
    assert {n: (t["cpus"], t["memory"], t["instanceType"]) for n, t in tasks.items()} == {
        "burn": (2, 4, "omics.c.large"),
        "bigmem": (4, 16, "omics.m.xlarge"),
        "tally": (1, 1, "omics.c.large"),
    }
    for task in tasks.values():
        assert task["status"] == "COMPLETED" and task["startTime"] <= task["stopTime"]
        assert "statusMessage" not in task  # not a TaskListItem member in the API model
        full = omics.get_run_task(id=completed["id"], taskId=task["taskId"])
        assert full["instanceType"] == task["instanceType"] and full["gpus"] == 0
        assert full["imageDetails"]["image"].endswith("test/ubuntu:22.04")
        assert full["logStream"].endswith(f"run/{completed['id']}/task/{task['taskId']}")
        assert full["uuid"]


def test_manifest_reports_what_the_host_backend_measured(
    omics: Any, logs: Any, state_dir: Path, completed: dict[str, Any]
) -> None:
    events = _manifest(logs, completed)
    run, tasks = events[0], {e["name"]: e for e in events[1:]}
    assert run["arn"] == completed["arn"] and run["uuid"] == completed["uuid"]
    assert run["status"] == "COMPLETED" and run["storageType"] == "DYNAMIC"
    assert run["workflow"].endswith(f":workflow/{completed['workflowId']}")
    elapsed = (completed["stopTime"] - completed["startTime"]).total_seconds()
    assert run["metrics"]["runningSeconds"] == pytest.approx(elapsed, abs=0.01)
    assert run["metrics"]["storageMaximumGiB"] > 0
    assert 0 < run["metrics"]["storageAverageGiB"] <= run["metrics"]["storageMaximumGiB"]
    assert sorted(tasks) == ["bigmem", "burn", "tally"]

    wdl_dir = state_dir / "runs" / completed["id"] / "wdl"
    api = _tasks(omics, completed["id"])
    for name, task in tasks.items():
        [res_path] = list(wdl_dir.rglob(f"call-{name}/host_resources.json"))
        res = json.loads(res_path.read_text())
        m = task["metrics"]
        assert task["arn"].endswith(f":task/{api[name]['taskId']}")
        assert (task["cpus"], task["memory"], task["instanceType"]) == (
            api[name]["cpus"],
            api[name]["memory"],
            api[name]["instanceType"],
        )
        assert (m["cpusReserved"], m["memoryReservedGiB"]) == (task["cpus"], task["memory"])
        assert m["runningSeconds"] == round(res["wall_seconds"], 3)
        assert m["cpusAverage"] == res["cpu_average"]
        assert res["cpu_average"] == pytest.approx(res["cpu_seconds"] / res["wall_seconds"], 1e-3)
        peak = res["peak_rss_bytes"] or res["ru_maxrss_bytes"]
        assert m["memoryMaximumGiB"] == round(peak / 2**30, 6)
        if res["cpu_maximum"] is None:
            assert m["cpusMaximum"] == m["cpusAverage"]
        else:
            assert m["cpusMaximum"] == round(res["cpu_maximum"], 6)
    burn = tasks["burn"]["metrics"]
    # the busy loop ran one thread for 1.6 s (a rate of at most one core, less on a busy host,
    # measured over windows of a second or more) and held 80 MiB
    [burn_res] = list(wdl_dir.rglob("call-burn/host_resources.json"))
    assert json.loads(burn_res.read_text())["cpu_maximum"] is not None
    assert 0 < burn["cpusMaximum"] < 1.3 and 0 < burn["cpusAverage"] < 1.3
    assert burn["memoryMaximumGiB"] >= 80 / 1024
    assert 0 < burn["memoryAverageGiB"] <= burn["memoryMaximumGiB"]


def test_missing_command_fails_with_where_to_put_it(
    omics: Any, logs: Any, failed: dict[str, Any]
) -> None:
    assert failed["failureReason"].startswith("gatk not found")
    assert len(failed["failureReason"]) <= 64
    assert "call_variants" in failed["statusMessage"]
    [task] = omics.list_run_tasks(id=failed["id"])["items"]
    full = omics.get_run_task(id=failed["id"], taskId=task["taskId"])
    assert full["status"] == "FAILED" and full["failureReason"].startswith("gatk not found")
    message = full["statusMessage"]
    assert message.startswith("gatk not found: the local stack runs task commands on this machine")
    assert "test/ubuntu:22.04" in message and "PATH" in message and "AWS HealthOmics" in message
    events = _manifest(logs, failed)
    assert events[0]["status"] == "FAILED" and events[0]["failureReason"] == failed["failureReason"]
    assert events[1]["failureReason"] == full["failureReason"]


def test_with_gatk_on_the_path_the_same_run_succeeds(
    omics: Any,
    bucket: str,
    gatk_workflow: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failed: dict[str, Any],
) -> None:
    fake = tmp_path / "bin" / "gatk"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\n# a stand-in for GATK: writes the -O file\nwhile [ "$1" != "-O" ]; do shift; done\necho "##fileformat=VCFv4.2" > "$2"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    run = _run(omics, gatk_workflow, bucket, {"sample": "NA12878"}, "gatk-present")
    assert run["status"] == "COMPLETED", run
    assert "failureReason" not in run


# ---------------------------------------------------------------------------- resolving
def test_resolve_run_takes_a_run_id_or_asks_for_the_execution(
    omics: Any, completed: dict[str, Any]
) -> None:
    assert resolve_run(omics, completed["id"]).run_id == completed["id"]
    import datetime as dt

    execution = ExecutionStatus(
        name="S1-abc",
        sample="S1",
        status="SUCCEEDED",
        step="Done",
        started=dt.datetime.now(dt.UTC),
        stopped=None,
        error=None,
        cause=None,
        arn="arn:aws:states:us-east-1:123456789012:execution:sm:S1-abc",
        run_id=completed["id"],
    )
    asked: list[str] = []

    def find(what: str) -> ExecutionStatus:
        asked.append(what)
        return execution

    ref = resolve_run(omics, "S1", find)
    assert (ref.run_id, ref.execution, asked) == (completed["id"], execution, ["S1"])
    with pytest.raises(UserError, match="no HealthOmics run 9999991"):
        resolve_run(omics, "9999991")


# ---------------------------------------------------------------------------- the CLI
def test_cli_show_completed_run(cli: Any, completed: dict[str, Any]) -> None:
    shown = cli("--json", "runs", "show", completed["id"])
    assert shown.exit_code == 0, shown.output
    run = json.loads(shown.stdout)["run"]
    assert run["status"] == "COMPLETED" and run["id"] == completed["id"]
    assert {t["name"]: t["instanceType"] for t in run["tasks"]} == {
        "burn": "omics.c.large",
        "bigmem": "omics.m.xlarge",
        "tally": "omics.c.large",
    }
    text = cli("runs", "show", completed["id"])
    assert text.exit_code == 0, text.output
    for word in ("burn", "bigmem", "tally", "omics.m.xlarge", "instance type", "COMPLETED"):
        assert word in text.stdout


def test_cli_show_failed_run_names_the_reason(cli: Any, failed: dict[str, Any]) -> None:
    text = cli("runs", "show", failed["id"])
    assert text.exit_code == 0, text.output
    assert "gatk not found" in text.stdout and "call_variants" in text.stdout
    assert f"omics-toolkit runs logs {failed['id']}" in text.stdout


def test_cli_logs_of_failed_run_show_run_then_failing_task(
    cli: Any, failed: dict[str, Any]
) -> None:
    shown = cli("--json", "runs", "logs", failed["id"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["failureReason"].startswith("gatk not found")
    streams = data["streams"]
    assert [s["stream"].split("/task/")[0] for s in streams] == [
        f"run/{failed['id']}",
        f"run/{failed['id']}",
    ]
    assert streams[1]["task_name"] == "call_variants"
    task_lines = [e["message"] for e in streams[1]["events"]]
    assert "calling NA12878" in task_lines
    assert any("gatk: command not found" in line for line in task_lines)
    assert any(f"Run {failed['id']} FAILED" in e["message"] for e in streams[0]["events"])

    text = cli("runs", "logs", failed["id"])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0].startswith(f"run {failed['id']} FAILED: gatk not found")
    assert "gatk: command not found" in text.stdout


def test_cli_logs_of_one_task_and_of_the_engine(cli: Any, completed: dict[str, Any]) -> None:
    one = cli("--json", "runs", "logs", completed["id"], "--task", "tally")
    assert one.exit_code == 0, one.output
    [stream] = json.loads(one.stdout)["streams"]
    assert stream["task_name"] == "tally"
    assert [e["message"] for e in stream["events"]] == ["tallied 2 lines"]
    engine = cli("--json", "runs", "logs", completed["id"], "--engine")
    [stream] = json.loads(engine.stdout)["streams"]
    assert stream["stream"] == f"run/{completed['id']}/engine" and stream["events"]
    completed_default = json.loads(cli("--json", "runs", "logs", completed["id"]).stdout)
    assert [s["stream"] for s in completed_default["streams"]] == [f"run/{completed['id']}"]


def test_cli_logs_of_unknown_task_lists_the_tasks(cli: Any, completed: dict[str, Any]) -> None:
    missing = cli("runs", "logs", completed["id"], "--task", "nosuch")
    assert missing.exit_code != 0
    assert isinstance(missing.exception, UserError)
    message = str(missing.exception)
    assert "no task named or numbered 'nosuch'" in message
    for name in ("bigmem", "burn", "tally"):
        assert name in message


def test_cli_cost_of_completed_run(cli: Any, logs: Any, completed: dict[str, Any]) -> None:
    shown = cli("--json", "runs", "cost", completed["id"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    prices = PriceTable.load()
    c_large = prices.instance("us-east-1", "omics.c.large").usd
    m_xlarge = prices.instance("us-east-1", "omics.m.xlarge").usd
    dynamic = prices.storage("us-east-1", "DYNAMIC").usd
    manifest = {e["name"]: e for e in _manifest(logs, completed)[1:]}
    run_metrics = _manifest(logs, completed)[0]["metrics"]
    # every task ran under a minute: billed 60 s each
    expected_tasks = {
        name: max(manifest[name]["metrics"]["runningSeconds"], 60) * price / 3600
        for name, price in (("burn", c_large), ("bigmem", m_xlarge), ("tally", c_large))
    }
    assert {t["name"]: t["usd"] for t in report["tasks"]} == pytest.approx(expected_tasks)
    assert {t["name"]: t["billed_seconds"] for t in report["tasks"]} == {
        "burn": 60,
        "bigmem": 60,
        "tally": 60,
    }
    storage = run_metrics["storageAverageGiB"] * run_metrics["runningSeconds"] / 3600 * dynamic
    assert report["storage"]["usd"] == pytest.approx(storage)
    assert report["total_usd"] == pytest.approx(sum(expected_tasks.values()) + storage)
    assert report["complete"] and not report["missing"]
    advice = {a["name"]: a for a in report["advice"]}
    # bigmem reserved omics.m.xlarge and used almost nothing: omics.c.large would do
    assert advice["bigmem"]["recommended"] == "omics.c.large"
    assert advice["bigmem"]["saving_usd"] == pytest.approx((m_xlarge - c_large) * 60 / 3600)
    assert advice["burn"]["recommended"] == "omics.c.large"
    assert advice["burn"]["saving_usd"] == 0
    assert report["saving_usd"] == pytest.approx(advice["bigmem"]["saving_usd"])
    assert report["prices"] == f"{prices.url}, prices of {prices.date}"

    text = cli("runs", "cost", completed["id"])
    assert text.exit_code == 0, text.output
    assert "right-sizing (measured maximum + 20% headroom)" in text.stdout
    assert prices.url in text.stdout and prices.date in text.stdout


def test_cli_cost_says_when_a_price_is_missing(
    cli: Any, completed: dict[str, Any], tmp_path: Path
) -> None:
    data = json.loads(
        (Path(__file__).parents[4] / "healthomics_facts/healthomics_prices.json").read_text()
    )
    del data["regions"]["us-east-1"]["instances"]["omics.m.xlarge"]
    table = tmp_path / "prices.json"
    table.write_text(json.dumps(data))
    report = json.loads(
        cli("--json", "runs", "cost", completed["id"], "--prices", str(table)).stdout
    )
    expected = (
        "no price for omics.m.xlarge in us-east-1 in the table "
        "(https://aws.amazon.com/healthomics/pricing/, prices of 2026-08-24)"
    )
    assert report["missing"] == [expected] and not report["complete"]
    [bigmem] = [t for t in report["tasks"] if t["name"] == "bigmem"]
    assert bigmem["usd"] is None and bigmem["note"] == expected


def test_cli_cost_of_failed_run(cli: Any, failed: dict[str, Any]) -> None:
    report = json.loads(cli("--json", "runs", "cost", failed["id"]).stdout)
    [task] = report["tasks"]
    assert task["status"] == "FAILED" and task["instance_type"] == "omics.c.large"
    assert task["usd"] == pytest.approx(60 * 0.1148 / 3600)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_cli_timeline(cli: Any, completed: dict[str, Any], tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"timeline{suffix}"
    shown = cli("runs", "timeline", completed["id"], "--out", str(target))
    assert shown.exit_code == 0, shown.output
    assert f"wrote {target} (3 tasks)" in " ".join(shown.stdout.split())
    data = target.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        root = ElementTree.fromstring(data)
        ids = {el.get("id") for el in root.iter() if (el.get("id") or "").startswith("task-")}
        assert len(ids) == 3


def test_cli_timeline_of_failed_run(cli: Any, failed: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "failed.svg"
    shown = json.loads(cli("--json", "runs", "timeline", failed["id"], "--out", str(target)).stdout)
    assert shown["path"] == str(target) and len(shown["bars"]) == 1
    ElementTree.fromstring(target.read_bytes())
