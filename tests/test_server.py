"""`dealeros serve` as a user runs it: a real process, real HTTP, Twilio-signed webhooks, and the
store read back after the process is gone (the embedded Redis persisted it)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from memory.customers import CustomerStore
from memory.keys import Keys
from memory.redis import open_redis
from memory.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo"
TOKEN = "test-auth-token-0123456789"
PUBLIC = "https://dealer.example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dealer_file(tmp_path):
    """The demo dealership under a unique id, so a shared REDIS_URL server never mixes runs."""
    data = yaml.safe_load((DEMO / "dealer.yaml").read_text())
    data.update(
        id=f"srv{uuid.uuid4().hex[:8]}",
        inventory_feed=str(DEMO / "inventory.csv"),
        knowledge_dir=str(DEMO / "knowledge"),
    )
    path = tmp_path / "dealer.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, data["id"]


def env_for(tmp_path, dealer_path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEALEROS_DATA_DIR": str(tmp_path / "var"),
        "TWILIO_AUTH_TOKEN": TOKEN,
        "DEALEROS_PUBLIC_URL": PUBLIC,
        "DEALEROS_DEALER_CONFIG": str(dealer_path),
        **extra,
    }


def start(tmp_path, dealer_path, *args: str, **extra_env: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = env_for(tmp_path, dealer_path, **extra_env)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from server import cli; cli()", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(proc.stdout.read())
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # a starting process: poll its readiness until the deadline
    proc.kill()
    pytest.fail("dealeros serve did not become ready")


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()  # graceful: uvicorn shuts down and the SMS channel finishes its work first
    out, _ = proc.communicate(timeout=60)
    return out


def sms(body: str, sid: str, phone: str) -> tuple[dict[str, str], dict[str, str]]:
    params = {
        "From": phone,
        "To": "+18135550142",
        "Body": body,
        "MessageSid": sid,
        "AccountSid": "AC" + "b" * 32,
        "NumMedia": "0",
    }
    sig = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/sms", params)
    return params, {"X-Twilio-Signature": sig}


def scrape(base: str) -> dict[tuple[str, ...], float]:
    """GET /metrics, parsed: (sample name, *label values in label-name order) -> value."""
    r = httpx.get(f"{base}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            labels = tuple(v for k, v in sorted(sample.labels.items()) if k not in {"brain", "le"})
            if "le" not in sample.labels:
                out[(sample.name, *labels)] = out.get((sample.name, *labels), 0) + sample.value
    return out


def journey(data_dir: Path, dealer_id: str, phone: str):
    async def run():
        handle = open_redis(os.environ.get("REDIS_URL") or None, data_dir)
        client = handle.client()
        try:
            keys = Keys(dealer_id)
            customer = await CustomerStore(client, keys).lookup("phone", phone)
            events = await Timeline(client, keys).read([customer.id]) if customer else []
            vehicles = await client.scard(keys.vehicles())
            index = {  # the memory recall index: complete, and this customer's memories in it
                "ready": bool(await client.exists(keys.memory_index_ready())),
                "entries": await client.hlen(keys.memory_vectors(customer.id)) if customer else 0,
            }
            if os.environ.get("REDIS_URL"):
                async for key in client.scan_iter(match=keys.scan_pattern(), count=1000):
                    await client.delete(key)
            return customer, events, vehicles, index
        finally:
            await handle.aclose()
            handle.shutdown()

    return asyncio.run(run())


def test_serve_answers_a_signed_text_once_and_persists_it(tmp_path, dealer_file):
    dealer_path, dealer_id = dealer_file
    proc, base = start(tmp_path, dealer_path)
    try:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["checks"]["vehicles"] >= 150 and ready["checks"]["redis"] is True

        phone = "+18135550190"
        params, headers = sms("any used tacomas under 35k?", "SM" + "a" * 32, phone)
        assert httpx.post(f"{base}/twilio/sms", data=params, headers={"X-Twilio-Signature": "bogus"}).status_code == 403
        assert httpx.post(f"{base}/twilio/sms", data=params).status_code == 403
        first = httpx.post(f"{base}/twilio/sms", data=params, headers=headers)
        assert first.status_code == 200 and "<Response" in first.text
        again = httpx.post(f"{base}/twilio/sms", data=params, headers=headers)  # Twilio retried
        assert again.status_code == 200

        # Prometheus metrics of the process: the webhooks at once, the turn once it is answered.
        deadline = time.monotonic() + 60
        while (scraped := scrape(base)).get(("dealeros_turns_total", "sms", "replied"), 0) < 1:
            assert time.monotonic() < deadline, scraped
            time.sleep(0.1)  # the reply is sent asynchronously: poll the counter until the deadline
        assert scraped[("dealeros_sms_webhooks_total", "processing")] == 1
        assert scraped[("dealeros_sms_webhooks_total", "duplicate")] == 1
        assert scraped[("dealeros_turn_seconds_count", "sms")] == 1
        assert scraped[("dealeros_consent_decisions_total", "sms", "ok", "transactional")] >= 1
        # the text was embedded while its burst waited, not by the turn
        assert scraped.get(("dealeros_memory_query_vectors_total", "cache")) == 1, scraped
        assert scraped.get(("dealeros_memory_query_vectors_total", "embedded"), 0) == 0
    finally:
        log = stop(proc)

    customer, events, vehicles, index = journey(tmp_path / "var", dealer_id, phone)
    assert customer is not None, log[-3000:]
    assert vehicles >= 150
    # bootstrap marked the recall index complete, and the customer's text was remembered in it
    assert index == {"ready": True, "entries": 1}, log[-3000:]
    inbound = [e for e in events if e.direction == "inbound"]
    outbound = [e for e in events if e.direction == "outbound"]
    assert [e.text for e in inbound] == ["any used tacomas under 35k?"]
    assert len(outbound) == 1 and "Tacoma" in outbound[0].text, log[-3000:]
    assert outbound[0].meta.get("delivery"), "the dry-run sender recorded the send on the reply"


def test_worker_needs_a_shared_redis(tmp_path, dealer_file):
    env = env_for(tmp_path, dealer_file[0])
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", "from server import cli; cli()", "worker"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2 and "needs REDIS_URL" in out.stderr


def test_api_only_serve_and_a_worker_answer_texts_together(tmp_path, dealer_file, redis_handle):
    """Production shape: `serve --no-worker` acknowledges and queues, `dealeros worker` answers,
    both on one Redis (the machine's server, or the test's embedded one over its socket)."""
    dealer_path, dealer_id = dealer_file
    shared = {"REDIS_URL": redis_handle.url}
    worker = subprocess.Popen(
        [sys.executable, "-c", "from server import cli; cli()", "worker"],
        cwd=ROOT, env=env_for(tmp_path / "w", dealer_path, **shared),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    proc, base = start(tmp_path, dealer_path, "--no-worker", **shared)
    phone = "+18135550191"
    worker_log = ""
    try:
        params, headers = sms("what time do you open on saturday?", "SM" + "c" * 32, phone)
        assert httpx.post(f"{base}/twilio/sms", data=params, headers=headers).status_code == 200

        async def outbound() -> list:
            client = redis_handle.client()
            try:
                keys = Keys(dealer_id)
                customer = await CustomerStore(client, keys).lookup("phone", phone)
                events = await Timeline(client, keys).read([customer.id]) if customer else []
                return [e for e in events if e.direction == "outbound" and e.meta.get("delivery")]  # sent
            finally:
                await client.aclose()

        deadline = time.monotonic() + 240  # the worker may still be loading its models
        while not (answered := asyncio.run(outbound())) and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.2)  # polling the store for the worker's reply until the deadline
        assert answered, "the worker never answered"
        assert len(answered) == 1 and "9" in answered[0].text  # Saturday hours, from the dealer config
    finally:
        api_log = stop(proc)
        worker.terminate()  # graceful: the worker finishes its turns, then exits
        worker_log, _ = worker.communicate(timeout=60)
    assert "API only" in api_log
    assert worker.returncode == 0 and "worker stopped" in worker_log, worker_log[-3000:]
    journey(tmp_path / "var", dealer_id, phone)  # with REDIS_URL: removes this run's keys
