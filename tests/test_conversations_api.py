"""Conversations, read state, revoke, delete and uploads over REST: results, events and refusals."""

import io

import pytest
from PIL import Image

from im.extensions import db
from im.models import ConversationState, Message, UploadedFile
from tests.support.recorder import wait_until


def send(api, token, recv_id, t="hi", **extra):
    return api.ok("send_message", {"recv_id": recv_id, "content_type": 101, "content": {"text": t}, **extra}, token)


def code(api, name, payload, token):
    return api.call(name, payload, token).get_json()["errCode"]


def cid(a, b):
    return "si_" + "~".join(sorted((a, b)))


def events(sock, type_=None):
    got = [e["args"][0] for e in sock.get_received() if e["name"] == "event"]
    return [e for e in got if type_ is None or e["type"] == type_]


def wait_total(sock, received=()):
    """The total of the next total_unread_message_count_changed push to this socket."""
    got = list(received)

    def pushed():
        got.extend(sock.get_received())
        return [e["args"][0]["total"] for e in got if e["name"] == "total_unread_message_count_changed"]

    wait_until(pushed, message="total_unread_message_count_changed")
    return pushed()[-1]


def test_unread_counts_exact_never_own_never_negative(api):
    a, ta = api.user()
    b, tb = api.user()
    c = cid(a, b)
    for i in range(3):
        send(api, ta, b, f"a{i}")
    assert api.ok("get_total_unread_msg_count", {}, tb) == 3
    assert api.ok("get_total_unread_msg_count", {}, ta) == 0
    assert api.ok("get_one_conversation", {"conversation_id": c}, tb)["unread_count"] == 3
    send(api, tb, a, "reply")  # replying reads what came before
    assert api.ok("get_total_unread_msg_count", {}, tb) == 0
    assert api.ok("get_total_unread_msg_count", {}, ta) == 1
    conv = api.ok("mark_conversation_message_as_read", {"conversation_id": c}, ta)
    assert conv["unread_count"] == 0 and conv["has_read_seq"] == 4
    # marking again changes nothing and never goes below zero
    assert api.ok("mark_conversation_message_as_read", {"conversation_id": c}, ta)["unread_count"] == 0
    assert api.ok("get_total_unread_msg_count", {}, ta) == 0


def test_mark_read_events_to_my_terminals_and_receipt_to_peer(api):
    a, ta = api.user()
    b, tb = api.user()
    send(api, ta, b, "x")
    mine, peer = api.socket(tb), api.socket(ta)
    mine.get_received()
    peer.get_received()
    api.ok("mark_conversation_message_as_read", {"conversation_id": cid(a, b)}, tb)
    received = mine.get_received()
    got = [e["args"][0] for e in received if e["name"] == "event"]
    # The total is derived state: pushed after commit, not logged (tests/test_conversation_state.py).
    assert [e["type"] for e in got] == ["conversation_changed"]
    assert got[0]["data"][0]["unread_count"] == 0
    assert wait_total(mine, received) == 0
    receipt = events(peer, "recv_c2c_read_receipt")
    assert receipt[0]["data"][0]["user_id"] == b and receipt[0]["data"][0]["has_read_seq"] == 1


def test_peer_has_read_seq_survives_a_fresh_start_and_matches_the_receipts(api):
    a, ta = api.user()
    b, tb = api.user()
    c = cid(a, b)
    opened = api.ok("get_one_conversation", {"user_id": b}, ta)
    assert opened["conversation_id"] == c and opened["peer_has_read_seq"] == 0
    for i in range(3):
        send(api, ta, b, f"a{i}")
    listed = api.ok("get_all_conversation_list", {}, ta)[0]
    assert (listed["has_read_seq"], listed["peer_has_read_seq"]) == (3, 0)
    assert api.ok("get_all_conversation_list", {}, tb)[0]["peer_has_read_seq"] == 3  # a sent, so a has read
    peer = api.socket(ta)
    peer.get_received()
    api.ok("mark_conversation_message_as_read", {"conversation_id": c}, tb)
    receipt = events(peer, "recv_c2c_read_receipt")[0]["data"][0]
    # What the live receipt said is what a terminal reading the list from scratch now sees.
    for conv in (
        api.ok("get_one_conversation", {"conversation_id": c}, ta),
        api.ok("get_multiple_conversation", {"conversation_ids": [c]}, ta)[0],
        api.ok("get_conversation_list_split", {"offset": 0, "count": 5}, ta)[0],
    ):
        assert conv["peer_has_read_seq"] == receipt["has_read_seq"] == 3
    send(api, ta, b, "a3")
    assert api.ok("get_one_conversation", {"conversation_id": c}, ta)["peer_has_read_seq"] == 3
    # Deleting the conversation reads it, and says so to the peer like marking it read does.
    peer.get_received()
    api.ok("delete_conversation", {"conversation_id": c}, tb)
    assert events(peer, "recv_c2c_read_receipt")[0]["data"][0]["has_read_seq"] == 4
    assert api.ok("get_one_conversation", {"conversation_id": c}, ta)["peer_has_read_seq"] == 4
    api.ok("delete_conversation", {"conversation_id": c}, tb)  # nothing new read: no receipt
    assert events(peer, "recv_c2c_read_receipt") == []


def test_conversation_list_order_pin_draft_opt_delete(api):
    a, ta = api.user()
    b, _ = api.user()
    c, _ = api.user()
    send(api, ta, b, "to b")
    send(api, ta, c, "to c")
    ids = [x["conversation_id"] for x in api.ok("get_all_conversation_list", {}, ta)]
    assert ids == [cid(a, c), cid(a, b)]  # newest first
    api.ok("pin_conversation", {"conversation_id": cid(a, b), "is_pinned": True}, ta)
    listed = api.ok("get_all_conversation_list", {}, ta)
    assert [x["conversation_id"] for x in listed] == [cid(a, b), cid(a, c)]
    assert listed[0]["user_id"] == b and listed[0]["latest_msg"]["content"]["text"] == "to b"
    assert [x["conversation_id"] for x in api.ok("get_conversation_list_split", {"offset": 1, "count": 5}, ta)] == [
        cid(a, c)
    ]
    draft = api.ok("set_conversation_draft", {"conversation_id": cid(a, c), "text": "later"}, ta)
    assert draft["draft_text"] == "later" and draft["draft_text_time"]
    assert (
        api.ok("set_conversation_recv_message_opt", {"conversation_id": cid(a, c), "opt": 1}, ta)["recv_msg_opt"] == 1
    )
    multiple = api.ok("get_multiple_conversation", {"conversation_ids": [cid(a, c), "si_x~y", cid(a, b)]}, ta)
    assert [x["conversation_id"] for x in multiple] == [cid(a, c), cid(a, b)]
    api.ok("delete_conversation", {"conversation_id": cid(a, c)}, ta)
    assert [x["conversation_id"] for x in api.ok("get_all_conversation_list", {}, ta)] == [cid(a, b)]


def test_looking_at_a_conversation_does_not_show_it_to_the_peer(api):
    a, ta = api.user()
    b, tb = api.user()
    # An empty conversation is opened by its peer: nobody has one by id until it exists.
    assert code(api, "get_one_conversation", {"conversation_id": cid(a, b)}, ta) == 1403
    opened = api.ok("get_one_conversation", {"user_id": b}, ta)
    assert opened["conversation_id"] == cid(a, b) and opened["max_seq"] == 0 and opened["user_id"] == b
    assert api.ok("get_one_conversation", {"conversation_id": cid(a, b)}, ta) == opened
    assert api.ok("get_all_conversation_list", {}, tb) == []
    sock = api.socket(tb)
    sock.get_received()
    send(api, ta, b, "now")
    assert [e["type"] for e in events(sock)] == ["new_conversation"]
    assert [c["conversation_id"] for c in api.ok("get_all_conversation_list", {}, tb)] == [cid(a, b)]


def test_recv_opt_1_gets_no_live_message(api):
    a, ta = api.user()
    b, tb = api.user()
    send(api, ta, b)
    api.ok("set_conversation_recv_message_opt", {"conversation_id": cid(a, b), "opt": 1}, tb)
    sock = api.socket(tb)
    sock.get_received()
    send(api, ta, b, "quiet")
    assert [e for e in sock.get_received() if e["name"] == "new_message"] == []
    assert api.ok("get_total_unread_msg_count", {}, tb) == 0
    assert api.ok("get_one_conversation", {"conversation_id": cid(a, b)}, tb)["unread_count"] == 2


@pytest.mark.parametrize(
    "name, payload",
    [
        ("get_one_conversation", {"conversation_id": "si_nobody~else"}),
        ("pin_conversation", {"conversation_id": "si_nobody~else", "is_pinned": True}),
        ("set_conversation_draft", {"conversation_id": "sg_group", "text": "x"}),
        ("mark_conversation_message_as_read", {"conversation_id": "sg_group"}),
        ("delete_conversation", {"conversation_id": "si_nobody~else"}),
        ("revoke_message", {"conversation_id": "si_nobody~else", "seq": 1}),
        ("delete_message", {"conversation_id": "si_nobody~else", "seq": 1}),
    ],
)
def test_outsider_conversations_not_found(api, name, payload):
    _, token = api.user()
    assert code(api, name, payload, token) == 1403


@pytest.mark.parametrize(
    "name, payload",
    [
        ("get_one_conversation", {}),
        ("get_one_conversation", {"conversation_id": "si_a~b", "user_id": "b"}),
        ("get_one_conversation", {"user_id": "a~b"}),
        ("get_one_conversation", {"conversation_id": "xx_1"}),
        ("pin_conversation", {"conversation_id": "si_a~b", "is_pinned": 1}),
        ("set_conversation_recv_message_opt", {"conversation_id": "si_a~b", "opt": 3}),
        ("set_conversation_draft", {"conversation_id": "si_a~b", "text": "x" * 10_001}),
        ("get_conversation_list_split", {"offset": -1, "count": 1}),
        ("get_conversation_list_split", {"offset": 0, "count": 0}),
        ("get_conversation_list_split", {"offset": 0, "count": 101}),
        ("get_multiple_conversation", {"conversation_ids": []}),
        ("delete_message", {"conversation_id": "si_a~b", "seq": 0}),
        ("get_history_message_list", {"conversation_id": "si_a~b", "count": 101}),
        ("search_messages", {"keyword": ""}),
        ("typing_status_update", {"recv_id": "b", "msg_tip": "x" * 257}),
    ],
)
def test_bad_params(api, name, payload):
    _, token = api.user("a")
    api.user("b")
    assert code(api, name, payload, token) == 1001


def test_revoke_rules(api, app):
    a, ta = api.user()
    b, tb = api.user()
    m = send(api, ta, b, "secret words")
    c = cid(a, b)
    assert code(api, "revoke_message", {"conversation_id": c, "seq": 9}, ta) == 1401
    assert code(api, "revoke_message", {"conversation_id": c}, ta) == 1401
    assert code(api, "revoke_message", {"conversation_id": c, "seq": 1, "client_msg_id": "other"}, ta) == 1401
    assert code(api, "revoke_message", {"conversation_id": c, "seq": 1}, tb) == 1002
    app.config["IM_REVOKE_SECONDS"] = 0
    assert code(api, "revoke_message", {"conversation_id": c, "seq": 1}, ta) == 1402
    with app.app_context():
        assert db.session.get(Message, 1).content == {"text": "secret words"}
    app.config["IM_REVOKE_SECONDS"] = 120
    sock = api.socket(tb)
    sock.get_received()
    revoked = api.ok("revoke_message", {"conversation_id": c, "client_msg_id": m["client_msg_id"]}, ta)
    assert revoked["status"] == 2 and revoked["content"] == {}
    assert events(sock, "new_recv_message_revoked")[0]["data"]["seq"] == 1
    assert api.ok("search_messages", {"keyword": "secret"}, tb)["messages"] == []
    # again: the same answer, no second event
    assert api.ok("revoke_message", {"conversation_id": c, "seq": 1}, ta)["status"] == 2
    assert events(sock, "new_recv_message_revoked") == []


def test_delete_message_for_me_only(api):
    a, ta = api.user()
    b, tb = api.user()
    send(api, ta, b, "one")
    send(api, ta, b, "two")
    c = cid(a, b)
    assert api.ok("delete_message", {"conversation_id": c, "seq": 1}, tb) is None
    assert code(api, "delete_message", {"conversation_id": c, "seq": 1}, tb) == 1401
    assert code(api, "delete_message", {"conversation_id": c, "seq": 7}, tb) == 1401
    assert [m["seq"] for m in api.ok("get_history_message_list", {"conversation_id": c}, tb)["messages"]] == [2]
    assert [m["seq"] for m in api.ok("get_history_message_list", {"conversation_id": c}, ta)["messages"]] == [1, 2]
    pulled = api.ok("pull_messages", {"ranges": [{"conversation_id": c, "begin_seq": 1, "end_seq": 2}]}, tb)
    assert [m["seq"] for m in pulled["messages"]] == [2] and pulled["pulled_to"] == {c: 2}


def test_delete_message_moves_my_preview_back_and_tells_my_other_terminals(api):
    a, ta = api.user()
    b, tb = api.user()
    sent = [send(api, ta, b, f"m{i}") for i in (1, 2, 3)]
    c = cid(a, b)
    other = api.socket(api.login(b, platform_id=3))
    other.get_received()
    start = api.ok("sync_events", {}, tb)["max_seq"]
    unread = api.ok("get_total_unread_msg_count", {}, tb)

    api.ok("delete_message", {"conversation_id": c, "seq": 3}, tb)
    got = events(other)
    assert [e["type"] for e in got] == ["msg_deleted", "conversation_changed"]
    assert got[0]["data"] == sent[2]
    assert got[1]["data"][0]["latest_msg"] == sent[1]
    mine = api.ok("get_one_conversation", {"conversation_id": c}, tb)
    assert mine == got[1]["data"][0]
    assert mine["latest_msg_send_time"] == sent[1]["send_time"] and mine["unread_count"] == unread
    assert api.ok("get_all_conversation_list", {}, tb) == [mine]
    assert api.ok("get_multiple_conversation", {"conversation_ids": [c]}, tb) == [mine]
    assert api.ok("get_total_unread_msg_count", {}, tb) == unread
    # the peer's view is untouched, and the peer hears nothing
    assert api.ok("get_one_conversation", {"conversation_id": c}, ta)["latest_msg"] == sent[2]

    # deleting an older message leaves the preview: only msg_deleted
    api.ok("delete_message", {"conversation_id": c, "seq": 1}, tb)
    assert [(e["type"], e["data"]["seq"]) for e in events(other)] == [("msg_deleted", 1)]
    # deleting the last one left: no preview at all
    api.ok("delete_message", {"conversation_id": c, "seq": 2}, tb)
    got = events(other)
    assert [e["type"] for e in got] == ["msg_deleted", "conversation_changed"]
    assert got[1]["data"][0]["latest_msg"] is None
    # all of it is in the log, for a terminal that was offline
    logged = api.ok("sync_events", {"after_seq": start}, tb)["events"]
    assert [(e["type"], e["data"]["seq"] if e["type"] == "msg_deleted" else None) for e in logged] == [
        ("msg_deleted", 3),
        ("conversation_changed", None),
        ("msg_deleted", 1),
        ("msg_deleted", 2),
        ("conversation_changed", None),
    ]
    # a new message is the preview again
    fresh = send(api, ta, b, "m4")
    assert api.ok("get_one_conversation", {"conversation_id": c}, tb)["latest_msg"] == fresh
    other.disconnect()


def test_refused_delete_publishes_nothing(api):
    a, ta = api.user()
    b, tb = api.user()
    _, tc = api.user()
    send(api, ta, b, "only")
    c = cid(a, b)
    start = api.ok("sync_events", {}, tb)["max_seq"]
    assert code(api, "delete_message", {"conversation_id": c, "seq": 2}, tb) == 1401
    assert code(api, "delete_message", {"conversation_id": c, "seq": 1}, tc) == 1403
    assert code(api, "delete_message", {"conversation_id": c, "seq": 0}, tb) == 1001
    assert code(api, "delete_message", {"conversation_id": c, "seq": "1"}, tb) == 1001
    assert api.ok("sync_events", {}, tb)["max_seq"] == start
    api.ok("delete_message", {"conversation_id": c, "seq": 1}, tb)
    assert code(api, "delete_message", {"conversation_id": c, "seq": 1}, tb) == 1401
    assert api.ok("sync_events", {}, tb)["max_seq"] == start + 2


def test_a_delete_racing_another_terminal_answers_1401_not_500(api, monkeypatch):
    from sqlalchemy import insert

    from im.models import MessageDeletion
    from im.services import messages

    a, ta = api.user()
    b, tb = api.user()
    send(api, ta, b, "only")
    c = cid(a, b)
    start = api.ok("sync_events", {}, tb)["max_seq"]
    found = messages._find

    def found_then_deleted_elsewhere(ctx, user_id, conversation_id, client_msg_id, seq):
        msg = found(ctx, user_id, conversation_id, client_msg_id, seq)
        db.session.execute(
            insert(MessageDeletion), {"user_id": user_id, "conversation_id": conversation_id, "seq": seq}
        )
        return msg

    monkeypatch.setattr(messages, "_find", found_then_deleted_elsewhere)
    body = api.call("delete_message", {"conversation_id": c, "seq": 1}, tb).get_json()
    assert body["errCode"] == 1401
    monkeypatch.undo()
    assert api.ok("sync_events", {}, tb)["max_seq"] == start
    api.ok("delete_message", {"conversation_id": c, "seq": 1}, tb)  # the racing row was rolled back


def test_group_preview_after_delete_stays_inside_my_read_window(api):
    users = {name: api.user(name)[1] for name in ("gowner", "gmember", "glate")}
    gid = api.ok("create_group", {"group_name": "G", "member_user_ids": ["gmember"]}, users["gowner"])["group_id"]
    conv = f"sg_{gid}"
    api.ok("send_message", {"group_id": gid, "content_type": 101, "content": {"text": "early"}}, users["gowner"])
    api.ok("invite_user_to_group", {"group_id": gid, "user_ids": ["glate"]}, users["gowner"])
    last = api.ok("send_message", {"group_id": gid, "content_type": 101, "content": {"text": "late"}}, users["gowner"])
    assert last["seq"] == 4
    api.ok("delete_message", {"conversation_id": conv, "seq": 4}, users["gmember"])
    assert api.ok("get_one_conversation", {"conversation_id": conv}, users["gmember"])["latest_msg"]["seq"] == 3
    # the late joiner reads from seq 3 (the notice of their joining): deleting 3 and 4 leaves no preview,
    # never the older message before their window
    for seq in (4, 3):
        api.ok("delete_message", {"conversation_id": conv, "seq": seq}, users["glate"])
    assert api.ok("get_one_conversation", {"conversation_id": conv}, users["glate"])["latest_msg"] is None
    assert api.ok("get_one_conversation", {"conversation_id": conv}, users["gowner"])["latest_msg"] == last


def test_typing_goes_to_online_terminals_and_is_not_stored(api, app):
    a, ta = api.user()
    b, tb = api.user()
    sock = api.socket(tb)
    sock.get_received()
    assert api.ok("typing_status_update", {"recv_id": b, "msg_tip": "typing"}, ta) is None
    got = [e["args"][0] for e in sock.get_received() if e["name"] == "new_message"]
    assert got[0]["content_type"] == 113 and got[0]["content"] == {"msg_tip": "typing"} and got[0]["seq"] == 0
    assert code(api, "typing_status_update", {"recv_id": "ghost", "msg_tip": ""}, ta) == 1101
    with app.app_context():
        assert db.session.query(Message).count() == 0
        assert db.session.query(ConversationState).count() == 0


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (3, 2)).save(buf, "PNG")
    return buf.getvalue()


def get(api, url, token=None):
    """GET a file and close the response (served files hold an open handle until then)."""
    resp = api.client.get(url, headers={"token": token} if token else {})
    resp.body = resp.get_data()
    resp.close()
    return resp


def upload(api, token, data: bytes, name="f.bin", field="file"):
    """POST a multipart body built here (the test client would spool a large one to an unclosed file)."""
    boundary = "im-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"token": token} if token else {}
    return api.client.post(
        "/api/upload", data=body, headers=headers, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_upload_refusals_change_nothing(api, app, tmp_path):
    app.config["IM_UPLOAD_DIR"] = str(tmp_path / "up")
    _, token = api.user()
    assert upload(api, None, b"x").get_json()["errCode"] == 1500
    assert upload(api, "imt_nope", b"x").get_json()["errCode"] == 1507
    assert upload(api, token, b"").get_json()["errCode"] == 1405
    assert upload(api, token, b"x", field="other").get_json()["errCode"] == 1405
    app.config["IM_UPLOAD_MAX_BYTES"] = 1000
    resp = upload(api, token, b"x" * 2000)
    assert resp.status_code == 413 and resp.get_json()["errCode"] == 1007
    with app.app_context():
        assert db.session.query(UploadedFile).count() == 0
    assert list((tmp_path / "up").glob("*")) == []


def test_upload_type_from_content_and_access(api, app, tmp_path):
    app.config["IM_UPLOAD_DIR"] = str(tmp_path / "up")
    a, ta = api.user()
    b, tb = api.user()
    _, tc = api.user()
    pic = upload(api, ta, _png(), "../../evil.exe").get_json()["data"]
    assert (pic["mime_type"], pic["width"], pic["height"], pic["name"]) == ("image/png", 3, 2, "evil.exe")
    fake = upload(api, ta, b"GIF89a but not really", "x.png").get_json()["data"]
    assert fake["mime_type"] == "application/octet-stream" and "width" not in fake
    big = upload(api, ta, b"%PDF" + b"x" * (1024 * 1024 + 10), "big.pdf").get_json()
    assert big["errCode"] == 0 and big["data"]["size"] == 1024 * 1024 + 14
    url = pic["url"]
    assert get(api, url, ta).status_code == 200  # the uploader
    assert get(api, url, tb).get_json()["errCode"] == 1406  # not shared yet
    api.ok("send_message", {"recv_id": b, "content_type": 102, "content": {"url": url}}, ta)
    resp = get(api, url, tb)
    assert resp.status_code == 200 and resp.body == _png()
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert get(api, url + f"?token={tb}").status_code == 200
    assert get(api, url, tc).get_json()["errCode"] == 1406
    assert get(api, url).get_json()["errCode"] == 1500
    assert get(api, "/api/files/" + "f" * 32, ta).get_json()["errCode"] == 1406
    # revoking the only message carrying it removes the file
    api.ok("revoke_message", {"conversation_id": cid(a, b), "seq": 1}, ta)
    assert get(api, url, ta).get_json()["errCode"] == 1406
    assert not (tmp_path / "up" / url.rsplit("/", 1)[1]).exists()


def test_a_new_message_shows_a_deleted_conversation_again_on_either_side(api):
    a, ta = api.user()
    b, tb = api.user()
    send(api, ta, b, "one")
    api.ok("delete_conversation", {"conversation_id": cid(a, b)}, tb)
    assert api.ok("get_all_conversation_list", {}, tb) == []
    sock = api.socket(tb)
    sock.get_received()
    send(api, ta, b, "two")
    assert [e["type"] for e in events(sock)] == ["new_conversation"]
    listed = api.ok("get_all_conversation_list", {}, tb)
    assert [(c["conversation_id"], c["unread_count"], c["max_seq"]) for c in listed] == [(cid(a, b), 1, 2)]
    # The sender deleted it: their own message shows it again, read up to that message.
    api.ok("delete_conversation", {"conversation_id": cid(a, b)}, ta)
    send(api, ta, b, "three")
    mine = api.ok("get_all_conversation_list", {}, ta)
    assert [(c["conversation_id"], c["unread_count"], c["has_read_seq"], c["hidden"]) for c in mine] == [
        (cid(a, b), 0, 3, False)
    ]
    assert api.ok("get_all_conversation_list", {}, tb)[0]["unread_count"] == 2
