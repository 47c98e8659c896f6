"""Signing in to the admin pages, the session cookie, signing out, and tenant separation."""

from __future__ import annotations

import pytest
from browser_env import Api, screenshot, sign_in
from playwright.sync_api import Page, expect
from service_process import Tenants

from datastreams.receiver import Receiver

pytestmark = pytest.mark.integration


def test_sign_in_page_renders(page: Page) -> None:
    page.goto("/")

    expect(page).to_have_url("/sign-in?next=/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "01-sign-in")


def test_sign_in_rejects_unknown_key(page: Page) -> None:
    page.goto("/sign-in")
    page.get_by_label("Admin key").fill("dsa_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("This key is not valid")
    assert not [c for c in page.context.cookies() if c["name"] == "datastreams_session"]


def test_sign_in_rejects_producer_key(page: Page, browser_tenants: Tenants) -> None:
    page.goto("/sign-in")
    page.get_by_label("Admin key").fill(browser_tenants.acme_producer)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("need an admin key")
    screenshot(page, "02-sign-in-producer-key")


def test_session_cookie_is_http_only(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)

    cookies = [c for c in page.context.cookies() if c["name"] == "datastreams_session"]
    assert len(cookies) == 1
    assert cookies[0]["httpOnly"] is True
    assert cookies[0]["sameSite"] == "Strict"
    assert browser_tenants.acme_admin not in cookies[0]["value"]
    assert page.evaluate("document.cookie") == ""


def test_sign_out_ends_session(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/domains/acme/streams")

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_revoked_key_ends_session(page: Page, api: Api) -> None:
    created = api.create_admin_key("acme")
    sign_in(page, created["key"])

    api.revoke_key(created["id"])
    page.wait_for_timeout(1200)
    page.goto("/domains/acme/streams")

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Your session ended")).to_be_visible()


def test_form_without_csrf_token_rejected(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)

    response = page.request.post(
        "/domains/acme/streams/new", form={"action": "save", "type": "https", "name": "x"}
    )

    assert response.status == 403
    assert "expired" in response.text()


def test_second_domain_sees_none_of_it(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    stream = api.https_stream("acme", receiver.url)

    sign_in(page, browser_tenants.globex_admin)

    picker = page.get_by_label("Domain")
    assert picker.locator("option").all_inner_texts() == ["Globex (globex)"]
    expect(page.get_by_text("No data streams yet")).to_be_visible()
    screenshot(page, "03-globex-streams")

    page.goto(f"/domains/acme/streams/{stream['id']}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto("/domains/acme/streams")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    screenshot(page, "04-globex-not-found")


def test_domain_picker_lists_subdomains(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)

    picker = page.get_by_label("Domain")
    picker.select_option("acme.eu")
    page.get_by_role("button", name="Open").click()

    expect(page).to_have_url("/domains/acme.eu/streams")
    expect(page.get_by_text("Acme Europe · acme.eu")).to_be_visible()
