"""The life of a group end to end: a real server process driven by the Python SDK."""
import threading
import time

import pytest

from im.sdk import GroupListener, IMClient, IMError

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


class Terminal:
    """One logged-in SDK client with a recording group listener."""

    def __init__(self, url, user_id, platform_id=5, register=True, data_dir=None):
        self.user_id = user_id
        self.sdk = IMClient(url, platform_id=platform_id, data_dir=data_dir)
        self.rec = Recorder()
        self.sdk.set_group_listener(self.rec)
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
    wait_for(lambda: any(n == "on_group_member_info_changed" and d["user_id"] == "applicant"
                         and d["mute_end_time"] > 0 for n, d in applicant.rec.calls), what="mute")
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

    # The member goes offline; what happens meanwhile reaches them when they come back.
    member.close()
    admin.sdk.set_group_info(gid, group_name="Crew 2")
    admin.sdk.dismiss_group(gid)
    for term in (owner_web, owner_pc, admin):
        term.expect("on_group_dismissed", group_id=gid, status=2)
    assert not applicant.rec.has("on_group_dismissed") and not invitee.rec.has("on_group_dismissed")
    back = terminals("member", register=False, data_dir=tmp_path / "member")
    back.expect("on_group_dismissed", group_id=gid)
    assert back.rec.names() == ["on_group_info_changed", "on_group_dismissed"]
    assert admin.sdk.get_joined_group_list() == []

    heard = set()
    for term in (owner_web, owner_pc, admin, member, applicant, refused, invitee, back):
        heard.update(term.rec.names())
    assert heard == set(CALLBACKS)
