"""The web client's conversation list comes by pages: the first at sign-in, the next when the list is
scrolled to its end, in the server's order; the total unread badge is the server's pushed total, not
a sum over the pages loaded so far."""

import pytest

from tests.browser.test_web_client import befriend_over_rest, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PAGE = 50  # the client's page of getConversationListSplit
GROUPS = 55


def listed(page):
    return page.locator("#side-chats .conv-list .conv")


def ids(page):
    return listed(page).evaluate_all("els => els.map((e) => e.dataset.conversationId)")


def test_conversation_list_pages_in_server_order_and_the_total_is_the_servers(pages, shot):
    call = befriend_over_rest(pages.server.url, "paula", "rex")
    for i in range(GROUPS):
        call("create_group", {"group_name": f"room {i:02d}", "member_user_ids": ["paula"]}, "rex")
    call("send_message", {"recv_id": "paula", "content_type": 101, "content": {"text": "hello"}}, "rex")
    order = [c["conversation_id"] for c in call("get_all_conversation_list", {}, "paula")]
    total = call("get_total_unread_msg_count", {}, "paula")
    assert len(order) == GROUPS + 1 and total == GROUPS + 1

    paula = pages.page()
    sign_in(paula, "paula")
    expect(listed(paula)).to_have_count(PAGE)
    assert ids(paula) == order[:PAGE]
    # Every conversation has one unread: the badge counts all of them, not only the page shown.
    expect(paula.locator("#total-unread")).to_have_text("56")
    shot(paula, "31-conversation-list-first-page")

    more = paula.locator("#side-chats .conv-more")
    # Every push re-renders the whole list, "more" row too: a row the locator found can be replaced
    # before Playwright scrolls to it (it then fails, not attached). Found and scrolled in one turn
    # of the page's script, the row is the current one; a re-render after puts its successor in view.
    paula.locator("#side-chats").evaluate("side => side.querySelector('.conv-more').scrollIntoView()")
    expect(listed(paula)).to_have_count(len(order))
    expect(more).to_have_count(0)
    assert ids(paula) == order

    # A message in the oldest conversation moves it to the top, and the pushed total follows.
    oldest = order[-1]
    call("send_message", {"group_id": oldest[3:], "content_type": 101, "content": {"text": "up"}}, "rex")
    expect(listed(paula).first).to_have_attribute("data-conversation-id", oldest)
    expect(paula.locator("#total-unread")).to_have_text("57")
    assert ids(paula) == [c["conversation_id"] for c in call("get_all_conversation_list", {}, "paula")]
