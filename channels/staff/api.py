"""The Staff API (DESIGN.md paths are the contract): bearer tokens, roles, and an audit entry for every
read of customer data and every action.

Roles: agents read customers, work the handoff queue and appointments; managers also reassign
handoffs, see the staff directory and reports; admins also add staff and read the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from channels.staff.auth import ROLES, AccountExists, Principal, StaffAuth
from channels.staff.delivery import NotDeliverable
from channels.staff.handoffs import Conflict
from channels.staff.reports import leads_by_source
from channels.staff.service import StaffService
from memory.timeline import TimelineEvent, epoch_ms
from tools import booking
from tools.booking import SlotUnavailable
from tools.context import ToolError
from tools.handoff import Handoff

MAX_TEXT = 1600


class LoginIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class StaffIn(BaseModel):
    id: str
    name: str = Field(min_length=1, max_length=120)
    role: Literal["agent", "manager", "admin"] = "agent"
    team: str = Field(default="bdc", min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=1024)
    email: str | None = None
    phone: str | None = None


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class ClaimIn(BaseModel):
    assignee: str | None = Field(default=None, max_length=64)  # managers: give it to someone else


class CloseIn(BaseModel):
    resolution: str | None = Field(default=None, max_length=MAX_TEXT)


class BookIn(BaseModel):
    customer_id: str
    department: str
    kind: str
    starts_at: str
    vin: str | None = None
    notes: str | None = Field(default=None, max_length=1000)


class RescheduleIn(BaseModel):
    starts_at: str


class CancelIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


def _parse_day(value: str | None, svc: StaffService) -> dt.date:
    if not value:
        return svc.clock().astimezone(svc.tz).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=422, detail="date must be YYYY-MM-DD") from None


def _parse_time(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(status_code=422, detail=f"{name} must be ISO 8601 with an offset") from None
    if parsed.tzinfo is None:
        raise HTTPException(status_code=422, detail=f"{name} needs a UTC offset")
    return parsed


def build_api_router(svc: StaffService) -> APIRouter:
    auth: StaffAuth = svc.auth
    agent_dep, manager_dep, admin_dep = auth.require("agent"), auth.require("manager"), auth.require("admin")
    router = APIRouter(prefix="/api", tags=["staff"])

    async def audit(
        who: Principal | None, request: Request, action: str, customer_id: str | None = None, **kw: Any
    ) -> None:
        await svc.audit.record(
            who, action, path=str(request.url.path), method=request.method, customer_id=customer_id, **kw
        )

    async def internal(customer_id: str, who: Principal, kind: str, text: str, meta: dict[str, Any]) -> None:
        await svc.timeline.append(
            customer_id,
            TimelineEvent(
                at=svc.clock(), channel="staff", direction="internal", kind=kind, text=text, actor=who.actor, meta=meta
            ),
        )

    async def customer_or_404(customer_id: str) -> Any:
        c = await svc.primary(customer_id)
        if c is None:
            raise HTTPException(status_code=404, detail="no such customer")
        return c

    async def handoff_or_404(handoff_id: str) -> Handoff:
        try:
            return await svc.handoffs.get(handoff_id)
        except KeyError:
            raise HTTPException(status_code=404, detail="no such handoff") from None

    # --- auth --------------------------------------------------------------------------------------
    @router.post("/auth/login")
    async def login(body: LoginIn, request: Request, response: Response) -> dict[str, Any]:
        sid = body.id.strip().lower()
        if await svc.staff.login_blocked(sid):
            await audit(None, request, "auth.login_blocked", actor=f"staff:{sid[:40]}")
            raise HTTPException(status_code=429, detail="too many failed logins; try again later")
        account = await svc.staff.verify(sid, body.password)
        if account is None:
            await svc.staff.login_failed(sid)
            await audit(None, request, "auth.login_failed", actor=f"staff:{sid[:40]}")
            raise HTTPException(status_code=401, detail="wrong staff id or password")
        token, expires = await svc.staff.open_session(account)
        who = Principal(id=account.id, name=account.name, role=account.role, team=account.team)
        await audit(who, request, "auth.login")
        response.set_cookie(
            StaffAuth.COOKIE,
            token,
            max_age=svc.staff.session_ttl_s,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return {"token": token, "token_type": "bearer", "expires_at": svc.iso(expires), "staff": who.to_api()}

    @router.post("/auth/logout", status_code=204)
    async def logout(request: Request, who: Principal = Depends(agent_dep)) -> Response:
        if who.token_sha:
            await svc.staff.close_session(who.token_sha)
        await audit(who, request, "auth.logout")
        out = Response(status_code=204)
        out.delete_cookie(StaffAuth.COOKIE, path="/console")
        return out

    @router.get("/auth/me")
    async def me(who: Principal = Depends(agent_dep)) -> dict[str, Any]:
        return who.to_api()

    # --- staff -------------------------------------------------------------------------------------
    @router.post("/staff", status_code=201)
    async def add_staff(body: StaffIn, request: Request, who: Principal = Depends(admin_dep)) -> dict[str, Any]:
        try:
            account = await svc.staff.add(
                id=body.id,
                name=body.name,
                role=body.role,
                team=body.team,
                password=body.password,
                email=body.email,
                phone=body.phone,
                created_by=who.actor,
            )
        except AccountExists as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        await audit(who, request, "staff.add", detail={"staff_id": account.id, "role": account.role})
        return account.to_api()

    @router.get("/staff")
    async def list_staff(request: Request, who: Principal = Depends(manager_dep)) -> dict[str, Any]:
        await audit(who, request, "staff.read")
        return {"items": await svc.directory(), "next_cursor": None, "roles": list(ROLES)}

    # --- customers ---------------------------------------------------------------------------------
    @router.get("/customers")
    async def customers(
        request: Request,
        phone: str | None = None,
        email: str | None = None,
        vin: str | None = None,
        q: str | None = Query(default=None, max_length=200),
        cursor: str | None = None,
        limit: int = Query(default=25, ge=1, le=100),
        who: Principal = Depends(agent_dep),
    ) -> dict[str, Any]:
        page = await svc.search.search(phone=phone, email=email, vin=vin, q=q, cursor=cursor, limit=limit)
        items = [svc.customer_api(c, await svc.consent(c)) for c in page.items]
        await audit(
            who,
            request,
            "customers.search",
            customer_ids=[c.id for c in page.items],
            detail={k: v for k, v in {"phone": phone, "email": email, "vin": vin, "q": q}.items() if v},
        )
        return {"items": items, "next_cursor": page.next_cursor}

    @router.get("/customers/{customer_id}")
    async def customer(customer_id: str, request: Request, who: Principal = Depends(agent_dep)) -> dict[str, Any]:
        c = await customer_or_404(customer_id)
        data = svc.customer_api(c, await svc.consent(c))
        data["journey_ids"] = await svc.customers.sources(c.id)
        data["merges"] = [m.model_dump(mode="json") for m in await svc.customers.merges_of(c.id)]
        active = await svc.handoffs.active_for(c.id)
        data["active_handoff"] = await svc.handoff_view(active) if active else None
        await audit(who, request, "customer.read", c.id)
        return data

    @router.get("/customers/{customer_id}/timeline")
    async def customer_timeline(
        customer_id: str,
        request: Request,
        cursor: str | None = None,
        limit: int = Query(default=100, ge=1, le=500),
        who: Principal = Depends(agent_dep),
    ) -> dict[str, Any]:
        c = await customer_or_404(customer_id)
        ids = await svc.customers.sources(c.id)
        before, skip_from = None, None
        if cursor:
            ms_text, _, skip_from = cursor.partition("~")
            if not ms_text.isdigit():
                raise HTTPException(status_code=422, detail="bad cursor")
            before = dt.datetime.fromtimestamp((int(ms_text) + 1) / 1000, dt.UTC)
        events = await svc.timeline.read(ids, limit=limit + 50, newest=True, before=before)
        if cursor and skip_from:
            ms = int(cursor.partition("~")[0])
            events = [e for e in events if not (epoch_ms(e.at) == ms and e.id >= skip_from)]
        page = events[-limit:]
        more = len(events) > limit
        next_cursor = f"{epoch_ms(page[0].at)}~{page[0].id}" if page and more else None
        await audit(who, request, "timeline.read", c.id)
        return {"items": [svc.event_api(e) for e in page], "next_cursor": next_cursor}

    # --- appointments --------------------------------------------------------------------------------
    @router.get("/appointments")
    async def appointments(
        request: Request,
        customer_id: str | None = None,
        date: str | None = None,
        department: str | None = None,
        include_cancelled: bool = False,
        who: Principal = Depends(agent_dep),
    ) -> dict[str, Any]:
        deps = svc.deps()
        if customer_id:
            c = await customer_or_404(customer_id)
            appts = []
            for cid in await svc.customers.sources(c.id):
                appts += await booking.list_for_customer(deps, cid, include_past=True)
            if date:
                day = _parse_day(date, svc)
                appts = [a for a in appts if a.starts_at.astimezone(svc.tz).date() == day]
            if not include_cancelled:
                appts = [a for a in appts if a.status != "cancelled"]
            appts.sort(key=lambda a: a.starts_at)
        else:
            appts = await booking.list_for_day(
                deps, _parse_day(date, svc), department, include_cancelled=include_cancelled
            )
        if department:
            appts = [a for a in appts if a.department == department]
        await audit(who, request, "appointments.read", customer_id, customer_ids=sorted({a.customer_id for a in appts}))
        return {"items": [a.to_api() for a in appts], "next_cursor": None}

    @router.get("/appointments/slots")
    async def slots(
        department: str,
        date: str | None = None,
        kind: str | None = None,
        limit: int = Query(default=24, ge=1, le=100),
        who: Principal = Depends(agent_dep),
    ) -> dict[str, Any]:
        deps = svc.deps()
        start = None
        if date:
            start = dt.datetime.combine(_parse_day(date, svc), dt.time(0), tzinfo=svc.tz)
        end = start + dt.timedelta(days=1) if start else None
        try:
            found = await booking.available_slots(
                deps, department, start=start, end=end, limit=limit, kind=kind, spread=False
            )
        except ToolError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        items = [
            {"starts_at": s.iso, "ends_at": s.ends_at.isoformat(), "remaining": s.remaining, "label": s.label()}
            for s in found
        ]
        return {"items": items, "next_cursor": None}

    def booking_error(exc: ToolError) -> HTTPException:
        if isinstance(exc, SlotUnavailable):
            alts = [{"starts_at": s.iso, "label": s.label()} for s in exc.alternatives]
            return HTTPException(
                status_code=409, detail={"error": str(exc), "reason": exc.reason, "alternatives": alts}
            )
        return HTTPException(status_code=409, detail=str(exc))

    @router.post("/appointments", status_code=201)
    async def book(body: BookIn, request: Request, who: Principal = Depends(agent_dep)) -> dict[str, Any]:
        c = await customer_or_404(body.customer_id)
        try:
            appt = await booking.book(
                svc.deps(c.id),
                department=body.department,
                kind=body.kind,
                starts_at=body.starts_at,
                vin=body.vin,
                notes=body.notes,
            )
        except ToolError as exc:
            raise booking_error(exc) from None
        await internal(
            c.id,
            who,
            "appointment",
            f"{who.name} booked {appt.department} {appt.kind.replace('_', ' ')} for {appt.label()}",
            {"appointment_id": appt.id, "action": "booked"},
        )
        await audit(who, request, "appointment.book", c.id, detail={"appointment_id": appt.id})
        return appt.to_api()

    async def appointment_or_404(appointment_id: str) -> Any:
        appt = await booking.get(svc.deps(), appointment_id)
        if appt is None:
            raise HTTPException(status_code=404, detail="no such appointment")
        return appt

    @router.post("/appointments/{appointment_id}/reschedule")
    async def reschedule(
        appointment_id: str, body: RescheduleIn, request: Request, who: Principal = Depends(agent_dep)
    ) -> dict[str, Any]:
        before = await appointment_or_404(appointment_id)
        try:
            appt = await booking.reschedule(svc.deps(before.customer_id), appointment_id, body.starts_at)
        except ToolError as exc:
            raise booking_error(exc) from None
        await internal(
            appt.customer_id,
            who,
            "appointment",
            f"{who.name} moved {appt.department} {appt.kind.replace('_', ' ')} from {before.label()} to {appt.label()}",
            {"appointment_id": appt.id, "action": "rescheduled"},
        )
        await audit(who, request, "appointment.reschedule", appt.customer_id, detail={"appointment_id": appt.id})
        return appt.to_api()

    @router.post("/appointments/{appointment_id}/cancel")
    async def cancel(
        appointment_id: str, request: Request, body: CancelIn | None = None, who: Principal = Depends(agent_dep)
    ) -> dict[str, Any]:
        before = await appointment_or_404(appointment_id)
        reason = body.reason if body else None
        try:
            appt = await booking.cancel(svc.deps(before.customer_id), appointment_id, reason)
        except ToolError as exc:
            raise booking_error(exc) from None
        await internal(
            appt.customer_id,
            who,
            "appointment",
            f"{who.name} cancelled {appt.department} "
            f"{appt.kind.replace('_', ' ')} on {appt.label()}" + (f": {reason}" if reason else ""),
            {"appointment_id": appt.id, "action": "cancelled"},
        )
        await audit(who, request, "appointment.cancel", appt.customer_id, detail={"appointment_id": appt.id})
        return appt.to_api()

    # --- handoffs ----------------------------------------------------------------------------------
    @router.get("/handoffs")
    async def handoffs(
        request: Request,
        status: Literal["open", "claimed", "closed"] | None = None,
        limit: int = Query(default=100, ge=1, le=500),
        who: Principal = Depends(agent_dep),
    ) -> dict[str, Any]:
        items = await svc.handoff_views(await svc.queue(status, limit))
        await audit(
            who, request, "handoffs.read", customer_ids=[h["customer_id"] for h in items], detail={"status": status}
        )
        return {"items": items, "next_cursor": None}

    @router.get("/handoffs/{handoff_id}")
    async def handoff(handoff_id: str, request: Request, who: Principal = Depends(agent_dep)) -> dict[str, Any]:
        h = await handoff_or_404(handoff_id)
        await audit(who, request, "handoff.read", h.customer_id)
        return await svc.handoff_view(h)

    @router.post("/handoffs/{handoff_id}/claim")
    async def claim(
        handoff_id: str, request: Request, body: ClaimIn | None = None, who: Principal = Depends(agent_dep)
    ) -> dict[str, Any]:
        named = bool(body and body.assignee)
        target = (body.assignee if body and body.assignee else who.id).strip().lower()
        if target != who.id and not who.at_least("manager"):
            raise HTTPException(status_code=403, detail="only managers can assign a handoff to someone else")
        if target != who.id and await svc.staff.get(target) is None and target not in {m.id for m in svc.dealer.staff}:
            raise HTTPException(status_code=422, detail=f"no staff member {target!r}")
        await handoff_or_404(handoff_id)
        try:
            h = await svc.writer.claim(
                handoff_id, target, at=svc.clock(), by=who.actor, force=named and who.at_least("manager")
            )
        except Conflict as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        name = svc.staff_name(target) if target != who.id else who.name
        text = f"{name} took over the conversation" if target == who.id else f"{who.name} assigned it to {name}"
        await internal(
            h.customer_id, who, "handoff", text, {"handoff_id": h.id, "event": "claimed", "assignee": target}
        )
        await audit(who, request, "handoff.claim", h.customer_id, detail={"handoff_id": h.id, "assignee": target})
        return await svc.handoff_view(h)

    def must_own(h: Handoff, who: Principal) -> None:
        if h.status == "closed":
            raise HTTPException(status_code=409, detail="this handoff is closed")
        if h.status != "claimed":
            raise HTTPException(status_code=409, detail="claim the handoff first")
        if h.assignee != who.id:
            raise HTTPException(status_code=409, detail=f"claimed by {h.assignee}; a manager can reassign it")

    @router.post("/handoffs/{handoff_id}/messages", status_code=201)
    async def message(
        handoff_id: str, body: TextIn, request: Request, who: Principal = Depends(agent_dep)
    ) -> dict[str, Any]:
        h = await handoff_or_404(handoff_id)
        must_own(h, who)
        text = body.text.strip()
        if not text:
            raise HTTPException(status_code=422, detail="the message is empty")
        try:
            delivered = await svc.delivery.send(h, who, text)
        except NotDeliverable as exc:
            await audit(
                who, request, "handoff.message_refused", h.customer_id, detail={"handoff_id": h.id, "reason": str(exc)}
            )
            raise HTTPException(status_code=exc.status, detail=str(exc)) from None
        if delivered.via == "callback":
            await svc.writer.note(h.id, text, at=svc.clock(), by=who.actor, event="callback_requested")
        await audit(
            who,
            request,
            "handoff.message",
            h.customer_id,
            detail={"handoff_id": h.id, "via": delivered.via, "status": delivered.status},
        )
        return delivered.to_api(svc.tz)

    @router.post("/handoffs/{handoff_id}/notes", status_code=201)
    async def note(handoff_id: str, body: TextIn, request: Request, who: Principal = Depends(agent_dep)) -> dict:
        h = await handoff_or_404(handoff_id)
        text = body.text.strip()
        h = await svc.writer.note(h.id, text, at=svc.clock(), by=who.actor)
        await svc.customers.add_note(h.customer_id, text, author=who.actor)
        await internal(
            h.customer_id, who, "note", text, {"handoff_id": h.id, "staff": {"id": who.id, "name": who.name}}
        )
        await audit(who, request, "handoff.note", h.customer_id, detail={"handoff_id": h.id})
        return await svc.handoff_view(h)

    async def finish(handoff_id: str, request: Request, who: Principal, event: str, note: str | None) -> dict:
        h = await handoff_or_404(handoff_id)
        if h.status == "claimed" and h.assignee != who.id and not who.at_least("manager"):
            raise HTTPException(status_code=409, detail=f"claimed by {h.assignee}; only they or a manager can do that")
        if h.status == "closed":
            raise HTTPException(status_code=409, detail="this handoff is already closed")
        h = await svc.writer.close(h.id, at=svc.clock(), by=who.actor, event=event, note=note)
        text = (
            f"{who.name} handed the conversation back to the AI"
            if event == "released"
            else f"{who.name} closed the handoff" + (f": {note}" if note else "")
        )
        await internal(h.customer_id, who, "handoff", text, {"handoff_id": h.id, "event": event})
        await audit(
            who,
            request,
            f"handoff.{'release' if event == 'released' else 'close'}",
            h.customer_id,
            detail={"handoff_id": h.id},
        )
        return await svc.handoff_view(h)

    @router.post("/handoffs/{handoff_id}/release")
    async def release(handoff_id: str, request: Request, who: Principal = Depends(agent_dep)) -> dict[str, Any]:
        return await finish(handoff_id, request, who, "released", None)

    @router.post("/handoffs/{handoff_id}/close")
    async def close(
        handoff_id: str, request: Request, body: CloseIn | None = None, who: Principal = Depends(agent_dep)
    ) -> dict[str, Any]:
        return await finish(handoff_id, request, who, "closed", body.resolution if body else None)

    # --- reports and audit -------------------------------------------------------------------------
    @router.get("/reports/leads-by-source")
    async def report_sources(
        request: Request, since: str | None = None, until: str | None = None, who: Principal = Depends(manager_dep)
    ) -> dict[str, Any]:
        data = await leads_by_source(
            svc.redis, svc.keys, since=_parse_time(since, "since"), until=_parse_time(until, "until")
        )
        await audit(who, request, "report.leads_by_source")
        return {**data, "generated_at": svc.iso(svc.clock())}

    @router.get("/audit")
    async def audit_log(
        request: Request,
        actor: str | None = None,
        action: str | None = None,
        customer_id: str | None = None,
        cursor: str | None = None,
        limit: int = Query(default=50, ge=1, le=500),
        who: Principal = Depends(admin_dep),
    ) -> dict[str, Any]:
        items, next_cursor = await svc.audit.read(
            limit=limit, cursor=cursor, actor=actor, action=action, customer_id=customer_id
        )
        await audit(who, request, "audit.read", detail={"actor": actor, "action": action, "customer_id": customer_id})
        return {"items": items, "next_cursor": next_cursor}

    return router
