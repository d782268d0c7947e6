"""How a local Athena query fails: :class:`QueryFailed` and the ``AthenaError`` numbers it carries.

Source: Athena API ``AthenaError`` (``ErrorCategory``: 1 system, 2 user, 3 other; ``ErrorType``
from the Athena error catalog).
"""

from __future__ import annotations

#: Athena error category for errors in the query (AthenaError.ErrorCategory; 1 system, 2 user).
USER_ERROR_CATEGORY = 2
#: Athena error type "user error" (Athena error catalog): user errors not in :data:`ERROR_TYPES`.
USER_ERROR_TYPE = 1000
#: Athena error type "Syntax error" (catalog 1006). Athena answers it for Trino's analysis errors
#: too: a failed query with ``COLUMN_NOT_FOUND: line 1:27: Column '...' cannot be resolved or
#: requester is not authorized to access requested resources`` carried ErrorCategory 2,
#: ErrorType 1006 (a GetQueryExecution answer quoted in public code, 2024).
SYNTAX_ERROR_TYPE = 1006
#: ErrorType per Trino error name. SYNTAX_ERROR and COLUMN_NOT_FOUND as observed (1006); the
#: others are the catalog entries whose descriptions name them (not confirmed against AWS):
#: 1110 "Provided table or view does not exist", 1301 "General entity not found", 1303
#: "Provided function or function implementation not found", 1200 "Query not supported", 1106
#: "Invalid function argument provided", 1100 "Invalid argument provided".
ERROR_TYPES = {
    "SYNTAX_ERROR": SYNTAX_ERROR_TYPE,
    "COLUMN_NOT_FOUND": SYNTAX_ERROR_TYPE,
    "TABLE_NOT_FOUND": 1110,
    "SCHEMA_NOT_FOUND": 1301,
    "CATALOG_NOT_FOUND": 1301,
    "FUNCTION_NOT_FOUND": 1303,
    "NOT_SUPPORTED": 1200,
    "INVALID_FUNCTION_ARGUMENT": 1106,
    "INVALID_CAST_ARGUMENT": 1100,
}
#: Athena error type of an internal failure (reported with ErrorCategory 1, system).
SYSTEM_ERROR_TYPE = 100


class QueryFailed(Exception):
    """A query failed; ``reason`` is Athena's ``StateChangeReason``.

    Attributes:
        reason: ``<ERROR_NAME>: <message>`` as Athena words it (``TABLE_NOT_FOUND: ...``).
        category: ``AthenaError.ErrorCategory``; error_type: ``AthenaError.ErrorType`` (by
            default the :data:`ERROR_TYPES` entry of the reason's error name, else 1000).
    """

    def __init__(
        self, reason: str, category: int = USER_ERROR_CATEGORY, error_type: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category
        if error_type is None:
            error_type = ERROR_TYPES.get(reason.split(":", 1)[0], USER_ERROR_TYPE)
        self.error_type = error_type
