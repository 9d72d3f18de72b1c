"""The conversation core as a group feature uses it: members' readable ranges, delivery, read state."""

import pytest

from im import errors
from im.extensions import db
from im.models import GROUP
from im.services import auth, conversations, messages


def text(t):
    return {"text": t}


@pytest.fixture
def group(app):
    with app.app_context():
        for user_id in ("owner", "early", "late"):
            auth.register(user_id, "password123", user_id)
        cid = conversations.group_conversation_id("g1")
        for user_id in ("owner", "early"):
            conversations.open_for_member(user_id, cid, "g1")
        db.session.commit()
        yield cid
        db.session.remove()


def send(cid, sender, receivers, t):
    target = messages.Target(cid, GROUP, group_id="g1")
    return messages.deliver(sender, target, receivers, 101, text(t), None)


def test_members_read_from_their_join_until_they_leave(group):
    cid = group
    send(cid, "owner", ["early"], "before late joined")
    conversations.open_for_member("late", cid, "g1")
    db.session.commit()
    send(cid, "owner", ["early", "late"], "after late joined")
    assert [m["seq"] for m in messages.get_history("late", cid, None, 20)["messages"]] == [2]
    assert [m["seq"] for m in messages.get_history("early", cid, None, 20)["messages"]] == [1, 2]
    assert conversations.total_unread("late") == 1 and conversations.total_unread("early") == 2
    assert conversations.total_unread("owner") == 0
    conversations.close_for_member("early", cid)
    db.session.commit()
    send(cid, "owner", ["late"], "after early left")
    assert [m["seq"] for m in messages.get_history("early", cid, None, 20)["messages"]] == [1, 2]
    pulled = messages.pull_messages("early", [(cid, 1, 10)])
    assert [m["seq"] for m in pulled["messages"]] == [1, 2] and pulled["pulled_to"] == {cid: 2}
    assert messages.get_max_seqs("late")["conversations"][cid] == {"max_seq": 3, "min_seq": 2, "recv_msg_opt": 0}
    view = conversations.get_one_conversation("late", cid)
    assert (view["conversation_type"], view["group_id"], view["unread_count"]) == (3, "g1", 2)
    assert conversations.mark_read("late", cid)["unread_count"] == 0


def test_outsiders_cannot_read_a_group(group):
    cid = group
    send(cid, "owner", ["early"], "members only")
    for call in (
        lambda: messages.get_history("late", cid, None, 20),
        lambda: messages.pull_messages("late", [(cid, 1, 1)]),
        lambda: conversations.get_one_conversation("late", cid),
    ):
        with pytest.raises(errors.ConversationNotFound):
            call()
    assert messages.search_messages("late", "members", None)["messages"] == []
