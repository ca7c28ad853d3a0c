"""Lead intake over a real uvicorn server: ADF samples (valid, sloppy, hostile), JSON leads, and the
AI's first response (real Agent, real offline brain, dry-run senders) when consent allows.

The clock is pinned to a Tuesday morning in Tampa (inside every quiet-hours window) and advances in
real time, so the consent gate's timing rules never depend on when the suite runs. First responses
run in background tasks; tests await `router.intake.drain()` — never a sleep.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent.offline import OfflineBrain
from agent.turn import Agent, Services
from agent.types import BrainInput, BrainOutput, Reply
from channels.leads import build_leads_router
from channels.twilio_common import DryRunSender, OutboundSms, SendResult
from integrations.inventory_csv import import_inventory
from memory.checkpoint import AsyncRedisCheckpointSaver
from memory.consent import ConsentLedger
from tools.consent import ConsentGate

SAMPLES = Path(__file__).parent / "samples"
BASE = dt.datetime(2026, 11, 17, 15, 30, tzinfo=dt.UTC)  # Tue 10:30 in Tampa
TACOMA_VIN, RAV4_VIN, CAMRY_VIN = "3TMCZ5AN2KM387595", "2T3P1RFV8MW981795", "4T1DBACK0TU987562"
HOSTILE = [
    "hostile_billion_laughs.xml",
    "hostile_xxe_file.xml",
    "hostile_xxe_parameter.xml",
    "hostile_external_dtd.xml",
    "not_xml.txt",
    "malformed_truncated.xml",
]


class RecordingDryRun(DryRunSender):
    """The real dry-run SMS sender, also remembering what it transmitted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[OutboundSms] = []

    async def _transmit(self, msg: OutboundSms, body: str) -> SendResult:
        self.sent.append(msg)
        return await super()._transmit(msg, body)


class GatedBrain:
    """TEST DOUBLE, not the product's brain: a slow LLM stand-in that answers only once `release` is
    set, so a test can show the HTTP response does not wait for it."""

    name = "gated"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.inputs: list[BrainInput] = []

    async def respond(self, inp: BrainInput) -> BrainOutput:
        self.inputs.append(inp)
        self.started.set()
        await self.release.wait()
        return BrainOutput(reply=Reply(text="Thanks! The RAV4 is here; when would you like to see it?"), brain="gated")


@pytest.fixture
def clock():
    start = time.monotonic()
    return lambda: BASE + dt.timedelta(seconds=time.monotonic() - start)


@pytest.fixture
def services(redis, keys, dealer, clock) -> Services:
    return Services(dealer=dealer, redis=redis, keys=keys, clock=clock)


@pytest.fixture
def brain() -> OfflineBrain:
    return OfflineBrain(use_embeddings=False)


@pytest.fixture
def sms(redis, keys, dealer, clock) -> RecordingDryRun:
    return RecordingDryRun(redis, keys, dealer, clock=clock)


async def _serve(agent: Any, dealer: Any, sms: Any, kit: Any) -> AsyncIterator[SimpleNamespace]:
    router = build_leads_router(agent, dealer=dealer, sender=sms)
    app = FastAPI()
    app.include_router(router)
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:
        yield SimpleNamespace(http=http, intake=router.intake)
        await router.intake.drain()


@pytest.fixture
async def leads(redis, keys, agent, dealer, sms, kit) -> AsyncIterator[SimpleNamespace]:
    await import_inventory(redis, keys, SAMPLES / "inventory.csv")
    async for served in _serve(agent, dealer, sms, kit):
        yield served


async def post_adf(leads: SimpleNamespace, name: str) -> httpx.Response:
    body = (SAMPLES / name).read_bytes()
    return await leads.http.post("/leads/adf", content=body, headers={"content-type": "application/xml"})


async def settle(leads: SimpleNamespace) -> None:
    """Wait for the first responses in flight ("within seconds": a generous bound, not a sleep)."""
    await asyncio.wait_for(leads.intake.drain(), 15)


async def journey(customers, timeline, customer_id: str):
    primary = await customers.primary_of(customer_id)
    return await timeline.read(await customers.sources(primary.id))


async def dealer_dump(redis, keys) -> str:
    """Every value stored under this dealer's keys, as text (to prove what was *not* stored)."""
    out = []
    async for key in redis.scan_iter(match=keys.scan_pattern(), count=500):
        kind = await redis.type(key)
        if kind == "string":
            out.append(await redis.get(key) or "")
        elif kind == "hash":
            out.extend((await redis.hgetall(key)).values())
        elif kind == "zset":
            out.extend(await redis.zrange(key, 0, -1))
        elif kind == "set":
            out.extend(await redis.smembers(key))
        elif kind == "stream":
            out.extend(json.dumps(f) for _, f in await redis.xrange(key))
    return "\n".join(out)


# --- valid ADF from three provider styles -------------------------------------------------------
async def test_a_cars_com_lead_lands_on_the_customer_record(leads, customers, timeline, redis, keys, sms):
    r = await post_adf(leads, "cars_com.xml")
    assert r.status_code == 202, r.text
    body = r.json()
    # No consent text on this lead: no proactive SMS; the email answers the customer's own inquiry.
    assert body["response"] == "queued" and body["channel"] == "email"
    assert body["lead_id"].startswith("L")
    customer = await customers.get(body["customer_id"])
    assert customer.name == "Maria Gonzalez"
    assert customer.phones == ["+18135550171"] and customer.emails == ["maria.gonzalez@example.com"]
    assert customer.state == "FL"
    assert customer.source == {
        "channel": "lead",
        "provider": "Cars.com",
        "vendor": "Bayview Toyota",
        "service": "Cars.com Vehicle Detail Page Lead",
        "lead_id": body["lead_id"],
        "format": "adf",
    }
    (interest,) = customer.interests
    assert (interest.vin, interest.stock_number) == (TACOMA_VIN, "U24450")
    assert interest.description == "2019 Toyota Tacoma TRD Off-Road (stock #U24450)"
    (lead_event,) = [e for e in await journey(customers, timeline, customer.id) if e.kind == "lead"]
    assert lead_event.channel == "lead" and lead_event.direction == "inbound"
    lead = lead_event.meta["lead"]
    assert lead["first_name"] == "Maria" and lead["provider_lead_id"] == "CC-7741902"
    assert lead["comments"] == "Is the Tacoma still available? Does it have a tow package?"
    assert lead_event.meta["vehicles"][0] | {"in_inventory": True} == lead_event.meta["vehicles"][0]
    assert lead_event.meta["vehicles"][0]["price"] == 32995
    assert await ConsentLedger(redis, keys).entries([customer.id]) == []  # no disclosure text, no consent

    await settle(leads)
    events = await journey(customers, timeline, customer.id)
    synthetic = next(e for e in events if e.direction == "inbound" and e.kind == "message")
    assert synthetic.channel == "email" and synthetic.meta["synthetic_from_lead"] is True
    assert synthetic.meta["vdp_stock"] == "U24450" and synthetic.meta["lead_id"] == body["lead_id"]
    assert synthetic.text.startswith("Is the Tacoma still available?")
    (reply,) = [e for e in events if e.direction == "outbound"]
    assert reply.channel == "email" and "Tacoma" in reply.text
    assert reply.meta["delivery"]["status"] == "delivered-dry-run"
    assert reply.meta["delivery"]["to"] == "maria.gonzalez@example.com"
    assert "Tacoma" in reply.meta["delivery"]["subject"]
    assert sms.sent == []
    lead_event = next(e for e in await journey(customers, timeline, customer.id) if e.kind == "lead")
    assert lead_event.meta["response"] == "sent"


async def test_consent_on_the_form_is_recorded_and_the_first_text_goes_out(
    leads, customers, timeline, redis, keys, sms
):
    r = await post_adf(leads, "autotrader.xml")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["response"] == "queued" and body["channel"] == "sms"
    customer = await customers.get(body["customer_id"])
    assert customer.name == "Derek O'Neil"
    assert customer.phones == ["+18135550172"]  # the fax number is not a way to reach anyone
    assert customer.interests[0].vin == RAV4_VIN  # matched by stock number
    entries = await ConsentLedger(redis, keys).entries([customer.id])
    assert {(e.channel, e.action, e.source, e.purpose) for e in entries} == {
        ("sms", "opt_in", "lead_form", "transactional"),
        ("email", "opt_in", "lead_form", "transactional"),
    }
    assert entries[0].evidence["text"].startswith("By submitting this form, I agree")
    assert entries[0].evidence["provider"] == "AutoTrader"
    assert entries[0].evidence["url"] == "https://www.autotrader.example/consent/v3"

    await settle(leads)
    (text,) = sms.sent
    assert text.to == "+18135550172" and text.proactive is True
    events = await journey(customers, timeline, customer.id)
    (reply,) = [e for e in events if e.direction == "outbound"]
    assert reply.channel == "sms" and reply.meta["delivery"]["status"] == "delivered-dry-run"
    assert "RAV4" in reply.text
    again = await post_adf(leads, "autotrader.xml")  # the provider retries: one lead, one reply
    assert again.status_code == 200
    assert again.json() == {
        "customer_id": customer.id,
        "lead_id": body["lead_id"],
        "response": "sent",
        "duplicate": True,
    }
    await settle(leads)
    assert len(sms.sent) == 1
    assert [e.kind for e in await journey(customers, timeline, customer.id)].count("lead") == 1


async def test_an_edmunds_lead_with_a_trade_in_and_only_an_email(leads, customers):
    r = await post_adf(leads, "edmunds.xml")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["channel"] == "email"
    customer = await customers.get(body["customer_id"])
    assert customer.name == "Priya Raman" and customer.phones == []
    assert [(i.vin, i.stock_number) for i in customer.interests] == [(CAMRY_VIN, "T26116")]  # the trade isn't one
    assert customer.trade_in == {
        "year": 2015,
        "make": "Honda",
        "model": "Civic",
        "trim": "EX",
        "mileage": 121500,
        "source": "lead",
    }
    await settle(leads)


# --- sloppy and hostile ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, expect",
    [
        (
            "sloppy_namespaced_caps.xml",
            {"name": "James Whitfield", "phone": "+18135550173", "email": "jwhitfield@example.com", "vin": TACOMA_VIN},
        ),
        ("sloppy_encoding_entities.xml", {"name": "Renée Dubois-Café", "phone": "+18135550174", "vin": None}),
    ],
)
async def test_sloppy_adf_still_lands(leads, customers, timeline, name, expect):
    r = await post_adf(leads, name)
    assert r.status_code == 202, r.text
    customer = await customers.get(r.json()["customer_id"])
    assert customer.name == expect["name"]
    assert customer.phones == [expect["phone"]]
    if "email" in expect:
        assert customer.emails == [expect["email"]]
    assert customer.interests[0].vin == expect["vin"]
    lead = next(e for e in await journey(customers, timeline, customer.id) if e.kind == "lead").meta["lead"]
    if name.startswith("sloppy_encoding"):
        assert lead["comments"] == "Q&A: financing & trade? Thanks – Renée"
        assert customer.interests[0].description == "2026 Toyota Camry XSE"  # no VIN/stock: not matched
    else:
        assert lead["comments"] == "Still for sale?\nTrade-in is a 2012 F-150."
    await settle(leads)


@pytest.mark.parametrize("name", HOSTILE)
async def test_hostile_and_malformed_adf_is_rejected_and_nothing_is_stored(leads, redis, keys, customers, name):
    before = await dealer_dump(redis, keys)
    r = await post_adf(leads, name)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["error"] == "invalid_adf" and error["detail"]
    assert "root:" not in r.text and "passwd" not in r.text and "lol" not in r.text
    assert await customers.list_ids() == []
    after = await dealer_dump(redis, keys)
    assert after == before  # nothing at all was written
    assert "root:x:" not in after


async def test_an_oversized_lead_is_refused(leads, redis, keys, customers):
    filler = "x" * 1_000_100
    doc = f"<adf><prospect><customer><contact><phone>8135550190</phone></contact><comments>{filler}</comments>"
    doc += "</customer></prospect></adf>"
    r = await leads.http.post("/leads/adf", content=doc.encode(), headers={"content-type": "application/xml"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while streaming
        for i in range(0, len(doc), 65536):
            yield doc[i : i + 65536].encode()

    r = await leads.http.post("/leads/adf", content=chunks(), headers={"content-type": "application/xml"})
    assert r.status_code == 413
    r = await leads.http.post("/leads", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert await customers.list_ids() == []


async def test_a_lead_nobody_can_be_reached_on_is_422(leads, customers):
    r = await post_adf(leads, "no_contact.xml")
    assert r.status_code == 422 and r.json()["error"] == "invalid_lead"
    r = await leads.http.post("/leads", json={"first_name": "Al", "phone": "12"})  # not a phone number
    assert r.status_code == 422 and "no usable phone" in r.json()["detail"]
    assert await customers.list_ids() == []


# --- JSON leads --------------------------------------------------------------------------------
JSON_LEAD = {
    "first_name": "Sam",
    "last_name": "Ortiz",
    "phone": "813-555-0181",
    "email": "sam.ortiz@example.com",
    "vehicle": {"year": 2021, "make": "Toyota", "model": "RAV4", "stock": "U24378", "interest": "buy"},
    "comments": "Does it have AWD?",
    "provider": "Facebook Lead Ads",
    "lead_id": "FB-1001",
    "consent": {
        "text": "I agree to receive text messages from Bayview Toyota about my inquiry, including automated texts.",
        "channels": ["sms"],
    },
    "campaign": "fall-suv",
}


async def test_a_json_lead(leads, customers, timeline, sms):
    r = await leads.http.post("/leads", json=JSON_LEAD)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["response"] == "queued" and body["channel"] == "sms"
    customer = await customers.get(body["customer_id"])
    assert customer.name == "Sam Ortiz" and customer.source["provider"] == "Facebook Lead Ads"
    assert customer.source["format"] == "json" and customer.interests[0].vin == RAV4_VIN
    lead = next(e for e in await journey(customers, timeline, customer.id) if e.kind == "lead").meta["lead"]
    assert lead["campaign"] == "fall-suv" and lead["provider_lead_id"] == "FB-1001"
    await settle(leads)
    assert [m.to for m in sms.sent] == ["+18135550181"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"first_name": "No Contact"},
        {"email": "a@b.example", "vehicles": "not a list"},
        {"phone": {"number": None}},
        {"email": "a@b.example", "vehicle": {"year": 1700}},
        {"email": "a@b.example", "consent": {"channels": ["pigeon"], "text": "x" * 30}},
    ],
)
async def test_invalid_json_leads_are_422(leads, customers, payload):
    r = await leads.http.post("/leads", json=payload)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_lead" and r.json()["detail"]
    assert await customers.list_ids() == []


async def test_not_json_is_422(leads):
    r = await leads.http.post("/leads", content=b"first_name=Sam", headers={"content-type": "application/json"})
    assert r.status_code == 422


async def test_a_checkbox_value_is_not_consent(leads, customers, redis, keys):
    payload = {**JSON_LEAD, "lead_id": "FB-1002", "email": None, "consent": "yes"}
    r = await leads.http.post("/leads", json=payload)
    assert r.status_code == 202, r.text
    assert r.json()["response"] == "blocked:no_transactional_consent"  # phone only, no consent: no text
    assert await ConsentLedger(redis, keys).entries([r.json()["customer_id"]]) == []


# --- consent decides the first response --------------------------------------------------------
async def test_no_response_to_a_customer_who_opted_out(leads, customers, timeline, redis, keys, dealer, sms):
    known = (await customers.resolve(phone="+18135550171", email="maria.gonzalez@example.com")).customer
    await ConsentGate(redis, keys, dealer).record_opt_out(
        known.id,
        channels=("sms", "email"),
        source="keyword",
        evidence={"text": "STOP"},
        actor="customer",
        at=BASE - dt.timedelta(days=3),
    )
    r = await post_adf(leads, "cars_com.xml")
    assert r.status_code == 202, r.text
    assert r.json()["response"] == "blocked:opted_out" and r.json()["channel"] is None
    assert r.json()["customer_id"] == known.id
    await settle(leads)
    events = await journey(customers, timeline, known.id)
    assert [e.kind for e in events] == ["lead", "lead_response"]  # the lead is on file; no reply went out
    assert "opted out" in events[1].text
    assert sms.sent == []
    assert (await customers.get(known.id)).interests[0].vin == TACOMA_VIN


async def test_the_response_does_not_wait_for_the_brain(redis, redis_handle, keys, services, dealer, sms, kit):
    await import_inventory(redis, keys, SAMPLES / "inventory.csv")
    brain = GatedBrain()
    raw = redis_handle.client(decode_responses=False)
    agent = Agent(services, brain, checkpointer=AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix()))
    try:
        async for served in _serve(agent, dealer, sms, kit):
            r = await served.http.post("/leads", json=JSON_LEAD)
            assert r.status_code == 202 and r.json()["response"] == "queued"
            await asyncio.wait_for(brain.started.wait(), 10)  # the turn is running, the HTTP answer is out
            assert sms.sent == []
            brain.release.set()
            await asyncio.wait_for(served.intake.drain(), 15)
            (inp,) = brain.inputs
            assert inp.channel == "sms" and inp.meta["synthetic_from_lead"] is True
            assert inp.meta["vdp_stock"] == "U24378" and inp.meta["lead_vehicle"]["vin"] == RAV4_VIN
            assert inp.text == "Does it have AWD?\n\nVehicle: 2021 Toyota RAV4 XLE Premium (stock #U24378)"
            assert [m.body for m in sms.sent] == ["Thanks! The RAV4 is here; when would you like to see it?"]
    finally:
        await services.drain()
        await raw.aclose()


async def test_several_prospects_in_one_document(leads, customers):
    def prospect(name: str) -> str:
        xml = (SAMPLES / name).read_text()
        return xml[xml.index("<prospect") : xml.index("</prospect>") + len("</prospect>")]

    doc = f"<adf>{prospect('cars_com.xml')}{prospect('edmunds.xml')}</adf>"
    r = await leads.http.post("/leads/adf", content=doc.encode())
    assert r.status_code == 202, r.text
    both = r.json()["leads"]
    assert len(both) == 2 and both[0]["customer_id"] != both[1]["customer_id"]
    assert r.json()["lead_id"] == both[0]["lead_id"]
    too_many = "<adf>" + prospect("cars_com.xml") * 26 + "</adf>"
    r = await leads.http.post("/leads/adf", content=too_many.encode())
    assert r.status_code == 400 and "at most 25" in r.json()["detail"]
    assert len(await customers.list_ids()) == 2
    await settle(leads)
