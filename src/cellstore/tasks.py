"""Every module that registers background tasks or sweeps, imported in one place for the worker."""

import cellstore.jobs.objects
import cellstore.measurements.cleanup
import cellstore.measurements.tasks
import cellstore.raw_data.tasks  # noqa: F401
