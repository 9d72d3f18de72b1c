"""The web client's "Change password" form in a real Chromium: errors as text, and after a change the
user's other browser is signed out with its reason while this one stays in."""

import pytest
import requests

from tests.browser.conftest import Pages
from tests.browser.test_web_client import PASSWORD, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

NEW_PASSWORD = "a much longer secret"


@pytest.fixture
def pages(browser, live_server):
    # Policy 0: two browsers (both platform Web) of one user stay signed in side by side.
    server = live_server({"IM_ASYNC_MODE": "gevent", "IM_MULTI_LOGIN_POLICY": "0"})
    pages = Pages(browser, server.url)
    pages.server = server
    yield pages
    pages.close()


def _login_code(url, password):
    return requests.post(
        f"{url}/api/login", json={"user_id": "nora", "password": password, "platform_id": 1}, timeout=10
    ).json()["errCode"]


def _change(page, old, new, repeat=None):
    page.fill("#password-form [name=old_password]", old)
    page.fill("#password-form [name=new_password]", new)
    page.fill("#password-form [name=repeat_password]", new if repeat is None else repeat)
    page.click("#password-form button[type=submit]")


def test_change_password_form_signs_out_the_other_browser(pages, shot):
    url = pages.server.url
    requests.post(f"{url}/api/register", json={"user_id": "nora", "password": PASSWORD, "nickname": "Nora"}, timeout=10)
    laptop, phone = pages.page(), pages.page()
    sign_in(laptop, "nora")
    sign_in(phone, "nora")

    laptop.click("#profile-button")
    form, message = laptop.locator("#password-form"), laptop.locator("#password-message")
    expect(form.locator("h3")).to_have_text("Change password")
    _change(laptop, PASSWORD, NEW_PASSWORD, repeat=NEW_PASSWORD + "x")
    expect(message).to_have_text("The new passwords do not match.")
    expect(message).to_have_class("form-message error")
    _change(laptop, PASSWORD, PASSWORD)
    expect(message).to_have_text("The new password must differ from the current one.")
    _change(laptop, "not my password", NEW_PASSWORD)
    expect(message).to_have_text("The current password is wrong.")
    shot(laptop, "30-change-password-error")
    expect(phone.locator("#login-status")).to_have_attribute("data-state", "online")
    assert _login_code(url, PASSWORD) == 0

    _change(laptop, PASSWORD, NEW_PASSWORD)
    expect(message).to_have_text("Password changed. Your other devices were signed out.")
    expect(message).to_have_class("form-message ok")
    expect(form.locator("[name=old_password]")).to_have_value("")
    shot(laptop, "31-change-password-done")

    # The phone is signed out with the reason; the laptop stays signed in and keeps working.
    expect(phone.locator("#auth")).to_be_visible()
    expect(phone.locator("#notice")).to_have_text(
        "Your password was changed on another device. Sign in with the new password."
    )
    expect(phone.locator("#notice")).to_have_attribute("data-reason", "passwordChangedElsewhere")
    expect(laptop.locator("#login-status")).to_have_attribute("data-state", "online")
    laptop.fill("#profile-form [name=nickname]", "Nora N.")
    laptop.click("#profile-form button[type=submit]")
    expect(laptop.locator("#me .me-name")).to_have_text("Nora N.")
    assert _login_code(url, PASSWORD) == 1103
    assert _login_code(url, NEW_PASSWORD) == 0

    # In Chinese the form and its messages are Chinese too.
    laptop.select_option("#shell .lang-select", "zh-CN")
    expect(form.locator("h3")).to_have_text("修改密码")
    _change(laptop, NEW_PASSWORD, NEW_PASSWORD + "!", repeat="different")
    expect(message).to_have_text("两次输入的新密码不一致。")
    assert pages.errors == [], "\n".join(pages.errors)
