"""Object storage: one interface, a local-disk backend and an S3 backend, with signed URLs."""
