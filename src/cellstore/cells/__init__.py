"""Cell specifications (designs), batches (manufacturing lots) and instances (physical cells)."""
