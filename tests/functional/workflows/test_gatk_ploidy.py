"""gatk-germline's HaplotypeCaller gets the workflow's ``ploidy`` (``-ploidy N``).

GATK is not installed here (no registry reachable from this machine has it), so the task runs
under miniwdl's host backend with a stand-in ``gatk`` first on the PATH that records its
arguments: the command is the one the WDL renders, through miniwdl's real evaluation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from omics_toolkit.workflows import workflow_dir

STAND_IN = """#!/bin/sh
# records its arguments, one per line, and writes the -O output
printf '%s\\n' "$@" > "$ARGS_FILE"
while [ $# -gt 0 ]; do [ "$1" = -O ] && : > "$2"; shift; done
"""


def _haplotypecaller_args(tmp_path: Path, *inputs: str) -> list[str]:
    """Run the HaplotypeCaller task alone (``miniwdl run --task``); the stand-in's argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gatk = bin_dir / "gatk"
    gatk.write_text(STAND_IN)
    gatk.chmod(0o755)
    files = {}
    for name in ("bam", "bam_index", "reference", "reference_fai", "reference_dict", "intervals"):
        files[name] = tmp_path / name
        files[name].write_text("x\n")
    args_file = tmp_path / "args.txt"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "ARGS_FILE": str(args_file),
        "MINIWDL__SCHEDULER__CONTAINER_BACKEND": "omics_toolkit_host",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "WDL",
            "run",
            str(workflow_dir("gatk-germline") / "tasks" / "gatk.wdl"),
            f"bam={files['bam']}",
            f"bam_index={files['bam_index']}",
            f"reference={files['reference']}",
            f"reference_fai={files['reference_fai']}",
            f"reference_dict={files['reference_dict']}",
            f"interval_list={files['intervals']}",
            "image=quay.io/biocontainers/gatk4:4.6.1.0--py310hdfd78af_0",
            *inputs,
            "--task",
            "HaplotypeCaller",
            "--dir",
            str(tmp_path / "run"),
            "--no-color",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["outputs"]["HaplotypeCaller.vcf"].endswith("shard.vcf.gz")
    return args_file.read_text().splitlines()


@pytest.mark.parametrize("ploidy", [1, 4])
def test_haplotypecaller_is_given_the_ploidy(tmp_path: Path, ploidy: int) -> None:
    args = _haplotypecaller_args(tmp_path, f"ploidy={ploidy}")
    assert args[:3] == ["--java-options", "-Xmx6144m", "HaplotypeCaller"]
    assert args[args.index("-ploidy") + 1] == str(ploidy)
    assert args.count("-ploidy") == 1


def test_workflow_passes_its_ploidy_input_to_haplotypecaller() -> None:
    """The workflow input ``ploidy`` (default 2) is what every HaplotypeCaller shard gets."""
    import WDL

    wf = WDL.load(str(workflow_dir("gatk-germline") / "main.wdl")).workflow
    ploidy = next(d for d in wf.inputs if d.name == "ploidy")
    assert (str(ploidy.type), ploidy.expr.literal.value) == ("Int", 2)
    calls = [n for s in wf.body if isinstance(s, WDL.Tree.Scatter) for n in s.body]
    haplotypecaller = next(c for c in calls if getattr(c, "name", "") == "HaplotypeCaller")
    assert str(haplotypecaller.inputs["ploidy"]) == "ploidy"
