"""The platform home page in Chromium; also the check that the browser harness works."""

from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.factories import OrganizationFactory


def test_the_home_page_lists_an_organization_a_keyboard_reaches(page: Page, screenshot):
    OrganizationFactory(name="Harbour Car Wash")

    page.goto(reverse("platform-home"))

    link = page.get_by_role("link", name="Harbour Car Wash")
    expect(link).to_be_visible()
    # Tab by Tab from the top of the page, focus moves from link to link until it reaches it.
    for _ in range(10):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "A"
        if link.evaluate("element => element === document.activeElement"):
            break
    expect(link).to_be_focused()
    screenshot("organization-focused")
