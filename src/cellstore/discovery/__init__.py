"""Health, and what this server offers: capabilities and the data schema."""
