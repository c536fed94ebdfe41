"""Shared building blocks: settings, database, errors, pagination, filters and tenancy."""
