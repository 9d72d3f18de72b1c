"""A membership change costs O(members) rows and time, not O(members^2): one notice, not an event per pair.

Before, each new member's joining was an event in every member's log: inviting 2,000 users wrote
about four million rows and took minutes. The counts are asserted; the wall times are printed.
"""

import time

from sqlalchemy import event, func, insert, select

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
        db.session.execute(
            insert(User),
            [
                {
                    "user_id": uid,
                    "password_hash": "-",
                    "nickname": uid,
                    "face_url": "",
                    "event_seq": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for uid in ids
            ],
        )
        db.session.commit()
    return ids


def rows(app) -> dict[str, int]:
    with app.app_context():
        counts = {
            "user_events": db.session.scalar(select(func.count()).select_from(UserEvent)),
            "messages": db.session.scalar(select(func.count()).select_from(Message)),
        }
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
        assert (
            db.session.scalar(select(func.count()).select_from(GroupMember).where(GroupMember.group_id == gid))
            == INVITEES + 1
        )

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


ADMINS = 50
# What a call costs in statements whatever the number of users it names: lookups, locks, a few bulk
# writes, and a handful of statements per chunk of 500 fanned-out events.
STATEMENTS = 60


class Statements:
    """Counts the SQL statements the app's engine runs inside the block."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.count = 0

    def _seen(self, *_):
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._seen)


def events_of(app, user_id: str) -> list[tuple[str, dict]]:
    with app.app_context():
        rows = db.session.execute(
            select(UserEvent.type, UserEvent.data).where(UserEvent.user_id == user_id).order_by(UserEvent.seq)
        ).all()
        db.session.remove()
        return [(t, d) for t, d in rows]


def test_a_plain_members_invitation_into_a_verified_group_costs_invitees_plus_managers(api, app):
    """Before, each of the 2,000 applications was an event to its invitee and to every manager, and
    took five statements: 2,000 x (1 + managers) rows and 10,000 statements from one plain member."""
    app.config["IM_GROUP_MAX_MEMBERS"] = INVITEES + ADMINS + 2
    _, owner = api.user("vowner")
    _, member = api.user("vmember")
    admins = make_users(app, "adm", ADMINS)
    gid = api.ok(
        "create_group",
        {"group_name": "Verified", "member_user_ids": ["vmember"], "admin_user_ids": admins, "need_verification": 1},
        owner,
    )["group_id"]
    invitees = make_users(app, "inv", INVITEES)

    before = rows(app)
    with Statements(app) as statements:
        applied, invite_s = timed(api, "invite_user_to_group", {"group_id": gid, "user_ids": invitees}, member)
    invite = written(before, rows(app))
    print(
        f"\nplain member invites {INVITEES} with {ADMINS} admins: {invite_s:.2f} s, "
        f"{statements.count} statements, rows {invite}"
    )
    assert applied == {"joined_user_ids": [], "applied_user_ids": invitees}
    # One application event per invitee, one event for the whole call per manager (owner and admins).
    assert invite["user_events"] == INVITEES + ADMINS + 1
    assert statements.count <= STATEMENTS
    [(kind, batch)] = events_of(app, admins[0])[-1:]
    assert kind == "group_applications_added" and batch["from_user_ids"] == invitees
    assert batch["application"]["inviter_user_id"] == "vmember" and "from_user_id" not in batch["application"]
    own = [e for e in events_of(app, invitees[7]) if e[0] == "group_application_added"]
    assert [(d["from_user_id"], d["inviter_user_id"], d["handle_result"]) for _, d in own] == [
        (invitees[7], "vmember", 0)
    ]
    pending = api.ok("get_recv_group_application_list", {}, owner)
    assert sorted(a["from_user_id"] for a in pending) == invitees
    assert {a["req_time"] for a in pending} == {batch["application"]["req_time"]}

    # An admin invites them directly: their applications are moot, and go as cheaply as they came.
    before = rows(app)
    with Statements(app) as statements:
        joined, join_s = timed(api, "invite_user_to_group", {"group_id": gid, "user_ids": invitees}, owner)
    dropped = written(before, rows(app))
    print(f"owner invites the {INVITEES} applicants: {join_s:.2f} s, {statements.count} statements, rows {dropped}")
    assert joined["joined_user_ids"] == invitees
    # joined_group_added and group_application_deleted to each invitee, one event per manager.
    assert dropped["user_events"] == 2 * INVITEES + ADMINS + 1
    assert statements.count <= STATEMENTS
    kind, batch = events_of(app, admins[-1])[-1]
    assert kind == "group_applications_deleted"
    assert [a["from_user_id"] for a in batch["applications"]] == invitees
    assert api.ok("get_recv_group_application_list", {}, owner) == []


def test_dismissing_with_many_pending_applications_costs_applicants_plus_managers(api, app):
    app.config["IM_GROUP_MAX_MEMBERS"] = INVITEES + ADMINS + 2
    _, owner = api.user("downer")
    _, member = api.user("dmember")
    admins = make_users(app, "dad", ADMINS)
    gid = api.ok(
        "create_group",
        {"group_name": "Doomed", "member_user_ids": ["dmember"], "admin_user_ids": admins, "need_verification": 1},
        owner,
    )["group_id"]
    invitees = make_users(app, "din", INVITEES)
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": invitees}, member)

    before = rows(app)
    with Statements(app) as statements:
        api.ok("dismiss_group", {"group_id": gid}, owner)
    gone = written(before, rows(app))
    print(f"\ndismiss with {INVITEES} pending and {ADMINS} admins: {statements.count} statements, rows {gone}")
    members = ADMINS + 2
    # group_application_deleted to each applicant; to each manager one event listing them and
    # group_dismissed; group_dismissed to the plain member.
    assert gone["user_events"] == INVITEES + 2 * (ADMINS + 1) + 1
    assert statements.count <= STATEMENTS + members // 10
    assert [t for t, _ in events_of(app, admins[3])][-2:] == ["group_applications_deleted", "group_dismissed"]


def test_both_sdks_expand_the_same_batch_events_and_the_protocol_names_them():
    from pathlib import Path

    from im.sdk.groups import APPLICATION_BATCHES
    from tests.support.js_sdk import js_sdk_exports

    root = Path(__file__).resolve().parents[1]
    js_map = js_sdk_exports()["APPLICATION_BATCHES"]
    camel = {t: "on" + "".join(w.title() for w in cb[3:].split("_")) for t, (cb, _) in APPLICATION_BATCHES.items()}
    assert js_map == camel
    section = (root / "docs" / "protocol.md").read_text().split("#### Applications in batches", 1)[1]
    for event_type, (callback, _) in APPLICATION_BATCHES.items():
        assert f"`{event_type}`" in section and f"`{callback}`" in section and f"`{camel[event_type]}`" in section
