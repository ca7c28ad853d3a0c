"""Twilio SMS channel over real HTTP: signatures, duplicates, bursts, status callbacks, senders, segments.

The agent is the real `Agent` with real stores on the test's Redis; its brain is `ScriptedBrain`, a
test double (tests/channels/conftest.py). Waiting is on conditions: `channel.aclose()` returns when
every burst processor has finished its turns and sends.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

from channels.sms import build_sms_router
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

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False):
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

    def make(*, sender=None, auth_token: str | None = kit.AUTH_TOKEN, window: float = 0.3, **kw: Any):
        sender = sender or DryRunSender(redis, keys, dealer)
        router = build_sms_router(
            agent, public_url=kit.PUBLIC_URL, auth_token=auth_token, sender=sender, dealer=dealer,
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
    assert brain.calls == ["\n".join(texts)]
    events = await journey(PHONE)
    assert inbound_texts(events) == texts
    assert [e.direction for e in events].count("outbound") == 1
    assert events[-1].direction == "outbound"
    burst = next(e for e in events if e.direction == "inbound" and "parts" in e.meta or e.meta.get("delivery_id") == sid(10))
    assert [p["delivery_id"] for p in burst.meta.get("parts", [])] in ([], [sid(10), sid(11), sid(12)])


async def test_mms_media_urls_are_kept_on_the_timeline(make_app, kit, brain, journey):
    app, channel, _ = make_app()
    params = inbound(
        sid(20), "", NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", MediaContentType1="image/png",
    )  # fmt: skip
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await kit.post_signed(client, "/twilio/sms", params)).status_code == 200
        await channel.aclose()
    assert brain.calls == ["[sent 2 pictures]"]
    first = (await journey(PHONE))[0]
    assert [m["url"][-3:] for m in first.meta["media"]] == ["ME1", "ME2"]
    assert first.meta["media"][0]["content_type"] == "image/jpeg"
