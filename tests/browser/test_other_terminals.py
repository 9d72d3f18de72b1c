"""What one tab does to the user's own data shows in their other tabs (OpenIM's multi-terminal sync)."""
import pytest

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
