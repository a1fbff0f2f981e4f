"""interactions and api tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=100), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=False),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('interactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('retrieved', sa.JSON(), nullable=False),
    sa.Column('prompt_version', sa.String(length=40), nullable=True),
    sa.Column('generator', sa.String(length=40), nullable=True),
    sa.Column('model', sa.String(length=300), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('citations', sa.JSON(), nullable=False),
    sa.Column('supported', sa.Boolean(), nullable=True),
    sa.Column('removed_citations', sa.Integer(), nullable=False),
    sa.Column('fallback_reason', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('cached', sa.Boolean(), nullable=False),
    sa.Column('index_version', sa.String(length=100), nullable=True),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('tokens', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_created', ['created_at'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_created')

    op.drop_table('interactions')
    op.drop_table('api_tokens')
    
