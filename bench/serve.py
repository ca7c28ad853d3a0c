"""`python -m bench.serve`: `dealeros serve` with a fake chat model of fixed latency — for benchmarks only.

The app is built exactly as `server.serve` builds it (Settings from the environment, `Runtime.open`,
`server.create_app`); the one difference is the brain: before `create_app` asks the runtime for its
agent, the agent `Runtime.agent()` wires (offline brain, vector memory, Redis checkpointer) gets an
`LLMBrain` over `bench.fakes.FixedLatencyChatModel` instead — the offline brain stays its fallback.
Nothing in the product reads a setting that could swap a fake in; this module is the only way.
Voice calls can get their own fake model (`--voice-latency-ms` …: a streaming model with a fixed time
to first token), so one server process serves both the SMS and the voice benchmarks.

Modes (for same-run baselines of the SMS benchmark):
  dealeros  the product app (default)
  echo      a bare FastAPI app whose `POST /twilio/sms` checks the Twilio signature with the same code
            and answers an empty `<Response/>` — the floor any signed Twilio webhook costs
  sync      the product's runtime, but the webhook runs the turn before answering and returns the
            reply in its TwiML (the naive build: the acknowledgement waits for the model)
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from bench.fakes import FixedLatencyChatModel


def fake_model(args: argparse.Namespace, prefix: str = "") -> FixedLatencyChatModel:
    def opt(name: str) -> Any:
        value = getattr(args, prefix + name)
        return getattr(args, name) if value is None else value

    latency = opt("latency_ms")
    tool_latency = opt("tool_latency_ms")
    return FixedLatencyChatModel(
        tool_name=None if args.no_tool else "get_vehicle_details",
        tool_args={"vin_or_stock": args.stock},
        tool_when=opt("tool_when"),
        latency_s=latency / 1000,
        tool_latency_s=(latency if tool_latency is None else tool_latency) / 1000,
        token_gap_s=args.token_gap_ms / 1000,
    )


class ChannelBrains:
    """Hands each turn to the brain for its channel (bench only: voice and SMS get different fakes)."""

    name = "llm"

    def __init__(self, default: Any, by_channel: dict[str, Any]) -> None:
        self.default = default
        self.by_channel = by_channel

    async def respond(self, inp: Any) -> Any:
        return await self.by_channel.get(inp.channel, self.default).respond(inp)


def build_app(args: argparse.Namespace) -> Any:
    from settings import Settings

    settings = Settings()
    if args.mode == "echo":
        return echo_app(settings)
    from agent.llm import LLMBrain
    from server import Runtime, create_app
    from tools import ALL_TOOLS

    runtime = Runtime.open(settings)
    agent = runtime.agent()  # production wiring; create_app reuses this instance (runtime.parts["agent"])
    brain: Any = LLMBrain(model=fake_model(args), tools=ALL_TOOLS, fallback=agent.brain)
    if args.voice_latency_ms is not None:
        voice = LLMBrain(model=fake_model(args, "voice_"), tools=ALL_TOOLS, fallback=agent.brain)
        brain = ChannelBrains(brain, {"voice": voice})
    agent.brain = brain
    app = create_app(settings, runtime, worker=not args.no_worker)
    if args.mode == "sync":
        add_sync_sms_route(app, agent, settings)
    return app


def echo_app(settings: Any) -> Any:
    from twilio.twiml.messaging_response import MessagingResponse

    from channels.twilio_common import SMS_PATH, twiml, verified_form

    app = FastAPI(title="echo")

    @app.post(SMS_PATH)
    async def inbound(request: Request) -> Any:
        await verified_form(request, public_url=settings.public_url, auth_token=settings.twilio_auth_token,
                            path=SMS_PATH)  # fmt: skip
        return twiml(MessagingResponse())

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


def add_sync_sms_route(app: Any, agent: Any, settings: Any) -> None:
    """Put a `POST /twilio/sms` that answers inside the webhook in front of the product's one."""
    from fastapi.routing import APIRoute
    from twilio.twiml.messaging_response import MessagingResponse

    from channels.sms import burst_message, parse_inbound, sms_body
    from channels.twilio_common import SMS_PATH, twiml, verified_form

    dealer = app.state.rt.dealer

    async def inbound(request: Request) -> Any:
        form = await verified_form(request, public_url=settings.public_url, auth_token=settings.twilio_auth_token,
                                   path=SMS_PATH)  # fmt: skip
        try:
            part = parse_inbound(form, dt.datetime.now(dt.UTC))
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        result = await agent.handle_turn(burst_message(dealer.id, [part]))
        response = MessagingResponse()
        if not result.duplicate:
            for reply in result.replies:
                response.message(sms_body(reply))
        return twiml(response)

    app.router.routes.insert(0, APIRoute(SMS_PATH, inbound, methods=["POST"]))  # the first match wins


class LoopMonitor:
    """ASGI wrapper that watches the event loop while the server runs: how late a 10 ms timer fires
    (the time the loop was busy with something else) and how long each garbage collection took.
    `GET /__bench/monitor` returns the summary since the last such request (and starts afresh); the
    summary of the whole run is printed as one `BENCH-MONITOR {json}` line when the server stops."""

    PATH = "/__bench/monitor"

    PERIOD_S = 0.01

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lags: list[float] = []
        self.gc_pauses: list[float] = []
        self._task: Any = None
        self._gc_started = 0.0
        self._mark = (0, 0)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if self._task is None and scope["type"] != "lifespan":  # from the first request on
            import asyncio
            import gc

            self._task = asyncio.get_running_loop().create_task(self._watch())
            gc.callbacks.append(self._on_gc)
        if scope["type"] == "http" and scope["path"] == self.PATH:
            import json

            body = json.dumps(self.summary(since=self._mark)).encode()
            self._mark = (len(self.lags), len(self.gc_pauses))
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return None
        return await self.app(scope, receive, send)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        import time

        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            self.gc_pauses.append(time.perf_counter() - self._gc_started)

    async def _watch(self) -> None:
        import asyncio
        import time

        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.PERIOD_S)
            self.lags.append(max(0.0, time.perf_counter() - t0 - self.PERIOD_S))

    def summary(self, since: tuple[int, int] = (0, 0)) -> dict[str, Any]:
        from bench.common import percentile

        ms = sorted(x * 1000 for x in self.lags[since[0] :])
        gc_ms = [x * 1000 for x in self.gc_pauses[since[1] :]]
        return {
            "loop_lag_ms": {"n": len(ms), "p50": percentile(ms, 50), "p99": percentile(ms, 99),
                            "max": max(ms, default=0.0), "over_50ms": sum(1 for x in ms if x > 50)},
            "gc": {"collections": len(gc_ms), "total_ms": sum(gc_ms), "max_ms": max(gc_ms, default=0.0)},
        }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--mode", choices=("dealeros", "echo", "sync"), default="dealeros")
    parser.add_argument("--latency-ms", type=float, default=500.0, help="fake model: time to first token")
    parser.add_argument(
        "--tool-latency-ms", type=float, default=None, help="fake model: tool-call round (default: --latency-ms)"
    )
    parser.add_argument("--token-gap-ms", type=float, default=0.0, help="fake model: gap between streamed words")
    parser.add_argument("--stock", default="T26101", help="stock number the fake model looks up")
    parser.add_argument("--tool-when", default=None, help="call the tool only when the message contains this")
    parser.add_argument("--no-tool", action="store_true", help="the fake model answers without calling a tool")
    parser.add_argument("--voice-latency-ms", type=float, default=None, help="voice calls' own fake model: TTFT")
    parser.add_argument("--voice-tool-latency-ms", type=float, default=None)
    parser.add_argument("--voice-tool-when", default=None)
    parser.add_argument(
        "--no-worker", action="store_true", help="API only, like `dealeros serve --no-worker`: texts are queued"
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--profile", default=None, help="write a pyinstrument profile of the whole run here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = monitor = LoopMonitor(build_app(args))
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    try:  # as `dealeros serve` runs it (access log included)
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=True)
    finally:
        import json

        print("BENCH-MONITOR " + json.dumps(monitor.summary()), flush=True)
        if profiler is not None:
            profiler.stop()
            with open(args.profile, "w") as f:
                f.write(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
