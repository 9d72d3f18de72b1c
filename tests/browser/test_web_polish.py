"""The web client's later parts in a real Chromium: read marks after a reload, message search, delete
for me, do not disturb, delete chat, plain file messages, the profile editor and group settings."""

import re

import pytest

from tests.browser.test_web_client import befriend_over_rest, conversation, send, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def message(page, text):
    return page.locator(".msg").filter(has=page.locator(".bubble .text", has_text=text))


def open_chat(page, cid):
    page.click("#tab-chats")
    conversation(page, cid).click()
    expect(page.locator(f'.chat[data-conversation-id="{cid}"]')).to_be_visible()


def test_receipts_after_reload_search_delete_quiet_files_and_profile(pages, shot, tmp_path):
    call = befriend_over_rest(pages.server.url, "lena", "mike")
    cid = "si_lena~mike"
    for text in ("hello Mike", "apples and pears"):
        call("send_message", {"recv_id": "mike", "content_type": 101, "content": {"text": text}}, "lena")
    call("mark_conversation_message_as_read", {"conversation_id": cid}, "mike")

    # Mike read before Lena's browser started: her messages show Read at once, and after a reload.
    lena = pages.page()
    sign_in(lena, "lena")
    open_chat(lena, cid)
    expect(lena.locator(".msg.mine .receipt")).to_have_text(["Read", "Read"])
    lena.reload()
    expect(lena.locator("#login-status")).to_have_attribute("data-state", "online")
    open_chat(lena, cid)
    expect(lena.locator(".msg.mine .receipt")).to_have_text(["Read", "Read"])
    send(lena, "are you there?")
    expect(lena.locator(".msg.mine .receipt").last).to_have_text("Sent")
    # Mike answers without opening the chat: answering means he read what came before.
    call("send_message", {"recv_id": "lena", "content_type": 101, "content": {"text": "yes, pears please"}}, "mike")
    expect(lena.locator(".msg.mine .receipt")).to_have_text(["Read", "Read", "Read"])

    # Message search from the chat list: both hits, the word marked; a hit opens its message.
    lena.fill("#message-search", "PEARS")
    lena.press("#message-search", "Enter")
    results = lena.locator("#side-chats .search-results .result")
    expect(results).to_have_count(2)
    expect(results.locator("mark")).to_have_text(["pears", "pears"])
    expect(lena.locator(".results-head")).to_contain_text("2 found")
    shot(lena, "13-message-search")
    results.filter(has_text="apples").click()
    expect(message(lena, "apples and pears")).to_have_class(re.compile("found"))
    expect(message(lena, "apples and pears")).to_be_focused()

    # Delete a message for me: gone from my chat and my search, still there for Mike.
    message(lena, "apples and pears").hover()
    message(lena, "apples and pears").get_by_role("button", name="Delete").click()
    expect(message(lena, "apples and pears")).to_have_count(0)
    expect(results).to_have_count(1)
    lena.press("#message-search", "Enter")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("yes, pears please")
    lena.get_by_role("button", name="Clear").click()
    expect(conversation(lena, cid)).to_be_visible()
    assert "apples and pears" in str(call("search_messages", {"keyword": "apples"}, "mike"))

    # A plain file: upload with progress, shown with name and size on both sides, saved as a download.
    mike = pages.page()
    sign_in(mike, "mike")
    open_chat(mike, cid)
    lena.evaluate("""() => {
        window.progressSeen = [];
        const bar = document.querySelector('.upload-progress');
        new MutationObserver(() => { if (!bar.hidden) window.progressSeen.push(bar.textContent); })
            .observe(bar, { attributes: true, childList: true, subtree: true, characterData: true });
    }""")
    notes = tmp_path / "trip notes.txt"
    body = ("Day 1: the lake. <b>not bold</b>\n" * 100).encode()
    notes.write_bytes(body)
    lena.set_input_files(".composer input[type=file]", str(notes))
    for page in (lena, mike):
        file_link = page.locator(".messages a.file").last
        expect(file_link.locator(".file-name")).to_have_text("trip notes.txt")
        expect(file_link).to_contain_text(f"{len(body) / 1024:.1f} KB")
    assert any("Uploading trip notes.txt" in text for text in lena.evaluate("window.progressSeen"))
    expect(mike.locator(".messages b")).to_have_count(0)
    with mike.expect_download() as download_info:
        mike.locator(".messages a.file").last.click()
    download = download_info.value
    assert download.suggested_filename == "trip notes.txt"
    assert download.path().read_bytes() == body
    expect(conversation(mike, cid).locator(".conv-preview")).to_have_text("[File] trip notes.txt")
    shot(mike, "14-file-message")

    # Do not disturb: the chat's settings under its header; its unread count is grey and not totalled.
    lena.get_by_role("button", name="Chat settings").click()
    expect(lena.locator("#chat-tools")).to_be_visible()
    expect(lena.locator("#recv-opt")).to_be_focused()
    lena.select_option("#recv-opt", "2")
    expect(lena.locator(".pane-header .quiet-label")).to_have_text(re.compile("Do not disturb"))
    expect(conversation(lena, cid).locator(".quiet")).to_be_visible()
    shot(lena, "15-chat-settings")

    # The profile editor (from the top bar) closes the chat; Mike's next message is a quiet unread.
    lena.click("#profile-button")
    expect(lena.locator("#profile-form [name=nickname]")).to_be_focused()
    send(mike, "quiet one")
    expect(conversation(lena, cid).locator(".badge.unread.quiet")).to_have_text("1")
    expect(lena.locator("#total-unread")).to_be_hidden()
    lena.fill("#profile-form [name=nickname]", "Lena L.")
    lena.fill("#profile-form [name=face_url]", f"{pages.server.url}/static/favicon.svg")
    lena.click("#profile-form button[type=submit]")
    expect(lena.locator("#me .me-name")).to_have_text("Lena L.")
    expect(lena.locator("#me .avatar img")).to_have_attribute("src", re.compile("favicon.svg$"))
    expect(conversation(mike, cid).locator(".conv-name")).to_have_text("Lena L.")
    shot(lena, "16-profile")
    lena.set_viewport_size({"width": 390, "height": 760})
    shot(lena, "17-profile-phone")
    lena.get_by_role("button", name="Back").click()
    open_chat(lena, cid)
    lena.get_by_role("button", name="Chat settings").click()
    shot(lena, "18-chat-settings-phone")

    # Delete the chat: gone from the list until the next message brings it back.
    lena.click("#delete-chat")
    expect(conversation(lena, cid)).to_have_count(0)
    expect(lena.locator("#tab-chats")).to_be_focused()
    send(mike, "back again")
    expect(conversation(lena, cid).locator(".conv-preview")).to_have_text("back again")

    assert [kind for kind, _ in pages.dialogs] == ["confirm", "confirm"]
    assert pages.errors == [], "\n".join(pages.errors)


def test_group_nickname_info_and_owner_transfer(pages, shot):
    call = befriend_over_rest(pages.server.url, "nina", "omar")
    group = call("create_group", {"group_name": "Crew", "member_user_ids": ["omar"]}, "nina")
    nina, omar = pages.page(), pages.page()
    sign_in(nina, "nina")
    sign_in(omar, "omar")
    nina.click("#tab-groups")
    nina.locator("#side-groups .person", has_text="Crew").click()

    # My nickname in the group shows in the member list.
    nina.fill("#group-nickname-form [name=nickname]", "Captain")
    nina.press("#group-nickname-form [name=nickname]", "Enter")
    expect(nina.locator('.detail li[data-user-id="nina"] .person-name')).to_have_text("Captain")

    # The owner edits the group's name, announcement and introduction; members see the new name.
    nina.fill("#group-info-form [name=group_name]", "Renamed crew")
    nina.fill("#group-info-form [name=notification]", "Meet at 9 <script>alert(1)</script>")
    nina.fill("#group-info-form [name=introduction]", "Weekend sailing")
    nina.click("#group-info-form button[type=submit]")
    expect(nina.locator(".detail-head h2")).to_have_text("Renamed crew")
    expect(nina.locator(".detail-head .group-notification")).to_have_text("Meet at 9 <script>alert(1)</script>")
    omar.click("#tab-groups")
    expect(omar.locator("#side-groups .person", has_text="Renamed crew")).to_be_visible()
    expect(omar.locator("#group-info-form")).to_have_count(0)
    shot(nina, "19-group-settings")

    # Transfer the owner: Omar becomes owner, Nina a member who can no longer edit the group.
    omar_row = nina.locator('.detail li[data-user-id="omar"]')
    omar_row.get_by_role("button", name="Make owner").click()
    expect(omar_row).to_contain_text("Owner")
    expect(nina.locator('.detail li[data-user-id="nina"]')).to_contain_text("Member")
    expect(nina.locator("#group-info-form")).to_have_count(0)
    expect(nina.get_by_role("button", name="Leave group")).to_be_visible()
    members = call("get_group_members_info", {"group_id": group["group_id"], "user_ids": ["nina", "omar"]}, "omar")
    members = members["members"] if isinstance(members, dict) else members
    assert {m["user_id"]: (m["role_level"], m["nickname"]) for m in members} == {
        "nina": (20, "Captain"),
        "omar": (100, ""),
    }
    nina.set_viewport_size({"width": 390, "height": 760})
    shot(nina, "20-group-phone")
    # The open group page follows a language switch.
    nina.select_option(".topbar .lang-select", "zh-CN")
    expect(nina.locator("#group-nickname-form").locator("xpath=..").locator("h3")).to_have_text("我在本群的昵称")
    expect(nina.get_by_role("button", name="退出群组")).to_be_visible()
    assert [kind for kind, _ in pages.dialogs] == ["confirm"]
    assert pages.errors == [], "\n".join(pages.errors)
