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


def test_lambda_error_names_in_catchers_are_toolkit_exceptions():
    """Names in ErrorEquals that are not AWS's (States.*, Omics.*, Lambda.*) must be exception
    classes the Lambda handlers raise (Lambda reports the class name as errorType)."""
    text = ASL.read_text()
    groups = re.findall(r'"ErrorEquals": \[([^\]]*)\]', text)
    names = {n for g in groups for n in re.findall(r'"([^"]+)"', g)}
    ours = {n for n in names if not n.startswith(("States.", "Omics.", "Lambda."))}
    assert ours, "the state machine catches no toolkit error by name"
    for name in ours:
        cls = getattr(errors, name, None)
        assert isinstance(cls, type) and issubclass(cls, Exception), (
            f"{name} is not in omics_toolkit.errors"
        )


def test_retried_tasks_are_idempotent():
    """A task retried on 5xx must carry an idempotency token (StartVariantImportJob has none)."""
    definition = json.loads(ASL.read_text())
    for name, state in _states(definition):
        if state.get("Type") != "Task" or not state["Resource"].endswith("startVariantImportJob"):
            continue
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert retried <= {"Omics.ThrottlingException"}, (name, retried)


def test_waits_use_configurable_poll_interval():
    definition = json.loads(ASL.read_text())
    waits = [s for _, s in _states(definition) if s["Type"] == "Wait"]
    assert waits and all(w.get("SecondsPath") == "$.pollIntervalSeconds" for w in waits)
