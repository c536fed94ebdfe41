"""Cell measurements: time series, files and properties, their uploads, processing, tags and watches."""
