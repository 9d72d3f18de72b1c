"""one-to-one conversation ids si_<low>~<high>; a conversation two pairs shared is split between them

`si_<low>_<high>` named the pairs (john_smith, mary) and (john, smith_mary) alike, so both pairs wrote
into one conversation. Each one-to-one conversation gets the id of its pair, found from its rows (the
state rows' user and peer, the messages' sender and receiver), never from its old id. A conversation
whose rows name more than one pair is split: every pair gets its own conversation with its own
messages, renumbered 1..n in their old order (seqs stay contiguous), and the read positions,
deletions, file links and quotes that point into it follow the messages. Events in the user event
log that name a renamed conversation are rewritten too; those of a split one keep the old id, which
now names no conversation (the seqs they carry are gone with it).

Revision ID: 0003_conversation_ids
Revises: 0002_chat_groups
Create Date: 2026-12-02
"""
import json

from alembic import op
import sqlalchemy as sa


revision = '0003_conversation_ids'
down_revision = '0002_chat_groups'
branch_labels = None
depends_on = None

SINGLE = 1
TEXT, QUOTE = 101, 114

conversations = sa.table('conversations', sa.column('conversation_id', sa.String), sa.column('conversation_type'),
                         sa.column('group_id'), sa.column('max_seq'), sa.column('latest_msg_time'),
                         sa.column('created_at'))
states = sa.table('conversation_states', sa.column('user_id'), sa.column('conversation_id'),
                  sa.column('conversation_type'), sa.column('peer_user_id'), sa.column('group_id'),
                  sa.column('has_read_seq'), sa.column('min_seq'), sa.column('max_readable_seq'),
                  sa.column('is_pinned'), sa.column('recv_msg_opt'), sa.column('draft_text'),
                  sa.column('draft_time'), sa.column('hidden'), sa.column('updated_at'))
messages = sa.table('messages', sa.column('id'), sa.column('conversation_id'), sa.column('conversation_type'),
                    sa.column('seq'), sa.column('send_id'), sa.column('recv_id'), sa.column('content_type'),
                    sa.column('content', sa.JSON), sa.column('send_time'))
deletions = sa.table('message_deletions', sa.column('user_id'), sa.column('conversation_id'), sa.column('seq'))
files = sa.table('message_files', sa.column('file_id'), sa.column('conversation_id'), sa.column('seq'))
events = sa.table('user_events', sa.column('user_id'), sa.column('seq'), sa.column('data', sa.JSON))
users = sa.table('users', sa.column('user_id'))


def new_id(a: str, b: str) -> str:
    """The rule of this revision (docs/protocol.md); "~" is outside the user-id alphabet."""
    low, high = sorted((a, b))
    return f"si_{low}~{high}"


def old_id(a: str, b: str) -> str:
    low, high = sorted((a, b))
    return f"si_{low}_{high}"


def _pairs(conn) -> dict[str, set[frozenset]]:
    """Every one-to-one conversation and the pairs of users its rows name."""
    pairs: dict[str, set[frozenset]] = {}
    for cid, in conn.execute(sa.select(conversations.c.conversation_id)
                             .where(conversations.c.conversation_type == SINGLE)):
        pairs[cid] = set()
    for cid, a, b in conn.execute(sa.select(states.c.conversation_id, states.c.user_id, states.c.peer_user_id)
                                  .where(states.c.conversation_type == SINGLE)):
        if b is not None:
            pairs.setdefault(cid, set()).add(frozenset((a, b)))
    for cid, a, b in conn.execute(sa.select(messages.c.conversation_id, messages.c.send_id, messages.c.recv_id)
                                  .where(messages.c.conversation_type == SINGLE).distinct()):
        if b is not None:
            pairs.setdefault(cid, set()).add(frozenset((a, b)))
    return pairs


def _ends(pair: frozenset) -> tuple[str, str]:
    a, b = sorted(pair) if len(pair) == 2 else (next(iter(pair)),) * 2
    return a, b


def _copy_conversation(conn, old: str, new: str, max_seq=None, latest=None) -> None:
    row = conn.execute(sa.select(conversations).where(conversations.c.conversation_id == old)).mappings().one()
    values = dict(row, conversation_id=new)
    if max_seq is not None:
        values.update(max_seq=max_seq, latest_msg_time=latest or row["latest_msg_time"])
    conn.execute(conversations.insert(), [values])


def _rename(conn, mapping: dict[str, str]) -> None:
    """Move whole conversations to new ids: the new row first, its children, then the old row goes."""
    if not mapping:
        return
    for old, new in mapping.items():
        _copy_conversation(conn, old, new)
    moves = [{"old": old, "new": new} for old, new in mapping.items()]
    for table in (states, messages, deletions, files):
        conn.execute(table.update().where(table.c.conversation_id == sa.bindparam("old"))
                     .values(conversation_id=sa.bindparam("new")), moves)
    conn.execute(conversations.delete().where(conversations.c.conversation_id == sa.bindparam("old")), moves)


def _split(conn, old: str, pairs: set[frozenset], target) -> None:
    """Give each pair of a shared conversation its own, with its messages renumbered 1..n."""
    rows = conn.execute(sa.select(messages.c.id, messages.c.seq, messages.c.send_id, messages.c.recv_id,
                                  messages.c.content_type, messages.c.content, messages.c.send_time)
                        .where(messages.c.conversation_id == old).order_by(messages.c.seq)).all()
    moved: dict[int, tuple[str, int]] = {}  # old seq -> (new conversation, new seq)
    count: dict[str, int] = {}
    latest: dict[str, object] = {}
    for m in rows:
        cid = target(frozenset((m.send_id, m.recv_id)))
        count[cid] = count.get(cid, 0) + 1
        moved[m.seq] = (cid, count[cid])
        latest[cid] = m.send_time
    for pair in pairs:
        cid = target(pair)
        _copy_conversation(conn, old, cid, max_seq=count.get(cid, 0), latest=latest.get(cid))
    for m in rows:
        cid, seq = moved[m.seq]
        content_type, content = m.content_type, m.content
        if content_type == QUOTE and isinstance(content, dict):
            quoted = moved.get(content.get("quote_seq"))
            if quoted is not None and quoted[0] == cid:
                content = {**content, "quote_seq": quoted[1]}
            else:  # it quoted the other pair's message, which this pair never had: keep the text
                content_type, content = TEXT, {"text": content.get("text", "")}
        conn.execute(messages.update().where(messages.c.id == m.id).values(
            conversation_id=cid, seq=seq, content_type=content_type, content=content))

    def read_to(cid: str, old_seq):
        """The new seq a position in the old numbering reaches within cid."""
        if old_seq is None:
            return None
        return sum(1 for s, (c, _n) in moved.items() if c == cid and s <= old_seq)

    for s in conn.execute(sa.select(states).where(states.c.conversation_id == old)).mappings().all():
        cid = target(frozenset((s["user_id"], s["peer_user_id"])))
        conn.execute(states.update().where(states.c.user_id == s["user_id"], states.c.conversation_id == old)
                     .values(conversation_id=cid, has_read_seq=read_to(cid, s["has_read_seq"]),
                             min_seq=read_to(cid, s["min_seq"] - 1) + 1,
                             max_readable_seq=read_to(cid, s["max_readable_seq"])))
    for table, who in ((deletions, deletions.c.user_id), (files, files.c.file_id)):
        links = conn.execute(sa.select(who, table.c.seq).where(table.c.conversation_id == old)).all()
        conn.execute(table.delete().where(table.c.conversation_id == old))
        kept = []
        for key, seq in links:
            if seq not in moved:
                continue
            cid, new_seq = moved[seq]
            if table is deletions and key not in _ends(next(p for p in pairs if target(p) == cid)):
                continue  # a deletion of the other pair's message: that message is not theirs to see
            kept.append({who.name: key, "conversation_id": cid, "seq": new_seq})
        if kept:
            conn.execute(table.insert(), kept)
    conn.execute(conversations.delete().where(conversations.c.conversation_id == old))


def _fill_missing_states(conn, pair_ids: dict[frozenset, str]) -> None:
    """Both users of a pair read their conversation through their own state row, so each has one."""
    have = set(conn.execute(sa.select(states.c.user_id, states.c.conversation_id)
                            .where(states.c.conversation_type == SINGLE)).all())
    known = {u for u, in conn.execute(sa.select(users.c.user_id))}
    now = conn.execute(sa.select(sa.func.max(conversations.c.latest_msg_time))).scalar()
    rows = []
    for pair, cid in pair_ids.items():
        a, b = _ends(pair)
        for user, peer in ((a, b), (b, a)):
            if (user, cid) not in have and user in known and a != b:
                rows.append({"user_id": user, "conversation_id": cid, "conversation_type": SINGLE,
                             "peer_user_id": peer, "group_id": None, "has_read_seq": 0, "min_seq": 1,
                             "max_readable_seq": None, "is_pinned": False, "recv_msg_opt": 0,
                             "draft_text": "", "draft_time": None, "hidden": False, "updated_at": now})
    if rows:
        conn.execute(states.insert(), rows)


def _rewrite(value, mapping: dict[str, str]):
    if isinstance(value, dict):
        return {k: (mapping.get(v, v) if k == "conversation_id" and isinstance(v, str) else _rewrite(v, mapping))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def _rewrite_events(conn, mapping: dict[str, str]) -> None:
    if not mapping:
        return
    rows = conn.execute(sa.select(events.c.user_id, events.c.seq, events.c.data)
                        .where(sa.cast(events.c.data, sa.Text).like('%"si\\_%', escape="\\"))).all()
    changed = []
    for user_id, seq, data in rows:
        if isinstance(data, str):
            data = json.loads(data)
        new = _rewrite(data, mapping)
        if new != data:
            changed.append({"u": user_id, "s": seq, "data": new})
    if changed:
        conn.execute(events.update().where(events.c.user_id == sa.bindparam("u"), events.c.seq == sa.bindparam("s"))
                     .values(data=sa.bindparam("data", type_=sa.JSON)), changed)


def _migrate(id_of) -> None:
    conn = op.get_bind()
    found = _pairs(conn)
    pair_ids: dict[frozenset, str] = {}
    for cid, pairs in found.items():
        for pair in pairs:
            pair_ids[pair] = id_of(*_ends(pair))
    owners: dict[str, frozenset] = {}
    for pair, target in pair_ids.items():
        if owners.setdefault(target, pair) != pair:
            # only the older form can do this (a downgrade): it would merge two pairs' conversations
            raise RuntimeError(f"the pairs {sorted(owners[target])} and {sorted(pair)} would share {target!r}")
    renames = {}
    for cid, pairs in found.items():
        if not pairs:
            # no row says whose it is: nothing refers to it but its seq counter
            conn.execute(conversations.delete().where(conversations.c.conversation_id == cid))
        elif len(pairs) == 1:
            target = pair_ids[next(iter(pairs))]
            if target != cid:
                renames[cid] = target
        else:
            _split(conn, cid, pairs, pair_ids.__getitem__)
    _rename(conn, renames)
    _fill_missing_states(conn, pair_ids)
    _rewrite_events(conn, renames)


def upgrade():
    _migrate(new_id)


def downgrade():
    # Back to the ambiguous form, refused where two pairs would share an id again.
    _migrate(old_id)
