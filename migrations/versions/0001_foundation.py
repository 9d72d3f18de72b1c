"""foundation: accounts, sessions, presence, event log, friend graph

Revision ID: 0001_foundation
Revises: 
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0001_foundation'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('nodes',
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('node_id')
    )
    op.create_table('users',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('nickname', sa.String(length=64), nullable=False),
    sa.Column('face_url', sa.String(length=1024), nullable=False),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('blacks',
    sa.Column('owner_user_id', sa.String(length=64), nullable=False),
    sa.Column('block_user_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['block_user_id'], ['users.user_id'], ),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('owner_user_id', 'block_user_id')
    )
    op.create_table('friend_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_user_id', sa.String(length=64), nullable=False),
    sa.Column('to_user_id', sa.String(length=64), nullable=False),
    sa.Column('req_msg', sa.String(length=255), nullable=False),
    sa.Column('handle_result', sa.Integer(), nullable=False),
    sa.Column('handle_msg', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['from_user_id'], ['users.user_id'], ),
    sa.ForeignKeyConstraint(['to_user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('from_user_id', 'to_user_id')
    )
    with op.batch_alter_table('friend_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_friend_applications_from_user_id'), ['from_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_friend_applications_to_user_id'), ['to_user_id'], unique=False)

    op.create_table('friends',
    sa.Column('owner_user_id', sa.String(length=64), nullable=False),
    sa.Column('friend_user_id', sa.String(length=64), nullable=False),
    sa.Column('remark', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['friend_user_id'], ['users.user_id'], ),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('owner_user_id', 'friend_user_id')
    )
    with op.batch_alter_table('friends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_friends_friend_user_id'), ['friend_user_id'], unique=False)

    op.create_table('login_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('user_events',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], ),
    sa.PrimaryKeyConstraint('user_id', 'seq')
    )
    op.create_table('connections',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['login_sessions.id'], ),
    sa.PrimaryKeyConstraint('sid')
    )
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connections_node_id'), ['node_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connections_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connections_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_connections_user_platform', ['user_id', 'platform_id'], unique=False)



def downgrade():
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_index('ix_connections_user_platform')
        batch_op.drop_index(batch_op.f('ix_connections_user_id'))
        batch_op.drop_index(batch_op.f('ix_connections_session_id'))
        batch_op.drop_index(batch_op.f('ix_connections_node_id'))

    op.drop_table('connections')
    op.drop_table('user_events')
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))

    op.drop_table('login_sessions')
    with op.batch_alter_table('friends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_friends_friend_user_id'))

    op.drop_table('friends')
    with op.batch_alter_table('friend_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_friend_applications_to_user_id'))
        batch_op.drop_index(batch_op.f('ix_friend_applications_from_user_id'))

    op.drop_table('friend_applications')
    op.drop_table('blacks')
    op.drop_table('users')
    op.drop_table('nodes')
