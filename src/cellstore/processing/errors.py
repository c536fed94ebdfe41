"""The one error the processing package raises for bad data.

Processing runs in a worker, away from any request, so its failures end up as a
measurement's ``processing_error`` text that a person reads in the client. That is
why every message names the column and, where rows are at fault, the first
offending 0-based row offsets (the same offsets as the steps' ``Start index``).
"""

from __future__ import annotations

from collections.abc import Sequence


class SeriesError(ValueError):
    """A time series, steps table or extension that cannot be processed as given.

    ``column`` and ``rows`` repeat what the message says, for callers that want to
    show them apart (both are optional: some errors concern the whole file).
    """

    def __init__(self, message: str, *, column: str | None = None, rows: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.rows = tuple(rows)
