"""Consent: the classifier, the rules file, the send gate (hours, states, caps, opt-outs), the tools."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from memory.consent import ConsentLedger
from memory.keys import Keys
from tools.consent import (
    CONSENT_TOOLS,
    ConsentGate,
    ConsentRules,
    check_contact_permission_tool,
    check_send,
    classify_consent_message,
    load_consent_rules,
    locate_recipient,
    record_opt_in,
    record_opt_out,
    record_opt_out_tool,
)
from tools.context import ToolDeps
from tools.dealer import DealerConfig, MessagingPolicy

ET = ZoneInfo("America/New_York")
CT = ZoneInfo("America/Chicago")
PT = ZoneInfo("America/Los_Angeles")
LA, MIAMI, OKC, PANHANDLE, INDIANA, DALLAS = (
    "+12135550123",
    "+13055550123",
    "+14055550123",
    "+18505550123",
    "+18125550123",
    "+12145550123",
)
MON = dt.date(2026, 3, 2)  # a Monday, standard time


def at(hour: int, minute: int = 0, *, tz: ZoneInfo = ET, day: dt.date = MON) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)


def make_dealer(state: str = "GA", tz: str = "America/New_York", **policy: Any) -> DealerConfig:
    return DealerConfig(
        id="consentdemo",
        name="Peach Motors",
        timezone=tz,
        address={"street": "1 Main St", "city": "Atlanta", "state": state, "zip": "30301"},
        phone="+14045550100",
        website="https://peach.example",
        state=state,
        departments={},
        messaging=MessagingPolicy(**policy),
    )


@pytest.fixture
def gate(redis, keys: Keys) -> ConsentGate:
    return ConsentGate(redis, keys, make_dealer())


async def opt_in_marketing(gate: ConsentGate, cid: str = "c1", *, channel: str = "sms", written: bool = True) -> None:
    await gate.record_opt_in(
        cid,
        channels=channel,
        purposes=("marketing",),
        source="web_form",
        evidence={"form_text": "I agree to receive automated marketing texts", "url": "https://peach.example/f"},
        actor="customer",
        at=at(8, 0, day=MON - dt.timedelta(days=7)),
        written=written,
    )


async def marketing(gate: ConsentGate, phone: str | None, when: dt.datetime, cid: str = "c1", **kw: Any):
    return await gate.check_send(
        [cid], channel="sms", purpose="marketing", to_phone=phone, at=when, proactive=True, **kw
    )


# =============================================================================================
# Classifier
# =============================================================================================


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "STOP"),
        ("stop", "STOP"),
        ("  Stop.  ", "STOP"),
        ("STOP!!!", "STOP"),
        ("Stop all", "STOPALL"),
        ("STOPALL", "STOPALL"),
        ("unsubscribe", "UNSUBSCRIBE"),
        ("Cancel", "CANCEL"),
        ("end", "END"),
        ("QUIT", "QUIT"),
        ("revoke", "REVOKE"),
        ("opt-out", "OPTOUT"),
        ("Opt out", "OPTOUT"),
    ],
)
def test_opt_out_keywords(text: str, keyword: str) -> None:
    intent = classify_consent_message(text)
    assert intent is not None
    assert (intent.kind, intent.source, intent.keyword) == ("opt_out", "keyword", keyword)
    assert intent.channels == ("sms",) and set(intent.purposes) == {"marketing", "transactional"}


@pytest.mark.parametrize(
    ("text", "kind"), [("START", "opt_in"), ("unstop", "opt_in"), ("HELP", "help"), ("info?", "help")]
)
def test_opt_in_and_help_keywords(text: str, kind: str) -> None:
    intent = classify_consent_message(text)
    assert intent is not None and intent.kind == kind and intent.source == "keyword"
    assert not intent.only_if_opted_out


def test_yes_reopts_in_only_an_opted_out_customer() -> None:
    intent = classify_consent_message("Yes")
    assert intent is not None and intent.kind == "opt_in" and intent.only_if_opted_out
    assert classify_consent_message("Yes I can come in at 3") is None
    assert classify_consent_message("help me find a truck") is None  # keywords only as the whole message


REVOCATIONS = [
    "stop texting me",
    "please stop messaging me",
    "take me off your list",
    "don't text me anymore",
    "unsubscribe me",
    "leave me alone stop",
    "no more texts",
    "remove my number",
    "quit sending me these",
    "I don't want any more messages",
    "opt me out",
    "cancel my subscription",
    "Stop please",
    "STOP!!! STOP",
    "STOP. I bought a car already",
    "I said stop",
    "stop texting me!!",
    "Stop f*cking texting me",
    "please stop contacting me",
    "do not text this number",
    "never call me again",
    "stop sending me all these messages",
    "I do not want to receive texts",
    "these texts need to stop",
    "remove me from your list",
    "Please remove me from your texting list",
    "delete my info",
    "lose my number",
    "take my number off your list",
    "I want to opt out",
    "cancel all messages",
    "cancel my text alerts",
    "leave me alone",
    "put me on your do not call list",
    "how do I unsubscribe",
    "I already unsubscribed, why are you still texting",
    "I no longer want these texts",
    "You can stop messaging me now",
    "stop with the texts",
    "enough with the texts already, stop",
    "I bought elsewhere, stop texting me",
    "if you don't stop texting me I'll report you",
    "Don't text me, I will call you",
    "wrong number",
    "no mas",
    "dejen de llamarme",
    # typos
    "stpo txting me",
    "Stop txting me",
    "pls stop msging me",
    "unsubcribe",
    "take me of your list",
    "dont tex me anymore",
    "stop textting me",
    "quit sendin me these",
    "stooop",
    "remvoe my number",
]


@pytest.mark.parametrize("text", REVOCATIONS)
def test_plain_language_revocation(text: str) -> None:
    intent = classify_consent_message(text)
    assert intent is not None, text
    assert intent.kind == "opt_out"


NOT_REVOCATIONS = [
    "can I cancel my appointment",
    "stop by tomorrow",
    "the car won't stop making noise",
    "when do you stop serving customers",
    "I want to end my lease early",
    "I need to cancel the test drive",
    "is the brake stop light covered",
    "quit my job, need cheaper car",
    "Can you text me the address?",
    "Call me when the car is ready",
    "Stop by anytime after 9",
    "does the promotion end friday",
    "What deals do you have on trucks?",
    "I want to opt out of the extended warranty",
    "Remove my trade-in from the deal",
    "take me off the waitlist for the bronco",
    "I stopped by yesterday",
    "Any more deals on the F-150?",
    "I don't want a call, just text",
    "I want to cancel my order",
    "Can you stop the car from beeping",
    "you guys never call me back",
    "I need to stop spending money, need a cheaper car",
    "can I stop payments on my lease",
    "The dealership stopped calling me back",
    "Please contact me tomorrow",
    "I want to end the call",
    "no more than 30k",
    "dont email me the contract, text it",
    "stop, I meant the blue one",
    "don't call me before noon",
    "don't stop texting me, I love the updates",
    "why don't you text me the details",
    "why did you stop texting me",
    "I gave you the wrong number, use 555 1234",
    "text me when it arrives",
    "stop sign got hit, need body work",
]


@pytest.mark.parametrize("text", NOT_REVOCATIONS)
def test_dealership_talk_is_not_revocation(text: str) -> None:
    assert classify_consent_message(text) is None, classify_consent_message(text)


@pytest.mark.parametrize(
    ("text", "arrived", "channels"),
    [
        ("stop texting me", "sms", ("sms",)),
        ("stop calling me", "sms", ("voice",)),
        ("stop texting and calling", "sms", ("sms", "voice")),
        ("stop calling and texting me", "voice", ("sms", "voice")),
        ("unsubscribe me", "email", ("email",)),
        ("please stop messaging me", "email", ("email",)),
        ("stop emailing me", "sms", ("email",)),
        ("stop contacting me", "sms", ("sms", "voice", "email")),
        ("remove my number", "email", ("sms", "voice")),
        ("take me off your list", "voice", ("voice",)),
        ("STOP", "voice", ("voice",)),
        ("STOP", "chat", ("sms", "voice", "email")),  # web chat: no channel of its own -> all
        ("stop texting me", "chat", ("sms",)),
    ],
)
def test_revocation_channels(text: str, arrived: str, channels: tuple[str, ...]) -> None:
    intent = classify_consent_message(text, channel=arrived)
    assert intent is not None and intent.channels == channels


def test_promotions_only_revokes_marketing() -> None:
    intent = classify_consent_message("please stop sending me promotions")
    assert intent is not None and intent.purposes == ("marketing",)
    assert classify_consent_message("stop texting me").purposes == ("marketing", "transactional")


# =============================================================================================
# Rules file
# =============================================================================================


def test_rules_file_has_what_counsel_needs() -> None:
    rules = load_consent_rules()
    assert rules.federal.quiet_hours.label() == "08:00-21:00"
    for code in ("FL", "OK"):
        rule = rules.states[code]
        assert rule.quiet_hours.label() == "08:00-20:00"
        assert rule.max_proactive_per_24h == 3
        assert rule.written_consent_for_automated_marketing
    assert all(rule.source for rule in rules.states.values())
    assert {rules.area_code_states[c] for c in ("405", "539", "572", "580", "918")} == {"OK"}
    assert {rules.area_code_states[c] for c in ("305", "786", "850", "813", "904")} == {"FL"}
    assert rules.area_code_states["410"] == "MD"
    assert "STOP" in rules.keywords.opt_out and "YES" in rules.keywords.opt_in_if_opted_out
    assert rules.revoke_all.effective_date == dt.date(2027, 1, 31) and rules.revoke_all.mode == "auto"


def test_rules_reject_duplicate_area_codes(tmp_path: Path) -> None:
    data = yaml.safe_load(Path("tools/consent_rules.yaml").read_text())
    data["states"]["OK"]["area_codes"].append("305")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="305"):
        load_consent_rules(path)


def test_revoke_all_switch_follows_the_date() -> None:
    rule = load_consent_rules().revoke_all
    assert not rule.active(dt.datetime(2027, 1, 30, 23, 59, tzinfo=ET))
    assert rule.active(dt.datetime(2027, 1, 31, 0, 0, tzinfo=ET))
    assert rule.model_copy(update={"mode": "on"}).active(dt.datetime(2025, 1, 1, tzinfo=ET))


# =============================================================================================
# Where the recipient is
# =============================================================================================


def test_locate_recipient() -> None:
    rules, dealer = load_consent_rules(), make_dealer()
    assert locate_recipient(rules, dealer, to_phone=LA).zones == ("America/Los_Angeles",)
    assert locate_recipient(rules, dealer, to_phone=OKC).states == ("OK",)
    panhandle = locate_recipient(rules, dealer, to_phone=PANHANDLE)
    assert set(panhandle.zones) == {"America/Chicago", "America/New_York"} and panhandle.states == ("FL",)
    assert set(locate_recipient(rules, dealer, to_phone=INDIANA).zones) == {"America/Chicago", "America/New_York"}
    tollfree = locate_recipient(rules, dealer, to_phone="+18005550123")
    assert (tollfree.zones, tollfree.basis) == (("America/New_York",), "dealer")
    fl_dealer = locate_recipient(rules, make_dealer("FL"), to_phone=None)
    assert fl_dealer.states == ("FL",)  # nothing known: presume the dealer's own state
    moved = locate_recipient(rules, dealer, to_phone=LA, recipient_state="FL")
    assert set(moved.zones) == {"America/Los_Angeles", "America/New_York", "America/Chicago"}
    assert moved.states == ("FL",)


# =============================================================================================
# The gate: quiet hours in the recipient's time
# =============================================================================================


async def test_los_angeles_at_2230_eastern_is_1930_pacific(gate: ConsentGate) -> None:
    await opt_in_marketing(gate)
    d = await marketing(gate, LA, at(22, 30))
    assert d.allowed, d


async def test_miami_after_8pm_is_blocked_until_8am_local(gate: ConsentGate) -> None:
    await opt_in_marketing(gate)
    assert (await marketing(gate, MIAMI, at(19, 59))).allowed
    d = await marketing(gate, MIAMI, at(20, 30))
    assert (d.allowed, d.reason) == (False, "quiet_hours")
    assert d.next_allowed_at == at(8, 0, day=MON + dt.timedelta(days=1))
    assert d.next_allowed_at.tzinfo == ET and d.details["states"] == ["FL"]
    early = await marketing(gate, MIAMI, at(7, 15))
    assert early.reason == "quiet_hours" and early.next_allowed_at == at(8, 0)


async def test_oklahoma_window_and_written_consent(gate: ConsentGate) -> None:
    await opt_in_marketing(gate, "written")
    assert (await marketing(gate, OKC, at(19, 59, tz=CT), cid="written")).allowed
    late = await marketing(gate, OKC, at(20, 0, tz=CT), cid="written")  # window is [08:00, 20:00)
    assert late.reason == "quiet_hours" and late.next_allowed_at == at(8, 0, tz=CT, day=MON + dt.timedelta(days=1))
    await opt_in_marketing(gate, "verbal", written=False)
    d = await marketing(gate, OKC, at(12, 0, tz=CT), cid="verbal")
    assert (d.allowed, d.reason) == (False, "written_consent_required")
    assert (await marketing(gate, LA, at(12, 0, tz=PT), cid="verbal")).allowed  # CA: no such rule here


async def test_area_code_spanning_two_zones_takes_the_strictest(gate: ConsentGate) -> None:
    await opt_in_marketing(gate)
    # 08:30 Eastern is 07:30 Central: too early in the panhandle's western half.
    d = await marketing(gate, PANHANDLE, at(8, 30))
    assert d.reason == "quiet_hours" and d.next_allowed_at == at(9, 0)  # 08:00 CT
    assert (await marketing(gate, PANHANDLE, at(9, 0))).allowed
    # 19:30 Central is 20:30 Eastern: too late in the eastern half (FL ends at 20:00).
    late = await marketing(gate, PANHANDLE, at(19, 30, tz=CT))
    assert late.reason == "quiet_hours"
    assert late.next_allowed_at == at(9, 0, day=MON + dt.timedelta(days=1))
    # Indiana 812 (no state rule): federal 21:00 in both zones.
    assert (await marketing(gate, INDIANA, at(20, 59))).allowed
    assert (await marketing(gate, INDIANA, at(21, 0))).reason == "quiet_hours"


async def test_address_state_adds_its_rules_and_zones(gate: ConsentGate) -> None:
    await opt_in_marketing(gate)
    assert (await marketing(gate, LA, at(19, 30, tz=PT))).allowed
    d = await marketing(gate, LA, at(19, 30, tz=PT), recipient_state="FL")  # 22:30 in Florida
    assert d.reason == "quiet_hours" and d.details["states"] == ["FL"]


async def test_texas_sunday_starts_at_noon(gate: ConsentGate) -> None:
    await opt_in_marketing(gate)
    sunday = MON - dt.timedelta(days=1)
    d = await marketing(gate, DALLAS, at(11, 0, tz=CT, day=sunday))
    assert d.reason == "quiet_hours" and d.next_allowed_at == at(12, 0, tz=CT, day=sunday)
    assert (await marketing(gate, DALLAS, at(9, 0, tz=CT))).allowed  # Monday from 09:00


async def test_unknown_number_falls_back_to_the_dealer(redis, keys: Keys) -> None:
    gate = ConsentGate(redis, keys, make_dealer("FL"))
    await opt_in_marketing(gate)
    d = await marketing(gate, None, at(20, 30))
    assert d.reason == "quiet_hours" and d.details["basis"] == "dealer" and d.details["states"] == ["FL"]


async def test_dealer_policy_only_tightens(redis, keys: Keys) -> None:
    gate = ConsentGate(redis, keys, make_dealer(quiet_hours_start=dt.time(9, 0)))
    await opt_in_marketing(gate)
    d = await marketing(gate, LA, at(8, 30, tz=PT))
    assert d.reason == "quiet_hours" and d.next_allowed_at == at(9, 0, tz=PT)


async def test_email_has_no_calling_hours(gate: ConsentGate) -> None:
    await opt_in_marketing(gate, channel="email")
    d = await gate.check_send(
        ["c1"], channel="email", purpose="marketing", to_phone=MIAMI, at=at(23, 30), proactive=True
    )
    assert d.allowed, d


# =============================================================================================
# The gate: consent
# =============================================================================================


async def test_reply_to_own_inbound_needs_no_consent_and_ignores_hours(gate: ConsentGate) -> None:
    d = await gate.check_send(
        ["new"], channel="sms", purpose="transactional", to_phone=MIAMI, at=at(23, 30), proactive=False
    )
    assert d.allowed and d.reason == "ok"


async def test_proactive_needs_consent_for_its_purpose(gate: ConsentGate) -> None:
    d = await marketing(gate, LA, at(12, 0, tz=PT), cid="nobody")
    assert (d.allowed, d.reason) == (False, "no_marketing_consent")
    reminder = dict(channel="sms", purpose="transactional", to_phone=MIAMI, proactive=True)
    d = await gate.check_send(["nobody"], at=at(12, 0), **reminder)
    assert d.reason == "no_transactional_consent"
    await gate.record_opt_in(
        "nobody",
        channels="sms",
        source="natural_language",
        evidence={"text": "yes text me a reminder"},
        actor="customer",
        at=at(11, 0),
    )
    assert (await gate.check_send(["nobody"], at=at(12, 0), **reminder)).allowed
    assert (await gate.check_send(["nobody"], at=at(21, 0), **reminder)).reason == "quiet_hours"
    assert (await marketing(gate, MIAMI, at(12, 0), cid="nobody")).reason == "no_marketing_consent"


async def test_after_stop_nothing_until_start(gate: ConsentGate) -> None:
    await opt_in_marketing(gate)
    stop = classify_consent_message("STOP")
    await gate.record_intent("c1", stop, at=at(12, 0))
    for purpose, proactive in (("transactional", False), ("transactional", True), ("marketing", True)):
        d = await gate.check_send(
            ["c1"], channel="sms", purpose=purpose, to_phone=MIAMI, at=at(12, 5), proactive=proactive
        )
        assert (d.allowed, d.reason) == (False, "opted_out"), (purpose, proactive)
    # a new inbound that is not START does not re-consent
    assert classify_consent_message("hey, is the Civic still there?") is None
    reply = dict(channel="sms", purpose="transactional", to_phone=MIAMI, proactive=False)
    assert (await gate.check_send(["c1"], at=at(13, 0), **reply)).reason == "opted_out"
    # other channels are untouched (revoke-all is off before 2027-01-31)
    assert (
        await gate.check_send(
            ["c1"], channel="voice", purpose="transactional", to_phone=MIAMI, at=at(13, 0), proactive=False
        )
    ).allowed
    # START reopens the conversation; marketing needs fresh consent
    assert await gate.record_intent("c1", classify_consent_message("START"), at=at(14, 0))
    assert (await gate.check_send(["c1"], at=at(14, 1), **reply)).allowed
    assert (await marketing(gate, MIAMI, at(14, 1))).reason == "opted_out"


async def test_yes_only_counts_when_opted_out(gate: ConsentGate, redis, keys: Keys) -> None:
    yes = classify_consent_message("YES")
    assert await gate.record_intent("c1", yes, at=at(10, 0)) == []
    assert await redis.xlen(keys.consent("c1")) == 0
    await gate.record_intent("c1", classify_consent_message("stop"), at=at(11, 0))
    assert len(await gate.record_intent("c1", yes, at=at(12, 0))) == 1
    assert (await gate.state(["c1"], at=at(12, 0))).status("sms", "transactional") == "opted_in"


async def test_one_confirmation_within_five_minutes(gate: ConsentGate) -> None:
    none = await gate.confirmation_allowed(["c1"], channel="sms", at=at(12, 0))
    assert none.reason == "not_opted_out"
    await gate.record_intent("c1", classify_consent_message("please stop texting me"), at=at(12, 0))
    confirm = dict(channel="sms", purpose="opt_out_confirmation", to_phone=MIAMI, proactive=False)
    assert (await gate.check_send(["c1"], at=at(12, 1), **confirm)).allowed
    assert await gate.record_send("c1", channel="sms", purpose="opt_out_confirmation", at=at(12, 1), proactive=False)
    again = await gate.check_send(["c1"], at=at(12, 2), **confirm)
    assert (again.allowed, again.reason) == (False, "confirmation_already_sent")
    assert not (await gate.claim_confirmation(["c1"], channel="sms", at=at(12, 2))).allowed
    await gate.record_intent("c2", classify_consent_message("STOP"), at=at(12, 0))
    late = await gate.confirmation_allowed(["c2"], channel="sms", at=at(12, 6))
    assert late.reason == "confirmation_window_passed"
    first = await gate.claim_confirmation(["c2"], channel="sms", at=at(12, 4))
    second = await gate.claim_confirmation(["c2"], channel="sms", at=at(12, 4))
    assert first.allowed and not second.allowed


async def test_merged_customers_share_opt_outs(gate: ConsentGate) -> None:
    await opt_in_marketing(gate, "primary")
    await gate.record_opt_out(
        "secondary",
        channels="sms",
        source="carrier_error",
        evidence={"error_code": 21610},
        actor="twilio",
        at=at(10, 0),
    )
    d = await gate.check_send(
        ["primary", "secondary"], channel="sms", purpose="marketing", to_phone=MIAMI, at=at(12, 0), proactive=True
    )
    assert d.reason == "opted_out"


# =============================================================================================
# The gate: caps
# =============================================================================================


async def test_florida_daily_cap(gate: ConsentGate) -> None:
    await opt_in_marketing(gate)
    for hour in (10, 12, 14):
        assert (await marketing(gate, MIAMI, at(hour))).allowed
        await gate.record_send("c1", channel="sms", purpose="marketing", at=at(hour), proactive=True)
    d = await marketing(gate, MIAMI, at(15))
    assert (d.allowed, d.reason) == (False, "daily_cap")
    assert d.next_allowed_at == at(10, 0, day=MON + dt.timedelta(days=1))
    assert (await marketing(gate, MIAMI, d.next_allowed_at)).allowed
    # a reply to the customer's own message is not capped; an LA number has no state cap
    assert (
        await gate.check_send(
            ["c1"], channel="sms", purpose="transactional", to_phone=MIAMI, at=at(15), proactive=False
        )
    ).allowed
    assert (await marketing(gate, LA, at(15))).allowed


async def test_cap_counts_voice_and_merged_records_and_waits_for_hours(gate: ConsentGate) -> None:
    await opt_in_marketing(gate, "a")
    # three proactive sends late on Monday (voice counts with sms; one on a merged record)
    for cid, channel, minute in (("a", "voice", 30), ("b", "sms", 40), ("a", "sms", 50)):
        await gate.record_send(cid, channel=channel, purpose="marketing", at=at(19, minute), proactive=True)
    await gate.record_send("a", channel="sms", purpose="transactional", at=at(19, 55), proactive=True)  # not counted
    d = await gate.check_send(
        ["a", "b"],
        channel="sms",
        purpose="marketing",
        to_phone=MIAMI,
        at=at(10, 0, day=MON + dt.timedelta(days=1)),
        proactive=True,
    )
    assert d.reason == "daily_cap"
    # the cap clears at 19:30 Tuesday, inside Florida's window
    assert d.next_allowed_at == at(19, 30, day=MON + dt.timedelta(days=1))
    assert (
        await gate.check_send(
            ["a"],
            channel="sms",
            purpose="marketing",
            to_phone=MIAMI,
            at=at(10, 0, day=MON + dt.timedelta(days=1)),
            proactive=True,
        )
    ).allowed


async def test_cap_clearing_at_night_waits_for_the_morning(gate: ConsentGate) -> None:
    await opt_in_marketing(gate)
    for minute in (30, 40, 50):  # recorded after Florida's 20:00 (e.g. while it was another zone's day)
        await gate.record_send("c1", channel="sms", purpose="marketing", at=at(20, minute), proactive=True)
    tuesday = MON + dt.timedelta(days=1)
    d = await marketing(gate, MIAMI, at(12, 0, day=tuesday))
    assert d.reason == "daily_cap"
    assert d.next_allowed_at == at(8, 0, day=tuesday + dt.timedelta(days=1))  # 20:30 Tue is after hours


async def test_dealer_cap_counts_every_proactive_send(redis, keys: Keys) -> None:
    gate = ConsentGate(redis, keys, make_dealer(max_proactive_per_24h=1))
    await opt_in_marketing(gate)
    await gate.record_send("c1", channel="sms", purpose="transactional", at=at(9), proactive=True)
    d = await marketing(gate, LA, at(12, 0, tz=PT))
    assert d.reason == "daily_cap" and d.details["cap"]["rule"] == "dealer policy"


# =============================================================================================
# Revoke-all
# =============================================================================================


async def test_revoke_all_off_before_2027_and_on_after(redis, keys: Keys) -> None:
    gate = ConsentGate(redis, keys, make_dealer())
    await opt_in_marketing(gate, channel="email")
    await gate.record_intent("c1", classify_consent_message("STOP"), at=at(12, 0))
    email = dict(channel="email", purpose="marketing", to_phone=None, proactive=True)
    assert (await gate.check_send(["c1"], at=at(13, 0), **email)).allowed
    assert not (await gate.state(["c1"], at=at(13, 0))).revoke_all
    after = dt.datetime(2027, 1, 31, 12, 0, tzinfo=ET)
    d = await gate.check_send(["c1"], at=after, **email)
    assert d.reason == "opted_out"
    forced = ConsentGate(redis, keys, make_dealer(), revoke_all=True)
    assert (await forced.check_send(["c1"], at=at(13, 0), **email)).reason == "opted_out"
    early = ConsentGate(redis, keys, make_dealer(revoke_all=True))  # a dealer may switch it on early
    assert early.revoke_all_active(at(13, 0))
    off_rules = ConsentRules.model_validate(
        {**load_consent_rules().model_dump(), "revoke_all": {"mode": False, "effective_date": "2027-01-31"}}
    )
    assert not ConsentGate(redis, keys, make_dealer(), rules=off_rules).revoke_all_active(after)


async def test_naive_times_are_refused(gate: ConsentGate) -> None:
    with pytest.raises(ValueError):
        await marketing(gate, LA, dt.datetime(2026, 3, 2, 12, 0))
    with pytest.raises(ValueError):
        await gate.check_send([], channel="sms", purpose="marketing", to_phone=LA, at=at(12), proactive=True)


# =============================================================================================
# Entry points with ToolDeps, and the LangChain tools
# =============================================================================================


@pytest.fixture
def deps(redis, keys: Keys) -> ToolDeps:
    return ToolDeps(
        dealer=make_dealer(),
        redis=redis,
        keys=keys,
        customer_id="c1",
        channel="sms",
        clock=lambda: at(12, 0),
    )


def run_config(deps: ToolDeps) -> dict[str, Any]:
    return {"configurable": {"deps": deps}}


async def test_deps_entry_points(deps: ToolDeps) -> None:
    await record_opt_in(
        deps,
        channels="sms",
        purposes=("marketing",),
        source="lead_form",
        evidence={"form": "x"},
        actor="customer",
        written=True,
    )
    assert (
        await check_send(deps, ["c1"], channel="sms", purpose="marketing", to_phone=LA, at=at(12), proactive=True)
    ).allowed
    ids = await record_opt_out(
        deps, channels=("sms", "voice"), source="staff", evidence={"staff_id": "s7"}, actor="staff:s7"
    )
    assert len(ids) == 2
    d = await check_send(
        deps, ["c1"], channel="voice", purpose="transactional", to_phone=LA, at=at(12), proactive=False
    )
    assert d.reason == "opted_out"


def test_tool_schemas_hide_identity() -> None:
    assert [t.name for t in CONSENT_TOOLS] == ["record_opt_out", "check_contact_permission"]
    assert set(record_opt_out_tool.args) == {"channel", "reason"}
    assert set(check_contact_permission_tool.args) == {"channel", "purpose"}
    assert record_opt_out_tool.metadata == {"access": "write"}
    assert check_contact_permission_tool.metadata == {"access": "read"}


async def test_record_opt_out_tool_is_evidenced_and_idempotent(deps: ToolDeps, redis, keys: Keys) -> None:
    out = await record_opt_out_tool.ainvoke(
        {"channel": "sms", "reason": "please stop texting me"}, config=run_config(deps)
    )
    assert "Recorded" in out
    [entry] = await ConsentLedger(redis, keys).entries(["c1"])
    assert (entry.source, entry.actor, entry.action, entry.channel) == ("natural_language", "agent", "opt_out", "sms")
    assert entry.evidence["text"] == "please stop texting me" and entry.at == at(12, 0)
    again = await record_opt_out_tool.ainvoke({"channel": "sms", "reason": "stop!"}, config=run_config(deps))
    assert "Already" in again and await redis.xlen(keys.consent("c1")) == 1
    await record_opt_out_tool.ainvoke({"channel": "all", "reason": "don't contact me at all"}, config=run_config(deps))
    state = await ConsentGate.from_deps(deps).state(["c1"], at=at(12, 0))
    assert all(state.status(c, "transactional") == "opted_out" for c in ("sms", "voice", "email"))


async def test_tools_outside_a_turn_fail_softly() -> None:
    out = await record_opt_out_tool.ainvoke({"channel": "sms", "reason": "stop"}, config={"configurable": {}})
    assert "outside a DealerOS turn" in out


async def test_check_contact_permission_tool(deps: ToolDeps) -> None:
    raw = await check_contact_permission_tool.ainvoke(
        {"channel": "sms", "purpose": "marketing"}, config=run_config(deps)
    )
    out = json.loads(raw)
    assert out["consent"] == "unknown" and out["proactive_allowed_now"] is False
    assert out["reason"] == "no_marketing_consent"
    await record_opt_in(
        deps,
        channels="sms",
        purposes=("marketing",),
        source="web_form",
        evidence={"f": 1},
        actor="customer",
        written=True,
    )
    out = json.loads(
        await check_contact_permission_tool.ainvoke({"channel": "sms", "purpose": "marketing"}, config=run_config(deps))
    )
    assert out["consent"] == "opted_in" and out["proactive_allowed_now"] is True


async def test_check_contact_permission_uses_the_customer_record(redis, keys: Keys) -> None:
    from memory.customers import CustomerStore

    customer = await CustomerStore(redis, keys).create(phones=[MIAMI], state="FL")
    late = ToolDeps(
        dealer=make_dealer(), redis=redis, keys=keys, customer_id=customer.id, channel="chat", clock=lambda: at(20, 30)
    )
    await record_opt_in(
        late,
        channels="sms",
        purposes=("marketing",),
        source="web_form",
        evidence={"f": 1},
        actor="customer",
        written=True,
    )
    out = json.loads(
        await check_contact_permission_tool.ainvoke({"channel": "sms", "purpose": "marketing"}, config=run_config(late))
    )
    assert out["reason"] == "quiet_hours"
    assert out["next_allowed_at"] == at(8, 0, day=MON + dt.timedelta(days=1)).isoformat()
