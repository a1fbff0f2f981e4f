"""operational alerts (issue 18)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('open_key', sa.String(length=300), nullable=True),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=250), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('observed', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('window_hours', sa.Float(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('raised_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('post_attempts', sa.Integer(), nullable=False),
    sa.Column('post_error', sa.Text(), nullable=True),
    sa.Column('notifications', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    op.create_index('ix_alerts_key', 'alerts', ['key'], unique=False)
    op.create_index('ix_alerts_state', 'alerts', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alerts_state', table_name='alerts')
    op.drop_index('ix_alerts_key', table_name='alerts')
    op.drop_table('alerts')
