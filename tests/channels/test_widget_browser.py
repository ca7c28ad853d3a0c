"""The widget in a real browser: headless Debian Chromium driven by Playwright, against the demo site
served by uvicorn, with the real Agent and the real offline brain on the demo inventory.

Skipped only when /usr/bin/chromium is missing (install it with `apt-get install -y chromium`;
Playwright's own browser download is not used). Screenshots go to the test's tmp dir, or to
$DEALEROS_TEST_ARTIFACTS when that is set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from agent.offline import OfflineBrain
from channels.webchat import build_webchat_router
from integrations.inventory_csv import import_inventory
from tools.inventory import InventoryStore

CHROMIUM = Path("/usr/bin/chromium")
DEMO_FEED = Path(__file__).resolve().parents[2] / "examples" / "demo" / "inventory.csv"
UTM = "utm_source=google&utm_medium=cpc&utm_campaign=used-trucks&gclid=TeSt-GcLiD-123"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
)


@pytest.fixture
def brain() -> OfflineBrain:
    return OfflineBrain(use_embeddings=False)


@pytest.fixture
async def site(redis, keys, agent, dealer, kit) -> AsyncIterator[str]:
    await import_inventory(redis, keys, DEMO_FEED)
    app = FastAPI()
    app.include_router(build_webchat_router(agent, dealer=dealer, public_url=None))
    async with kit.serve(app) as base:
        yield base


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 860})
        page = await context.new_page()
        page.set_default_timeout(15_000)
        yield page
        await browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("DEALEROS_TEST_ARTIFACTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def record_frames(page: Any) -> list[dict[str, Any]]:
    """Every frame the server sends to the widget, in order (to prove the reply was streamed)."""
    frames: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        def on_frame(payload: Any) -> None:
            if isinstance(payload, str):
                frames.append(json.loads(payload))

        ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return frames


async def test_chat_through_the_widget_on_the_demo_site(site, page, shots, customers, timeline, redis, keys):
    from playwright.async_api import expect

    frames = record_frames(page)
    await page.goto(f"{site}/?{UTM}")
    await expect(page.get_by_role("heading", name="Featured vehicles")).to_be_visible()
    assert await page.locator("script").count() == 1  # the whole embed is one script tag

    launcher = page.locator(".dos-launcher")  # its name flips between "Open chat…" and "Close chat…"
    await expect(page.get_by_role("button", name="Open chat: Chat with us")).to_have_attribute("aria-expanded", "false")
    await launcher.click()
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    await expect(launcher).to_have_accessible_name("Close chat: Chat with us")
    box = page.get_by_role("textbox", name="Type your message")
    await expect(box).to_be_focused()
    await box.fill("Do you have any used Tacomas?")
    await box.press("Enter")

    card = page.locator(".dos-card").first
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Tacoma")
    link = card.get_by_role("link")
    assert (await link.get_attribute("href")).startswith("https://www.bayviewtoyota.example/inventory/used/")
    reply = page.locator(".dos-assistant").last
    await expect(reply).not_to_have_attribute("aria-busy", "true")
    kinds = [f["type"] for f in frames]
    assert "token" in kinds and kinds.index("token") < kinds.index("message"), kinds  # streamed, then final
    final = next(f for f in frames if f["type"] == "message")
    assert await page.locator(".dos-assistant").last.text_content() == final["text"]
    assert any("Tacoma" in c["title"] for c in final["cards"])
    await card.scroll_into_view_if_needed()
    await page.screenshot(path=str(shots / "widget-chat.png"))

    visitor_id = await page.evaluate(
        "() => JSON.parse(Object.entries(localStorage).find(([k]) => k.endsWith(':visitor'))[1])"
    )
    customer = await customers.lookup("visitor", visitor_id)
    assert customer is not None
    assert customer.source["channel"] == "web_chat"
    assert customer.source["utm_source"] == "google" and customer.source["utm_campaign"] == "used-trucks"
    assert customer.source["gclid"] == "TeSt-GcLiD-123" and customer.source["landing_page"].endswith(UTM)

    # A reload restores the conversation (the panel was open, so it reopens with the history).
    await page.reload()
    await expect(page.locator(".dos-customer").filter(has_text="Do you have any used Tacomas?")).to_be_visible()
    await expect(page.locator(".dos-card").first).to_contain_text("Tacoma")
    await page.screenshot(path=str(shots / "widget-restored.png"))

    # On a vehicle detail page, the question carries the VDP it was asked on.
    tacoma = next(
        v for v in await InventoryStore(redis, keys).all("available") if v.condition == "used" and v.model == "Tacoma"
    )
    vdp = f"{site}/demo/inventory/used/{tacoma.vdp_url.rsplit('/', 1)[-1]}"
    await page.goto(vdp)
    await expect(page.locator(".dos-customer").first).to_be_visible()  # same visitor, same conversation
    await page.get_by_role("textbox", name="Type your message").fill("Is this one still available?")
    await page.get_by_role("button", name="Send message").click()
    await expect(page.locator(".dos-assistant")).to_have_count(3)  # greeting + two replies
    events = await timeline.read(await customers.sources(customer.id))
    asked = [e for e in events if e.direction == "inbound" and e.text == "Is this one still available?"]
    assert asked and asked[0].meta["vdp_stock"] == tacoma.stock_number and asked[0].meta["page_url"] == vdp
    assert asked[0].meta["source"]["utm_source"] == "google"  # first touch survived the navigation

    # Keyboard: Escape closes the panel and gives focus back to the launcher.
    await page.keyboard.press("Escape")
    await expect(launcher).to_be_focused()
    await expect(page.get_by_role("dialog")).to_be_hidden()


async def test_a_message_in_flight_when_the_connection_drops_is_resent_once(site, page, customers, timeline):
    """The socket dies with the visitor's message in flight: the widget reconnects with backoff, gets
    the history, and resends the pending message with the same client id; it is answered once."""
    from playwright.async_api import expect

    seen: list[dict[str, Any]] = []
    dropped: list[bool] = []

    async def route(ws: Any) -> None:
        server = ws.connect_to_server()

        async def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            seen.append(frame)
            if frame.get("type") == "message" and not dropped:
                dropped.append(True)
                await ws.close()  # the network drops before the server gets the message
                return
            server.send(message)

        ws.on_message(from_page)

    await page.route_web_socket(re.compile(r"/chat/ws"), route)
    await page.goto(site)
    await page.get_by_role("button", name="Open chat: Chat with us").click()
    box = page.get_by_role("textbox", name="Type your message")
    await box.fill("What are your service hours?")
    await box.press("Enter")
    await expect(page.locator(".dos-assistant")).to_have_count(2)  # greeting + the one reply
    await expect(page.locator(".dos-customer")).to_have_count(1)
    await expect(page.locator(".dos-pending")).to_have_count(0)
    sends = [f for f in seen if f["type"] == "message"]
    assert len(sends) == 2 and sends[0]["id"] == sends[1]["id"]  # the resend reused the client id
    visitor_id = await page.evaluate("() => window.DealerOSChat.visitorId()")
    customer = await customers.lookup("visitor", visitor_id)
    inbound = [e for e in await timeline.read(await customers.sources(customer.id)) if e.direction == "inbound"]
    assert [e.text for e in inbound] == ["What are your service hours?"]


async def test_on_a_phone_the_panel_fills_the_screen_and_the_host_css_does_not_leak_in(site, page, shots):
    from playwright.async_api import expect

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(site)
    await page.locator(".dos-launcher").click()
    panel = page.get_by_role("dialog", name="Chat with us")
    await expect(panel).to_be_visible()
    box = await panel.bounding_box()
    assert box is not None and (box["width"], box["height"]) == (390, 844)
    # The demo site styles every <button> yellow-on-grey; the widget's own buttons don't inherit that.
    send_color = await page.get_by_role("button", name="Send message").evaluate("b => getComputedStyle(b).color")
    assert send_color == "rgb(255, 255, 255)"
    await page.screenshot(path=str(shots / "widget-mobile.png"))
    await page.get_by_role("button", name="Close chat", exact=True).click()
    await expect(panel).to_be_hidden()


async def test_the_contact_form_identifies_the_visitor(site, page, customers):
    from playwright.async_api import expect

    known = (await customers.resolve(phone="+18135550160", name="Dana Cruz")).customer
    await page.goto(site)
    await page.locator(".dos-launcher").click()
    toggle = page.get_by_role("button", name="Share your contact details")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await page.get_by_label("Mobile phone").fill("(813) 555-0160")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Thanks! We saved your contact details.")).to_be_visible()
    visitor_id = await page.evaluate("() => window.DealerOSChat.visitorId()")
    assert (await customers.lookup("visitor", visitor_id)).id == known.id
