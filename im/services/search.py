"""Message search over a trigram index of case-folded text, newest first, paged by a keyset cursor.

Messages store their searchable text folded here in Python (`fold`), so SQLite and PostgreSQL match
alike. The index is SQLite's FTS5 `messages_fts` (trigram tokenizer, kept in step with `messages` by
triggers) or PostgreSQL's pg_trgm GIN index on `messages.search_text` (migration 0005). A keyword of
fewer than MIN_INDEXED characters has no trigram: it is matched with LIKE over a bounded span of the
newest rows before the cursor instead. Every call looks at a bounded number of index matches, so a
common word that the caller can see little of costs the same as any other: the page may then hold
fewer than `count` messages while `has_more` is true, and the cursor goes on from where it stopped.
On PostgreSQL the search, not the planner, picks between walking the key and GIN's bitmap (see
_TRGM_WALK), and a walk is bounded in rows too (MAX_WALK). A caller who can see few messages is
answered from their own conversations instead (see DIRECT_ROWS).
"""

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Row,
    Select,
    any_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql

from .. import errors, yielding
from ..models import Conversation, ConversationState, Message, MessageDeletion
from ..models.enums import MessageStatus
from ..models.message import PUBLIC_COLUMNS, message_public
from . import bounds, conversations
from .context import Context

# A statement of messages' ids and PUBLIC_COLUMNS, and a row of it.
_MessageSelect = Select[*tuple[Any, ...]]
_MessageRow = Row[*tuple[Any, ...]]

MAX_SEARCH_COUNT = 100
MIN_INDEXED = 3  # the trigram tokenizer (and pg_trgm) index no substring shorter than this
FIRST_WINDOW = 200  # index matches read in the first round; each next round reads twice as many
MAX_WINDOW = 1000
MAX_SCANNED = 2000  # index matches one call may look at in all
SHORT_SPAN = 5000  # rows (by id) a keyword too short for the index looks at per call
PROBE_SPAN = 5_000  # PostgreSQL: rows (by id) the first round walks; each next walk spans twice as many
# ... and the bitmap is taken when the probe foresees at most this many matches below it: the bitmap costs
# what all of them cost, and more when the keyword's trigrams are common ones ("ready happy": 230 ms)
BITMAP_MATCHES = 1_000
MAX_WALK = 50_000  # rows (by id) one call may walk on PostgreSQL
MAX_CURSOR = 2**62
MAX_TIME = 253_402_300_799_999  # ms: the last of year 9999, the largest a datetime holds
# A caller who can see at most this many messages, in at most DIRECT_CONVERSATIONS conversations, is
# answered from their own conversations instead (a bounded scan that the index would only slow down
# when most matches are others'); any keyword length works there.
DIRECT_ROWS = 10_000
DIRECT_CONVERSATIONS = 200

_FTS_CANDIDATES = text(
    "SELECT rowid FROM messages_fts WHERE messages_fts MATCH :q AND rowid < :before ORDER BY rowid DESC LIMIT :n"
)
# PostgreSQL: GIN gives a word's matches in no order, all at once, and the planner's guess of how many
# there are is often far off (a 2% word guessed at 0.01%: every match read from the heap, then sorted,
# 300 ms at 2.5M rows). So the search picks the way itself: it walks the key backwards over a bounded
# span (`strpos`, which no index serves), and takes the bitmap only when that walk shows the word rare.
_TRGM_WALK = text(
    "SELECT id FROM messages WHERE id < :before AND id >= :floor AND strpos(search_text, :keyword) > 0 "
    "ORDER BY id DESC LIMIT :n"
)
# `id + 0`: ordered by id, but never by walking the key (the planner would, when it guesses the word common).
_TRGM_BITMAP = text(
    "SELECT id FROM messages WHERE search_text LIKE :pattern ESCAPE '\\' AND id < :before ORDER BY id + 0 DESC LIMIT :n"
)
_SHORT_CANDIDATES = text(
    "SELECT id FROM messages WHERE id < :before AND id >= :floor "
    "AND search_text LIKE :pattern ESCAPE '\\' ORDER BY id DESC LIMIT :n"
)


def fold(value: str) -> str:
    """The form search compares: Unicode case folding between NFKC normalisations (`École` -> `école`,
    full-width letters to ASCII), the same whichever database stores it."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def _like_pattern(keyword: str) -> str:
    return "%" + keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts_phrase(keyword: str) -> str:
    """An FTS5 string (a phrase): the trigram tokenizer then matches it as a substring."""
    return '"' + keyword.replace('"', '""') + '"'


def encode_cursor(message_id: int) -> str:
    return str(message_id)


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return MAX_CURSOR
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18 or not 0 < int(cursor) <= MAX_CURSOR:
        raise errors.InvalidParams("cursor is not one a search answered")
    return int(cursor)


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


class _Candidates:
    """Ids of messages whose folded text holds the keyword, newest first, a round at a time."""

    def __init__(self, ctx: Context, keyword: str, before: int) -> None:
        self.session = ctx.session
        self.before, self.done, self.scanned = before, False, 0
        self.short = len(keyword) < MIN_INDEXED
        self.dialect = ctx.session.get_bind().dialect.name
        self.keyword = keyword
        self.params = (
            {"pattern": _like_pattern(keyword)}
            if self.short or self.dialect != "sqlite"
            else {"q": _fts_phrase(keyword)}
        )
        self.window, self.span, self.walked, self.bitmap = FIRST_WINDOW, PROBE_SPAN, 0, False
        self.lowest = 0
        if self.dialect == "postgresql":
            # A prepared statement's generic plan takes one way for every keyword: walking the key
            # backwards (right for a common word, a full scan for a rare one) or the trigram bitmap (the
            # reverse); planned per keyword, it takes the one that fits (10-40x apart, bench/search_index).
            ctx.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        if self.short:
            # The span starts at the newest row, not at the open-ended first cursor.
            # Two statements: SQLite reads min() or max() alone from the key, both together by a full scan.
            low = ctx.session.execute(select(func.min(Message.id))).scalar()
            high = ctx.session.execute(select(func.max(Message.id))).scalar()
            self.lowest, self.before = low or 0, min(before, (high or 0) + 1)
            self.done = high is None
        elif self.dialect == "postgresql":
            # The probe starts at the newest row (one step down the key), not at an open (or made up)
            # cursor above it, whose empty probe would send the call to the bitmap of a common word.
            high = ctx.session.execute(select(func.max(Message.id))).scalar()
            self.before, self.done = min(before, (high or 0) + 1), high is None

    def next_round(self) -> list[int]:
        n = self.window
        self.window = min(MAX_WINDOW, self.window * 2)
        conn = self.session.connection()
        if self.short:
            floor = self.before - (SHORT_SPAN - self.scanned)
            ids = list(
                conn.execute(
                    _SHORT_CANDIDATES, {**self.params, "before": self.before, "floor": floor, "n": n}
                ).scalars()
            )
            start, self.before = self.before, ids[-1] if len(ids) == n else floor
            self.scanned += start - self.before  # rows of the span covered, matching or not
            self.done = self.before <= self.lowest
            return ids
        if self.dialect == "postgresql":
            return self._window_round(conn, n)
        ids = list(conn.execute(_FTS_CANDIDATES, {**self.params, "before": self.before, "n": n}).scalars())
        self.scanned += n
        self.done = len(ids) < n
        if ids:
            self.before = ids[-1]
        return ids

    def _window_round(self, conn: Connection, n: int) -> list[int]:
        """Up to n matches below `before`: by the bitmap once the word is known rare, else by walking the
        key over [before - span, before) (all of it looked at when it holds fewer than n)."""
        if self.bitmap:
            n = MAX_WINDOW  # one read of the bitmap for all the call may look at, not one per round
            ids = list(conn.execute(_TRGM_BITMAP, {**self.params, "before": self.before, "n": n}).scalars())
            self.scanned += n
            self.done = len(ids) < n
            if ids:
                self.before = ids[-1]
            return ids
        floor = max(0, self.before - min(self.span, MAX_WALK - self.walked))
        ids = list(
            conn.execute(_TRGM_WALK, {"keyword": self.keyword, "before": self.before, "floor": floor, "n": n}).scalars()
        )
        probe = self.walked == 0
        start, self.before = self.before, ids[-1] if len(ids) == n else floor
        self.walked += start - self.before
        self.scanned += len(ids)
        self.span *= 2
        self.done = self.before <= 0
        # matches below foreseen from the rate in the probe (ids are dense: a span of ids is as many rows)
        if probe and len(ids) < n and len(ids) * self.before <= BITMAP_MATCHES * (start - self.before):
            self.bitmap = True
        return ids

    def spent(self) -> bool:
        if self.short:
            return self.scanned >= SHORT_SPAN
        return self.scanned >= MAX_SCANNED or (
            self.dialect == "postgresql" and not self.bitmap and self.walked >= MAX_WALK
        )


def _filtered(
    user_id: str,
    conversation_id: str | None,
    send_id: str | None,
    content_types: list[int] | None,
    start_time: int | None,
    end_time: int | None,
    from_states: bool,
) -> _MessageSelect:
    """The messages the user may see and the filters keep (the membership rules of history).

    `from_states` reads the user's conversations first, then their messages; otherwise the membership
    is a per-message check, so that a statement over a list of ids starts from the ids (SQLite would
    otherwise read every message of the user's conversations to find the few listed).
    """
    member = (
        (ConversationState.conversation_id == Message.conversation_id)
        & (ConversationState.user_id == user_id)
        & (Message.seq >= ConversationState.min_seq)
        & or_(ConversationState.max_readable_seq.is_(None), Message.seq <= ConversationState.max_readable_seq)
    )
    stmt = select(Message.id, *(getattr(Message, c) for c in PUBLIC_COLUMNS))
    stmt = stmt.join(ConversationState, member) if from_states else stmt.where(exists().where(member))
    stmt = stmt.where(
        Message.status == MessageStatus.OK,
        ~exists().where(
            MessageDeletion.user_id == user_id,
            MessageDeletion.conversation_id == Message.conversation_id,
            MessageDeletion.seq == Message.seq,
        ),
    )
    if conversation_id is not None:
        stmt = stmt.where(Message.conversation_id == conversation_id)
    if send_id is not None:
        stmt = stmt.where(Message.send_id == send_id)
    if content_types:
        stmt = stmt.where(Message.content_type.in_(content_types))
    if start_time is not None:
        stmt = stmt.where(Message.send_time >= _ms(start_time))
    if end_time is not None and end_time < MAX_TIME:  # (at MAX_TIME every stored time is before it)
        # Inclusive of the whole millisecond: stored times are finer than the ms that payloads show.
        stmt = stmt.where(Message.send_time < _ms(end_time + 1))
    return stmt


def _few_visible(ctx: Context, user_id: str, conversation_id: str | None) -> bool:
    """Whether the user can see few enough messages to scan them all (at most DIRECT_ROWS)."""
    top = func.coalesce(ConversationState.max_readable_seq, Conversation.max_seq)
    stmt = (
        select(top - ConversationState.min_seq + 1)
        .join(Conversation, Conversation.conversation_id == ConversationState.conversation_id)
        .where(ConversationState.user_id == user_id)
        .limit(DIRECT_CONVERSATIONS + 1)
    )
    if conversation_id is not None:
        stmt = stmt.where(ConversationState.conversation_id == conversation_id)
    sizes = ctx.session.execute(stmt).scalars().all()
    return len(sizes) <= DIRECT_CONVERSATIONS and sum(max(0, n) for n in sizes) <= DIRECT_ROWS


def _direct(ctx: Context, base: _MessageSelect, keyword: str, before: int, count: int) -> Sequence[_MessageRow]:
    # `id + 0`: ordered by id, but never by walking the primary key backwards through everyone's rows.
    return ctx.session.execute(
        base.where(
            Message.search_text.like(_like_pattern(keyword), escape="\\"), Message.id < literal(before, BigInteger)
        )
        .order_by((Message.id + 0).desc())
        .limit(count + 1)
    ).all()


def _listed(ctx: Context) -> ColumnElement[bool]:
    """`messages.id` is one of the bound list `ids`: one array parameter on PostgreSQL (rendering a
    placeholder per id costs more than the query there), one placeholder per id on SQLite."""
    if ctx.session.get_bind().dialect.name == "postgresql":
        return Message.id == any_(bindparam("ids", type_=postgresql.ARRAY(Integer)))
    return Message.id.in_(bindparam("ids", expanding=True))


def search_messages(
    ctx: Context,
    user_id: str,
    keyword: str,
    conversation_id: str | None = None,
    cursor: str | None = None,
    count: int = MAX_SEARCH_COUNT,
    send_id: str | None = None,
    content_types: list[int] | None = None,
    start_time: int | None = None,
    end_time: int | None = None,
) -> dict[str, Any]:
    """A page of the messages the user may see whose text (or file name) contains keyword, newest first.

    `cursor` (from the previous page) goes on after its last message, so pages neither skip nor
    repeat however many messages arrive in between; it is set whenever `has_more` is.
    """
    folded = fold(keyword)
    if conversation_id is not None:
        conversations.readable(ctx, user_id, conversation_id)
    if not folded or (start_time is not None and end_time is not None and start_time > end_time):
        return {"messages": [], "has_more": False, "cursor": None}  # nothing can match
    before = decode_cursor(cursor)
    filters = (user_id, conversation_id, send_id, content_types, start_time, end_time)
    found: list[_MessageRow]
    if _few_visible(ctx, user_id, conversation_id):
        found = list(_direct(ctx, _filtered(*filters, from_states=True), folded, before, count))
        done, resume = True, before  # the scan looked at all the user may see
    else:
        candidates = _Candidates(ctx, folded, before)
        found, rounds = [], 0
        visible = _filtered(*filters, from_states=False).where(_listed(ctx)).order_by(Message.id.desc())
        while len(found) <= count and not candidates.done and not candidates.spent():
            rounds += 1
            if rounds > 1:
                # Between rounds, the other requests of the process run: on SQLite each statement
                # holds the hub, and a whole call (up to 8 rounds) held it for 25-45 ms at 2.5M rows.
                yielding.pause()
            ids = candidates.next_round()
            if ids:
                found += ctx.session.execute(visible, {"ids": ids}).all()
        done, resume = candidates.done, candidates.before
    rows = found[:count]
    page, cut = bounds.take(ctx, (message_public(r) for r in rows))
    if cut or len(found) > count:
        return {"messages": page, "has_more": True, "cursor": encode_cursor(rows[len(page) - 1].id)}
    if done:
        return {"messages": page, "has_more": False, "cursor": None}
    # The call's share of the index is spent: the next one goes on below everything looked at here.
    return {"messages": page, "has_more": True, "cursor": encode_cursor(resume)}
