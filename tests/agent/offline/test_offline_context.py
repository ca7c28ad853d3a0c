"""Context the channels hand the offline brain: the vehicle page a web visitor is on, a third-party
lead's first response, and the vehicle a returning customer talked about before (their interests,
the turn's recollections and the rolling summary).

Every reply goes through `Chat.say`'s checks (each dollar amount disclosed by a tool this turn, the
outbound guard finds nothing, SMS within 320 characters); prices asserted below are read from the
inventory, never typed in.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from offline_harness import TZ, Chat, Runtime

from agent.offline.context_flow import lead_comments
from memory.customers import Interest
from tools.booking import Appointment, available_slots, list_for_customer
from tools.inventory import InventoryStore, Vehicle, format_money

TACOMA = "U24450"  # 2019 Toyota Tacoma TRD Off-Road, used, 4WD, Tow Package, available
TACOMA_OLD = "U24417"  # 2017 Toyota Tacoma SR5, available
RAV4 = "U24378"  # 2021 Toyota RAV4 XLE Premium, FWD, available
CAMRY = "C24481"  # 2021 Toyota Camry XLE, certified, available
SOLD_CAMRY = "U24507"  # 2018 Toyota Camry SE, sold
SOLD_CRV = "U24383"  # 2019 Honda CR-V EX-L, sold
VDP = "https://www.bayviewtoyota.example/inventory/used/2019-toyota-tacoma-U24450"


async def unit(rt: Runtime, stock: str) -> Vehicle:
    v = await InventoryStore(rt.redis, rt.keys).by_stock(stock)
    assert v is not None
    return v


def page(stock: str | None = None, vin: str | None = None) -> dict[str, Any]:
    """What channels/webchat.py `page_context` puts in the turn's meta on a vehicle page."""
    meta: dict[str, Any] = {"visitor_id": "visitor-chat-test", "source": {"channel": "web_chat"}}
    if stock:
        meta |= {"page_url": f"https://www.bayviewtoyota.example/inventory/used/x-{stock}", "vdp_stock": stock}
    if vin:
        meta |= {"page_url": f"https://www.bayviewtoyota.example/vdp?vin={vin}", "vdp_vin": vin}
    return meta


async def appointments(chat: Chat) -> list[Appointment]:
    assert chat.customer is not None
    return await list_for_customer(chat.rt.deps(chat.customer.id, chat.channel))


def local(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso).astimezone(TZ)


# --- 1. the vehicle page ------------------------------------------------------------------------------


async def test_a_first_hi_on_a_vehicle_page_greets_with_that_unit(runtime: Runtime) -> None:
    v = await unit(runtime, TACOMA)
    chat = Chat(runtime, "chat")
    out = await chat.say("hi", meta=page(TACOMA))
    text = out.reply.text
    assert out.intent == "greet"
    assert v.title() in text and format_money(v.price) in text and f"{v.mileage:,} miles" in text
    assert chat.deps is not None and v.vin in chat.deps.facts.vins  # read through vehicle_details
    assert chat.dialogue["focus"]["vin"] == v.vin and chat.dialogue["page"]["vin"] == v.vin
    assert [c.stock_number for c in out.reply.cards] == [TACOMA]
    assert "Book a test drive" in out.reply.quick_replies
    assert out.interests == [{"description": v.title(), "vin": v.vin, "stock_number": TACOMA}]


@pytest.mark.parametrize("ref", ["stock", "vin"])
async def test_this_one_is_the_page_unit(runtime: Runtime, ref: str) -> None:
    v = await unit(runtime, TACOMA)
    meta = page(stock=TACOMA) if ref == "stock" else page(vin=v.vin)

    chat = Chat(runtime, "chat")
    out = await chat.say("is this one still available?", meta=meta)
    assert v.title() in out.reply.text and "available" in out.reply.text
    assert chat.dialogue["focus"]["vin"] == v.vin

    chat = Chat(runtime, "chat")
    out = await chat.say("whats the price on this one", meta=meta)
    assert format_money(v.price) in out.reply.text and chat.dialogue["focus"]["vin"] == v.vin

    chat = Chat(runtime, "chat")
    out = await chat.say("does it have awd", meta=meta)
    assert v.drivetrain == "4WD" and re.search(r"4WD(?:, not| rather than) AWD", out.reply.text)
    assert "Highlights" not in out.reply.text  # the drivetrain was asked, not a feature list

    chat = Chat(runtime, "chat")
    out = await chat.say("can I test drive this", meta=meta)
    pending = chat.dialogue["pending"]
    assert pending["type"] == "choose_slot" and pending["ctx"]["vin"] == v.vin
    assert v.title() in out.reply.text and len(pending["offered"]) >= 2
    await chat.say("the first one", meta=meta)
    await chat.say("yes", meta=meta)
    (appt,) = await appointments(chat)
    assert appt.vin == v.vin and appt.kind == "test_drive"


async def test_the_page_does_not_hijack_a_question_about_something_else(runtime: Runtime) -> None:
    tacoma = await unit(runtime, TACOMA)
    chat = Chat(runtime, "chat")
    out = await chat.say("any used camrys?", meta=page(TACOMA))
    assert chat.dialogue["results"] and all(r["model"] == "Camry" for r in chat.dialogue["results"])
    assert "focus" not in chat.dialogue and not out.interests
    out = await chat.say("the first one", meta=page(TACOMA))
    camry = chat.dialogue["focus"]
    assert camry["model"] == "Camry"
    out = await chat.say("how many miles on it", meta=page(TACOMA))  # same page: the conversation's focus
    assert f"{camry['miles']:,}" in out.reply.text and tacoma.title() not in out.reply.text
    assert chat.dialogue["focus"]["vin"] == camry["vin"]
    out = await chat.say("and this truck, is it 4wd?", meta=page(TACOMA))  # "this truck": the page again
    assert chat.dialogue["focus"]["vin"] == tacoma.vin and "4WD" in out.reply.text


async def test_a_new_page_moves_the_focus(runtime: Runtime) -> None:
    tacoma, rav4 = await unit(runtime, TACOMA), await unit(runtime, RAV4)
    chat = Chat(runtime, "chat")
    await chat.say("hi", meta=page(TACOMA))
    assert chat.dialogue["focus"]["vin"] == tacoma.vin
    out = await chat.say("is this one available?", meta=page(RAV4))
    assert chat.dialogue["focus"]["vin"] == rav4.vin and rav4.title() in out.reply.text
    out = await chat.say("how much is it", meta=page(RAV4))
    assert format_money(rav4.price) in out.reply.text


async def test_a_sold_page_says_so_and_offers_similar_ones(runtime: Runtime) -> None:
    sold = await unit(runtime, SOLD_CAMRY)
    assert sold.status == "sold"
    chat = Chat(runtime, "chat")
    out = await chat.say("hi", meta=page(SOLD_CAMRY))
    text = out.reply.text
    assert out.intent == "page_vehicle_sold" and sold.title() in text and "sold" in text
    assert format_money(sold.price) not in text  # a sold unit is named, never priced
    shown = chat.dialogue["results"]
    assert shown and all(r["model"] == "Camry" and r["vin"] != sold.vin for r in shown)
    for r in shown:
        assert (await unit(runtime, r["stock"])).status != "sold" and f"${r['price']:,}" in text
    assert "focus" not in chat.dialogue and chat.dialogue["page"]["sold"] is True
    out = await chat.say("is this one still available?", meta=page(SOLD_CAMRY))
    assert out.intent == "page_vehicle_sold" and "sold" in out.reply.text
    out = await chat.say("the 2nd one", meta=page(SOLD_CAMRY))
    assert chat.dialogue["focus"]["vin"] == shown[1]["vin"]


async def test_asking_for_a_person_on_a_page_hands_off_with_the_unit(runtime: Runtime) -> None:
    v = await unit(runtime, TACOMA)
    chat = Chat(runtime, "chat")
    out = await chat.say("can I talk to a person about this truck", meta=page(TACOMA))
    assert out.handoff is not None and out.handoff.reason == "customer_request"
    assert v.title() in out.handoff.summary and TACOMA in out.handoff.summary


async def test_no_page_no_change(runtime: Runtime) -> None:
    chat = Chat(runtime, "chat")
    out = await chat.say("hi", meta={"visitor_id": "v1", "page_url": "https://www.bayviewtoyota.example/specials"})
    assert out.intent == "greet" and "focus" not in chat.dialogue and not out.reply.cards


# --- 2. a lead's first response -----------------------------------------------------------------------


def lead_meta(rt_unit: Vehicle | None, provider: str | None, *, title: str | None = None) -> dict[str, Any]:
    """What channels/leads.py hands the turn of a lead's first response."""
    if rt_unit is not None:
        info = {
            "description": f"{rt_unit.title()} (stock #{rt_unit.stock_number})",
            "title": rt_unit.title(),
            "vin": rt_unit.vin,
            "stock_number": rt_unit.stock_number,
            "in_inventory": True,
        }
    else:
        info = {"description": title, "title": title, "vin": None, "stock_number": None, "in_inventory": False}
    meta: dict[str, Any] = {
        "synthetic_from_lead": True,
        "lead_id": "Ltest",
        "lead_provider": provider,
        "lead_vehicle": info,
    }
    if info["stock_number"]:
        meta["vdp_stock"] = info["stock_number"]
    if info["vin"]:
        meta["vdp_vin"] = info["vin"]
    return meta


def lead_text(comments: str, info: dict[str, Any]) -> str:
    """channels/leads.py `synthetic_text`."""
    about = info["lead_vehicle"]["description"]
    return f"{comments}\n\nVehicle: {about}" if comments else f"I'm interested in the {about}."


async def slots_are_open(chat: Chat, offered: list[dict[str, str]]) -> None:
    deps = chat.rt.deps(None, chat.channel)
    for o in offered:
        at = dt.datetime.fromisoformat(o["iso"])
        open_now = await available_slots(deps, "sales", start=at, end=at + dt.timedelta(minutes=1), kind="test_drive")
        assert [s.iso for s in open_now] == [o["iso"]], f"{o['label']} is not an open slot"


async def test_a_lead_by_sms_thanks_confirms_answers_and_offers_slots(runtime: Runtime) -> None:
    rav4 = await unit(runtime, RAV4)
    meta = lead_meta(rav4, "Facebook Lead Ads")
    chat = Chat(runtime, "sms", phone="+18135550181", name="Sam Ortiz")
    out = await chat.say(lead_text("Does it have AWD?", meta), meta=meta)
    text = out.reply.text
    assert out.intent == "lead_response" and len(text) <= 320
    assert text.startswith("Hi Sam") and "inquiry" in text and "Facebook Lead Ads" in text
    assert rav4.title() in text and "still available" in text and format_money(rav4.price) in text
    assert "FWD" in text and "AWD" in text  # the comment's question, answered from the unit
    pending = chat.dialogue["pending"]
    assert pending["type"] == "choose_slot" and pending["ctx"]["vin"] == rav4.vin
    assert 2 <= len(pending["offered"]) <= 3
    assert all(o["label"] in text for o in pending["offered"])
    await slots_are_open(chat, pending["offered"])
    assert chat.dialogue["focus"]["vin"] == rav4.vin and chat.dialogue["lead"] == {"id": "Ltest"}
    assert out.handoff is None

    second = pending["offered"][1]
    out = await chat.say("2")
    assert chat.dialogue["pending"]["type"] == "confirm" and chat.dialogue["pending"]["iso"] == second["iso"]
    await chat.say("yes")
    (appt,) = await appointments(chat)
    assert appt.vin == rav4.vin and appt.local_start() == local(second["iso"]) and appt.kind == "test_drive"


async def test_a_lead_answers_the_tow_package_question_by_email(runtime: Runtime) -> None:
    tacoma = await unit(runtime, TACOMA)
    meta = lead_meta(tacoma, "Cars.com")
    chat = Chat(runtime, "email", email="maria.gonzalez@example.com", name="Maria Gonzalez")
    comments = "Is the Tacoma still available? Does it have a tow package?"
    out = await chat.say(lead_text(comments, meta), meta=meta)
    text = out.reply.text
    assert text.startswith("Hi Maria") and "Cars.com" in text
    assert "still available" in text and format_money(tacoma.price) in text
    assert "Tow Package" in text and not re.search(r"don.t see|doesn.t have", text)
    offered = chat.dialogue["pending"]["offered"]
    assert len(offered) == 3 and all(f"{i + 1}. {o['label']}" in text for i, o in enumerate(offered))


async def test_a_lead_asking_for_a_price_and_a_day_gets_that_day_and_a_person(runtime: Runtime) -> None:
    rav4 = await unit(runtime, RAV4)
    meta = lead_meta(rav4, "AutoTrader")
    chat = Chat(runtime, "sms", phone="+18135550172", name="Derek O'Neil")
    comments = "Can I get your best out-the-door price? I'd like to come in Saturday & test drive it."
    out = await chat.say(lead_text(comments, meta), meta=meta)
    text = out.reply.text
    assert len(text) <= 320 and "AutoTrader" in text and format_money(rav4.price) in text
    assert out.handoff is not None and out.handoff.reason == "hot_lead"
    assert rav4.title() in out.handoff.summary
    offered = chat.dialogue["pending"]["offered"]
    assert len(offered) >= 2 and all(local(o["iso"]).date() == dt.date(2026, 11, 21) for o in offered)
    assert all(o["label"] in text for o in offered)


async def test_a_lead_without_comments(runtime: Runtime) -> None:
    tacoma = await unit(runtime, TACOMA)
    meta = lead_meta(tacoma, "CarGurus")
    chat = Chat(runtime, "sms", phone="+18135550183", name="Lee Park")
    out = await chat.say(lead_text("", meta), meta=meta)
    assert len(out.reply.text) <= 320 and "CarGurus" in out.reply.text
    assert format_money(tacoma.price) in out.reply.text
    assert len(chat.dialogue["pending"]["offered"]) >= 2


@pytest.mark.parametrize("stock", ["U24378", "U24450", "T26189", "T26294", "U24478", "C24443"])
async def test_a_lead_text_always_fits_one_sms(runtime: Runtime, stock: str) -> None:
    v = await unit(runtime, stock)
    meta = lead_meta(v, "TrueCar Certified Dealer Network Marketplace")
    chat = Chat(runtime, "sms", phone="+18135550184", name="Alexandria Montgomery-Whitfield")
    out = await chat.say(
        lead_text("Is it still available? Does it have AWD and a sunroof? How many miles?", meta), meta=meta
    )
    text = out.reply.text
    assert len(text) <= 320 and not text.endswith("..."), text  # fitted, not cut off mid-sentence
    assert v.title() in text and format_money(v.price) in text
    assert "TrueCar" in text  # the provider stays; the later answers give way first
    if v.status != "pending":
        offered = chat.dialogue["pending"]["offered"]
        assert 2 <= len(offered) <= 3 and all(o["label"] in text for o in offered)


@pytest.mark.parametrize("known", [True, False])
async def test_a_lead_for_a_sold_or_unknown_unit_offers_similar_ones(runtime: Runtime, known: bool) -> None:
    sold = await unit(runtime, SOLD_CRV)
    meta = lead_meta(sold if known else None, "Edmunds", title="2019 Honda CR-V EX-L")
    chat = Chat(runtime, "sms", phone="+18135550185", name="Priya Raman")
    out = await chat.say(lead_text("Is it still available?", meta), meta=meta)
    text = out.reply.text
    assert "Edmunds" in text and len(text) <= 320
    assert ("sold" in text) if known else ("don't see that exact one" in text or "isn't in our inventory" in text)
    assert format_money(sold.price) not in text
    shown = chat.dialogue["results"]
    assert shown and all(r["model"] == "CR-V" and r["vin"] != sold.vin for r in shown)


async def test_a_general_lead_goes_to_the_ordinary_flows(runtime: Runtime) -> None:
    chat = Chat(runtime, "sms", phone="+18135550186", name="Jo Kim")
    meta = {"synthetic_from_lead": True, "lead_id": "Lgen", "lead_provider": "Cars.com", "lead_vehicle": None}
    out = await chat.say("Looking for a used SUV under 25k", meta=meta)
    assert out.reply.text.startswith("Hi Jo") and "Cars.com" in out.reply.text
    assert chat.dialogue["results"] and all(r["price"] <= 25000 for r in chat.dialogue["results"])


def test_lead_comments_are_the_customers_own_words() -> None:
    assert lead_comments("Does it have AWD?\n\nVehicle: 2021 Toyota RAV4 (stock #U24378)") == "Does it have AWD?"
    assert lead_comments("I'm interested in the 2021 Toyota RAV4 (stock #U24378).") == ""
    assert lead_comments("I'd like more information, please.") == ""
    assert lead_comments("Call me after 5\nthanks") == "Call me after 5\nthanks"


# --- 3. the vehicle discussed before ---------------------------------------------------------------------


async def returning(rt: Runtime, phone: str, *stocks: str) -> Chat:
    """An SMS customer whose record has these interests (oldest first); a fresh thread, no slots."""
    chat = Chat(rt, "sms", phone=phone)
    customer = await chat._customer()
    for stock in stocks:
        v = await unit(rt, stock)
        await rt.customers.add_interest(customer.id, Interest(description=v.title(), vin=v.vin, stock_number=stock))
    chat.customer = await rt.customers.primary_of(customer.id)
    return chat


@pytest.mark.parametrize(
    "text", ["what was that truck we talked about?", "the car I asked about last week", "is it still there?"]
)
async def test_the_vehicle_discussed_before_is_rechecked(runtime: Runtime, text: str) -> None:
    old = await unit(runtime, TACOMA_OLD)
    chat = await returning(runtime, "+18135550187", CAMRY, TACOMA_OLD)  # the Tacoma is the newest interest
    out = await chat.say(text)
    assert out.intent == "recall_vehicle" and old.title() in out.reply.text
    assert "still available" in out.reply.text and format_money(old.price) in out.reply.text
    assert chat.deps is not None and old.vin in chat.deps.facts.vins  # re-read through the tool
    assert chat.dialogue["focus"]["vin"] == old.vin
    assert out.usage["nlu"] != "embedding"  # no example lookup for a message the slots explain


async def test_the_words_pick_among_the_interests(runtime: Runtime) -> None:
    camry = await unit(runtime, CAMRY)
    chat = await returning(runtime, "+18135550188", CAMRY, TACOMA_OLD)
    out = await chat.say("what about that camry I asked about?")
    assert chat.dialogue["focus"]["vin"] == camry.vin and camry.title() in out.reply.text


async def test_interests_come_before_memories(runtime: Runtime) -> None:
    old = await unit(runtime, TACOMA_OLD)
    chat = await returning(runtime, "+18135550189", TACOMA_OLD)
    out = await chat.say("any update on the truck we talked about?", memories=["[chat 2026-11-10] stock #U24450?"])
    assert chat.dialogue["focus"]["vin"] == old.vin and old.title() in out.reply.text


@pytest.mark.parametrize(
    ("memories", "summary"),
    [
        (["[chat 2026-11-09] hi", "[sms 2026-11-10] is stock #U24450 still there?"], ""),
        ([], "customer (sms): hi\nassistant (sms): The 2019 Toyota Tacoma TRD Off-Road is $32,995, with 58,412 mi."),
        (["[sms 2026-11-10] 3TMCZ5AN2KM387595 still for sale?"], ""),
    ],
)
async def test_memories_and_the_summary_name_the_vehicle(runtime: Runtime, memories: list[str], summary: str) -> None:
    tacoma = await unit(runtime, TACOMA)
    chat = Chat(runtime, "sms", phone="+18135550190")
    out = await chat.say("is the truck I asked about last week still there?", memories=memories, summary=summary)
    assert chat.dialogue["focus"]["vin"] == tacoma.vin and tacoma.title() in out.reply.text
    assert format_money(tacoma.price) in out.reply.text and "still available" in out.reply.text


async def test_a_model_from_memory_lists_what_is_there_now(runtime: Runtime) -> None:
    chat = Chat(runtime, "sms", phone="+18135550191")
    out = await chat.say("what was that truck we talked about?", memories=["[sms 2026-11-10] any used tacomas?"])
    assert out.intent == "recall_vehicle" and "Tacoma" in out.reply.text
    assert chat.dialogue["results"] and all(r["model"] == "Tacoma" for r in chat.dialogue["results"])


async def test_the_price_said_is_todays(runtime: Runtime) -> None:
    store = InventoryStore(runtime.redis, runtime.keys)
    old = await unit(runtime, TACOMA_OLD)
    repriced = old.model_copy(update={"price": Decimal(21950)})
    async with runtime.redis.pipeline(transaction=True) as pipe:
        store.queue_write(pipe, repriced)
        store.queue_bump(pipe)
        await pipe.execute()
    chat = await returning(runtime, "+18135550192", TACOMA_OLD)
    out = await chat.say(
        "is it still there?", summary=f"assistant (sms): The {old.title()} is {format_money(old.price)}."
    )
    assert "$21,950" in out.reply.text and format_money(old.price) not in out.reply.text


async def test_a_sold_vehicle_from_before_is_said_and_similar_ones_shown(runtime: Runtime) -> None:
    store = InventoryStore(runtime.redis, runtime.keys)
    old = await unit(runtime, TACOMA_OLD)
    await store.set_status(old.vin, "sold", now=dt.datetime(2026, 11, 16, tzinfo=TZ))
    chat = await returning(runtime, "+18135550193", TACOMA_OLD)
    out = await chat.say("the truck I asked about last week, is it still there?")
    text = out.reply.text
    assert old.title() in text and "sold" in text and format_money(old.price) not in text
    assert chat.dialogue["results"] and all(r["vin"] != old.vin for r in chat.dialogue["results"])
    assert "focus" not in chat.dialogue


async def test_a_test_drive_of_the_car_from_before(runtime: Runtime) -> None:
    old = await unit(runtime, TACOMA_OLD)
    chat = await returning(runtime, "+18135550194", TACOMA_OLD)
    await chat.say("can I test drive it saturday")
    pending = chat.dialogue["pending"]
    assert pending["ctx"]["vin"] == old.vin
    assert all(local(o["iso"]).date() == dt.date(2026, 11, 21) for o in pending.get("offered") or [pending])


async def test_nothing_from_before_is_not_invented(runtime: Runtime) -> None:
    chat = Chat(runtime, "sms", phone="+18135550195")
    out = await chat.say("the car I asked about last week")
    assert out.intent == "recall_none" and "focus" not in chat.dialogue
    assert not re.search(r"\$\d", out.reply.text)
    out = await chat.say("what was that truck we talked about?")
    assert chat.dialogue["results"] and all(r["body"] in {"truck", "pickup"} for r in chat.dialogue["results"])


async def test_a_vehicle_in_the_slots_still_comes_first(runtime: Runtime) -> None:
    chat = await returning(runtime, "+18135550196", TACOMA_OLD)
    await chat.say("do you have any RAV4 hybrids")
    await chat.say("the first one")
    focus = chat.dialogue["focus"]
    out = await chat.say("is it still available?")
    assert focus["title"] in out.reply.text and chat.dialogue["focus"]["vin"] == focus["vin"]


async def test_the_vehicle_from_before_and_a_time_to_come_in(runtime: Runtime) -> None:
    sienna = await unit(runtime, "C24344")
    chat = await returning(runtime, "+18135550197", "C24344")
    out = await chat.say("yeah still interested. does it have leather? and can i come sat morning")
    assert sienna.title() in out.reply.text and format_money(sienna.price) in out.reply.text
    offered = chat.dialogue["pending"].get("offered") or [chat.dialogue["pending"]]
    assert chat.dialogue["pending"]["ctx"]["vin"] == sienna.vin
    assert all(local(o["iso"]).date() == dt.date(2026, 11, 21) and local(o["iso"]).hour < 12 for o in offered)


async def test_that_truck_from_the_website_on_another_channel(runtime: Runtime) -> None:
    tacoma = await unit(runtime, TACOMA)
    web = Chat(runtime, "chat", visitor="visitor-cc-2")
    await web.say("hey is the silver 2019 tacoma trd off road still available?")
    assert web.dialogue["focus"]["vin"] == tacoma.vin
    sms = Chat(runtime, "sms", phone="+18135550198")
    sms.customer, sms.dialogue = web.customer, web.dialogue  # one customer, one thread across channels
    out = await sms.say("hey its me from the website, can i see that truck saturday at 11?")
    assert out.intent == "test_drive" and "website" not in out.reply.text
    pending = sms.dialogue["pending"]
    assert pending["ctx"]["vin"] == tacoma.vin and local(pending["iso"]) == dt.datetime(2026, 11, 21, 11, tzinfo=TZ)
