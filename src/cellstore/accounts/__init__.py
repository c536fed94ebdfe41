"""Organizations, users, memberships, API keys and roles."""
