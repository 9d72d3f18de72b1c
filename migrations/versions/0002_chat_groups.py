"""messages, conversations, uploads, groups

Revision ID: 0002_chat_groups
Revises: 0001_foundation
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_chat_groups'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('conversations',
    sa.Column('conversation_id', sa.String(length=160), nullable=False),
    sa.Column('conversation_type', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=True),
    sa.Column('max_seq', sa.Integer(), nullable=False),
    sa.Column('latest_msg_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    op.create_table('conversation_states',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=160), nullable=False),
    sa.Column('conversation_type', sa.Integer(), nullable=False),
    sa.Column('peer_user_id', sa.String(length=64), nullable=True),
    sa.Column('group_id', sa.String(length=64), nullable=True),
    sa.Column('has_read_seq', sa.Integer(), nullable=False),
    sa.Column('min_seq', sa.Integer(), nullable=False),
    sa.Column('max_readable_seq', sa.Integer(), nullable=True),
    sa.Column('is_pinned', sa.Boolean(), nullable=False),
    sa.Column('recv_msg_opt', sa.Integer(), nullable=False),
    sa.Column('draft_text', sa.Text(), nullable=False),
    sa.Column('draft_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.conversation_id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('user_id', 'conversation_id')
    )
    with op.batch_alter_table('conversation_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_states_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_conversation_states_user_hidden', ['user_id', 'hidden'], unique=False)

    op.create_table('groups',
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('group_name', sa.String(length=255), nullable=False),
    sa.Column('face_url', sa.String(length=1024), nullable=False),
    sa.Column('introduction', sa.String(length=1024), nullable=False),
    sa.Column('notification', sa.Text(), nullable=False),
    sa.Column('need_verification', sa.Integer(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('owner_user_id', sa.String(length=64), nullable=False),
    sa.Column('creator_user_id', sa.String(length=64), nullable=False),
    sa.Column('member_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_user_id'], ['users.user_id'], ),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('group_id')
    )
    op.create_table('message_deletions',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=160), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('user_id', 'conversation_id', 'seq')
    )
    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('server_msg_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=160), nullable=False),
    sa.Column('conversation_type', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('send_id', sa.String(length=64), nullable=False),
    sa.Column('recv_id', sa.String(length=64), nullable=True),
    sa.Column('group_id', sa.String(length=64), nullable=True),
    sa.Column('client_msg_id', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('send_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.conversation_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'seq', name='uq_messages_conversation_seq'),
    sa.UniqueConstraint('send_id', 'client_msg_id', name='uq_messages_sender_client_msg'),
    sa.UniqueConstraint('server_msg_id')
    )
    op.create_table('uploaded_files',
    sa.Column('file_id', sa.String(length=32), nullable=False),
    sa.Column('uploader_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('mime_type', sa.String(length=100), nullable=False),
    sa.Column('is_picture', sa.Boolean(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploader_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('file_id')
    )
    with op.batch_alter_table('uploaded_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uploaded_files_uploader_id'), ['uploader_id'], unique=False)

    op.create_table('group_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('from_user_id', sa.String(length=64), nullable=False),
    sa.Column('inviter_user_id', sa.String(length=64), nullable=False),
    sa.Column('join_source', sa.Integer(), nullable=False),
    sa.Column('req_msg', sa.String(length=255), nullable=False),
    sa.Column('handle_result', sa.Integer(), nullable=False),
    sa.Column('handle_msg', sa.String(length=255), nullable=False),
    sa.Column('handle_user_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['from_user_id'], ['users.user_id'], ),
    sa.ForeignKeyConstraint(['group_id'], ['groups.group_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'from_user_id')
    )
    with op.batch_alter_table('group_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_applications_from_user_id'), ['from_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_applications_group_id'), ['group_id'], unique=False)

    op.create_table('group_members',
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('role_level', sa.Integer(), nullable=False),
    sa.Column('nickname', sa.String(length=64), nullable=False),
    sa.Column('join_source', sa.Integer(), nullable=False),
    sa.Column('inviter_user_id', sa.String(length=64), nullable=False),
    sa.Column('join_seq', sa.Integer(), nullable=False),
    sa.Column('mute_end_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.group_id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('group_id', 'user_id')
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_members_user_id'), ['user_id'], unique=False)

    op.create_table('message_files',
    sa.Column('file_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=160), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['uploaded_files.file_id'], ),
    sa.PrimaryKeyConstraint('file_id', 'conversation_id', 'seq')
    )
    with op.batch_alter_table('message_files', schema=None) as batch_op:
        batch_op.create_index('ix_message_files_conversation_seq', ['conversation_id', 'seq'], unique=False)



def downgrade():
    with op.batch_alter_table('message_files', schema=None) as batch_op:
        batch_op.drop_index('ix_message_files_conversation_seq')

    op.drop_table('message_files')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_members_user_id'))

    op.drop_table('group_members')
    with op.batch_alter_table('group_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_applications_group_id'))
        batch_op.drop_index(batch_op.f('ix_group_applications_from_user_id'))

    op.drop_table('group_applications')
    with op.batch_alter_table('uploaded_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uploaded_files_uploader_id'))

    op.drop_table('uploaded_files')
    op.drop_table('messages')
    op.drop_table('message_deletions')
    op.drop_table('groups')
    with op.batch_alter_table('conversation_states', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_states_user_hidden')
        batch_op.drop_index(batch_op.f('ix_conversation_states_conversation_id'))

    op.drop_table('conversation_states')
    op.drop_table('conversations')
