"""What one tab does to the user's own data shows in their other tabs (OpenIM's multi-terminal sync)."""

import pytest

from tests.browser.conftest import WAIT_MS
from tests.browser.test_web_client import sign_up

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_a_profile_change_shows_in_the_other_tab(pages, shot):
    first = pages.page()
    sign_up(first, "alice", "Alice")
    second = pages.page(first.context)
    expect(second.locator("#login-status")).to_have_attribute("data-state", "online")
    expect(second.locator("#me .me-name")).to_have_text("Alice")

    first.click("#profile-button")
    first.fill("#profile-form [name=nickname]", "Zoe Alicia")
    first.click("#profile-form button[type=submit]")
    expect(first.locator("#me .me-name")).to_have_text("Zoe Alicia")
    # the other tab hears self_info_updated and redraws the top bar without a reload
    expect(second.locator("#me .me-name")).to_have_text("Zoe Alicia")
    expect(second.locator("#me .avatar")).to_have_text("Z")
    shot(second, "30-profile-from-other-tab")
    assert pages.dialogs == []
    assert pages.errors == [], "\n".join(pages.errors)


def test_a_message_deleted_in_one_tab_leaves_the_other_and_the_preview_moves_back(pages, shot):
    from tests.browser.test_web_client import befriend_over_rest, conversation, message, sign_in

    call = befriend_over_rest(pages.server.url, "gina", "hank")
    for text in ("the older one", "the newest one"):
        call("send_message", {"recv_id": "gina", "content_type": 101, "content": {"text": text}}, "hank")
    cid = "si_gina~hank"
    first = pages.page()
    sign_in(first, "gina")
    second = pages.page(first.context)
    expect(second.locator("#login-status")).to_have_attribute("data-state", "online")
    conversation(second, cid).click()
    expect(second.locator(".msg .bubble .text")).to_have_text(["the older one", "the newest one"])
    conversation(first, cid).click()

    message(first, "the newest one").hover()
    message(first, "the newest one").get_by_role("button", name="Delete").click()
    expect(message(first, "the newest one")).to_have_count(0)
    expect(conversation(first, cid).locator(".conv-preview")).to_have_text("the older one")
    # the other tab hears msg_deleted and conversation_changed: the message leaves its open chat
    expect(message(second, "the newest one")).to_have_count(0)
    expect(second.locator(".msg .bubble .text")).to_have_text(["the older one"])
    expect(conversation(second, cid).locator(".conv-preview")).to_have_text("the older one")
    shot(second, "31-deleted-in-other-tab")
    # a fresh load agrees, and Hank still has the message
    third = pages.page(first.context)
    expect(conversation(third, cid).locator(".conv-preview")).to_have_text("the older one")
    assert "the newest one" in str(call("get_one_conversation", {"conversation_id": cid}, "hank"))
    assert pages.dialogs == [("confirm", "Delete this message for you? The others still see it.")]
    assert pages.errors == [], "\n".join(pages.errors)


def test_signing_out_in_one_tab_is_not_a_kick_in_the_other(pages, shot):
    """Both tabs hold one session; the other tab hears kicked_offline with reason logout and says
    so, rather than claiming that another device signed in."""
    first = pages.page()
    sign_up(first, "sam", "Sam")
    second = pages.page(first.context)
    expect(second.locator("#login-status")).to_have_attribute("data-state", "online")

    first.click("#signout")
    expect(first.locator("#auth")).to_be_visible()
    expect(second.locator("#auth")).to_be_visible()
    expect(second.locator("#notice")).to_have_attribute("data-reason", "loggedOutElsewhere")
    expect(second.locator("#notice")).to_have_text("You signed out in another tab.")
    shot(second, "32-signed-out-in-other-tab")
    assert pages.dialogs == []
    assert pages.errors == [], "\n".join(pages.errors)


def _tab_held_at(pages, context, pattern, holds):
    """A new tab of `context` whose requests to `pattern` that `holds(request)` are kept unanswered
    (their routes returned) until the test lets them go; it has opened once the first is held."""
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("console", lambda m: m.type == "error" and pages.errors.append(f"{m.text} @ {m.location}"))
    page.on("pageerror", lambda exc: pages.errors.append(f"pageerror: {exc}"))
    page.on("dialog", pages._dialog)
    held = []
    page.route(pattern, lambda route: held.append(route) if holds(route.request) else route.continue_())
    with page.expect_request(holds):
        page.goto("/")
    return page, held


def _release(held):
    for route in held:
        try:
            route.continue_()
        except playwright_api.Error:  # the tab closed the request itself meanwhile
            pass


def test_a_tab_still_catching_up_when_another_signs_out_stays_signed_out(pages):
    """The other tab hears kicked_offline (logout) while its own start-up catch-up is under way; the
    start-up finishing afterwards must not reopen the app over the sign-out notice."""
    first = pages.page()
    sign_up(first, "tess", "Tess")

    # Long polling only (no WebSocket upgrade), so the catch-up call is one request to hold.
    first.context.route_web_socket("**/socket.io/**", lambda ws: None)
    second, held = _tab_held_at(
        pages,
        first.context,
        "**/socket.io/**",
        lambda request: request.method == "POST" and '"sync_events"' in (request.post_data or ""),
    )
    expect(second.locator("#login-status")).to_have_attribute("data-state", "online")

    first.click("#signout")
    expect(first.locator("#auth")).to_be_visible()
    expect(second.locator("#notice")).to_have_attribute("data-reason", "loggedOutElsewhere")
    expect(second.locator("#auth")).to_be_visible()
    expect(second.locator("#shell")).to_be_hidden()
    expect(second.locator("#login-status")).to_have_attribute("data-state", "offline")
    _release(held)
    assert pages.dialogs == []
    assert pages.errors == [], "\n".join(pages.errors)


def test_a_tab_refused_at_start_up_after_another_signed_out_says_so(pages):
    """A tab that reaches the server only after the sign-out is refused with 1502 (reason logout):
    that is the same sign-out, not a silent return to the sign-in form."""
    first = pages.page()
    sign_up(first, "tara", "Tara")
    second, held = _tab_held_at(
        pages, first.context, "**/api/sync_events", lambda request: request.url.endswith("/api/sync_events")
    )

    first.click("#signout")
    expect(first.locator("#auth")).to_be_visible()
    _release(held)
    expect(second.locator("#notice")).to_have_attribute("data-reason", "loggedOutElsewhere")
    expect(second.locator("#notice")).to_have_text("You signed out in another tab.")
    expect(second.locator("#auth")).to_be_visible()
    assert pages.dialogs == []
    # Chromium logs every refused request; the refusal itself is what this tab had to hear.
    refused = [e for e in pages.errors if e.startswith("Failed to load resource") and "/api/sync_events" in e]
    assert len(refused) == 1 and pages.errors == refused, "\n".join(pages.errors)


def test_signing_out_a_tab_still_resuming_revokes_the_session(pages):
    """A reloaded tab shows Sign out while it reconnects; signing out then still ends the session on
    the server, so the other tab hears it, instead of closing only this tab and leaving the token alive."""
    first = pages.page()
    sign_up(first, "uma", "Uma")
    second, held = _tab_held_at(
        pages, first.context, "**/api/sync_events", lambda request: request.url.endswith("/api/sync_events")
    )
    expect(second.locator("#signout")).to_be_visible()

    second.click("#signout")
    _release(held)
    expect(second.locator("#auth")).to_be_visible()
    expect(first.locator("#notice")).to_have_attribute("data-reason", "loggedOutElsewhere")
    expect(first.locator("#auth")).to_be_visible()
    assert pages.dialogs == []
    assert pages.errors == [], "\n".join(pages.errors)
