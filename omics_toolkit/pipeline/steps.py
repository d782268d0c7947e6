"""The pipeline's steps as an execution's state shows them (the state machine's result paths:
``readsImport``, ``run``, ``outputs``, ``imports``, ``tagging``; statemachines/germline.asl.json).

Read by the failure record (:mod:`omics_toolkit.pipeline.failures`), which a Lambda builds, and
by ``runs`` (:mod:`omics_toolkit.pipeline.status`), which the CLI builds: a module of its own so
that neither side imports the other's AWS calls.
"""

from __future__ import annotations

from typing import Any


def completed_steps(state: dict[str, Any]) -> list[str]:
    """Steps of ``state`` that completed, in pipeline order: those whose results a retry can
    reuse, and ``TagObjects`` (only in a succeeded execution's output)."""
    done = []
    if (state.get("readsImport") or {}).get("Status") == "COMPLETED":
        done.append("ImportReads")
    if (state.get("run") or {}).get("Status") == "COMPLETED":
        done.append("Run")
    if state.get("outputs"):
        done.append("FindRunOutputs")
    imports = state.get("imports") or {}
    for kind, step in (("bam", "ImportBam"), ("vcf", "ImportVcf")):
        if isinstance(imports.get(kind), dict) and not imports[kind].get("failed"):
            done.append(step)
    if state.get("tagging"):
        done.append("TagObjects")
    return done
