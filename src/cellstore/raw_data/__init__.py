"""Raw data: original cycler files stored as they came, and their links to measurements."""
