"""Persistence: engine, models, migrations and repositories."""
