"""The `breakfix` command line (also `kubectl breakfix`)."""
