"""The staff console in a real browser (headless Debian Chromium via Playwright), end to end with the real
Agent and the real offline brain behind the real Twilio SMS webhook (signed requests, dry-run sender):

a customer texts "can I talk to a real person" -> the handoff appears live in the queue (no reload) ->
staff claims it and replies -> the reply is on the customer's SMS timeline (delivered-dry-run) -> the
customer's next text gets no AI answer while claimed -> hand back -> the AI answers again.

Skipped only when /usr/bin/chromium is missing (`apt-get install -y chromium`). Screenshots go to
docs/screenshots/ when DEALEROS_UPDATE_SCREENSHOTS=1 (the committed documentation), otherwise to
$DEALEROS_TEST_ARTIFACTS or the test's tmp dir.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from channels.sms import build_sms_router
from channels.staff import build_staff_router
from integrations.inventory_csv import import_inventory
from tools.inventory import InventoryStore

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
DEMO_FEED = ROOT / "examples" / "demo" / "inventory.csv"
ADMIN = {"Authorization": "Bearer browser-admin-token-5a4b3c2d1e"}
PHONE = "+18135550199"
DEALER_NUMBER = "+18135550142"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
)


def inbound(body: str, phone: str = PHONE) -> dict[str, str]:
    sid = "SM" + secrets.token_hex(16)
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": DEALER_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCity": "TAMPA",
        "FromState": "FL",
    }


async def assert_fits_a_tablet(page: Any, name: str, shots: Path) -> None:
    """Portrait tablet: nothing wider than the screen (the layout reflows instead of scrolling sideways)."""
    before = page.viewport_size
    await page.set_viewport_size({"width": 820, "height": 1180})
    assert await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    if not os.environ.get("DEALEROS_UPDATE_SCREENSHOTS"):
        await page.screenshot(path=str(shots / name))
    await page.set_viewport_size(before)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    if os.environ.get("DEALEROS_UPDATE_SCREENSHOTS"):
        target = ROOT / "docs" / "screenshots"
    else:
        target = Path(os.environ.get("DEALEROS_TEST_ARTIFACTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
async def browser_page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = await browser.new_context(viewport={"width": 1366, "height": 900})
        page = await context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        await browser.close()


@pytest.fixture
async def stack(offline_agent, services, dealer, redis, keys, kit) -> AsyncIterator[dict[str, Any]]:
    """SMS webhook + staff API/console on one uvicorn server; the real Agent with the offline brain."""
    from channels.twilio_common import DryRunSender

    await import_inventory(redis, keys, DEMO_FEED)
    sender = DryRunSender(redis, keys, dealer)
    sms = build_sms_router(
        offline_agent,
        public_url=kit.PUBLIC_URL,
        auth_token=kit.AUTH_TOKEN,
        sender=sender,
        dealer=dealer,
        burst_window_s=0.05,
    )
    staff = build_staff_router(
        agent=offline_agent,
        services=services,
        dealer=dealer,
        admin_token=ADMIN["Authorization"].split()[1],
        sender=sender,
    )
    app = FastAPI()
    app.include_router(sms)
    app.include_router(staff)
    await staff.background.start()  # routing of new handoffs and the SLA loop, as the app lifespan would
    try:
        async with kit.serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
            body = {
                "id": "kevin-tran",
                "name": "Kevin Tran",
                "role": "agent",
                "team": "bdc",
                "password": "kevin's long password",
            }
            assert (await http.post("/api/staff", json=body, headers=ADMIN)).status_code == 201

            async def text(message: str, phone: str = PHONE) -> None:
                """A signed Twilio webhook; returns once the channel has run the turn (and sent any reply)."""
                r = await kit.post_signed(http, "/twilio/sms", inbound(message, phone))
                assert r.status_code == 200, r.text
                await sms.channel.aclose()

            yield {"base": base, "http": http, "text": text}
    finally:
        await staff.background.aclose()
        await sms.channel.aclose()


async def test_staff_take_over_an_sms_conversation_in_the_console(
    stack, browser_page, shots, journey, redis, keys, dealer
):
    from playwright.async_api import expect

    from tools.dealer import StaffMember

    # Routing suggests someone on shift now (real time): with the demo roster alone, nobody is on
    # shift in the evening and the card has no suggestion. Someone always on shift keeps this test
    # the same at any hour of the day.
    always = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "00:00-23:59:59")
    dealer.staff.append(StaffMember(id="sam-night", name="Sam Night", team="sales", shifts=always))
    page, text, base = browser_page, stack["text"], stack["base"]
    await text("Hi, this is Jordan Price. Do you have a RAV4 Hybrid?")
    first = await journey(PHONE)
    assert [(e.direction, e.actor) for e in first] == [("inbound", "customer"), ("outbound", "ai")]

    # --- sign in; the queue is live and empty -------------------------------------------------------
    await page.goto(f"{base}/console")
    await expect(page).to_have_url(f"{base}/console/login?next=/console")
    await page.get_by_label("Staff id").fill("kevin-tran")
    await page.get_by_label("Password").fill("kevin's long password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Handoff queue")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("Live")
    await expect(page.get_by_text("No one is waiting.")).to_be_visible()
    await page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # --- the customer asks for a person: the handoff appears without a reload ------------------------
    await text("can I talk to a real person")
    card = page.locator("article.ho", has_text=PHONE)
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Asked for a person")
    await expect(card).to_contain_text("Suggested:")
    assert await page.evaluate("window.__sameDocument === true")
    # two more customers need someone: a hot lead and a complaint (both high priority, sorted first)
    await text("I'm ready to buy the Tacoma today, what's the out the door price?", "+18135550198")
    await text("my car was damaged at your service department and I want to file a complaint", "+17275550197")
    await expect(page.locator("article.ho")).to_have_count(3)
    priorities = await page.locator("article.ho .badge[class*='prio-']").all_text_contents()
    assert [p.lower() for p in priorities] == ["high", "high", "normal"]
    await page.screenshot(path=str(shots / "console-queue.png"), full_page=True)
    await assert_fits_a_tablet(page, "console-queue-tablet.png", shots)

    # --- claim and reply ---------------------------------------------------------------------------
    await card.get_by_role("button", name="Claim").click()
    await expect(card).to_contain_text("You own this conversation")
    reply = "Hi! This is Kevin at Bayview Toyota. Happy to help with the RAV4 Hybrid — is now a good time?"
    await card.get_by_role("textbox").fill(reply)
    await card.get_by_role("button", name="Send").click()
    await expect(card.locator(".flash")).to_have_text("Sent by sms (delivered-dry-run).")
    events = await journey(PHONE)
    staff_sms = [e for e in events if e.actor == "staff:kevin-tran" and e.kind == "message"]
    assert len(staff_sms) == 1 and staff_sms[0].channel == "sms" and staff_sms[0].text == reply
    assert staff_sms[0].meta["delivery"]["status"] == "delivered-dry-run"

    # --- while claimed, the customer's next text gets no AI answer ---------------------------------
    await text("Yes, now works. Can you do a test drive tomorrow?")
    events = await journey(PHONE)
    last_in = max(i for i, e in enumerate(events) if e.direction == "inbound")
    assert events[last_in].text == "Yes, now works. Can you do a test drive tomorrow?"
    assert not [e for e in events[last_in + 1 :] if e.actor == "ai" and e.direction == "outbound"]

    # --- the customer's journey page: everything in one timeline, live -----------------------------
    await card.get_by_role("link", name="Open journey").click()
    await expect(page.get_by_role("heading", name="Journey")).to_be_visible()
    journey_list = page.locator("#journey")
    await expect(journey_list).to_contain_text("RAV4 Hybrid")
    await expect(journey_list).to_contain_text(reply)
    await expect(journey_list).to_contain_text("Kevin Tran took over the conversation")
    await expect(page.locator("#live")).to_have_text("Live")
    await text("Great, see you then!")
    await expect(journey_list.locator("li", has_text="Great, see you then!")).to_be_visible()  # pushed, no reload

    # book a test drive from the console on the next day with openings
    store = InventoryStore(redis, keys)
    rav4 = next(v for v in await store.all() if v.model == "RAV4 Hybrid" and v.status == "available")
    http = stack["http"]
    login = await http.post("/api/auth/login", json={"id": "kevin-tran", "password": "kevin's long password"})
    token = {"Authorization": f"Bearer {login.json()['token']}"}
    day = dt.date.today() + dt.timedelta(days=1)
    for _ in range(10):
        found = await http.get(
            "/api/appointments/slots",
            params={"department": "sales", "kind": "test_drive", "date": day.isoformat()},
            headers=token,
        )
        if found.json()["items"]:
            break
        day += dt.timedelta(days=1)
    form = page.locator("#book-form")
    await form.get_by_label("Department").select_option("sales")
    await form.get_by_label("Visit").select_option("test_drive")
    await form.get_by_label("Day").fill(day.isoformat())
    await form.get_by_role("button", name="Find times").click()
    await form.get_by_role("radio").nth(2).click()
    await form.get_by_label("VIN (optional)").fill(rav4.vin)
    await form.get_by_role("button", name="Book").click()
    await expect(page.locator(".appt-list li")).to_have_count(1)  # after the page reloads with the booking
    await expect(page.locator(".appt-list")).to_contain_text("test drive")
    await expect(journey_list).to_contain_text("Kevin Tran booked sales test drive")
    await page.screenshot(path=str(shots / "customer-journey.png"), full_page=True)
    await assert_fits_a_tablet(page, "customer-journey-tablet.png", shots)

    # --- hand back: the AI answers again, with what staff said on the timeline ---------------------
    panel = page.locator("#handoff-panel")
    await panel.get_by_role("button", name="Hand back to AI").click()
    await expect(panel).to_contain_text("the AI is answering again")
    await text("What time do you close today?")
    events = await journey(PHONE)
    last_in = max(i for i, e in enumerate(events) if e.direction == "inbound")
    answers = [e for e in events[last_in + 1 :] if e.actor == "ai" and e.direction == "outbound"]
    assert len(answers) == 1 and answers[0].channel == "sms"
    assert answers[0].meta["delivery"]["status"] == "delivered-dry-run"
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_leads_by_source_chart_renders_for_a_manager(stack, browser_page, shots, customers):
    from playwright.async_api import expect

    page, http, base = browser_page, stack["http"], stack["base"]
    sources = [{"channel": "lead", "provider": "Cars.com"}] * 3 + [{"channel": "lead", "provider": "Autotrader"}] * 2
    sources += [{"channel": "web_chat", "utm_source": "google", "utm_medium": "cpc"}] * 4 + [{"channel": "sms"}]
    for i, source in enumerate(sources):
        await customers.resolve(phone=f"+1813555{1000 + i:04d}", name=f"Customer {i}", source=source)
    body = {"id": "tasha-greene", "name": "Tasha Greene", "role": "manager", "team": "bdc", "password": "tasha long pw"}
    assert (await http.post("/api/staff", json=body, headers=ADMIN)).status_code == 201
    await page.goto(f"{base}/console/login")
    await page.get_by_label("Staff id").fill("tasha-greene")
    await page.get_by_label("Password").fill("tasha long pw")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Reports").click()
    chart = page.get_by_role("img", name="Customers, appointments and handoffs per lead source")
    await expect(chart).to_be_visible()
    await expect(chart.locator("g.group rect.series-customers")).to_have_count(4)
    await expect(chart).to_contain_text("google / cpc")
    await page.screenshot(path=str(shots / "console-reports.png"), full_page=True)
