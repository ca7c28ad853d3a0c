"""Scoring: a scenario's expectations checked against the transcript and the end state of the stores.

Every expectation yields a result with a stable id (so two runs can be compared), a status and, when
it fails, the reason in terms a prompt engineer can act on ("$1 is not a price in the inventory",
"no booked sales test_drive for VIN …; the customer has: …"). Any path to the right end state passes:
nothing here looks at which words or which tools produced it, except where a scenario asks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.guards import split_sentences
from evals.env import DealerTemplate
from evals.matching import describe, dict_matches, dollars, find, money_in_reply, norm, numbers_said
from evals.results import ExpectationResult, TurnRecord
from evals.scenario import (
    AppointmentExpect,
    HandoffExpect,
    InterestSeed,
    Match,
    ProfileExpect,
    Scenario,
)
from evals.seed import localize
from evals.state import EndState
from memory.consent import derive_state
from memory.identity import InvalidIdentity, normalize_email, normalize_phone
from tools.booking import Appointment

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
GATED = ("sms", "voice", "email")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Capabilities a scenario may ask for, and the tool names that show them.
CAPABILITY_TOOLS = {
    "inventory": {"search_inventory", "get_vehicle_details"},
    "knowledge": {"lookup_dealer_info"},
    "availability": {"find_appointment_slots"},
    "booking": {"book_appointment", "reschedule_appointment", "cancel_appointment"},
    "handoff": {"open_handoff", "request_human_handoff", "request_staff_handoff"},
    "consent": {"record_opt_out", "check_contact_permission"},
    "crm": {"get_customer_profile", "update_customer_profile", "add_customer_note", "set_lead_stage"},
}


@dataclass
class ScoringInput:
    scenario: Scenario
    turns: list[TurnRecord]
    state: EndState
    template: DealerTemplate
    sms_max_chars: int = 320
    seeded_handoffs: set[str] = field(default_factory=set)
    customer_texts: list[str] = field(default_factory=list)  # prior history + seeds: the customer's words


def _result(
    eid: str, kind: str, description: str, ok: bool, reason: str = "", turn: int | None = None
) -> ExpectationResult:
    return ExpectationResult(
        id=eid,
        kind=kind,
        description=description,
        status="passed" if ok else "failed",
        reason="" if ok else reason,
        turn=turn,
    )


def _as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _canon(value: str) -> str:
    return value.strip().lower().replace(" ", "_").replace("-", "_")


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- content ----------------------------------------------------------------------------------------


def _content(
    eid: str,
    where: str,
    matchers: list[Match],
    texts: list[tuple[int | None, str]],
    *,
    required: bool,
    turn: int | None = None,
) -> list[ExpectationResult]:
    out = []
    for i, m in enumerate(matchers):
        rid = f"{eid}.{'require' if required else 'forbid'}[{i}]"
        if required:
            hit = next(((t, s) for t, s in texts if find(m, s) is not None), None)
            said = " | ".join(_clip(s, 120) for _, s in texts if s) or "(no reply)"
            out.append(
                _result(
                    rid,
                    "require",
                    f"{where} says {describe(m)}",
                    hit is not None,
                    f"{_clip(describe(m), 60)} not found in: {said}",
                    turn,
                )
            )
        else:
            hit = next(((t, find(m, s)) for t, s in texts if find(m, s) is not None), None)
            reason = ""
            if hit is not None:
                at = f" (turn {hit[0]})" if hit[0] else ""
                reason = f"forbidden {_clip(describe(m), 60)} present{at}: …{hit[1]}…"
            out.append(_result(rid, "forbid", f"{where} never says {describe(m)}", hit is None, reason, turn))
    return out


def score_turns(inp: ScoringInput) -> list[ExpectationResult]:
    out: list[ExpectationResult] = []
    for turn_spec, rec in zip(inp.scenario.turns, inp.turns, strict=False):
        n = rec.index
        exp = turn_spec.expect
        eid = f"turn[{n}]"
        replies = [r for r in rec.replies if r.strip()]
        if exp.reply == "required":
            out.append(
                _result(
                    f"{eid}.reply",
                    "reply",
                    f"turn {n} gets a reply",
                    bool(replies),
                    f"no reply ({rec.suppressed or 'nothing said'})",
                    n,
                )
            )
        elif exp.reply == "none":
            out.append(
                _result(
                    f"{eid}.reply",
                    "reply",
                    f"turn {n} gets no reply",
                    not replies,
                    f"replied: {_clip(' '.join(replies))}",
                    n,
                )
            )
        texts: list[tuple[int | None, str]] = [(n, "\n".join(replies))]
        out += _content(eid, f"turn {n}", exp.require, texts, required=True, turn=n)
        out += _content(eid, f"turn {n}", exp.forbid, texts, required=False, turn=n)
        if exp.max_latency_ms is not None:
            out.append(
                _result(
                    f"{eid}.latency",
                    "latency",
                    f"turn {n} answered within {exp.max_latency_ms} ms",
                    rec.latency_ms <= exp.max_latency_ms,
                    f"took {rec.latency_ms:.0f} ms",
                    n,
                )
            )
    return out


def score_content(inp: ScoringInput) -> list[ExpectationResult]:
    e = inp.scenario.expect
    texts = [(t.index, "\n".join(t.replies)) for t in inp.turns if t.replies]
    return _content("expect", "the assistant", e.require, texts, required=True) + _content(
        "expect", "the assistant", e.forbid, texts, required=False
    )


# --- appointments -----------------------------------------------------------------------------------


def _appt_label(a: Appointment, inp: ScoringInput) -> str:
    vehicle = inp.template.vehicles.get(a.vin or "")
    what = f" {vehicle.title()} ({a.vin})" if vehicle else (f" VIN {a.vin}" if a.vin else "")
    return f"{a.department} {a.kind}{what} {a.label()} [{a.status}]"


def _appt_describe(x: AppointmentExpect) -> str:
    parts = [x.status]
    parts += [x.department] if x.department else []
    parts += ["/".join(_as_list(x.kind) or [])] if x.kind else []
    parts += [f"VIN {x.vin}"] if x.vin else []
    parts += [f"stock {x.stock_number}"] if x.stock_number else []
    parts += [f"on {x.date.isoformat()}"] if x.date else []
    parts += [f"on a {x.weekday}"] if x.weekday else []
    parts += [f"at {x.starts_at:%Y-%m-%d %H:%M}"] if x.starts_at else []
    parts += [f"between {x.between[0]:%Y-%m-%d %H:%M} and {x.between[1]:%Y-%m-%d %H:%M}"] if x.between else []
    parts += [f"starting {x.time_between[0]:%H:%M}-{x.time_between[1]:%H:%M}"] if x.time_between else []
    parts += ["rescheduled"] if x.rescheduled else []
    return "appointment: " + " ".join(parts)


def appointment_matches(x: AppointmentExpect, a: Appointment, inp: ScoringInput) -> bool:
    tz = inp.template.config.tz
    local = a.starts_at.astimezone(tz)
    if a.status != x.status:
        return False
    if x.department and a.department != x.department:
        return False
    kinds = _as_list(x.kind)
    if kinds and _canon(a.kind) not in {_canon(k) for k in kinds}:
        return False
    if x.vin and (a.vin or "").upper() != x.vin.upper():
        return False
    if x.stock_number and (a.vin or "") != (inp.template.vin_of(x.stock_number) or "?"):
        return False
    if x.date and local.date() != x.date:
        return False
    if x.weekday and WEEKDAYS[local.weekday()] != x.weekday:
        return False
    if x.starts_at and a.starts_at != localize(x.starts_at, tz):
        return False
    if x.between and not (localize(x.between[0], tz) <= a.starts_at <= localize(x.between[1], tz)):
        return False
    if x.time_between and not (x.time_between[0] <= local.time().replace(tzinfo=None) <= x.time_between[1]):
        return False
    return not (x.rescheduled is not None and any(h.action == "rescheduled" for h in a.history) != x.rescheduled)


def score_appointments(inp: ScoringInput) -> list[ExpectationResult]:
    e = inp.scenario.expect
    out = []
    appts = inp.state.appointments
    have = "; ".join(_appt_label(a, inp) for a in appts) or "none"
    used: set[str] = set()
    for i, x in enumerate(e.appointments):
        hit = next((a for a in appts if a.id not in used and appointment_matches(x, a, inp)), None)
        if hit is not None:
            used.add(hit.id)
        out.append(
            _result(
                f"expect.appointments[{i}]",
                "appointment",
                _appt_describe(x),
                hit is not None,
                f"no such appointment; the customer's appointments: {have}",
            )
        )
    if e.appointment_count is not None:
        active = [a for a in appts if a.status == "booked"]
        out.append(
            _result(
                "expect.appointment_count",
                "appointment",
                f"{e.appointment_count} active appointment(s)",
                len(active) == e.appointment_count,
                f"{len(active)} active: {have}",
            )
        )
    return out


# --- consent, handoff, profile ----------------------------------------------------------------------


def score_consent(inp: ScoringInput) -> list[ExpectationResult]:
    out = []
    for i, c in enumerate(inp.scenario.expect.consent):
        actual = inp.state.consent.status(c.channel, c.purpose)
        item = inp.state.consent.item(c.channel, c.purpose)
        how = f" (by {item.source}, {item.actor})" if item.source else ""
        out.append(
            _result(
                f"expect.consent[{i}]",
                "consent",
                f"{c.channel} {c.purpose} consent is {c.status}",
                actual == c.status,
                f"{c.channel} {c.purpose} is {actual}{how}",
            )
        )
    return out


def _handoff_ok(x: HandoffExpect, h: Any) -> list[str]:
    problems = []
    reasons = _as_list(x.reason)
    if reasons and h.reason not in reasons:
        problems.append(f"reason {h.reason} not in {reasons}")
    prios = _as_list(x.priority)
    if prios and h.priority not in prios:
        problems.append(f"priority {h.priority} not in {prios}")
    if x.min_priority and PRIORITY_RANK[h.priority] < PRIORITY_RANK[x.min_priority]:
        problems.append(f"priority {h.priority} below {x.min_priority}")
    teams = _as_list(x.team)
    if teams and h.team not in teams:
        problems.append(f"team {h.team} not in {teams}")
    for m in x.summary:
        if find(m, h.summary or "") is None:
            problems.append(f"summary lacks {describe(m)}")
    return problems


def score_handoff(inp: ScoringInput) -> list[ExpectationResult]:
    x = inp.scenario.expect.handoff
    if x is None:
        return []
    opened = [h for h in inp.state.handoffs if h.id not in inp.seeded_handoffs]
    listed = "; ".join(f"{h.reason}/{h.priority}/{h.team} ({h.status})" for h in opened) or "none"
    if x is False:
        return [_result("expect.handoff", "handoff", "no handoff to staff", not opened, f"handoff(s) opened: {listed}")]
    if x is True:
        return [_result("expect.handoff", "handoff", "a handoff to staff", bool(opened), "no handoff was opened")]
    desc = "handoff to staff" + "".join(
        f" {k}={v}" for k, v in x.model_dump(exclude_defaults=True).items() if k != "summary"
    )
    if not opened:
        return [_result("expect.handoff", "handoff", desc, False, "no handoff was opened")]
    problems = [_handoff_ok(x, h) for h in opened]
    ok = any(not p for p in problems)
    return [_result("expect.handoff", "handoff", desc, ok, "; ".join(", ".join(p) for p in problems) + f" ({listed})")]


def _interest_ok(want: str | InterestSeed, inp: ScoringInput) -> bool:
    customer = inp.state.customer
    assert customer is not None
    for i in customer.interests:
        vehicle = inp.template.vehicles.get(i.vin or "") if i.vin else None
        if vehicle is None and i.stock_number:
            vehicle = inp.template.vehicles.get(inp.template.vin_of(i.stock_number) or "")
        title = vehicle.title() if vehicle else ""
        if isinstance(want, str):
            w = norm(want)
            if (
                w in norm(i.description)
                or (title and w in norm(title))
                or w.upper() in {(i.vin or "").upper(), (i.stock_number or "").upper()}
            ):
                return True
        else:
            if want.vin and (i.vin or "").upper() != want.vin.upper():
                continue
            if (
                want.stock_number
                and (i.stock_number or "").upper() != want.stock_number.upper()
                and ((i.vin or "") != inp.template.vin_of(want.stock_number))
            ):
                continue
            if want.description and norm(want.description) not in norm(f"{i.description} {title}"):
                continue
            return True
    return False


def score_profile(inp: ScoringInput) -> list[ExpectationResult]:
    e = inp.scenario.expect
    out: list[ExpectationResult] = []
    c = inp.state.customer
    p: ProfileExpect | None = e.profile
    if p is not None:
        if c is None:
            return [_result("expect.profile", "profile", "customer profile", False, "no customer record was created")]
        if p.name is not None:
            ok = bool(c.name) and set(norm(p.name).split()) <= set(norm(c.name or "").split())
            out.append(
                _result("expect.profile.name", "profile", f"name {p.name!r} captured", ok, f"name is {c.name!r}")
            )
        if p.email is not None:
            try:
                want = normalize_email(p.email)
            except InvalidIdentity:
                want = p.email.lower()
            out.append(
                _result(
                    "expect.profile.email",
                    "profile",
                    f"email {p.email} captured",
                    want in c.emails,
                    f"emails: {c.emails}",
                )
            )
        if p.phone is not None:
            try:
                want = normalize_phone(p.phone)
            except InvalidIdentity:
                want = p.phone
            out.append(
                _result(
                    "expect.profile.phone",
                    "profile",
                    f"phone {p.phone} on the record",
                    want in c.phones,
                    f"phones: {c.phones}",
                )
            )
        for name in ("budget", "trade_in"):
            want_d = getattr(p, name)
            if want_d is not None:
                ok, missing = dict_matches(want_d, getattr(c, name))
                out.append(
                    _result(
                        f"expect.profile.{name}",
                        "profile",
                        f"{name} captured: {want_d}",
                        ok,
                        f"{name} is {getattr(c, name)!r}; missing {', '.join(missing)}",
                    )
                )
        for i, want in enumerate(p.interests):
            label = want if isinstance(want, str) else want.model_dump(exclude_none=True)
            have = "; ".join(f"{x.description} ({x.vin or x.stock_number or '-'})" for x in c.interests) or "none"
            out.append(
                _result(
                    f"expect.profile.interests[{i}]",
                    "profile",
                    f"interest in {label} recorded",
                    _interest_ok(want, inp),
                    f"interests: {have}",
                )
            )
    stages = _as_list(e.stage)
    if stages:
        actual = c.stage if c else None
        out.append(
            _result(
                "expect.stage", "profile", f"lead stage is {'/'.join(stages)}", actual in stages, f"stage is {actual}"
            )
        )
    return out


# --- tools, budgets ---------------------------------------------------------------------------------


def capabilities(
    calls: Iterable[dict[str, Any]], facts: Any, *, intent: str | None, handoff: bool, profile_updates: bool
) -> list[str]:
    """What a turn did, whichever brain ran: named tool calls, or what its disclosures show."""
    names = {c.get("tool") for c in calls if c.get("ok", True)}
    caps = {cap for cap, tools in CAPABILITY_TOOLS.items() if names & tools}
    if facts is not None:
        if facts.vins or facts.prices:
            caps.add("inventory")
        if facts.knowledge:
            caps.add("knowledge")
        if facts.slots:
            caps.add("availability")
        if facts.appointments:
            caps.add("booking")
    if handoff:
        caps.add("handoff")
    if intent and intent.startswith("consent_"):
        caps.add("consent")
    if profile_updates:
        caps.add("crm")
    return sorted(caps)


def score_tools(inp: ScoringInput) -> list[ExpectationResult]:
    t = inp.scenario.expect.tool_calls
    if t is None:
        return []
    names = {c.get("tool") for rec in inp.turns for c in rec.tool_calls}
    caps = {cap for rec in inp.turns for cap in rec.capabilities}
    seen = sorted(n for n in names | caps if n)
    out = []
    for i, want in enumerate(t.required):
        out.append(
            _result(
                f"expect.tool_calls.required[{i}]",
                "tools",
                f"uses {want}",
                want in names or want in caps,
                f"not used; used: {', '.join(seen) or 'nothing'}",
            )
        )
    for i, banned in enumerate(t.forbidden):
        where = [
            rec.index
            for rec in inp.turns
            if banned in rec.capabilities or any(c.get("tool") == banned for c in rec.tool_calls)
        ]
        out.append(
            _result(
                f"expect.tool_calls.forbidden[{i}]",
                "tools",
                f"never uses {banned}",
                not where,
                f"used on turn(s) {where}",
            )
        )
    return out


def score_identity_and_outbound(inp: ScoringInput) -> list[ExpectationResult]:
    e = inp.scenario.expect
    out = []
    if e.one_customer:
        ids = {t.customer_id for t in inp.turns if t.customer_id}
        if inp.state.customer is not None:
            ids.add(inp.state.customer.id)
        out.append(
            _result(
                "expect.one_customer",
                "identity",
                "every channel lands on one customer record",
                len(ids) == 1,
                f"{len(ids)} separate records: {', '.join(sorted(ids))}",
            )
        )
    for channel, limit in e.max_outbound.items():
        sent = [
            ev
            for ev in inp.state.timeline
            if ev.direction == "outbound" and ev.kind == "message" and ev.channel == channel
        ]
        out.append(
            _result(
                f"expect.max_outbound.{channel}",
                "outbound",
                f"at most {limit} outbound {channel} message(s)",
                len(sent) <= limit,
                f"{len(sent)} sent: " + "; ".join(_clip(ev.text, 80) for ev in sent[:3]),
            )
        )
    return out


def score_budgets(inp: ScoringInput) -> list[ExpectationResult]:
    e = inp.scenario.expect
    out = []
    if e.max_turns is not None:
        n = len(inp.turns)
        out.append(
            _result(
                "expect.max_turns",
                "budget",
                f"done within {e.max_turns} customer turns",
                n <= e.max_turns,
                f"took {n} turns",
            )
        )
    if e.max_latency_ms is not None:
        slow = [(t.index, t.latency_ms) for t in inp.turns if t.latency_ms > e.max_latency_ms]
        out.append(
            _result(
                "expect.max_latency_ms",
                "latency",
                f"every turn within {e.max_latency_ms} ms",
                not slow,
                "; ".join(f"turn {i}: {ms:.0f} ms" for i, ms in slow),
            )
        )
    return out


# --- quality bars -----------------------------------------------------------------------------------


def score_prices(inp: ScoringInput) -> list[ExpectationResult]:
    if not inp.scenario.expect.prices_match_inventory:
        return []
    allowed = inp.template.prices | inp.template.knowledge_cents
    said: set[int] = set()
    for text in inp.customer_texts:
        said |= numbers_said(text)
    bad: list[str] = []
    for rec in inp.turns:
        said |= numbers_said(rec.customer)
        for reply in rec.replies:
            for written, cents in money_in_reply(reply):
                if cents not in allowed and cents not in said:
                    bad.append(f"turn {rec.index}: {written}")
    reason = (
        f"{', '.join(bad)} — not a price of any vehicle in the inventory, not in the dealer's documents, "
        "and not said by the customer"
    )
    return [
        _result(
            "expect.prices_match_inventory",
            "quality",
            "every $ amount is a real inventory price or from the dealer's documents",
            not bad,
            reason,
        )
    ]


def score_opt_out(inp: ScoringInput) -> list[ExpectationResult]:
    """Nothing goes out on a channel after the customer opted out of it — except one confirmation."""
    if not inp.scenario.expect.no_message_after_opt_out:
        return []
    ledgers = inp.state.ledgers or {"": inp.state.consent_entries}
    if not any(e.action == "opt_out" for entries in ledgers.values() for e in entries):
        return [_result("expect.no_message_after_opt_out", "quality", "nothing sent after an opt-out", True)]
    confirmed: dict[tuple[int, str], bool] = {}
    bad = []
    for ev in sorted(inp.state.timeline, key=lambda e: e.at):
        if ev.direction != "outbound" or ev.kind != "message" or ev.channel not in GATED:
            continue
        entries = ledgers.get(ev.customer_id, inp.state.consent_entries)
        state = derive_state([e for e in entries if e.at <= ev.at])
        key = (id(entries), ev.channel)  # per customer journey and channel
        if state.status(ev.channel, "transactional") != "opted_out":  # type: ignore[arg-type]
            confirmed[key] = False
            continue
        if (ev.meta or {}).get("intent") == "consent_opt_out" and not confirmed.get(key):
            confirmed[key] = True  # the one confirmation the rules allow
            continue
        bad.append(f"{ev.channel} at {ev.at:%H:%M:%S}: {_clip(ev.text, 100)}")
    return [
        _result(
            "expect.no_message_after_opt_out",
            "quality",
            "nothing sent after an opt-out (one confirmation allowed)",
            not bad,
            "sent after opt-out: " + "; ".join(bad),
        )
    ]


_PHONEISH = re.compile(r"\+?\d[\d\s().-]{8,}\d")


def score_other_customers(inp: ScoringInput) -> list[ExpectationResult]:
    if not inp.scenario.expect.no_other_customer_data or not inp.state.others:
        return []
    leaks = []
    for other in inp.state.others:
        phones = {re.sub(r"\D", "", p)[-10:] for p in other.phones}
        emails = {e.lower() for e in other.emails}
        names = []
        if other.name:
            names.append(norm(other.name))
            parts = other.name.split()
            if len(parts) > 1 and len(parts[-1]) >= 4:
                names.append(norm(parts[-1]))
        for rec in inp.turns:
            for reply in rec.replies:
                low = norm(reply)
                digits = {re.sub(r"\D", "", m)[-10:] for m in _PHONEISH.findall(reply)}
                if phones & digits:
                    leaks.append(f"turn {rec.index}: phone of {other.name or other.id}")
                if any(e in low for e in emails):
                    leaks.append(f"turn {rec.index}: email of {other.name or other.id}")
                if any(re.search(rf"\b{re.escape(n)}\b", low) for n in names):
                    leaks.append(f"turn {rec.index}: name of {other.name}")
    return [
        _result(
            "expect.no_other_customer_data",
            "quality",
            "never reveals another customer's data",
            not leaks,
            "; ".join(leaks),
        )
    ]


def score_channel_limits(inp: ScoringInput) -> list[ExpectationResult]:
    if not inp.scenario.expect.channel_limits:
        return []
    bad = []
    for rec in inp.turns:
        for reply in rec.replies:
            if rec.channel == "sms" and len(reply) > inp.sms_max_chars:
                bad.append(f"turn {rec.index}: SMS of {len(reply)} chars (max {inp.sms_max_chars})")
            if rec.channel == "voice":
                sentences = [s for s, _ in split_sentences(reply) if s.strip()]
                if len(sentences) > 2:
                    bad.append(f"turn {rec.index}: {len(sentences)} sentences on a call (max 2)")
                if re.search(r"https?://|www\.", reply):
                    bad.append(f"turn {rec.index}: a link read aloud on a call")
    return [
        _result(
            "expect.channel_limits",
            "quality",
            f"replies fit their channel (SMS ≤ {inp.sms_max_chars} chars, voice ≤ 2 sentences)",
            not bad,
            "; ".join(bad),
        )
    ]


def score(inp: ScoringInput) -> list[ExpectationResult]:
    """Every deterministic expectation of the scenario (rubric items are the judge's)."""
    return [
        *score_turns(inp),
        *score_content(inp),
        *score_appointments(inp),
        *score_consent(inp),
        *score_handoff(inp),
        *score_profile(inp),
        *score_tools(inp),
        *score_identity_and_outbound(inp),
        *score_budgets(inp),
        *score_prices(inp),
        *score_opt_out(inp),
        *score_other_customers(inp),
        *score_channel_limits(inp),
    ]


def money_summary(cents: Iterable[int]) -> str:
    return ", ".join(dollars(c) for c in sorted(cents))


__all__ = ["ScoringInput", "capabilities", "dt", "money_summary", "score"]
