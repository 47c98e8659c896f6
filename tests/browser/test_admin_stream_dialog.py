"""The add and edit dialog: Test without saving, Save, field errors, filters and labels."""

from __future__ import annotations

import json
import uuid

import pytest
from browser_env import (
    Api,
    ReceiverLoop,
    probe_requests,
    screenshot,
    sign_in,
    unlabelled_controls,
    wait_until,
)
from playwright.sync_api import Browser, Page, expect
from service_process import ServerProcess, Tenants

from datastreams.aws.trust import trust_policy
from datastreams.receiver import Receiver

pytestmark = pytest.mark.integration

SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def open_add_dialog(page: Page) -> None:
    page.get_by_role("link", name="Add stream").click()
    expect(page.get_by_role("dialog", name="Add stream")).to_be_visible()


def test_add_stream_test_then_save(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    name = f"warehouse-{uuid.uuid4().hex[:8]}"
    sign_in(page, browser_tenants.acme_admin)
    screenshot(page, "05-streams")
    open_add_dialog(page)
    dialog = page.get_by_role("dialog", name="Add stream")

    dialog.get_by_label("Description").fill("Users to the warehouse")
    dialog.get_by_label("Stream name").fill(name)
    dialog.get_by_label("Endpoints").fill(f"{receiver.url}events")
    dialog.get_by_label("HTTP method").select_option("PUT")
    dialog.get_by_role("button", name="Add filter").click()
    dialog.get_by_label("Event type").select_option(label="User created")
    dialog.get_by_label("Properties").fill("userId, newUser.firstName")
    probes_before = len(probe_requests(receiver))
    dialog.get_by_role("button", name="Test", exact=True).click()

    result = dialog.locator("[data-test-result]")
    expect(result).to_contain_text("Passed")
    expect(result.locator("[data-test-step] [data-column=status]")).to_have_text("200")
    assert len(probe_requests(receiver)) == probes_before + 1
    assert name not in [stream["name"] for stream in api.list_streams("acme")]
    expect(dialog.get_by_label("Properties")).to_have_value("userId, newUser.firstName")
    screenshot(page, "06-add-stream-tested")

    dialog.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", name="Users to the warehouse", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Saved stream")).to_be_visible()
    saved = next(stream for stream in api.list_streams("acme") if stream["name"] == name)
    assert saved["https"]["method"] == "PUT"
    assert saved["filters"] == [
        {"eventType": "UserEntityCreated", "properties": ["userId", "newUser.firstName"]}
    ]


def test_field_errors_next_to_fields(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)
    open_add_dialog(page)
    dialog = page.get_by_role("dialog", name="Add stream")

    dialog.get_by_label("Stream name").fill("broken")
    dialog.get_by_label("Endpoints").fill("http://127.0.0.1/events")
    dialog.get_by_label("Timeout seconds").fill("90")
    dialog.get_by_role("button", name="Save").click()

    endpoints = dialog.locator(".field", has=page.get_by_label("Endpoints"))
    expect(endpoints.locator(".field-errors")).to_contain_text("must be an https:// URL")
    timeout = dialog.locator(".field", has=page.get_by_label("Timeout seconds"))
    expect(timeout.locator(".field-errors")).to_contain_text("from 1 to 30")
    expect(dialog.get_by_label("Endpoints")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Endpoints")).to_be_focused()
    screenshot(page, "07-add-stream-errors")


def test_no_filter_warning_follows_form(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)
    open_add_dialog(page)
    dialog = page.get_by_role("dialog", name="Add stream")
    warning = dialog.get_by_text("every event")

    expect(warning).to_be_visible()
    dialog.get_by_role("button", name="Add filter").click()
    dialog.get_by_label("Event type").select_option(label="User created")
    expect(warning).to_be_hidden()
    dialog.get_by_role("button", name="Remove").click()
    expect(warning).to_be_visible()
    dialog.get_by_label("Enabled").uncheck()
    expect(warning).to_be_hidden()


def test_stream_type_shows_its_fields(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)
    open_add_dialog(page)
    dialog = page.get_by_role("dialog", name="Add stream")

    dialog.get_by_label("Stream type").select_option("firehose")

    expect(dialog.get_by_label("Role ARN")).to_be_visible()
    expect(dialog.get_by_label("Endpoints")).to_be_hidden()
    external_id = dialog.get_by_label("External ID").input_value()
    expected_policy = json.dumps(trust_policy(external_id, None), indent=2)
    expect(dialog.get_by_label("Trust policy of the role")).to_have_value(expected_policy)
    screenshot(page, "08-add-stream-firehose")


def test_dialog_works_with_keyboard(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)

    page.get_by_role("link", name="Add stream").focus()
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Add stream")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Description")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Stream type")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_every_control_has_label(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    stream = api.https_stream("acme", receiver.url)
    sign_in(page, browser_tenants.acme_admin)

    assert unlabelled_controls(page) == []
    open_add_dialog(page)
    page.get_by_role("dialog").get_by_role("button", name="Add filter").click()
    assert unlabelled_controls(page) == []
    page.goto(f"/domains/acme/streams/{stream['id']}")
    assert unlabelled_controls(page) == []


def test_edit_filters(page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants) -> None:
    stream = api.https_stream("acme", receiver.url)
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_role("link", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit stream")
    expect(dialog.get_by_label("Event type")).to_have_value("UserEntityCreated")
    dialog.get_by_label("Properties").fill("userId")
    dialog.get_by_role("button", name="Add filter").click()
    dialog.get_by_label("Event type").nth(1).select_option(label="Grade changed")
    dialog.get_by_label("Properties").nth(1).fill("enrollmentId, newGrade.score")
    screenshot(page, "09-edit-stream")
    dialog.get_by_role("button", name="Save").click()

    expect(page.locator("[data-filters]")).to_contain_text("User created")
    expect(page.locator("[data-filters]")).to_contain_text("enrollmentId, newGrade.score")
    saved = api.get_stream("acme", stream["id"]).json()
    assert saved["filters"] == [
        {"eventType": "UserEntityCreated", "properties": ["userId"]},
        {"eventType": "GradeChanged", "properties": ["enrollmentId", "newGrade.score"]},
    ]
    assert saved["version"] == stream["version"] + 1


def test_edit_conflict_reported(
    page: Page, api: Api, receiver: Receiver, browser_tenants: Tenants
) -> None:
    stream = api.https_stream("acme", receiver.url)
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")
    page.get_by_role("link", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit stream")
    expect(dialog.get_by_label("Description")).to_have_value(stream["description"])

    api.disable("acme", stream["id"])
    dialog.get_by_label("Description").fill("Changed meanwhile")
    dialog.get_by_role("button", name="Save").click()

    expect(dialog.get_by_role("alert")).to_contain_text("Someone changed this stream")


def test_edited_stream_tests_with_stored_secret(
    page: Page, api: Api, receivers: ReceiverLoop, browser_tenants: Tenants
) -> None:
    verifying = receivers.start(signing_secrets=[SIGNING_SECRET])
    stream = api.https_stream("acme", verifying.url, signingSecret=SIGNING_SECRET)
    sign_in(page, browser_tenants.acme_admin)
    page.goto(f"/domains/acme/streams/{stream['id']}")

    page.get_by_role("link", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit stream")
    expect(dialog.get_by_label("Signing secret", exact=True)).to_have_value("")
    dialog.get_by_role("button", name="Test", exact=True).click()

    expect(dialog.locator("[data-test-result]")).to_contain_text("Passed")
    wait_until(lambda: len(probe_requests(verifying)) == 1, "the probe arrived")
    assert verifying.requests[-1].signature_valid is True


def test_form_works_without_script(
    browser: Browser,
    ui_server: ServerProcess,
    api: Api,
    receiver: Receiver,
    browser_tenants: Tenants,
) -> None:
    context = browser.new_context(base_url=ui_server.url, java_script_enabled=False)
    page = context.new_page()
    name = f"plain-{uuid.uuid4().hex[:8]}"
    try:
        sign_in(page, browser_tenants.acme_admin)
        page.get_by_role("link", name="Add stream").click()
        expect(page.get_by_role("heading", name="Add stream")).to_be_visible()

        page.get_by_label("Stream name").fill(name)
        page.get_by_label("Endpoints").fill(receiver.url)
        page.get_by_role("button", name="Add filter").click()
        page.get_by_label("Event type").select_option(label="User created")
        page.get_by_role("button", name="Save", exact=True).click()

        expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    finally:
        context.close()
    saved = next(stream for stream in api.list_streams("acme") if stream["name"] == name)
    assert saved["filters"] == [{"eventType": "UserEntityCreated", "properties": []}]


def test_property_paths_suggested(page: Page, browser_tenants: Tenants) -> None:
    sign_in(page, browser_tenants.acme_admin)
    open_add_dialog(page)
    dialog = page.get_by_role("dialog", name="Add stream")
    dialog.get_by_role("button", name="Add filter").click()
    dialog.get_by_label("Event type").select_option(label="User created")

    dialog.get_by_label("Properties").fill("userId, ")

    suggestions = dialog.locator("datalist option")
    values = [suggestions.nth(index).get_attribute("value") for index in range(suggestions.count())]
    assert "userId, newUser.firstName" in values
    assert "userId, userId" not in values
