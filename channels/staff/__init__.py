"""BDC staff: the Staff API (`/api/...`), the console (`/console`), SLA escalation and routing.

`build_staff_router(agent=..., services=..., dealer=..., admin_token=..., sender=...)` returns one
APIRouter with every route. Its lifespan (merged into the app's by FastAPI's include_router) runs
the background work: the SLA escalation loop and the router that suggests an assignee for each new
handoff. Without a lifespan (tests), call `router.background.start()` / `aclose()` — or nothing:
suggestions are also computed on first read and `escalate_overdue` can be called directly.

Redis pub/sub channels:
* `tools.handoff.events_channel(keys)` = `dos:{<dealer>}:events` — handoff changes (read by the
  console websocket; written by HandoffStore and by this package, which adds `"event"` and publishes
  `{"type": "handoff_routed", "handoff_id", "route"}` when it routes one).
* `staff_delivery_channel(keys)` = `dos:{<dealer>}:staff:delivery` — staff replies to web chat
  visitors (`{"type": "staff_message", ...}`, see channels/staff/delivery.py); web chat forwards them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter

from channels.staff.api import build_api_router
from channels.staff.console import build_console_router
from channels.staff.delivery import staff_delivery_channel
from channels.staff.routing import route, suggest
from channels.staff.service import StaffService
from channels.staff.sla import escalate_overdue, reply_due, reply_eta_sentence, sla_loop
from tools.dealer import DealerConfig
from tools.handoff import Handoff, events_channel

log = logging.getLogger(__name__)


class StaffBackground:
    """The SLA loop and the handoff router, as tasks with a clean shutdown."""

    def __init__(self, svc: StaffService, *, sla_interval_s: float = 30.0) -> None:
        self.svc = svc
        self.sla_interval_s = sla_interval_s
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        if self._tasks:
            return
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(
                sla_loop(
                    self.svc.handoffs,
                    self.svc.dealer,
                    clock=self.svc.clock,
                    interval_s=self.sla_interval_s,
                    stop=self._stop,
                )
            ),
            asyncio.create_task(self._route_new()),
        ]

    async def aclose(self) -> None:
        self._stop.set()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _route_new(self) -> None:
        """Suggest an assignee for every handoff as it opens (and for any left unrouted at start)."""
        svc = self.svc
        pubsub = svc.redis.pubsub()
        await pubsub.subscribe(events_channel(svc.keys))
        try:
            for h in await svc.handoffs.list("open", limit=1000):
                await svc.writer.ensure_routed(h, svc.dealer, svc.clock())
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    data = json.loads(message["data"])
                    if data.get("type") == "handoff" and data["handoff"].get("status") == "open":
                        await svc.writer.ensure_routed(Handoff.model_validate(data["handoff"]), svc.dealer, svc.clock())
                except Exception:
                    log.warning("handoff routing skipped an event", exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
                await pubsub.aclose()


def build_staff_router(
    *,
    agent: Any,
    services: Any,
    dealer: DealerConfig,
    admin_token: str | None,
    sender: Any,
    clock: Any = None,
    sla_interval_s: float = 30.0,
    session_ttl_s: int | None = None,
) -> APIRouter:
    """The Staff API and the console. `services` is agent.turn.Services (its redis, keys and clock
    are used); `sender` is the SMS sender staff replies go through (dry-run or Twilio)."""
    svc = StaffService(
        redis=services.redis,
        keys=services.keys,
        dealer=dealer,
        admin_token=admin_token,
        sender=sender,
        clock=clock or services.clock,
        agent=agent,
        services=services,
        session_ttl_s=session_ttl_s,
    )
    background = StaffBackground(svc, sla_interval_s=sla_interval_s)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await background.start()
        try:
            yield
        finally:
            await background.aclose()

    router = APIRouter(lifespan=lifespan)
    router.include_router(build_api_router(svc))
    router.include_router(build_console_router(svc))
    router.staff = svc  # type: ignore[attr-defined]
    router.background = background  # type: ignore[attr-defined]
    return router


__all__ = [
    "StaffBackground",
    "StaffService",
    "build_staff_router",
    "escalate_overdue",
    "reply_due",
    "reply_eta_sentence",
    "route",
    "sla_loop",
    "staff_delivery_channel",
    "suggest",
]
