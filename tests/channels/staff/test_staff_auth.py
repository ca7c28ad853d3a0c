"""Staff API auth over real HTTP: bearer tokens, roles, the bootstrap admin token, login/logout,
hashed passwords, login throttling, and the console's cookie login."""

from __future__ import annotations

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from channels.staff.auth import LOGIN_FAILURES_MAX

PROTECTED = [
    ("GET", "/api/customers"),
    ("GET", "/api/customers/c123"),
    ("GET", "/api/customers/c123/timeline"),
    ("GET", "/api/appointments"),
    ("GET", "/api/handoffs"),
    ("POST", "/api/handoffs/h1/claim"),
    ("POST", "/api/handoffs/h1/release"),
    ("GET", "/api/reports/leads-by-source"),
    ("GET", "/api/audit"),
    ("POST", "/api/staff"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_no_token_or_a_bad_token_is_401(client, method, path):
    r = await client.request(method, path)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    for header in ("Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "Token abc"):
        r = await client.request(method, path, headers={"Authorization": header})
        assert r.status_code == 401, (header, r.text)


async def test_roles_agent_manager_admin(client, login, admin):
    agent = await login("kevin-tran", "agent")
    manager = await login("tasha-greene", "manager")
    new = {"id": "newbie", "name": "New Person", "role": "agent", "team": "bdc", "password": "long enough pw"}

    assert (await client.get("/api/customers", headers=agent)).status_code == 200
    assert (await client.get("/api/handoffs", headers=agent)).status_code == 200
    for headers, path, want in [
        (agent, "/api/reports/leads-by-source", 403),
        (agent, "/api/audit", 403),
        (agent, "/api/staff", 403),
        (manager, "/api/reports/leads-by-source", 200),
        (manager, "/api/staff", 200),
        (manager, "/api/audit", 403),
        (admin, "/api/audit", 200),
    ]:
        r = await client.get(path, headers=headers)
        assert r.status_code == want, (path, r.text)
    assert (await client.post("/api/staff", json=new, headers=agent)).status_code == 403
    assert (await client.post("/api/staff", json=new, headers=manager)).status_code == 403
    assert (await client.post("/api/staff", json=new, headers=admin)).status_code == 201
    assert (await client.post("/api/staff", json=new, headers=admin)).status_code == 409  # exists
    weak = {**new, "id": "weak", "password": "short"}
    assert (await client.post("/api/staff", json=weak, headers=admin)).status_code == 422


async def test_admin_token_bootstraps_the_first_admin_who_then_adds_staff(client, admin):
    me = await client.get("/api/auth/me", headers=admin)
    assert me.json() == {
        "id": "admin",
        "name": "Administrator (bootstrap token)",
        "role": "admin",
        "team": "bdc",
        "via": "admin_token",
    }
    body = {
        "id": "dana-kowalski",
        "name": "Dana Kowalski",
        "role": "admin",
        "team": "bdc",
        "password": "s3cret-admin-pw",
    }
    assert (await client.post("/api/staff", json=body, headers=admin)).status_code == 201
    token = (await client.post("/api/auth/login", json={"id": "dana-kowalski", "password": "s3cret-admin-pw"})).json()
    dana = {"Authorization": f"Bearer {token['token']}"}
    assert token["staff"]["role"] == "admin"
    body2 = {"id": "kevin-tran", "name": "Kevin Tran", "role": "agent", "team": "bdc", "password": "kevins-password"}
    assert (await client.post("/api/staff", json=body2, headers=dana)).status_code == 201


async def test_without_an_admin_token_configured_nothing_is_an_admin_token(agent, services, dealer, sender, kit):
    from fastapi import FastAPI

    from channels.staff import build_staff_router

    app = FastAPI()
    app.include_router(
        build_staff_router(agent=agent, services=services, dealer=dealer, admin_token=None, sender=sender)
    )
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        for header in ("Bearer", "Bearer None", "Bearer null"):
            r = await client.get("/api/auth/me", headers={"Authorization": header})
            assert r.status_code == 401


async def test_login_logout_and_the_password_is_stored_hashed(client, login, redis, keys):
    headers = await login("priya-raman", "agent", team="sales")
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["id"] == "priya-raman" and me.json()["via"] == "session"

    raw = await redis.hget(keys.dealer_key("staff", "accounts"), "priya-raman")
    assert "correct horse battery" not in raw
    assert '"password_hash":"$argon2id$' in raw
    token = headers["Authorization"].split()[1]
    session_keys = [k async for k in redis.scan_iter(match=keys.dealer_key("staff", "session", "*"))]
    assert session_keys and all(token not in k for k in session_keys)  # only the token's digest is stored
    assert all(0 < ttl <= 12 * 3600 for ttl in [await redis.ttl(k) for k in session_keys])

    wrong = await client.post("/api/auth/login", json={"id": "priya-raman", "password": "nope nope nope"})
    assert wrong.status_code == 401
    unknown = await client.post("/api/auth/login", json={"id": "nobody-here", "password": "whatever pw"})
    assert unknown.status_code == 401 and unknown.json() == wrong.json()  # no hint which part was wrong

    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_repeated_failed_logins_are_throttled(client, login):
    await login("carlos-mendoza", "agent", team="sales")
    for _ in range(LOGIN_FAILURES_MAX):
        r = await client.post("/api/auth/login", json={"id": "carlos-mendoza", "password": "guess-guess"})
        assert r.status_code == 401
    r = await client.post("/api/auth/login", json={"id": "carlos-mendoza", "password": "correct horse battery"})
    assert r.status_code == 429


async def test_console_login_form_sets_a_console_cookie_and_pages_need_it(client, login):
    await login("lucia-herrera", "agent")
    assert "dos_console" in client.cookies  # the API login also signs the console in (cookie path /console)
    client.cookies.clear()
    r = await client.get("/console")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    page = await client.get("/console/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]

    bad = await client.post("/console/login", data={"id": "lucia-herrera", "password": "wrong password"})
    assert bad.status_code == 401 and "Wrong staff id or password" in bad.text
    ok = await client.post(
        "/console/login", data={"id": "lucia-herrera", "password": "correct horse battery", "next": "/console"}
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/console"
    cookie = ok.headers["set-cookie"]
    assert "dos_console=" in cookie and "HttpOnly" in cookie and "Path=/console" in cookie
    assert "samesite=strict" in cookie.lower()
    queue = await client.get("/console")
    assert queue.status_code == 200 and "Handoff queue" in queue.text
    # the API ignores the cookie: bearer tokens only (no cross-site request can act with it)
    assert (
        await client.get("/api/handoffs", cookies={"dos_console": client.cookies["dos_console"]})
    ).status_code == 401
    out = await client.post("/console/logout")
    assert out.status_code == 303
    client.cookies.clear()
    assert (await client.get("/console")).status_code == 303


async def test_the_console_websocket_refuses_a_bad_token(base_url, login):
    ws_base = base_url.replace("http://", "ws://")
    with pytest.raises(InvalidStatus):
        async with websockets.connect(f"{ws_base}/console/ws?token=forged"):
            pass
    with pytest.raises(InvalidStatus):
        async with websockets.connect(f"{ws_base}/console/ws"):
            pass
