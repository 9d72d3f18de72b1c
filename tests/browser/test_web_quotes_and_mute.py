"""Quoted replies to messages outside the loaded page, the composer of a muted member, and the revoke
action that leaves with the server's revoke window, in a real Chromium."""

import pytest

from tests.browser.conftest import SERVER_ENV, Pages
from tests.browser.test_web_client import befriend_over_rest, send, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

# A short window, so that the test sees it close; the client learns it from the server.
REVOKE_SECONDS = 4


@pytest.fixture
def pages(browser, shared_server):
    server = shared_server({**SERVER_ENV, "IM_REVOKE_SECONDS": str(REVOKE_SECONDS)})
    pages = Pages(browser, server.url)
    pages.server = server
    yield pages
    pages.close()


def open_chat(page, cid):
    page.click("#tab-chats")
    page.locator(f'#side-chats .conv[data-conversation-id="{cid}"]').click()
    expect(page.locator(f'.chat[data-conversation-id="{cid}"]')).to_be_visible()


def text(call, sender, recv_id, body, quote_seq=None):
    content = {"text": body} if quote_seq is None else {"text": body, "quote_seq": quote_seq}
    return call(
        "send_message", {"recv_id": recv_id, "content_type": 114 if quote_seq else 101, "content": content}, sender
    )


def test_a_reply_to_an_older_message_shows_the_quoted_text(pages):
    call = befriend_over_rest(pages.server.url, "quinn", "rosa")
    cid = "si_quinn~rosa"
    original = text(call, "rosa", "quinn", "the original question")
    gone = text(call, "rosa", "quinn", "a message quinn deletes")
    for i in range(25):
        text(call, "rosa", "quinn", f"filler {i}")
    text(call, "rosa", "quinn", "answering the question", quote_seq=original["seq"])
    text(call, "rosa", "quinn", "answering the deleted one", quote_seq=gone["seq"])
    call("delete_message", {"conversation_id": cid, "seq": gone["seq"]}, "quinn")

    quinn = pages.page()
    sign_in(quinn, "quinn")
    for _ in range(2):  # as first opened, and after a reload
        open_chat(quinn, cid)
        quotes = quinn.locator(".msg .quote")
        expect(quotes).to_have_text(["Rosa: the original question", "A message no longer available"])
        assert "#" not in "".join(quotes.all_text_contents())
        quinn.reload()
        expect(quinn.locator("#login-status")).to_have_attribute("data-state", "online")
    assert not pages.errors


def test_the_revoke_action_leaves_when_the_revoke_window_closes(pages):
    call = befriend_over_rest(pages.server.url, "sam", "tara")
    cid = "si_sam~tara"
    text(call, "tara", "sam", "hello Sam")
    sam = pages.page()
    sign_in(sam, "sam")
    open_chat(sam, cid)
    send(sam, "revocable for a moment")
    mine = sam.locator(".msg.mine")
    expect(mine.get_by_role("button", name="Revoke")).to_have_count(1)
    # The server's window (IM_REVOKE_SECONDS) closes: the action goes, without a reload.
    expect(mine.get_by_role("button", name="Revoke")).to_have_count(0, timeout=(REVOKE_SECONDS + 6) * 1000)
    sam.reload()
    expect(sam.locator("#login-status")).to_have_attribute("data-state", "online")
    open_chat(sam, cid)
    expect(mine).to_have_count(1)
    expect(mine.get_by_role("button", name="Revoke")).to_have_count(0)
    expect(mine.get_by_role("button", name="Reply")).to_have_count(1)
    assert not pages.errors


def test_a_muted_member_cannot_type_and_is_told_why(pages):
    call = befriend_over_rest(pages.server.url, "uma", "vic")
    group = call("create_group", {"group_name": "Quiet room", "member_user_ids": ["vic"]}, "uma")
    gid = group["group_id"]
    cid = f"sg_{gid}"
    vic = pages.page()
    sign_in(vic, "vic")
    open_chat(vic, cid)
    composer, notice = vic.locator(".composer-input"), vic.locator("#mute-notice")
    send(vic, "hi all")
    expect(notice).to_be_hidden()

    # Muted by the owner: the composer is disabled at once, with the reason and the end.
    call("change_group_member_mute", {"group_id": gid, "user_id": "vic", "mute_seconds": 600}, "uma")
    expect(composer).to_be_disabled()
    expect(vic.locator(".composer button.send")).to_be_disabled()
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("You are muted in this group until")
    vic.reload()
    expect(vic.locator("#login-status")).to_have_attribute("data-state", "online")
    open_chat(vic, cid)
    expect(composer).to_be_disabled()
    expect(notice).to_contain_text("You are muted in this group until")
    call("change_group_member_mute", {"group_id": gid, "user_id": "vic", "mute_seconds": 0}, "uma")
    expect(composer).to_be_enabled()
    expect(notice).to_be_hidden()

    # The whole group muted: only managers speak, the reason says so; in Chinese too.
    call("change_group_mute", {"group_id": gid, "is_mute": True}, "uma")
    expect(composer).to_be_disabled()
    expect(notice).to_contain_text("Everyone is muted")
    vic.evaluate("() => localStorage.setItem('im.lang', 'zh-CN')")
    vic.reload()
    expect(vic.locator("#login-status")).to_have_attribute("data-state", "online")
    open_chat(vic, cid)
    expect(composer).to_be_disabled()
    expect(notice).to_contain_text("全员禁言")
    call("change_group_mute", {"group_id": gid, "is_mute": False}, "uma")
    expect(composer).to_be_enabled()
    expect(notice).to_be_hidden()
    send(vic, "back again")
    assert not pages.errors
