"""Steps the browser tests share."""

from playwright.sync_api import expect

from tests.conftest import PASSWORD


def sign_in(page, base: str, username: str) -> None:
    """Sign in through the login form as ``username`` (any earlier session is dropped first)."""
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
