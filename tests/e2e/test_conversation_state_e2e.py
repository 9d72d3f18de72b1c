"""The total unread count through the Python SDK against a real server: asked once at login, then
pushed by the server on every change, never asked again after a message; the list paged."""

import itertools

from im.sdk import IMClient
from tests.support.recorder import Recorder, wait_until

_ids = itertools.count(1)
PASSWORD = "password123"


class CountingClient(IMClient):
    """The SDK as shipped; it only counts the operations it calls, so the test can see what it asks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: list[str] = []

    def _call(self, name, **params):
        self.asked.append(name)
        return super()._call(name, **params)

    def _rest(self, name, payload=None, *, token=None):
        self.asked.append(name)
        return super()._rest(name, payload, token=token)


def client(url, user_id, register=True, platform_id=5):
    c = CountingClient(url, platform_id=platform_id, timeout=10)
    if register:
        c.register(user_id, PASSWORD, user_id.title())
    rec = Recorder(c)
    c.set_conversation_listener(rec)
    c.login(user_id, PASSWORD)
    return c, rec


def totals(rec):
    return [args[0] for args in rec.args("on_total_unread_message_count_changed")]


def wait_total(rec, total, after=0):
    wait_until(lambda: totals(rec)[after:][-1:] == [total], message=f"on_total_unread_message_count_changed({total})")
    return len(totals(rec))


def test_the_sdk_hears_the_total_from_the_server_and_stops_re_asking(live_server):
    server = live_server()
    a, b = f"cs{next(_ids)}", f"cs{next(_ids)}"
    alice, ra = client(server.url, a)
    bob, rb = client(server.url, b)
    bob2, rb2 = client(server.url, b, register=False, platform_id=1)
    try:
        # Login: one ask, after the sync. The ask is made before login() returns; the listener hears
        # its answer on the SDK's callback thread, in its own time.
        for rec in (ra, rb, rb2):
            rec.wait_for("on_total_unread_message_count_changed")
        assert ra.names().index("on_sync_server_finish") < ra.names().index("on_total_unread_message_count_changed")
        assert totals(ra) == [0] and alice.asked.count("get_total_unread_msg_count") == 1
        seen = [len(totals(rb)), len(totals(rb2))]
        asked = bob.asked.count("get_total_unread_msg_count")
        for i in range(5):
            alice.send_message(b, 101, {"text": f"m{i}"})
        seen = [wait_total(rec, 5, n) for rec, n in zip((rb, rb2), seen)]
        # The conversations are fetched once per batch, the total never: the server pushed it.
        rb.wait_for("on_conversation_changed")
        assert bob.asked.count("get_total_unread_msg_count") == asked
        bob2.mark_conversation_message_as_read(bob2.get_one_conversation(user_id=a)["conversation_id"])
        seen = [wait_total(rec, 0, n) for rec, n in zip((rb, rb2), seen)]
        assert bob.asked.count("get_total_unread_msg_count") == asked

        # Away and back: what came meanwhile is one total, asked once after the sync.
        bob.logout()
        alice.send_message(b, 101, {"text": "while away"})
        gid = alice.create_group("g", [b])["group_id"]
        alice.send_message(group_id=gid, content_type=101, content={"text": "in the group"})
        bob3, rb3 = client(server.url, b, register=False)
        wait_total(rb3, 3)
        assert bob3.asked.count("get_total_unread_msg_count") == 1

        # The list, page by page, is the whole list in order.
        pages, offset = [], 0
        while page := bob3.get_conversation_list_split(offset, 1):
            pages += page
            offset += len(page)
        assert [c["conversation_id"] for c in pages] == [c["conversation_id"] for c in bob3.get_all_conversation_list()]
        assert len(pages) == 2 and pages[0]["group_id"] == gid
        bob3.close()
    finally:
        for c in (alice, bob, bob2):
            c.close()
