"""The dashboard in headless Chromium: a click changes a route, and the next request
goes to the new side; the figures update live."""

from __future__ import annotations

import re
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
            await page.goto(f"{base}/_carve/ui#token={TOKEN}")
            state = page.locator("[data-state=payments]")
            await state.wait_for()
            assert await state.text_content() == "monolith"
            assert "token=" not in page.url  # the token leaves the address bar at once

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
        finally:
            await browser.close()


async def test_a_wrong_token_shows_the_login_form(
    trio: tuple[Fake, Fake, Fake], make_proxy: ProxyFactory, chromium: dict[str, Any]
) -> None:
    from playwright.async_api import async_playwright

    proxy = await make_proxy(*trio)
    base = str(proxy.client.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/_carve/ui#token=wrong-token-0123456789")
            await page.locator("#login").wait_for(state="visible")
            assert "refused" in (await page.locator("#status").text_content() or "")
            await page.fill("#token", TOKEN)
            await page.click("#login button")
            await page.locator("[data-state=payments]").wait_for()
        finally:
            await browser.close()
