"""Issue 3's acceptance: the offline brain on the demo dealership, through the real turn path.

Everything is real: Redis, the checkpointer, the imported demo feed, Chroma with MiniLM, the
knowledge documents, the consent ledger. The clock is fixed (Tuesday 2026-11-17, 6:30 PM in Tampa)
so dates in the customer's words resolve the same way every run.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.offline import OfflineBrain
from agent.turn import Agent, Services
from agent.types import InboundMessage
from integrations.inventory_csv import import_inventory
from memory.checkpoint import AsyncRedisCheckpointSaver
from memory.consent import ConsentLedger
from memory.embeddings import get_embedder
from memory.vectors import CustomerMemory, open_vector_store
from tools import booking
from tools.dealer import load_dealer_config
from tools.handoff import HandoffStore
from tools.knowledge import index_knowledge

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "examples" / "demo" / "inventory.csv"
NOW = dt.datetime(2026, 11, 17, 23, 30, tzinfo=dt.UTC)  # Tue 6:30 PM EST
PRICES = {int(float(r["price"])) for r in csv.DictReader(FEED.open()) if r["price"]}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=20)
        return self.now


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    store = open_vector_store(None, tmp_path_factory.mktemp("chroma"), get_embedder())
    yield store
    store.close()


@pytest.fixture
async def agent(redis_handle, redis, keys, dealer_id, demo_config_path, vectors):
    dealer = load_dealer_config(demo_config_path).model_copy(update={"id": dealer_id})
    await import_inventory(redis, keys, FEED, vectors=vectors)
    await index_knowledge(vectors, dealer)
    services = Services(
        dealer=dealer, redis=redis, keys=keys, clock=Clock(), vectors=vectors, memory=CustomerMemory(vectors, dealer_id)
    )
    raw = redis_handle.client(decode_responses=False)
    yield Agent(services, OfflineBrain(), checkpointer=AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix()))
    await services.drain()
    await raw.aclose()


def dollars(text: str) -> set[int]:
    return {int(m.replace(",", "")) for m in re.findall(r"\$(\d[\d,]*)", text)}


async def say(agent: Agent, text: str, **who) -> str:
    who = who or {"phone": "+18135550177"}
    channel = who.pop("channel", "sms")
    result = await agent.handle_turn(InboundMessage(dealer="x", channel=channel, text=text, **who))
    reply = " ".join(r.text for r in result.replies)
    if channel == "sms":
        assert all(len(r.text) <= 320 for r in result.replies), reply
    # Nothing the customer is told may be invented: every price is a real one from the feed or
    # from the dealer's documents.
    stray = dollars(reply) - PRICES - {79, 29, 129, 49, 69, 20, 999}
    assert not stray, f"price(s) {stray} not from the inventory in: {reply}"
    return reply


async def test_shopping_test_drive_and_service_by_sms(agent):
    r = await say(agent, "any used tacomas under 35k?")
    assert "Tacoma" in r and dollars(r) and max(dollars(r)) <= 35000
    r = await say(agent, "the silver one")
    assert "Silver" in r and "32,995" in r
    r = await say(agent, "can I come test drive it wednesday at 10am")
    assert "Wed" in r and "10:00 AM" in r
    r = await say(agent, "yes")
    assert re.search(r"all set|booked|confirmed", r, re.I)
    cid = (await agent.services.customers.lookup("phone", "+18135550177")).id
    appts = await booking.list_for_customer(agent.services.deps_for(cid, "sms"))
    assert len(appts) == 1
    a = appts[0]
    assert a.department == "sales" and a.kind == "test_drive"
    assert a.starts_at.astimezone(agent.services.dealer.tz).strftime("%a %H:%M") == "Wed 10:00"
    tacoma = next(row for row in csv.DictReader(FEED.open()) if "32995" in row["price"] and row["model"] == "Tacoma")
    assert a.vin == tacoma["vin"]

    r = await say(agent, "also need an oil change next monday after 3")
    assert "Mon" in r and re.search(r"\b[3-5]:\d\d PM", r)
    r = await say(agent, "the first one works")
    r = r if re.search(r"all set|booked", r, re.I) else await say(agent, "yes")
    assert re.search(r"all set|booked|confirmed", r, re.I)
    appts = await booking.list_for_customer(agent.services.deps_for(cid, "sms"))
    assert sorted(a.department for a in appts) == ["sales", "service"]

    r = await say(agent, "what time do you close on saturday")
    assert "7" in r and "PM" in r
    r = await say(agent, "do yall do financing? my credit isnt great")
    assert re.search(r"financ|lender|credit", r, re.I) and not re.search(r"approved|guarantee", r, re.I)


async def test_numbered_choice_picks_the_offered_option(agent):
    await say(agent, "any used tacomas under 35k?")
    await say(agent, "the silver one")
    r = await say(agent, "can I test drive it thursday morning")  # Thanksgiving: closed, alternatives offered
    offered = re.findall(r"\d\) ([A-Z][a-z]{2} [A-Z][a-z]{2} \d+, \d+:\d\d [AP]M)", r)
    assert offered, r
    r = await say(agent, "2")
    assert offered[1] in r, f"asked for option 2 ({offered[1]}), got: {r}"


async def test_person_stop_and_plain_language_revocation(agent, redis, keys):
    r = await say(agent, "can I talk to a real person", phone="+18135550178")
    assert re.search(r"minute|today|tomorrow|AM|PM", r), "the customer is told when a human replies"
    cid = (await agent.services.customers.lookup("phone", "+18135550178")).id
    assert (await HandoffStore(redis, keys).active_for(cid)).reason == "customer_request"

    r = await say(agent, "STOP", phone="+18135550179")
    assert "unsubscribed" in r.lower()
    r = await say(agent, "any trucks?", phone="+18135550179")
    assert r == ""  # nothing is sent to a customer who opted out

    r = await say(agent, "pls stop texting me", phone="+18135550180")
    cid = (await agent.services.customers.lookup("phone", "+18135550180")).id
    state = await ConsentLedger(redis, keys).state([cid])
    assert state.status("sms", "marketing") == "opted_out" and r


async def test_a_later_session_on_another_channel_remembers_the_vehicle(agent):
    web = {"channel": "chat", "visitor_id": "visitor-acc-0001"}
    r = await say(agent, "do you have the rav4 hybrid in blue", **dict(web))
    assert "RAV4" in r
    r = await say(agent, "the first one. my number is 813-555-0181", **dict(web))
    # Next day the same person calls from that phone: one customer, and the vehicle is remembered.
    r = await say(agent, "hi again, is the rav4 still available?", channel="voice", phone="+18135550181")
    assert "RAV4" in r
    customer = await agent.services.customers.lookup("phone", "+18135550181")
    assert customer.visitor_ids == ["visitor-acc-0001"]
    assert any("RAV4" in i.description for i in customer.interests)
    assert len(re.findall(r"[.!?](\s|$)", r)) <= 2, "voice replies are 1-2 sentences"


def test_dealeros_chat_is_scriptable_through_stdin(tmp_path):
    env = {**os.environ, "DEALEROS_DATA_DIR": str(tmp_path / "var")}
    env.pop("REDIS_URL", None)
    script = "any used tacomas under 35k?\nwhat are your hours on sunday\nSTOP\nhello?\n"
    out = subprocess.run(
        [sys.executable, "-c", "from server import cli; cli()", "chat", "--channel", "sms", "--from", "+18135550182"],
        input=script,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 4, out.stdout
    assert "Tacoma" in lines[0] and dollars(lines[0]) <= PRICES
    assert "11" in lines[1] and "5" in lines[1]
    assert "unsubscribed" in lines[2].lower()
    assert lines[3] == "(no reply: opted_out)"


def test_dealeros_chat_refuses_a_malformed_identity_with_a_clear_error():
    from typer.testing import CliRunner

    from server import cli

    for args, hint in ((["--visitor", "v-1"], "--visitor"), (["--channel", "sms", "--from", "12"], "--from")):
        result = CliRunner().invoke(cli, ["chat", *args], input="hi\n")
        assert result.exit_code == 2 and hint in result.output and "Traceback" not in result.output
