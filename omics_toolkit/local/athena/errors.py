"""How a local Athena query fails: :class:`QueryFailed` and the ``AthenaError`` numbers it carries.

Source: Athena API ``AthenaError`` (``ErrorCategory``: 1 system, 2 user, 3 other; ``ErrorType``
from the Athena error catalog).
"""

from __future__ import annotations

#: Athena error category for errors in the query (AthenaError.ErrorCategory; 1 system, 2 user).
USER_ERROR_CATEGORY = 2
#: Athena error type "user error" (Athena error catalog). The catalog gives no dedicated number
#: for FUNCTION_NOT_FOUND / COLUMN_NOT_FOUND that we could confirm, so all user errors use 1000.
USER_ERROR_TYPE = 1000
#: Athena error type of an internal failure (reported with ErrorCategory 1, system).
SYSTEM_ERROR_TYPE = 100


class QueryFailed(Exception):
    """A query failed; ``reason`` is Athena's ``StateChangeReason``.

    Attributes:
        reason: ``<ERROR_NAME>: <message>`` as Athena words it (``TABLE_NOT_FOUND: ...``).
        category: ``AthenaError.ErrorCategory``; error_type: ``AthenaError.ErrorType``.
    """

    def __init__(
        self, reason: str, category: int = USER_ERROR_CATEGORY, error_type: int = USER_ERROR_TYPE
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category
        self.error_type = error_type
