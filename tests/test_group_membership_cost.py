"""A membership change costs O(members) rows and time, not O(members^2): one notice, not an event per pair.

Before, each new member's joining was an event in every member's log: inviting 2,000 users wrote
about four million rows and took minutes. The counts are asserted; the wall times are printed.
"""
import time

from sqlalchemy import func, insert, select

from im.extensions import db
from im.models import GroupMember, Message, User, UserEvent, utcnow

INVITEES = 2000
KICKED = 1000
# A few events besides the one each invitee or kicked user gets, and a few notices.
SLACK = 10


def make_users(app, prefix: str, n: int) -> list[str]:
    """Users written straight to the table: registering thousands over the API would time the hashing."""
    ids = [f"{prefix}{i:04d}" for i in range(n)]
    now = utcnow()
    with app.app_context():
        db.session.execute(insert(User), [{"user_id": uid, "password_hash": "-", "nickname": uid, "face_url": "",
                                           "event_seq": 0, "created_at": now, "updated_at": now} for uid in ids])
        db.session.commit()
    return ids


def rows(app) -> dict[str, int]:
    with app.app_context():
        counts = {"user_events": db.session.scalar(select(func.count()).select_from(UserEvent)),
                  "messages": db.session.scalar(select(func.count()).select_from(Message))}
        db.session.remove()
        return counts


def timed(api, name, payload, token):
    before = time.perf_counter()
    data = api.ok(name, payload, token)
    return data, time.perf_counter() - before


def written(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in before}


def test_inviting_2000_and_kicking_1000_write_rows_linear_in_members(api, app):
    app.config["IM_GROUP_MAX_MEMBERS"] = INVITEES + 1
    _, owner = api.user("bigowner")
    gid = api.ok("create_group", {"group_name": "Big", "member_user_ids": []}, owner)["group_id"]
    invitees = make_users(app, "inv", INVITEES)

    before = rows(app)
    joined, invite_s = timed(api, "invite_user_to_group", {"group_id": gid, "user_ids": invitees}, owner)
    invite = written(before, rows(app))
    assert joined["joined_user_ids"] == invitees
    print(f"\ninvite {INVITEES} in one call: {invite_s:.2f} s, rows {invite}")
    # One joined_group_added per invitee; one notice that names them all.
    assert invite["user_events"] <= 2 * INVITEES + SLACK
    assert invite["messages"] <= SLACK
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GroupMember)
                                 .where(GroupMember.group_id == gid)) == INVITEES + 1

    before = rows(app)
    _, kick_s = timed(api, "kick_group_member", {"group_id": gid, "user_ids": invitees[:KICKED]}, owner)
    kick = written(before, rows(app))
    print(f"kick {KICKED} of {INVITEES + 1} in one call: {kick_s:.2f} s, rows {kick}")
    assert kick["user_events"] <= 2 * KICKED + SLACK
    assert kick["messages"] <= SLACK

    # Every remaining member reads who left from the one notice.
    page = api.ok("get_history_message_list", {"conversation_id": f"sg_{gid}", "count": 1}, owner)
    notice = page["messages"][-1]
    assert notice["content_type"] == 1508
    assert [m["user_id"] for m in notice["content"]["detail"]["members"]] == invitees[:KICKED]


def test_one_call_takes_up_to_the_group_limit_and_no_more(api, app):
    _, owner = api.user("limitowner")
    gid = api.ok("create_group", {"group_name": "Limit", "member_user_ids": []}, owner)["group_id"]
    ids = [f"u{i}" for i in range(INVITEES + 1)]
    body = api.call("invite_user_to_group", {"group_id": gid, "user_ids": ids}, owner).get_json()
    assert body["errCode"] == 1001
    body = api.call("kick_group_member", {"group_id": gid, "user_ids": ids}, owner).get_json()
    assert body["errCode"] == 1001
