"""The web client in a real Chromium against a real server: two users as two browser contexts."""

import re

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PASSWORD = "password123"
XSS = "<img src=x onerror=alert(1)>"


def sign_up(page, user_id, nickname):
    page.click("#to-signup")
    page.fill("#signup-form [name=user_id]", user_id)
    page.fill("#signup-form [name=nickname]", nickname)
    page.fill("#signup-form [name=password]", PASSWORD)
    page.click("#signup-form button[type=submit]")
    expect(page.locator("#login-status")).to_have_attribute("data-state", "online")
    expect(page.locator("#me")).to_contain_text(nickname)


def sign_in(page, user_id):
    page.fill("#signin-form [name=user_id]", user_id)
    page.fill("#signin-form [name=password]", PASSWORD)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#login-status")).to_have_attribute("data-state", "online")


def conversation(page, conversation_id):
    return page.locator(f'#side-chats .conv[data-conversation-id="{conversation_id}"]')


def send(page, text):
    page.fill(".composer-input", text)
    page.press(".composer-input", "Enter")
    expect(page.locator(".msg.mine .bubble .text").last).to_have_text(text)


def become_friends(alice, bob):
    alice.click("#tab-contacts")
    alice.fill("#add-friend-form [name=to_user_id]", "bob")
    alice.fill("#add-friend-form [name=req_msg]", "hi, it's Alice")
    alice.click("#add-friend-form button[type=submit]")
    expect(alice.locator("#sent-applications")).to_contain_text("Bob")

    expect(bob.locator("#app-count")).to_have_text("1")
    bob.click("#tab-contacts")
    request = bob.locator('#recv-applications li[data-user-id="alice"]')
    expect(request).to_contain_text("hi, it's Alice")
    request.locator("[data-action=accept]").click()

    expect(bob.locator('#friend-list [data-user-id="alice"]')).to_contain_text("Alice")
    expect(alice.locator('#friend-list [data-user-id="bob"]')).to_contain_text("Bob")
    expect(bob.locator("#app-count")).to_be_hidden()


def test_two_users_befriend_chat_with_receipts_tabs_and_text_only(pages, shot):
    alice = pages.page()
    shot(alice, "01-sign-in")
    sign_up(alice, "alice", "Alice")
    bob = pages.page()
    sign_up(bob, "bob", "Bob")

    become_friends(alice, bob)
    shot(bob, "02-contacts")

    # Alice opens the chat from her friend list and writes; Bob sees an unread badge.
    alice.click('#friend-list [data-user-id="bob"]')
    alice.get_by_role("button", name="Message", exact=True).click()
    send(alice, "Hello Bob!")
    cid = "si_alice~bob"
    bob.click("#tab-chats")
    expect(conversation(bob, cid).locator(".badge.unread")).to_have_text("1")
    expect(bob.locator("#total-unread")).to_have_text("1")
    expect(conversation(bob, cid)).to_contain_text("Hello Bob!")

    # Bob opens it: reading sends a receipt that Alice sees on her message.
    conversation(bob, cid).click()
    expect(bob.locator(".msg.theirs .bubble .text")).to_have_text("Hello Bob!")
    expect(alice.locator(".msg.mine .receipt").last).to_have_text("Read")
    expect(conversation(bob, cid).locator(".badge.unread")).to_have_count(0)
    expect(bob.locator("#total-unread")).to_be_hidden()

    # Bob answers; Alice's open chat shows it at once, and a second tab of Alice's sees the same.
    send(bob, "Hi Alice, nice to see you")
    expect(alice.locator(".msg.theirs .bubble .text").last).to_have_text("Hi Alice, nice to see you")
    expect(bob.locator(".msg.mine .receipt").last).to_have_text("Read")
    alice_tab2 = pages.page(alice.context)
    expect(alice_tab2.locator("#login-status")).to_have_attribute("data-state", "online")
    expect(alice.locator("#login-status")).to_have_attribute("data-state", "online")
    conversation(alice_tab2, cid).click()
    expect(alice_tab2.locator(".msg .bubble .text")).to_have_text(["Hello Bob!", "Hi Alice, nice to see you"])
    send(bob, "Both of your tabs get this")
    expect(alice.locator(".msg.theirs .bubble .text").last).to_have_text("Both of your tabs get this")
    expect(alice_tab2.locator(".msg.theirs .bubble .text").last).to_have_text("Both of your tabs get this")
    # What one tab sends shows in the other tab too.
    send(alice_tab2, "Sent from my second tab")
    expect(alice.locator(".msg.mine .bubble .text").last).to_have_text("Sent from my second tab")

    # Markup in a message is shown as text: no element is made from it and no dialog opens.
    send(alice, XSS)
    expect(bob.locator(".msg.theirs .bubble .text").last).to_have_text(XSS)
    expect(bob.locator(".messages img")).to_have_count(0)
    expect(conversation(bob, cid).locator(".conv-preview")).to_have_text(XSS)
    shot(bob, "03-chat-desktop")
    shot(alice, "04-chat-with-receipts")
    bob.set_viewport_size({"width": 390, "height": 760})
    shot(bob, "05-chat-phone")
    bob.get_by_role("button", name="Back").click()
    expect(conversation(bob, cid)).to_be_visible()
    # With the chat closed, a new message counts as unread again.
    send(alice, "are you still there?")
    expect(conversation(bob, cid).locator(".badge.unread")).to_have_text("1")
    expect(conversation(bob, cid).locator(".conv-preview")).to_have_text("are you still there?")
    expect(bob.locator("#total-unread")).to_have_text("1")
    shot(bob, "06-list-phone")

    assert pages.dialogs == []
    assert pages.errors == [], "\n".join(pages.errors)


def test_kick_offline_when_signed_in_elsewhere_on_the_same_platform(pages, shot):
    first = pages.page()
    sign_up(first, "carol", "Carol")
    first_tab2 = pages.page(first.context)
    expect(first_tab2.locator("#me")).to_contain_text("Carol")

    # Another browser (another device, platform Web too) signs in: policy 1 kicks the first.
    other = pages.page()
    sign_in(other, "carol")
    for page in (first, first_tab2):
        expect(page.locator("#notice")).to_have_text(re.compile("signed in elsewhere"))
        expect(page.locator("#signin-form")).to_be_visible()
        expect(page.locator("#login-status")).to_have_attribute("data-state", "offline")
        expect(page.locator("#auth-status")).to_have_text("Signed out")
    shot(first, "07-kicked-offline")
    expect(other.locator("#login-status")).to_have_attribute("data-state", "online")

    # The kicked browser can sign in again (and so kicks the other in turn).
    sign_in(first, "carol")
    expect(other.locator("#notice")).to_have_text(re.compile("signed in elsewhere"))
    assert pages.dialogs == []
    assert pages.errors == [], "\n".join(pages.errors)


def test_token_expiry_notice_and_chinese_interface(browser, live_server, shot):
    from tests.browser.conftest import SERVER_ENV, Pages

    server = live_server({**SERVER_ENV, "IM_TOKEN_TTL": "3"})
    pages = Pages(browser, server.url)
    try:
        page = pages.page(locale="zh-CN")
        expect(page.locator("#signin-form h2")).to_have_text("登录")
        sign_up(page, "dave", "Dave")
        expect(page.locator("#login-status")).to_have_text("在线")
        shot(page, "08-chinese")
        expect(page.locator("#notice")).to_have_text("登录已过期，请重新登录。", timeout=15_000)
        expect(page.locator("#signin-form")).to_be_visible()
        # The language switch changes it back, and the choice is kept.
        page.select_option("#auth .lang-select", "en")
        expect(page.locator("#signin-form h2")).to_have_text("Sign in")
        page.reload()
        expect(page.locator("#signin-form h2")).to_have_text("Sign in")
        assert pages.errors == [], "\n".join(pages.errors)
    finally:
        pages.close()


def befriend_over_rest(url, a, b):
    """Register two users and make them friends through the API, to start a test from there."""
    import requests

    def call(name, payload, token=None):
        body = requests.post(
            f"{url}/api/{name}", json=payload, headers={"token": token} if token else {}, timeout=10
        ).json()
        assert body["errCode"] == 0, body
        return body["data"]

    tokens = {}
    for user_id in (a, b):
        call("register", {"user_id": user_id, "password": PASSWORD, "nickname": user_id.title()})
        tokens[user_id] = call("login", {"user_id": user_id, "password": PASSWORD, "platform_id": 3})["token"]
    call("add_friend", {"to_user_id": b}, tokens[a])
    call("accept_friend_application", {"from_user_id": a}, tokens[b])
    return lambda name, payload, user_id: call(name, payload, tokens[user_id])


def message(page, text):
    return page.locator(".msg").filter(has=page.locator(".bubble .text", has_text=text))


def test_chat_tools_pictures_and_group_life(pages, shot, tmp_path):
    from PIL import Image

    befriend_over_rest(pages.server.url, "erin", "frank")
    erin, frank = pages.page(), pages.page()
    sign_in(erin, "erin")
    sign_in(frank, "frank")

    erin.click("#tab-contacts")
    erin.click('#friend-list [data-user-id="frank"]')
    erin.get_by_role("button", name="Message", exact=True).click()
    send(erin, "first one")
    cid = "si_erin~frank"
    conversation(frank, cid).click()
    send(frank, "second one")

    # Quote reply: Erin answers Frank's message; both see the quoted words.
    message(erin, "second one").hover()
    message(erin, "second one").get_by_role("button", name="Reply").click()
    expect(erin.locator(".quote-bar")).to_contain_text("second one")
    send(erin, "quoting you")
    expect(message(frank, "quoting you").locator("blockquote")).to_contain_text("second one")

    # Revoke within the window: the text is gone on both sides.
    message(erin, "first one").hover()
    message(erin, "first one").get_by_role("button", name="Revoke").click()
    expect(erin.locator(".notice-msg.revoked")).to_have_text("You revoked a message")
    expect(frank.locator(".notice-msg.revoked")).to_contain_text("This message was revoked")
    expect(frank.locator(".messages")).not_to_contain_text("first one")

    # Typing reaches the peer's open chat.
    erin.type(".composer-input", "typing…")
    expect(frank.locator(".typing")).to_be_visible()

    # A draft is kept on the server when the box is left, and pinning puts the chat first.
    erin.fill(".composer-input", "unsent draft")
    erin.get_by_role("button", name="Pin", exact=True).click()
    expect(conversation(erin, cid)).to_have_class(re.compile("pinned"))
    erin_tab2 = pages.page(erin.context)
    expect(conversation(erin_tab2, cid).locator(".conv-preview")).to_have_text("[Draft] unsent draft")
    expect(conversation(erin_tab2, cid)).to_have_class(re.compile("pinned"))
    erin_tab2.close()
    erin.fill(".composer-input", "")

    # A picture: upload with progress, then a preview on both sides.
    picture = tmp_path / "sunset.png"
    Image.new("RGB", (64, 40), (250, 120, 40)).save(picture)
    erin.set_input_files(".composer input[type=file]", str(picture))
    for page in (erin, frank):
        img = page.locator(".messages img.picture").last
        expect(img).to_have_attribute("src", re.compile("^blob:"))
        page.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=img.element_handle())
    shot(frank, "09-quote-revoke-picture")

    # A group: Erin creates it with Frank; both get the conversation with its notice.
    erin.click("#tab-groups")
    erin.fill("#create-group-form [name=group_name]", "Weekend trip")
    erin.check('#create-group-form input[value="frank"]')
    erin.click("#create-group-form button[type=submit]")
    expect(erin.locator(".chat .notice-msg").first).to_have_text("Erin created the group")
    frank.click("#tab-chats")
    group_conv = frank.locator("#side-chats .conv", has_text="Weekend trip")
    expect(group_conv).to_be_visible()
    group_conv.click()

    # Frank @-mentions Erin; Erin's bubble is marked as mentioning her.
    frank.get_by_role("button", name="Mention").click()
    frank.get_by_role("option", name="@Erin").click()
    frank.type(".composer-input", "are you in?")
    frank.press(".composer-input", "Enter")
    expect(erin.locator(".msg.theirs .bubble.mentions-me .text")).to_have_text("@Erin are you in?")
    expect(erin.locator(".msg.theirs .sender").last).to_have_text("Frank")

    # Someone else applies to join; Erin approves in the Groups tab and the member list grows.
    erin.get_by_role("button", name="Group info").click()
    group_id = erin.locator(".detail-head .muted").first.inner_text().split(": ", 1)[1]
    import requests

    url = pages.server.url
    requests.post(f"{url}/api/register", json={"user_id": "gus", "password": PASSWORD, "nickname": "Gus"}, timeout=10)
    gus = requests.post(
        f"{url}/api/login", json={"user_id": "gus", "password": PASSWORD, "platform_id": 3}, timeout=10
    ).json()["data"]["token"]
    joined = requests.post(
        f"{url}/api/join_group", json={"group_id": group_id, "req_msg": "let me in"}, headers={"token": gus}, timeout=10
    ).json()
    assert joined["errCode"] == 0, joined
    erin.click("#tab-groups")
    application = erin.locator("#side-groups .application", has_text="let me in")
    expect(application).to_contain_text("Gus")
    application.get_by_role("button", name="Accept").click()
    expect(application).to_have_count(0)
    expect(erin.locator(".detail .side-section h3").first).to_have_text("Members (3)")

    # Erin (owner) mutes Frank from the group page; Frank's composer is closed, and says why.
    frank_row = erin.locator('.detail li[data-user-id="frank"]')
    expect(frank_row).to_contain_text("Member")
    frank_row.get_by_role("button", name="Make admin").click()
    expect(frank_row).to_contain_text("Admin")
    frank_row.get_by_role("button", name="Make member").click()
    expect(frank_row).to_contain_text("Member")
    frank_row.get_by_role("button", name="Mute").click()
    expect(frank_row).to_contain_text("Muted")
    shot(erin, "10-group-members")
    expect(frank.locator(".composer-input")).to_be_disabled()
    expect(frank.locator("#mute-notice")).to_contain_text("You are muted in this group until")

    # Erin dismisses the group; Frank's chat shows the notice.
    erin.get_by_role("button", name="Dismiss group").click()
    expect(frank.locator(".chat .notice-msg").last).to_have_text("Erin dismissed the group")
    assert [kind for kind, _ in pages.dialogs] == ["confirm"]
    assert pages.errors == [], "\n".join(pages.errors)


def test_reconnect_catches_up_missed_messages_and_events_in_order(pages, shot):
    from tests.support.tcp_proxy import TcpProxy

    befriend_over_rest(pages.server.url, "gina", "hugo")
    proxy = TcpProxy(pages.server.port)
    try:
        # Gina's browser reaches the server through a proxy the test can cut, like a network drop.
        gina = pages.page(pages.context(base_url=proxy.url))
        hugo = pages.page()
        sign_in(gina, "gina")
        sign_in(hugo, "hugo")
        gina.click("#tab-contacts")
        gina.click('#friend-list [data-user-id="hugo"]')
        gina.get_by_role("button", name="Message", exact=True).click()
        send(gina, "still there?")
        cid = "si_gina~hugo"
        conversation(hugo, cid).click()

        proxy.cut()
        expect(gina.locator("#login-status")).to_have_attribute("data-state", "connecting")
        missed = [f"missed {n}" for n in range(1, 6)]
        for text in missed:
            send(hugo, text)
        import requests

        requests.post(
            f"{pages.server.url}/api/register",
            timeout=10,
            json={"user_id": "ivan", "password": PASSWORD, "nickname": "Ivan"},
        )
        token = requests.post(
            f"{pages.server.url}/api/login",
            timeout=10,
            json={"user_id": "ivan", "password": PASSWORD, "platform_id": 5},
        ).json()["data"]["token"]
        requests.post(
            f"{pages.server.url}/api/add_friend", json={"to_user_id": "gina"}, headers={"token": token}, timeout=10
        )
        proxy.resume()

        expect(gina.locator("#login-status")).to_have_attribute("data-state", "online", timeout=15_000)
        expect(gina.locator(".msg .bubble .text")).to_have_text(["still there?", *missed])
        expect(gina.locator("#app-count")).to_have_text("1")
        expect(hugo.locator(".msg.mine .receipt").last).to_have_text("Read")
        shot(gina, "11-after-reconnect")
    finally:
        proxy.close()
    # While the proxy refused connections the browser logged its failed attempts; nothing else.
    offline = ("net::ERR_", "WebSocket connection to")
    assert [e for e in pages.errors if not any(mark in e for mark in offline)] == []


def test_keyboard_only_sign_in_history_paging_and_phone_width(pages, shot):
    call = befriend_over_rest(pages.server.url, "jane", "kurt")
    for n in range(1, 26):
        call("send_message", {"recv_id": "jane", "content_type": 101, "content": {"text": f"note {n}"}}, "kurt")
    page = pages.page(viewport={"width": 390, "height": 760})
    # The sign-in page starts with the cursor in the first field.
    expect(page.locator("#signin-form [name=user_id]")).to_be_focused()
    page.keyboard.type("jane")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#login-status")).to_have_attribute("data-state", "online")
    # Tabs move with the arrow keys; the focused control shows a visible outline.
    expect(page.locator('#friend-list [data-user-id="kurt"]')).to_be_attached()
    page.focus("#tab-chats")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-contacts")).to_be_focused()
    expect(page.locator("#side-contacts")).to_be_visible()
    outline = page.eval_on_selector("#tab-contacts", "el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    # Tab walks through the panel (search, add-friend form) to the friend.
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.userId") == "kurt":
            break
    expect(page.locator('#friend-list [data-user-id="kurt"]')).to_be_focused()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Message", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator(".composer-input")).to_be_focused()
    # History comes a page (20) at a time, newest first; earlier pages on demand.
    texts = page.locator(".msg .bubble .text")
    expect(texts).to_have_text([f"note {n}" for n in range(6, 26)])
    page.get_by_role("button", name="Load earlier messages").focus()
    page.keyboard.press("Enter")
    expect(texts).to_have_text([f"note {n}" for n in range(1, 26)])
    expect(page.locator(".history-edge")).to_have_text("Beginning of the conversation")
    page.focus(".composer-input")
    page.keyboard.type("typed without a mouse")
    page.keyboard.press("Enter")
    expect(page.locator(".msg.mine .bubble .text")).to_have_text("typed without a mouse")
    expect(page.locator(".sidebar")).to_be_hidden()
    expect(page.locator(".msg.theirs .receipt")).to_have_count(0)
    shot(page, "12-phone-keyboard")
    assert pages.errors == [], "\n".join(pages.errors)
