"""Messages stored once, each with the next seq of its conversation: what sends and group notices share.

The statements are Core and built once: SQLAlchemy then finds each compiled form in its cache by
identity instead of rebuilding and hashing an expression per send (make bench, throughput profile).
"""

import functools
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Table, TextClause, bindparam, insert, select, text, update

from ..models import Black, Conversation, Friend, Message, utcnow
from ..models.message import PUBLIC_COLUMNS, STATUS_OK, message_public
from . import conversations, search
from .context import Context

NEW_MESSAGE_EVENT = "new_message"
Rows = CursorResult[*tuple[Any, ...]]

# Tables, as Core sees them (a declarative class's __table__ is typed as any FROM clause).
_MESSAGES = cast(Table, Message.__table__)
_CONVS = cast(Table, Conversation.__table__)
INSERT_MESSAGES = insert(_MESSAGES)
# n new seqs of one conversation, and the newest of them; the UPDATE row-locks the conversation until commit.
_ADD_SEQ = (
    update(_CONVS)
    .where(_CONVS.c.conversation_id == bindparam("cid"))
    .values(max_seq=_CONVS.c.max_seq + bindparam("n"), latest_msg_time=bindparam("now"))
)
_ADD_SEQ_RETURNING = _ADD_SEQ.returning(_CONVS.c.max_seq)
_MAX_SEQS = select(_CONVS.c.conversation_id, _CONVS.c.max_seq).where(
    _CONVS.c.conversation_id.in_(bindparam("cids", expanding=True))
)


def core(ctx: Context, stmt: Executable, params: Mapping[str, Any] | list[dict[str, Any]]) -> Rows:
    """Run a Core statement on the session's connection (same transaction), without the ORM's
    per-statement machinery, which none of the send path's statements need."""
    return ctx.session.connection().execute(stmt, params)


def send_time() -> datetime:
    """Now, to the millisecond: the unit payloads carry, so that what is stored (and ordered by, as
    the conversation list is) sorts as clients see it."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def allocate_seqs(
    ctx: Context, counts: Mapping[str, int], kinds: Mapping[str, tuple[int, str | None]], now: datetime
) -> dict[str, int]:
    """The first of `counts[cid]` new seqs of each conversation, which is made if it does not exist yet
    (`kinds[cid]`: its type and group id). The UPDATEs row-lock the conversations until commit.

    `now` is the new messages' send time: a conversation's latest_msg_time is then exactly the send
    time of its newest message, which the conversation list is ordered by."""
    if len(counts) == 1:
        ((cid, n),) = counts.items()
        top = core(ctx, _ADD_SEQ_RETURNING, {"cid": cid, "n": n, "now": now}).scalar_one_or_none()
        if top is None:
            conversations.ensure_conversation(ctx, cid, *kinds[cid])
            top = core(ctx, _ADD_SEQ_RETURNING, {"cid": cid, "n": n, "now": now}).scalar_one()
        return {cid: top - n + 1}
    # In one order on every node, so that two nodes' batches never wait for each other's rows crosswise.
    core(ctx, _ADD_SEQ, [{"cid": cid, "n": counts[cid], "now": now} for cid in sorted(counts)])
    tops: dict[str, int] = {row[0]: row[1] for row in core(ctx, _MAX_SEQS, {"cids": list(counts)})}
    missing = sorted(cid for cid in counts if cid not in tops)
    if missing:
        for cid in missing:
            conversations.ensure_conversation(ctx, cid, *kinds[cid])
        core(ctx, _ADD_SEQ, [{"cid": cid, "n": counts[cid], "now": now} for cid in missing])
        tops.update((row[0], row[1]) for row in core(ctx, _MAX_SEQS, {"cids": missing}))
    return {cid: tops[cid] - n + 1 for cid, n in counts.items()}


def message_row(
    conversation_id: str,
    conversation_type: int,
    recv_id: str | None,
    group_id: str | None,
    seq: int,
    sender_id: str,
    client_msg_id: str | None,
    content_type: int,
    content: dict[str, Any],
    search_text: str,
    send_time: datetime,
) -> dict[str, Any]:
    """The messages row of a new message (also its public form, through message_public)."""
    return {
        "server_msg_id": secrets.token_hex(16),
        "conversation_id": conversation_id,
        "conversation_type": conversation_type,
        "seq": seq,
        "send_id": sender_id,
        "recv_id": recv_id,
        "group_id": group_id,
        "client_msg_id": client_msg_id or secrets.token_hex(16),
        "content_type": content_type,
        "content": content,
        "search_text": search.fold(search_text),
        "status": STATUS_OK,
        "send_time": send_time,
        "revoked_at": None,
    }


_blacks, _friends = cast(Table, Black.__table__), cast(Table, Friend.__table__)
_PAIR_TABLES = {
    "blocks": (_blacks.name, "owner_user_id", "block_user_id"),
    "friends": (_friends.name, "owner_user_id", "friend_user_id"),
}


@functools.lru_cache(maxsize=1024)
def _pair_lookup(kind: str, n: int) -> TextClause:
    """Rows matching any of n (a, b) pairs, by a join with a VALUES list.

    Not `(a, b) IN (...)`: SQLite answers that by scanning the whole index, so its cost would grow
    with the table; joined to a VALUES list it seeks the unique index once per pair, on PostgreSQL too.
    """
    pairs = ", ".join(f"(:a{i}, :b{i})" for i in range(n))
    if kind == "firsts":
        cols = [_MESSAGES.c[c] for c in PUBLIC_COLUMNS]
        return text(
            f"WITH k(a, b) AS (VALUES {pairs}) SELECT "
            + ", ".join(f"m.{c.name}" for c in cols)
            + f" FROM k JOIN {_MESSAGES.name} m ON m.send_id = k.a AND m.client_msg_id = k.b"
        ).columns(*cols)  # type: ignore[return-value]  # a TextualSelect, run like the clause
    table, first, second = _PAIR_TABLES[kind]
    return text(
        f"WITH k(a, b) AS (VALUES {pairs}) SELECT t.{first}, t.{second} FROM k JOIN {table} t "
        f"ON t.{first} = k.a AND t.{second} = k.b"
    )


def _pairs(ctx: Context, kind: str, pairs: list[tuple[str, str]]) -> Rows:
    params = {}
    for i, (a, b) in enumerate(pairs):
        params[f"a{i}"], params[f"b{i}"] = a, b
    return core(ctx, _pair_lookup(kind, len(pairs)), params)


def firsts(ctx: Context, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The public form of the message each (sender, client_msg_id) was already sent with, where one was."""
    keys = list(keys)
    if not keys:
        return {}
    return {(r.send_id, r.client_msg_id): message_public(r) for r in _pairs(ctx, "firsts", keys)}


def pairs_found(ctx: Context, kind: str, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (owner, other) pairs are rows of `kind`: "blocks" (owner blacklisted other) or "friends"."""
    if not pairs:
        return set()
    return {(row[0], row[1]) for row in _pairs(ctx, kind, pairs)}
