"""The life of a group end to end: a real server process driven by the Python SDK."""

import json
import threading
import time

import pytest

from im.sdk import AdvancedMsgListener, GroupListener, IMClient, IMError

CALLBACKS = [name for name in vars(GroupListener) if name.startswith("on_")]


class Recorder(GroupListener):
    """Keeps every group callback as (name, data), in arrival order."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def record(self, name, data):
        with self._lock:
            self.calls.append((name, data))

    def names(self) -> list[str]:
        with self._lock:
            return [n for n, _ in self.calls]

    def has(self, name, **match) -> bool:
        with self._lock:
            return any(n == name and all(d.get(k) == v for k, v in match.items()) for n, d in self.calls)


for _name in CALLBACKS:
    setattr(Recorder, _name, lambda self, data, _n=_name: self.record(_n, data))


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_remembered(term):
    """Wait until a program with a data_dir has written down the last event it delivered.

    The SDK hands an event to the listener a moment before it writes that down: a test that stops
    the program the instant the listener heard the event may stop it in between, and then the
    program hears that event again when it starts.
    """
    sdk = term.sdk
    path = sdk._seq_file(term.user_id)

    def written():
        try:
            return json.loads(path.read_text())["event_seq"] == sdk._event_seq
        except (OSError, ValueError, KeyError):
            return False

    wait_for(written, what=f"{term.user_id}: the last event seq written down")


class Inbox(AdvancedMsgListener):
    """Keeps every message handed to the listener."""

    def __init__(self):
        self.messages: list[dict] = []
        self._lock = threading.Lock()

    def on_recv_new_message(self, msg):
        with self._lock:
            self.messages.append(msg)

    def seqs(self, conversation_id) -> list[int]:
        with self._lock:
            return [m["seq"] for m in self.messages if m["conversation_id"] == conversation_id]

    def of(self, conversation_id) -> list[tuple[int, str | None]]:
        """(content_type, text) of each message of a conversation, in arrival order."""
        with self._lock:
            return [
                (m["content_type"], m["content"].get("text"))
                for m in self.messages
                if m["conversation_id"] == conversation_id
            ]


class Terminal:
    """One logged-in SDK client with a recording group listener and message listener."""

    def __init__(self, url, user_id, platform_id=5, register=True, data_dir=None):
        self.user_id = user_id
        self.sdk = IMClient(url, platform_id=platform_id, data_dir=data_dir)
        self.rec = Recorder()
        self.inbox = Inbox()
        self.sdk.set_group_listener(self.rec)
        self.sdk.set_advanced_msg_listener(self.inbox)
        if register:
            self.sdk.register(user_id, "password123", user_id.title())
        self.sdk.login(user_id, "password123")

    def expect(self, name, **match):
        wait_for(lambda: self.rec.has(name, **match), what=f"{self.user_id}: {name} {match}")

    def close(self):
        self.sdk.close()


@pytest.fixture
def terminals(live_server):
    server = live_server()
    made = []

    def make(user_id, **kwargs):
        term = Terminal(server.url, user_id, **kwargs)
        made.append(term)
        return term

    make.url = server.url
    yield make
    for term in made:
        term.close()


def test_group_life_with_every_listener_callback(terminals, tmp_path):
    owner_web = terminals("owner")
    owner_pc = terminals("owner", platform_id=3, register=False)
    admin, member = terminals("admin"), terminals("member")
    applicant, refused, invitee = terminals("applicant"), terminals("refused"), terminals("invitee")
    # The member's program keeps its place on disk, so it can stop and catch up later.
    member.close()
    member = terminals("member", register=False, data_dir=tmp_path / "member")

    group = owner_web.sdk.create_group("Crew", ["member"], admin_user_ids=["admin"])
    gid = group["group_id"]
    for term in (owner_web, owner_pc, admin, member):
        term.expect("on_joined_group_added", group_id=gid, group_name="Crew")
    assert not applicant.rec.names()

    # apply, approve
    assert applicant.sdk.join_group(gid, "hi")["joined"] is False
    for term in (applicant, owner_web, owner_pc, admin):
        term.expect("on_group_application_added", from_user_id="applicant", req_msg="hi")
    # the applicant's own application is the first thing it hears: nothing of the creation came before
    assert applicant.rec.names() == ["on_group_application_added"]
    assert [a["from_user_id"] for a in admin.sdk.get_recv_group_application_list()] == ["applicant"]
    admin.sdk.accept_group_application(gid, "applicant", "welcome")
    for term in (applicant, owner_pc, admin):
        term.expect("on_group_application_accepted", from_user_id="applicant", handle_result=1)
    applicant.expect("on_joined_group_added", group_id=gid)
    for term in (applicant, owner_web, owner_pc, admin, member):
        term.expect("on_group_member_added", user_id="applicant", role_level=20)

    # apply, refuse
    refused.sdk.join_group(gid)
    owner_web.sdk.refuse_group_application(gid, "refused", "no")
    for term in (refused, owner_pc, admin):
        term.expect("on_group_application_rejected", from_user_id="refused", handle_msg="no")
    assert not refused.rec.has("on_joined_group_added")

    # need_verification 1: a member's invitation waits for approval; an admin's invitation replaces it
    owner_web.sdk.set_group_info(gid, need_verification=1, notification="be nice")
    for term in (owner_pc, admin, member, applicant):
        term.expect("on_group_info_changed", need_verification=1, notification="be nice")
    assert member.sdk.invite_user_to_group(gid, ["invitee"])["applied_user_ids"] == ["invitee"]
    invitee.expect("on_group_application_added", inviter_user_id="member")
    admin.sdk.invite_user_to_group(gid, ["invitee"])
    for term in (invitee, owner_pc, admin):
        term.expect("on_group_application_deleted", from_user_id="invitee")
    invitee.expect("on_joined_group_added", group_id=gid)
    member.expect("on_group_member_added", user_id="invitee")

    # roles, nickname, member mute, group mute
    owner_pc.sdk.set_group_member_role_level(gid, "member", 60)
    for term in (owner_web, member, invitee):
        term.expect("on_group_member_info_changed", user_id="member", role_level=60)
    member.sdk.set_group_member_nickname(gid, "invitee", "newbie")
    invitee.expect("on_group_member_info_changed", user_id="invitee", nickname="newbie")
    member.sdk.change_group_member_mute(gid, "applicant", 300)
    wait_for(
        lambda: any(
            n == "on_group_member_info_changed" and d["user_id"] == "applicant" and d["mute_end_time"] > 0
            for n, d in applicant.rec.calls
        ),
        what="mute",
    )
    admin.sdk.change_group_mute(gid, True)
    owner_web.expect("on_group_info_changed", status=3)

    # transfer, kick, quit
    owner_web.sdk.transfer_group_owner(gid, "admin")
    for term in (owner_pc, admin, member, invitee):
        term.expect("on_group_info_changed", owner_user_id="admin")
        term.expect("on_group_member_info_changed", user_id="admin", role_level=100)
        term.expect("on_group_member_info_changed", user_id="owner", role_level=20)
    with pytest.raises(IMError) as refused_dismiss:
        owner_web.sdk.dismiss_group(gid)
    assert refused_dismiss.value.code == 1002
    admin.sdk.kick_group_member(gid, ["applicant"], "bye")
    applicant.expect("on_joined_group_deleted", group_id=gid)
    for term in (applicant, owner_web, member, invitee):
        term.expect("on_group_member_deleted", user_id="applicant", reason="bye")
    invitee.sdk.quit_group(gid)
    invitee.expect("on_joined_group_deleted", group_id=gid)
    for term in (invitee, owner_pc, admin):
        term.expect("on_group_member_deleted", user_id="invitee")

    # An application still pending when the group is dismissed is deleted, not left pending forever.
    refused.sdk.join_group(gid, "again")
    for term in (admin, member):
        term.expect("on_group_application_added", from_user_id="refused", req_msg="again")

    # The member goes offline; what happens meanwhile reaches them when they come back.
    wait_remembered(member)
    member.close()
    admin.sdk.set_group_info(gid, group_name="Crew 2")
    admin.sdk.set_group_member_nickname(gid, "owner", "old boss")
    admin.sdk.dismiss_group(gid)
    for term in (owner_web, owner_pc, admin):
        term.expect("on_group_dismissed", group_id=gid, status=2)
    for term in (refused, admin):
        term.expect("on_group_application_deleted", from_user_id="refused", group_id=gid, handle_result=0)
    assert refused.sdk.get_send_group_application_list() == []  # one row per (group, user): it was this one
    with pytest.raises(IMError) as too_late:
        admin.sdk.accept_group_application(gid, "refused")
    assert too_late.value.code == 1304
    assert not applicant.rec.has("on_group_dismissed") and not invitee.rec.has("on_group_dismissed")
    back = terminals("member", register=False, data_dir=tmp_path / "member")
    back.expect("on_group_dismissed", group_id=gid)
    # Member changes come from the group's notices, caught up by seq, the rest from the event log.
    back.expect("on_group_member_info_changed", user_id="owner", nickname="old boss")
    assert sorted(back.rec.names()) == [
        "on_group_application_deleted",
        "on_group_dismissed",
        "on_group_info_changed",
        "on_group_member_info_changed",
    ]
    assert admin.sdk.get_joined_group_list() == []

    heard = set()
    for term in (owner_web, owner_pc, admin, member, applicant, refused, invitee, back):
        heard.update(term.rec.names())
    assert heard == set(CALLBACKS)


def history(term, cid):
    return [
        (m["content_type"], m["content"].get("text"))
        for m in term.sdk.get_history_message_list(cid, count=100)["messages"]
    ]


def test_group_chat_late_joiner_kicked_member_unread(terminals):
    owner = terminals("owner")
    member_web = terminals("member")
    member_pc = terminals("member", platform_id=3, register=False)
    late = terminals("late")
    gid = owner.sdk.create_group("Chat", ["member"])["group_id"]
    cid = f"sg_{gid}"
    owner.sdk.send_message(group_id=gid, content_type=101, content={"text": "early"})
    for term in (member_web, member_pc):
        wait_for(lambda t=term: t.inbox.of(cid) == [(1501, None), (101, "early")], what="early on both terminals")

    owner.sdk.invite_user_to_group(gid, ["late"])
    late.sdk.send_message(group_id=gid, content_type=101, content={"text": "hi all"})
    wait_for(lambda: member_pc.inbox.of(cid)[-2:] == [(1509, None), (101, "hi all")], what="late's hello")
    wait_for(lambda: late.inbox.of(cid) == [(1509, None)], what="late's join notice")
    assert history(late, cid) == [(1509, None), (101, "hi all")]

    # Unread and read state per member.
    assert owner.sdk.get_one_conversation(cid)["unread_count"] == 1
    assert member_web.sdk.get_one_conversation(cid)["unread_count"] == 4
    member_pc.sdk.mark_conversation_message_as_read(cid)
    assert member_web.sdk.get_one_conversation(cid)["unread_count"] == 0
    assert owner.sdk.get_one_conversation(cid)["unread_count"] == 1

    # Kicked: hears of it, then neither sends nor reads what follows.
    owner.sdk.kick_group_member(gid, ["late"])
    wait_for(lambda: late.inbox.of(cid)[-1] == (1508, None), what="kick notice")
    member_web.sdk.send_message(group_id=gid, content_type=101, content={"text": "after kick"})
    wait_for(lambda: owner.inbox.of(cid)[-1] == (101, "after kick"), what="after kick")
    with pytest.raises(IMError) as refused:
        late.sdk.send_message(group_id=gid, content_type=101, content={"text": "still here?"})
    assert refused.value.code == 1303
    assert history(late, cid)[-1] == (1508, None)
    assert (101, "after kick") not in late.inbox.of(cid)
    assert late.sdk.get_one_conversation(cid)["unread_count"] == 1


def test_concurrent_senders_keep_seqs_contiguous(terminals):
    senders = [terminals(f"s{i}") for i in range(4)]
    reader = terminals("reader")
    gid = senders[0].sdk.create_group("Busy", [t.user_id for t in senders[1:]] + ["reader"])["group_id"]
    cid = f"sg_{gid}"
    per_sender = 10
    errors = []

    def blast(term):
        try:
            for i in range(per_sender):
                term.sdk.send_message(group_id=gid, content_type=101, content={"text": f"{term.user_id}-{i}"})
        except Exception as exc:  # reported below, with the sender
            errors.append((term.user_id, exc))

    threads = [threading.Thread(target=blast, args=(t,)) for t in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    total = 1 + len(senders) * per_sender
    wait_for(lambda: len(reader.inbox.seqs(cid)) == total, what="every message at the reader")
    assert reader.inbox.seqs(cid) == list(range(1, total + 1))
    stored = senders[0].sdk.get_history_message_list(cid, count=100)["messages"]
    assert [m["seq"] for m in stored] == list(range(1, total + 1))
    for term in senders:
        mine = [m["content"]["text"] for m in stored if m["send_id"] == term.user_id and m["content_type"] == 101]
        assert mine == [f"{term.user_id}-{i}" for i in range(per_sender)]
        # A sender is not handed back its own messages, but hears the rest once each, in seq order.
        wait_for(lambda t=term: len(t.inbox.seqs(cid)) == total - per_sender, what=f"{term.user_id} hears the others")
        heard = term.inbox.seqs(cid)
        assert heard == sorted(set(heard))
        assert not set(heard) & {m["seq"] for m in stored if m["send_id"] == term.user_id and m["seq"] > 1}


def test_managers_hear_each_application_of_one_invitation_once(terminals):
    """A plain member's invitation of several users reaches each manager as one event listing them:
    the SDK calls on_group_application_added once per application, and so for their deletion."""
    owner, admin, member = terminals("vowner"), terminals("vadmin"), terminals("vmember")
    invitees = [terminals(f"vinv{i}") for i in range(3)]
    ids = [t.user_id for t in invitees]
    gid = owner.sdk.create_group("Verified", ["vmember"], admin_user_ids=["vadmin"], need_verification=1)["group_id"]
    assert member.sdk.invite_user_to_group(gid, ids)["applied_user_ids"] == ids
    for term in invitees:
        term.expect("on_group_application_added", from_user_id=term.user_id, inviter_user_id="vmember")
    owner.sdk.invite_user_to_group(gid, ids[:2])
    for term in invitees[:2]:
        term.expect("on_joined_group_added", group_id=gid)
    # The last change is heard last: once it is, everything before it has been heard.
    owner.sdk.set_group_info(gid, group_name="Verified 2")
    for term in (owner, admin):
        term.expect("on_group_info_changed", group_name="Verified 2")
        heard = [
            (n, d["from_user_id"], d["inviter_user_id"], d["handle_result"])
            for n, d in term.rec.calls
            if n.startswith("on_group_application")
        ]
        assert heard == [
            *(("on_group_application_added", uid, "vmember", 0) for uid in ids),
            *(("on_group_application_deleted", uid, "vmember", 0) for uid in ids[:2]),
        ]
    assert [a["from_user_id"] for a in admin.sdk.get_recv_group_application_list()] == [ids[2]]
