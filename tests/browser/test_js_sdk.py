"""The JavaScript SDK on its own (no app), in Chromium: calls, listeners, order, and catch-up."""

import pytest

from im.services.conversations import single_conversation_id

pytest.importorskip("playwright.sync_api")

# The JS helper and the server agree on the id of a pair, also for ids that join alike with "_".
PAIRS = [("sdk_b", "sdk_a"), ("john_smith", "mary"), ("john", "smith_mary"), ("Z.9", "a-_"), ("b", "B")]

SCRIPT = """async (PAIRS) => {
  const { IMClient, IMError, LoginStatus, ContentType, singleConversationId } = await import("/static/js/im-sdk.js");
  const log = [];
  const until = async (check) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!check()) throw new Error("timed out; log: " + JSON.stringify(log));
  };
  const listenAs = (name, im) => {
    im.setConnListener({ onConnecting: () => log.push([name, "connecting"]), onConnectSuccess: () => log.push([name, "connected"]) });
    im.setFriendListener({
      onFriendApplicationAdded: (a) => log.push([name, "application_added", a.from_user_id]),
      onFriendAdded: (f) => log.push([name, "friend_added", f.user_id]),
    });
    im.setAdvancedMsgListener({ onRecvNewMessage: (m) => log.push([name, "message", m.content.text, m.seq]) });
    im.setConversationListener({ onSyncServerStart: () => log.push([name, "sync_start"]), onSyncServerFinish: () => log.push([name, "sync_finish"]) });
  };
  const a = new IMClient(""), b = new IMClient("");
  listenAs("a", a); listenAs("b", b);
  const out = { before: a.getLoginStatus() };
  await a.register("sdk_a", "password123", "A");
  await b.register("sdk_b", "password123", "B");
  await a.login("sdk_a", "password123");
  await b.login("sdk_b", "password123");
  out.after = a.getLoginStatus();
  out.user = a.getLoginUser();
  try { await a.addFriend("sdk_a"); } catch (err) { out.selfError = [err instanceof IMError, err.code]; }
  await a.addFriend("sdk_b", "hello");
  await until(() => log.some((e) => e[0] === "b" && e[1] === "application_added"));
  out.recv = (await b.getRecvFriendApplicationList()).map((x) => [x.from_user_id, x.req_msg, x.handle_result]);
  await b.acceptFriendApplication("sdk_a");
  await until(() => log.some((e) => e[0] === "a" && e[1] === "friend_added"));
  out.check = await a.checkFriend(["sdk_b", "nobody"]);
  out.opened = (await a.getOneConversation({ userId: "sdk_b" })).conversation_id;
  out.ids = PAIRS.map(([x, y]) => singleConversationId(x, y));
  for (const n of [1, 2, 3]) await a.sendMessage({ recvId: "sdk_b", contentType: ContentType.TEXT, content: { text: `online ${n}` } });
  await until(() => log.filter((e) => e[0] === "b" && e[1] === "message").length === 3);
  await b.logout();
  out.loggedOut = b.getLoginStatus();
  for (const n of [1, 2]) await a.sendMessage({ recvId: "sdk_b", contentType: ContentType.TEXT, content: { text: `missed ${n}` } });
  log.push(["b", "login again"]);
  await b.login("sdk_b", "password123");
  await until(() => log.filter((e) => e[0] === "b" && e[1] === "message").length === 5);
  out.unread = await b.getTotalUnreadMsgCount();
  await b.markConversationMessageAsRead(out.opened);
  out.unreadAfter = await b.getTotalUnreadMsgCount();
  // b answers: a hears it, and (a conversation being delivered in seq order) whatever a heard of its
  // own five messages would have come before it
  await b.sendMessage({ recvId: "sdk_a", contentType: ContentType.TEXT, content: { text: "reply" } });
  await until(() => log.some((e) => e[0] === "a" && e[1] === "message"));
  await a.logout(); await b.logout();
  out.log = log;
  return out;
}"""


def test_js_sdk_standalone(pages):
    page = pages.page()
    out = page.evaluate(SCRIPT, [list(p) for p in PAIRS])
    assert out["opened"] == "si_sdk_a~sdk_b"
    assert out["ids"] == [single_conversation_id(x, y) for x, y in PAIRS]
    assert len(set(out["ids"])) == len(PAIRS)
    assert out["before"] == 201 and out["after"] == 101 and out["user"] == "sdk_a"
    assert out["selfError"] == [True, 1201]
    assert out["recv"] == [["sdk_a", "hello", 0]]
    assert out["check"] == [{"user_id": "sdk_b", "result": 1}, {"user_id": "nobody", "result": 0}]
    assert out["loggedOut"] == 201
    b_messages = [e[2] for e in out["log"] if e[0] == "b" and e[1] == "message"]
    assert b_messages == ["online 1", "online 2", "online 3", "missed 1", "missed 2"]
    # The sender's own terminal is not told of its own messages, only of the answer that came after.
    assert [e[2] for e in out["log"] if e[0] == "a" and e[1] == "message"] == ["reply"]
    # What was missed while logged out arrives after the second login, inside a sync.
    after = out["log"][out["log"].index(["b", "login again"]) :]
    b_after = [e[1] if e[1] != "message" else e[2] for e in after if e[0] == "b"]
    assert (
        b_after.index("sync_start")
        < b_after.index("missed 1")
        < b_after.index("missed 2")
        < b_after.index("sync_finish")
    )
    assert out["unread"] == 5 and out["unreadAfter"] == 0
    assert pages.errors == [], "\n".join(pages.errors)


GROUP_SCRIPT = """async () => {
  const { IMClient } = await import("/static/js/im-sdk.js");
  const log = [];
  const until = async (check) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!check()) throw new Error("timed out; log: " + JSON.stringify(log));
  };
  const a = new IMClient(""), b = new IMClient(""), c = new IMClient("");
  b.setGroupListener({
    onGroupMemberAdded: (m) => log.push(["added", m.user_id, m.role_level]),
    onGroupMemberInfoChanged: (m) => log.push(["changed", m.user_id, m.role_level]),
    onGroupMemberDeleted: (m) => log.push(["deleted", m.user_id, m.reason || ""]),
  });
  for (const [im, id] of [[a, "grp_a"], [b, "grp_b"], [c, "grp_c"]]) {
    await im.register(id, "password123", id);
    await im.login(id, "password123");
  }
  const group = await a.createGroup({ groupName: "JS crew", memberUserIds: ["grp_b"] });
  await a.inviteUserToGroup(group.group_id, ["grp_c"]);
  await until(() => log.some((e) => e[0] === "added"));
  await b.logout();
  log.push(["offline"]);
  await a.setGroupMemberRoleLevel(group.group_id, "grp_c", 60);
  await a.kickGroupMember(group.group_id, ["grp_c"], "spam");
  await b.login("grp_b", "password123");
  await until(() => log.some((e) => e[0] === "deleted"));
  await a.logout(); await b.logout(); await c.logout();
  return log;
}"""


def test_js_sdk_member_callbacks_come_from_group_notices_live_and_on_catch_up(pages):
    page = pages.page()
    log = page.evaluate(GROUP_SCRIPT)
    assert log == [["added", "grp_c", 20], ["offline"], ["changed", "grp_c", 60], ["deleted", "grp_c", "spam"]]
    assert pages.errors == [], "\n".join(pages.errors)


def test_js_and_python_sdks_retry_the_same_calls_over_rest_after_a_drop(pages):
    """A call whose socket drops before its answer is sent again over REST only when a second run
    cannot do it twice; both SDKs keep the same list (a createGroup was retried and made two groups)."""
    from im.operations import OPERATIONS
    from im.sdk.calls import retry_safe

    page = pages.page()
    cases = [[name, {}] for name in sorted(OPERATIONS)] + [["send_message", {"client_msg_id": "c1"}]]
    js = page.evaluate(
        """async (cases) => {
      const { retrySafe } = await import("/static/js/im-sdk.js");
      return cases.map(([name, payload]) => retrySafe(name, payload));
    }""",
        cases,
    )
    assert js == [retry_safe(name, payload) for name, payload in cases]
    assert not retry_safe("create_group", {}) and not retry_safe("send_message", {})
