"""Message search in the web client pages: the first page, then Load more until the server says no
more follow, newest first and never a result twice; an answer of an older search that comes back
late never lands in a newer one."""

import pytest

from tests.browser.test_web_client import befriend_over_rest, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PAGE = 100  # the client's search page: the largest count search_messages takes
TOTAL = 130

# Holds the app's search answers for one keyword until the test releases them, as a slow network
# would: the server answers at once, the app hears it only later.
HOLD_SEARCHES = """async () => {
    const { IMClient } = await import("/static/js/im-sdk.js");
    const search = IMClient.prototype.searchMessages;
    window.holdKeyword = null;
    window.held = [];
    window.heldAnswers = [];
    window.searchOptions = [];
    IMClient.prototype.searchMessages = function (keyword, ...rest) {
        window.searchOptions.push(rest[1] || {});
        const answer = search.call(this, keyword, ...rest);
        if (keyword !== window.holdKeyword) return answer;
        window.heldAnswers.push(answer);
        return new Promise((resolve) => window.held.push(() => resolve(answer)));
    };
}"""
# Hands the held answers to the app and returns how many once the server's answers have come (on a
# loaded machine they may still be on their way when released) and a task has run after them.
RELEASE = """async () => {
    const held = window.held.splice(0);
    held.forEach((release) => release());
    await Promise.allSettled(window.heldAnswers.splice(0));
    await new Promise((resolve) => setTimeout(resolve, 0));
    return held.length;
}"""


def previews(page):
    return page.locator("#side-chats .search-results .result .conv-preview")


def search(page, keyword):
    page.fill("#message-search", keyword)
    page.press("#message-search", "Enter")


def test_search_results_page_with_load_more(pages, shot):
    call = befriend_over_rest(pages.server.url, "pia", "quinn")
    # Two senders take turns, so neither comes near the per-user send rate limit.
    for i in range(1, TOTAL + 1):
        sender, peer = ("pia", "quinn") if i % 2 else ("quinn", "pia")
        call("send_message", {"recv_id": peer, "content_type": 101, "content": {"text": f"plum {i:03d}"}}, sender)
    for text in ("pear one", "pear two"):
        call("send_message", {"recv_id": "quinn", "content_type": 101, "content": {"text": text}}, "pia")
    newest_first = [f"plum {i:03d}" for i in range(TOTAL, 0, -1)]

    pia = pages.page()
    sign_in(pia, "pia")
    search(pia, "plum")
    expect(previews(pia)).to_have_text(newest_first[:PAGE])
    expect(pia.locator(".results-head")).to_contain_text(f"{PAGE}+ found")
    more = pia.get_by_role("button", name="Load more")
    expect(more).to_have_count(1)
    shot(pia, "21-search-first-page")

    # A new match arrives between the pages and shifts the server's list by one: the next page
    # starts with a result already shown, which must not show twice.
    call("send_message", {"recv_id": "pia", "content_type": 101, "content": {"text": "plum late"}}, "quinn")
    more.click()
    expect(previews(pia)).to_have_text(newest_first)
    expect(more).to_have_count(0)
    expect(pia.locator(".results-head")).to_contain_text(f"{TOTAL} found")
    expect(previews(pia).nth(PAGE).locator("xpath=ancestor::button")).to_be_focused()

    # A new search starts over, and shows the new match at the top.
    search(pia, "plum")
    expect(previews(pia)).to_have_text(["plum late", *newest_first[: PAGE - 1]])
    expect(more).to_have_count(1)

    # At phone width: a Load more whose answer comes late, after a newer search, is dropped.
    pia.set_viewport_size({"width": 390, "height": 760})
    pia.evaluate(HOLD_SEARCHES)
    pia.evaluate("() => { window.holdKeyword = 'plum'; }")
    more.scroll_into_view_if_needed()
    shot(pia, "22-search-load-more-phone")
    more.click()
    pia.wait_for_function("() => window.held.length === 1")
    # Load more goes on from the cursor of the page before, never by an offset
    options = pia.evaluate("() => window.searchOptions.at(-1)")
    assert options.get("cursor") and "offset" not in options, options
    search(pia, "pear")
    expect(previews(pia)).to_have_text(["pear two", "pear one"])
    expect(more).to_have_count(0)
    assert pia.evaluate(RELEASE) == 1
    # The late answer is in the app's hands now; give it time to (wrongly) show up, counted from
    # its arrival rather than from a release that may come before it.
    pia.wait_for_timeout(500)
    expect(previews(pia)).to_have_text(["pear two", "pear one"])
    expect(more).to_have_count(0)

    # The same for a first page: the older search answering last does not replace the newer one.
    search(pia, "plum")
    pia.wait_for_function("() => window.held.length === 1")
    search(pia, "pear")
    expect(previews(pia)).to_have_text(["pear two", "pear one"])
    assert pia.evaluate(RELEASE) == 1
    pia.wait_for_timeout(500)
    expect(previews(pia)).to_have_text(["pear two", "pear one"])

    # Chinese strings.
    pia.evaluate("() => { window.holdKeyword = null; }")
    pia.select_option(".topbar .lang-select", "zh-CN")
    search(pia, "plum")
    expect(pia.get_by_role("button", name="加载更多")).to_be_visible()
    expect(pia.locator(".results-head")).to_contain_text(f"{PAGE}+")
    assert pages.errors == [], "\n".join(pages.errors)
