"""Customers, appointments, reports and the audit log through the Staff API over real HTTP."""

from __future__ import annotations

import datetime as dt

from memory.customers import Interest
from tools import booking
from tools.context import ToolDeps

VIN = "JTMRWRFV5RD012345"
VIN2 = "4T1G11AK7RU123456"


async def seed(customers, redis, keys, dealer):
    ana = (
        await customers.resolve(
            phone="+18135550101",
            email="ana.lopez@example.com",
            name="Ana Lopez",
            source={"channel": "lead", "provider": "Cars.com"},
        )
    ).customer
    await customers.add_interest(ana.id, Interest(description="2024 RAV4 Hybrid XLE", vin=VIN))
    bo = (
        await customers.resolve(
            phone="+17275550102",
            name="Bo Anderson",
            source={"channel": "web_chat", "utm_source": "google", "utm_medium": "cpc"},
        )
    ).customer
    cy = (await customers.resolve(email="cy@example.org", name="Cy Lopez-Young", source={"channel": "sms"})).customer
    deps = ToolDeps(dealer=dealer, redis=redis, keys=keys, customer_id=bo.id, channel="staff")
    slots = await booking.available_slots(deps, "service", limit=1)
    await booking.book(deps, department="service", kind="oil_change", starts_at=slots[0].starts_at, vin=VIN2)
    return ana, bo, cy


async def test_search_by_name_phone_email_and_vin(client, login, customers, redis, keys, dealer):
    ana, bo, cy = await seed(customers, redis, keys, dealer)
    h = await login("kevin-tran")

    async def ids(**params) -> list[str]:
        r = await client.get("/api/customers", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    assert await ids(q="lopez") == [cy.id, ana.id]  # newest first
    assert await ids(q="Ana Lop") == [ana.id]
    assert await ids(phone="(813) 555-0101") == [ana.id]
    assert await ids(q="813-555-0101") == [ana.id]
    assert await ids(q="0102") == [bo.id]  # last digits
    assert await ids(email="ANA.LOPEZ@example.com") == [ana.id]
    assert await ids(q="cy@example.org") == [cy.id]
    assert await ids(vin=VIN) == [ana.id]  # an interest
    assert await ids(q=VIN2[-8:]) == [bo.id]  # an appointment's VIN, last 8
    assert await ids(q="nobody-like-this") == []
    assert set(await ids()) == {ana.id, bo.id, cy.id}
    page = (await client.get("/api/customers", params={"limit": 2}, headers=h)).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (await client.get("/api/customers", params={"limit": 2, "cursor": page["next_cursor"]}, headers=h)).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None

    one = (await client.get("/api/customers", params={"q": "Ana"}, headers=h)).json()["items"][0]
    assert {"id", "name", "phones", "emails", "stage", "source", "consent"} <= set(one)
    assert one["consent"]["sms"]["marketing"] == "unknown" and one["source"]["provider"] == "Cars.com"


async def test_customer_record_timeline_and_appointments(client, login, customers, redis, keys, dealer, timeline):
    ana, bo, _ = await seed(customers, redis, keys, dealer)
    h = await login("kevin-tran")
    r = await client.get(f"/api/customers/{ana.id}", headers=h)
    assert r.status_code == 200 and r.json()["name"] == "Ana Lopez" and r.json()["active_handoff"] is None
    assert r.json()["created_at"][-6:] in ("-05:00", "-04:00")
    assert (await client.get("/api/customers/cnope", headers=h)).status_code == 404

    from memory.timeline import TimelineEvent

    base = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
    for i in range(5):
        await timeline.append(
            ana.id,
            TimelineEvent(at=base + dt.timedelta(minutes=i), channel="sms", direction="inbound", text=f"msg {i}"),
        )
    page = (await client.get(f"/api/customers/{ana.id}/timeline", params={"limit": 3}, headers=h)).json()
    assert [e["text"] for e in page["items"]] == ["msg 2", "msg 3", "msg 4"] and page["next_cursor"]
    assert page["items"][0]["at"] == "2026-11-20T10:02:00-05:00"
    older = (
        await client.get(
            f"/api/customers/{ana.id}/timeline", params={"limit": 3, "cursor": page["next_cursor"]}, headers=h
        )
    ).json()
    assert [e["text"] for e in older["items"]] == ["msg 0", "msg 1"] and older["next_cursor"] is None

    appts = (await client.get("/api/appointments", params={"customer_id": bo.id}, headers=h)).json()["items"]
    assert len(appts) == 1 and appts[0]["vin"] == VIN2 and appts[0]["status"] == "booked"
    day = appts[0]["starts_at"][:10]
    listed = (await client.get("/api/appointments", params={"date": day}, headers=h)).json()["items"]
    assert appts[0]["id"] in [a["id"] for a in listed]

    slots = (
        await client.get("/api/appointments/slots", params={"department": "sales", "kind": "test_drive"}, headers=h)
    ).json()["items"]
    r = await client.post(
        "/api/appointments",
        headers=h,
        json={
            "customer_id": ana.id,
            "department": "sales",
            "kind": "test_drive",
            "starts_at": slots[0]["starts_at"],
            "vin": VIN,
        },
    )
    assert r.status_code == 201, r.text
    booked = r.json()
    r = await client.post(
        f"/api/appointments/{booked['id']}/reschedule", json={"starts_at": slots[1]["starts_at"]}, headers=h
    )
    assert r.status_code == 200 and r.json()["starts_at"] == slots[1]["starts_at"]
    r = await client.post(f"/api/appointments/{booked['id']}/cancel", json={"reason": "changed plans"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    bad = await client.post(
        "/api/appointments",
        headers=h,
        json={
            "customer_id": ana.id,
            "department": "sales",
            "kind": "test_drive",
            "starts_at": "2026-11-24T03:00:00-05:00",
        },
    )
    assert bad.status_code == 409
    staff_events = [e for e in await timeline.read([ana.id]) if e.kind == "appointment"]
    assert [e.meta["action"] for e in staff_events] == ["booked", "rescheduled", "cancelled"]
    assert all(e.actor == "staff:kevin-tran" for e in staff_events)


async def test_every_read_and_action_is_audited_and_only_admins_read_the_log(
    client, login, admin, customers, redis, keys, dealer, open_handoff
):
    ana, _, _ = await seed(customers, redis, keys, dealer)
    h = await login("kevin-tran")
    await client.get(f"/api/customers/{ana.id}", headers=h)
    await client.get(f"/api/customers/{ana.id}/timeline", headers=h)
    await client.get("/api/customers", params={"q": "Ana"}, headers=h)
    turn = await open_handoff("+18135550101")
    await client.post(f"/api/handoffs/{turn.handoff_id}/claim", headers=h)
    await client.post(f"/api/handoffs/{turn.handoff_id}/messages", json={"text": "Hello Ana"}, headers=h)

    assert (await client.get("/api/audit", headers=h)).status_code == 403
    log = (await client.get("/api/audit", params={"customer_id": ana.id, "limit": 50}, headers=admin)).json()
    got = [(e["actor"], e["action"], e["path"]) for e in log["items"]]
    for want in [
        ("staff:kevin-tran", "customer.read", f"/api/customers/{ana.id}"),
        ("staff:kevin-tran", "timeline.read", f"/api/customers/{ana.id}/timeline"),
        ("staff:kevin-tran", "customers.search", "/api/customers"),
        ("staff:kevin-tran", "handoff.claim", f"/api/handoffs/{turn.handoff_id}/claim"),
        ("staff:kevin-tran", "handoff.message", f"/api/handoffs/{turn.handoff_id}/messages"),
    ]:
        assert want in got, (want, got)
    entry = next(e for e in log["items"] if e["action"] == "handoff.message")
    assert entry["role"] == "agent" and entry["method"] == "POST" and entry["customer_id"] == ana.id
    assert dt.datetime.fromisoformat(entry["at"]).tzinfo is not None and entry["detail"]["via"] == "sms"
    assert [e["id"] for e in log["items"]] == sorted((e["id"] for e in log["items"]), reverse=True)  # newest first
    logins = (await client.get("/api/audit", params={"action": "auth.login"}, headers=admin)).json()["items"]
    assert any(e["actor"] == "staff:kevin-tran" for e in logins)
    page = (await client.get("/api/audit", params={"limit": 2}, headers=admin)).json()
    more = (await client.get("/api/audit", params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin)).json()
    assert not {e["id"] for e in page["items"]} & {e["id"] for e in more["items"]}
    from channels.staff.audit import audit_key

    assert await redis.type(audit_key(keys)) == "stream"


async def test_leads_by_source_report_and_its_chart(client, login, customers, redis, keys, dealer, open_handoff):
    await seed(customers, redis, keys, dealer)
    await open_handoff("+18135550101")  # Ana
    manager = await login("tasha-greene", "manager")
    r = await client.get("/api/reports/leads-by-source", headers=manager)
    assert r.status_code == 200
    rows = {row["source"]: row for row in r.json()["items"]}
    assert rows["Cars.com"] == {"source": "Cars.com", "customers": 1, "appointments": 0, "handoffs": 1}
    assert rows["google / cpc"] == {"source": "google / cpc", "customers": 1, "appointments": 1, "handoffs": 0}
    assert rows["SMS"]["customers"] == 1
    assert r.json()["totals"] == {"customers": 3, "appointments": 1, "handoffs": 1}

    client.cookies.clear()
    form = {"id": "tasha-greene", "password": "correct horse battery"}
    assert (await client.post("/console/login", data=form)).status_code == 303
    page = await client.get("/console/reports")
    assert page.status_code == 200 and "<svg" in page.text and 'class="series-customers"' in page.text
    assert "Cars.com" in page.text and "google / cpc" in page.text


async def test_the_customer_page_shows_the_whole_journey_across_channels(
    client, login, customers, redis, keys, dealer, timeline
):
    from memory.timeline import TimelineEvent
    from tools.consent import ConsentGate

    ana, _, _ = await seed(customers, redis, keys, dealer)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    for i, (channel, direction, kind, text, actor) in enumerate(
        [
            ("lead", "inbound", "lead", "Lead from Cars.com: 2024 RAV4 Hybrid XLE", "customer"),
            ("chat", "inbound", "message", "Is the RAV4 still available?", "customer"),
            ("chat", "outbound", "message", "Yes! Want to see it Saturday?", "ai"),
            ("voice", "inbound", "call", "Phone call, 2 exchanges, 48 s", "customer"),
            ("voice", "inbound", "message", "I'd like to trade in my Camry", "customer"),
            ("sms", "outbound", "message", "Your appraisal is booked.", "ai"),
        ]
    ):
        await timeline.append(
            ana.id,
            TimelineEvent(
                at=t0 + dt.timedelta(minutes=i), channel=channel, direction=direction, kind=kind, text=text, actor=actor
            ),
        )
    gate = ConsentGate(redis, keys, dealer)
    await gate.record_opt_in(
        ana.id,
        channels="sms",
        purposes=["marketing"],
        source="web_form",
        evidence={"form_text": "Text me offers", "url": "https://x.example"},
        actor="customer",
        at=t0 + dt.timedelta(minutes=10),
        written=True,
    )
    await gate.record_opt_out(
        ana.id,
        channels="email",
        purposes=["marketing"],
        source="natural_language",
        evidence={"text": "no more promo emails"},
        actor="customer",
        at=t0 + dt.timedelta(minutes=11),
    )
    deps = ToolDeps(dealer=dealer, redis=redis, keys=keys, customer_id=ana.id, channel="chat")
    slot = (await booking.available_slots(deps, "sales", kind="trade_appraisal", limit=1))[0]
    await booking.book(deps, department="sales", kind="trade_appraisal", starts_at=slot.starts_at)
    visitor = (await customers.resolve(visitor_id="visitor-123456", name=None)).customer
    merged = (await customers.resolve(visitor_id="visitor-123456", phone="+18135550101")).customer
    assert merged.id == ana.id

    await login("kevin-tran")  # signs the console in too (cookie)
    page = await client.get(f"/console/customers/{ana.id}")
    assert page.status_code == 200, page.text
    html = page.text
    for needle in [
        "Lead from Cars.com",
        "Is the RAV4 still available?",
        "Yes! Want to see it Saturday?",
        "Phone call, 2 exchanges",
        "I&#39;d like to trade in my Camry",
        "Your appraisal is booked.",
        "Opted in to sms marketing",
        "Opted out of email marketing",
        "written consent",
        "Booked sales trade appraisal",
        "Cars.com",
        "(813) 555-0101",
        "ana.lopez@example.com",
        "2024 RAV4 Hybrid XLE",
        "consent-opted_in",
        "consent-opted_out",
        visitor.id,
    ]:
        assert needle in html, needle
    assert html.index("Lead from Cars.com") < html.index("Your appraisal is booked.")  # oldest first
    old = await client.get(f"/console/customers/{visitor.id}")  # a merged-away record -> the live one
    assert old.status_code == 303 and old.headers["location"] == f"/console/customers/{ana.id}"
    search = await client.get("/console/search", params={"q": "lopez"})
    assert search.status_code == 200 and "Ana Lopez" in search.text and "(813) 555-0101" in search.text
    day = await client.get("/console/appointments", params={"date": slot.starts_at.date().isoformat()})
    assert day.status_code == 200 and "trade appraisal" in day.text and "Ana Lopez" in day.text
