"""The state machine definition: valid JSON, every placeholder provided, error names in sync."""

import json
import re

from omics_toolkit import errors
from omics_toolkit.provisioning.packaging import STATEMACHINES_DIR

ASL = STATEMACHINES_DIR / "germline.asl.json"


def _states(definition):
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)


def test_every_transition_targets_an_existing_state():
    definition = json.loads(ASL.read_text())

    def check(block):
        names = set(block["States"])
        assert block["StartAt"] in names
        for name, state in block["States"].items():
            targets = [state.get("Next"), state.get("Default")]
            targets += [c["Next"] for c in state.get("Choices", [])]
            targets += [c["Next"] for c in state.get("Catch", [])]
            for t in filter(None, targets):
                assert t in names, f"{name} -> {t}"
            for branch in state.get("Branches", []):
                check(branch)

    check(definition)


def test_every_task_has_retry_and_catch_or_is_in_a_branch_caught_by_its_parallel():
    definition = json.loads(ASL.read_text())
    for name, state in definition["States"].items():
        if state["Type"] in ("Task", "Parallel"):
            assert state.get("Catch"), name
        if state["Type"] == "Task":
            assert state.get("Retry"), name


def test_error_names_in_catchers_exist():
    text = ASL.read_text()
    names = set(re.findall(r'"ErrorEquals": \[([^\]]*)\]', text))
    for group in names:
        for err in re.findall(r'"([^"]+)"', group):
            if err.startswith(("States.", "Omics.", "Lambda.")):
                continue
            assert hasattr(errors, err), (
                f"{err} used in ASL but not defined in omics_toolkit.errors"
            )


def test_waits_use_configurable_poll_interval():
    definition = json.loads(ASL.read_text())
    waits = [s for _, s in _states(definition) if s["Type"] == "Wait"]
    assert waits and all(w.get("SecondsPath") == "$.pollIntervalSeconds" for w in waits)
