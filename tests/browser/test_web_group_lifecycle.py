"""A group's chat opened from its info page stays open through membership changes, and a dismissed
group keeps its name and loses its management actions, in a real Chromium."""

import pytest

from tests.browser.test_web_client import befriend_over_rest, message, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def group_info_page(page, group_name):
    page.click("#tab-groups")
    page.locator("#side-groups .person", has_text=group_name).click()
    return page.locator("#main .detail[data-group-id]")


def test_open_chat_from_group_info_survives_a_join_and_a_leave(pages):
    call = befriend_over_rest(pages.server.url, "gwen", "hank")
    others = befriend_over_rest(pages.server.url, "ivy", "jude")
    gid = call("create_group", {"group_name": "Busy room", "member_user_ids": ["hank"]}, "gwen")["group_id"]
    hank = pages.page()
    sign_in(hank, "hank")
    expect(group_info_page(hank, "Busy room")).to_be_visible()
    hank.get_by_role("button", name="Open chat").click()
    chat = hank.locator(f'#main .chat[data-conversation-id="sg_{gid}"]')
    expect(chat).to_be_visible()

    call("invite_user_to_group", {"group_id": gid, "user_ids": ["ivy"]}, "gwen")
    expect(hank.locator("#side-groups .person", has_text="Busy room")).to_contain_text("3 ·")
    others("quit_group", {"group_id": gid}, "ivy")
    expect(hank.locator("#side-groups .person", has_text="Busy room")).to_contain_text("2 ·")
    call("send_message", {"group_id": gid, "content_type": 101, "content": {"text": "still here"}}, "gwen")
    expect(message(hank, "still here")).to_be_visible()
    expect(chat).to_be_visible()
    expect(hank.locator("#main .detail")).to_have_count(0)
    assert not pages.errors


def test_a_dismissed_group_shows_so_and_keeps_its_name_after_a_reload(pages):
    call = befriend_over_rest(pages.server.url, "kate", "liam")
    gid = call("create_group", {"group_name": "Doomed room", "member_user_ids": ["liam"]}, "kate")["group_id"]
    call("send_message", {"group_id": gid, "content_type": 101, "content": {"text": "last words"}}, "kate")
    kate, liam = pages.page(), pages.page()
    sign_in(kate, "kate")
    sign_in(liam, "liam")
    page = group_info_page(kate, "Doomed room")
    expect(page.get_by_role("button", name="Dismiss")).to_be_visible()
    page.get_by_role("button", name="Dismiss").click()
    expect(page).to_contain_text("This group was dismissed")
    expect(page.locator("button:not(.back)")).to_have_count(0)
    expect(page.locator("form")).to_have_count(0)
    expect(page).to_contain_text("Doomed room")

    for who in (liam, kate):
        who.reload()
        expect(who.locator("#login-status")).to_have_attribute("data-state", "online")
        who.click("#tab-chats")
        row = who.locator(f'#side-chats .conv[data-conversation-id="sg_{gid}"]')
        expect(row).to_contain_text("Doomed room")
        assert gid not in row.inner_text()
    assert not pages.errors
