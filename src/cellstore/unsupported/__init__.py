"""Endpoints of the Ionworks API that cellstore does not offer, answered 501 rather than 404."""
