"""source classification and access changes (issue 17, policy and access)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing sources become ``internal``: the default, which every generator the default
    # policy allows may see (assistant.policy); ``restricted`` has to be chosen.
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("classification", sa.String(length=20), nullable=False,
                                   server_default="internal"))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("classification")
