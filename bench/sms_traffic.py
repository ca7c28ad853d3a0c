"""Signed Twilio SMS traffic against running servers, and the audit of what came back.

`Plan` describes the load: `customers` numbers each texting `texts` times `spacing_s` apart, each
starting at a random moment within `start_spread_s` (0: all at once, a thundering herd of
`customers` concurrent webhooks), `burst_customers` numbers each sending a burst of `burst_texts`
texts `burst_gap_s` apart, and every `retry_every`-th text delivered twice (a Twilio retry: same
MessageSid). With several servers, consecutive texts of one customer go to
different servers, and a retry goes to a server other than the original's.

`audit()` then reads the truth from Redis and the servers' logs:
* every MessageSid sent has exactly one inbound event on the customer's timeline (none lost, retries
  dropped);
* every turn (inbound events sharing a `turn_id`) has exactly one outbound reply, and the reply was
  sent exactly once by the dry-run sender (one MessageSid-index entry per reply part, one
  "[dry-run sms]" log line per part);
* replies are in the order of the turns they answer, and each comes after its turn's texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

from bench.common import Stats
from bench.inproc import new_phone
from bench.procs import AUTH_TOKEN, PUBLIC_URL
from channels.twilio_common import SMS_PATH
from memory.customers import CustomerStore
from memory.keys import Keys
from memory.timeline import Timeline

DEALER_NUMBER = "+18135550142"
TEXTS = [
    "Is stock T26101 still available?",
    "what's the best price on it",
    "does it have the tow package",
    "ok thanks",
]
BURST = ["hi", "is the highlander still there", "stock T26101", "the black one"]


@dataclass
class Plan:
    customers: int = 200
    texts: int = 2
    spacing_s: float = 8.0  # > the channel's 1.5 s burst window + a turn: each text is its own turn
    start_spread_s: float = 8.0
    burst_customers: int = 20
    burst_texts: int = 4
    burst_gap_s: float = 0.15
    retry_every: int = 10
    retry_after_s: float = 0.2
    reply_timeout_s: float = 90.0
    seed: int = 7


@dataclass
class Send:
    at_s: float  # offset from the start
    phone: str
    sid: str
    body: str
    target: int
    retry: bool = False


@dataclass
class Traffic:
    sends: list[Send]
    phones: list[str]
    burst_phones: list[str]

    @property
    def unique(self) -> list[Send]:
        return [s for s in self.sends if not s.retry]


def make_traffic(plan: Plan, targets: int) -> Traffic:
    rng = random.Random(plan.seed)
    sends: list[Send] = []
    phones = [new_phone() for _ in range(plan.customers)]
    bursts = [new_phone() for _ in range(plan.burst_customers)]
    n = 0
    for c, phone in enumerate(phones):
        start = rng.uniform(0, plan.start_spread_s)
        for i in range(plan.texts):
            body = f"{TEXTS[i % len(TEXTS)]} ({c}.{i})"  # unique: no free ride on the embedder's cache
            sends.append(Send(start + i * plan.spacing_s, phone, _sid(), body, (c + i) % targets))
    for c, phone in enumerate(bursts):
        start = rng.uniform(0, plan.start_spread_s)
        for j in range(plan.burst_texts):
            body = f"{BURST[j % len(BURST)]} ({c}.{j})"
            sends.append(Send(start + j * plan.burst_gap_s, phone, _sid(), body, (c + j) % targets))
    retries = []
    for s in sorted(sends, key=lambda s: (s.at_s, s.phone)):
        n += 1
        if plan.retry_every and n % plan.retry_every == 0:
            retries.append(Send(s.at_s + plan.retry_after_s, s.phone, s.sid, s.body, (s.target + 1) % targets, True))
    return Traffic(sends=sorted(sends + retries, key=lambda s: s.at_s), phones=phones, burst_phones=bursts)


def _sid() -> str:
    return "SM" + secrets.token_hex(16)


def sms_params(send: Send) -> dict[str, str]:
    return {
        "ToCountry": "US",
        "SmsMessageSid": send.sid,
        "NumMedia": "0",
        "SmsSid": send.sid,
        "SmsStatus": "received",
        "Body": send.body,
        "To": DEALER_NUMBER,
        "NumSegments": "1",
        "MessageSid": send.sid,
        "AccountSid": "AC" + "0" * 32,
        "From": send.phone,
        "ApiVersion": "2010-04-01",
    }


@dataclass
class Delivery:
    """What the load generator saw: acknowledgement times and statuses."""

    acks: list[float] = field(default_factory=list)
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (sent at s from start, ack s)
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def acks_by_second(delivery: Delivery) -> dict[str, dict[str, Any]]:
    """Acknowledgement stats per second of the run (when did the server fall behind?)."""
    buckets: dict[int, list[float]] = defaultdict(list)
    for at, ack in delivery.timeline:
        buckets[int(at)].append(ack)
    return {f"{k}s": asdict(Stats.of(v)) for k, v in sorted(buckets.items())}


async def post_form(base_url: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    """One POST on a fresh connection (as Twilio's webhooks arrive), with a client that costs next to
    nothing: the request is written as prepared bytes, so the load generator — on the same cores as
    the server — doesn't inflate what it measures. Returns the status code."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
            "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]  # fmt: skip
    head += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        raw = await reader.readuntil(b"\r\n\r\n")
        status = int(raw.split(b" ", 2)[1])
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", raw)
        if length:
            await reader.readexactly(int(length.group(1)))
        return status
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def deliver(traffic: Traffic, base_urls: list[str], *, timeout_s: float = 60.0) -> Delivery:
    """Send every webhook at its time (signed like Twilio signs it), measuring each acknowledgement
    from the connection's opening to the response's last byte."""
    validator = RequestValidator(AUTH_TOKEN)
    url = PUBLIC_URL + SMS_PATH
    prepared = []
    for s in traffic.sends:
        params = sms_params(s)
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        prepared.append((s, urlencode(params).encode(), headers))
    out = Delivery()
    start = time.perf_counter() + 0.2

    async def one(send: Send, body: bytes, headers: dict[str, str]) -> None:
        await asyncio.sleep(max(0.0, start + send.at_s - time.perf_counter()))
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                status = await post_form(base_urls[send.target], SMS_PATH, body, headers)
            out.acks.append(time.perf_counter() - t0)
            out.timeline.append((send.at_s, out.acks[-1]))
            out.statuses[status] += 1
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            out.errors.append(f"{type(exc).__name__}: {exc}")
            out.statuses["error"] += 1

    await asyncio.gather(*(one(*x) for x in prepared))
    out.seconds = time.perf_counter() - start
    return out


# --- the audit ------------------------------------------------------------------------------------
@dataclass
class Audit:
    texts: int = 0  # unique MessageSids sent
    retries: int = 0
    turns: int = 0
    replies: int = 0
    lost_texts: int = 0  # sent, no inbound event
    duplicate_texts: int = 0  # one MessageSid, several inbound events
    unanswered_turns: int = 0  # a turn without a reply (or its reply not sent)
    duplicate_replies: int = 0  # a turn with several replies, or a reply sent more than once
    out_of_order: int = 0  # replies not in the order of the turns they answer
    inbound_reordered: int = 0  # texts stored in another order than sent (network, not the runtime)
    bursts_as_one_turn: int = 0
    bursts: int = 0
    customers_on_both: int = 0  # customers whose texts reached more than one server
    reply_latency: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost_texts or self.duplicate_texts or self.unanswered_turns or self.duplicate_replies
                    or self.out_of_order)  # fmt: skip

    def brief(self) -> str:
        return (
            f"{self.duplicate_replies + self.duplicate_texts} dup / {self.lost_texts + self.unanswered_turns} lost / "
            f"{self.out_of_order} out of order — {self.texts} texts (+{self.retries} retries), {self.turns} turns"
        )


async def _journeys(redis: Any, keys: Keys, phones: list[str]) -> dict[str, list[Any]]:
    customers, timeline = CustomerStore(redis, keys), Timeline(redis, keys)
    out: dict[str, list[Any]] = {}
    for phone in phones:
        c = await customers.lookup("phone", phone)
        out[phone] = [] if c is None else await timeline.read(await customers.sources(c.id))
    return out


def _turns(events: list[Any]) -> tuple[list[Any], list[Any]]:
    inbound = [e for e in events if e.direction == "inbound" and e.kind == "message"]
    outbound = [e for e in events if e.direction == "outbound" and e.kind == "message" and e.actor == "ai"]
    return inbound, outbound


async def wait_for_replies(redis: Any, keys: Keys, traffic: Traffic, timeout_s: float, stall_s: float = 20.0) -> float:
    """Until every text is on a timeline and every turn has a sent reply — or nothing new arrived for
    `stall_s` (a burst processor that died doesn't resume until the customer texts again), or timeout."""
    started = last_progress = time.perf_counter()
    expected = Counter(s.phone for s in traffic.unique)
    pending = set(expected)
    seen = -1
    while pending and time.perf_counter() - started < timeout_s and time.perf_counter() - last_progress < stall_s:
        journeys = await _journeys(redis, keys, sorted(pending))
        progress = 0
        for phone, events in journeys.items():
            inbound, outbound = _turns(events)
            turn_ids = {e.meta.get("turn_id") for e in inbound}
            sent = [e for e in outbound if (e.meta.get("delivery") or {}).get("status")]
            progress += len(inbound) + len(sent)
            if len(inbound) >= expected[phone] and len(sent) >= len(turn_ids):
                pending.discard(phone)
                progress += 1_000_000
        if progress != seen:
            seen, last_progress = progress, time.perf_counter()
        if pending:
            await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def audit(redis: Any, keys: Keys, traffic: Traffic, logs: list[str]) -> Audit:
    a = Audit(texts=len(traffic.unique), retries=len(traffic.sends) - len(traffic.unique))
    journeys = await _journeys(redis, keys, traffic.phones + traffic.burst_phones)
    sid_index = await _sid_index(redis, keys)
    log_sends = Counter(m.group(1) for log in logs for m in re.finditer(r"\[dry-run sms\] to (\+\d+) \(", log))
    sent_order: dict[str, list[str]] = defaultdict(list)
    targets: dict[str, set[int]] = defaultdict(set)
    for s in traffic.sends:
        targets[s.phone].add(s.target)
        if not s.retry:
            sent_order[s.phone].append(s.sid)
    latencies: list[float] = []
    for phone, events in journeys.items():
        inbound, outbound = _turns(events)
        by_sid = Counter(e.meta.get("delivery_id") for e in inbound)
        for sid in sent_order[phone]:
            if by_sid[sid] == 0:
                a.lost_texts += 1
                a.problems.append(f"{phone}: text {sid} has no inbound event")
            elif by_sid[sid] > 1:
                a.duplicate_texts += by_sid[sid] - 1
                a.problems.append(f"{phone}: text {sid} stored {by_sid[sid]} times")
        stored_order = [e.meta.get("delivery_id") for e in inbound if e.meta.get("delivery_id") in by_sid]
        expected_order = [sid for sid in sent_order[phone] if by_sid[sid]]
        if list(dict.fromkeys(stored_order)) != expected_order:
            a.inbound_reordered += 1
        # turns, in the order their texts arrived
        turn_last: dict[str, Any] = {}
        for e in inbound:
            turn_last[e.meta.get("turn_id")] = e.at
        turn_order = list(turn_last)
        a.turns += len(turn_order)
        replies_by_turn = defaultdict(list)
        for e in outbound:
            replies_by_turn[e.meta.get("turn_id")].append(e)
        a.replies += len(outbound)
        for tid in turn_order:
            replies = replies_by_turn.get(tid, [])
            sent = [r for r in replies if (r.meta.get("delivery") or {}).get("status") == "delivered-dry-run"]
            if not sent:
                a.unanswered_turns += 1
                a.problems.append(f"{phone}: turn {tid} has no sent reply")
                continue
            if len(replies) > 1:
                a.duplicate_replies += len(replies) - 1
                a.problems.append(f"{phone}: turn {tid} has {len(replies)} replies")
            for r in sent:
                parts = int((r.meta.get("delivery") or {}).get("parts_total") or 1)
                times_sent = sum(sid_index.get((r.id, p), 0) for p in range(parts))
                if times_sent > parts:
                    a.duplicate_replies += times_sent - parts
                    a.problems.append(f"{phone}: reply {r.id} sent {times_sent} times for {parts} part(s)")
                latencies.append((r.at - turn_last[tid]).total_seconds())
        answered = [(r.at, r.meta.get("turn_id")) for r in outbound if r.meta.get("turn_id") in turn_last]
        reply_turns = [tid for _, tid in sorted(answered, key=lambda x: x[0])]
        rank = {tid: i for i, tid in enumerate(turn_order)}
        ranks = [rank[t] for t in reply_turns]
        if ranks != sorted(ranks) or any(r.at <= turn_last[r.meta.get("turn_id")] for r in outbound
                                        if r.meta.get("turn_id") in turn_last):  # fmt: skip
            a.out_of_order += 1
            a.problems.append(f"{phone}: replies out of order")
        parts_sent = sum(int((r.meta.get("delivery") or {}).get("parts_total") or 1) for r in outbound)
        if log_sends[phone] > parts_sent:
            a.duplicate_replies += log_sends[phone] - parts_sent
            a.problems.append(f"{phone}: the dry-run sender logged {log_sends[phone]} sends for {parts_sent} part(s)")
        if phone in traffic.burst_phones:
            a.bursts += 1
            a.bursts_as_one_turn += len(turn_order) == 1
        if len(targets[phone]) > 1:
            a.customers_on_both += 1
    a.reply_latency = asdict(Stats.of(latencies))
    a.problems = a.problems[:50]
    return a


async def _sid_index(redis: Any, keys: Keys) -> dict[tuple[str, int], int]:
    """The dry-run sender's MessageSid index: how many sends each (reply event, part) got."""
    counts: Counter = Counter()
    pattern = keys.dealer_key("twilio", "sid", "*")
    async for key in redis.scan_iter(match=pattern, count=1000):
        raw = await redis.get(key)
        if raw:
            ref = json.loads(raw)
            counts[(ref.get("event_id"), int(ref.get("part") or 0))] += 1
    return dict(counts)
