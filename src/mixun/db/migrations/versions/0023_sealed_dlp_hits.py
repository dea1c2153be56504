"""DLP hits' masked excerpts sealed at rest: dlp_hits.masked becomes text (a sealed excerpt of 200
characters is longer than 200); rows written before read unchanged until `mixun keys encrypt-existing`
seals them (docs/keys.md)

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dlp_hits") as b:
        b.alter_column("masked", existing_type=sa.String(200), type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("dlp_hits") as b:
        b.alter_column("masked", existing_type=sa.Text(), type_=sa.String(200), existing_nullable=False)
