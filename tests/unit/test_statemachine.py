"""The state machine definition: valid JSON, every placeholder provided, error names in sync."""

import json
import re

import pytest

from omics_toolkit import errors
from omics_toolkit.pipeline.history import HISTORY_LIMIT, budget, poll_waits
from omics_toolkit.provisioning.statemachine import STATEMACHINES_DIR

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


def test_every_task_retries_with_backoff_and_jitter_and_has_a_timeout_and_a_catch():
    definition = json.loads(ASL.read_text())
    for name, state in _states(definition):
        if state["Type"] in ("Task", "Parallel", "Map"):
            assert state.get("Catch"), name
        if state["Type"] != "Task":
            continue
        assert state.get("TimeoutSeconds"), name
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        for rule in state["Retry"]:
            assert rule["BackoffRate"] > 1 and rule["JitterStrategy"] == "FULL", name
        if ":omics:" in state["Resource"]:
            assert "Omics.ThrottlingException" in retried, name
        else:
            assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= retried, name


def test_every_failure_path_goes_through_the_failure_handler():
    """Top-level Catches and failed-status branches lead to RecordFailure, which records the
    cause, tags and notifies; the only Fail states come after it."""
    definition = json.loads(ASL.read_text())
    top = definition["States"]
    for name, state in top.items():
        for c in state.get("Catch", []):
            if name != "RecordFailure":
                assert c["Next"] == "RecordFailure", name
    fails = {n for n, s in top.items() if s["Type"] == "Fail"}
    assert fails == {"PipelineFailed", "FailureNotRecorded"}
    pointing = {
        n
        for n, s in top.items()
        for t in [s.get("Next"), *(c["Next"] for c in s.get("Catch", []))]
        if t in fails
    }
    assert pointing == {"RecordFailure"}
    # Inside the Parallel, a failed branch ends normally with its error (the other keeps its
    # result); the Choice after the Parallel sends it to the failure handler.
    for branch in top["ImportResults"]["Branches"]:
        assert not [s for s in branch["States"].values() if s["Type"] == "Fail"]


def test_lambda_error_names_in_catchers_are_toolkit_exceptions():
    """Names in ErrorEquals that are not AWS's (States.*, Omics.*, Lambda.*) must be exception
    classes the Lambda handlers raise (Lambda reports the class name as errorType)."""
    text = ASL.read_text()
    groups = re.findall(r'"ErrorEquals": \[([^\]]*)\]', text)
    names = {n for g in groups for n in re.findall(r'"([^"]+)"', g)}
    ours = {n for n in names if not n.startswith(("States.", "Omics.", "Lambda.", "Sandbox."))}
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


def test_idempotency_tokens_are_scoped_to_the_deployment():
    """HealthOmics idempotency tokens (StartRun ``RequestId``, import ``ClientToken``) are
    account-wide, and the execution name is the same for identical uploads to two deployments:
    without the deployment in the token, the second deployment would get the first one's run
    (and its outputs in the first deployment's bucket). The prefix also carries the output
    bucket's incarnation (``TokenPrefix``, see ``provisioning.core.token_prefix``)."""
    definition = json.loads(ASL.read_text())
    tokens = {
        (name, key): value
        for name, state in _states(definition)
        if state.get("Type") == "Task"
        for key, value in state.get("Parameters", {}).items()
        if key in ("RequestId.$", "ClientToken.$")
    }
    # ImportReads, ImportAligned, StartRun, StartAlignedRun, ImportBam
    assert len(tokens) == 5, tokens
    for (name, key), value in tokens.items():
        assert value.startswith("States.Format('${TokenPrefix}/{}"), (name, key, value)
        assert value.endswith(", $.token)"), (name, key, value)


def test_waits_back_off_from_the_configured_poll_interval():
    definition = json.loads(ASL.read_text())
    waits = [s for _, s in _states(definition) if s["Type"] == "Wait"]
    assert len(waits) == 4 and all(w.get("SecondsPath") == "$.poll.seconds" for w in waits)


def test_a_72_hour_run_stays_far_below_the_history_limit():
    """The documented calculation (omics_toolkit.pipeline.history) on the real definition."""
    definition = json.loads(ASL.read_text())
    b = budget(definition, run_hours=72, first_seconds=60, max_seconds=600)
    assert b.polls == len(poll_waits(72 * 3600, 60, 600)) == 435
    # 60, 120, 240: poll + backoff; 480: + cap to 600; then 431 polls at 600 s.
    assert b.run_wait_events == 2 + 3 * (9 + 4) + (9 + 4 + 2) + 431 * 9
    assert b.total < HISTORY_LIMIT / 4, b
    # A fixed 60-second poll, as in the reference sample, would not fit.
    fixed = budget(definition, run_hours=72, first_seconds=60, max_seconds=60)
    assert fixed.total > HISTORY_LIMIT


def test_poll_waits_double_up_to_the_cap():
    assert poll_waits(1000, 60, 600) == [60, 120, 240, 480, 600]
    with pytest.raises(ValueError):
        poll_waits(10, 0, 5)
