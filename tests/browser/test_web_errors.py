"""A refused action reads as a sentence in the user's language, never as the server's errMsg."""

import pytest

from tests.browser.test_web_client import PASSWORD, sign_up

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_a_refusal_in_the_chinese_ui_is_a_chinese_sentence_without_ids(pages, shot):
    wei = pages.page(locale="zh-CN")
    expect(wei.locator("html")).to_have_attribute("lang", "zh-CN")
    sign_up(wei, "wei", "Wei")

    # Joining a group that does not exist: the server answers 1301 "group not found: <id>".
    group_id = "425dc0ffee425dc0ffee425dc0ffee42"
    wei.click("#tab-groups")
    wei.fill("#side-groups input[name=group_id]", group_id)
    wei.click("#side-groups .inline-form button[type=submit]")
    toast = wei.locator("#toasts .toast.error")
    expect(toast).to_have_text("该群组不存在。")
    for raw in (group_id[:5], "1301", "not found", "错误"):
        assert raw not in toast.inner_text()
    shot(wei, "40-error-sentence-zh")

    # A second device taking the same user id at sign-up: 1102, said on the sign-up form.
    other = pages.page(locale="zh-CN")
    other.click("#to-signup")
    other.fill("#signup-form [name=user_id]", "wei")
    other.fill("#signup-form [name=nickname]", "Wei 2")
    other.fill("#signup-form [name=password]", PASSWORD)
    other.click("#signup-form button[type=submit]")
    expect(other.locator("#auth-error")).to_have_text("该用户 ID 已被注册。")
    assert pages.dialogs == []
    # Chromium logs the refused requests themselves; nothing else may go wrong.
    unexpected = [e for e in pages.errors if not e.startswith("Failed to load resource")]
    assert unexpected == [], "\n".join(pages.errors)
