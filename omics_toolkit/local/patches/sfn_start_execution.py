"""Step Functions StartExecution: one execution per name, even when calls race.

moto 5.2's ``StepFunctionsParserBackend.start_execution`` looks for an execution with the same
name (``_handle_name_input_idempotency``), deep-copies the state machine, then appends the new
execution, with no lock: two concurrent StartExecution calls with one name can both pass the check
and create two executions (seen with a widened window). AWS admits one: the second call gets the
running execution back (same name and input) or ``ExecutionAlreadyExists``. The pair detector's
exactly-once guarantee rests on that, and S3 events for both mates of a pair arrive concurrently.

This patch serialises ``start_execution`` with one lock for every backend (the check and the
append only; the execution itself runs on its own thread as before).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from omics_toolkit.local.patches.guard import Needs

#: The moto symbol this module wraps (checked by tests/unit/local/test_patches_sfn_start_execution.py).
TARGET = "moto.stepfunctions.parser.models.StepFunctionsParserBackend.start_execution"

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.stepfunctions.parser.models.StepFunctionsParserBackend.start_execution",
        params=("self", "state_machine_arn", "name", "execution_input"),
    ),
)

_LOCK = threading.Lock()


def apply() -> None:
    """Wrap ``start_execution`` with a lock (idempotent)."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    current = StepFunctionsParserBackend.start_execution
    if getattr(current, "_omics_toolkit_locked", False):
        return

    @functools.wraps(current)
    def start_execution(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return current(self, *args, **kwargs)

    start_execution._omics_toolkit_locked = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
