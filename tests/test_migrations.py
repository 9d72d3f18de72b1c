"""The schema comes from the migrations, and they build exactly what the models declare."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from im import create_app, schema
from im.extensions import db
from im.operations import runner
from tests.support.server import FAST_HASH


def _app(path, **config):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "TESTING": True,
            **config,
        }
    )


def _differences(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": schema.include_object})
        return compare_metadata(context, db.metadata)


def test_fresh_sqlite_is_migrated_to_exactly_the_models(tmp_path):
    app = _app(tmp_path / "fresh.sqlite3")
    assert _differences(app) == []
    with app.app_context():
        assert schema.is_at_head(schema.alembic_config())


def test_no_schema_without_auto_migrate(tmp_path):
    app = _app(tmp_path / "manual.sqlite3", IM_AUTO_MIGRATE=False)
    with app.app_context(), db.engine.connect() as conn:
        assert inspect(conn).get_table_names() == []


def test_database_made_by_create_all_is_adopted(tmp_path):
    """A database from before the migrations is stamped, upgraded, and keeps its rows."""
    path = tmp_path / "legacy.sqlite3"
    legacy = _app(path, IM_AUTO_MIGRATE=False)
    with legacy.app_context():
        tables = [t for t in db.metadata.sorted_tables if t.name in _first_revision_tables(tmp_path)]
        db.metadata.create_all(db.engine, tables=tables)
        db.session.execute(
            text(
                "INSERT INTO users (user_id, password_hash, nickname, face_url, event_seq, "
                "created_at, updated_at) VALUES ('old', 'x', 'Old', '', 3, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        db.session.commit()
        db.engine.dispose()
    app = _app(path)
    assert _differences(app) == []
    with app.app_context():
        assert db.session.execute(text("SELECT event_seq FROM users WHERE user_id = 'old'")).scalar() == 3
        db.session.remove()
        db.engine.dispose()


def test_database_made_by_create_all_with_every_table_is_current(tmp_path):
    path = tmp_path / "legacy-full.sqlite3"
    legacy = _app(path, IM_AUTO_MIGRATE=False)
    with legacy.app_context():
        db.create_all()
        db.engine.dispose()
    app = _app(path)
    assert _differences(app) == []
    with app.app_context():
        assert schema.is_at_head(schema.alembic_config())
        db.engine.dispose()


def _first_revision_tables(tmp_path) -> set[str]:
    """The tables the first migration creates, read from a database upgraded only that far."""
    from flask_migrate import upgrade

    app = _app(tmp_path / "first.sqlite3", IM_AUTO_MIGRATE=False)
    with app.app_context():
        upgrade(revision=schema.FIRST_REVISION)
        db.engine.dispose()
    engine = create_engine(f"sqlite:///{tmp_path / 'first.sqlite3'}")
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


# ---- 0003_conversation_ids: one-to-one ids si_<low>~<high>, a shared conversation split by pair ----------


def _old_world(app, tmp_path):
    """What the server before 0003 wrote: alice and bob's conversation, and one that two pairs shared
    (john_smith with mary, john with smith_mary all got si_john_smith_mary), their messages interleaved."""
    from datetime import timedelta

    from im.models import (
        Conversation,
        ConversationState,
        Message,
        MessageDeletion,
        MessageFile,
        UploadedFile,
        UserEvent,
        utcnow,
    )
    from im.services import auth

    ctx = runner.context()
    for user_id in ("alice", "bob", "john_smith", "mary", "john", "smith_mary", "owner"):
        auth.register(ctx, user_id, "password123", user_id)
    start = utcnow() - timedelta(minutes=10)

    def conversation(cid, kind, *sends, group_id=None):
        db.session.add(
            Conversation(
                conversation_id=cid,
                conversation_type=kind,
                group_id=group_id,
                max_seq=len(sends),
                latest_msg_time=start + timedelta(seconds=len(sends)),
                created_at=start,
            )
        )
        db.session.flush()
        for seq, (sender, receiver, content_type, content) in enumerate(sends, 1):
            db.session.add(
                Message(
                    server_msg_id=f"{cid[-6:]}{seq:026d}",
                    conversation_id=cid,
                    conversation_type=kind,
                    seq=seq,
                    send_id=sender,
                    recv_id=receiver,
                    group_id=group_id,
                    client_msg_id=f"{cid}-{seq}",
                    content_type=content_type,
                    content=content,
                    search_text=content.get("text", "plan.pdf"),
                    status=1,
                    send_time=start + timedelta(seconds=seq),
                )
            )

    def state(cid, user, peer, read, hidden=False):
        db.session.add(
            ConversationState(
                user_id=user,
                conversation_id=cid,
                conversation_type=1,
                peer_user_id=peer,
                has_read_seq=read,
                min_seq=1,
                hidden=hidden,
                draft_text="",
            )
        )

    text = lambda t: {"text": t}  # noqa: E731
    conversation(
        "si_alice_bob",
        1,
        ("alice", "bob", 101, text("one")),
        ("bob", "alice", 101, text("two")),
        ("alice", "bob", 101, text("three")),
    )
    state("si_alice_bob", "alice", "bob", 3)
    state("si_alice_bob", "bob", "alice", 2, hidden=True)
    shared = "si_john_smith_mary"
    conversation(
        shared,
        1,
        ("john_smith", "mary", 101, text("the secret plan")),  # 1 -> first pair 1
        ("john", "smith_mary", 101, text("hello")),  # 2 -> second pair 1
        ("mary", "john_smith", 105, {"url": "/api/files/" + "a" * 32, "name": "plan.pdf"}),  # 3 -> 2
        ("smith_mary", "john", 114, {"text": "re: hello", "quote_seq": 2}),  # 4 -> 2
        ("john", "smith_mary", 114, {"text": "re: secret", "quote_seq": 1}),  # 5 -> 3
        ("john_smith", "mary", 101, text("see you")),
    )  # 6 -> first pair 3
    state(shared, "john_smith", "mary", 6)
    state(shared, "mary", "john_smith", 3)
    state(shared, "john", "smith_mary", 5)
    state(shared, "smith_mary", "john", 4)
    db.session.add(MessageDeletion(user_id="mary", conversation_id=shared, seq=1))
    db.session.add(MessageDeletion(user_id="john", conversation_id=shared, seq=1))  # the other pair's message
    db.session.add(MessageDeletion(user_id="alice", conversation_id="si_alice_bob", seq=2))
    upload_dir = tmp_path / "up"
    upload_dir.mkdir(exist_ok=True)
    (upload_dir / ("a" * 32)).write_bytes(b"%PDF-1.4 plan")
    db.session.add(
        UploadedFile(file_id="a" * 32, uploader_id="mary", name="plan.pdf", size=13, mime_type="application/pdf")
    )
    db.session.flush()
    db.session.add(MessageFile(file_id="a" * 32, conversation_id=shared, seq=3))
    conversation("sg_g1", 3, ("owner", None, 101, text("group hello")), group_id="g1")
    db.session.add(
        UserEvent(
            user_id="bob",
            seq=1,
            type="conversation_changed",
            data=[{"conversation_id": "si_alice_bob", "unread_count": 1}],
        )
    )
    db.session.add(UserEvent(user_id="bob", seq=2, type="friend_added", data={"user_id": "alice"}))
    db.session.commit()


def _check_migrated_world(app):
    from im.models import Conversation, ConversationState, Message, MessageDeletion, MessageFile, UserEvent

    client = app.test_client()

    def call(name, payload, user):
        token = client.post(
            "/api/login", json={"user_id": user, "password": "password123", "platform_id": 5}
        ).get_json()["data"]["token"]
        return client.post(f"/api/{name}", json=payload, headers={"token": token}).get_json()

    def history(user, cid):
        body = call("get_history_message_list", {"conversation_id": cid, "count": 100}, user)
        assert body["errCode"] == 0, body
        return [(m["seq"], m["send_id"], m["content_type"], m["content"]) for m in body["data"]["messages"]]

    ab, first, second = "si_alice~bob", "si_john_smith~mary", "si_john~smith_mary"
    assert [s for s, *_ in history("bob", ab)] == [1, 2, 3] and [s for s, *_ in history("alice", ab)] == [1, 3]
    by_id = {c["conversation_id"]: c for c in call("get_all_conversation_list", {}, "alice")["data"]}
    assert by_id[ab]["unread_count"] == 0 and by_id[ab]["peer_has_read_seq"] == 2
    assert call("get_all_conversation_list", {}, "bob")["data"] == []  # still hidden for bob

    assert history("john_smith", first) == [
        (1, "john_smith", 101, {"text": "the secret plan"}),
        (2, "mary", 105, {"url": "/api/files/" + "a" * 32, "name": "plan.pdf"}),
        (3, "john_smith", 101, {"text": "see you"}),
    ]
    assert [s for s, *_ in history("mary", first)] == [2, 3]  # her deletion of seq 1 came along
    assert history("smith_mary", second) == [
        (1, "john", 101, {"text": "hello"}),
        (2, "smith_mary", 114, {"text": "re: hello", "quote_seq": 1}),
        (3, "john", 101, {"text": "re: secret"}),
    ]
    assert history("john", second) == history("smith_mary", second)  # john's deletion was of the other pair's
    unread = {
        u: {c["conversation_id"]: c["unread_count"] for c in call("get_all_conversation_list", {}, u)["data"]}
        for u in ("john_smith", "mary", "john", "smith_mary")
    }
    assert unread == {"john_smith": {first: 0}, "mary": {first: 1}, "john": {second: 0}, "smith_mary": {second: 1}}
    for outsider in ("john", "smith_mary"):
        assert call("get_history_message_list", {"conversation_id": first}, outsider)["errCode"] == 1403
        found = call("search_messages", {"keyword": "secret"}, outsider)["data"]["messages"]
        assert [m["content"] for m in found] == [{"text": "re: secret"}]  # their own, not the plan
        token = client.post(
            "/api/login", json={"user_id": outsider, "password": "password123", "platform_id": 5}
        ).get_json()["data"]["token"]
        assert client.get("/api/files/" + "a" * 32, headers={"token": token}).get_json()["errCode"] == 1406
    token = client.post(
        "/api/login", json={"user_id": "john_smith", "password": "password123", "platform_id": 5}
    ).get_json()["data"]["token"]
    resp = client.get("/api/files/" + "a" * 32, headers={"token": token})
    assert resp.status_code == 200 and resp.get_data() == b"%PDF-1.4 plan"
    resp.close()
    # the pairs go on where they were: the next seq follows on, in their own conversation
    sent = call("send_message", {"recv_id": "mary", "content_type": 101, "content": {"text": "later"}}, "john_smith")
    assert (sent["data"]["conversation_id"], sent["data"]["seq"]) == (first, 4)
    with app.app_context():
        assert {c.conversation_id for c in db.session.query(Conversation)} == {ab, first, second, "sg_g1"}
        assert {(s.user_id, s.conversation_id) for s in db.session.query(ConversationState)} == {
            ("alice", ab),
            ("bob", ab),
            ("john_smith", first),
            ("mary", first),
            ("john", second),
            ("smith_mary", second),
        }
        assert {(d.user_id, d.conversation_id, d.seq) for d in db.session.query(MessageDeletion)} == {
            ("alice", ab, 2),
            ("mary", first, 1),
        }
        assert [(f.conversation_id, f.seq) for f in db.session.query(MessageFile)] == [(first, 2)]
        assert [(m.seq, m.content) for m in db.session.query(Message).filter_by(conversation_id="sg_g1")] == [
            (1, {"text": "group hello"})
        ]
        assert db.session.query(Message).count() == 3 + 6 + 1 + 1  # none lost: the old ones, the group's, "later"
        assert db.session.get(UserEvent, ("bob", 1)).data == [{"conversation_id": ab, "unread_count": 1}]
        db.session.remove()


def _migrate_old_world(url, tmp_path):
    from flask_migrate import upgrade

    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "IM_SOCKETIO_ASYNC_MODE": "threading",
        "TESTING": True,
        "IM_AUTO_MIGRATE": False,
        "IM_UPLOAD_DIR": str(tmp_path / "up"),
        **_FAST_HASH,
    }
    app = create_app(config)
    with app.app_context():
        upgrade(revision="0002_chat_groups")
        _old_world(app, tmp_path)
        upgrade(revision="0003_conversation_ids")
        upgrade(revision="head")
        db.session.remove()
    return app


_FAST_HASH = {name: int(value) for name, value in FAST_HASH.items()}


def test_conversation_ids_are_rewritten_and_a_shared_one_split_on_sqlite(tmp_path):
    app = _migrate_old_world(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path)
    _check_migrated_world(app)
    with app.app_context():
        db.engine.dispose()


def test_conversation_ids_are_rewritten_and_a_shared_one_split_on_postgresql(tmp_path):
    from tests.support.services import fresh_postgres_database, postgres_problem, require

    require(postgres_problem(), "PostgreSQL")
    with fresh_postgres_database() as url:
        app = _migrate_old_world(url, tmp_path)
        try:
            _check_migrated_world(app)
        finally:
            with app.app_context():
                db.engine.dispose()


def test_downgrade_refuses_to_merge_two_pairs_again(tmp_path):
    from alembic import command

    from im.models import Conversation

    app = _migrate_old_world(f"sqlite:///{tmp_path / 'down.sqlite3'}", tmp_path)
    with app.app_context():
        # the later migrations step down cleanly; the refusal is the conversation-id migration's own
        command.downgrade(schema.alembic_config(), "0003_conversation_ids")
        db.session.remove()
        with pytest.raises(RuntimeError, match="would share 'si_john_smith_mary'"):
            command.downgrade(schema.alembic_config(), "0002_chat_groups")
        db.session.remove()
        assert "si_john~smith_mary" in {c.conversation_id for c in db.session.query(Conversation)}
        command.upgrade(schema.alembic_config(), "head")
        assert schema.is_at_head(schema.alembic_config())
        db.session.remove()
        db.engine.dispose()


# ---- 0005_search_index: text stored unfolded before it, folded and indexed by it -----------------------

OLD_TEXTS = ["École d'été", "你好世界 HELLO", "ＦＵＬＬ width", "plain words"]


def _search_world_before_index(url, tmp_path):
    """alice and bob's conversation as the server before 0005 stored it: search_text as sent."""
    from datetime import timedelta

    from flask_migrate import upgrade

    from im.models import Conversation, ConversationState, Message, utcnow
    from im.services import auth

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "IM_SOCKETIO_ASYNC_MODE": "threading",
            "TESTING": True,
            "IM_AUTO_MIGRATE": False,
            "IM_UPLOAD_DIR": str(tmp_path / "up"),
            **_FAST_HASH,
        }
    )
    with app.app_context():
        upgrade(revision="0004_group_left_mutes")
        ctx = runner.context()
        for user_id in ("alice", "bob"):
            auth.register(ctx, user_id, "password123", user_id)
        cid, start = "si_alice~bob", utcnow() - timedelta(minutes=1)
        db.session.add(
            Conversation(
                conversation_id=cid,
                conversation_type=1,
                max_seq=len(OLD_TEXTS),
                latest_msg_time=start,
                created_at=start,
            )
        )
        db.session.flush()
        for seq, words in enumerate(OLD_TEXTS, 1):
            db.session.add(
                Message(
                    server_msg_id=f"{seq:032d}",
                    conversation_id=cid,
                    conversation_type=1,
                    seq=seq,
                    send_id="alice",
                    recv_id="bob",
                    client_msg_id=f"old-{seq}",
                    content_type=101,
                    content={"text": words},
                    search_text=words,
                    status=1,
                    send_time=start + timedelta(seconds=seq),
                )
            )
        for user, peer in (("alice", "bob"), ("bob", "alice")):
            db.session.add(
                ConversationState(
                    user_id=user,
                    conversation_id=cid,
                    conversation_type=1,
                    peer_user_id=peer,
                    has_read_seq=len(OLD_TEXTS),
                    min_seq=1,
                    draft_text="",
                )
            )
        db.session.commit()
        upgrade(revision="head")
        db.session.remove()
    return app


def _found(app, keyword):
    client = app.test_client()
    token = client.post("/api/login", json={"user_id": "bob", "password": "password123", "platform_id": 5}).get_json()[
        "data"
    ]["token"]
    body = client.post("/api/search_messages", json={"keyword": keyword}, headers={"token": token}).get_json()
    assert body["errCode"] == 0, body
    return [m["content"]["text"] for m in body["data"]["messages"]]


def _check_search_after_index(app):
    assert _found(app, "ÉCOLE") == _found(app, "école") == ["École d'été"]
    assert _found(app, "界 hello") == ["你好世界 HELLO"]
    assert _found(app, "full") == ["ＦＵＬＬ width"]  # NFKC: full-width letters are the ASCII ones
    assert _found(app, "好世") == ["你好世界 HELLO"]  # too short for trigrams: the bounded LIKE path
    with app.app_context():
        from alembic import command

        command.downgrade(schema.alembic_config(), "0004_group_left_mutes")
        command.upgrade(schema.alembic_config(), "head")
        db.session.remove()
    assert _found(app, "d'été") == ["École d'été"]  # made again from the stored (folded) text


def test_search_index_folds_and_indexes_old_messages_on_sqlite(tmp_path):
    app = _search_world_before_index(f"sqlite:///{tmp_path / 'search.sqlite3'}", tmp_path)
    try:
        _check_search_after_index(app)
    finally:
        with app.app_context():
            db.engine.dispose()


def test_search_index_folds_and_indexes_old_messages_on_postgresql(tmp_path):
    from tests.support.services import fresh_postgres_database, postgres_problem, require

    require(postgres_problem(), "PostgreSQL")
    with fresh_postgres_database() as url:
        app = _search_world_before_index(url, tmp_path)
        try:
            _check_search_after_index(app)
            with app.app_context(), db.engine.connect() as conn:
                assert inspect(conn).get_indexes("messages") and any(
                    i["name"] == "ix_messages_search_trgm" for i in inspect(conn).get_indexes("messages")
                )
                # 0007: its pending list merged in small pieces, not 4 MB inside one unlucky send
                options = conn.execute(
                    text("SELECT reloptions FROM pg_class WHERE relname = 'ix_messages_search_trgm'")
                ).scalar()
                assert options == ["gin_pending_list_limit=256"]
        finally:
            with app.app_context():
                db.engine.dispose()
