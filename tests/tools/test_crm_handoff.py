import datetime as dt
import inspect
import json

import pytest

from memory.customers import CustomerStore
from tools import crm
from tools.context import ToolDeps, ToolError
from tools.dealer import load_dealer_config
from tools.handoff import HandoffStore, events_channel, open_handoff

NOW = dt.datetime(2026, 11, 17, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def dealer(demo_config_path, dealer_id):
    return load_dealer_config(demo_config_path).model_copy(update={"id": dealer_id})


@pytest.fixture
async def deps(redis, keys, dealer):
    customer = (await CustomerStore(redis, keys).resolve(phone="+18135550150")).customer
    return ToolDeps(dealer=dealer, redis=redis, keys=keys, customer_id=customer.id, channel="sms", clock=lambda: NOW)


async def test_profile_updates_merge_and_attach_contacts(deps):
    await crm.update_profile(deps, name="Sam Ortiz", email="Sam@Example.com", budget={"max_price": 35000})
    c = await crm.update_profile(deps, trade_in={"year": 2015, "model": "Civic"}, budget={"monthly": 450})
    assert c.name == "Sam Ortiz" and c.emails == ["sam@example.com"]
    assert c.budget == {"max_price": 35000, "monthly": 450}
    assert c.trade_in == {"year": 2015, "model": "Civic"}
    with pytest.raises(ToolError):
        await crm.update_profile(deps, email="not-an-email")
    with pytest.raises(ToolError):
        await crm.update_profile(deps, lead_score=100)
    with pytest.raises(ToolError):
        await crm.set_stage(deps, "vip")
    assert (await crm.set_stage(deps, "qualified")).stage == "qualified"


async def test_giving_a_phone_of_another_record_merges_into_it(redis, keys, dealer):
    store = CustomerStore(redis, keys)
    known = (await store.resolve(phone="+18135550151", name="Lee")).customer
    visitor = (await store.resolve(visitor_id="visitor-0001")).customer
    deps = ToolDeps(dealer=dealer, redis=redis, keys=keys, customer_id=visitor.id, channel="chat", clock=lambda: NOW)
    await crm.update_profile(deps, phone="(813) 555-0151")
    assert deps.customer_id == known.id
    assert (await store.lookup("visitor", "visitor-0001")).id == known.id


def test_tools_never_take_identity_from_the_model():
    from tools import ALL_TOOLS

    for t in ALL_TOOLS:
        props = set(t.args)
        assert not props & {"customer_id", "dealer", "dealer_id", "config", "deps"}, t.name
        assert t.description and len(t.description) > 30


async def test_tools_read_identity_from_the_run_config(deps):
    await crm.add_note(deps, "prefers texts after 6pm")
    out = await crm.get_customer_profile.ainvoke({}, config={"configurable": {"deps": deps}})
    assert "prefers texts after 6pm" in out and "+18135550150" in out
    with pytest.raises(ToolError):
        await crm.get_customer_profile.ainvoke({}, config={"configurable": {}})
    assert "config" in inspect.signature(crm.get_customer_profile.coroutine).parameters


async def test_handoff_lifecycle_and_live_event(redis, keys, deps):
    pubsub = redis.pubsub()
    await pubsub.subscribe(events_channel(keys))
    await pubsub.get_message(timeout=1)  # subscribe confirmation
    h = await open_handoff(deps, reason="customer_request", summary="wants a person about the RAV4")
    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert msg and json.loads(msg["data"])["handoff"]["id"] == h.id
    store = HandoffStore(redis, keys)
    # a second request refreshes the same handoff and may raise its priority
    again = await open_handoff(deps, reason="complaint", priority="high", summary="now upset")
    assert again.id == h.id and again.priority == "high"
    assert await store.human_owns([deps.customer_id]) is None
    await store.transition(h.id, "claimed", at=NOW, actor="staff:ana")
    owner = await store.human_owns([deps.customer_id])
    assert owner and owner.assignee == "staff:ana"
    assert [x.id for x in await store.list("claimed")] == [h.id]
    await store.transition(h.id, "closed", at=NOW, actor="staff:ana")
    assert await store.active_for(deps.customer_id) is None
    assert [x.status for x in await store.list()] == ["closed"]
    api = (await store.get(h.id)).to_api()
    assert {"id", "customer_id", "status", "reason", "priority", "channel", "summary", "assignee"} <= set(api)
    await pubsub.aclose()


async def test_racing_claims_one_wins_and_a_refresh_never_undoes_a_claim(redis_handle, redis, keys, deps):
    import asyncio

    from tools.handoff import Conflict

    h = await open_handoff(deps, reason="customer_request", summary="first")
    clients = [redis_handle.client() for _ in range(6)]
    stores = [HandoffStore(c, keys) for c in clients]

    async def claim(store, who):
        def mutate(x):
            if x.status != "open":
                raise Conflict("taken")
            x.status, x.assignee = "claimed", who
            return True

        try:
            return await store.update(h.id, mutate, event="claimed")
        except Conflict:
            return None

    results = await asyncio.gather(*(claim(s, f"staff:{i}") for i, s in enumerate(stores)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    # the customer writes again while claimed: the claim stays
    refreshed, created = await stores[0].open(
        deps.customer_id, reason="complaint", priority="urgent", channel="sms", summary="second", at=NOW
    )
    assert not created and refreshed.status == "claimed" and refreshed.assignee == winners[0].assignee
    assert refreshed.priority == "urgent" and refreshed.summary == "second"
    for c in clients:
        await c.aclose()
