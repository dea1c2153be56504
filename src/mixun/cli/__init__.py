"""The `mixun` command line."""
