"""How many Step Functions history events a long run costs the pipeline's execution.

A Standard workflow execution fails when its history reaches 25,000 events ("Quotas related to
state machine executions", AWS Step Functions Developer Guide). The pipeline waits for HealthOmics
runs and import jobs by polling, and a naive fixed-interval poll of a multi-day run exhausts that
history (the reference sample did). The state machine therefore polls with exponential backoff:
the first wait is ``pollIntervalSeconds``, each following wait doubles, up to
``maxPollIntervalSeconds``; once there it stays.

Events per state visited (Standard workflows, request-response integrations):

============================  ==========================================================  ====
Task (``aws-sdk:*``, Lambda)   TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded,   5
                               TaskStateExited
Wait                           WaitStateEntered, WaitStateExited                              2
Choice                         ChoiceStateEntered, ChoiceStateExited                          2
Pass                           PassStateEntered, PassStateExited                              2
retry of a Task                TaskFailed, TaskScheduled, TaskStarted                         3
============================  ==========================================================  ====

One poll of the run (``WaitRun -> GetRun -> IsRunDone``) costs 2 + 5 + 2 = 9 events once the
interval is capped; while it still grows, ``BackoffRun -> CapRun [-> CappedRun]`` add 4 or 6.
With the defaults (60 s doubling to 600 s) a 72-hour run is 435 polls, about 3,950 events:
:func:`budget` computes it from the definition itself, and the tests check it against a real
execution's history on the local stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Step Functions Standard workflows: maximum events in one execution's history.
HISTORY_LIMIT = 25_000
#: History events written per state visited, by state type.
EVENTS_PER_STATE = {"Task": 5, "Wait": 2, "Choice": 2, "Pass": 2, "Succeed": 2, "Fail": 1}
#: Extra events per retried Task attempt (TaskFailed, TaskScheduled, TaskStarted).
EVENTS_PER_RETRY = 3


def poll_waits(duration_seconds: float, first_seconds: int, max_seconds: int) -> list[int]:
    """The waits (seconds) the backoff makes until ``duration_seconds`` have passed.

    Raises:
        ValueError: a non-positive interval, or ``max_seconds < first_seconds``.
    """
    if first_seconds <= 0 or max_seconds < first_seconds:
        raise ValueError("need 0 < first_seconds <= max_seconds")
    waits: list[int] = []
    seconds, total = first_seconds, 0
    while total < duration_seconds:
        waits.append(seconds)
        total += seconds
        seconds = min(seconds * 2, max_seconds)
    return waits


@dataclass(frozen=True)
class Budget:
    """History events of one execution whose run lasts ``run_hours``.

    Attributes:
        polls: GetRun calls while waiting for the run.
        run_wait_events: events of the run's polling loop.
        other_events: every other state of the success path once, each of its Tasks retried
            ``retries_per_task`` times, and the import loops polled for ``import_hours`` each.
        total: the sum; limit: :data:`HISTORY_LIMIT`.
    """

    polls: int
    run_wait_events: int
    other_events: int
    total: int
    limit: int = HISTORY_LIMIT

    @property
    def fraction(self) -> float:
        """``total / limit``."""
        return self.total / self.limit


def _type(states: dict[str, Any], name: str) -> str:
    return str(states[name]["Type"])


def loop_events(states: dict[str, Any], prefix: str, waits: list[int], max_seconds: int) -> int:
    """Events of one polling loop (states ``Wait<prefix>``, ``Get...``, ``Is<prefix>Done``,
    ``Backoff<prefix>``, ``Cap<prefix>``, ``Capped<prefix>``) for the given waits."""
    wait = states[f"Wait{prefix}"]
    get = wait["Next"]
    check = states[get]["Next"]
    per_poll = sum(EVENTS_PER_STATE[_type(states, s)] for s in (f"Wait{prefix}", get, check))
    ramp = sum(EVENTS_PER_STATE[_type(states, s)] for s in (f"Backoff{prefix}", f"Cap{prefix}"))
    capped = EVENTS_PER_STATE[_type(states, f"Capped{prefix}")]
    total = 0
    for seconds in waits:
        total += per_poll
        if seconds < max_seconds:  # the interval still grows after this poll
            total += ramp + (capped if seconds * 2 > max_seconds else 0)
    return total


def budget(
    definition: dict[str, Any],
    *,
    run_hours: float = 72,
    import_hours: float = 2,
    first_seconds: int = 60,
    max_seconds: int = 600,
    retries_per_task: int = 1,
) -> Budget:
    """The history events of an execution whose run takes ``run_hours`` (pessimistic).

    Args:
        definition: the state machine definition (statemachines/germline.asl.json).
        run_hours: duration of the HealthOmics run.
        import_hours: duration of each import job (reads, BAM, VCF), polled the same way.
        first_seconds / max_seconds: ``pollIntervalSeconds`` / ``maxPollIntervalSeconds``.
        retries_per_task: retries counted for every Task outside the polling loops.

    Returns:
        A :class:`Budget`.
    """
    states = definition["States"]
    run_waits = poll_waits(run_hours * 3600, first_seconds, max_seconds)
    run_events = 2 + loop_events(states, "Run", run_waits, max_seconds)  # + StartRunPolling
    import_waits = poll_waits(import_hours * 3600, first_seconds, max_seconds)
    other = 1 + 1  # ExecutionStarted, ExecutionSucceeded
    for name, state in states.items():
        kind = state["Type"]
        if kind in ("Fail",) or name.startswith(("Wait", "Get", "Is", "Backoff", "Cap")):
            continue
        if name.startswith(("StartRunPolling",)):
            continue
        if kind == "Parallel":
            other += 4  # ParallelStateEntered/Started/Succeeded/Exited
            for branch in state["Branches"]:
                for inner, st in branch["States"].items():
                    if inner.startswith(("Wait", "Get", "Is", "Backoff", "Cap")):
                        continue
                    other += EVENTS_PER_STATE.get(st["Type"], 2)
                    if st["Type"] == "Task":
                        other += EVENTS_PER_RETRY * retries_per_task
                prefix = next(
                    (n[len("Wait") :] for n in branch["States"] if n.startswith("Wait")), None
                )
                if prefix:
                    other += loop_events(branch["States"], prefix, import_waits, max_seconds)
            continue
        if kind == "Map":
            other += 4 + 4 * 8  # Map entered/started/succeeded/exited + up to 8 lanes
            continue
        other += EVENTS_PER_STATE.get(kind, 2)
        if kind == "Task":
            other += EVENTS_PER_RETRY * retries_per_task
    other += loop_events(states, "ReadsImport", import_waits, max_seconds)
    total = run_events + other
    return Budget(polls=len(run_waits), run_wait_events=run_events, other_events=other, total=total)
