"""The host (container-free) miniwdl backend runs a scatter of tasks and records resources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WDL_SOURCE = """
version 1.0

task shout {
  input {
    File words
    Int n
  }
  command <<<
    set -euo pipefail
    tr a-z A-Z < ~{words} > shout.txt
    echo "copy ~{n}" >> shout.txt
    # allocate ~50 MB to make the peak RSS measurable
    python3 -c "import time; b = bytearray(50 * 1024 * 1024); time.sleep(0.5); print(len(b))"
  >>>
  output {
    File out = "shout.txt"
    String said = read_string(stdout())
  }
  runtime {
    docker: "public.ecr.aws/docker/library/python:3.11-slim"
    cpu: 1
    memory: "256 MiB"
  }
}

task gather {
  input {
    Array[File] parts
  }
  command <<<
    cat ~{sep=" " parts} > all.txt
  >>>
  output {
    File all = "all.txt"
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 2
    memory: "1 GiB"
  }
}

workflow HostSmoke {
  input {
    File words
  }
  scatter (n in [1, 2]) {
    call shout { input: words = words, n = n }
  }
  call gather { input: parts = shout.out }
  output {
    File all = gather.all
    Array[String] said = shout.said
  }
}
"""


def _run_wdl(tmp_path: Path, env_extra: dict[str, str]) -> tuple[subprocess.CompletedProcess, Path]:
    wdl = tmp_path / "smoke.wdl"
    wdl.write_text(WDL_SOURCE)
    words = tmp_path / "words.txt"
    words.write_text("hello host\n")
    run_dir = tmp_path / "run"
    env = {
        **os.environ,
        "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "omics_toolkit_host",
        **env_extra,
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "WDL",
            "run",
            str(wdl),
            f"words={words}",
            "--dir",
            str(run_dir),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return proc, run_dir


def test_host_backend_runs_scatter_and_records_resources(tmp_path: Path) -> None:
    proc, run_dir = _run_wdl(tmp_path, {})
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = json.loads(proc.stdout)["outputs"]
    assert Path(outputs["HostSmoke.all"]).read_text() == (
        "HELLO HOST\ncopy 1\nHELLO HOST\ncopy 2\n"
    )
    assert outputs["HostSmoke.said"] == ["52428800", "52428800"]

    records = {
        p.parent.name: json.loads(p.read_text()) for p in run_dir.rglob("host_resources.json")
    }
    assert len(records) == 3
    shouts = [r for name, r in records.items() if name.startswith("call-shout")]
    assert len(shouts) == 2
    shout = shouts[0]
    assert shout["exit_status"] == 0
    assert shout["declared_cpu"] == 1
    assert shout["declared_memory_bytes"] == 256 * 1024 * 1024
    assert shout["image"] == "public.ecr.aws/docker/library/python:3.11-slim"
    assert shout["peak_rss_bytes"] >= 50 * 1024 * 1024
    assert 0 < shout["wall_seconds"] < 60
    assert shout["cpu_seconds"] > 0
    assert records["call-gather"]["declared_cpu"] == 2
    assert records["call-gather"]["declared_memory_bytes"] == 1024**3


def test_host_backend_reports_failure_exit_status(tmp_path: Path) -> None:
    wdl = tmp_path / "fail.wdl"
    wdl.write_text(
        "version 1.0\ntask boom { command <<< echo oops >&2; exit 3 >>> "
        'runtime { docker: "x" cpu: 1 memory: "64 MiB" } }\n'
    )
    run_dir = tmp_path / "run"
    env = {**os.environ, "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "omics_toolkit_host"}
    proc = subprocess.run(
        [sys.executable, "-m", "WDL", "run", str(wdl), "--dir", str(run_dir), "--no-color"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode != 0
    record = json.loads(next(run_dir.rglob("host_resources.json")).read_text())
    assert record["exit_status"] == 3
    assert "oops" in next(run_dir.rglob("stderr.txt")).read_text()


@pytest.mark.timeout(60)
def test_host_backend_terminates_process_group(tmp_path: Path) -> None:
    wdl = tmp_path / "slow.wdl"
    marker = tmp_path / "child.pid"
    wdl.write_text(
        "version 1.0\ntask slow { command <<< sleep 300 & echo $! > "
        f"{marker}; wait >>> "
        'runtime { docker: "x" cpu: 1 memory: "64 MiB" } }\n'
    )
    env = {**os.environ, "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "omics_toolkit_host"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "WDL",
            "run",
            str(wdl),
            "--dir",
            str(tmp_path / "run"),
            "--no-color",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    import time

    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text().strip()):
        assert time.monotonic() < deadline, "task never started"
        time.sleep(0.1)
    child = int(marker.read_text())
    proc.terminate()
    assert proc.wait(30) != 0
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists():
        stat = (
            Path(f"/proc/{child}/stat").read_text() if Path(f"/proc/{child}/stat").exists() else ""
        )
        if stat.split(") ")[-1].startswith("Z"):
            break
        assert time.monotonic() < deadline, "task child survived cancellation"
        time.sleep(0.1)


def test_host_backend_records_the_request_before_host_caps_and_the_usage(tmp_path: Path) -> None:
    """``requested_*`` keep the task's runtime as written (HealthOmics reserves that) while
    ``declared_*`` are miniwdl's values capped to this host; ``task_request.json`` is there before
    the command runs; cpu and memory usage are sampled (maximum rate, mean resident set)."""
    wdl = tmp_path / "big.wdl"
    wdl.write_text(
        "version 1.0\ntask big { command <<<\n"
        'python3 -c "\nimport time\nb = bytearray(40 * 1024 * 1024)\nend = time.time() + 1.3\n'
        'while time.time() < end:\n    pass\n"\n>>> '
        'runtime { docker: "x" cpu: 512 memory: "1.5 GiB" } }\n'
    )
    env = {**os.environ, "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "omics_toolkit_host"}
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "WDL", "run", str(wdl), "--dir", str(run_dir), "--no-color"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(next(run_dir.rglob("host_resources.json")).read_text())
    request = json.loads(next(run_dir.rglob("task_request.json")).read_text())
    host_cpus = len(os.sched_getaffinity(0))
    assert record["requested_cpu"] == request["requested_cpu"] == 512
    assert record["declared_cpu"] == request["declared_cpu"] == min(512, host_cpus)
    assert record["requested_memory_bytes"] == int(1.5 * 2**30)
    assert record["cpu_average"] == pytest.approx(
        record["cpu_seconds"] / record["wall_seconds"], rel=1e-3
    )
    # one busy thread for 1.3 s: a rate measured over >= 1 s windows, never above one core
    assert record["cpu_maximum"] is not None and 0 < record["cpu_maximum"] < 1.3
    assert record["samples"] >= 3
    assert record["peak_rss_bytes"] >= 40 * 1024 * 1024
    assert 0 < record["rss_average_bytes"] <= record["peak_rss_bytes"]
