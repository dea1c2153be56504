"""Alembic environment: runs migrations on the URL the caller put in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import mixun.db.models_archive  # noqa: F401  (registers the archive tables)
import mixun.db.models_compliance  # noqa: F401  (registers the compliance dual-control tables)
import mixun.db.models_dlp  # noqa: F401  (registers the DLP administration tables)
import mixun.db.models_drive  # noqa: F401  (registers the drive and group file space tables)
import mixun.db.models_ops  # noqa: F401  (registers the operations tables: fault reports)
import mixun.db.models_people  # noqa: F401  (registers the people's rules tables)
import mixun.db.models_web  # noqa: F401  (registers the web client tables)
from mixun.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
