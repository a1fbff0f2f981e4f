"""secret and personal-data redactions (issue 17, secrets)

Adds ``redactions`` (what each rule removed from each document, never the text) and
``documents.redaction_key`` (the rules a document was cleaned with). Existing documents
get NULL, which differs from every key, so the next `sourcewise index` re-processes
them: text indexed before redaction existed is redacted then.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('redactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_redactions_document', 'redactions', ['document_id'], unique=False)
    op.create_index('ix_redactions_source', 'redactions', ['source_id'], unique=False)
    with op.batch_alter_table('documents') as batch_op:
        batch_op.add_column(sa.Column('redaction_key', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('documents') as batch_op:
        batch_op.drop_column('redaction_key')
    op.drop_index('ix_redactions_source', table_name='redactions')
    op.drop_index('ix_redactions_document', table_name='redactions')
    op.drop_table('redactions')
