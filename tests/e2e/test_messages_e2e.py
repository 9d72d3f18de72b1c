"""Messages and conversations end to end: real server process, Python SDK, several terminals."""

import io
import itertools
import threading
import time

import pytest
from PIL import Image

from im.sdk import AdvancedMsgListener, ConversationListener, IMClient, IMError
from tests.support.server import LiveServer
from tests.support.tcp_proxy import TcpProxy

_ids = itertools.count(1)
PASSWORD = "password123"


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Recorder(AdvancedMsgListener, ConversationListener):
    """Records every message and conversation callback, in order."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def _add(self, name, *args):
        with self.lock:
            self.calls.append((name, *args))

    def of(self, name):
        with self.lock:
            return [c[1] if len(c) > 1 else None for c in self.calls if c[0] == name]

    def names(self):
        with self.lock:
            return [c[0] for c in self.calls]

    def texts(self):
        return [m["content"].get("text") for m in self.of("on_recv_new_message") if m["content_type"] != 113]

    def on_recv_new_message(self, msg):
        self._add("on_recv_new_message", msg)

    def on_recv_c2c_read_receipt(self, receipts):
        self._add("on_recv_c2c_read_receipt", receipts)

    def on_new_recv_message_revoked(self, revoked):
        self._add("on_new_recv_message_revoked", revoked)

    def on_msg_deleted(self, msg):
        self._add("on_msg_deleted", msg)

    def on_sync_server_start(self):
        self._add("on_sync_server_start")

    def on_sync_server_finish(self):
        self._add("on_sync_server_finish")

    def on_new_conversation(self, conversations):
        self._add("on_new_conversation", conversations)

    def on_conversation_changed(self, conversations):
        self._add("on_conversation_changed", conversations)

    def on_total_unread_message_count_changed(self, total):
        self._add("on_total_unread_message_count_changed", total)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LiveServer(
        tmp_path_factory.mktemp("msg-server"), {"IM_UPLOAD_MAX_BYTES": str(2 * 1024 * 1024), "IM_ASYNC_MODE": "gevent"}
    ).start()
    yield srv
    srv.stop()
    # The server's own errors (a failed operation, emit or sweep), not the web server's broken pipes
    # from clients a test cut off.
    errors = [line for line in srv.log_path.read_text(errors="replace").splitlines() if " ERROR im." in line]
    assert not errors, errors


@pytest.fixture
def clients():
    made = []

    def make(url, user_id=None, platform_id=5, register=True):
        user_id = user_id or f"m{next(_ids)}"
        client = IMClient(url, platform_id=platform_id, timeout=10)
        if register:
            client.register(user_id, PASSWORD, user_id.title())
        recorder = Recorder()
        client.set_advanced_msg_listener(recorder)
        client.set_conversation_listener(recorder)
        client.login(user_id, PASSWORD)
        made.append(client)
        return client, recorder, user_id

    yield make
    for client in made:
        client.close()


def text(t):
    return {"text": t}


def cid_of(a, b):
    return "si_" + "~".join(sorted((a, b)))


def test_two_terminals_conversations_receipts_revoke_typing(server, clients):
    alice, ra, a = clients(server.url)
    alice2, ra2, _ = clients(server.url, a, platform_id=1, register=False)
    bob, rb, b = clients(server.url)
    cid = cid_of(a, b)

    m1 = bob.send_message(a, 101, text("hello"))
    m2 = bob.send_message(recv_id=a, content_type=106, content={"text": "@you", "at_user_ids": [a]})
    assert (m1["seq"], m2["seq"]) == (1, 2) and m1["conversation_id"] == cid
    for rec in (ra, ra2):
        wait_for(lambda rec=rec: len(rec.of("on_recv_new_message")) == 2, what="both alice terminals")
        assert [m["seq"] for m in rec.of("on_recv_new_message")] == [1, 2]
        wait_for(lambda rec=rec: rec.of("on_new_conversation"), what="new conversation")
        assert rec.of("on_new_conversation")[0][0]["conversation_id"] == cid
        wait_for(lambda rec=rec: 2 in rec.of("on_total_unread_message_count_changed"), what="unread 2")
    # the sender's own terminal gets no echo of what it sent
    assert rb.of("on_recv_new_message") == []
    assert alice.get_total_unread_msg_count() == 2 and bob.get_total_unread_msg_count() == 0

    # a reply from alice's first terminal reaches bob and alice's other terminal; own messages are not unread
    m3 = alice.send_message(b, 114, {"text": "re", "quote_seq": 1})
    wait_for(lambda: [m["seq"] for m in rb.of("on_recv_new_message")] == [3], what="bob got the reply")
    wait_for(lambda: len(ra2.of("on_recv_new_message")) == 3, what="alice2 got her own reply")
    assert ra.of("on_recv_new_message")[-1]["seq"] == 2
    wait_for(
        lambda: any(
            c["conversation_id"] == cid and c["latest_msg"]["seq"] == 3
            for batch in ra.of("on_conversation_changed")
            for c in batch
        ),
        what="the sending terminal's conversation changed",
    )
    assert bob.get_one_conversation(cid)["unread_count"] == 1
    assert alice.get_one_conversation(cid)["unread_count"] == 0

    # read receipt: bob reads; his other state follows and alice is told
    conv = bob.mark_conversation_message_as_read(cid)
    assert conv["unread_count"] == 0 and conv["has_read_seq"] == 3
    wait_for(lambda: ra.of("on_recv_c2c_read_receipt") and ra2.of("on_recv_c2c_read_receipt"), what="receipt")
    receipt = ra.of("on_recv_c2c_read_receipt")[0][0]
    assert receipt["user_id"] == b and receipt["has_read_seq"] == 3 and receipt["conversation_id"] == cid
    # what the receipt said is in the conversation too, for a terminal that starts afresh
    assert [c["peer_has_read_seq"] for c in alice2.get_all_conversation_list() if c["conversation_id"] == cid] == [3]
    wait_for(lambda: 0 in rb.of("on_total_unread_message_count_changed"), what="bob total 0")

    # settings reach the other terminal through the event log
    alice.pin_conversation(cid, True)
    wait_for(lambda: any(c[0]["is_pinned"] for c in ra2.of("on_conversation_changed")), what="pin on alice2")
    alice.set_conversation_draft(cid, "draft…")
    wait_for(
        lambda: any(c[0]["draft_text"] == "draft…" for c in ra2.of("on_conversation_changed")), what="draft on alice2"
    )
    bob.send_message(a, 101, text("more"))
    wait_for(lambda: ra2.texts()[-1:] == ["more"], what="alice2 got more")
    # the terminal that sent the reply heard the messages before and after it, never the reply itself
    wait_for(lambda: ra.texts()[-1:] == ["more"], what="alice got more")
    assert [m["seq"] for m in ra.of("on_recv_new_message")] == [1, 2, 4]
    assert alice.get_total_unread_msg_count() == 1  # her own reply marked the earlier ones read
    alice.set_conversation_recv_message_opt(cid, 2)
    assert alice2.get_one_conversation(cid)["recv_msg_opt"] == 2
    assert alice.get_total_unread_msg_count() == 0  # opt 2 is left out of the total
    alice.set_conversation_recv_message_opt(cid, 0)
    assert alice.get_total_unread_msg_count() == 1
    assert [c["conversation_id"] for c in alice2.get_all_conversation_list()] == [cid]
    assert alice2.get_conversation_list_split(0, 10)[0]["is_pinned"] is True

    # typing reaches bob's online terminal and is not stored
    alice.typing_status_update(b, "typing…")
    wait_for(lambda: any(m["content_type"] == 113 for m in rb.of("on_recv_new_message")), what="typing")
    assert alice.get_one_conversation(cid)["max_seq"] == 4

    # revoke: everybody in the conversation hears it, history shows it revoked, content is gone
    alice.revoke_message(cid, client_msg_id=m3["client_msg_id"])
    for rec in (ra2, rb):
        wait_for(lambda rec=rec: rec.of("on_new_recv_message_revoked"), what="revoked")
        assert rec.of("on_new_recv_message_revoked")[0]["seq"] == 3
    last = bob.get_history_message_list(cid)["messages"][2]
    assert last["seq"] == 3 and last["status"] == 2 and last["content"] == {}
    with pytest.raises(IMError) as exc:
        bob.revoke_message(cid, seq=3)  # not his
    assert exc.value.code == 1002

    # delete for me only; delete the conversation until a new message
    alice.delete_message(cid, 1)
    assert [m["seq"] for m in alice.get_history_message_list(cid)["messages"]] == [2, 3, 4]
    assert [m["seq"] for m in bob.get_history_message_list(cid)["messages"]] == [1, 2, 3, 4]
    assert [m["content"]["text"] for m in bob.search_messages("hell")["messages"]] == ["hello"]
    assert alice.search_messages("hell")["messages"] == []
    alice.delete_conversation(cid)
    assert alice2.get_all_conversation_list() == []
    count_before = len(ra2.of("on_new_conversation"))
    bob.send_message(a, 101, text("back"))
    wait_for(lambda: len(ra2.of("on_new_conversation")) > count_before, what="conversation back")
    assert [c["conversation_id"] for c in alice.get_all_conversation_list()] == [cid]
    assert alice.get_total_unread_msg_count() == 1


def test_delete_for_me_reaches_my_other_terminals_and_moves_the_preview_back(server, clients):
    alice, ra, a = clients(server.url)
    alice_pad, ra_pad, _ = clients(server.url, a, platform_id=9, register=False)
    bob, rb, b = clients(server.url)
    cid = cid_of(a, b)
    first = bob.send_message(a, 101, text("first"))
    second = bob.send_message(a, 101, text("second"))
    wait_for(lambda: ra_pad.texts() == ["first", "second"], what="the pad got both")
    alice_pad.logout()  # offline while the other terminal deletes

    alice.delete_message(cid, second["seq"])
    wait_for(lambda: ra.of("on_msg_deleted"), what="the deleting terminal heard it")
    assert ra.of("on_msg_deleted") == [second]
    wait_for(
        lambda: any(
            c["conversation_id"] == cid and c["latest_msg"] == first
            for batch in ra.of("on_conversation_changed")
            for c in batch
        ),
        what="the preview moved back to the first message",
    )
    alice_pad.login(a, PASSWORD)
    wait_for(lambda: ra_pad.of("on_msg_deleted"), what="the pad caught up on the deletion")
    assert ra_pad.of("on_msg_deleted") == [second]
    wait_for(
        lambda: any(
            c["conversation_id"] == cid and c["latest_msg"] == first
            for batch in ra_pad.of("on_conversation_changed")
            for c in batch
        ),
        what="the pad's preview moved back",
    )
    assert alice_pad.get_one_conversation(cid)["latest_msg"] == first
    # the peer keeps the message and hears nothing of it; its search pages through both
    assert bob.get_one_conversation(cid)["latest_msg"] == second
    page = bob.search_messages("s", cid, count=1)
    assert page["messages"] == [second] and page["has_more"] is True
    assert bob.search_messages("s", cid, cursor=page["cursor"], count=1) == {
        "messages": [first],
        "has_more": False,
        "cursor": None,
    }
    assert alice.search_messages("s", cid) == {"messages": [first], "has_more": False, "cursor": None}
    assert rb.of("on_msg_deleted") == []


def test_offline_receiver_gets_exactly_the_missed_50_in_order(server, clients):
    proxy = TcpProxy(server.port)
    try:
        alice, ra, a = clients(server.url)
        bob, rb, b = clients(proxy.url)
        alice.send_message(b, 101, text("before"))
        wait_for(lambda: rb.texts() == ["before"], what="online message")
        wait_for(lambda: 1 in rb.of("on_total_unread_message_count_changed"), what="unread 1")
        proxy.cut()
        wait_for(lambda: not bob._sio, what="bob offline")
        sent = [alice.send_message(b, 101, text(f"n{i}"))["seq"] for i in range(50)]
        assert sent == list(range(2, 52))
        starts = len(rb.of("on_sync_server_start"))
        proxy.resume()
        wait_for(
            lambda: len(rb.texts()) == 51 and len(rb.of("on_sync_server_finish")) > starts, timeout=20, what="catch-up"
        )
        assert rb.texts() == ["before"] + [f"n{i}" for i in range(50)]
        names = rb.names()
        start = len(names) - 1 - names[::-1].index("on_sync_server_start")
        finish = names.index("on_sync_server_finish", start)
        window = [n for n in names[start:finish] if n == "on_recv_new_message"]
        assert len(window) == 50
        wait_for(lambda: 51 in rb.of("on_total_unread_message_count_changed"), what="unread after catch-up")
        # Nothing delivered twice: instead of a pause that a loaded machine may outlast, a live
        # message sent now is the next thing bob hears, and any repeat would be ahead of it.
        alice.send_message(b, 101, text("after"))
        wait_for(lambda: rb.texts()[-1:] == ["after"], what="the live message after the catch-up")
        assert rb.texts() == ["before"] + [f"n{i}" for i in range(50)] + ["after"]
    finally:
        proxy.close()


def test_ten_threads_leave_contiguous_seqs_and_each_is_delivered_once(server, clients):
    alice, ra, a = clients(server.url)
    bob, rb, b = clients(server.url)
    errors = []

    def worker(client, to, k):
        try:
            for i in range(10):
                client.send_message(to, 101, text(f"{k}-{i}"))
        except IMError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=((alice, b) if k % 2 else (bob, a)) + (k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    cid = cid_of(a, b)
    seqs = []
    start = None
    while True:
        page = alice.get_history_message_list(cid, start_seq=start, count=100)
        seqs = [m["seq"] for m in page["messages"]] + seqs
        if page["is_end"]:
            break
        start = page["messages"][0]["seq"]
    assert seqs == list(range(1, 101))
    wait_for(
        lambda: len(ra.of("on_recv_new_message")) == 50 and len(rb.of("on_recv_new_message")) == 50,
        what="each side got the other's 50",
    )
    for rec, sender in ((ra, b), (rb, a)):
        got = [m["seq"] for m in rec.of("on_recv_new_message")]
        assert got == sorted(got) and len(set(got)) == 50
        assert all(m["send_id"] == sender for m in rec.of("on_recv_new_message"))
    assert alice.get_one_conversation(cid)["unread_count"] >= 0


def test_resend_with_same_client_msg_id_returns_first(server, clients):
    alice, _, a = clients(server.url)
    bob, rb, b = clients(server.url)
    first = alice.send_message(b, 101, text("once"), client_msg_id="fixed-id-1")
    again = alice.send_message(b, 101, text("twice"), client_msg_id="fixed-id-1")
    assert again == first
    assert [m["content"]["text"] for m in bob.get_history_message_list(cid_of(a, b))["messages"]] == ["once"]
    wait_for(lambda: rb.texts() == ["once"], what="delivered once")


def _png(width, height) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_upload_picture_and_file_end_to_end_and_outsiders_see_nothing(server, clients, tmp_path):
    alice, _, a = clients(server.url)
    bob, rb, b = clients(server.url)
    carol, _, c = clients(server.url)
    picture = tmp_path / "cat.txt"  # the name lies: the type comes from the bytes
    picture.write_bytes(_png(64, 48))
    info = alice.upload_file(picture)
    assert (info["mime_type"], info["width"], info["height"]) == ("image/png", 64, 48)
    doc = tmp_path / "report.pdf"
    doc.write_bytes(b"%PDF-1.4\n" + b"x" * (1024 * 1024 + 5000))  # above the 1 MiB request limit
    doc_info = alice.upload_file(doc)
    assert doc_info["mime_type"] == "application/pdf" and doc_info["size"] == doc.stat().st_size
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (2 * 1024 * 1024 + 1))
    with pytest.raises(IMError) as exc:
        alice.upload_file(big)
    assert exc.value.code == 1007

    with pytest.raises(IMError) as exc:
        alice.send_message(b, 102, {"url": doc_info["url"]})
    assert exc.value.code == 1404
    pic_msg = alice.send_message(b, 102, {"url": info["url"]})
    assert pic_msg["content"]["width"] == 64 and pic_msg["content"]["name"] == "cat.txt"
    alice.send_message(b, 105, {"url": doc_info["url"], "name": "ignored"})
    wait_for(lambda: len(rb.of("on_recv_new_message")) == 2, what="bob got both")
    got_pic, got_doc = rb.of("on_recv_new_message")
    assert bob.download_file(got_pic["content"]["url"]) == picture.read_bytes()
    assert bob.download_file(got_doc["content"]["url"]) == doc.read_bytes()

    # carol is in no conversation carrying them: neither the files nor the history
    for url in (info["url"], doc_info["url"]):
        with pytest.raises(IMError) as exc:
            carol.download_file(url)
        assert exc.value.code == 1406
    with pytest.raises(IMError) as exc:
        carol.get_history_message_list(cid_of(a, b))
    assert exc.value.code == 1403
    with pytest.raises(IMError) as exc:
        carol.send_message(a, 102, {"url": info["url"]})
    assert exc.value.code == 1406


def test_a_message_lost_while_online_is_pulled_when_the_next_one_shows_the_gap(server, clients):
    alice, _, a = clients(server.url)
    bob = IMClient(server.url, timeout=10)
    b = f"m{next(_ids)}"
    bob.register(b, PASSWORD, "Bob")
    rb = Recorder()
    bob.set_advanced_msg_listener(rb)
    real_handler = bob._on_new_message
    dropped = []

    def lossy(msg):
        # the network loses the push of seq 2 (and only that one)
        if msg.get("seq") == 2 and not dropped:
            dropped.append(msg)
            return
        real_handler(msg)

    bob._on_new_message = lossy
    bob.login(b, PASSWORD)
    try:
        alice.send_message(b, 101, text("one"))
        wait_for(lambda: rb.texts() == ["one"], what="first")
        alice.send_message(b, 101, text("two"))
        wait_for(lambda: dropped, what="the push of seq 2 was lost")
        assert rb.texts() == ["one"]
        alice.send_message(b, 101, text("three"))
        wait_for(lambda: rb.texts() == ["one", "two", "three"], what="gap filled in order")
    finally:
        bob.close()


def test_send_retries_with_the_same_client_msg_id_after_a_network_error(server, clients):
    proxy = TcpProxy(server.port)
    try:
        alice, _, a = clients(proxy.url)
        bob, rb, b = clients(server.url)
        failed = []
        real_call = alice._call

        def watched_call(name, **params):
            try:
                return real_call(name, **params)
            except IMError as exc:
                if name == "send_message":
                    failed.append(exc.code)
                raise

        alice._call = watched_call
        proxy.cut()
        wait_for(lambda: not alice._sio, what="alice offline")
        result = []
        sender = threading.Thread(
            target=lambda: result.append(alice.send_message(b, 101, text("through"), client_msg_id="retry-me"))
        )
        sender.start()
        # the network comes back only once an attempt has failed on it, however slow the machine
        wait_for(lambda: failed, what="a first attempt failing while the network is down")
        proxy.resume()
        sender.join(15)
        assert result and result[0]["client_msg_id"] == "retry-me"
        assert failed[0] in (10001, 10002)  # a network error or timeout, which the retry answers
        history = bob.get_history_message_list(cid_of(a, b))["messages"]
        assert [m["content"]["text"] for m in history] == ["through"]
        wait_for(lambda: rb.texts() == ["through"], what="delivered once")
    finally:
        proxy.close()


def test_a_restarted_program_with_data_dir_gets_only_what_it_missed(server, clients, tmp_path):
    alice, _, a = clients(server.url)
    b = f"m{next(_ids)}"
    first = IMClient(server.url, data_dir=tmp_path, timeout=10)
    first.register(b, PASSWORD, "Bob")
    r1 = Recorder()
    first.set_advanced_msg_listener(r1)
    first.login(b, PASSWORD)
    alice.send_message(b, 101, text("seen"))
    wait_for(lambda: r1.texts() == ["seen"], what="first program got it")
    # The listener hears a message before the SDK writes down that it was seen: this test is about a
    # program that stops after both, so it waits for the second too.
    wait_for(lambda: first._load_msg_seqs() == {cid_of(a, b): 1}, what="first program remembered it")
    first.close()
    for i in range(3):
        alice.send_message(b, 101, text(f"missed{i}"))
    second = IMClient(server.url, data_dir=tmp_path, timeout=10)
    r2 = Recorder()
    second.set_advanced_msg_listener(r2)
    second.set_conversation_listener(r2)
    second.login(b, PASSWORD)
    try:
        wait_for(lambda: r2.of("on_sync_server_finish"), what="sync finished")
        assert r2.texts() == ["missed0", "missed1", "missed2"]
    finally:
        second.close()


def test_catch_up_goes_on_when_the_byte_bound_cuts_pages_short(tmp_path, clients):
    """With a small IM_MAX_ANSWER_BYTES every pull and event page is cut by bytes, far below its
    count: the SDK must go on from `pulled_to` and `has_more`, never stop at a short page."""
    srv = LiveServer(tmp_path / "bounded", {"IM_MAX_ANSWER_BYTES": "4000", "IM_ASYNC_MODE": "gevent"}).start()
    proxy = TcpProxy(srv.port)
    try:
        alice, _ra, a = clients(srv.url)
        bob, rb, b = clients(proxy.url)
        bob_desk, _rd, _ = clients(srv.url, user_id=b, platform_id=1, register=False)
        first = alice.send_message(b, 101, text("before " + "p" * 900))
        wait_for(lambda: len(rb.texts()) == 1, what="online message")
        proxy.cut()
        wait_for(lambda: not bob._sio, what="bob offline")
        sent = [alice.send_message(b, 101, text(f"n{i} " + "p" * 900))["seq"] for i in range(30)]
        # Each deletion (for bob, from his other terminal) logs the whole message: events of about 1 KB.
        for seq in sent[:12]:
            bob_desk.delete_message(first["conversation_id"], seq)
        proxy.resume()
        wait_for(lambda: len(rb.texts()) == 19, timeout=30, what="message catch-up")
        wait_for(lambda: len(rb.of("on_msg_deleted")) == 12, timeout=30, what="event catch-up")
        assert [t.split(" ")[0] for t in rb.texts()] == ["before"] + [f"n{i}" for i in range(12, 30)]
        assert [m["seq"] for m in rb.of("on_msg_deleted")] == sent[:12]
        time.sleep(0.3)
        assert len(rb.texts()) == 19 and len(rb.of("on_msg_deleted")) == 12  # nothing twice
    finally:
        proxy.close()
        srv.stop()
