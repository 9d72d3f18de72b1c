"""search_messages over the trigram index, on SQLite and PostgreSQL: folding, Chinese, keyset paging,
filters, short keywords, bounded work, revoke/delete, and who may see what."""

import shutil

import pytest
from sqlalchemy import text as sql

from im import create_app
from im.extensions import db
from im.realtime import sweeper
from im.services import search
from tests.conftest import Api
from tests.support.server import FAST_HASH


@pytest.fixture(
    params=[("sqlite", "index"), ("sqlite", "own"), ("postgresql", "index"), ("postgresql", "own")], ids="-".join
)
def api(request, tmp_path, migrated_sqlite, monkeypatch):
    """An app on either database, searching through the index or (callers who see few messages) their own
    conversations: forced by the bound between the two, so every test holds for both ways."""
    kind, way = request.param
    monkeypatch.setattr(search, "DIRECT_ROWS", 0 if way == "index" else 10**9)
    config = {
        "IM_SOCKETIO_ASYNC_MODE": "threading",
        "TESTING": True,
        **{name: int(value) for name, value in FAST_HASH.items()},
    }
    if kind == "sqlite":
        shutil.copyfile(migrated_sqlite, tmp_path / "test.sqlite3")
        yield from _api({**config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite3'}"})
        return
    from tests.support.services import fresh_postgres_database, postgres_problem, require

    require(postgres_problem(), "PostgreSQL")
    with fresh_postgres_database() as url:
        yield from _api({**config, "SQLALCHEMY_DATABASE_URI": url})


def _api(config):
    app = create_app(config)
    try:
        yield Api(app, app.test_client())
    finally:
        sweeper.stop(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def send(api, token, recv_id, words, content_type=101, **content):
    return api.ok(
        "send_message", {"recv_id": recv_id, "content_type": content_type, "content": {"text": words, **content}}, token
    )


def texts(page):
    return [m["content"]["text"] for m in page["messages"]]


def search_all(api, token, keyword, **params):
    """Every page of a search, following the cursor; (texts, number of calls)."""
    found, cursor, calls = [], None, 0
    while True:
        page = api.ok(
            "search_messages", {"keyword": keyword, **params, **({"cursor": cursor} if cursor else {})}, token
        )
        calls += 1
        found += texts(page)
        if not page["has_more"]:
            assert page["cursor"] is None
            return found, calls
        cursor = page["cursor"]


def test_case_and_width_fold_alike_on_both_databases(api):
    a, ta = api.user()
    b, tb = api.user()
    for words in ("École d'été", "ÉCOLE again", "Straße 5", "ＦＵＬＬ width", "unrelated"):
        send(api, ta, b, words)
    assert texts(api.ok("search_messages", {"keyword": "école"}, tb)) == ["ÉCOLE again", "École d'été"]
    assert texts(api.ok("search_messages", {"keyword": "ÉCOLE"}, tb)) == ["ÉCOLE again", "École d'été"]
    assert texts(api.ok("search_messages", {"keyword": "STRASSE"}, tb)) == ["Straße 5"]  # ß folds to ss
    assert texts(api.ok("search_messages", {"keyword": "full W"}, tb)) == ["ＦＵＬＬ width"]
    assert texts(api.ok("search_messages", {"keyword": "Ｅcole"}, tb)) == []  # no accent folding: é is not e


def test_chinese_substrings_are_found_also_below_three_characters(api):
    a, ta = api.user()
    b, tb = api.user()
    for words in ("我们明天去北京开会", "北京烤鸭很好吃", "上海下雨了"):
        send(api, ta, b, words)
    assert texts(api.ok("search_messages", {"keyword": "北京开会"}, tb)) == ["我们明天去北京开会"]
    assert texts(api.ok("search_messages", {"keyword": "北京"}, tb)) == ["北京烤鸭很好吃", "我们明天去北京开会"]
    assert texts(api.ok("search_messages", {"keyword": "雨"}, tb)) == ["上海下雨了"]
    assert texts(api.ok("search_messages", {"keyword": "广州"}, tb)) == []


def test_cursor_pages_neither_skip_nor_repeat_while_new_matches_arrive(api):
    a, ta = api.user()
    b, tb = api.user()
    for i in range(25):
        send(api, ta if i % 2 else tb, b if i % 2 else a, f"pear {i:02d}")
    found, cursor = [], None
    while True:
        page = api.ok("search_messages", {"keyword": "pear", "count": 7, **({"cursor": cursor} if cursor else {})}, tb)
        found += texts(page)
        # new matches (and others) between the pages come before the cursor, never into the next page
        send(api, ta, b, f"pear late {len(found)}")
        send(api, tb, a, "apple")
        if not page["has_more"]:
            break
        assert len(page["messages"]) == 7
        cursor = page["cursor"]
    assert found == [f"pear {i:02d}" for i in range(24, -1, -1)]
    newest = texts(api.ok("search_messages", {"keyword": "pear", "count": 4}, tb))
    assert newest == ["pear late 25", "pear late 21", "pear late 14", "pear late 7"]


def test_filters_by_sender_content_type_time_and_conversation(api):
    a, ta = api.user()
    b, tb = api.user()
    c, tc = api.user()
    plain = send(api, ta, b, "plum one")
    quoted = send(api, tb, a, "plum two", content_type=114, quote_seq=plain["seq"])
    at = api.ok(
        "send_message", {"recv_id": a, "content_type": 106, "content": {"text": "plum three", "at_user_ids": [a]}}, tb
    )
    send(api, tc, b, "plum four")
    assert texts(api.ok("search_messages", {"keyword": "plum", "send_id": a}, tb)) == ["plum one"]
    assert texts(api.ok("search_messages", {"keyword": "plum", "send_id": c}, tb)) == ["plum four"]
    assert texts(api.ok("search_messages", {"keyword": "plum", "content_types": [114, 106]}, tb)) == [
        "plum three",
        "plum two",
    ]
    assert texts(api.ok("search_messages", {"keyword": "plum", "content_types": [102]}, tb)) == []
    cid = plain["conversation_id"]
    assert texts(api.ok("search_messages", {"keyword": "plum", "conversation_id": cid, "send_id": b}, tb)) == [
        "plum three",
        "plum two",
    ]
    everything = api.ok("search_messages", {"keyword": "plum"}, tb)["messages"]
    start, end = quoted["send_time"], at["send_time"]
    expected = [m["content"]["text"] for m in everything if start <= m["send_time"] <= end]
    assert "plum two" in expected and "plum three" in expected
    assert texts(api.ok("search_messages", {"keyword": "plum", "start_time": start, "end_time": end}, tb)) == expected
    assert texts(api.ok("search_messages", {"keyword": "plum", "end_time": plain["send_time"]}, tb)) == [
        m["content"]["text"] for m in everything if m["send_time"] <= plain["send_time"]
    ]
    assert texts(api.ok("search_messages", {"keyword": "plum", "start_time": 0, "end_time": search.MAX_TIME}, tb)) == [
        m["content"]["text"] for m in everything
    ]
    assert api.ok("search_messages", {"keyword": "plum", "start_time": end + 1, "end_time": end}, tb) == {
        "messages": [],
        "has_more": False,
        "cursor": None,
    }
    for bad in (
        {"content_types": []},
        {"content_types": [0]},
        {"send_id": "no spaces allowed"},
        {"start_time": -1},
        {"cursor": "12a"},
        {"cursor": "0"},
        {"end_time": 2**63},
        {"cursor": "1" * 19},
    ):
        assert api.call("search_messages", {"keyword": "plum", **bad}, tb).get_json()["errCode"] == 1001, bad


def test_short_keywords_look_at_a_bounded_span_per_call_and_page_on(api, monkeypatch):
    monkeypatch.setattr(search, "DIRECT_ROWS", 0)
    a, ta = api.user()
    b, tb = api.user()
    for i in range(12):
        send(api, ta, b, f"x{i:02d}" if i % 3 == 0 else f"filler {i}")
    assert texts(api.ok("search_messages", {"keyword": "x0"}, tb)) == ["x09", "x06", "x03", "x00"]
    monkeypatch.setattr(search, "SHORT_SPAN", 4)
    found, calls = search_all(api, tb, "x0")
    assert found == ["x09", "x06", "x03", "x00"] and calls >= 3  # 12 rows, 4 a call


def test_a_common_word_the_caller_sees_little_of_costs_a_bounded_call(api, monkeypatch):
    monkeypatch.setattr(search, "DIRECT_ROWS", 0)
    a, ta = api.user()
    b, tb = api.user()
    c, tc = api.user()
    send(api, ta, c, "common word for c")
    for i in range(40):
        send(api, ta, b, f"common word {i}")
    monkeypatch.setattr(search, "FIRST_WINDOW", 4)
    monkeypatch.setattr(search, "MAX_WINDOW", 4)
    monkeypatch.setattr(search, "MAX_SCANNED", 8)
    first = api.ok("search_messages", {"keyword": "common word"}, tc)
    assert first == {"messages": [], "has_more": True, "cursor": first["cursor"]} and first["cursor"]
    found, calls = search_all(api, tc, "common word")
    assert found == ["common word for c"] and calls == 6  # 41 matches, 8 looked at per call
    assert search_all(api, tb, "common word", count=100)[0] == [f"common word {i}" for i in range(39, -1, -1)]
    monkeypatch.setattr(search, "DIRECT_ROWS", 1)  # c sees one message: answered from c's own in one call
    assert search_all(api, tc, "common word") == (["common word for c"], 1)


def test_postgresql_walks_the_key_in_bounded_spans_or_takes_the_bitmap_for_a_rare_word(api, monkeypatch):
    monkeypatch.setattr(search, "DIRECT_ROWS", 0)
    a, ta = api.user()
    b, tb = api.user()
    for i in range(30):
        send(api, ta, b, f"lemon {i:02d}" if i % 7 == 0 else f"filler {i}")
    expected = [f"lemon {i:02d}" for i in (28, 21, 14, 7, 0)]
    assert search_all(api, tb, "lemon") == (expected, 1)
    with api.app.app_context():
        walks = db.engine.dialect.name == "postgresql"
    # Never the bitmap: the key is walked, 2 + 4 rows a call at most, so the 30 rows take 5 calls or
    # more; pages are cut inside spans too.
    monkeypatch.setattr(search, "PROBE_SPAN", 2)
    monkeypatch.setattr(search, "MAX_WALK", 6)
    monkeypatch.setattr(search, "BITMAP_MATCHES", -1)
    found, calls = search_all(api, tb, "lemon")
    assert found == expected and (calls >= 5 if walks else calls == 1)
    assert search_all(api, tb, "lemon", count=2)[0] == expected
    # A cursor above every row (none a search answered) starts at the newest row, as no cursor does.
    assert (
        texts(api.ok("search_messages", {"keyword": "lemon", "cursor": str(10**12)}, tb))
        == texts(api.ok("search_messages", {"keyword": "lemon"}, tb))
        == (["lemon 28"] if walks else expected)
    )
    # A probe finding nothing foresees no match below: the rest comes from the bitmap in the same call.
    monkeypatch.setattr(search, "BITMAP_MATCHES", 0)
    send(api, ta, b, "filler late")
    send(api, ta, b, "filler later")
    assert search_all(api, tb, "lemon") == (expected, 1)


def test_revoked_and_deleted_messages_leave_the_results(api):
    a, ta = api.user()
    b, tb = api.user()
    gone = send(api, ta, b, "secret plan one")
    kept = send(api, ta, b, "secret plan two")
    api.ok("revoke_message", {"conversation_id": gone["conversation_id"], "seq": gone["seq"]}, ta)
    assert texts(api.ok("search_messages", {"keyword": "secret"}, tb)) == ["secret plan two"]
    api.ok("delete_message", {"conversation_id": kept["conversation_id"], "seq": kept["seq"]}, tb)
    assert texts(api.ok("search_messages", {"keyword": "secret"}, tb)) == []
    assert texts(api.ok("search_messages", {"keyword": "secret"}, ta)) == ["secret plan two"]
    with api.app.app_context():
        if db.engine.dialect.name == "sqlite":  # the revoked text is out of the index too
            assert db.session.execute(
                sql("SELECT rowid FROM messages_fts WHERE messages_fts MATCH '\"secret\"'")
            ).scalars().all() == [
                db.session.execute(sql("SELECT id FROM messages WHERE seq = :s"), {"s": kept["seq"]}).scalar()
            ]


def test_search_sees_only_the_callers_membership_range(api):
    owner, to = api.user()
    early, te = api.user()
    late, tl = api.user()
    outsider, tx = api.user()
    group = api.ok("create_group", {"group_name": "g", "member_user_ids": [early]}, to)["group_id"]

    def say(words):
        api.ok("send_message", {"group_id": group, "content_type": 101, "content": {"text": words}}, to)

    say("melon before")
    api.ok("invite_user_to_group", {"group_id": group, "user_ids": [late]}, to)
    say("melon while both")
    api.ok("quit_group", {"group_id": group}, te)
    say("melon after early left")
    assert texts(api.ok("search_messages", {"keyword": "melon"}, to)) == [
        "melon after early left",
        "melon while both",
        "melon before",
    ]
    assert texts(api.ok("search_messages", {"keyword": "melon"}, te)) == ["melon while both", "melon before"]
    assert texts(api.ok("search_messages", {"keyword": "melon"}, tl)) == ["melon after early left", "melon while both"]
    assert texts(api.ok("search_messages", {"keyword": "melon"}, tx)) == []
    assert (
        api.call("search_messages", {"keyword": "melon", "conversation_id": f"sg_{group}"}, tx).get_json()["errCode"]
        == 1403
    )


def test_a_call_of_several_rounds_lets_the_other_requests_run_between_them(api, monkeypatch):
    monkeypatch.setattr(search, "DIRECT_ROWS", 0)
    a, ta = api.user()
    b, tb = api.user()
    c, tc = api.user()
    send(api, ta, c, "common word for c")
    for i in range(12):
        send(api, ta, b, f"common word {i}")
    monkeypatch.setattr(search, "FIRST_WINDOW", 2)
    monkeypatch.setattr(search, "MAX_WINDOW", 2)
    monkeypatch.setattr(search, "PROBE_SPAN", 2)
    pauses = []
    monkeypatch.setattr("im.yielding.pause", lambda: pauses.append(1))
    assert texts(api.ok("search_messages", {"keyword": "common word"}, tc)) == ["common word for c"]
    # 13 matches, 2 a round: 7 rounds or more (PostgreSQL's walk spans), a pause before each but the first
    assert len(pauses) >= 6
