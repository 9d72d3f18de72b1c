"""The JS SDK, logged in, listens on its socket to every socket event the server declares."""

import pytest

from im import event_types

pytest.importorskip("playwright.sync_api")

SCRIPT = """async (names) => {
  const { IMClient, HANDLED_EVENTS } = await import("/static/js/im-sdk.js");
  const im = new IMClient("");
  await im.register("sdk_socket_events", "password123", "S");
  await im.login("sdk_socket_events", "password123");
  const out = {
    declared: names.filter((name) => !im._socket.hasListeners(name)),
    exported: HANDLED_EVENTS.socket.filter((name) => !im._socket.hasListeners(name)),
  };
  await im.logout();
  return out;
}"""


def test_the_logged_in_js_sdk_listens_to_every_declared_socket_event(pages):
    out = pages.page().evaluate(SCRIPT, event_types.socket_events())
    assert out == {"declared": [], "exported": []}
