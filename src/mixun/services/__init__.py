"""Use cases: one transaction per call, the single permission gate, audit and event rows."""
