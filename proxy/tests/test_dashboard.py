"""The dashboard in headless Chromium: a click changes a route, and the next request
goes to the new side; the figures update live (p50 interpolated); signing in keeps no token
in the browser."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from proxy.tests.conftest import TOKEN, Fake, ProxyFactory
from proxy.tests.test_table_faults import edit

WAIT_MS = 15_000  # an upper bound for a loaded machine; each wait ends when its condition holds
NONZERO_RATE = re.compile(r"^(?!0\.0$)\d+\.\d$")  # requests/s as the page prints it


async def test_a_click_moves_a_route_and_the_next_request_follows(
    trio: tuple[Fake, Fake, Fake],
    make_proxy: ProxyFactory,
    tmp_path: Path,
    chromium: dict[str, Any],
) -> None:
    from playwright.async_api import async_playwright, expect

    proxy = await make_proxy(*trio)
    base = str(proxy.client.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/_carve/ui")
            await sign_in(page, TOKEN)
            state = page.locator("[data-state=payments]")
            await state.wait_for()
            assert await state.text_content() == "monolith"
            await assert_no_token_kept(page)

            await page.select_option("select[data-route=payments]", "extracted")
            await page.click("button[data-apply=payments]")
            await expect(state).to_have_text("extracted", timeout=WAIT_MS)
            response = await proxy.client.get("/api/payments/charges/")
            assert (await response.json())["upstream"] == "payments"

            await page.select_option("select[data-route=payments]", "canary")
            await page.fill("input[data-percent=payments]", "100")
            await page.click("button[data-apply=payments]")
            await expect(state).to_have_text("canary 100", timeout=WAIT_MS)
            history = page.locator("#history tbody tr").first
            await history.wait_for()
            assert "dashboard via 127.0.0.1" in (await history.text_content() or "")

            for _ in range(20):  # traffic the live figures must show
                await proxy.client.get("/api/inventory/")
            rate = page.locator("[data-row=inventory] td.num").first
            await expect(rate).to_have_text(NONZERO_RATE, timeout=WAIT_MS)

            def bad_entry(document: dict[str, Any]) -> None:  # edited by hand
                document["routes"]["inventory"] = {"mode": "bogus"}
                document["version"] += 1

            edit(proxy.store_url, bad_entry)
            banner = page.locator("#meta")
            await expect(banner).to_contain_text("entries not used: inventory", timeout=WAIT_MS)
            await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            await assert_p50_is_interpolated(page)
        finally:
            await browser.close()


async def sign_in(page: Any, token: str) -> None:
    await page.locator("#login").wait_for(state="visible")
    await page.fill("#token", token)
    await page.click("#login button")


async def assert_no_token_kept(page: Any) -> None:
    """The token is nowhere a script or the browser's history could find it; the session
    cookie is HttpOnly, SameSite=Strict, for /_carve only, and short-lived."""
    kept = await page.evaluate(
        "JSON.stringify([location.href, document.cookie, Object.entries(sessionStorage),"
        " Object.entries(localStorage)])"
    )
    assert TOKEN not in kept and "carve_admin_session" not in kept, kept
    (cookie,) = await page.context.cookies()
    assert cookie["name"] == "carve_admin_session" and TOKEN not in cookie["value"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/_carve"
    assert 0 < cookie["expires"] - time.time() <= 3600 + 60
    where = await page.locator("#session").text_content() or ""
    assert "HttpOnly session cookie" in where and "not stored" in where


async def test_a_wrong_token_is_refused_and_a_token_link_is_not_used(
    trio: tuple[Fake, Fake, Fake], make_proxy: ProxyFactory, chromium: dict[str, Any]
) -> None:
    """A #token= link put the token in the browser's history before the page removed it:
    such a link signs nobody in any more, and the page says why."""
    from playwright.async_api import async_playwright, expect

    proxy = await make_proxy(*trio)
    base = str(proxy.client.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/_carve/ui#token={TOKEN}")
            status = page.locator("#status")
            await expect(status).to_contain_text("not accepted", timeout=WAIT_MS)
            assert "token=" not in page.url
            assert await page.context.cookies() == []
            await page.evaluate("location.hash = '#token=" + TOKEN + "'")  # in the open tab
            await expect(status).to_contain_text("not accepted", timeout=WAIT_MS)
            assert "token=" not in page.url
            assert await page.locator("[data-state=payments]").count() == 0

            await sign_in(page, "wrong-token-0123456789")
            await expect(status).to_contain_text("refused", timeout=WAIT_MS)
            await sign_in(page, TOKEN)
            await page.locator("[data-state=payments]").wait_for()
            await expect(page.locator("#meta")).not_to_have_text("not connected")
        finally:
            await browser.close()


async def test_signing_in_updates_every_open_tab_and_signing_out_ends_the_session(
    trio: tuple[Fake, Fake, Fake], make_proxy: ProxyFactory, chromium: dict[str, Any]
) -> None:
    """Issue 16: an open tab stayed "not connected" when it was given a token elsewhere."""
    from playwright.async_api import async_playwright, expect

    proxy = await make_proxy(*trio)
    base = str(proxy.client.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium)
        try:
            context = await browser.new_context()
            waiting, signing = await context.new_page(), await context.new_page()
            await waiting.goto(f"{base}/_carve/ui")
            await waiting.locator("#login").wait_for(state="visible")
            assert await waiting.locator("#meta").text_content() == "not connected"
            await signing.goto(f"{base}/_carve/ui")
            await sign_in(signing, TOKEN)
            await waiting.locator("[data-state=payments]").wait_for()  # without a reload
            await expect(waiting.locator("#meta")).to_contain_text("route table v")
            await expect(waiting.locator("#login")).to_be_hidden()

            await signing.click("#signout")
            await expect(waiting.locator("#login")).to_be_visible(timeout=WAIT_MS)
            await expect(waiting.locator("#meta")).to_have_text("not connected")
            assert await context.cookies() == []
        finally:
            await browser.close()


async def assert_p50_is_interpolated(page: Any) -> None:
    """Issue 16: the p50 showed a bucket's edge (50.0, 100.0) as if it were exact; it is
    interpolated within its bucket now (the page's own function, in the browser)."""
    # Of 50 answers 10 took <= 50 ms and 30 more <= 100 ms: the 25th is half-way
    # into the 50..100 ms bucket, 75.0 ms at a constant density (not 100.0).
    before = {"0.05": 0, "0.1": 0, "0.25": 0, "+Inf": 0}
    now = {"0.05": 10, "0.1": 40, "0.25": 50, "+Inf": 50}
    p50 = await page.evaluate("([now, before]) => p50(now, before)", [now, before])
    assert abs(p50 - 75.0) < 1e-9
    before = {"0.05": 10, "0.1": 40, "0.25": 50, "+Inf": 50}  # a difference counts
    now = {"0.05": 10, "0.1": 40, "0.25": 100, "+Inf": 100}
    p50 = await page.evaluate("([now, before]) => p50(now, before)", [now, before])
    assert abs(p50 - 175.0) < 1e-9  # half-way into 100..250 ms
    before = {"0.05": 0, "0.1": 0, "0.25": 0, "+Inf": 0}
    now = {"0.05": 1, "0.1": 1, "0.25": 1, "+Inf": 9}
    shown = await page.evaluate("([now, before]) => fmtP50(p50(now, before))", [now, before])
    assert shown == "> 250"  # past the last bucket only a bound is known
    assert await page.evaluate("fmtP50(75)") == "≈ 75.0"
