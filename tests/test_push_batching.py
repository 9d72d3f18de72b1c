"""Post-commit emits of one payload to many rooms go out as one emit to the list of rooms."""

from im import push
from im.extensions import db


def test_one_payload_to_many_rooms_is_one_emit_in_order(app, monkeypatch):
    sent = []
    monkeypatch.setattr(push.socketio, "emit", lambda name, payload, to: sent.append((name, payload, to)))
    message, other = {"text": "hi"}, {"text": "hi"}  # equal but not the same object: emitted apart
    with app.app_context():
        for room in ("u:a", "u:b", "u:c"):
            push.emit_after_commit(room, "new_message", message)
        push.emit_after_commit("u:d", "new_message", other)
        push.emit_after_commit("u:e", "event", message)
        db.session.commit()
    assert sent == [
        ("new_message", message, ["u:a", "u:b", "u:c"]),
        ("new_message", other, "u:d"),
        ("event", message, "u:e"),
    ]
