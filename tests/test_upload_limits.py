"""Uploads held to a rate and a quota per user, and deleted once no message carries them."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from im import create_app
from im.extensions import db
from im.models import Message, UploadedFile, utcnow
from im.operations import runner
from im.realtime import sweeper
from im.services import uploads
from tests.conftest import Api
from tests.support import services
from tests.support.server import FAST_HASH
from tests.test_conversations_api import get, upload


@pytest.fixture(params=["sqlite", "postgresql"])
def make_api(request, tmp_path, migrated_sqlite):
    import contextlib
    import shutil

    made, stack = [], contextlib.ExitStack()

    def database_url():
        if request.param == "sqlite":
            path = tmp_path / f"up{len(made)}.sqlite3"
            shutil.copyfile(migrated_sqlite, path)
            return f"sqlite:///{path}"
        services.require(services.postgres_problem(), "PostgreSQL")
        return stack.enter_context(services.fresh_postgres_database())

    def make(**config):
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url(),
                "IM_SOCKETIO_ASYNC_MODE": "threading",
                "IM_UPLOAD_DIR": str(tmp_path / f"files{len(made)}"),
                "IM_ARGON2_TIME_COST": int(FAST_HASH["IM_ARGON2_TIME_COST"]),
                "IM_ARGON2_MEMORY_KIB": int(FAST_HASH["IM_ARGON2_MEMORY_KIB"]),
                "TESTING": True,
                **config,
            }
        )
        made.append(app)
        return Api(app, app.test_client())

    make.backend = request.param
    yield make
    for app in made:
        sweeper.stop(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    stack.close()


def stored(api):
    with api.app.app_context():
        rows = db.session.query(UploadedFile).count()
        directory = uploads.upload_dir(runner.context().settings)
    return rows, len(list(directory.iterdir()))


def test_uploads_per_user_are_rate_limited(make_api):
    api = make_api()
    _, hog = api.user()
    _, calm = api.user()
    codes = [upload(api, hog, b"%PDF" + bytes(1000)).get_json()["errCode"] for _ in range(31)]
    assert codes == [0] * 30 + [1008]
    over = upload(api, hog, b"%PDF" + bytes(1000))
    assert over.status_code == 429 and over.get_json()["data"]["limit"] == "upload_user"
    assert upload(api, calm, b"%PDF" + bytes(1000)).get_json()["errCode"] == 0
    assert stored(api) == (31, 31)


def test_quota_counts_what_the_user_has_stored(make_api):
    api = make_api(IM_UPLOAD_QUOTA_BYTES=10_000)
    a, ta = api.user()
    b, tb = api.user()
    first = upload(api, ta, b"x" * 4_000).get_json()
    assert first["errCode"] == 0
    assert upload(api, ta, b"x" * 4_000).get_json()["errCode"] == 0
    over = upload(api, ta, b"x" * 4_000)
    assert over.status_code == 413 and over.get_json()["errCode"] == 1407
    assert over.get_json()["data"] == {"quota": 10_000}
    assert stored(api) == (2, 2)  # nothing of the refused one is kept, row or bytes
    assert upload(api, ta, b"x" * 2_000).get_json()["errCode"] == 0  # exactly up to the quota
    assert upload(api, ta, b"x").get_json()["errCode"] == 1407
    assert upload(api, tb, b"x" * 4_000).get_json()["errCode"] == 0  # per user
    # Revoking the only message that carries a file frees its room at once.
    sent = api.ok("send_message", {"recv_id": b, "content_type": 105, "content": {"url": first["data"]["url"]}}, ta)
    api.ok("revoke_message", {"conversation_id": sent["conversation_id"], "seq": sent["seq"]}, ta)
    assert upload(api, ta, b"x" * 4_000).get_json()["errCode"] == 0


def _age(api, *urls, seconds=2 * 86400):
    with api.app.app_context():
        ids = [u.rsplit("/", 1)[1] for u in urls]
        db.session.execute(
            update(UploadedFile)
            .where(UploadedFile.file_id.in_(ids))
            .values(created_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()


def _exists(api, url):
    with api.app.app_context():
        file_id = url.rsplit("/", 1)[1]
        return db.session.get(UploadedFile, file_id) is not None, (
            uploads.upload_dir(runner.context().settings) / file_id
        ).exists()


def test_uploads_no_message_carries_are_deleted_after_the_grace_period(make_api):
    api = make_api()
    a, ta = api.user()
    b, tb = api.user()
    url = {
        name: upload(api, ta, b"%PDF" + name.encode()).get_json()["data"]["url"]
        for name in ("sent", "never_sent", "sent_twice", "deleted_for_me", "fresh")
    }

    def send_file(u, token=ta, to=b):
        return api.ok("send_message", {"recv_id": to, "content_type": 105, "content": {"url": u}}, token)

    send_file(url["sent"])
    once = send_file(url["sent_twice"])
    send_file(url["sent_twice"], token=tb, to=a)  # forwarded by the receiver, who may see it
    api.ok("revoke_message", {"conversation_id": once["conversation_id"], "seq": once["seq"]}, ta)
    gone_for_me = send_file(url["deleted_for_me"])
    api.ok("delete_message", {"conversation_id": gone_for_me["conversation_id"], "seq": gone_for_me["seq"]}, tb)
    _age(api, *(u for name, u in url.items() if name != "fresh"))
    with api.app.app_context():
        sweeper.now_and_then(sweeper.ORPHANS_EVERY)
    assert {name: _exists(api, u) for name, u in url.items()} == {
        "sent": (True, True),
        "never_sent": (False, False),
        "sent_twice": (True, True),
        "deleted_for_me": (True, True),
        "fresh": (True, True),
    }
    assert get(api, url["never_sent"], ta).status_code == 404
    assert get(api, url["sent_twice"], tb).status_code == 200
    # a fresh upload within the grace period is kept, and goes once it is old enough
    _age(api, url["fresh"])
    with api.app.app_context():
        with runner.transaction() as ctx:
            assert uploads.delete_orphans(ctx) == [url["fresh"].rsplit("/", 1)[1]]


def test_a_message_taking_a_file_while_the_sweep_runs(make_api, monkeypatch):
    """The sweep runs between the send's check of the upload and its write. PostgreSQL: the send holds
    the upload's row, the sweep passes it by, the message goes. SQLite: the sweep deletes it, the send
    answers 1406 and writes nothing. Never a message carrying a deleted file."""
    api = make_api()
    on_postgres = make_api.backend == "postgresql"
    a, ta = api.user()
    b, _ = api.user()
    url = upload(api, ta, b"%PDF old").get_json()["data"]["url"]
    _age(api, url)
    checked = uploads.from_url

    def sweep_right_after_the_check(ctx, u, **kw):
        found = checked(ctx, u, **kw)
        with api.app.app_context(), runner.transaction() as sweep:  # another session, as the sweeper's
            assert uploads.delete_orphans(sweep) == ([] if on_postgres else [found.file_id])
        return found

    monkeypatch.setattr(uploads, "from_url", sweep_right_after_the_check)
    resp = api.call("send_message", {"recv_id": b, "content_type": 105, "content": {"url": url}}, ta)
    assert resp.get_json()["errCode"] == (0 if on_postgres else 1406)
    with api.app.app_context():
        assert db.session.query(Message).count() == (1 if on_postgres else 0)
    assert _exists(api, url) == ((True, True) if on_postgres else (False, False))


def test_concurrent_uploads_of_one_user_cannot_pass_the_quota_together(make_api):
    import threading

    api = make_api(IM_UPLOAD_QUOTA_BYTES=10_000)
    _, token = api.user()
    start, codes = threading.Barrier(8), []

    def one():
        client = api.app.test_client()
        start.wait()
        boundary = "im-test-boundary"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode()
            + b"x" * 3_000
            + f"\r\n--{boundary}--\r\n".encode()
        )
        resp = client.post(
            "/api/upload", data=body, headers={"token": token}, content_type=f"multipart/form-data; boundary={boundary}"
        )
        codes.append(resp.get_json()["errCode"])

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [0] * 3 + [1407] * 5
    assert stored(api) == (3, 3)
