"""The consent gate: recording opt-outs/opt-ins and deciding whether an outbound message may go.

`ConsentGate.check_send` — may this message go out now? Consent, quiet hours in the recipient's
local time, state rules and per-24 h caps, all read from `consent_rules.yaml`.

Decisions the gate encodes (see also the ledger's precedence rules):

* Nothing goes to an opted-out channel, ever — replies included. CTIA practice: after STOP nothing is
  sent until START/UNSTOP (or YES); a new inbound message that is not one of those does not
  re-consent, so the agent stays silent on that channel (the turn should hand off to staff).
  HELP after STOP is not answered either. The one exception is a single opt-out confirmation
  (purpose `"opt_out_confirmation"`, within five minutes, no marketing).
* A reply to the customer's own inbound message (`purpose="transactional", proactive=False`) needs no
  recorded consent and ignores quiet hours: the customer started the conversation.
* Everything else — proactive messages and anything marketing — needs consent for its purpose on that
  channel (marketing: opted in, and *written* where a state demands it; proactive transactional such
  as reminders: a transactional opt-in, recorded e.g. when the appointment is booked), and must fall
  inside the strictest applicable window (federal, each candidate state, dealer policy) in every
  time zone the recipient might be in. Proactive marketing also counts against state caps.
* Email has no calling hours and no state caps (CAN-SPAM; the mini-TCPAs cover calls and texts), but
  opt-outs and the marketing opt-in apply to it like any channel.
* Web chat is not gated: it only ever answers a visitor who is on the page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

import metrics
from memory.consent import (
    CHANNELS,
    PURPOSES,
    Channel,
    ConsentEntry,
    ConsentLedger,
    ConsentState,
    Purpose,
    Scope,
    Source,
    derive_state,
)
from memory.keys import Keys
from tools.consent.classify import ConsentIntent
from tools.consent.geography import Recipient, locate_recipient
from tools.consent.rules import ConsentRules, StateRule, Window, _default_rules
from tools.context import ToolDeps
from tools.dealer import DealerConfig

SendPurpose = Literal["marketing", "transactional", "opt_out_confirmation"]
OUTLOG_RETENTION = dt.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class Decision:
    """May this message go out? `next_allowed_at` says when to retry (quiet hours, caps)."""

    allowed: bool
    reason: str  # ok | opted_out | no_marketing_consent | no_transactional_consent |
    # written_consent_required | quiet_hours | daily_cap | not_opted_out |
    # confirmation_already_sent | confirmation_window_passed
    message: str
    next_allowed_at: dt.datetime | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "message": self.message,
            "next_allowed_at": self.next_allowed_at.isoformat() if self.next_allowed_at else None,
            "details": self.details,
        }


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("pass an aware datetime (with a UTC offset)")
    return at


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def _counted(check: Callable[..., Awaitable[Decision]]) -> Callable[..., Awaitable[Decision]]:
    """Count every decision of `check_send` on /metrics (channel, purpose, "ok" or the refusal's reason)."""

    @functools.wraps(check)
    async def counted(self: Any, *args: Any, channel: str, purpose: str, **kwargs: Any) -> Decision:
        decision = await check(self, *args, channel=channel, purpose=purpose, **kwargs)
        metrics.CONSENT_DECISIONS.labels(channel, purpose, "ok" if decision.allowed else decision.reason).inc()
        return decision

    return counted


class ConsentGate:
    """Consent recording and the send gate for one dealer. Build per use; it holds no state."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        dealer: DealerConfig,
        *,
        rules: ConsentRules | None = None,
        revoke_all: bool | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.dealer = dealer
        self.rules = rules or _default_rules()
        self.ledger = ConsentLedger(redis, keys)
        self._force_revoke_all = revoke_all

    @classmethod
    def from_deps(cls, deps: ToolDeps) -> ConsentGate:
        """Rules may be swapped per deployment via `deps.services["consent_rules"]`."""
        return cls(deps.redis, deps.keys, deps.dealer, rules=deps.services.get("consent_rules"))

    # --- switches ------------------------------------------------------------------------
    def revoke_all_active(self, at: dt.datetime) -> bool:
        """Off until the FCC date unless forced; a dealer may switch it on early, never off."""
        if self._force_revoke_all is not None:
            return self._force_revoke_all
        extra = self.dealer.messaging.model_extra or {}
        if extra.get("revoke_all") is True:
            return True
        return self.rules.revoke_all.active(_aware(at))

    async def state(self, customer_ids: Sequence[str], *, at: dt.datetime) -> ConsentState:
        return await self.ledger.state(customer_ids, revoke_all=self.revoke_all_active(at))

    # --- recording -----------------------------------------------------------------------
    async def record_opt_out(
        self,
        customer_id: str,
        *,
        channels: Channel | Sequence[Channel],
        purposes: Sequence[Purpose] = PURPOSES,
        source: Source,
        evidence: dict[str, Any],
        actor: str,
        at: dt.datetime,
        scope: Scope | None = None,
    ) -> list[str]:
        """One ledger entry per channel. Both purposes -> channel-wide; marketing only -> just that."""
        purposes = tuple(dict.fromkeys(purposes))
        if scope is None:
            scope = "channel" if set(purposes) >= set(PURPOSES) else "purpose"
        purpose: Purpose = "transactional" if "transactional" in purposes else "marketing"
        return await self._append(customer_id, channels, purpose, "opt_out", source, evidence, actor, at, scope)

    async def record_opt_in(
        self,
        customer_id: str,
        *,
        channels: Channel | Sequence[Channel],
        purposes: Sequence[Purpose] = ("transactional",),
        source: Source,
        evidence: dict[str, Any],
        actor: str,
        at: dt.datetime,
        written: bool = False,
        scope: Scope | None = None,
    ) -> list[str]:
        """A marketing opt-in implies transactional on the same channel; `written` = prior express
        written consent (evidence must carry the form text and URL)."""
        purpose: Purpose = "marketing" if "marketing" in purposes else "transactional"
        return await self._append(
            customer_id, channels, purpose, "opt_in", source, evidence, actor, at, scope, written=written
        )

    async def record_intent(
        self, customer_id: str, intent: ConsentIntent, *, at: dt.datetime, actor: str = "customer"
    ) -> list[str]:
        """Record what `classify_consent_message` found. Returns the entry ids; empty when nothing
        was recorded (HELP, or a YES from a customer who is not opted out)."""
        if intent.kind == "help":
            return []
        if intent.kind == "opt_out":
            return await self.record_opt_out(
                customer_id,
                channels=intent.channels,
                purposes=intent.purposes,
                source=intent.source,
                evidence=intent.evidence(),
                actor=actor,
                at=at,
            )
        channels = intent.channels
        if intent.only_if_opted_out:
            state = await self.state([customer_id], at=at)
            channels = tuple(c for c in channels if state.latest_opt_out(c) is not None)
            if not channels:
                return []
        return await self.record_opt_in(
            customer_id,
            channels=channels,
            purposes=intent.purposes,
            source=intent.source,
            evidence=intent.evidence(),
            actor=actor,
            at=at,
        )

    async def _append(
        self,
        customer_id: str,
        channels: Channel | Sequence[Channel],
        purpose: Purpose,
        action: Literal["opt_in", "opt_out"],
        source: Source,
        evidence: dict[str, Any],
        actor: str,
        at: dt.datetime,
        scope: Scope | None,
        *,
        written: bool = False,
    ) -> list[str]:
        chans = (channels,) if isinstance(channels, str) else tuple(dict.fromkeys(channels))
        if not chans:
            raise ValueError("name at least one channel")
        ids = []
        for ch in chans:
            entry = ConsentEntry(
                channel=ch,
                purpose=purpose,
                action=action,
                source=source,
                evidence=evidence,
                actor=actor,
                at=_aware(at),
                scope=scope,
                written=written,
            )
            ids.append(await self.ledger.append(customer_id, entry))
        return ids

    # --- the gate ------------------------------------------------------------------------
    @_counted
    async def check_send(
        self,
        customer_ids: Sequence[str],
        *,
        channel: Channel,
        purpose: SendPurpose,
        to_phone: str | None,
        at: dt.datetime,
        proactive: bool,
        recipient_state: str | None = None,
        recipient_timezone: str | None = None,
        entries: list[ConsentEntry] | None = None,
    ) -> Decision:
        """Decide one outbound message. Read-only: call `record_send` after actually sending.
        `entries`: the ledger entries of `customer_ids` when the caller has just read them."""
        at = _aware(at)
        if channel not in CHANNELS:
            raise ValueError(f"the consent gate covers {CHANNELS}, not {channel!r}")
        if not customer_ids:
            raise ValueError("name the customer (all ids of a merged journey)")
        if entries is None:
            entries = await self.ledger.entries(customer_ids)
        state = derive_state(entries, revoke_all=self.revoke_all_active(at))
        if purpose == "opt_out_confirmation":
            return await self._confirmation(state, channel, at, claim=False)

        if state.blocked(channel, purpose):
            item = state.latest_opt_out(channel)
            when = item.at.isoformat() if item and item.at else "earlier"
            return Decision(
                False,
                "opted_out",
                f"The customer opted out of {channel} ({when}); nothing may be sent on it until they "
                "opt back in (START).",
                details={"opt_out": item.model_dump(mode="json") if item else None},
            )
        reply = purpose == "transactional" and not proactive
        if reply:
            return Decision(True, "ok", "A reply to the customer's own message.")
        if purpose == "marketing" and self.rules.channel(channel).marketing_requires_opt_in:
            if state.status(channel, "marketing") != "opted_in":
                return Decision(
                    False,
                    "no_marketing_consent",
                    f"No marketing consent on {channel}: proactive marketing needs the customer's opt-in.",
                )
        if purpose == "transactional" and state.status(channel, "transactional") != "opted_in":
            return Decision(
                False,
                "no_transactional_consent",
                f"No consent for proactive {channel} messages; only replies to the customer's own "
                "messages are allowed. Record the consent given when booking (record_opt_in).",
            )

        recipient = locate_recipient(
            self.rules,
            self.dealer,
            to_phone=to_phone,
            recipient_state=recipient_state,
            recipient_timezone=recipient_timezone,
        )
        chan_rule = self.rules.channel(channel)
        states = [self.rules.states[s] for s in recipient.states] if chan_rule.state_rules else []
        details: dict[str, Any] = {"zones": list(recipient.zones), "states": list(recipient.states)}
        details["basis"] = recipient.basis
        if purpose == "marketing":
            needs_written = [s.name for s in states if s.written_consent_for_automated_marketing]
            if needs_written and not state.item(channel, "marketing").written:
                return Decision(
                    False,
                    "written_consent_required",
                    f"Automated marketing to a recipient in {', '.join(needs_written)} needs prior "
                    "express written consent; the consent on record is not written.",
                    details=details,
                )
        return await self._timing(customer_ids, channel, purpose, at, recipient, states, details)

    async def _timing(
        self,
        customer_ids: Sequence[str],
        channel: Channel,
        purpose: SendPurpose,
        at: dt.datetime,
        recipient: Recipient,
        states: list[StateRule],
        details: dict[str, Any],
    ) -> Decision:
        chan_rule = self.rules.channel(channel)
        zones = [ZoneInfo(z) for z in recipient.zones]
        hours = chan_rule.quiet_hours
        caps = await self._caps(customer_ids, channel, purpose, at, states) if chan_rule.state_rules else []

        def local(t: dt.datetime | None) -> dt.datetime | None:  # next_allowed_at in the recipient's zone
            return t.astimezone(zones[0]) if t else None

        if hours and not self._in_window(at, zones, states):
            window = self._window(at.astimezone(zones[0]).date(), states)
            details["window"] = window.label() if window else None
            return Decision(
                False,
                "quiet_hours",
                f"Outside sending hours ({details['window']}) in the recipient's time ({', '.join(recipient.zones)}).",
                next_allowed_at=local(self._next_allowed(at, zones, states, caps)),
                details=details,
            )
        for limit, sends, label in caps:
            if len([s for s in sends if at - self._cap_window < s <= at]) >= limit:
                nxt = self._next_allowed(at, zones, states, caps) if hours else self._cap_clear(at, caps)
                details["cap"] = {"limit": limit, "rule": label}
                return Decision(
                    False,
                    "daily_cap",
                    f"{limit} proactive messages per {self.rules.cap_window_hours} h reached ({label}).",
                    next_allowed_at=local(nxt),
                    details=details,
                )
        return Decision(True, "ok", "Allowed.", details=details)

    # --- quiet hours ---------------------------------------------------------------------
    @property
    def _cap_window(self) -> dt.timedelta:
        return dt.timedelta(hours=self.rules.cap_window_hours)

    def _window(self, day: dt.date, states: list[StateRule]) -> Window | None:
        """The strictest window for a local date: federal ∩ each state ∩ dealer policy."""
        fed = self.rules.federal.quiet_hours
        start, end = fed.start, fed.end
        for s in states:
            w = s.window_on(day)
            if w:
                start, end = max(start, w.start), min(end, w.end)
        policy = self.dealer.messaging
        if policy.quiet_hours_start:
            start = max(start, policy.quiet_hours_start)
        if policy.quiet_hours_end:
            end = min(end, policy.quiet_hours_end)
        return Window.model_construct(start=start, end=end) if start < end else None

    def _in_window(self, at: dt.datetime, zones: list[ZoneInfo], states: list[StateRule]) -> bool:
        for z in zones:
            local = at.astimezone(z)
            w = self._window(local.date(), states)
            if w is None or not (w.start <= local.time() < w.end):
                return False
        return True

    def _next_open(self, at: dt.datetime, zones: list[ZoneInfo], states: list[StateRule]) -> dt.datetime | None:
        """The first instant >= at inside the window in every zone (some zone's opening, or `at`)."""
        candidates = [at]
        for z in zones:
            first = at.astimezone(z).date()
            for d in range(-1, 9):
                day = first + dt.timedelta(days=d)
                w = self._window(day, states)
                if w:
                    c = dt.datetime.combine(day, w.start, tzinfo=z)
                    if c >= at:
                        candidates.append(c)
        for c in sorted(candidates, key=lambda x: x.timestamp()):
            if self._in_window(c, zones, states):
                return c
        return None

    # --- caps ----------------------------------------------------------------------------
    async def _caps(
        self,
        customer_ids: Sequence[str],
        channel: Channel,
        purpose: SendPurpose,
        at: dt.datetime,
        states: list[StateRule],
    ) -> list[tuple[int, list[dt.datetime], str]]:
        """(limit, send times, rule) for each cap this message counts against."""
        limits: list[tuple[int, bool, str]] = []  # (limit, marketing only, label)
        if purpose == "marketing":
            limits += [(s.max_proactive_per_24h, True, s.name) for s in states if s.max_proactive_per_24h]
        policy_cap = self.dealer.messaging.max_proactive_per_24h
        if policy_cap is not None:
            limits.append((policy_cap, False, "dealer policy"))
        if not limits:
            return []
        sends = await self._proactive_sends(customer_ids, at - self._cap_window)
        capped = {c for c, rule in self.rules.channels.items() if rule.state_rules} | {channel}
        out = []
        for limit, marketing_only, label in limits:
            times = sorted(
                s["at"] for s in sends if s["channel"] in capped and (s["purpose"] == "marketing" or not marketing_only)
            )
            out.append((limit, times, label))
        return out

    def _cap_clear(self, at: dt.datetime, caps: list[tuple[int, list[dt.datetime], str]]) -> dt.datetime:
        """The first instant >= at when every cap has room again."""
        t = at
        for limit, times, _ in caps:
            live = [s for s in times if t - self._cap_window < s <= t]
            if len(live) >= limit:
                t = max(t, live[len(live) - limit] + self._cap_window)
        return t

    def _next_allowed(
        self,
        at: dt.datetime,
        zones: list[ZoneInfo],
        states: list[StateRule],
        caps: list[tuple[int, list[dt.datetime], str]],
    ) -> dt.datetime | None:
        t: dt.datetime | None = at
        for _ in range(16):
            assert t is not None
            opened = self._next_open(t, zones, states)
            if opened is None:
                return None
            cleared = self._cap_clear(opened, caps)
            if cleared == opened:
                return opened
            t = cleared
        return None

    async def _proactive_sends(self, customer_ids: Sequence[str], since: dt.datetime) -> list[dict[str, Any]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in dict.fromkeys(customer_ids):
                pipe.zrangebyscore(self.keys.outbound_log(cid), f"({_ms(since)}", "+inf")
            results = await pipe.execute()
        out = []
        for rows in results:
            for raw in rows:
                item = json.loads(raw)
                item["at"] = dt.datetime.fromisoformat(item["at"])
                out.append(item)
        return out

    async def record_send(
        self,
        customer_id: str,
        *,
        channel: Channel,
        purpose: SendPurpose,
        at: dt.datetime,
        proactive: bool,
        message_id: str | None = None,
    ) -> bool:
        """Note a message that went out: proactive sends count against caps; an opt-out
        confirmation is claimed so there is only one. Returns False when that claim was taken.
        (For a merged journey, claim with `claim_confirmation(all ids)` before sending instead.)"""
        at = _aware(at)
        if purpose == "opt_out_confirmation":
            decision = await self._confirmation(await self.state([customer_id], at=at), channel, at, claim=True)
            return decision.allowed
        if not proactive:
            return True
        member = json.dumps(
            {"id": message_id or secrets.token_hex(8), "channel": channel, "purpose": purpose, "at": at.isoformat()},
            sort_keys=True,
        )
        key = self.keys.outbound_log(customer_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {member: _ms(at)})
            pipe.zremrangebyscore(key, "-inf", f"({_ms(at - OUTLOG_RETENTION)}")
            await pipe.execute()
        return True

    # --- the one confirmation ------------------------------------------------------------
    async def confirmation_allowed(self, customer_ids: Sequence[str], *, channel: Channel, at: dt.datetime) -> Decision:
        """May the single opt-out confirmation go out now? (Read-only; `claim_confirmation` claims.)"""
        return await self._confirmation(await self.state(customer_ids, at=_aware(at)), channel, at, claim=False)

    async def claim_confirmation(self, customer_ids: Sequence[str], *, channel: Channel, at: dt.datetime) -> Decision:
        """Check and atomically claim the confirmation: of two racing senders only one is allowed."""
        return await self._confirmation(await self.state(customer_ids, at=_aware(at)), channel, at, claim=True)

    async def _confirmation(self, state: ConsentState, channel: Channel, at: dt.datetime, *, claim: bool) -> Decision:
        item = state.latest_opt_out(channel)
        if item is None or item.at is None or not item.entry_id or not item.customer_id:
            return Decision(False, "not_opted_out", f"There is no opt-out on {channel} to confirm.")
        window = dt.timedelta(minutes=self.rules.opt_out_confirmation.window_minutes)
        if at - item.at > window:
            return Decision(
                False,
                "confirmation_window_passed",
                f"The opt-out confirmation must go within {window} of the request.",
            )
        key = self.keys.cust(item.customer_id, "consent_confirmed")
        field = f"{channel}:{item.entry_id}"
        if claim:
            taken = not await self.redis.hsetnx(key, field, at.isoformat())
        else:
            taken = bool(await self.redis.hexists(key, field))
        if taken:
            return Decision(False, "confirmation_already_sent", "The opt-out was already confirmed once.")
        return Decision(True, "ok", "One confirmation of the opt-out, with no marketing, may be sent.")
