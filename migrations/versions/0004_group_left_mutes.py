"""group_left_mutes: a member's mute survives leaving and rejoining

Revision ID: 0004_group_left_mutes
Revises: 0003_conversation_ids
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_group_left_mutes'
down_revision = '0003_conversation_ids'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('group_left_mutes',
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('mute_end_time', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.group_id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('group_id', 'user_id')
    )


def downgrade():
    op.drop_table('group_left_mutes')
