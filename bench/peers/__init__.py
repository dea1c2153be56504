"""Mixun beside a peer (Matrix Synapse) on the same machine, database and load generator."""
