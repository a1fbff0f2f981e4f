"""OAuth identities, sessions that end, login throttling (issue 17, identity)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=False),
    sa.Column('login', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'subject', name='uq_oauth_identities_provider_subject')
    )
    op.create_index('ix_oauth_identities_user_name', 'oauth_identities', ['user_name'], unique=False)
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_login_failures_key', 'login_failures', ['kind', 'key', 'at'], unique=False)
    op.create_index('ix_login_failures_at', 'login_failures', ['at'], unique=False)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_epoch')
    op.drop_index('ix_login_failures_at', table_name='login_failures')
    op.drop_index('ix_login_failures_key', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index('ix_oauth_identities_user_name', table_name='oauth_identities')
    op.drop_table('oauth_identities')
