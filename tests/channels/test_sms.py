"""Twilio SMS channel over real HTTP: signatures, duplicates, bursts, status callbacks, senders, segments.

The agent is the real `Agent` with real stores on the test's Redis; its brain is `ScriptedBrain`, a
test double (tests/channels/conftest.py). Waiting is on conditions: `channel.aclose()` returns when
every burst processor has finished its turns and sends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

from channels.sms import InboundSms, build_sms_router, parse_inbound
from channels.twilio_common import (
    DryRunSender,
    OutboundSms,
    TwilioSender,
    build_sender,
    segment_info,
    sms_encoding,
    split_sms,
    websocket_url,
)
from memory.consent import ConsentLedger
from tools.consent import ConsentGate

PHONE = "+18135550177"
DEALER_NUMBER = "+18135550142"


def inbound(sid: str, body: str, phone: str = PHONE, **extra: str) -> dict[str, str]:
    """Messaging webhook parameters as Twilio posts them."""
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
        **extra,
    }


def sid(n: int) -> str:
    return f"SM{n:032x}"


class FakeTwilioHttp(HttpClient):
    """Stands in for the Twilio REST HTTP layer (no network): records requests, answers like Twilio."""

    def __init__(self, error: tuple[int, int, str] | None = None) -> None:
        super().__init__(logger=None, is_async=False)
        self.requests: list[dict[str, Any]] = []
        self.error = error
        self.n = 0

    def request(
        self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        self.requests.append({"method": method, "uri": uri, "data": dict(data or {})})
        if self.error:
            status, code, message = self.error
            return TwilioResponse(status, json.dumps({"code": code, "message": message, "status": status}))
        self.n += 1
        body = {
            "sid": sid(0xF000 + self.n),
            "status": "queued",
            "num_segments": "1",
            "to": data["To"],
            "from": data["From"],
            "body": data["Body"],
            "error_code": None,
        }
        return TwilioResponse(201, json.dumps(body))


@pytest.fixture
def make_app(agent, dealer, redis, keys, kit):
    """An app with the SMS router; returns (app, channel, sender)."""

    def make(*, sender=None, auth_token: str | None = kit.AUTH_TOKEN, window: float = 0.3, core=None, **kw: Any):
        sender = sender or DryRunSender(redis, keys, dealer)
        router = build_sms_router(
            core or agent, public_url=kit.PUBLIC_URL, auth_token=auth_token, sender=sender, dealer=dealer,
            burst_window_s=window, **kw,
        )  # fmt: skip
        app = FastAPI()
        app.include_router(router)
        return app, router.channel, sender

    return make


async def test_signed_webhook_is_acknowledged_at_once_and_answered_by_the_dry_run_sender(make_app, kit, brain, journey):
    app, channel, _ = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        r = await kit.post_signed(client, "/twilio/sms", inbound(sid(1), "Is the blue RAV4 still there?"))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(r.text)
        assert root.tag == "Response" and len(root) == 0  # the reply is not in the TwiML
        await channel.aclose()
    assert brain.calls == ["Is the blue RAV4 still there?"]
    events = await journey(PHONE)
    assert [(e.direction, e.channel) for e in events] == [("inbound", "sms"), ("outbound", "sms")]
    inbound_ev, outbound_ev = events
    assert inbound_ev.meta["delivery_id"] == sid(1)
    assert inbound_ev.meta["from_state"] == "FL"
    delivery = outbound_ev.meta["delivery"]
    assert delivery["sender"] == "dry-run" and delivery["status"] == "delivered-dry-run"
    assert len(delivery["parts"]) == 1 and delivery["parts"][0]["sid"].startswith("SM")
    assert delivery["parts"][0]["encoding"] == "GSM-7" and delivery["parts"][0]["segments"] == 1


async def test_forged_missing_or_unconfigured_signatures_get_403_and_store_nothing(make_app, kit, redis, keys, journey):
    params = inbound(sid(2), "hello")
    app, channel, _ = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        missing = await client.post("/twilio/sms", data=params)
        forged = await client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
        # signed by someone with another token
        other = kit.sign(kit.PUBLIC_URL + "/twilio/sms", {**params, "Body": "tampered"})
        tampered = await client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": other})
        # signed over the app's own URL instead of the public URL Twilio calls
        wrong_url = kit.sign(base + "/twilio/sms", params)
        local = await client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": wrong_url})
        status = await client.post("/twilio/sms/status", data={"MessageSid": sid(2), "MessageStatus": "delivered"})
        assert [x.status_code for x in (missing, forged, tampered, local, status)] == [403] * 5
    unconfigured, channel2, _ = make_app(auth_token=None)
    async with kit.serve(unconfigured) as base, httpx.AsyncClient(base_url=base) as client:
        r = await kit.post_signed(client, "/twilio/sms", params)
        assert r.status_code == 403
    await channel.aclose()
    await channel2.aclose()
    assert await journey(PHONE) == []
    assert [k async for k in redis.scan_iter(match=keys.scan_pattern())] == []


async def test_the_same_message_sid_twice_is_one_turn_and_one_send(make_app, kit, brain, journey):
    app, channel, _ = make_app()
    params = inbound(sid(3), "Do you have any Tacomas?")
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        first = await kit.post_signed(client, "/twilio/sms", params)
        again = await kit.post_signed(client, "/twilio/sms", params)
        assert first.status_code == again.status_code == 200
        await channel.aclose()
        # a redelivery after the turn is over is still a duplicate
        late = await kit.post_signed(client, "/twilio/sms", params)
        assert late.status_code == 200
        await channel.aclose()
    assert brain.calls == ["Do you have any Tacomas?"]
    events = await journey(PHONE)
    assert [e.direction for e in events] == ["inbound", "outbound"]
    assert len(events[1].meta["delivery"]["parts"]) == 1


def inbound_texts(events) -> list[str]:
    """Customer texts on the timeline in order (one event per text, or a burst event's parts)."""
    out = []
    for e in events:
        if e.direction == "inbound":
            out += [p["text"] for p in e.meta["parts"]] if "parts" in e.meta else [e.text]
    return out


async def test_a_burst_of_texts_is_answered_once_in_order(make_app, kit, brain, journey):
    app, channel, _ = make_app(window=1.0)
    texts = ["hi", "is the 2024 rav4 still available", "the blue one"]
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        for n, text in enumerate(texts):
            r = await kit.post_signed(client, "/twilio/sms", inbound(sid(10 + n), text))
            assert r.status_code == 200
        await channel.aclose()
    assert brain.calls == ["\n".join(texts)]  # one turn, the burst joined in order
    events = await journey(PHONE)
    assert inbound_texts(events) == texts
    assert [e.direction for e in events].count("outbound") == 1 and events[-1].direction == "outbound"
    sids = [p["delivery_id"] for e in events if "parts" in e.meta for p in e.meta["parts"]]
    sids = sids or [e.meta["delivery_id"] for e in events if e.direction == "inbound"]
    assert sids == [sid(10), sid(11), sid(12)]


async def test_a_burst_split_across_two_processes_is_still_one_turn(make_app, kit, brain, journey):
    """Two API processes behind a load balancer: the burst is collected in Redis, not in memory."""
    app_a, channel_a, _ = make_app(window=1.0)
    app_b, channel_b, _ = make_app(window=1.0)
    texts = ["hey", "do you take trade ins", "its a 2015 civic"]
    async with kit.serve(app_a) as base_a, kit.serve(app_b) as base_b:
        async with httpx.AsyncClient(base_url=base_a) as a, httpx.AsyncClient(base_url=base_b) as b:
            for n, (client, text) in enumerate(zip((a, b, a), texts, strict=True)):
                assert (await kit.post_signed(client, "/twilio/sms", inbound(sid(100 + n), text))).status_code == 200
            # a retry of the second text, delivered to the other process
            assert (await kit.post_signed(a, "/twilio/sms", inbound(sid(101), texts[1]))).status_code == 200
            await channel_a.aclose()
            await channel_b.aclose()
    assert brain.calls == ["\n".join(texts)]
    assert inbound_texts(await journey(PHONE)) == texts


async def test_a_burst_left_by_a_dead_process_resumes_with_the_next_text(make_app, kit, brain, journey, redis):
    app, channel, _ = make_app()
    bursts = channel.bursts
    # a process took the lease and died after queueing a text
    orphan = InboundSms(sid=sid(110), phone=PHONE, to=DEALER_NUMBER, body="still there?", at=dt.datetime.now(dt.UTC))
    assert await bursts.push(orphan, "dead-process") == 2
    await redis.pexpire(bursts.key(PHONE, "owner"), 50)  # its lease runs out

    async def lease_gone():
        return not await redis.exists(bursts.key(PHONE, "owner"))

    await kit.eventually(lease_gone)
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await kit.post_signed(client, "/twilio/sms", inbound(sid(111), "hello?"))
        await channel.aclose()
    assert brain.calls == ["still there?\nhello?"]
    assert inbound_texts(await journey(PHONE)) == ["still there?", "hello?"]


async def test_mms_media_urls_are_kept_on_the_timeline(make_app, kit, brain, journey):
    app, channel, _ = make_app()
    media = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/"
    params = inbound(
        sid(20), "", NumMedia="2",
        MediaUrl0=media + "ME1", MediaContentType0="image/jpeg",
        MediaUrl1=media + "ME2", MediaContentType1="image/png",
    )  # fmt: skip
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await kit.post_signed(client, "/twilio/sms", params)).status_code == 200
        await channel.aclose()
    assert brain.calls == ["[sent 2 pictures]"]
    first = (await journey(PHONE))[0]
    assert [m["url"][-3:] for m in first.meta["media"]] == ["ME1", "ME2"]
    assert first.meta["media"][0]["content_type"] == "image/jpeg"


async def test_status_callbacks_update_the_outbound_event_and_21610_records_a_carrier_opt_out(
    make_app, kit, brain, journey, redis, keys, customers
):
    app, channel, _ = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await kit.post_signed(client, "/twilio/sms", inbound(sid(30), "what are your hours"))
        await channel.aclose()
        reply = (await journey(PHONE))[-1]
        msg_sid = reply.meta["delivery"]["parts"][0]["sid"]

        def status(s: str, **extra: str) -> dict[str, str]:
            """A status callback as Twilio posts it."""
            params = {"MessageSid": s, "SmsSid": s, "MessageStatus": extra.pop("st"), "To": PHONE}
            return {**params, "From": DEALER_NUMBER, "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", **extra}

        r = await kit.post_signed(client, "/twilio/sms/status", status(msg_sid, st="delivered"))
        assert r.status_code == 204
        # a late "sent" never moves a delivered message backwards
        await kit.post_signed(client, "/twilio/sms/status", status(msg_sid, st="sent"))
        delivery = (await journey(PHONE))[-1].meta["delivery"]
        assert delivery["status"] == "delivered" and delivery["parts"][0]["status"] == "delivered"

        # the next reply bounces off the carrier's opt-out list
        await kit.post_signed(client, "/twilio/sms", inbound(sid(31), "and on sunday?"))
        await channel.aclose()
        second = (await journey(PHONE))[-1]
        bounced = second.meta["delivery"]["parts"][0]["sid"]
        r = await kit.post_signed(client, "/twilio/sms/status", status(bounced, st="undelivered", ErrorCode="21610"))
        assert r.status_code == 204
    events = await journey(PHONE)
    assert events[-1].meta["delivery"]["status"] == "undelivered"
    assert events[-1].meta["delivery"]["parts"][0]["error_code"] == "21610"
    customer = await customers.lookup("phone", PHONE)
    entries = await ConsentLedger(redis, keys).entries([customer.id])
    assert [(e.channel, e.action, e.source, e.actor) for e in entries] == [
        ("sms", "opt_out", "carrier_error", "twilio")
    ]
    assert entries[0].evidence["params"]["ErrorCode"] == "21610"
    assert entries[0].evidence["params"]["MessageSid"] == bounced


async def test_status_callback_for_an_unindexed_message_finds_the_customer_by_number(
    make_app, kit, customers, redis, keys
):
    customer = (await customers.resolve(phone=PHONE)).customer
    app, _, _ = make_app()
    params = {
        "MessageSid": sid(40),
        "MessageStatus": "failed",
        "ErrorCode": "21610",
        "To": PHONE,
        "From": DEALER_NUMBER,
    }
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await kit.post_signed(client, "/twilio/sms/status", params)).status_code == 204
        assert (await kit.post_signed(client, "/twilio/sms/status", params)).status_code == 204  # retried
    entries = await ConsentLedger(redis, keys).entries([customer.id])
    assert [(e.action, e.source) for e in entries] == [("opt_out", "carrier_error")]  # recorded once


async def test_twilio_sender_posts_to_the_rest_api_with_the_status_callback(
    make_app, kit, brain, journey, redis, keys, dealer
):
    http = FakeTwilioHttp()
    sender = TwilioSender(
        redis, keys, dealer, account_sid="AC" + "1" * 32, auth_token=kit.AUTH_TOKEN,
        from_number=DEALER_NUMBER, public_url=kit.PUBLIC_URL, http_client=http,
    )  # fmt: skip
    app, channel, _ = make_app(sender=sender)
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await kit.post_signed(client, "/twilio/sms", inbound(sid(50), "hi there"))
        await channel.aclose()
        [req] = http.requests
        assert req["method"] == "POST" and req["uri"].endswith("/Accounts/AC" + "1" * 32 + "/Messages.json")
        assert req["data"]["To"] == PHONE and req["data"]["From"] == DEALER_NUMBER
        assert req["data"]["StatusCallback"] == kit.PUBLIC_URL + "/twilio/sms/status"
        assert req["data"]["Body"] == brain_reply_text()
        reply = (await journey(PHONE))[-1]
        assert reply.meta["delivery"]["sender"] == "twilio" and reply.meta["delivery"]["status"] == "queued"
        msg_sid = reply.meta["delivery"]["parts"][0]["sid"]
        assert msg_sid == sid(0xF001)
        params = {"MessageSid": msg_sid, "MessageStatus": "delivered", "To": PHONE, "From": DEALER_NUMBER}
        await kit.post_signed(client, "/twilio/sms/status", params)
    assert (await journey(PHONE))[-1].meta["delivery"]["status"] == "delivered"


def brain_reply_text() -> str:
    return "Thanks for the message! A member of our team will follow up shortly."


async def test_twilio_refusing_with_21610_records_the_opt_out_and_the_gate_blocks_later_sends(
    redis, keys, dealer, customers, timeline
):
    customer = (await customers.resolve(phone=PHONE)).customer
    http = FakeTwilioHttp(error=(400, 21610, "Attempt to send to unsubscribed recipient"))
    sender = TwilioSender(
        redis, keys, dealer, account_sid="AC" + "1" * 32, auth_token="t", from_number=DEALER_NUMBER,
        public_url=None, http_client=http,
    )  # fmt: skip
    first = await sender.send_sms(OutboundSms(to=PHONE, body="Your service is ready.", customer_id=customer.id))
    assert first.status == "failed" and first.error_code == "21610" and len(http.requests) == 1
    assert "StatusCallback" not in http.requests[0]["data"]  # no public URL: no callbacks
    state = await ConsentGate(redis, keys, dealer).state([customer.id], at=dt.datetime.now(dt.UTC))
    assert state.status("sms", "transactional") == "opted_out"
    second = await sender.send_sms(OutboundSms(to=PHONE, body="Are you still there?", customer_id=customer.id))
    assert second.status == "blocked" and second.reason == "opted_out"
    assert len(http.requests) == 1  # the gate stopped it before the API
    events = await timeline.read([customer.id])  # the attempt is on record; the blocked one never existed
    assert [e.meta["delivery"]["status"] for e in events] == ["failed"]
    assert second.event_id is None


async def test_opted_out_customer_gets_nothing(make_app, kit, brain, journey, customers, redis, keys, dealer):
    customer = (await customers.resolve(phone=PHONE)).customer
    await ConsentGate(redis, keys, dealer).record_opt_out(
        customer.id, channels="sms", source="keyword", evidence={"text": "STOP"}, actor="customer",
        at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
    )  # fmt: skip
    http = FakeTwilioHttp()
    sender = TwilioSender(
        redis, keys, dealer, account_sid="AC" + "1" * 32, auth_token="t", from_number=DEALER_NUMBER,
        public_url=kit.PUBLIC_URL, http_client=http,
    )  # fmt: skip
    app, channel, _ = make_app(sender=sender)
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await kit.post_signed(client, "/twilio/sms", inbound(sid(60), "what's the price of the tacoma"))
        await channel.aclose()
    assert http.requests == []
    events = await journey(PHONE)
    assert [e.direction for e in events] == ["inbound"]  # the turn stayed silent
    # and the sender's own gate refuses even if a caller tries
    r = await sender.send_sms(OutboundSms(to=PHONE, body="Hi!", customer_id=customer.id))
    assert r.status == "blocked" and http.requests == []


async def test_stop_keyword_is_recorded_and_twilio_answers_it(make_app, kit, brain, journey, customers, redis, keys):
    app, channel, _ = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await kit.post_signed(client, "/twilio/sms", inbound(sid(70), "STOP"))
        await channel.aclose()
    assert brain.calls == []  # the consent guard handled it
    customer = await customers.lookup("phone", PHONE)
    [entry] = await ConsentLedger(redis, keys).entries([customer.id])
    assert (entry.channel, entry.action, entry.source) == ("sms", "opt_out", "keyword")
    assert entry.evidence["delivery_id"] == sid(70)
    events = await journey(PHONE)
    sent = [e for e in events if e.direction == "outbound"]
    # Twilio's default opt-out handling already confirmed STOP: ours is recorded but not sent
    assert all(e.meta["delivery"]["status"] == "not_sent" for e in sent)
    assert all(e.meta["delivery"]["reason"] == "twilio_answers_keywords" for e in sent)


async def test_plain_language_revocation_gets_its_one_confirmation(
    make_app, kit, brain, journey, customers, redis, keys
):
    app, channel, _ = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await kit.post_signed(client, "/twilio/sms", inbound(sid(80), "please stop texting me"))
        await channel.aclose()
        await kit.post_signed(client, "/twilio/sms", inbound(sid(81), "hello??"))
        await channel.aclose()
    customer = await customers.lookup("phone", PHONE)
    [entry] = await ConsentLedger(redis, keys).entries([customer.id])
    assert (entry.action, entry.source) == ("opt_out", "natural_language")
    events = await journey(PHONE)
    outbound = [e for e in events if e.direction == "outbound"]
    assert len(outbound) == 1 and outbound[0].meta["delivery"]["status"] == "delivered-dry-run"
    assert "START" in outbound[0].text  # the confirmation, and nothing after it


async def test_long_reply_records_ucs2_segments_when_it_carries_an_emoji(make_app, kit, brain, journey):
    long = "Happy to help you compare the RAV4 Hybrid trims and colors whenever you like. 🚙"
    text = (long + " ") * 3

    async def handler(inp):
        return await kit.say(inp, text.strip())

    brain.handler = handler
    app, channel, _ = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await kit.post_signed(client, "/twilio/sms", inbound(sid(90), "blue rav4?"))
        await channel.aclose()
    reply = (await journey(PHONE))[-1]
    part = reply.meta["delivery"]["parts"][0]
    info = segment_info(reply.text)
    assert part["encoding"] == "UCS-2" == info.encoding
    assert part["segments"] == info.segments > 1


async def test_the_offline_brain_answers_a_text_end_to_end(make_app, kit, offline_agent, journey):
    app, channel, _ = make_app(core=offline_agent)
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        await kit.post_signed(client, "/twilio/sms", inbound(sid(95), "what are your hours on saturday?"))
        await channel.aclose()
    customer_text, reply = await journey(PHONE)
    assert customer_text.text == "what are your hours on saturday?"
    assert reply.meta["brain"] == "offline" and "Sat" in reply.text
    delivery = reply.meta["delivery"]
    assert delivery["status"] == "delivered-dry-run" and delivery["parts"][0]["encoding"] == "GSM-7"


# --- senders and segments, without HTTP ----------------------------------------------------------------


async def test_dry_run_sender_records_a_new_event_and_splits_nothing(redis, keys, dealer, customers, timeline):
    customer = (await customers.resolve(phone=PHONE)).customer
    sender = build_sender(redis, keys, dealer, account_sid=None, auth_token=None, from_number=None, public_url=None)
    assert isinstance(sender, DryRunSender)
    r = await sender.send_sms(
        OutboundSms(to=PHONE, body="Your test drive is Thu at 10:00 AM.", customer_id=customer.id,
                    meta={"purpose": "call_recap"})
    )  # fmt: skip
    assert r.sent and r.status == "delivered-dry-run" and r.event_id
    [event] = await timeline.read([customer.id])
    assert event.id == r.event_id and event.direction == "outbound" and event.channel == "sms"
    assert event.text == "Your test drive is Thu at 10:00 AM." and event.meta["purpose"] == "call_recap"
    assert event.meta["delivery"]["parts"][0]["sid"] == r.sid
    # two texts of one reply land on the same event
    second = await sender.send_sms(
        OutboundSms(to=PHONE, body="Second part.", customer_id=customer.id, event_id=r.event_id, part=1, parts=2)
    )
    assert second.event_id == r.event_id
    [event] = await timeline.read([customer.id])
    assert [p["part"] for p in event.meta["delivery"]["parts"]] == [0, 1]
    assert event.meta["delivery"]["texts"]["1"] == "Second part."


def test_gsm7_and_ucs2_segment_counting():
    assert sms_encoding("Hi! Your 2024 RAV4 is $31,995 @ Bayview.") == "GSM-7"
    assert segment_info("a" * 160).segments == 1 and segment_info("a" * 161).segments == 2
    assert segment_info("a" * 306).segments == 2 and segment_info("a" * 307).segments == 3
    # extension characters cost two septets
    assert segment_info("€" * 80).units == 160 and segment_info("€" * 80).segments == 1
    assert segment_info("€" * 81).segments == 2
    # one emoji makes the whole message UCS-2, and costs two UTF-16 units
    assert sms_encoding("See you soon 🚗") == "UCS-2"
    assert segment_info("🚗" * 35).units == 70 and segment_info("🚗" * 35).segments == 1
    assert segment_info("a" * 69 + "🚗").segments == 2  # 71 units
    assert segment_info("b" * 200 + "é").encoding == "GSM-7"  # é is in the GSM alphabet
    assert segment_info("b" * 200 + "ê").encoding == "UCS-2"  # ê is not


def test_split_sms_cuts_at_sentences_then_words_and_never_inside_a_url():
    url = "https://www.bayviewtoyota.example/used/2024-toyota-rav4-xle-blue-stock-T12345?utm_source=sms"
    text = (
        "Good news, the blue 2024 RAV4 XLE is still here. "
        f"Here are the photos and details: {url} "
        "It has 12,400 miles, heated seats and a power liftgate. "
        "Would Saturday morning work for a test drive? "
        "We are open 9 to 7 that day and the sales team would love to meet you."
    )
    parts = split_sms(text, max_chars=120)
    assert all(len(p) <= 120 for p in parts)
    assert " ".join(parts) == " ".join(text.split())  # nothing lost or reordered
    assert any(url in p for p in parts)  # the URL is whole
    assert parts[0] == "Good news, the blue 2024 RAV4 XLE is still here."
    # a URL longer than the limit still goes whole, alone
    huge = "https://example.com/" + "x" * 200
    parts = split_sms(f"Look: {huge} thanks", max_chars=100)
    assert huge in parts and all(len(p) <= 100 for p in parts if p != huge)
    # a segment budget: UCS-2 text splits into single-segment messages
    emoji_text = "Great choice! 🚙 " * 12
    for p in split_sms(emoji_text, max_chars=320, max_segments=1):
        assert segment_info(p).segments == 1
    assert split_sms("short", max_chars=320) == ["short"]


def test_public_urls_become_websocket_urls():
    assert websocket_url("https://dealer.example.test/", "/twilio/relay") == "wss://dealer.example.test/twilio/relay"
    assert websocket_url("http://localhost:8000", "/twilio/relay") == "ws://localhost:8000/twilio/relay"
    assert websocket_url("https://x.example/base", "/twilio/relay") == "wss://x.example/base/twilio/relay"
    with pytest.raises(ValueError):
        websocket_url("ftp://x", "/twilio/relay")


async def test_a_burst_left_by_a_dead_process_is_answered_by_the_sweep(make_app, kit, brain, journey, redis):
    """No next text needed: the worker loop's sweep takes over a number whose processor died."""
    _, channel, _ = make_app()
    bursts = channel.bursts
    at = dt.datetime.now(dt.UTC)
    orphan = InboundSms(sid=sid(120), phone=PHONE, to=DEALER_NUMBER, body="are you open sunday?", at=at)
    assert await bursts.push(orphan, "dead-process") == 2  # the webhook of a process that then died
    assert await redis.zscore(bursts.active_key, PHONE) == int(at.timestamp() * 1000)  # indexed for the sweep
    assert await channel.sweep(now=at + dt.timedelta(seconds=30)) == 0  # its lease still holds: hands off
    await redis.delete(bursts.key(PHONE, "owner"))  # ...until it expires
    assert await channel.sweep(now=at + dt.timedelta(seconds=1)) == 0  # too recent to be an orphan
    assert await channel.sweep(now=at + dt.timedelta(seconds=30)) == 1
    await channel.aclose()
    assert brain.calls == ["are you open sunday?"]
    events = await journey(PHONE)
    assert (events[0].direction, events[0].text) == ("inbound", "are you open sunday?")
    assert [e.direction for e in events] == ["inbound", "outbound"] and events[1].meta["delivery"]
    assert await redis.zscore(bursts.active_key, PHONE) is None  # answered and idle: no longer indexed


async def test_an_api_only_process_queues_texts_and_a_worker_answers_them(make_app, kit, brain, journey, redis):
    api_app, api_channel, _ = make_app(inline=False)
    _, worker_channel, _ = make_app()  # another process's worker loop
    texts = ["hi", "is the tundra still for sale"]
    async with kit.serve(api_app) as base, httpx.AsyncClient(base_url=base) as client:
        for n, text in enumerate(texts):
            assert (await kit.post_signed(client, "/twilio/sms", inbound(sid(130 + n), text))).status_code == 200
        await api_channel.aclose()
    assert brain.calls == [] and await redis.llen(api_channel.bursts.work_key) == 1  # one lease handed over
    stop = asyncio.Event()
    loop = asyncio.create_task(worker_channel.run_worker(stop, poll_s=0.05))

    async def answered():
        return [e for e in await journey(PHONE) if e.direction == "outbound"]

    await kit.eventually(answered)
    stop.set()
    await asyncio.wait_for(loop, 10)
    assert brain.calls == ["\n".join(texts)]
    assert [e.direction for e in await journey(PHONE)] == ["inbound", "inbound", "outbound"]
    assert await redis.llen(api_channel.bursts.work_key) == 0


async def test_an_ssn_in_a_text_never_reaches_redis_the_timeline_or_the_brain(make_app, kit, brain, journey, redis):
    part = parse_inbound(inbound(sid(140), "my ssn is 123-45-6789 can u run my credit"), dt.datetime.now(dt.UTC))
    assert "6789" not in part.to_item() and part.redacted == ["ssn"]  # what the burst queue holds
    app, channel, _ = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        r = await kit.post_signed(client, "/twilio/sms", inbound(sid(141), "my ssn is 123-45-6789 can u run my credit"))
        assert r.status_code == 200
        await channel.aclose()
    assert brain.calls == ["my ssn is [SSN removed] can u run my credit"]
    events = await journey(PHONE)
    assert events[0].meta["redacted"] == ["ssn"]
    assert all("6789" not in e.model_dump_json() for e in events)


async def _agent_with_memory(dealer, redis, keys, raw, brain, path, encoder) -> Any:
    """A process's agent with cross-channel vector memory: its own model, Chroma store and cache; the
    recall index on the shared Redis. `encoder` runs the model (and counts what it embeds)."""
    from agent.turn import Agent, Services
    from memory.checkpoint import AsyncRedisCheckpointSaver
    from memory.embeddings import Embedder
    from memory.vectors import CustomerMemory, RecallIndex, open_vector_store

    memory = CustomerMemory(open_vector_store(None, path, Embedder(encoder)), dealer.id,
                            recall_index=RecallIndex(raw, keys))  # fmt: skip
    await memory.backfill_recall_index()
    services = Services(dealer=dealer, redis=redis, keys=keys, memory=memory)
    return Agent(services, brain, checkpointer=AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix()))


async def test_a_text_is_embedded_while_its_burst_waits_and_not_again_by_the_turn(
    make_app, kit, brain, journey, dealer, redis, keys, redis_handle, tmp_path, counting_encoder
):
    """The API process that takes the webhook embeds the text during the burst window; the worker
    that runs the turn recalls the customer's memories with that vector (the model does not run
    for it in the worker) and stores the text as a memory without embedding it either."""
    from prometheus_client import REGISTRY

    raw = redis_handle.client(decode_responses=False)
    try:
        api_encoder, worker_encoder = counting_encoder(), counting_encoder()  # one model per process
        api_agent = await _agent_with_memory(dealer, redis, keys, raw, brain, tmp_path / "api", api_encoder)
        worker_agent = await _agent_with_memory(dealer, redis, keys, raw, brain, tmp_path / "worker", worker_encoder)
        recalled: list[list[str]] = []

        async def remember_what_was_recalled(inp):
            recalled.append(list(inp.memories))
            return await kit.say(inp, "Happy to help with that.")

        brain.handler = remember_what_was_recalled
        api_app, api_channel, _ = make_app(inline=False, core=api_agent)
        _, worker_channel, _ = make_app(core=worker_agent)
        # two single texts, then a burst of two (the second with an SSN the turn never sees)
        bursts = [["my trade is a 2015 camry with 90k miles"], ["what would you give me for my trade?"],
                  ["also can u run my credit", "ssn is 123-45-6789"]]  # fmt: skip
        said = ["\n".join(b) for b in bursts[:2]] + ["also can u run my credit\nssn is [SSN removed]"]

        def prepared() -> float:
            return REGISTRY.get_sample_value("dealeros_memory_query_vectors_total", {"source": "prepared"}) or 0

        before = prepared()
        stop = asyncio.Event()
        loop = asyncio.create_task(worker_channel.run_worker(stop, poll_s=0.05))
        async with kit.serve(api_app) as base, httpx.AsyncClient(base_url=base) as client:
            for n, burst in enumerate(bursts):
                for m, text in enumerate(burst):
                    r = await kit.post_signed(client, "/twilio/sms", inbound(sid(150 + 10 * n + m), text))
                    assert r.status_code == 200
                await api_channel.aclose()  # its background work (the embedding) has finished

                async def answered(n=n):
                    return len([e for e in await journey(PHONE) if e.direction == "outbound"]) > n

                await kit.eventually(answered)
                await worker_agent.services.drain()  # this turn's memories are written
        stop.set()
        await asyncio.wait_for(loop, 10)
        assert brain.calls == said
        assert said[0] in api_encoder.texts and said[1] in api_encoder.texts and said[2] in api_encoder.texts
        assert not set(said) & set(worker_encoder.texts)  # each turn's text embedded by the API process only
        assert prepared() - before == 3
        assert any("camry" in line for line in recalled[1])  # the first text, recalled for the second
        assert all("6789" not in t for t in api_encoder.texts + worker_encoder.texts)
    finally:
        await raw.aclose()
