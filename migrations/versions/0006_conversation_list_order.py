"""conversation_states: one index holding every column the total unread, max seqs and the list's order read

Revision ID: 0006_conversation_list_order
Revises: 0005_search_index
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op


revision = '0006_conversation_list_order'
down_revision = '0005_search_index'
branch_labels = None
depends_on = None

COLUMNS = ['user_id', 'hidden', 'recv_msg_opt', 'is_pinned', 'conversation_id', 'has_read_seq', 'min_seq',
           'max_readable_seq']


def _indexes() -> set[str]:
    return {ix['name'] for ix in sa.inspect(op.get_bind()).get_indexes('conversation_states')}


# Plain CREATE/DROP INDEX, not a batch: nothing here needs the table copied (SQLite). A database
# made by db.create_all() (stamped at 0004, see im/schema.py) already has the models' new index.
def upgrade():
    existing = _indexes()
    if 'ix_conversation_states_user_list' not in existing:
        op.create_index('ix_conversation_states_user_list', 'conversation_states', COLUMNS, unique=False)
    if 'ix_conversation_states_user_hidden' in existing:
        op.drop_index('ix_conversation_states_user_hidden', table_name='conversation_states')


def downgrade():
    op.create_index('ix_conversation_states_user_hidden', 'conversation_states', ['user_id', 'hidden'], unique=False)
    op.drop_index('ix_conversation_states_user_list', table_name='conversation_states')
