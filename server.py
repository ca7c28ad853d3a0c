"""Composition root and CLI: settings -> stores -> tools -> graph -> channels -> FastAPI app.

This is the only module (with settings.py) that reads the environment; everything it builds
receives plain values.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from memory.keys import Keys
from memory.redis import RedisHandle, open_redis
from settings import Settings
from tools.dealer import DealerConfig, load_dealer_config

log = logging.getLogger("dealeros")


# --- the runtime: every long-lived object, built once per process ------------------------------
@dataclass
class Runtime:
    settings: Settings
    dealer: DealerConfig
    redis_handle: RedisHandle
    redis: Any  # redis.asyncio.Redis
    keys: Keys
    vectors: Any = None  # memory.vectors.VectorStore
    parts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings, *, models: bool = True, bootstrap: bool = True) -> Runtime:
        """Open stores for the configured dealer; `bootstrap` imports the dealer's feed and knowledge
        when the store has none (a fresh install serves the demo dealership at once)."""
        rt = cls.open(settings, models=models)
        if bootstrap and models:
            await rt.bootstrap()
        return rt

    @classmethod
    def open(cls, settings: Settings, *, models: bool = True) -> Runtime:
        """Connect the stores without touching an event loop. `models=False` skips loading the
        embedding model (commands that need no vectors)."""
        dealer = load_dealer_config(settings.dealer_config)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open_redis(settings.redis_url, settings.data_dir)
        rt = cls(settings=settings, dealer=dealer, redis_handle=handle, redis=handle.client(), keys=Keys(dealer.id))
        if models:
            from memory.embeddings import get_embedder
            from memory.vectors import open_vector_store

            embedder = get_embedder(settings.data_dir / "models")  # the ONNX export is kept there
            rt.vectors = open_vector_store(settings.chroma_url, settings.data_dir, embedder)
        return rt

    async def bootstrap(self) -> None:
        """First start: load the dealer's inventory feed and index its knowledge documents."""
        from integrations.inventory_csv import import_inventory
        from tools.knowledge import index_knowledge

        if not await self.redis.scard(self.keys.vehicles()):
            feed = self.dealer.path(self.dealer.inventory_feed)
            if feed and feed.exists():
                report = await import_inventory(self.redis, self.keys, feed, vectors=self.vectors)
                log.info("imported %s vehicles from %s", report.imported, feed)
        await index_knowledge(self.vectors, self.dealer)
        memory = self.customer_memory()
        if memory is not None:  # memories stored before the recall index existed (once per install)
            copied = await memory.backfill_recall_index()
            if copied:
                log.info("recall index: copied %s memories", copied)
        await asyncio.to_thread(self.warm_up)

    async def warm_redis_pool(self, connections: int = 64) -> None:
        """Open connections before traffic does: a burst of webhooks otherwise pays for opening one
        connection per concurrent request (measured in bench/: the herd's acknowledgements). Kept
        moderate: managed Redis plans cap connections, and every process holds its own pool."""
        await asyncio.gather(*(self.redis.ping() for _ in range(connections)))

    def warm_up(self) -> None:
        """Pay one-time costs (intent examples embedded, date parser data) before the first customer."""
        from tools.dates import warm_up as warm_dates

        warm_dates()
        offline = self.parts.get("offline_brain")
        if offline is not None:
            offline.warm_up()

    def customer_memory(self) -> Any:
        """The cross-channel customer memory (None without vectors), recalled through the Redis index."""
        if "memory" not in self.parts:
            from memory.vectors import CustomerMemory, RecallIndex

            memory = None
            if self.vectors is not None:
                index = RecallIndex(self.redis_handle.client(decode_responses=False), self.keys)
                memory = CustomerMemory(self.vectors, self.dealer.id, recall_index=index)
            self.parts["memory"] = memory
        return self.parts["memory"]

    def agent(self) -> Any:
        """The turn handler, with the LLM brain when one is configured (offline brain as fallback)."""
        if "agent" in self.parts:
            return self.parts["agent"]
        from agent.offline import OfflineBrain
        from agent.turn import Agent, Services
        from memory.checkpoint import AsyncRedisCheckpointSaver

        memory = self.customer_memory()
        services = Services(dealer=self.dealer, redis=self.redis, keys=self.keys, memory=memory, vectors=self.vectors)
        brain: Any = OfflineBrain()
        self.parts["offline_brain"] = brain
        if self.settings.llm_configured:
            from agent.llm import LLMBrain, make_chat_model
            from tools import ALL_TOOLS

            model = make_chat_model(
                self.settings.openai_api_key, self.settings.openai_base_url, self.settings.model, timeout_s=8.0
            )
            brain = LLMBrain(model=model, tools=ALL_TOOLS, fallback=brain)
        checkpointer = AsyncRedisCheckpointSaver(
            self.redis_handle.client(decode_responses=False), prefix=self.keys.checkpoint_prefix()
        )
        self.parts["services"] = services
        self.parts["agent"] = Agent(services, brain, checkpointer=checkpointer)
        return self.parts["agent"]

    async def close(self) -> None:
        services = self.parts.get("services")
        if services is not None:
            await services.drain()
        await self.redis_handle.aclose()
        self.redis_handle.shutdown()


async def readiness(rt: Runtime) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    try:
        checks["redis"] = bool(await asyncio.wait_for(rt.redis.ping(), 2))
    except Exception as exc:
        checks["redis"] = f"error: {exc}"
    checks["dealer"] = rt.dealer.id
    checks["vehicles"] = await rt.redis.scard(rt.keys.vehicles()) if checks["redis"] is True else None
    checks["vectors"] = rt.vectors is not None
    return checks


def build_sender(rt: Runtime, settings: Settings) -> Any:
    """Dry-run unless Twilio credentials are configured; one per process."""
    from channels.twilio_common import build_sender as make_sender

    if "sender" not in rt.parts:
        rt.parts["sender"] = make_sender(
            rt.redis,
            rt.keys,
            rt.dealer,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from_number,
            public_url=settings.public_url,
        )
    return rt.parts["sender"]


def create_app(settings: Settings, runtime: Runtime | None = None, *, worker: bool = True):  # -> FastAPI
    """The whole service: channels, staff API and console on one runtime. Stores are connected
    here; the dealer's feed and knowledge are loaded (first start) in the lifespan. With `worker`
    (the default) this process also runs the worker loop: it answers the texts it receives and
    those handed to workers or left by a process that died; without it, texts are acknowledged and
    queued for `dealeros worker` processes."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response

    from channels.leads import build_leads_router
    from channels.sms import build_sms_router
    from channels.staff import build_staff_router
    from channels.voice import build_voice_router
    from channels.webchat import build_webchat_router

    rt = runtime or Runtime.open(settings)
    agent = rt.agent()
    sender = build_sender(rt, settings)
    twilio = {"public_url": settings.public_url, "auth_token": settings.twilio_auth_token, "dealer": rt.dealer}
    sms_router = build_sms_router(agent, sender=sender, inline=worker, **twilio)
    leads_router = build_leads_router(agent, dealer=rt.dealer, sender=sender)
    routers = [
        sms_router,
        build_voice_router(agent, sender=sender, **twilio),
        build_webchat_router(agent, dealer=rt.dealer, public_url=settings.public_url),
        leads_router,
        build_staff_router(
            agent=agent,
            services=rt.parts["services"],
            dealer=rt.dealer,
            admin_token=settings.admin_token,
            sender=sender,
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.bootstrap()
        await rt.warm_redis_pool()
        # The model, Chroma and the stores are loaded: move them out of the collector's sight, or every
        # full collection pauses the event loop for a third of a second (measured in bench/).
        gc.collect()
        gc.freeze()
        log.info("DealerOS serving %s (%s)", rt.dealer.name, "embedded Redis" if rt.redis_handle.embedded else "Redis")
        if not settings.twilio_auth_token:
            log.warning("TWILIO_AUTH_TOKEN is not set: Twilio webhooks will be refused (403)")
        stop = asyncio.Event()
        loop = asyncio.create_task(sms_router.channel.run_worker(stop)) if worker else None
        if not worker:
            log.info("API only (--no-worker): texts are queued for `dealeros worker` processes")
        try:
            yield
        finally:
            stop.set()
            if loop is not None:
                await loop
            await sms_router.channel.aclose()
            await leads_router.intake.drain()
            await rt.close()

    app = FastAPI(title="DealerOS", version="0.1.0", lifespan=lifespan)
    app.state.rt = rt
    for router in routers:
        app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        import metrics

        body, content_type = metrics.exposition()
        return Response(content=body, media_type=content_type)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await readiness(rt)
        ok = checks["redis"] is True and checks["vectors"] and bool(checks["vehicles"])
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    return app


# --- CLI ------------------------------------------------------------------------------------
cli = typer.Typer(help="DealerOS: one AI front office behind every dealership touchpoint.", no_args_is_help=True)
import_cli = typer.Typer(help="Import DMS exports and dealer feeds.", no_args_is_help=True)
cli.add_typer(import_cli, name="import")


def _open_runtime_without_models() -> Runtime:
    return Runtime.open(Settings(), models=False)


def _mount_subcommands() -> None:
    from channels.staff.cli import make_app as make_staff_cli

    cli.add_typer(make_staff_cli(_open_runtime_without_models), name="staff", help="Staff accounts of the console.")
    from evals.cli import app as eval_app

    cli.add_typer(eval_app, name="eval", help="Run scenario suites against a brain; diff two runs.")


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Also run the worker loop (--no-worker: API only).")
    ] = True,
) -> None:
    """Run the API, channels and staff console (the embedded defaults need nothing else running)."""
    import uvicorn

    _setup_logging()
    app = create_app(Settings(), worker=worker)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Customers answered at once by this process.")] = 32,
) -> None:
    """Answer queued texts (and texts left by a process that died) on the shared Redis, for
    `dealeros serve --no-worker` processes; runs until SIGINT/SIGTERM, then finishes its turns."""
    import signal

    from channels.sms import BURST_WINDOW_S, SmsChannel

    settings = Settings()
    if not settings.redis_url:
        typer.echo(
            "dealeros worker needs REDIS_URL: it shares a Redis with `dealeros serve` processes "
            "(with the embedded Redis, `dealeros serve` runs its own worker).",
            err=True,
        )
        raise typer.Exit(2)
    _setup_logging()
    if not settings.chroma_url:
        log.warning("CHROMA_URL is not set: the embedded Chroma is not safe to share between processes")

    async def run() -> None:
        rt = await Runtime.start(settings)
        agent = rt.agent()
        channel = SmsChannel(
            agent,
            public_url=settings.public_url,
            auth_token=settings.twilio_auth_token,
            sender=build_sender(rt, settings),
            dealer=rt.dealer,
            burst_window_s=BURST_WINDOW_S,
            redis=rt.redis,
            keys=rt.keys,
            clock=agent.services.clock,
        )
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        log.info("DealerOS worker for %s: %d at once", rt.dealer.name, concurrency)
        try:
            await channel.run_worker(stop, concurrency=concurrency)
        finally:
            await rt.close()
        log.info("worker stopped")

    asyncio.run(run())


@cli.command()
def chat(
    channel: Annotated[str, typer.Option(help="Channel to act as: chat, sms or voice.")] = "chat",
    from_: Annotated[str | None, typer.Option("--from", help="Customer phone number (sms/voice).")] = None,
    email: Annotated[str | None, typer.Option(help="Customer email.")] = None,
    visitor: Annotated[str | None, typer.Option(help="Web visitor id (chat).")] = None,
) -> None:
    """Talk to the agent as a customer. Reads one message per line when stdin is not a terminal."""
    from agent.chat_cli import run_chat

    if channel not in {"chat", "sms", "voice"}:
        raise typer.BadParameter("channel must be chat, sms or voice", param_hint="--channel")
    if channel in {"sms", "voice"} and not from_:
        raise typer.BadParameter(f"--from +1... is needed on {channel}", param_hint="--from")
    from memory.identity import InvalidIdentity, normalize

    given = (("phone", from_, "--from"), ("email", email, "--email"), ("visitor", visitor, "--visitor"))
    for kind, value, hint in given:
        if value:
            try:
                normalize(kind, value)
            except InvalidIdentity as exc:
                raise typer.BadParameter(str(exc), param_hint=hint) from None
    _setup_logging("WARNING")

    async def run() -> int:
        rt = await Runtime.start(Settings())
        try:
            return await run_chat(rt.agent(), rt.dealer, channel=channel, phone=from_, email=email, visitor=visitor)
        finally:
            await rt.close()

    raise typer.Exit(asyncio.run(run()))


@import_cli.command("inventory")
def import_inventory_cmd(
    file: Annotated[Path, typer.Argument(help="Inventory feed CSV (DESIGN.md format).", exists=True)],
) -> None:
    """Sync the inventory from a feed: arrivals, price changes and units gone become events."""
    from integrations.inventory_csv import run_import_cli

    _setup_logging("WARNING")
    rt = Runtime.open(Settings())
    try:
        code = run_import_cli(rt.redis, rt.keys, file, rt.vectors)
    finally:
        rt.redis_handle.shutdown()
    raise typer.Exit(code)


_mount_subcommands()
