"""chat threads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('chat_threads',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chat_threads', schema=None) as batch_op:
        batch_op.create_index('ix_chat_threads_user_updated', ['user_name', 'updated_at'], unique=False)

    op.create_table('chat_elements',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('thread_id', sa.String(length=64), nullable=False),
    sa.Column('step_id', sa.String(length=64), nullable=True),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('display', sa.String(length=20), nullable=False),
    sa.Column('mime', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=40), nullable=True),
    sa.Column('size', sa.String(length=20), nullable=True),
    sa.Column('page', sa.Integer(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('props', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['chat_threads.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chat_elements', schema=None) as batch_op:
        batch_op.create_index('ix_chat_elements_thread', ['thread_id'], unique=False)

    op.create_table('chat_steps',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('thread_id', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('input', sa.Text(), nullable=True),
    sa.Column('output', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('is_error', sa.Boolean(), nullable=False),
    sa.Column('show_input', sa.String(length=40), nullable=True),
    sa.Column('language', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('feedback_id', sa.String(length=64), nullable=True),
    sa.Column('feedback_value', sa.Integer(), nullable=True),
    sa.Column('feedback_comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['thread_id'], ['chat_threads.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chat_steps', schema=None) as batch_op:
        batch_op.create_index('ix_chat_steps_feedback', ['feedback_id'], unique=False)
        batch_op.create_index('ix_chat_steps_thread', ['thread_id', 'created_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('chat_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_steps_thread')
        batch_op.drop_index('ix_chat_steps_feedback')

    op.drop_table('chat_steps')
    with op.batch_alter_table('chat_elements', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_elements_thread')

    op.drop_table('chat_elements')
    with op.batch_alter_table('chat_threads', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_threads_user_updated')

    op.drop_table('chat_threads')

