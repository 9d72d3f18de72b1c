"""One-to-one conversation ids: one per pair of users, never shared by two pairs, never parsed.

With the old form `si_<smaller>_<larger>` the pairs (john_smith, mary) and (john, smith_mary) had one id,
so the second pair read the first one's history, files and search results and wrote into it.
"""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from im.operations.registry import UserId
from im.sdk import single_conversation_id as sdk_single_conversation_id
from im.services.conversations import single_conversation_id

FIRST, SECOND = ("john_smith", "mary"), ("john", "smith_mary")
USER_ID_PATTERN = next(m.pattern for m in UserId.__metadata__ if getattr(m, "pattern", None))


def send(api, token, recv_id, text):
    return api.ok("send_message", {"recv_id": recv_id, "content_type": 101, "content": {"text": text}}, token)


def code(api, name, payload, token):
    return api.call(name, payload, token).get_json()["errCode"]


def upload(api, token, data: bytes, name: str):
    boundary = "im-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    resp = api.client.post(
        "/api/upload", data=body, headers={"token": token}, content_type=f"multipart/form-data; boundary={boundary}"
    )
    return resp.get_json()["data"]


def fetch(api, url, token):
    resp = api.client.get(url, headers={"token": token})
    resp.get_data()
    resp.close()
    return resp


def test_a_pair_whose_ids_join_alike_cannot_reach_another_pairs_conversation(api, app, tmp_path):
    app.config["IM_UPLOAD_DIR"] = str(tmp_path / "up")
    tokens = {u: api.user(u)[1] for u in (*FIRST, *SECOND)}
    secret = send(api, tokens["john_smith"], "mary", "the secret plan")
    file = upload(api, tokens["john_smith"], b"%PDF-1.4 private", "plan.pdf")
    api.ok(
        "send_message", {"recv_id": "mary", "content_type": 105, "content": {"url": file["url"]}}, tokens["john_smith"]
    )
    theirs = secret["conversation_id"]
    assert fetch(api, file["url"], tokens["mary"]).status_code == 200

    # Before the second pair says a word: the first pair's id is not theirs to read.
    for outsider in SECOND:
        t = tokens[outsider]
        assert code(api, "get_history_message_list", {"conversation_id": theirs}, t) == 1403
        assert code(api, "get_one_conversation", {"conversation_id": theirs}, t) == 1403

    hello = send(api, tokens["john"], "smith_mary", "hello")
    reply = send(api, tokens["smith_mary"], "john", "hi")
    ours = hello["conversation_id"]
    assert ours != theirs and reply["conversation_id"] == ours
    assert [hello["seq"], reply["seq"]] == [1, 2]  # a conversation of their own, not appended to the other
    for outsider in SECOND:
        t = tokens[outsider]
        history = api.ok("get_history_message_list", {"conversation_id": ours, "count": 100}, t)["messages"]
        assert [m["content"].get("text") for m in history] == ["hello", "hi"]
        for name, params in [
            ("get_history_message_list", {"conversation_id": theirs}),
            ("pull_messages", {"ranges": [{"conversation_id": theirs, "begin_seq": 1, "end_seq": 9}]}),
            ("search_messages", {"keyword": "secret", "conversation_id": theirs}),
            ("mark_conversation_message_as_read", {"conversation_id": theirs}),
            ("revoke_message", {"conversation_id": theirs, "seq": 1}),
            ("delete_message", {"conversation_id": theirs, "seq": 1}),
        ]:
            assert code(api, name, params, t) == 1403, name
        assert api.ok("search_messages", {"keyword": "secret"}, t)["messages"] == []
        assert api.ok("search_messages", {"keyword": "plan"}, t)["messages"] == []
        assert fetch(api, file["url"], t).get_json()["errCode"] == 1406
        assert theirs not in api.ok("get_max_seqs", {}, t)["conversations"]
        assert [c["conversation_id"] for c in api.ok("get_all_conversation_list", {}, t)] == [ours]
    # ... and nothing they wrote reached the first pair.
    for insider in FIRST:
        history = api.ok("get_history_message_list", {"conversation_id": theirs, "count": 100}, tokens[insider])[
            "messages"
        ]
        assert [m["seq"] for m in history] == [1, 2] and {m["send_id"] for m in history} == {"john_smith"}
        assert [c["conversation_id"] for c in api.ok("get_all_conversation_list", {}, tokens[insider])] == [theirs]


def test_opening_by_peer_answers_the_servers_id(api):
    _, ta = api.user("ann_lee")
    api.user("bo")
    opened = api.ok("get_one_conversation", {"user_id": "bo"}, ta)
    assert opened["conversation_id"] == "si_ann_lee~bo" == sdk_single_conversation_id("bo", "ann_lee")
    assert code(api, "get_one_conversation", {"user_id": "nobody"}, ta) == 1101
    # The old form of the id names no conversation, whatever it looks like.
    assert code(api, "get_one_conversation", {"conversation_id": "si_ann_lee_bo"}, ta) == 1403


user_ids = st.from_regex(USER_ID_PATTERN, fullmatch=True)
# Few letters and many underscores: ids that join alike, the way the collision was found.
tight_ids = st.text(alphabet="ab_.-", min_size=1, max_size=6).filter(lambda s: re.fullmatch(USER_ID_PATTERN, s))
any_id = st.one_of(user_ids, tight_ids)


def _valid(user_id: str) -> bool:
    return re.fullmatch(USER_ID_PATTERN, user_id) is not None


@st.composite
def two_pairs(draw):
    """Two pairs of valid user ids: unrelated, or the second cut from the first's ids joined by "_"."""
    a, b = draw(any_id), draw(any_id)
    joined = f"{a}_{b}"
    cuts = [i for i, ch in enumerate(joined) if ch == "_" and _valid(joined[:i]) and _valid(joined[i + 1 :])]
    if cuts and draw(st.booleans()):
        i = draw(st.sampled_from(cuts))
        return (a, b), (joined[:i], joined[i + 1 :])
    return (a, b), (draw(any_id), draw(any_id))


@settings(max_examples=1000, deadline=None)
@given(two_pairs())
def test_no_two_pairs_share_an_id(pairs):
    (a, b), (c, d) = pairs
    if {a, b} != {c, d}:
        assert single_conversation_id(a, b) != single_conversation_id(c, d)
    assert single_conversation_id(a, b) == single_conversation_id(b, a) == sdk_single_conversation_id(b, a)
    assert len(single_conversation_id(a, b)) <= 160  # the column's width, for two ids of 64


def test_the_separator_is_outside_the_user_id_alphabet():
    assert not re.fullmatch(USER_ID_PATTERN, "a~b")
