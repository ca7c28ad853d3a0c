import asyncio
import datetime as dt

import pytest

from memory.customers import CustomerStore, Interest
from memory.identity import InvalidIdentity, normalize_email, normalize_phone
from memory.timeline import Timeline, TimelineEvent

T0 = dt.datetime(2026, 11, 17, 23, 0, tzinfo=dt.UTC)


def test_phone_and_email_normalisation():
    assert normalize_phone("(813) 555-0142") == "+18135550142"
    assert normalize_phone("+1 813.555.0142") == "+18135550142"
    assert normalize_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
    with pytest.raises(InvalidIdentity):
        normalize_phone("call me maybe")
    with pytest.raises(InvalidIdentity):
        normalize_email("jane@")


async def test_any_identifier_finds_the_one_customer(redis, keys):
    store = CustomerStore(redis, keys)
    first = await store.resolve(phone="813-555-0101", email="Pat@Example.com", name="Pat")
    assert first.created
    again = await store.resolve(phone="+18135550101")
    by_email = await store.resolve(email="pat@example.com")
    assert again.customer.id == by_email.customer.id == first.customer.id
    assert not again.created
    assert (await store.lookup("phone", "(813) 555 0101")).id == first.customer.id
    assert await store.resolve(phone="+18135550199", create=False) is None


async def test_concurrent_resolves_of_a_new_phone_make_one_customer(redis_handle, redis, keys):
    clients = [redis_handle.client() for _ in range(20)]
    for phone in ("+18135550177", "+18135550178", "+18135550179"):
        results = await asyncio.gather(*(CustomerStore(c, keys).resolve(phone=phone) for c in clients))
        assert len({r.customer.id for r in results}) == 1
        assert sum(r.created for r in results) == 1
    assert await redis.zcard(keys.customers()) == 3  # no orphan records left behind
    for c in clients:
        await c.aclose()


async def test_visitor_giving_known_phone_merges_and_unmerge_restores(redis, keys):
    store = CustomerStore(redis, keys)
    timeline = Timeline(redis, keys)
    known = (await store.resolve(phone="+18135550102", name="Dana Cruz")).customer
    await timeline.append(known.id, TimelineEvent(at=T0, channel="sms", direction="inbound", text="hi from sms"))
    visitor = (await store.resolve(visitor_id="v_abcdef123")).customer
    await store.add_interest(visitor.id, Interest(description="2024 RAV4 Hybrid", vin="JTMXXXX"))
    await timeline.append(
        visitor.id,
        TimelineEvent(at=T0 + dt.timedelta(minutes=5), channel="chat", direction="inbound", text="rav4?"),
    )

    # The visitor types their phone in the chat: the records become one.
    merged = await store.resolve(visitor_id="v_abcdef123", phone="813 555 0102")
    assert merged.customer.id == known.id
    assert len(merged.merges) == 1 and "phone +18135550102" in merged.merges[0].reason
    assert merged.merges[0].primary == known.id
    assert (await store.lookup("visitor", "v_abcdef123")).id == known.id
    sources = await store.sources(known.id)
    journey = await timeline.read(sources)
    assert [e.text for e in journey] == ["hi from sms", "rav4?"]
    primary = await store.get(known.id)
    assert "v_abcdef123" in primary.visitor_ids
    assert [i.vin for i in primary.interests] == ["JTMXXXX"]

    # Undo: both records are as they were.
    await store.unmerge(merged.merges[0].id, by="staff:1")
    assert (await store.lookup("visitor", "v_abcdef123")).id == visitor.id
    assert (await store.lookup("phone", "+18135550102")).id == known.id
    restored = await store.get(known.id)
    assert restored.visitor_ids == [] and restored.interests == [] and restored.merged_from == []
    assert [e.text for e in await timeline.read(await store.sources(known.id))] == ["hi from sms"]
    assert [e.text for e in await timeline.read(await store.sources(visitor.id))] == ["rav4?"]
    record = await store.get_merge(merged.merges[0].id)
    assert record.status == "reversed" and record.reversed_by == "staff:1"


async def test_timeline_keeps_order_across_channels_and_reads_newest_window(redis, keys):
    timeline = Timeline(redis, keys)
    store = CustomerStore(redis, keys)
    c = (await store.resolve(phone="+18135550103")).customer
    channels = ["chat", "sms", "voice", "sms", "chat"]
    # appended out of order on purpose: the journey is ordered by time, not by write order
    for i in [3, 0, 4, 1, 2]:
        await timeline.append(
            c.id,
            TimelineEvent(at=T0 + dt.timedelta(seconds=i), channel=channels[i], direction="inbound", text=str(i)),
        )
    assert [e.text for e in await timeline.read([c.id])] == ["0", "1", "2", "3", "4"]
    assert [e.text for e in await timeline.read([c.id], limit=2, newest=True)] == ["3", "4"]
    assert [e.channel for e in await timeline.read([c.id])] == channels
    with pytest.raises(ValueError):
        await timeline.append(c.id, TimelineEvent(at=dt.datetime(2026, 1, 1), channel="sms", direction="inbound"))


async def test_update_rejects_unknown_fields(redis, keys):
    store = CustomerStore(redis, keys)
    c = (await store.resolve(email="a@b.co")).customer
    updated = await store.update(c.id, stage="engaged", budget={"max_price": 35000})
    assert updated.stage == "engaged" and updated.budget == {"max_price": 35000}
    with pytest.raises(ValueError):
        await store.update(c.id, password="x")
