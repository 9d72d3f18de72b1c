"""Conversation state without loading it all: the total unread as one aggregate, pushed to every
terminal after each change (not logged), max seqs and lists read as plain rows, and the list paged in
the order of the previews it shows."""

import pytest
from sqlalchemy import event, select

from im import create_app
from im.extensions import db
from im.models import Conversation, ConversationState
from im.operations import runner
from im.realtime import sweeper
from im.services import bounds, conversation_lists, conversations
from tests.support import services
from tests.support.recorder import wait_until
from tests.support.server import FAST_HASH


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path, migrated_sqlite):
    """The app of conftest, on each database: the aggregate and the list's order are SQL of their own."""
    import contextlib
    import shutil

    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            shutil.copyfile(migrated_sqlite, tmp_path / "test.sqlite3")
            url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
        else:
            services.require(services.postgres_problem(), "PostgreSQL")
            url = stack.enter_context(services.fresh_postgres_database())
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "IM_SOCKETIO_ASYNC_MODE": "threading",
                "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
                "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
                "TESTING": True,
                "IM_UNREAD_PUSH_DELAY": 0.05,
            }
        )
        yield app
        sweeper.stop(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def send(api, token, recv_id=None, text="hi", group_id=None):
    target = {"group_id": group_id} if group_id else {"recv_id": recv_id}
    return api.ok("send_message", {**target, "content_type": 101, "content": {"text": text}}, token)


def per_conversation_sum(app, user_id):
    """The total as the rule says, one state row at a time (invariant 4): max seq - has-read seq over
    the conversations with recv_msg_opt 0 that are not deleted, never below 0."""
    with app.app_context():
        rows = db.session.execute(
            select(ConversationState, Conversation.max_seq)
            .join(Conversation, Conversation.conversation_id == ConversationState.conversation_id)
            .where(ConversationState.user_id == user_id)
        ).all()
        total = sum(conversations.unread_count(s, m) for s, m in rows if s.recv_msg_opt == 0 and not s.hidden)
        db.session.remove()
        return total


def check_totals(api, app, tokens):
    for user_id, token in tokens.items():
        total = api.ok("get_total_unread_msg_count", {}, token)
        listed = sum(
            c["unread_count"] for c in api.ok("get_all_conversation_list", {}, token) if c["recv_msg_opt"] == 0
        )
        assert total == per_conversation_sum(app, user_id) == listed, user_id


def test_total_is_the_per_conversation_sum_through_own_messages_reads_deletes_and_group_ranges(api, app):
    (a, ta), (b, tb), (c, tc) = api.user(), api.user(), api.user()
    tokens = {a: ta, b: tb, c: tc}
    for i in range(3):
        send(api, ta, b, f"a{i}")
    send(api, tc, b, "from c")
    check_totals(api, app, tokens)
    send(api, tb, a, "reply")  # own messages are never unread, and replying reads what came before
    check_totals(api, app, tokens)
    assert api.ok("get_total_unread_msg_count", {}, tb) == 1
    send(api, ta, c, "to c")
    api.ok(
        "set_conversation_recv_message_opt",
        {"conversation_id": conversations.single_conversation_id(a, c), "opt": 2},
        tc,
    )
    check_totals(api, app, tokens)
    api.ok("delete_conversation", {"conversation_id": conversations.single_conversation_id(b, c)}, tb)
    check_totals(api, app, tokens)

    group = api.ok("create_group", {"group_name": "g", "member_user_ids": [b]}, ta)
    gid = group["group_id"]
    for i in range(2):
        send(api, ta, group_id=gid, text=f"g{i}")
    check_totals(api, app, tokens)
    api.ok("quit_group", {"group_id": gid}, tb)  # b keeps what came before leaving, nothing after
    send(api, ta, group_id=gid, text="after b left")
    check_totals(api, app, tokens)
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": [b, c]}, ta)  # rejoining reads from now
    send(api, ta, group_id=gid, text="back")
    check_totals(api, app, tokens)
    api.ok("mark_conversation_message_as_read", {"conversation_id": f"sg_{gid}"}, tc)
    api.ok(
        "delete_message",
        {
            "conversation_id": f"sg_{gid}",
            "seq": api.ok("get_one_conversation", {"conversation_id": f"sg_{gid}"}, tb)["max_seq"],
        },
        tb,
    )
    check_totals(api, app, tokens)
    # Never negative, whatever the read position says.
    with app.app_context():
        db.session.execute(
            ConversationState.__table__.update().values(has_read_seq=10_000).where(ConversationState.user_id == b)
        )
        db.session.commit()
    assert api.ok("get_total_unread_msg_count", {}, tb) == 0 == per_conversation_sum(app, b)


@pytest.mark.parametrize(
    "read",
    [
        lambda user_id: conversation_lists.total_unread(runner.context(), user_id),
        lambda user_id: conversations.max_seqs(runner.context(), user_id),
        lambda user_id: conversation_lists.get_conversation_list_split(runner.context(), user_id, 0, 100),
        lambda user_id: conversation_lists.get_all_conversation_list(runner.context(), user_id),
    ],
    ids=["total", "max_seqs", "split", "all"],
)
def test_state_reads_build_no_orm_objects(api, app, read):
    (a, ta), (b, tb) = api.user(), api.user()
    for i in range(3):
        send(api, ta, b, f"m{i}")
    gid = api.ok("create_group", {"group_name": "g", "member_user_ids": [b]}, ta)["group_id"]
    send(api, ta, group_id=gid)
    loaded = []

    def on_load(target, _context):
        loaded.append(type(target).__name__)

    event.listen(db.Model, "load", on_load, propagate=True)
    try:
        with app.app_context():
            assert read(b)
            db.session.remove()
    finally:
        event.remove(db.Model, "load", on_load)
    assert loaded == []


def pushes(sock, got):
    got.extend(sock.get_received())
    return [e["args"][0]["total"] for e in got if e["name"] == "total_unread_message_count_changed"]


def wait_total(sock, got, total):
    """Wait for a push of `total` received since the last wait on this socket (got: what it received)."""
    wait_until(lambda: pushes(sock, got)[-1:] == [total], message=f"a push of total {total}")
    got.clear()


def test_the_total_is_pushed_to_every_terminal_after_each_change_and_not_logged(api, app):
    (a, ta), (b, _) = api.user(), api.user()
    phone, desk = api.login(b, platform_id=1), api.login(b, platform_id=3)
    terminals = [api.socket(phone), api.socket(desk)]
    got = [[] for _ in terminals]
    for i in range(3):
        send(api, ta, b, f"a{i}")
    for sock, seen in zip(terminals, got):
        wait_total(sock, seen, 3)
    cid = conversations.single_conversation_id(a, b)
    api.ok("set_conversation_recv_message_opt", {"conversation_id": cid, "opt": 2}, desk)
    for sock, seen in zip(terminals, got):
        wait_total(sock, seen, 0)
    api.ok("set_conversation_recv_message_opt", {"conversation_id": cid, "opt": 0}, desk)
    for sock, seen in zip(terminals, got):
        wait_total(sock, seen, 3)
    api.ok("mark_conversation_message_as_read", {"conversation_id": cid}, phone)
    for sock, seen in zip(terminals, got):
        wait_total(sock, seen, 0)
    gid = api.ok("create_group", {"group_name": "g", "member_user_ids": [b]}, ta)["group_id"]
    send(api, ta, group_id=gid)
    for sock, seen in zip(terminals, got):
        wait_total(sock, seen, 2)  # the notice of the group's creation and the message
    send(api, ta, b, "again")
    api.ok("delete_conversation", {"conversation_id": cid}, desk)
    for sock, seen in zip(terminals, got):
        wait_total(sock, seen, 2)
    # The sender hears it too: their own message read the conversation up to it.
    sender = api.socket(ta)
    mine = []
    send(api, tb := api.login(b), a, "to a")
    wait_total(sender, mine, 1)
    send(api, ta, b, "read by replying")
    wait_total(sender, mine, 0)
    # Derived state stays out of the event log: a terminal that was away asks once.
    logged = api.ok("sync_events", {"after_seq": 0}, tb)["events"]
    assert "total_unread_message_count_changed" not in {e["type"] for e in logged}
    for sock in (*terminals, sender):
        sock.disconnect()


def test_a_big_group_send_pushes_each_online_member_its_own_total(api, app):
    (owner, to), *members = [api.user() for _ in range(6)]
    gid = api.ok("create_group", {"group_name": "big", "member_user_ids": [u for u, _ in members]}, to)["group_id"]
    # One member had unread elsewhere, so the totals differ.
    send(api, members[1][1], members[0][0], "elsewhere")
    socks = {u: api.socket(t) for u, t in members}
    got = {u: [] for u, _ in members}
    for i in range(4):
        send(api, to, group_id=gid, text=f"m{i}")
    for u, _ in members:
        expected = api.ok("get_total_unread_msg_count", {}, dict(members)[u])
        wait_total(socks[u], got[u], expected)
    assert api.ok("get_total_unread_msg_count", {}, members[0][1]) == 6  # notice + 4 + the one elsewhere
    for sock in socks.values():
        sock.disconnect()


def order_key(conv):
    """The order the list documents, from what each conversation object shows."""
    return (not conv["is_pinned"], -conv["latest_msg_send_time"], conv["conversation_id"])


def test_split_pages_neither_skip_nor_repeat_in_the_order_of_the_previews(api, app):
    me, tm = api.user()
    peers = [api.user() for _ in range(13)]
    for i, (peer, tp) in enumerate(peers):
        send(api, tp, me, f"from {peer}")
    # Pinned ones come first.
    api.ok(
        "pin_conversation",
        {"conversation_id": conversations.single_conversation_id(me, peers[3][0]), "is_pinned": True},
        tm,
    )
    # A deleted preview moves the conversation back to the time of the message before it.
    deleted = conversations.single_conversation_id(me, peers[0][0])
    send(api, peers[0][1], me, "newest, deleted for me")
    api.ok("delete_message", {"conversation_id": deleted, "seq": 2}, tm)
    # A group left: its later messages do not move it up, its preview stays the last one seen.
    gid = api.ok("create_group", {"group_name": "left", "member_user_ids": [me]}, peers[5][1])["group_id"]
    send(api, peers[5][1], group_id=gid, text="before leaving")
    send(api, peers[7][1], me, "between")
    api.ok("quit_group", {"group_id": gid}, tm)
    send(api, peers[6][1], me, "after leaving")
    send(api, peers[5][1], group_id=gid, text="after I left")
    # Somebody else deleting my preview for themselves changes nothing for me.
    api.ok("delete_message", {"conversation_id": f"sg_{gid}", "seq": 3}, peers[5][1])
    # An empty conversation (opened, no message) sorts by its creation.
    api.ok("get_one_conversation", {"user_id": api.user()[0]}, tm)

    full = api.ok("get_all_conversation_list", {}, tm)
    assert [c["conversation_id"] for c in full] == [c["conversation_id"] for c in sorted(full, key=order_key)]
    by_id = {c["conversation_id"]: c for c in full}
    assert by_id[deleted]["latest_msg"]["seq"] == 1
    assert by_id[f"sg_{gid}"]["latest_msg"]["seq"] == 3  # the notice of my leaving, not seq 4 after it
    pages, offset = [], 0
    while True:
        page = api.ok("get_conversation_list_split", {"offset": offset, "count": 4}, tm)
        pages += page
        offset += len(page)
        if len(page) < 4:
            break
    assert [c["conversation_id"] for c in pages] == [c["conversation_id"] for c in full]
    assert len({c["conversation_id"] for c in pages}) == len(full) == 15
    assert pages == full


def test_the_whole_list_is_read_a_page_at_a_time_with_a_pause_between_pages(api, app):
    me, tm = api.user()
    for peer, tp in [api.user() for _ in range(5)]:
        send(api, tp, me, f"from {peer}")
    split = api.ok("get_conversation_list_split", {"offset": 0, "count": 100}, tm)
    pauses = []
    with app.test_request_context():
        listed = conversation_lists.get_all_conversation_list(
            runner.context(), me, pause=lambda: pauses.append(1), chunk=2
        )
        db.session.remove()
    assert len(pauses) == 2  # pages of 2, 2 and 1
    assert listed == split == api.ok("get_all_conversation_list", {}, tm)


def test_the_whole_list_stops_before_the_conversation_past_the_answer_bound(api, app):
    me, tm = api.user()
    for peer, tp in [api.user() for _ in range(6)]:
        send(api, tp, me, "x" * 3000)
    full = api.ok("get_conversation_list_split", {"offset": 0, "count": 100}, tm)
    sizes = [bounds.encoded_size(c) for c in full]
    # The whole list holds ALL_LIST_ANSWERS answers' worth of bytes.
    app.config["IM_MAX_ANSWER_BYTES"] = (sum(sizes[:3]) + sizes[3] - 1) // conversation_lists.ALL_LIST_ANSWERS
    assert api.ok("get_all_conversation_list", {}, tm) == full[:3]
    app.config["IM_MAX_ANSWER_BYTES"] = 0  # one conversation at least, so a client sees its newest
    assert api.ok("get_all_conversation_list", {}, tm) == full[:1]


def test_the_pause_between_pages_lets_other_sockets_and_timers_run_under_gevent():
    """What the whole list and the push of totals pause with: under gevent, sleep(0) ran neither."""
    gevent = pytest.importorskip("gevent")
    import gevent.socket

    from im import yielding

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "IM_SOCKETIO_ASYNC_MODE": "gevent", "TESTING": True})
    ours, theirs = gevent.socket.socketpair()
    heard, fired = [], []
    reader = gevent.spawn(lambda: heard.append(theirs.recv(10)))
    timer = gevent.spawn_later(0.0005, fired.append, True)
    try:
        gevent.sleep(0)  # the reader now waits on its socket
        ours.send(b"x")
        with app.app_context():
            for _ in range(50):  # what 5,000 conversations take in pages of 100
                if heard and fired:
                    break
                yielding.pause()
        assert heard == [b"x"] and fired == [True]
    finally:
        gevent.killall([reader, timer])
        ours.close()
        theirs.close()
        sweeper.stop(app)
        with app.app_context():
            db.engine.dispose()
