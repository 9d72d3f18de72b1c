"""Post-commit emits of one payload to many rooms go out as one emit to the list of rooms."""

from im import push
from im.operations import runner


def test_one_payload_to_many_rooms_is_one_emit_in_order(app, monkeypatch):
    app.config["IM_CHECK_EVENTS"] = False  # made-up payloads: what is tested is the batching
    sent = []
    monkeypatch.setattr(push.socketio, "emit", lambda name, payload, to: sent.append((name, payload, to)))
    message, other = {"text": "hi"}, {"text": "hi"}  # equal but not the same object: emitted apart
    with app.app_context():
        with runner.transaction() as ctx:
            for user_id in ("a", "b", "c"):
                ctx.outbox.to_user(user_id, "new_message", message)
            ctx.outbox.to_user("d", "new_message", other)
            ctx.outbox.to_user("e", "event", message)
    assert sent == [
        ("new_message", message, ["u:a", "u:b", "u:c"]),
        ("new_message", other, "u:d"),
        ("event", message, "u:e"),
    ]


def test_a_rolled_back_transaction_tells_nobody(app, monkeypatch):
    app.config["IM_CHECK_EVENTS"] = False
    sent = []
    monkeypatch.setattr(push.socketio, "emit", lambda name, payload, to: sent.append((name, payload, to)))
    with app.app_context():
        try:
            with runner.transaction() as ctx:
                ctx.outbox.to_user("a", "new_message", {"text": "never"})
                raise RuntimeError("refused")
        except RuntimeError:
            pass
    assert sent == []
