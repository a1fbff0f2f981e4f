"""hash-chained audit log (issue 17, audit)

Adds ``prev_hash``/``hash`` to ``audit_log`` and the one-row ``audit_head`` that appenders
lock. Rows written before this upgrade are chained here, once, in id order: their
hashes prove they have not changed since the upgrade, not before it
(``audit_head.legacy_through_id`` records the last such row).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa

from assistant.audit import GENESIS, chain_hash, normalize_details
from assistant.catalog.schema import UTCDateTime


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('legacy_through_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )

    audit = sa.table('audit_log', sa.column('id', sa.Integer()), sa.column('at', UTCDateTime()),
                     sa.column('actor', sa.String()), sa.column('action', sa.String()),
                     sa.column('target', sa.Text()), sa.column('details', sa.JSON()),
                     sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()))
    conn = op.get_bind()
    prev, last_id = GENESIS, 0
    rows = conn.execute(sa.select(audit.c.id, audit.c.at, audit.c.actor, audit.c.action, audit.c.target,
                                  audit.c.details).order_by(audit.c.id)).all()
    for r in rows:
        at = r.at or datetime.now(UTC)
        details = normalize_details(r.details)
        digest = chain_hash(prev, r.id, at, r.actor, r.action, r.target, details)
        conn.execute(sa.update(audit).where(audit.c.id == r.id)
                     .values(at=at, details=details, prev_hash=prev, hash=digest))
        prev, last_id = digest, r.id
    head = sa.table('audit_head', sa.column('id', sa.Integer()), sa.column('last_id', sa.Integer()),
                    sa.column('last_hash', sa.String()), sa.column('legacy_through_id', sa.Integer()))
    conn.execute(sa.insert(head).values(id=1, last_id=last_id, last_hash=prev, legacy_through_id=last_id or None))

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
