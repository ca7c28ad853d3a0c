"""Server processes for the HTTP/websocket benchmarks: `python -m bench.serve` on a free port.

Each process gets the product's environment contract (DEALEROS_DATA_DIR, REDIS_URL, TWILIO_AUTH_TOKEN,
DEALEROS_PUBLIC_URL, DEALEROS_DEALER_CONFIG) and nothing that could reach a network: OpenAI and
Twilio REST credentials and CHROMA_URL are removed from its environment, so the SMS sender is the
dry-run sender. It runs in its own temp dir (no stray `.env` is read); stdout/stderr go to a log file
(the dry-run sender logs every text it "sends", which the SMS benchmarks count).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import ROOT

AUTH_TOKEN = "bench-auth-token-0123456789abcdef"  # the HMAC key of these runs; requests are signed with it
PUBLIC_URL = "https://bench.dealeros.test"  # what "Twilio" calls; signatures are over this URL
_SCRUB = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DEALEROS_MODEL", "TWILIO_ACCOUNT_SID", "TWILIO_FROM_NUMBER",
          "CHROMA_URL", "DEALEROS_ADMIN_TOKEN")  # fmt: skip


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    name: str
    args: list[str]
    workdir: Path
    redis_url: str
    dealer_config: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    started_s: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        env.update(
            {
                "DEALEROS_DATA_DIR": str(self.workdir / "data"),
                "REDIS_URL": self.redis_url,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "DEALEROS_PUBLIC_URL": PUBLIC_URL,
                "DEALEROS_DEALER_CONFIG": str(self.dealer_config),
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
            }
        )
        cmd = [sys.executable, "-m", "bench.serve", "--port", str(self.port), *self.args]
        self._t0 = time.perf_counter()
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    async def wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.perf_counter() + timeout_s
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            while True:
                if self.proc is None or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited at start; log: {self.log_path}\n{self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    r = await client.get("/readyz")
                    if r.status_code == 200:
                        self.started_s = time.perf_counter() - self._t0
                        return
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s; log: {self.log_path}")
                await asyncio.sleep(0.25)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGINT (uvicorn's graceful shutdown: running SMS turns finish), then SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def monitor_since_last(self) -> dict | None:
        """The server's event-loop lag and GC pauses since the previous call (bench.serve.LoopMonitor)."""
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
                r = await client.get("/__bench/monitor")
                return r.json() if r.status_code == 200 else None
        except httpx.HTTPError:
            return None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def errors_since(self, offset: int = 0) -> dict[str, int]:
        """Exceptions the server logged since `offset` (bytes into its log), by final traceback line."""
        import re
        from collections import Counter

        try:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
        except FileNotFoundError:
            return {}
        found = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Busy|Exceeded)[\w]*(?::[^\n]{0,120})?)$", text, re.M)
        # one count per kind of failure, not per customer: ids and numbers out
        normalized = [re.sub(r"\+?\b[0-9a-f]*\d[0-9a-f]{5,}\b", "…", line) for line in found]
        return dict(Counter(normalized).most_common(10))

    def monitor(self) -> dict | None:
        """The `BENCH-MONITOR` summary the server printed when it stopped (event-loop lag, GC)."""
        import json

        for line in reversed(self.log_text().splitlines()):
            if line.startswith("BENCH-MONITOR "):
                return json.loads(line.removeprefix("BENCH-MONITOR "))
        return None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@contextlib.asynccontextmanager
async def running(*servers: ServerProcess):
    """Start them all at once, wait until each answers /readyz, stop them all on the way out."""
    try:
        for s in servers:
            s.start()
        await asyncio.gather(*(s.wait_ready() for s in servers))
        yield servers
    finally:
        for s in servers:
            s.stop()
