"""Every event a representative flow publishes fits its declaration in im.event_types.

The publishers (events.publish, publish_each, every way into an action's outbox) and the one place
everything leaves by (socketio.emit: also the sweeper's and the unread total's emits)
are wrapped, and each payload is validated against the registry. The flow reaches every declared
event, so a declaration no publisher matches, or a publisher no declaration covers, fails here.
"""

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from im import event_types, unread_push
from im.extensions import db, socketio
from im.models import LoginSession, utcnow
from im.services import events
from im.services.context import Outbox


class Seen:
    """The events published and emitted, and those that did not fit their declaration."""

    def __init__(self):
        self.types: set[str] = set()
        self.misfits: list[tuple[str, str, str]] = []

    def check(self, where: str, type_: str, data) -> None:
        self.types.add(type_)
        if type_ == event_types.ENVELOPE and isinstance(data, dict):
            self.types.add(data.get("type"))
        try:
            event_types.check(type_, data)
        except ValueError as exc:  # pydantic's ValidationError is one too
            self.misfits.append((where, type_, str(exc)))


@pytest.fixture
def seen(monkeypatch):
    seen = Seen()
    publish, publish_each = events.publish, events.publish_each

    def publish_checked(ctx, user_ids, type_, data):
        seen.check("publish", type_, data)
        return publish(ctx, user_ids, type_, data)

    def publish_each_checked(ctx, items):
        items = list(items)
        for _user_id, type_, data in items:
            seen.check("publish_each", type_, data)
        return publish_each(ctx, items)

    monkeypatch.setattr(events, "publish", publish_checked)
    monkeypatch.setattr(events, "publish_each", publish_each_checked)
    # Everything an action tells goes through its outbox.
    for method in ("to_user", "to_session", "to_socket"):
        original = getattr(Outbox, method)

        def told(self, target, name, payload, original=original, method=method):
            seen.check(f"outbox.{method}", name, payload)
            return original(self, target, name, payload)

        monkeypatch.setattr(Outbox, method, told)
    to_users = Outbox.to_users

    def told_users(self, user_ids, name, payload):
        seen.check("outbox.to_users", name, payload)
        return to_users(self, user_ids, name, payload)

    monkeypatch.setattr(Outbox, "to_users", told_users)
    emit = socketio.emit

    def emitted(name, *args, **kwargs):
        seen.check("socketio.emit", name, args[0] if args else kwargs.get("data"))
        return emit(name, *args, **kwargs)

    monkeypatch.setattr(socketio, "emit", emitted)
    return seen


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def test_every_event_of_a_representative_flow_fits_its_declaration(api, app, seen):
    a, ta = api.user()
    b, tb = api.user()
    c, tc = api.user()
    d, td = api.user()
    sockets = [api.socket(t) for t in (ta, tb, tc, td)]

    # accounts and friends
    api.ok("set_self_info", {"nickname": "Ann"}, ta)
    api.ok("add_friend", {"to_user_id": b}, ta)
    api.ok("refuse_friend_application", {"from_user_id": a}, tb)
    api.ok("add_friend", {"to_user_id": b, "req_msg": "hi"}, ta)
    api.ok("delete_friend_application", {"to_user_id": b}, ta)
    api.ok("add_friend", {"to_user_id": b}, ta)
    api.ok("accept_friend_application", {"from_user_id": a}, tb)
    api.ok("set_friend_remark", {"user_id": b, "remark": "Bee"}, ta)
    api.ok("set_self_info", {"face_url": "https://example.com/a.png"}, ta)  # b hears friend_info_changed
    api.ok("add_black", {"user_id": c}, ta)
    api.ok("remove_black", {"user_id": c}, ta)
    api.ok("delete_friend", {"user_id": b}, ta)

    # one-to-one messages and conversations
    sent = api.ok("send_message", {"recv_id": b, "content_type": 101, "content": {"text": "hello"}}, ta)
    api.ok("send_message", {"recv_id": b, "content_type": 101, "content": {"text": "again"}}, ta)
    cid = sent["conversation_id"]
    api.ok("mark_conversation_message_as_read", {"conversation_id": cid}, tb)
    api.ok("pin_conversation", {"conversation_id": cid, "is_pinned": True}, tb)
    api.ok("set_conversation_draft", {"conversation_id": cid, "text": "draft"}, tb)
    api.ok("revoke_message", {"conversation_id": cid, "seq": sent["seq"]}, ta)
    api.ok("delete_message", {"conversation_id": cid, "seq": sent["seq"] + 1}, tb)
    api.ok("typing_status_update", {"recv_id": b, "msg_tip": "typing"}, ta)

    # groups: verification, applications one by one and in batches, kick, quit, dismiss
    group = api.ok("create_group", {"group_name": "G", "member_user_ids": [b], "need_verification": 1}, ta)
    gid = group["group_id"]
    api.ok("send_message", {"group_id": gid, "content_type": 101, "content": {"text": "all"}}, tb)
    api.ok("set_group_info", {"group_id": gid, "introduction": "about"}, ta)
    api.ok("join_group", {"group_id": gid}, tc)
    api.ok("refuse_group_application", {"group_id": gid, "from_user_id": c}, ta)
    api.ok("join_group", {"group_id": gid, "req_msg": "please"}, tc)
    api.ok("accept_group_application", {"group_id": gid, "from_user_id": c}, ta)
    api.ok("kick_group_member", {"group_id": gid, "user_ids": [c]}, ta)
    api.ok("quit_group", {"group_id": gid}, tb)
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": [b]}, ta)
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": [c, d]}, tb)  # a member: applications
    api.ok("dismiss_group", {"group_id": gid}, ta)  # the pending applications are dropped

    # the total unread count (its own task, after IM_UNREAD_PUSH_DELAY), a kick and an expiry
    assert _wait(lambda: "total_unread_message_count_changed" in seen.types)
    api.login(d)  # the same platform: d's first session is kicked
    assert _wait(lambda: not sockets[3].is_connected())
    with app.app_context():
        db.session.execute(
            update(LoginSession).where(LoginSession.user_id == c).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert _wait(lambda: not sockets[2].is_connected())  # the app's sweeper tells it token_expired
    with app.app_context():
        unread_push.push_now([a, b])

    assert not seen.misfits, seen.misfits
    assert seen.types - set(event_types.EVENTS) == {event_types.ENVELOPE}
    assert set(event_types.EVENTS) - seen.types == set()


def test_check_refuses_what_its_declaration_does_not_say():
    event_types.check("total_unread_message_count_changed", {"total": 3})
    for type_, data in [
        ("total_unread_message_count_changed", {"total": "3"}),  # no coercion
        ("total_unread_message_count_changed", {"total": 3, "extra": 1}),  # no undeclared field
        ("kicked_offline", {"reason": "bored", "platform_id": 5}),
        ("no_such_event", {}),
        (event_types.ENVELOPE, {"seq": 1, "type": "new_message", "data": {}}),  # live only, never logged
        (event_types.ENVELOPE, {"seq": 1, "type": "group_info_changed", "data": {"group_id": "g"}}),
        ("new_conversation", {"conversation_id": "si_a~b"}),  # a list of conversations
    ]:
        with pytest.raises(ValueError):
            event_types.check(type_, data)
