"""The staff console (`GET /console`): server-rendered pages, one small script, a live websocket.

Pages authenticate with an HttpOnly, SameSite=Strict cookie scoped to `/console` (set by the login
form or `POST /api/auth/login`); the page carries the same token for its API calls (bearer) and for
`WS /console/ws?token=…`. The API itself never reads the cookie, so no cross-site form can act on it.

`WS /console/ws?token=…[&customer_id=…]` — server -> client JSON frames:
  {"type": "hello", "staff"}                     once
  {"type": "snapshot", "items": [handoff…]}      the active queue (open + claimed), on connect
  {"type": "handoff", "event", "handoff"}        every change (closed ones too: drop them from the queue)
  {"type": "timeline", "customer_id", "items"}   with customer_id: new journey items of that customer
  {"type": "pong"}                               answer to {"type": "ping"}
Handoff changes come from the dealer's event channel (Redis pub/sub, `tools.handoff.events_channel`);
nothing polls from the browser. A bad token is refused before the handshake completes (HTTP 403).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from channels.staff.auth import Principal, StaffAuth
from channels.staff.journey import build_journey, channel_label, event_item
from channels.staff.reports import bar_chart, leads_by_source
from channels.staff.routing import on_shift
from channels.staff.service import StaffService, display_name, format_phone
from memory.consent import CHANNELS, PURPOSES
from tools import booking
from tools.handoff import Handoff, events_channel

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "web" / "console"
STATIC_DIR = CONSOLE_DIR / "static"
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}
TIMELINE_TICK_S = 1.0
REAUTH_EVERY_S = 60.0
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
MAX_FORM = 8 * 1024


def _asset_version() -> str:
    stamps = [int((STATIC_DIR / f).stat().st_mtime) for f in STATIC_FILES if (STATIC_DIR / f).exists()]
    return str(max(stamps, default=0))


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/console") and "//" not in value and "\\" not in value:
        return value
    return "/console"


def build_console_router(svc: StaffService) -> APIRouter:
    env = Environment(loader=FileSystemLoader(CONSOLE_DIR / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["channel_label"] = channel_label
    env.filters["phone"] = format_phone
    router = APIRouter(tags=["console"], include_in_schema=False)
    version = _asset_version()

    async def page_principal(request: Request) -> tuple[Principal | None, str | None]:
        token = request.cookies.get(StaffAuth.COOKIE)
        return (await svc.auth.from_token(token), token) if token else (None, None)

    def html(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(
            body,
            status_code=status,
            headers={
                "Content-Security-Policy": CSP,
                "Cache-Control": "no-store",
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
        )

    def render(name: str, who: Principal | None, token: str | None, page: str, **ctx: Any) -> HTMLResponse:
        template = env.get_template(name)
        return html(template.render(dealer=svc.dealer, staff=who, token=token or "", page=page, version=version, **ctx))

    def to_login(request: Request) -> RedirectResponse:
        return RedirectResponse(f"/console/login?next={quote(str(request.url.path))}", status_code=303)

    async def audit(who: Principal, request: Request, action: str, customer_id: str | None = None, **kw: Any) -> None:
        await svc.audit.record(
            who, action, path=str(request.url.path), method=request.method, customer_id=customer_id, **kw
        )

    # --- login / logout ----------------------------------------------------------------------------
    @router.get("/console/login")
    async def login_page(request: Request, next: str | None = None) -> Response:
        who, _ = await page_principal(request)
        if who is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return render("login.html", None, None, "login", next=_safe_next(next), error=None)

    @router.post("/console/login")
    async def login_form(request: Request) -> Response:
        body = (await request.body())[:MAX_FORM].decode("utf-8", "replace")
        form = dict(parse_qsl(body, keep_blank_values=True))
        sid, password, nxt = form.get("id", "").strip().lower(), form.get("password", ""), _safe_next(form.get("next"))
        error = None
        account = None
        if await svc.staff.login_blocked(sid):
            error = "Too many failed attempts. Try again in a few minutes."
        else:
            account = await svc.staff.verify(sid, password) if sid and password else None
            if account is None:
                await svc.staff.login_failed(sid)
                error = "Wrong staff id or password."
        if account is None:
            await svc.audit.record(
                None, "auth.login_failed", path=str(request.url.path), method="POST", actor=f"staff:{sid[:40]}"
            )
            page = render("login.html", None, None, "login", next=nxt, error=error, last_id=sid)
            page.status_code = 401 if "Wrong" in (error or "") else 429
            return page
        token, _ = await svc.staff.open_session(account)
        who = Principal(id=account.id, name=account.name, role=account.role, team=account.team)
        await audit(who, request, "auth.login")
        out = RedirectResponse(nxt, status_code=303)
        out.set_cookie(
            StaffAuth.COOKIE,
            token,
            max_age=svc.staff.session_ttl_s,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return out

    @router.post("/console/logout")
    async def logout(request: Request) -> Response:
        who, _ = await page_principal(request)
        if who is not None:
            if who.token_sha:
                await svc.staff.close_session(who.token_sha)
            await audit(who, request, "auth.logout")
        out = RedirectResponse("/console/login", status_code=303)
        out.delete_cookie(StaffAuth.COOKIE, path="/console")
        return out

    # --- pages -------------------------------------------------------------------------------------
    async def todays_appointments(day: dt.date) -> list[dict[str, Any]]:
        appts = await booking.list_for_day(svc.deps(), day, include_cancelled=True)
        out = []
        for a in appts:
            c = await svc.primary(a.customer_id)
            out.append(
                {
                    **a.to_api(),
                    "time": a.local_start().strftime("%H:%M"),
                    "label": a.label(),
                    "customer_name": display_name(c) if c else a.customer_id,
                    "customer_id": c.id if c else a.customer_id,
                }
            )
        return out

    @router.get("/console")
    async def queue_page(request: Request) -> Response:
        who, token = await page_principal(request)
        if who is None:
            return to_login(request)
        items = await svc.handoff_views(await svc.queue())
        today = svc.clock().astimezone(svc.tz).date()
        appts = await todays_appointments(today)
        now = svc.clock()
        on = [{"id": m.id, "name": m.name, "team": m.team} for m in svc.dealer.staff if on_shift(m, now, svc.dealer)]
        await audit(
            who,
            request,
            "console.queue",
            customer_ids=[h["customer_id"] for h in items] + [a["customer_id"] for a in appts],
        )
        return render("queue.html", who, token, "queue", handoffs=items, appointments=appts, on_shift=on, today=today)

    @router.get("/console/customers/{customer_id}")
    async def customer_page(customer_id: str, request: Request) -> Response:
        who, token = await page_principal(request)
        if who is None:
            return to_login(request)
        c = await svc.primary(customer_id)
        if c is None:
            raise HTTPException(status_code=404, detail="no such customer")
        if c.id != customer_id:
            return RedirectResponse(f"/console/customers/{c.id}", status_code=303)
        consent = await svc.consent(c)
        journey = await build_journey(svc, c)
        deps = svc.deps()
        appts = []
        for cid in await svc.customers.sources(c.id):
            appts += await booking.list_for_customer(deps, cid, include_past=True)
        now = svc.clock()
        appts.sort(key=lambda a: a.starts_at)
        upcoming = [a for a in appts if a.status == "booked" and a.ends_at > now]
        past = [a for a in appts if a not in upcoming]
        active = await svc.handoffs.active_for(c.id)
        handoff = await svc.handoff_view(active) if active else None
        kinds = {
            name: (d.appointments.kinds if d.appointments else [])
            for name, d in svc.dealer.departments.items()
            if d.appointments
        }
        merges = await svc.customers.merges_of(c.id)
        await audit(who, request, "customer.read", c.id, detail={"via": "console"})
        return render(
            "customer.html",
            who,
            token,
            "customer",
            customer=c,
            consent=consent,
            channels=CHANNELS,
            purposes=PURPOSES,
            journey=journey,
            upcoming=upcoming,
            past=past,
            handoff=handoff,
            kinds=kinds,
            merges=merges,
            source_items=sorted((c.source or {}).items()),
            tomorrow=(now.astimezone(svc.tz) + dt.timedelta(days=1)).date().isoformat(),
        )

    @router.get("/console/search")
    async def search_page(request: Request, q: str = "", cursor: str | None = None) -> Response:
        who, token = await page_principal(request)
        if who is None:
            return to_login(request)
        q = q.strip()[:200]
        results, next_cursor = [], None
        if q:
            page = await svc.search.search(q=q, cursor=cursor, limit=25)
            results, next_cursor = page.items, page.next_cursor
            await audit(who, request, "customers.search", customer_ids=[c.id for c in results], detail={"q": q})
        return render("search.html", who, token, "search", q=q, results=results, next_cursor=next_cursor)

    @router.get("/console/appointments")
    async def appointments_page(request: Request, date: str | None = None) -> Response:
        who, token = await page_principal(request)
        if who is None:
            return to_login(request)
        try:
            day = dt.date.fromisoformat(date) if date else svc.clock().astimezone(svc.tz).date()
        except ValueError:
            day = svc.clock().astimezone(svc.tz).date()
        appts = await todays_appointments(day)
        await audit(who, request, "appointments.read", customer_ids=[a["customer_id"] for a in appts])
        return render(
            "appointments.html",
            who,
            token,
            "appointments",
            day=day,
            appointments=appts,
            prev=(day - dt.timedelta(days=1)).isoformat(),
            next=(day + dt.timedelta(days=1)).isoformat(),
        )

    @router.get("/console/reports")
    async def reports_page(request: Request) -> Response:
        who, token = await page_principal(request)
        if who is None:
            return to_login(request)
        if not who.at_least("manager"):
            return render("denied.html", who, token, "reports", need="manager")
        data = await leads_by_source(svc.redis, svc.keys)
        await audit(who, request, "report.leads_by_source")
        return render("reports.html", who, token, "reports", report=data, chart=bar_chart(data["items"]))

    @router.get("/console/static/{name}")
    async def static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(status_code=404)
        return FileResponse(
            STATIC_DIR / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "public, max-age=300"}
        )

    # --- live updates ------------------------------------------------------------------------------
    @router.websocket("/console/ws")
    async def console_ws(ws: WebSocket) -> None:
        who = await svc.auth.from_token(ws.query_params.get("token"))
        if who is None:
            await ws.close(code=1008)
            return
        watch = ws.query_params.get("customer_id")
        customer = await svc.primary(watch) if watch else None
        await ws.accept()
        pubsub = svc.redis.pubsub()
        await pubsub.subscribe(events_channel(svc.keys))
        await svc.audit.record(
            who, "console.connect", path="/console/ws", method="WS", customer_id=customer.id if customer else None
        )
        lock = asyncio.Lock()
        wake = asyncio.Event()

        async def send(frame: dict[str, Any]) -> None:
            async with lock:
                await ws.send_text(json.dumps(frame, default=str))

        async def receive() -> None:
            while True:
                raw = await ws.receive_text()
                with contextlib.suppress(ValueError, AttributeError):
                    if json.loads(raw).get("type") == "ping":
                        await send({"type": "pong"})

        async def pump() -> None:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    data = json.loads(message["data"])
                    if data.get("type") == "handoff":
                        h = Handoff.model_validate(data["handoff"])
                    elif data.get("type") == "handoff_routed":
                        h = await svc.handoffs.get(data["handoff_id"])
                    else:
                        continue
                    view = await svc.handoff_view(h)
                except Exception:
                    log.warning("console: skipped an unreadable event", exc_info=True)
                    continue
                await send({"type": "handoff", "event": data.get("event") or data["type"], "handoff": view})
                if customer is not None and view["customer_id"] == customer.id:
                    wake.set()

        async def timeline_watch() -> None:
            assert customer is not None
            ids = await svc.customers.sources(customer.id)
            seen: set[str] = set()  # the first pass resends the newest events; the page drops ones it has
            staff_names = {m.id: m.name for m in svc.dealer.staff}
            staff_names.update({a.id: a.name for a in await svc.staff.list()})
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), TIMELINE_TICK_S)
                wake.clear()
                fresh = [e for e in await svc.timeline.read(ids, limit=50, newest=True) if e.id not in seen]
                if fresh:
                    seen.update(e.id for e in fresh)
                    items = [event_item(e, svc.tz, customer.name, staff_names) for e in fresh]
                    await send({"type": "timeline", "customer_id": customer.id, "items": items})

        async def reauth() -> None:
            while True:
                await asyncio.sleep(REAUTH_EVERY_S)
                if await svc.auth.from_token(ws.query_params.get("token")) is None:
                    await ws.close(code=1008)
                    return

        tasks: list[asyncio.Task] = []
        try:
            await send({"type": "hello", "staff": who.to_api()})
            await send({"type": "snapshot", "items": await svc.handoff_views(await svc.queue())})
            tasks = [asyncio.create_task(receive()), asyncio.create_task(pump()), asyncio.create_task(reauth())]
            if customer is not None:
                tasks.append(asyncio.create_task(timeline_watch()))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:  # a disconnect ends receive(); anything else is worth a debug line
                if t.exception() is not None:
                    log.debug("console websocket ended: %r", t.exception())
        except Exception:
            log.debug("console websocket closed", exc_info=True)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
                await pubsub.aclose()

    return router
