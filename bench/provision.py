"""Provisioning cost on the local stack: API calls and wall time of plan, a fresh provision, a
no-op provision and a teardown.

Usage: ``.venv/bin/python bench/provision.py`` (starts its own local stack in a temp home).
Writes ``bench/results/provision.json`` and prints a markdown table. The no-op provision is
reported as a ratio of the fresh one (same process, same stack).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from omics_toolkit.aws.session import local_context
from omics_toolkit.config import Settings
from omics_toolkit.data import fetch_demo_data
from omics_toolkit.local.stack import lifecycle
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.teardown import Teardown

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    reference = str(fetch_demo_data().reference)
    with tempfile.TemporaryDirectory() as home:
        local_dir = Path(home) / "local"
        record = lifecycle.start(local_dir)
        settings = Settings(deployment="bench", home=Path(home))
        rows = []
        try:
            for step in ("plan", "fresh provision", "no-op provision", "teardown"):
                ctx = local_context(record["moto"], record["omics"])
                start = time.perf_counter()
                if step == "plan":
                    runner = Provisioner(ctx, settings, dry_run=True)
                    runner.apply(reference)
                elif step == "teardown":
                    runner = Teardown(ctx, settings)
                    runner.run(force_delete_data=True)
                else:
                    runner = Provisioner(ctx, settings)
                    runner.apply(reference)
                seconds = time.perf_counter() - start
                rows.append(
                    {
                        "step": step,
                        "seconds": round(seconds, 2),
                        "api_calls": len(ctx.calls),
                        "mutating_calls": len(ctx.mutating_calls()),
                        "resources": len(runner.actions),
                        "actions": dict(Counter(a.action for a in runner.actions)),
                        "calls_by_service": dict(
                            Counter(c.split(":")[0] for c in ctx.calls).most_common()
                        ),
                    }
                )
        finally:
            lifecycle.stop(local_dir)
    fresh = next(r for r in rows if r["step"] == "fresh provision")
    for r in rows:
        r["seconds_vs_fresh_provision"] = round(r["seconds"] / fresh["seconds"], 3)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "provision.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("| step | wall s | x fresh | API calls | mutating | resources | actions |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['step']} | {r['seconds']} | {r['seconds_vs_fresh_provision']} | "
            f"{r['api_calls']} | {r['mutating_calls']} | {r['resources']} | {r['actions']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
