"""Commands that work against a running cellstore (or any server of the same API) over HTTP,
configured like the ``ionworks`` client: ``IONWORKS_API_URL`` and ``IONWORKS_API_KEY``."""
