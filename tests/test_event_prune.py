"""The event prune: bounded key-range rounds, retention by age with a per-user cap, no holes."""

from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select, update

from im.extensions import db
from im.models import User, UserEvent, utcnow
from im.operations import runner
from im.realtime import sweeper
from im.services import events


def _log(user_id: str, ages_days: list[float]) -> None:
    """Give user_id a log of len(ages_days) events, seq 1.. with these ages (oldest first)."""
    now = utcnow()
    db.session.execute(
        insert(UserEvent),
        [
            {
                "user_id": user_id,
                "seq": i + 1,
                "type": "friend_info_changed",
                "data": {"n": i},
                "created_at": now - timedelta(days=age),
            }
            for i, age in enumerate(ages_days)
        ],
    )
    db.session.execute(update(User).where(User.user_id == user_id).values(event_seq=len(ages_days)))
    db.session.commit()


def _seqs(user_id: str) -> list[int]:
    return list(db.session.scalars(select(UserEvent.seq).where(UserEvent.user_id == user_id).order_by(UserEvent.seq)))


def _full_pass(**kwargs) -> int:
    total, after = 0, ""
    for _ in range(10_000):
        deleted, after = events.prune_events(runner.context(), after, checkpoint=db.session.commit, **kwargs)
        total += deleted
        if after is None:
            return total
    raise AssertionError("the prune never finished its pass")


class Statements:
    """Every statement sent to the database, with its parameters and the rows it changed."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "after_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "after_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append((statement, parameters, cursor.rowcount))


@pytest.fixture
def users(app, api):
    with app.app_context():
        yield [api.user()[0] for _ in range(5)]


def test_each_statement_touches_a_bounded_key_range_and_no_scan(app, users):
    user = users[0]
    _log(user, [30 - i * 0.001 for i in range(2500)] + [1.0] * 10)
    with Statements(db.engine) as stmts:
        pruned = _full_pass(batch=100, max_rows=300, max_users=2)
    assert pruned == 2500 and _seqs(user) == list(range(2501, 2511))
    deletes = [(s, n) for s, _, n in stmts.seen if s.lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 25 and all(0 < n <= 100 for _, n in deletes), deletes
    # Every statement on the log finds its rows through the primary key: no scan of the table.
    with db.engine.connect() as conn:
        for statement, params, _ in stmts.seen:
            if "user_events" in statement and not statement.lstrip().upper().startswith(("COMMIT", "BEGIN")):
                plan = " | ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
                assert "SCAN user_events" not in plan, (statement, plan)


def test_a_round_looks_at_a_bounded_number_of_users_and_the_pass_goes_on(app, users):
    for user in users:
        _log(user, [20.0] * 3)
    before = sorted(users)
    first = events.prune_events(runner.context(), "", max_users=2, checkpoint=db.session.commit)
    assert first.deleted == 6 and first.next_after == before[1]
    assert all(_seqs(u) == [] for u in before[:2]) and all(_seqs(u) == [1, 2, 3] for u in before[2:])
    rest = _full_pass(max_users=2)
    assert rest == 9 and all(_seqs(u) == [] for u in users)


def test_a_week_offline_heavy_user_loses_nothing_it_needs(app, users):
    # 12,000 events in the last week (more than the old 10,000 count kept), 3,000 older than the window.
    user = users[0]
    _log(user, [40 - i * 0.005 for i in range(3000)] + [7 - i * 0.0005 for i in range(12000)])
    _full_pass()
    assert _seqs(user) == list(range(3001, 15001))
    # The terminal last saw the event just before the week: it catches up event by event.
    page = events.sync_events(runner.context(), user, 3000)
    assert page["resync_required"] is False and page["events"][0]["seq"] == 3001 and page["has_more"]


def test_resync_required_exactly_when_needed_events_were_pruned(app, users):
    user = users[0]
    _log(user, [30.0] * 50 + [1.0] * 5)
    _full_pass()
    for after in (0, 10, 49):
        page = events.sync_events(runner.context(), user, after)
        assert page["resync_required"] is True and page["events"] == [] and page["max_seq"] == 55
    page = events.sync_events(runner.context(), user, 50)
    assert page["resync_required"] is False and [e["seq"] for e in page["events"]] == [51, 52, 53, 54, 55]


def test_the_per_user_cap_bounds_a_flooded_log(app, users):
    app.config["IM_EVENT_RETENTION"] = 40
    user = users[0]
    _log(user, [0.5] * 100)
    _full_pass(batch=16)
    assert _seqs(user) == list(range(61, 101))
    assert events.sync_events(runner.context(), user, 59)["resync_required"] is True
    assert events.sync_events(runner.context(), user, 60)["resync_required"] is False


def test_an_older_event_after_a_newer_one_is_kept_so_the_log_has_no_hole(app, users):
    # Two processes' clocks may disagree by a little: seq 3 was stamped later than seq 4.
    user = users[0]
    _log(user, [30.0, 30.0, 1.0, 30.0, 1.0])
    _full_pass()
    assert _seqs(user) == [3, 4, 5]
    assert events.sync_events(runner.context(), user, 2)["resync_required"] is False


def test_the_sweeper_prunes_round_after_round(app, users):
    app.config["IM_EVENT_RETENTION"] = 2
    for user in users:
        _log(user, [0.1] * 5)
    progress = {}
    for rounds in range(1, 200):
        sweeper.now_and_then(rounds * sweeper.PRUNE_EVERY, progress)
        db.session.remove()
        if all(_seqs(u) == [4, 5] for u in users):
            break
    assert all(_seqs(u) == [4, 5] for u in users)


def test_a_round_pauses_after_every_statement_it_commits(app, users):
    """The sweeper yields to the other greenlets there: a round stalls the process one statement at most."""
    user = users[0]
    _log(user, [30.0] * 1000)
    commits_since_pause = []
    with Statements(db.engine) as stmts:

        def pause():
            commits_since_pause.append(sum(1 for s, _, _ in stmts.seen if s.lstrip().upper().startswith("DELETE")))

        events.prune_events(runner.context(), "", batch=100, max_rows=1000, checkpoint=pause)
    deletes = [n for s, _, n in stmts.seen if s.lstrip().upper().startswith("DELETE")]
    assert sum(deletes) == 1000 and len(deletes) == 10
    # One pause after the users' look-up, then one after each delete.
    assert commits_since_pause[:11] == list(range(0, 11))
