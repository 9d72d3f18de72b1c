"""Answers bounded in bytes as well as in count: a page stops near IM_MAX_ANSWER_BYTES, always holds
at least one item, and says the client should go on (pulled_to / is_end / has_more)."""

import json

BIG = "x" * 60_000  # a custom message's content is at most 64 KiB


def size(data) -> int:
    return len(json.dumps(data, separators=(",", ":")))


def send_custom(api, token, recv_id, n, blob=BIG):
    return api.ok(
        "send_message", {"recv_id": recv_id, "content_type": 110, "content": {"data": {"n": n, "blob": blob}}}, token
    )


def pull_all(api, token, cid, end):
    """Pull 1..end the way both SDKs do: go on from pulled_to until the range is done."""
    pages, begin = [], 1
    while begin <= end:
        page = api.ok(
            "pull_messages", {"ranges": [{"conversation_id": cid, "begin_seq": begin, "end_seq": end}]}, token
        )
        pages.append(page)
        assert page["pulled_to"][cid] >= begin, "no progress"
        begin = page["pulled_to"][cid] + 1
    return pages


def test_pull_messages_with_the_largest_limit_stays_near_one_mib(api):
    a, ta = api.user()
    b, tb = api.user()
    cid = send_custom(api, ta, b, 0)["conversation_id"]
    for n in range(1, 40):
        send_custom(api, ta, b, n)
    answer = api.call(
        "pull_messages", {"ranges": [{"conversation_id": cid, "begin_seq": 1, "end_seq": 40}], "limit": 2000}, tb
    )
    body = answer.get_json()["data"]
    print(f"40 messages of 60 KB: one pull answered {len(answer.data)} bytes, {len(body['messages'])} messages")
    assert len(answer.data) <= 1024 * 1024 + 64 * 1024
    assert 0 < len(body["messages"]) < 40 and body["is_end"] is False
    assert body["pulled_to"][cid] == body["messages"][-1]["seq"]
    pages = pull_all(api, tb, cid, 40)
    seqs = [m["seq"] for p in pages for m in p["messages"]]
    assert seqs == list(range(1, 41)) and pages[-1]["is_end"] is True


def test_pull_cut_by_bytes_across_conversations_continues_exactly(api, app):
    app.config["IM_MAX_ANSWER_BYTES"] = 5_000
    a, ta = api.user()
    b, tb = api.user()
    c, tc = api.user()
    cids = {}
    for sender, token in ((a, ta), (c, tc)):
        for n in range(6):
            cids[sender] = send_custom(api, token, b, n, blob="y" * 1500)["conversation_id"]
    pending = {cid: [1, 6] for cid in cids.values()}
    got, calls = {cid: [] for cid in pending}, 0
    while pending:
        page = api.ok(
            "pull_messages",
            {"ranges": [{"conversation_id": cid, "begin_seq": lo, "end_seq": hi} for cid, (lo, hi) in pending.items()]},
            tb,
        )
        calls += 1
        assert size(page["messages"]) <= 5_000
        for m in page["messages"]:
            got[m["conversation_id"]].append(m["seq"])
        for cid, done in page["pulled_to"].items():
            if done >= pending[cid][1]:
                del pending[cid]
            else:
                pending[cid][0] = done + 1
    assert all(seqs == list(range(1, 7)) for seqs in got.values())
    assert calls >= 4


def test_one_message_larger_than_the_bound_still_comes_alone(api, app):
    app.config["IM_MAX_ANSWER_BYTES"] = 1_000
    a, ta = api.user()
    b, tb = api.user()
    cid = send_custom(api, ta, b, 0, blob="z" * 5_000)["conversation_id"]
    send_custom(api, ta, b, 1, blob="z" * 5_000)
    pages = pull_all(api, tb, cid, 2)
    assert [len(p["messages"]) for p in pages] == [1, 1]
    history = api.ok("get_history_message_list", {"conversation_id": cid}, tb)
    assert [m["seq"] for m in history["messages"]] == [2] and history["is_end"] is False
    older = api.ok("get_history_message_list", {"conversation_id": cid, "start_seq": 2}, tb)
    assert [m["seq"] for m in older["messages"]] == [1] and older["is_end"] is True


def test_history_is_cut_by_bytes_and_says_it_is_not_the_end(api, app):
    app.config["IM_MAX_ANSWER_BYTES"] = 10_000
    a, ta = api.user()
    b, tb = api.user()
    cid = None
    for n in range(20):
        cid = send_custom(api, ta, b, n, blob="h" * 2_000)["conversation_id"]
    seqs, start = [], None
    while True:
        params = {"conversation_id": cid, "count": 100}
        if start is not None:
            params["start_seq"] = start
        page = api.ok("get_history_message_list", params, tb)
        assert size(page["messages"]) <= 10_000 and len(page["messages"]) < 20
        seqs = [m["seq"] for m in page["messages"]] + seqs
        if page["is_end"]:
            break
        start = page["messages"][0]["seq"]
    assert seqs == list(range(1, 21))


def test_search_is_cut_by_bytes_and_says_it_has_more(api, app):
    app.config["IM_MAX_ANSWER_BYTES"] = 10_000
    a, ta = api.user()
    b, tb = api.user()
    for n in range(20):
        api.ok(
            "send_message", {"recv_id": b, "content_type": 101, "content": {"text": f"needle {n} " + "s" * 2_000}}, ta
        )
    found, more = [], {}
    while True:
        page = api.ok("search_messages", {"keyword": "needle", "count": 100, **more}, tb)
        assert size(page["messages"]) <= 10_000 and page["messages"]
        found += [m["seq"] for m in page["messages"]]
        more = {"cursor": page["cursor"]}
        if not page["has_more"]:
            break
    assert sorted(found) == list(range(1, 21)) and len(found) == 20


def test_event_catch_up_is_cut_by_bytes_and_says_it_has_more(api, app):
    app.config["IM_MAX_ANSWER_BYTES"] = 3_000
    a, ta = api.user()
    b, tb = api.user()
    start = api.ok("sync_events", {}, tb)["max_seq"]
    cid = None
    for n in range(10):
        cid = send_custom(api, ta, b, n, blob="e" * 1_000)["conversation_id"]
    for seq in range(1, 11):  # each deletion logs the whole message for b's other terminals
        api.ok("delete_message", {"conversation_id": cid, "seq": seq}, tb)
    seen, after = [], start
    while True:
        page = api.ok("sync_events", {"after_seq": after}, tb)
        assert size(page["events"]) <= 3_000 and page["events"]
        seen += [e["seq"] for e in page["events"]]
        after = page["events"][-1]["seq"]
        if not page["has_more"]:
            break
    assert seen == list(range(start + 1, after + 1)) and after == page["max_seq"]
    assert len([s for s in seen]) >= 10
