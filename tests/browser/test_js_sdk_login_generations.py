"""JS SDK: a late refusal of an old login's reconnect never ends the next login (Chromium, real server)."""

import pytest

from tests.support.tcp_proxy import TcpProxy

pytest.importorskip("playwright.sync_api")

START = """async () => {
  const { IMClient } = await import("/static/js/im-sdk.js");
  const log = [];
  const im = new IMClient("", { transports: ["websocket"] });
  im.setConnListener({
    onConnecting: () => log.push("connecting"),
    onConnectSuccess: () => log.push("connect_success"),
    onConnectFailed: (code) => log.push("connect_failed " + code),
    onKickedOffline: () => log.push("kicked_offline"),
    onUserTokenExpired: () => log.push("token_expired"),
  });
  window.im = im; window.log = log;
  await im.register("jan", "password123", "Jan");
  await im.login("jan", "password123");
  return im.getLoginStatus();
}"""

LOGOUT_AND_LOGIN_AGAIN = """async () => {
  await window.im.logout();
  const out = window.im.getLoginStatus();
  window.second = window.im.login("jan", "password123");
  return out;
}"""

# The page's CSP forbids the eval behind wait_for_function's polling: wait in the page instead.
CONNECTING_THRICE = """async () => {
  for (let i = 0; i < 400 && window.log.filter((e) => e === "connecting").length < 3; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  return window.log;
}"""

SECOND_DONE = """async () => {
  await window.second;
  // The second login's own call goes through: its session is live on the server too.
  const me = await window.im.getSelfUserInfo();
  return { status: window.im.getLoginStatus(), user: me.user_id, log: window.log };
}"""


def test_the_old_logins_refused_reconnect_leaves_the_new_login_signed_in(pages):
    proxy = TcpProxy(pages.server.port)
    try:
        page = pages.page(pages.context(base_url=proxy.url))
        assert page.evaluate(START) == 101
        proxy.hold_sockets()
        # The socket closes while the first login is on (as when the server's close of a logging-out
        # session overtakes logout's answer): its reconnect, with the first token, waits.
        proxy.drop()
        proxy.wait_held(1)
        assert page.evaluate(LOGOUT_AND_LOGIN_AGAIN) == 201  # over REST; the first token is revoked
        # The second login, its token in hand, is connecting (the first login, the old reconnect,
        # this one): the browser holds its WebSocket back while the old one is still connecting.
        assert page.evaluate(CONNECTING_THRICE).count("connecting") == 3
        # The old reconnect reaches the server now and is refused; the SDK handles the refusal
        # before its socket's close can end the connection.
        assert proxy.release_held().wait(10)
        proxy.wait_held(1)
        proxy.release_held()
        out = page.evaluate(SECOND_DONE)
        assert out["status"] == 101, out
        assert out["user"] == "jan"
        assert "kicked_offline" not in out["log"] and "token_expired" not in out["log"]
        assert out["log"][-1] == "connect_success"
    finally:
        proxy.close()
    # The browser logs the socket the proxy dropped; nothing else.
    assert [e for e in pages.errors if "WebSocket connection to" not in e and "net::ERR_" not in e] == []
