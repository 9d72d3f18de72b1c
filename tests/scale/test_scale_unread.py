"""The total unread count pushed across nodes: the node that handles a change tells the user's
terminals on the other node (presence rows say who is online, the message queue carries the push)."""

from tests.scale.test_scale_chat import client
from tests.scale.test_scale_cluster import register
from tests.support.cluster import wait_for


def test_a_send_on_one_node_pushes_the_total_to_terminals_on_the_other(cluster):
    node1, node2 = cluster.start(2)
    for user in ("ulla", "vik"):
        register(node1.url, user)
    ulla, _ = client([node1.url], "ulla")
    vik, heard = client([node2.url], "vik")
    try:
        wait_for(lambda: heard.of("on_total_unread_message_count_changed") == [0], message="the total at login")
        for i in range(3):
            ulla.send_message("vik", 101, {"text": f"m{i}"})
        wait_for(lambda: heard.of("on_total_unread_message_count_changed")[-1:] == [3], message="a push of 3")
        conversation = vik.get_one_conversation(user_id="ulla")["conversation_id"]
        ulla.send_message("vik", 101, {"text": "one more"})
        wait_for(lambda: heard.of("on_total_unread_message_count_changed")[-1:] == [4], message="a push of 4")
        vik.mark_conversation_message_as_read(conversation)
        wait_for(lambda: heard.of("on_total_unread_message_count_changed")[-1:] == [0], message="a push of 0")
    finally:
        ulla.close()
        vik.close()
