"""The JavaScript SDK's catch-up when the server's byte bound cuts every page short."""

import pytest

from tests.browser.conftest import SERVER_ENV, Pages

pytest.importorskip("playwright.sync_api")

SCRIPT = """async () => {
  const { IMClient, ContentType } = await import("/static/js/im-sdk.js");
  const got = [];
  const until = async (check) => {
    for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!check()) throw new Error("timed out; got " + JSON.stringify(got));
  };
  const a = new IMClient(""), b = new IMClient("");
  b.setAdvancedMsgListener({ onRecvNewMessage: (m) => got.push(m.content.text.split(" ")[0]) });
  await a.register("bound_a", "password123", "A");
  await b.register("bound_b", "password123", "B");
  await a.login("bound_a", "password123");
  await b.login("bound_b", "password123");
  const pad = "p".repeat(900);
  await a.sendMessage({ recvId: "bound_b", contentType: ContentType.TEXT, content: { text: "online " + pad } });
  await until(() => got.length === 1);
  await b.logout();
  for (let n = 0; n < 30; n++) {
    await a.sendMessage({ recvId: "bound_b", contentType: ContentType.TEXT, content: { text: `missed${n} ` + pad } });
  }
  const pages = [];
  const pull = b._call.bind(b);
  b._call = async (name, params) => {
    const answer = await pull(name, params);
    if (name === "pull_messages") pages.push(answer.messages.length);
    return answer;
  };
  await b.login("bound_b", "password123");
  await until(() => got.length === 31);
  await new Promise((r) => setTimeout(r, 300));
  await a.logout(); await b.logout();
  return { got, pages };
}"""


def test_js_sdk_catch_up_goes_on_past_pages_cut_by_bytes(browser, live_server):
    server = live_server({**SERVER_ENV, "IM_MAX_ANSWER_BYTES": "4000"})
    pages = Pages(browser, server.url)
    try:
        out = pages.page().evaluate(SCRIPT)
        assert out["got"] == ["online"] + [f"missed{n}" for n in range(30)]
        print(f"30 missed messages came in pages of {out['pages']}")
        assert len(out["pages"]) > 5 and max(out["pages"]) < 30
        assert pages.errors == [], "\n".join(pages.errors)
    finally:
        pages.close()
