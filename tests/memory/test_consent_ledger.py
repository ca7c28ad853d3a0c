"""The consent ledger: append-only, evidenced, ordered, merged across customers, durable."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from memory.consent import ConsentEntry, ConsentLedger, cells_covered, derive_state
from memory.keys import Keys
from memory.redis import start_embedded

ET = dt.timezone(dt.timedelta(hours=-5))
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ET)


def entry(
    channel: str = "sms",
    purpose: str = "marketing",
    action: str = "opt_in",
    *,
    minutes: int = 0,
    source: str = "web_form",
    scope: str | None = None,
    written: bool = False,
    evidence: dict[str, Any] | None = None,
) -> ConsentEntry:
    return ConsentEntry(
        channel=channel,
        purpose=purpose,
        action=action,
        source=source,
        evidence=evidence if evidence is not None else {"text": f"{action} {channel} {purpose}"},
        actor="customer",
        at=T0 + dt.timedelta(minutes=minutes),
        scope=scope,
        written=written,
    )


@pytest.fixture
def ledger(redis, keys: Keys) -> ConsentLedger:
    return ConsentLedger(redis, keys)


async def test_append_and_read_back_with_evidence(ledger: ConsentLedger) -> None:
    form = {"form_text": "I agree to receive marketing texts from Sunshine Motors", "url": "https://x/form"}
    eid = await ledger.append("c1", entry(evidence=form, written=True))
    [got] = await ledger.entries(["c1"])
    assert got.id == eid and got.customer_id == "c1"
    assert got.evidence == form and got.written is True
    assert got.at == T0 and got.at.utcoffset() == dt.timedelta(hours=-5)  # offset kept
    assert json.loads(json.dumps(got.to_api()))["source"] == "web_form"


async def test_entries_replay_in_time_order_not_append_order(ledger: ConsentLedger) -> None:
    await ledger.append("c1", entry(action="opt_out", minutes=30))
    await ledger.append("c1", entry(action="opt_in", minutes=0, source="import"))  # backdated import
    got = await ledger.entries(["c1"])
    assert [e.action for e in got] == ["opt_in", "opt_out"]
    state = await ledger.state(["c1"])
    assert state.status("sms", "marketing") == "opted_out"


async def test_union_of_merged_customers_is_time_ordered(ledger: ConsentLedger) -> None:
    await ledger.append("a", entry(minutes=0))
    await ledger.append("b", entry("email", minutes=5))
    await ledger.append("a", entry(action="opt_out", minutes=10, source="keyword"))
    await ledger.append("b", entry("voice", "transactional", minutes=3))
    got = await ledger.entries(["a", "b", "a"])  # duplicates ignored
    assert [(e.customer_id, e.at) for e in got] == [
        ("a", T0),
        ("b", T0 + dt.timedelta(minutes=3)),
        ("b", T0 + dt.timedelta(minutes=5)),
        ("a", T0 + dt.timedelta(minutes=10)),
    ]
    state = await ledger.state(["a", "b"])
    assert state.status("sms", "marketing") == "opted_out"
    assert state.status("email", "marketing") == "opted_in"
    assert state.status("voice", "transactional") == "opted_in"
    assert await ledger.entries([]) == []


async def test_ledger_is_append_only(ledger: ConsentLedger, redis, keys: Keys) -> None:
    public = {name for name in dir(ConsentLedger) if not name.startswith("_")}
    assert public == {"append", "entries", "entries_on", "parse_entries", "state"}  # reads; no update, no delete
    for i in range(3):
        await ledger.append("c1", entry(action="opt_out" if i % 2 else "opt_in", minutes=i))
    before = await redis.xrange(keys.consent("c1"))
    await ledger.state(["c1"])  # deriving never writes back
    assert await redis.xrange(keys.consent("c1")) == before
    assert await redis.xlen(keys.consent("c1")) == 3
    recorded = (await ledger.entries(["c1"]))[0]
    with pytest.raises(ValidationError):
        recorded.action = "opt_out"  # entries are frozen values


def test_entries_need_an_aware_time_and_json_evidence() -> None:
    with pytest.raises(ValidationError):
        ConsentEntry(
            channel="sms",
            purpose="marketing",
            action="opt_in",
            source="staff",
            evidence={},
            actor="staff:1",
            at=dt.datetime(2026, 1, 1, 9),
        )
    with pytest.raises(ValidationError):
        entry(evidence={"when": dt.date(2026, 1, 1)})  # not JSON
    with pytest.raises(ValidationError):
        entry(channel="fax")


async def test_append_requires_a_customer(ledger: ConsentLedger) -> None:
    with pytest.raises(ValueError):
        await ledger.append("", entry())


# --- derivation ------------------------------------------------------------------------------


def test_default_is_unknown_everywhere() -> None:
    state = derive_state([])
    out = state.to_dict()
    assert out["sms"] == {"marketing": "unknown", "transactional": "unknown"}
    assert out["details"]["email"]["marketing"] is None
    assert not state.blocked("sms", "transactional")


def test_sms_and_voice_opt_out_is_channel_wide() -> None:
    state = derive_state([entry(minutes=0), entry(action="opt_out", minutes=1, source="natural_language")])
    assert state.status("sms", "marketing") == "opted_out"
    assert state.status("sms", "transactional") == "opted_out"
    assert state.blocked("sms", "transactional")
    assert state.status("voice", "marketing") == "unknown"  # other channels untouched


def test_email_marketing_unsubscribe_keeps_transactional_mail() -> None:
    state = derive_state([entry("email", "transactional", minutes=0), entry("email", action="opt_out", minutes=1)])
    assert state.status("email", "marketing") == "opted_out"
    assert state.status("email", "transactional") == "opted_in"
    assert not state.blocked("email", "transactional") and state.blocked("email", "marketing")


def test_marketing_only_scope_on_sms() -> None:
    state = derive_state([entry(written=True), entry(action="opt_out", minutes=1, scope="purpose")])
    assert state.status("sms", "marketing") == "opted_out"
    assert state.status("sms", "transactional") == "opted_in"  # a marketing opt-in implied it


def test_start_after_stop_reopens_conversation_but_not_marketing() -> None:
    state = derive_state(
        [
            entry(written=True),
            entry(action="opt_out", minutes=1, source="keyword", scope="channel"),
            entry(purpose="transactional", action="opt_in", minutes=2, source="keyword"),
        ]
    )
    assert state.status("sms", "transactional") == "opted_in"
    assert state.status("sms", "marketing") == "opted_out"


def test_transactional_opt_out_covers_marketing_even_on_email() -> None:
    assert set(cells_covered(entry("email", "transactional", "opt_out"))) == {
        ("email", "transactional"),
        ("email", "marketing"),
    }


def test_scope_all_and_revoke_all_switch() -> None:
    email_out = entry("email", action="opt_out", minutes=1)
    base = [entry("sms", written=True), entry("voice"), email_out]
    off = derive_state(base)
    assert off.status("sms", "marketing") == "opted_in"
    on = derive_state(base, revoke_all=True)
    assert all(
        on.status(c, p) == "opted_out" for c in ("sms", "voice", "email") for p in ("marketing", "transactional")
    )
    assert on.to_dict()["revoke_all"] is True
    explicit = derive_state([*base[:2], entry("sms", action="opt_out", minutes=2, scope="all", source="staff")])
    assert explicit.status("email", "transactional") == "opted_out"  # the customer's own "all" counts today
    assert explicit.status("voice", "marketing") == "opted_out"


def test_equal_times_opt_out_wins() -> None:
    same = [entry(action="opt_out", minutes=5), entry(action="opt_in", minutes=5)]
    assert derive_state(same).status("sms", "marketing") == "opted_out"
    assert derive_state(list(reversed(same))).status("sms", "marketing") == "opted_out"


def test_state_to_dict_is_json_with_latest_evidence() -> None:
    state = derive_state(
        [
            entry(minutes=0, evidence={"form": "old"}),
            entry(action="opt_out", minutes=7, source="keyword", evidence={"text": "STOP"}),
        ]
    )
    out = json.loads(json.dumps(state.to_dict()))
    assert out["sms"] == {"marketing": "opted_out", "transactional": "opted_out"}
    detail = out["details"]["sms"]["marketing"]
    assert detail["evidence"] == {"text": "STOP"} and detail["source"] == "keyword"
    assert detail["at"] == (T0 + dt.timedelta(minutes=7)).isoformat()
    assert state.latest_opt_out("sms").evidence == {"text": "STOP"}
    assert state.latest_opt_out("voice") is None


# --- durability ------------------------------------------------------------------------------


async def test_ledger_survives_an_embedded_redis_restart(tmp_path: Path) -> None:
    """Always runs: it owns an embedded server on its own data dir, whatever REDIS_URL says."""
    keys = Keys(f"t{uuid.uuid4().hex[:12]}")
    data_dir = tmp_path / "redis"
    handle = start_embedded(data_dir)
    client = handle.client()
    ids = [
        await ConsentLedger(client, keys).append("c1", entry(minutes=0)),
        await ConsentLedger(client, keys).append("c1", entry(action="opt_out", minutes=1, source="keyword")),
    ]
    await handle.aclose()
    handle.shutdown()

    handle = start_embedded(data_dir)
    try:
        client = handle.client()
        got = await ConsentLedger(client, keys).entries(["c1"])
        assert [e.id for e in got] == ids
        assert [e.action for e in got] == ["opt_in", "opt_out"]
        assert (await ConsentLedger(client, keys).state(["c1"])).status("sms", "marketing") == "opted_out"
        await handle.aclose()
    finally:
        handle.shutdown()
