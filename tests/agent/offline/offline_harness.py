"""The offline brain's test harness: a runtime (real Redis, demo dealership, knowledge, fixed clock)
and `Chat`, which drives a conversation through `OfflineBrain.respond` carrying `dialogue` forward like
the graph does and checks every reply: each dollar amount was disclosed by a tool in that turn, the
outbound guard finds nothing to remove, and the reply fits its channel. Fixtures are in conftest.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.guards import OutboundGuard, split_sentences
from agent.offline import OfflineBrain
from agent.types import BrainInput, BrainOutput
from memory.customers import Customer, CustomerStore, Interest
from memory.keys import Keys
from memory.vectors import VectorStore
from tools.context import ToolDeps, TurnFacts
from tools.dealer import DealerConfig

ROOT = Path(__file__).resolve().parents[3]
DEMO_DIR = ROOT / "examples" / "demo"
TZ = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 17, 18, 30, tzinfo=TZ)  # a Tuesday evening: sales open until 8 PM, service closed
KB_DEALER = "offlinekb"
LATENCIES: list[float] = []  # ms per respond() over the session


class SharedKnowledge:
    """The vector store, with this test's knowledge collection served by the one indexed per session
    (indexing the demo documents takes about a second; every test reads the same documents)."""

    def __init__(self, store: VectorStore, dealer_id: str) -> None:
        self.store = store
        self.dealer_id = dealer_id

    def collection(self, name: str) -> Any:
        if name == f"kb_{self.dealer_id}":
            name = f"kb_{KB_DEALER}"
        return self.store.collection(name)


@dataclass
class Runtime:
    dealer: DealerConfig
    redis: Any
    keys: Keys
    customers: CustomerStore
    services: dict[str, Any]
    brain: OfflineBrain = field(default_factory=OfflineBrain)
    clock: Callable[[], dt.datetime] = lambda: NOW

    def deps(self, customer_id: str | None, channel: str) -> ToolDeps:
        return ToolDeps(
            dealer=self.dealer,
            redis=self.redis,
            keys=self.keys,
            customer_id=customer_id,
            channel=channel,
            clock=self.clock,
            services=self.services,
            facts=TurnFacts(),
        )


# --- reply checks -------------------------------------------------------------------------------

_DOLLAR = re.compile(r"\$\s?(\d[\d,]*)(\.\d\d)?")
_SPOKEN = re.compile(r"(?<![\d.,])(\d[\d,]*(?:\.\d\d)?) dollars")


def amounts(text: str) -> list[tuple[str, float]]:
    out = [(m.group(0), float(m.group(1).replace(",", "") + (m.group(2) or ""))) for m in _DOLLAR.finditer(text)]
    out += [(m.group(0), float(m.group(1).replace(",", ""))) for m in _SPOKEN.finditer(text)]
    return out


def disclosed(value: float, facts: TurnFacts) -> bool:
    """A figure a tool gave this turn: a price it recorded, or a figure in a passage it retrieved."""
    if value == int(value) and int(value) in facts.prices:
        return True
    written = f"${value:,.2f}" if value != int(value) else f"${int(value):,}"
    return any(written in passage for passage in facts.knowledge)


def check_reply(out: BrainOutput, deps: ToolDeps, channel: str, customer: Customer) -> None:
    text = out.reply.text
    assert text.strip(), "empty reply"
    for written, value in amounts(text):
        assert disclosed(value, deps.facts), f"{written} in {text!r} was not disclosed by a tool this turn"
    if channel == "sms":
        assert len(text) <= 320, f"SMS too long ({len(text)}): {text!r}"
    if channel == "voice":
        sentences = [s for s, _ in split_sentences(text) if s.strip()]
        assert len(sentences) <= 2, f"voice reply has {len(sentences)} sentences: {text!r}"
        assert not re.search(r"https?://|www\.|[*#]|\n", text), f"voice reply has a URL or markup: {text!r}"
        assert "$" not in text
    if channel != "chat":
        assert not out.reply.cards and not out.reply.quick_replies
    contacts = {*customer.phones, *customer.emails}
    contacts |= {v for k, v in out.profile_updates.items() if k in {"phone", "email"}}
    verdict = OutboundGuard().check(
        text, facts=deps.facts, channel=channel, customer_contacts=contacts, dealer=deps.dealer
    )
    assert not verdict.violations and not verdict.replaced, f"guard: {verdict.violations} on {text!r}"
    assert json.loads(json.dumps(out.dialogue)) == out.dialogue, "dialogue must be plain JSON"
    assert out.brain == "offline" and out.prompt_version.startswith("offline/templates.yaml@1#")


class Chat:
    """One customer talking to the offline brain on one channel; state carried like the graph does."""

    def __init__(
        self,
        rt: Runtime,
        channel: str = "chat",
        *,
        phone: str | None = None,
        email: str | None = None,
        visitor: str | None = None,
        name: str | None = None,
    ) -> None:
        self.rt = rt
        self.channel = channel
        self.ident = {"phone": phone, "email": email, "visitor_id": visitor}
        if not any(self.ident.values()):
            self.ident["visitor_id"] = "visitor-" + channel + "-test"
        self.name = name
        self.customer: Customer | None = None
        self.dialogue: dict[str, Any] = {}
        self.history: list[dict[str, str]] = []
        self.outputs: list[BrainOutput] = []
        self.deps: ToolDeps | None = None

    async def _customer(self) -> Customer:
        if self.customer is None:
            res = await self.rt.customers.resolve(name=self.name, **self.ident)
            assert res is not None
            self.customer = res.customer
        return self.customer

    async def say(
        self,
        text: str,
        *,
        meta: dict[str, Any] | None = None,
        memories: list[str] | None = None,
        summary: str = "",
    ) -> BrainOutput:
        """One turn. `meta` is what the channel hands in (page context, lead fields); `memories` and
        `summary` are what the graph retrieves and folds (cross-channel recollections, older turns)."""
        customer = await self._customer()
        deps = self.rt.deps(customer.id, self.channel)
        inp = BrainInput(
            text=text,
            channel=self.channel,
            customer=customer,
            deps=deps,  # type: ignore[arg-type]
            history=list(self.history[-8:]),
            summary=summary,
            memories=list(memories or []),
            dialogue=json.loads(json.dumps(self.dialogue)),
            meta=dict(meta or {}),
        )
        started = time.perf_counter()
        out = await self.rt.brain.respond(inp)
        LATENCIES.append((time.perf_counter() - started) * 1000)
        check_reply(out, deps, self.channel, customer)
        self.deps = deps
        self.dialogue = out.dialogue
        self.history += [{"role": "customer", "text": text}, {"role": "assistant", "text": out.reply.text}]
        self.outputs.append(out)
        await self._persist(out)
        return out

    async def _persist(self, out: BrainOutput) -> None:
        """What the graph's persist step does with the brain's captures (profile, interests)."""
        store = self.rt.customers
        assert self.customer is not None
        cid = self.customer.id
        up = out.profile_updates
        if up.get("phone"):
            await store.attach(cid, "phone", up["phone"])
        if up.get("email"):
            await store.attach(cid, "email", up["email"])
        fields = {k: up[k] for k in ("name", "trade_in", "budget") if up.get(k)}
        if fields:
            await store.update(cid, **fields)
        for i in out.interests:
            await store.add_interest(cid, Interest(**i))
        self.customer = await store.primary_of(cid)
