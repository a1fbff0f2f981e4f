"""symbol tables, doc references and staleness findings (issue 16)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('doc_references',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('doc_id', sa.String(length=1200), nullable=False),
    sa.Column('blob', sa.String(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('context', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_doc_references_doc', 'doc_references', ['doc_id'], unique=False)
    op.create_table('doc_reference_scans',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('doc_id', sa.String(length=1200), nullable=False),
    sa.Column('blob', sa.String(length=100), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('truncated', sa.Boolean(), nullable=False),
    sa.Column('ignored', sa.Integer(), nullable=False),
    sa.Column('code_languages', sa.String(length=300), nullable=False),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('doc_id')
    )
    op.create_index('ix_doc_reference_scans_source', 'doc_reference_scans', ['source_id'], unique=False)
    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('doc_id', sa.String(length=1200), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('suggestion', sa.JSON(), nullable=True),
    sa.Column('code_source', sa.String(length=200), nullable=True),
    sa.Column('owner', sa.String(length=300), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('dismissed_by', sa.String(length=200), nullable=True),
    sa.Column('dismiss_note', sa.Text(), nullable=True),
    sa.Column('dismissed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint')
    )
    op.create_index('ix_findings_doc', 'findings', ['doc_id'], unique=False)
    op.create_index('ix_findings_source_status', 'findings', ['source_id', 'status'], unique=False)
    op.create_table('symbol_blobs',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=1200), nullable=False),
    sa.Column('blob', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=40), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('parsed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', 'path', 'blob')
    )
    op.create_table('symbols',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=1200), nullable=False),
    sa.Column('blob', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('end_line', sa.Integer(), nullable=False),
    sa.Column('signature', sa.Text(), nullable=True),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_symbols_source_blob', 'symbols', ['source_id', 'blob'], unique=False)
    op.create_index('ix_symbols_source_key', 'symbols', ['source_id', 'key'], unique=False)
    op.add_column('documents', sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('documents', sa.Column('staleness', sa.Float(), nullable=True))
    op.add_column('documents', sa.Column('stale_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('documents') as batch:
        batch.drop_column('stale_reason')
        batch.drop_column('staleness')
        batch.drop_column('reviewed_at')
    op.drop_index('ix_symbols_source_key', table_name='symbols')
    op.drop_index('ix_symbols_source_blob', table_name='symbols')
    op.drop_table('symbols')
    op.drop_table('symbol_blobs')
    op.drop_index('ix_findings_source_status', table_name='findings')
    op.drop_index('ix_findings_doc', table_name='findings')
    op.drop_table('findings')
    op.drop_index('ix_doc_reference_scans_source', table_name='doc_reference_scans')
    op.drop_table('doc_reference_scans')
    op.drop_index('ix_doc_references_doc', table_name='doc_references')
    op.drop_table('doc_references')
