"""Battery test data processing: validation, step summaries, cycle metrics, parquet I/O.

Pure data code on polars, independent of the web layer (no FastAPI, SQLAlchemy or
``cellstore.core`` imports), so the worker can run it and tests can call it on
tiny frames. Module roles:

* :mod:`~cellstore.processing.validation` — is this a usable time series?
* :mod:`~cellstore.processing.steps` — one summary row per step (contract §6.5);
* :mod:`~cellstore.processing.cycles` — one metrics row per cycle (§6.6);
* :mod:`~cellstore.processing.uploaded_steps` — a client's own steps table, checked;
* :mod:`~cellstore.processing.frames` — frames to column-oriented JSON;
* :mod:`~cellstore.processing.stream` — one pass over a stored series by batches of
  rows (validation and step aggregates together, flat memory), and the tail-only
  recomputation after an extend;
* :mod:`~cellstore.processing.parquet`, :mod:`~cellstore.processing.parquet_append`
  and :mod:`~cellstore.processing.pipeline` — the file edge the jobs call;
* :mod:`~cellstore.processing.command` — ``cellstore process``, the same pipeline
  on local files.
"""

from cellstore.processing.cycles import cycle_metrics
from cellstore.processing.errors import SeriesError
from cellstore.processing.frames import to_columns
from cellstore.processing.pipeline import ProcessingResult, append_series, extend_series, process_series
from cellstore.processing.steps import summarize_steps
from cellstore.processing.validation import validate_series

__all__ = [
    "ProcessingResult",
    "SeriesError",
    "append_series",
    "cycle_metrics",
    "extend_series",
    "process_series",
    "summarize_steps",
    "to_columns",
    "validate_series",
]
