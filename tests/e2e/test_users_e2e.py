"""The user's own profile end to end: UserListener.on_self_info_updated on every terminal of the user."""

from im.sdk import IMClient
from tests.support.recorder import Recorder

PASSWORD = "password123"


def test_profile_change_reaches_every_terminal_and_an_offline_one_catches_up(live_server):
    server = live_server()
    phone, pc, tablet, bob = (IMClient(server.url, platform_id=p) for p in (2, 3, 9, 5))
    try:
        phone.register("alice", PASSWORD, "Alice")
        bob.register("bob", PASSWORD, "Bob")
        recorders = {}
        for client in (phone, pc, tablet, bob):
            recorders[client] = Recorder()
            client.set_user_listener(recorders[client])
        for client in (phone, pc, tablet):
            client.login("alice", PASSWORD)
        bob.login("bob", PASSWORD)
        tablet.logout()

        updated = phone.set_self_info(nickname="Alicia", face_url="https://example.com/a.png")
        assert updated["nickname"] == "Alicia"
        # the acting terminal and its online sibling hear it
        assert recorders[phone].wait_for("on_self_info_updated") == [(updated,)]
        assert recorders[pc].wait_for("on_self_info_updated") == [(updated,)]
        # a terminal that was signed out hears it once it signs in again
        tablet.login("alice", PASSWORD)
        assert recorders[tablet].wait_for("on_self_info_updated") == [(updated,)]
        pc.set_self_info(nickname="Alicia")  # unchanged: nobody hears anything
        again = phone.set_self_info(face_url="")
        for client in (phone, pc, tablet):
            assert recorders[client].wait_for("on_self_info_updated", 2) == [(updated,), (again,)]
        # bob heard none of alice's: his own change, made after, is the first thing he hears
        own = bob.set_self_info(nickname="Bobby")
        assert recorders[bob].wait_for("on_self_info_updated") == [(own,)]
        assert recorders[bob].names() == ["on_self_info_updated"]
    finally:
        for client in (phone, pc, tablet, bob):
            client.close()
