"""Accounts in a real browser, at 1280 and 390 pixels wide: an organiser invites someone
by a one-time link; they open it, choose a password and sign in; the organiser changes
their role and they see it at their next click; they turn on two-factor sign-in (the code
made by pyotp, as an authenticator app would) and sign in with a code. axe-core checks
every page; screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest

from tests.browser.conftest import ORGANISER
from tests.browser.test_dashboard_browser import check_accessibility, shot, sign_in

pytestmark = pytest.mark.timeout(180)

CHOSEN = "my own three words"


@pytest.mark.parametrize("width", [1280, 390])
def test_invite_accept_sign_in_and_role_change(browser: Any, server: tuple[str, Any],
                                               width: int) -> None:
    base, runtime = server
    email = f"helper{width}@example.org"
    viewport = {"width": width, "height": 900}
    organiser_context = browser.new_context(bypass_csp=True, viewport=viewport)
    organiser = organiser_context.new_page()
    sign_in(organiser, base, ORGANISER)
    organiser.get_by_role("link", name="Accounts").click()
    check_accessibility(organiser, f"accounts page at {width}")
    organiser.get_by_label("Email address").fill(email)
    organiser.get_by_label("Reviewer").check()
    organiser.get_by_label("A one-time link").check()
    organiser.get_by_role("button", name="Invite", exact=True).click()
    link = organiser.get_by_role("textbox", name="One-time link").input_value()
    assert re.fullmatch(rf"{re.escape(base)}/dashboard/invite/[A-Za-z0-9_-]{{43}}", link)
    assert "Send this link to " + email in organiser.locator("#made").inner_text()
    check_accessibility(organiser, f"invite made at {width}")
    shot(organiser, f"accounts-invited-{width}")

    person_context = browser.new_context(bypass_csp=True, viewport=viewport)
    person = person_context.new_page()
    person.goto(link)
    assert email in person.locator("main").inner_text()
    check_accessibility(person, f"choose a password at {width}")
    shot(person, f"accounts-choose-password-{width}")
    person.get_by_label("Password", exact=True).fill(CHOSEN)
    person.get_by_label("Password again").fill(CHOSEN)
    person.get_by_role("button", name="Set my password").click()
    person.wait_for_url(f"{base}/dashboard/login")
    assert "Your password is set" in person.locator(".flashes").inner_text()
    person.get_by_label("Email address").fill(email)
    person.get_by_label("Password").fill(CHOSEN)
    person.get_by_role("button", name="Sign in").click()
    person.wait_for_url(f"{base}/dashboard/")
    assert f"Signed in as {email} (reviewer)" in person.locator("header").inner_text()
    # The link worked once.
    person_context.new_page().goto(link)
    again = person_context.pages[-1]
    assert "This link does not work" in again.locator("h1").inner_text()
    again.close()

    # The organiser makes them a safeguarding lead: their open session ends, and they
    # sign in again to their new role.
    organiser.goto(f"{base}/dashboard/accounts")
    card = organiser.locator("li.account", has_text=email)
    card.locator("summary").click()
    check_accessibility(organiser, f"account opened at {width}")
    shot(organiser, f"accounts-list-{width}")
    card.get_by_label("Role").select_option("lead")
    card.get_by_role("button", name="Change role").click()
    assert f"{email} is now lead." in organiser.locator(".flashes").inner_text()
    person.reload()
    person.wait_for_url(re.compile(re.escape(f"{base}/dashboard/login") + r".*"))
    person.get_by_label("Email address").fill(email)
    person.get_by_label("Password").fill(CHOSEN)
    person.get_by_role("button", name="Sign in").click()
    person.wait_for_url(f"{base}/dashboard/")
    assert f"Signed in as {email} (lead)" in person.locator("header").inner_text()

    # They turn on two-factor sign-in, then sign in with a code.
    person.get_by_role("link", name="Your account").click()
    check_accessibility(person, f"your account at {width}")
    person.get_by_role("link", name="Set up two-factor sign-in").click()
    assert person.get_by_role("img", name="QR code for your authenticator app").is_visible()
    check_accessibility(person, f"two-factor setup at {width}")
    shot(person, f"accounts-two-factor-{width}")
    totp = pyotp.TOTP(person.get_by_label("Key").input_value().replace(" ", ""))
    person.get_by_label("Code from the app").fill(totp.at(runtime.clock()))
    person.get_by_role("button", name="Turn on two-factor sign-in").click()
    assert "Two-factor sign-in is on" in person.locator(".flashes").inner_text()
    person.get_by_role("button", name="Sign out").click()
    runtime.clock.advance(seconds=60)  # a new code: each one works once
    person.get_by_label("Email address").fill(email)
    person.get_by_label("Password").fill(CHOSEN)
    person.get_by_role("button", name="Sign in").click()
    person.wait_for_url(f"{base}/dashboard/login/code")
    check_accessibility(person, f"code page at {width}")
    shot(person, f"accounts-code-{width}")
    person.get_by_label("Code").fill(totp.at(runtime.clock()))
    person.get_by_role("button", name="Sign in").click()
    person.wait_for_url(f"{base}/dashboard/")
    assert f"Signed in as {email} (lead)" in person.locator("header").inner_text()
    organiser.goto(f"{base}/dashboard/accounts")
    assert "On" in organiser.locator("li.account", has_text=email).locator(
        "dl").inner_text()
    person_context.close()
    organiser_context.close()
