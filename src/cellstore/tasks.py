"""Every module that registers background tasks, imported in one place for the worker."""

import cellstore.measurements.tasks  # noqa: F401
