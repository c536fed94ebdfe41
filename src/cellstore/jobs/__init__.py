"""The durable job queue, kept in the metadata database, and the worker that runs it."""
