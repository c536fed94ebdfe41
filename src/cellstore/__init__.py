"""cellstore: a self-hosted server for battery cell test data that speaks the Ionworks data API."""

__version__ = "0.1.0"
