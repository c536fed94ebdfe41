"""The instrument families; importing this package registers every reader with the detector."""
