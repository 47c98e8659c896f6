"""A stream's page and the list: live status, chart, attempts, dead letters, replay, actions."""

from __future__ import annotations

import pytest
from browser_env import (
    REFRESH_TIMEOUT_MS,
    Api,
    ReceiverLoop,
    endpoint_of,
    received_lines,
    screenshot,
    sign_in,
    wait_until,
)
from playwright.sync_api import Browser, Page, expect
from service_process import ServerProcess, Tenants

from datastreams.receiver import Receiver

pytestmark = pytest.mark.integration


def test_events_arrive_on_stream_page(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    endpoint = endpoint_of(receiver)
    stream = api.https_stream("acme", endpoint)
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")
    expect(page.locator("[data-stat=delivered]")).to_have_text("0")

    api.publish_users("acme.eu", 3)

    # The page refreshes its live part by itself: no reload here.
    expect(page.locator("[data-stat=delivered]")).to_have_text("3", timeout=REFRESH_TIMEOUT_MS)
    expect(page.locator("[data-state]").first).to_have_text("Idle")
    expect(page.locator("#attempts-table tbody tr").first).to_contain_text("Delivered")
    expect(page.locator("[data-chart] [data-delivered]")).not_to_have_count(0)
    assert len(received_lines(receiver, endpoint)) == 3
    screenshot(page, "10-stream-delivering")


def test_list_refreshes_state(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    endpoint = endpoint_of(receiver)
    stream = api.https_stream("acme", endpoint)
    api.publish_users("acme", 2)
    # The receiver responds before the service records the delivery, so wait for the record.
    wait_until(
        lambda: api.status("acme", stream["id"])["delivered"] == 2, "both events were delivered"
    )
    sign_in(page, browser_tenants.acme_admin)

    row = page.locator(f"tr[data-stream-id='{stream['id']}']")
    expect(row.locator("[data-column=delivered]")).to_have_text("2")
    expect(row.locator("[data-column=queue]")).to_have_text("0")
    screenshot(page, "11-streams-list")
    api.disable("acme", stream["id"])

    expect(row.locator("[data-state]")).to_have_text("Disabled", timeout=REFRESH_TIMEOUT_MS)


def test_test_saved_stream(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    stream = api.https_stream("acme", f"https://127.0.0.1:9/; {receiver.url}")
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_role("button", name="Test", exact=True).click()

    result = page.locator("#stream-test-result [data-test-result]")
    expect(result).to_contain_text("Passed")
    expect(result.locator("[data-test-step]")).to_have_count(2)
    expect(result.locator("[data-test-step]").nth(0)).to_contain_text("connection failed")
    expect(result.locator("[data-test-step] [data-column=status]").nth(1)).to_have_text("200")
    expect(page.get_by_role("button", name="Test", exact=True)).to_be_enabled()
    screenshot(page, "12-stream-tested")


def test_disable_stream(page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants) -> None:
    stream = api.https_stream("acme", receiver.url)
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_role("button", name="Disable").click()

    expect(page.get_by_role("status").filter(has_text="Disabled")).to_be_visible()
    expect(page.locator("[data-state]").first).to_have_text("Disabled")
    expect(page.get_by_role("button", name="Enable")).to_be_visible()
    assert api.get_stream("acme", stream["id"]).json()["enabled"] is False
    api.publish_users("acme", 1)
    assert api.status("acme", stream["id"])["queueDepth"] == 0
    screenshot(page, "13-stream-disabled")


def test_redrive_dead_letter(
    page: Page, api: Api, receivers: ReceiverLoop, browser_tenants: Tenants
) -> None:
    rejecting = receivers.start(respond="400")
    endpoint = endpoint_of(rejecting)
    stream = api.https_stream("acme", endpoint)
    api.publish_users("acme", 1)
    wait_until(
        lambda: api.status("acme", stream["id"])["deadLetters"] == 1, "the event became dead"
    )
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    dead_letters = page.locator("#dead-letters-table tbody tr")
    expect(dead_letters).to_have_count(1)
    expect(dead_letters.first).to_contain_text("HTTP 400")
    screenshot(page, "14-stream-dead-letter")
    receivers.set_response_script(rejecting, "200")
    dead_letters.first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Redrive selected").click()

    expect(page.get_by_role("status").filter(has_text="Queued 1 dead letter")).to_be_visible()
    wait_until(lambda: len(received_lines(rejecting, endpoint)) == 1, "the redriven event arrived")
    wait_until(
        lambda: api.status("acme", stream["id"])["delivered"] == 1, "the delivery was recorded"
    )
    page.reload()
    expect(page.locator("#dead-letters-table")).to_have_count(0)
    expect(page.locator("[data-stat=delivered]")).to_have_text("1")


def test_delete_dead_letter_asks_first(
    page: Page, api: Api, receivers: ReceiverLoop, browser_tenants: Tenants
) -> None:
    rejecting = receivers.start(respond="422")
    stream = api.https_stream("acme", rejecting.url)
    api.publish_users("acme", 1)
    wait_until(
        lambda: api.status("acme", stream["id"])["deadLetters"] == 1, "the event became dead"
    )
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_role("button", name="Delete all").click()
    confirm = page.get_by_role("dialog", name="Please confirm")
    expect(confirm).to_contain_text("Delete every dead letter")
    confirm.get_by_role("button", name="Delete all").click()

    expect(page.get_by_role("status").filter(has_text="Deleted 1 dead letter")).to_be_visible()
    assert api.status("acme", stream["id"])["deadLetters"] == 0


def test_delete_stream_asks_first(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    stream = api.https_stream("acme", receiver.url)
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_role("button", name="Delete", exact=True).click()
    confirm = page.get_by_role("dialog", name="Please confirm")
    expect(confirm).to_contain_text(stream["description"])
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    screenshot(page, "15-delete-confirmation")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert api.get_stream("acme", stream["id"]).status_code == 200

    page.get_by_role("button", name="Delete", exact=True).click()
    confirm.get_by_role("button", name="Delete stream").click()

    expect(page.get_by_role("status").filter(has_text="Deleted stream")).to_be_visible()
    expect(page).to_have_url("/domains/acme/streams")
    assert api.get_stream("acme", stream["id"]).status_code == 404


def test_delete_without_script_confirms(
    browser: Browser,
    ui_server: ServerProcess,
    api: Api,
    receiver: Receiver,
    browser_tenants: Tenants,
) -> None:
    stream = api.https_stream("acme", receiver.url)
    context = browser.new_context(base_url=ui_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, browser_tenants.acme_admin)
        page.goto(f"/domains/acme/streams/{stream['id']}")

        page.get_by_role("button", name="Delete", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Delete the stream")
        kept = api.get_stream("acme", stream["id"]).status_code
        page.get_by_role("button", name="Delete stream").click()
        expect(page).to_have_url("/domains/acme/streams")
    finally:
        context.close()

    assert kept == 200
    assert api.get_stream("acme", stream["id"]).status_code == 404


def test_replay_queues_events(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    endpoint = endpoint_of(receiver)
    stream = api.https_stream("acme", endpoint)
    guids = api.publish_users("acme", 2)
    wait_until(lambda: len(received_lines(receiver, endpoint)) == 2, "both events arrived")
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_role("button", name="Replay events").click()

    # The last hour contains the events of other tests too, which the stream now gets.
    expect(page.get_by_role("status").filter(has_text="for replay")).to_be_visible()

    def each_event_arrived_twice() -> bool:
        return all(len(received_lines(receiver, endpoint, guid)) == 2 for guid in guids)

    wait_until(each_event_arrived_twice, "each event arrived a second time")


def test_replay_errors_next_to_fields(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    stream = api.https_stream("acme", receiver.url)
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_label("From (UTC)").fill("2026-01-02T10:00")
    page.get_by_label("To (UTC), not included").fill("2026-01-01T10:00")
    page.get_by_role("button", name="Replay events").click()

    field = page.locator("#replay .field", has=page.get_by_label("To (UTC), not included"))
    expect(field.locator(".field-errors")).to_contain_text("must be later than from")


def test_new_signing_secret_shown_once(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    stream = api.https_stream("acme", receiver.url)
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_role("button", name="Generate a new secret").click()

    secret = page.get_by_label("New signing secret").input_value()
    version = api.get_stream("acme", stream["id"]).json()["version"]
    assert secret.startswith("whsec_")
    assert api.get_stream("acme", stream["id"]).json()["https"]["signingSecretSet"] is True
    page.reload()
    assert secret not in page.content()
    assert api.get_stream("acme", stream["id"]).json()["version"] == version
